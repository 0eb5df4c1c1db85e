//! Test fixtures: the server from `CONFLICTS_TEST_PG` and uniquely named schemas.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use conflict_io::store::{self, ConnInfo, SchemaNames};
use postgres::Client;

pub const ENV: &str = "CONFLICTS_TEST_PG";

/// The test server's connection string; panics when it is not configured.
pub fn conninfo_text() -> String {
    match std::env::var(ENV) {
        Ok(s) if !s.trim().is_empty() => s,
        _ => panic!("set CONFLICTS_TEST_PG or run scripts/test.sh"),
    }
}

pub fn conninfo() -> ConnInfo {
    ConnInfo::parse(&conninfo_text()).expect("CONFLICTS_TEST_PG is a valid conninfo")
}

pub fn client() -> Client {
    store::connect(&conninfo()).expect("connect to the test server")
}

/// 16 hex digits that differ between tests, threads and processes.
pub fn random_suffix() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    // RandomState is seeded randomly per process; the counter and clock separate calls.
    let mut h = RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.write_u32(std::process::id());
    h.write_u128(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    format!("{:016x}", h.finish())
}

/// A connection plus a pair of schema names nobody else uses; both schemas are dropped when the
/// value goes out of scope (also when the test panics).
pub struct TestSchemas {
    pub client: Client,
    pub names: SchemaNames,
}

impl TestSchemas {
    /// Unique names, nothing created yet.
    pub fn new() -> Self {
        let suffix = random_suffix();
        TestSchemas::named(
            &format!("conflict_t_{suffix}"),
            &format!("analytics_t_{suffix}"),
        )
    }

    pub fn named(conflict: &str, analytics: &str) -> Self {
        TestSchemas {
            client: client(),
            names: SchemaNames::new(conflict, analytics).expect("valid test schema names"),
        }
    }

    /// Unique names with the conflict schema created.
    pub fn initialised() -> Self {
        let mut t = TestSchemas::new();
        store::init_schema(&mut t.client, &t.names).expect("init_schema");
        t
    }

    /// `"<schema>"."<table>"`.
    pub fn table(&self, table: &str) -> String {
        self.names.conflict_table(table)
    }

    pub fn exec(&mut self, sql: &str) {
        self.client
            .batch_execute(sql)
            .unwrap_or_else(|e| panic!("{sql}: {e:?}"));
    }
}

impl Drop for TestSchemas {
    fn drop(&mut self) {
        let mut sql = format!(
            "DROP SCHEMA IF EXISTS {} CASCADE;",
            self.names.conflict.quoted()
        );
        // A database-qualified analytics name is never created in PostgreSQL.
        if self.names.analytics.parts().len() == 1 {
            sql += &format!(
                "DROP SCHEMA IF EXISTS {} CASCADE;",
                self.names.analytics.sql()
            );
        }
        if let Err(e) = self.client.batch_execute(&sql) {
            // Panicking inside drop during a failing test would abort the whole binary.
            eprintln!("could not drop the test schemas: {e}");
            if !std::thread::panicking() {
                panic!("could not drop the test schemas: {e}");
            }
        }
    }
}
