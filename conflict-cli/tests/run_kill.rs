//! `conflicts run` killed with SIGKILL mid-way and resumed with `--resume` ends in exactly the
//! state of an uninterrupted run (docs/lifecycle.md §9). Uses the real binary, PostgreSQL and
//! psqlODBC, with the analytics world of the conflict-io tests.

#[path = "../../conflict-io/tests/support/mod.rs"]
mod support;

#[allow(dead_code)]
#[path = "../../conflict-io/tests/e2e_tests/harness.rs"]
mod harness;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use harness::Loaded;
use support::env;

fn run_command(loaded: &Loaded, schema: &str, extra: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_conflicts"));
    c.arg("run")
        .args(extra)
        .args([
            "--as-of",
            "2025-06-15",
            "--workers",
            "1",
            "--prefix-len",
            "2",
        ])
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

#[test]
fn a_run_killed_with_sigkill_and_resumed_equals_an_uninterrupted_run() {
    let loaded = Loaded::new(4242);
    let mut reference = loaded.conflict_schema("cli_ref");
    let out = run_command(&loaded, reference.names.conflict.as_str(), &["--full"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let mut killed = loaded.conflict_schema("cli_kill");
    let batches = killed.t("detection_run_batches");
    let mut child = run_command(&loaded, killed.names.conflict.as_str(), &["--full"])
        .spawn()
        .unwrap();
    let mut watcher = env::pg_client();
    let started = Instant::now();
    let done_at_kill = loop {
        let done: i64 = watcher
            .query_one(
                &format!("SELECT count(*) FROM {batches} WHERE \"Status\" = 'done'"),
                &[],
            )
            .map(|r| r.get(0))
            .unwrap_or(0);
        if done >= 2 {
            child.kill().unwrap(); // SIGKILL: no cleanup of any kind
            child.wait().unwrap();
            break done;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before it could be killed"
        );
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "no batch finished"
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    let (done, total): (i64, i64) = {
        let r = watcher
            .query_one(
                &format!(
                    "SELECT count(*) FILTER (WHERE \"Status\" = 'done'), count(*) FROM {batches}"
                ),
                &[],
            )
            .unwrap();
        (r.get(0), r.get(1))
    };
    assert!(
        done >= done_at_kill && done < total,
        "{done} of {total} done after the kill"
    );

    let out = run_command(&loaded, killed.names.conflict.as_str(), &["--resume"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(reference.snapshot(), killed.snapshot());
}
