//! The analytics source against a loaded world: base visits (`narrow`), scopes (`scope`),
//! business columns (`details`) and failures (`errors`).

mod details;
mod errors;
mod fixture;
mod narrow;
mod scope;
