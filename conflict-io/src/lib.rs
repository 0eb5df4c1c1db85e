//! Adapters of the conflict engine: CSV files (file mode); the PostgreSQL conflict store and
//! the ODBC analytics source follow the same pattern — plain functions and traits over the
//! types of `conflict-core`, no command-line concerns.

pub mod analytics;
pub mod csv;
pub mod details;
pub mod preflight;
pub mod run;
pub mod scope;
pub mod store;
#[doc(hidden)]
pub mod test_hooks;
