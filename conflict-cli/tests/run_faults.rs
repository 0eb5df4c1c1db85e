//! `conflicts run` through the binary when it cannot take part: the run lock held by another
//! run (exit code 3, nothing changed), and `--join` of an unknown or finished run (exit code 2,
//! a message naming the run).

#[path = "../../conflict-io/tests/support/mod.rs"]
mod support;

#[allow(dead_code)]
#[path = "../../conflict-io/tests/e2e_tests/harness.rs"]
mod harness;

#[path = "shared/run_command.rs"]
mod shared_run;

use std::process::Output;

use conflict_io::store::lock_key;
use harness::Loaded;
use support::env;

fn conflicts(loaded: &Loaded, schema: &str, extra: &[&str]) -> Output {
    shared_run::run_command(loaded, schema, 1, extra)
        .output()
        .unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_run_while_another_holds_the_run_lock_exits_3_and_changes_nothing() {
    let loaded = Loaded::new(71);
    let mut schema = loaded.conflict_schema("cli_locked");
    // Another run: a session holding the schema's run lock.
    let mut other = env::pg_client();
    let key = lock_key(&schema.names);
    other
        .execute("SELECT pg_advisory_lock($1)", &[&key])
        .unwrap();
    let out = conflicts(&loaded, schema.names.conflict.as_str(), &["--full"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("run lock"), "{}", stderr(&out));
    let runs = schema.scalar_i64(&format!(
        "SELECT count(*) FROM {}",
        schema.t("detection_runs")
    ));
    assert_eq!(runs, 0, "no run was recorded");
    let rows = schema.scalar_i64(&format!(
        "SELECT count(*) FROM {}",
        schema.t("conflictvisitmaps")
    ));
    assert_eq!(rows, 0, "nothing was written");

    // Once the other run is over, the same command runs.
    other
        .execute("SELECT pg_advisory_unlock($1)", &[&key])
        .unwrap();
    let out = conflicts(&loaded, schema.names.conflict.as_str(), &["--full"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn joining_an_unknown_or_finished_run_exits_2_naming_the_run() {
    let loaded = Loaded::new(72);
    let schema = loaded.conflict_schema("cli_join");
    let name = schema.names.conflict.as_str();
    let out = conflicts(&loaded, name, &["--join", "41"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("run 41 does not exist"),
        "{}",
        stderr(&out)
    );

    let out = conflicts(&loaded, name, &["--full"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = conflicts(&loaded, name, &["--join", "1"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("run 1 has ended (succeeded)"),
        "{}",
        stderr(&out)
    );
}
