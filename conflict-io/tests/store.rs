//! Integration tests of `conflict_io::store` against a real PostgreSQL server.
//!
//! The server comes from `CONFLICTS_TEST_PG` (a libpq conninfo), which `scripts/test.sh` sets
//! after starting a throwaway cluster. Without it every test here panics: a missing server is a
//! failure, never a skip. Each test works in schemas of its own (`conflict_t_<random>`), so the
//! tests run in parallel and leave nothing behind.

mod store_tests;
