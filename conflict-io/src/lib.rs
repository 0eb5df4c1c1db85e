//! Adapters of the conflict engine: CSV files (file mode); the PostgreSQL conflict store and
//! the ODBC analytics source follow the same pattern — plain functions and traits over the
//! types of `conflict-core`, no command-line concerns.
//!
//! Features (all on by default): `csv` (file mode), `odbc` (the analytics source),
//! `postgres` (the conflict store; with `odbc`, also the native PostgreSQL analytics source
//! [`analytics_pg`], which shares the ODBC source's SQL builder). [`run`] (the job, generic over its two ports) is always
//! there: `cargo tree -p conflict-io --no-default-features --features csv` pulls in neither
//! the ODBC driver manager nor the PostgreSQL client.

// Every public item says what it is for: services embed this crate.
#![deny(missing_docs)]

#[cfg(feature = "odbc")]
pub mod analytics;
#[cfg(all(feature = "odbc", feature = "postgres"))]
pub mod analytics_pg;
#[cfg(feature = "csv")]
pub mod csv;
pub mod details;
pub mod ident;
#[cfg(all(feature = "odbc", feature = "postgres"))]
pub mod preflight;
pub mod run;
pub mod scope;
#[cfg(feature = "postgres")]
pub mod store;
#[doc(hidden)]
pub mod test_hooks;
