//! `conflicts run` against the test server and the analytics world of a [`Loaded`], shared by
//! the binary's run tests.

use std::process::{Command, Stdio};

use crate::harness::Loaded;
use crate::support::env;

/// `conflicts run EXTRA` on conflict schema `schema`: one worker, as-of 2025-06-15, SSN prefixes
/// of `prefix_len` digits, the PostgreSQL dialect through psqlODBC; stdout discarded, stderr
/// captured.
pub fn run_command(loaded: &Loaded, schema: &str, prefix_len: u8, extra: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_conflicts"));
    c.arg("run")
        .args(extra)
        .args(["--as-of", "2025-06-15", "--workers", "1", "--prefix-len"])
        .arg(prefix_len.to_string())
        .args(["--conflict-schema", schema, "--analytics-schema"])
        .arg(loaded.db.schema())
        .args(["--analytics-dialect", "postgres"])
        .env("CONFLICTS_PG", env::conninfo_text())
        .env("CONFLICTS_ODBC", env::odbc_connection_string(""))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    c
}
