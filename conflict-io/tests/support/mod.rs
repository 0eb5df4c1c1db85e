//! Shared support of the analytics tests (`tests/analytics.rs`) and the ODBC fetch benchmark
//! (`examples/odbc_fetch_bench.rs`, which includes this directory with `#[path]`).
//!
//! * [`deployment`]: a conflict database shaped like a real deployment (legacy schema).
//! * [`env`]: the test server (`CONFLICTS_TEST_PG`) and the psqlODBC connection string.
//! * [`world`]: a deterministic analytics world with the untidy data of the warehouse.
//! * [`load`]: writes a world into a throwaway analytics schema (binary COPY).
//! * [`expected`]: what the source must return, derived from the world by docs/tables.md §9.

// Each includer uses a different part of the support code; unused items are not mistakes.
#![allow(dead_code)]

pub mod deployment;
pub mod env;
pub mod expected;
pub mod load;
pub mod rng;
pub mod world;
