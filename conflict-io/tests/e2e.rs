//! End-to-end tests of `conflicts run` (`conflict_io::run::run_job`) with the real pieces: the
//! analytics world in the throwaway PostgreSQL read over the real psqlODBC driver, detection,
//! and the PostgreSQL conflict store. Every test works in schemas of its own.

mod e2e_tests;
mod support;
