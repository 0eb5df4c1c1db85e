//! The test server and the ODBC driver, from the environment.
//!
//! `CONFLICTS_TEST_PG` (libpq key=value conninfo, set by scripts/test.sh) names the PostgreSQL
//! server; the ODBC connection string is built from it, with the psqlODBC driver named by the
//! absolute path of its shared library (the vendored unixODBC of `odbc-api` reads no
//! odbcinst.ini, so a bare driver name cannot be resolved). `CONFLICTS_TEST_PSQLODBC` may point
//! at another copy of the library. A missing variable or driver is a test failure with a clear
//! message, never a silent skip.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use conflict_io::store::{self, init_schema, ConnInfo, SchemaNames};
use postgres::config::Host;
use postgres::Client;

pub const PG_ENV: &str = "CONFLICTS_TEST_PG";
pub const DRIVER_ENV: &str = "CONFLICTS_TEST_PSQLODBC";
/// Where Debian's odbc-postgresql package installs the Unicode psqlODBC driver.
pub const DEFAULT_DRIVER: &str = "/usr/lib/x86_64-linux-gnu/odbc/psqlodbcw.so";

/// The test server's libpq conninfo; panics when it is not configured.
pub fn conninfo_text() -> String {
    match std::env::var(PG_ENV) {
        Ok(s) if !s.trim().is_empty() => s,
        _ => panic!(
            "{PG_ENV} is not set: run the tests through scripts/test.sh, or start a PostgreSQL \
             server and export {PG_ENV}='host=… port=… user=… dbname=…'"
        ),
    }
}

pub fn conninfo() -> ConnInfo {
    ConnInfo::parse(&conninfo_text())
        .unwrap_or_else(|e| panic!("{PG_ENV} is not a valid conninfo: {e}"))
}

/// A direct connection (session time zone UTC) for loading data.
pub fn pg_client() -> Client {
    store::connect(&conninfo()).unwrap_or_else(|e| panic!("cannot connect to {PG_ENV}: {e}"))
}

/// Absolute path of the psqlODBC driver library; panics when it is not installed.
pub fn driver_path() -> String {
    let path = std::env::var(DRIVER_ENV)
        .ok()
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_DRIVER.to_string());
    assert!(
        Path::new(&path).is_file(),
        "the psqlODBC driver {path} does not exist: install it (apt-get install odbc-postgresql) \
         or point {DRIVER_ENV} at psqlodbcw.so"
    );
    path
}

/// An ODBC connection-string value, braced when it holds characters that would end or confuse
/// the attribute (ODBC's `{…}` quoting; a `}` inside is doubled).
fn odbc_value(v: &str) -> String {
    if v.contains([';', '{', '}', '=']) || v.trim() != v {
        format!("{{{}}}", v.replace('}', "}}"))
    } else {
        v.to_string()
    }
}

/// The psqlODBC connection string for the server of `CONFLICTS_TEST_PG` over TLS
/// (`SSLmode=require`), with `extra` attributes (`Key=Value;…`) appended.
pub fn odbc_connection_string(extra: &str) -> String {
    odbc_connection_string_with(&driver_path(), None, extra)
}

/// Like [`odbc_connection_string`] with an explicit driver path and password (the error tests
/// use a password that must never appear in a message).
pub fn odbc_connection_string_with(driver: &str, password: Option<&str>, extra: &str) -> String {
    let ci = conninfo();
    let c = ci.config();
    let host = match c.get_hosts().first() {
        Some(Host::Tcp(h)) => h.clone(),
        Some(Host::Unix(p)) => p.display().to_string(),
        None => panic!("{PG_ENV} names no host"),
    };
    let port = c.get_ports().first().copied().unwrap_or(5432);
    // The test cluster accepts TCP over TLS only (hostssl), and psqlODBC's default is no TLS.
    let mut s = format!(
        "Driver={};Server={};Port={port};Database={};Uid={};SSLmode=require;",
        odbc_value(driver),
        odbc_value(&host),
        odbc_value(c.get_dbname().unwrap_or("postgres")),
        odbc_value(c.get_user().unwrap_or("postgres")),
    );
    let configured = c
        .get_password()
        .map(|p| String::from_utf8_lossy(p).into_owned());
    if let Some(pwd) = password.map(str::to_string).or(configured) {
        s += &format!("Pwd={};", odbc_value(&pwd));
    }
    s += extra;
    s
}

/// 16 hex digits that differ between tests, threads and processes (unique schema names).
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

/// Creates conflict schema `names` with the tool's own DDL, plus the settings row and the speed
/// bands a deployment starts with (docs/tables.md: `settings`, `mph`).
pub fn create_conflict_schema(client: &mut Client, names: &SchemaNames) {
    init_schema(client, names).unwrap();
    let s = names.conflict.quoted();
    client
        .batch_execute(&format!(
            "INSERT INTO {s}.settings (\"ID\", \"ExtraDistancePer\", \"InProgressFlag\") VALUES (1, 1.0, 0);
             INSERT INTO {s}.mph (\"From\", \"To\", \"AverageMilesPerHour\") VALUES
               (0, 2, 10), (3, 10, 25), (11, 25, 35), (26, 100, 50), (101, 10000, 60);"
        ))
        .unwrap();
}
