//! `conflicts run` killed with SIGKILL mid-way — between batches, or inside a batch's write
//! transaction (held open by the test-only `CONFLICTS_TEST_PAUSE_IN_WRITE` hook) — and resumed
//! with `--resume` ends in exactly the state of an uninterrupted run (docs/lifecycle.md §9): the
//! conflict rows, the `conflicts` rows, `detection_runs` (status and report) and the ledger.
//! Uses the real binary, PostgreSQL and psqlODBC, with the analytics world of the conflict-io
//! tests.

#[path = "../../conflict-io/tests/support/mod.rs"]
mod support;

#[allow(dead_code)]
#[path = "../../conflict-io/tests/e2e_tests/harness.rs"]
mod harness;

#[path = "shared/run_command.rs"]
mod shared_run;

#[path = "shared/db_state.rs"]
mod db_state;

use std::process::Command;
use std::time::{Duration, Instant};

use harness::{ConflictSchema, Loaded};
use support::env;

/// How long the test waits for the run to reach the state it kills it in before failing (a
/// guard against a hang, not a timed assertion).
const HANG_GUARD: Duration = Duration::from_secs(300);

/// Every stored table the run writes, compared with the uninterrupted reference.
fn assert_same_state(reference: &mut ConflictSchema, resumed: &mut ConflictSchema) {
    assert_eq!(
        reference.snapshot(),
        resumed.snapshot(),
        "conflictvisitmaps"
    );
    assert_eq!(
        db_state::conflicts(reference),
        db_state::conflicts(resumed),
        "conflicts"
    );
    let runs = db_state::runs(resumed);
    assert_eq!(db_state::runs(reference), runs, "detection_runs");
    assert_eq!(runs.len(), 1, "the resumed run is the same run: {runs:?}");
    assert_eq!(runs[0]["Status"], "succeeded");
    assert_eq!(
        db_state::ledger(reference),
        db_state::ledger(resumed),
        "ledger"
    );
    assert_eq!(db_state::in_progress_flag(resumed), 0, "InProgressFlag");
}

/// Runs the uninterrupted reference in a schema of its own.
fn reference_run(loaded: &Loaded, tag: &str) -> ConflictSchema {
    let reference = loaded.conflict_schema(tag);
    let out = run_command(loaded, reference.names.conflict.as_str(), &["--full"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    reference
}

/// Resumes the killed run, without the pause, and expects success.
fn resume(loaded: &Loaded, killed: &ConflictSchema) {
    let out = run_command(loaded, killed.names.conflict.as_str(), &["--resume"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn run_command(loaded: &Loaded, schema: &str, extra: &[&str]) -> Command {
    shared_run::run_command(loaded, schema, 2, extra)
}

#[test]
fn a_run_killed_with_sigkill_and_resumed_equals_an_uninterrupted_run() {
    let loaded = Loaded::new(4242);
    let mut reference = reference_run(&loaded, "cli_ref");

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

    resume(&loaded, &killed);
    assert_same_state(&mut reference, &mut killed);
}

#[test]
fn a_run_killed_inside_a_batch_write_and_resumed_equals_an_uninterrupted_run() {
    let loaded = Loaded::new(4244);
    let mut reference = reference_run(&loaded, "cli_wref");

    let mut killed = loaded.conflict_schema("cli_wkill");
    let schema = killed.names.conflict.as_str().to_string();
    let batches = killed.t("detection_run_batches");
    // Every batch write stays open 3 s after its rows are written, before its ledger entry
    // and commit: long enough for the watcher below to see it and kill the process there.
    let mut child = run_command(&loaded, &schema, &["--full"])
        .env("CONFLICTS_TEST_PAUSE_IN_WRITE", "3000")
        .spawn()
        .unwrap();
    let mut watcher = env::pg_client();
    // A session of another process that holds row-write locks on the conflict rows of this
    // schema and is waiting inside its transaction: a batch with its rows written but not
    // committed. (Only conflictvisitmaps: a claim of the ledger may also be open in a
    // transaction while another batch commits.)
    let in_write = "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid) \
                    JOIN pg_class c ON c.oid = l.relation \
                    JOIN pg_namespace n ON n.oid = c.relnamespace \
                    WHERE n.nspname = $1 AND c.relname = 'conflictvisitmaps' \
                    AND l.mode = 'RowExclusiveLock' AND l.granted \
                    AND a.state = 'idle in transaction' AND a.pid <> pg_backend_pid()";
    let done_sql = format!("SELECT count(*) FROM {batches} WHERE \"Status\" = 'done'");
    let deadline = Instant::now() + HANG_GUARD;
    let done_at_kill = loop {
        // The ledger is created by the run: until then nothing is done.
        let done: i64 = watcher.query_one(&done_sql, &[]).map_or(0, |r| r.get(0));
        let writing: i64 = watcher.query_one(in_write, &[&schema]).unwrap().get(0);
        if done >= 1 && writing > 0 {
            child.kill().unwrap(); // SIGKILL inside the batch transaction
            child.wait().unwrap();
            break done;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before it could be killed inside a write"
        );
        assert!(Instant::now() < deadline, "no batch write was seen");
        std::thread::sleep(Duration::from_millis(10));
    };
    let (done, claimed, total): (i64, i64, i64) = {
        let r = watcher
            .query_one(
                &format!(
                    "SELECT count(*) FILTER (WHERE \"Status\" = 'done'), \
                     count(*) FILTER (WHERE \"Status\" = 'claimed'), count(*) FROM {batches}"
                ),
                &[],
            )
            .unwrap();
        (r.get(0), r.get(1), r.get(2))
    };
    // The half-written batch was not committed: it is still claimed, not done (with the next
    // ones the worker had claimed to fetch ahead).
    assert_eq!(done, done_at_kill, "no batch committed after the kill");
    assert!(claimed >= 1, "the batch being written is left claimed");
    assert!(done < total, "{done} of {total} done after the kill");
    assert_eq!(
        db_state::in_progress_flag(&mut killed),
        1,
        "a killed run stays in progress"
    );

    resume(&loaded, &killed);
    assert_same_state(&mut reference, &mut killed);
}
