//! Integration tests of `conflict_io::analytics` through the real psqlODBC driver against a
//! real PostgreSQL server.
//!
//! The server comes from `CONFLICTS_TEST_PG` (set by scripts/test.sh); the ODBC connection
//! string is built from it with the driver named by absolute path (see `support::env`). Without
//! the variable or the driver every test panics: a missing server is a failure, never a skip.
//! Each test loads a generated analytics world into a schema of its own
//! (`analytics_t_<random>`, dropped afterwards), so the tests run in parallel.

mod analytics_tests;
mod support;
