//! `conflicts run` through the real binary, PostgreSQL and psqlODBC: the exit codes of
//! docs/lifecycle.md §14 other than 3 (0 success, 1 a failed run, 2 nothing to resume or join, 4
//! interrupted by SIGTERM), what each leaves recorded, and the `--report-json` file: every key
//! of docs/lifecycle.md §11 present, and its counters equal to what the database holds afterwards.

#[path = "../../conflict-io/tests/support/mod.rs"]
mod support;

#[allow(dead_code)]
#[path = "../../conflict-io/tests/e2e_tests/harness.rs"]
mod harness;

#[path = "shared/run_command.rs"]
mod shared_run;

#[path = "shared/db_state.rs"]
mod db_state;

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use harness::{ConflictSchema, Loaded};
use serde_json::Value;
use support::env;

/// A guard against a hang while waiting for the run to reach a state (not a timed assertion).
const HANG_GUARD: Duration = Duration::from_secs(300);

fn command(loaded: &Loaded, schema: &ConflictSchema, extra: &[&str]) -> Command {
    shared_run::run_command(loaded, schema.names.conflict.as_str(), 1, extra)
}

fn run(loaded: &Loaded, schema: &ConflictSchema, extra: &[&str]) -> Output {
    command(loaded, schema, extra).output().unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The keys of an object, sorted.
fn keys(v: &Value) -> Vec<&str> {
    let mut k: Vec<&str> = v
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"))
        .keys()
        .map(String::as_str)
        .collect();
    k.sort_unstable();
    k
}

fn sorted(mut k: Vec<&str>) -> Vec<&str> {
    k.sort_unstable();
    k
}

/// Conflict rows of the regular kind (not InService/PTO), and of each flag set.
const REGULAR: &str = "\"InServiceFlag\" IS DISTINCT FROM 'Y' AND \"PTOFlag\" IS DISTINCT FROM 'Y'";

fn count(s: &mut ConflictSchema, table: &str, filter: &str) -> u64 {
    let sql = format!("SELECT count(*) FROM {} WHERE {filter}", s.t(table));
    s.scalar_i64(&sql) as u64
}

/// Every key docs/lifecycle.md §11 lists is in the report, in its group.
fn assert_report_shape(r: &Value) {
    for k in [
        "run_id", "mode", "profile", "as_of", "window", "since", "run_ts", "status", "dry_run",
        "workers",
    ] {
        assert!(r.get(k).is_some(), "run.{k} missing from {r}");
    }
    let input = keys(&r["input"]);
    for k in ["visits_read", "visits_admitted", "dropped", "keys"] {
        assert!(input.contains(&k), "input.{k} missing: {input:?}");
    }
    let detection = keys(&r["detection"]);
    for k in ["candidates", "pairs_detected", "pairs_dropped_cross_state"] {
        assert!(
            detection.contains(&k),
            "detection.{k} missing: {detection:?}"
        );
    }
    assert_eq!(
        keys(&r["writes"]),
        sorted(vec![
            "updated",
            "unchanged",
            "adopted",
            "inserted",
            "not_inserted_by_switch",
            "resolved",
            "conflicts_created"
        ])
    );
    assert_eq!(
        keys(&r["inservice"]),
        sorted(vec![
            "inservice_events",
            "inservice_pairs",
            "inservice_updated",
            "inservice_unchanged",
            "inservice_inserted",
            "pto_events",
            "pto_pairs",
            "pto_updated",
            "pto_unchanged",
            "pto_inserted",
            "inservice_ssns_rederived",
            "inservice_ssns_skipped",
            "inservice_visits_read",
            "pto_ssns_rederived",
            "pto_ssns_skipped",
            "pto_visits_read"
        ])
    );
    assert!(r["warnings"].is_object() && r["warning_examples"].is_object());
    let timing = keys(&r["timing"]);
    for k in [
        "preflight",
        "load_reference",
        "scope",
        "read_visits",
        "detect",
        "apply",
        "inservice",
        "finish",
        "total",
        "batches",
    ] {
        assert!(timing.contains(&k), "timing.{k} missing: {timing:?}");
    }
    let io = keys(&r["io"]);
    for k in [
        "warehouse_statements",
        "warehouse_rows_read",
        "store_rows_read",
        "store_rows_written",
    ] {
        assert!(io.contains(&k), "io.{k} missing: {io:?}");
    }
}

/// The stored report, without the seconds (the file is written after the run is finished).
fn stored_report(s: &mut ConflictSchema, run_id: i64) -> Value {
    let sql = format!(
        "SELECT \"Report\" FROM {} WHERE \"RunID\" = $1",
        s.t("detection_runs")
    );
    let mut v: Value = s.client.query_one(&sql, &[&run_id]).unwrap().get(0);
    v.as_object_mut().unwrap().remove("timing");
    v
}

fn without_timing(mut v: Value) -> Value {
    v.as_object_mut().unwrap().remove("timing");
    v
}

#[test]
fn exit_0_and_the_report_json_agrees_with_the_database() {
    let loaded = Loaded::new(5150);
    let mut s = loaded.conflict_schema("cli_rep");
    let dir = tempfile::tempdir().unwrap();
    let first = dir.path().join("first.json");
    let out = run(
        &loaded,
        &s,
        &["--full", "--report-json", first.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let r = json(&first);
    assert_report_shape(&r);

    // The run part: what was asked, and the window of docs/rules.md §3 worked out by hand
    // (2025-06-15 − 2 years … + 45 days).
    let run_id = r["run_id"].as_i64().unwrap();
    assert_eq!(r["mode"], "full");
    assert_eq!(r["profile"], "current");
    assert_eq!(r["as_of"], "2025-06-15");
    assert_eq!(r["window"], serde_json::json!(["2023-06-15", "2025-07-30"]));
    assert_eq!(r["since"], Value::Null);
    assert_eq!(r["status"], "succeeded");
    assert_eq!(r["dry_run"], false);
    assert_eq!(r["workers"], 1);
    let status_sql = format!(
        "SELECT \"Status\" FROM {} WHERE \"RunID\" = $1",
        s.t("detection_runs")
    );
    let status: String = s.client.query_one(&status_sql, &[&run_id]).unwrap().get(0);
    assert_eq!(status, "succeeded");
    assert_eq!(without_timing(r.clone()), stored_report(&mut s, run_id));
    let batches = count(&mut s, "detection_run_batches", "\"Status\" = 'done'");
    assert_eq!(r["timing"]["batches"], batches);
    // A run that read and wrote rows reports real rates (they were 0.0 before).
    for rate in ["read_rows_per_sec", "apply_rows_per_sec"] {
        let v = r["timing"][rate].as_f64().unwrap_or(0.0);
        assert!(v > 0.0, "timing.{rate} = {v}");
    }

    // Writes on an empty schema: every regular pair inserted, one conflict per new pair group.
    let regular = count(&mut s, "conflictvisitmaps", REGULAR);
    let inservice = count(&mut s, "conflictvisitmaps", "\"InServiceFlag\" = 'Y'");
    assert!(regular > 0, "the world has conflicts");
    let w = &r["writes"];
    assert_eq!(w["inserted"], regular);
    assert_eq!(w["conflicts_created"], count(&mut s, "conflicts", "true"));
    for k in [
        "updated",
        "unchanged",
        "adopted",
        "resolved",
        "not_inserted_by_switch",
    ] {
        assert_eq!(w[k], 0, "writes.{k}");
    }
    assert_eq!(r["inservice"]["inservice_inserted"], inservice);
    assert_eq!(r["inservice"]["inservice_pairs"], inservice);
    // Detection: one row per detected pair, and per flag the rows with it set.
    assert_eq!(r["detection"]["pairs_detected"], regular);
    for flag in [
        "SameSchTimeFlag",
        "SameVisitTimeFlag",
        "SchAndVisitTimeSameFlag",
        "SchOverAnotherSchTimeFlag",
        "VisitTimeOverAnotherVisitTimeFlag",
        "SchTimeOverVisitTimeFlag",
        "DistanceFlag",
    ] {
        let n = count(
            &mut s,
            "conflictvisitmaps",
            &format!("{REGULAR} AND \"{flag}\" = 'Y'"),
        );
        assert_eq!(r["detection"]["per_flag"][flag], n, "per_flag.{flag}");
    }
    assert_eq!(db_state::in_progress_flag(&mut s), 0);

    // Second run on the same data after one stored row's flags were all set to `N` by hand:
    // sticky flags take the computed value from a stored `N` (docs/lifecycle.md §4), and a detected
    // pair has at least one flag set, so that row is rewritten; every other one is unchanged
    // (§10), and nothing else happens.
    s.exec(&format!(
        "UPDATE {cvm} SET \"SameSchTimeFlag\" = 'N', \"SameVisitTimeFlag\" = 'N', \
         \"SchAndVisitTimeSameFlag\" = 'N', \"SchOverAnotherSchTimeFlag\" = 'N', \
         \"VisitTimeOverAnotherVisitTimeFlag\" = 'N', \"SchTimeOverVisitTimeFlag\" = 'N', \
         \"DistanceFlag\" = 'N' WHERE \"ID\" = (SELECT min(\"ID\") FROM {cvm} WHERE {REGULAR})",
        cvm = s.t("conflictvisitmaps")
    ));
    let second = dir.path().join("second.json");
    let out = run(
        &loaded,
        &s,
        &["--full", "--report-json", second.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let r2 = json(&second);
    assert_report_shape(&r2);
    assert_eq!(r2["run_id"].as_i64().unwrap(), run_id + 1);
    let w = &r2["writes"];
    assert_eq!(w["updated"], 1);
    assert_eq!(w["unchanged"], regular - 1);
    for k in ["adopted", "inserted", "resolved", "conflicts_created"] {
        assert_eq!(w[k], 0, "second run writes.{k}");
    }
    assert_eq!(r2["inservice"]["inservice_unchanged"], inservice);
    assert_eq!(count(&mut s, "conflictvisitmaps", REGULAR), regular);
    assert_eq!(without_timing(r2), stored_report(&mut s, run_id + 1));
}

#[test]
fn exit_1_for_a_failed_run_which_resume_then_completes() {
    let loaded = Loaded::new(5151);
    let mut reference = loaded.conflict_schema("cli_f_ref");
    let out = run(&loaded, &reference, &["--full"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    // A non-transient server error in the batches of SSNs starting with 1 (a trigger raising
    // SQLSTATE P0001), so one batch fails for good.
    let mut s = loaded.conflict_schema("cli_fail");
    let schema = s.names.conflict.quoted();
    s.exec(&format!(
        "CREATE FUNCTION {schema}.injected_failure() RETURNS trigger LANGUAGE plpgsql AS $$ \
         BEGIN IF NEW.\"SSN\" LIKE '1%' THEN RAISE EXCEPTION 'injected failure'; END IF; \
         RETURN NEW; END $$; \
         CREATE TRIGGER injected_failure BEFORE INSERT ON {cvm} FOR EACH ROW \
         EXECUTE FUNCTION {schema}.injected_failure();",
        cvm = s.t("conflictvisitmaps")
    ));
    let out = run(&loaded, &s, &["--full"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("injected failure"),
        "the cause is shown: {err}"
    );
    assert!(err.contains("--resume"), "the way out is shown: {err}");
    let runs = db_state::runs(&mut s);
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0]["Status"], "failed");
    assert_eq!(db_state::in_progress_flag(&mut s), 2);
    let not_done = count(&mut s, "detection_run_batches", "\"Status\" <> 'done'");
    assert!(not_done >= 1, "the failed batch is not done");

    s.exec(&format!(
        "DROP TRIGGER injected_failure ON {}",
        s.t("conflictvisitmaps")
    ));
    let out = run(&loaded, &s, &["--resume"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(reference.snapshot(), s.snapshot());
    assert_eq!(
        db_state::conflicts(&mut reference),
        db_state::conflicts(&mut s)
    );
    assert_eq!(db_state::ledger(&mut reference), db_state::ledger(&mut s));
    assert_eq!(db_state::runs(&mut s)[0]["Status"], "succeeded");
    assert_eq!(db_state::in_progress_flag(&mut s), 0);
}

#[test]
fn exit_2_when_there_is_nothing_to_resume_or_join() {
    let loaded = Loaded::new(5152);
    let mut s = loaded.conflict_schema("cli_two");
    let out = run(&loaded, &s, &["--resume"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("no interrupted or failed run to resume"),
        "{err}"
    );
    let out = run(&loaded, &s, &["--join", "999"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("999"), "names the run: {err}");
    assert!(db_state::runs(&mut s).is_empty(), "nothing recorded");
    assert_eq!(count(&mut s, "conflictvisitmaps", "true"), 0);
    assert_eq!(db_state::in_progress_flag(&mut s), 0);
}

#[test]
fn exit_4_on_sigterm_and_resume_completes_the_run() {
    let loaded = Loaded::new(5153);
    let mut reference = loaded.conflict_schema("cli_t_ref");
    let out = run(&loaded, &reference, &["--full"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    let mut s = loaded.conflict_schema("cli_term");
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("term.json");
    // Each batch write stays open 2 s (test-only hook), so the signal lands while a batch is
    // being written and more are left.
    let child = command(
        &loaded,
        &s,
        &["--full", "--report-json", report.to_str().unwrap()],
    )
    .env("CONFLICTS_TEST_PAUSE_IN_WRITE", "2000")
    .spawn()
    .unwrap();
    let done_sql = format!(
        "SELECT count(*) FROM {} WHERE \"Status\" = 'done'",
        s.t("detection_run_batches")
    );
    let mut watcher = env::pg_client();
    let deadline = Instant::now() + HANG_GUARD;
    let mut child = child;
    loop {
        let done: i64 = watcher.query_one(&done_sql, &[]).map_or(0, |r| r.get(0));
        if done >= 1 {
            let pid = child.id().to_string();
            let kill = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
            assert!(kill.success());
            break;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before the signal"
        );
        assert!(Instant::now() < deadline, "no batch finished");
        std::thread::sleep(Duration::from_millis(10));
    }
    let out = child.wait_with_output().unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(4), "{err}");
    assert!(err.contains("--resume"), "{err}");
    let runs = db_state::runs(&mut s);
    assert_eq!(runs.len(), 1);
    assert_eq!(
        runs[0]["Status"], "failed",
        "lifecycle.md §12: recorded as failed"
    );
    assert_eq!(db_state::in_progress_flag(&mut s), 2);
    let r = json(&report);
    assert_report_shape(&r);
    assert_eq!(r["status"], "interrupted");
    let total = count(&mut s, "detection_run_batches", "true");
    let done = count(&mut s, "detection_run_batches", "\"Status\" = 'done'");
    assert!(done >= 1 && done < total, "{done} of {total} batches done");
    assert_eq!(r["timing"]["batches"], done);

    let out = run(&loaded, &s, &["--resume"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(reference.snapshot(), s.snapshot());
    assert_eq!(
        db_state::conflicts(&mut reference),
        db_state::conflicts(&mut s)
    );
    assert_eq!(db_state::runs(&mut reference), db_state::runs(&mut s));
    assert_eq!(db_state::ledger(&mut reference), db_state::ledger(&mut s));
}
