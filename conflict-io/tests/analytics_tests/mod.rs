//! The analytics source against a loaded world: base visits (`narrow`), scopes (`scope`),
//! business columns (`details`), planning reads (`planning`), in-service events (`events`) and
//! failures (`errors`).

mod details;
mod dialect;
mod errors;
mod events;
mod fakesnow;
mod fixture;
mod narrow;
mod native_pg;
mod planning;
mod probe;
mod scope;
mod tls;
