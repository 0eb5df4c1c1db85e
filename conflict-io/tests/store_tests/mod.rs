mod support;

mod check;
mod init;
mod names;
mod pool;
mod reference;
mod stored_rows;
