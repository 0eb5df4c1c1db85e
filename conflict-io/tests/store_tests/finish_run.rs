//! `finish_run`, `open_run` and `resumable_run` (docs/lifecycle.md §1, §9).

use chrono::NaiveDateTime;
use conflict_core::Profile;
use conflict_io::run::{BatchSpec, ConflictStore, Mode, Outcome, RunParams};
use conflict_io::scope::Scope;

use super::batch::World;

fn params() -> RunParams {
    RunParams {
        profile: Profile::Classic,
        inservice: false,
        ..RunParams::new(Mode::Full, None)
    }
}

#[test]
fn each_outcome_sets_the_run_status_and_the_in_progress_flag() {
    let mut w = World::new();
    let settings = w.t.table("settings");
    w.exec(&format!(
        "INSERT INTO {settings} (\"ID\", \"InProgressFlag\") VALUES (0, 0)"
    ));
    for (outcome, status, flag) in [
        (Outcome::Succeeded, "succeeded", 0i64),
        (Outcome::Failed, "failed", 2),
        (Outcome::Interrupted, "failed", 2),
        (Outcome::DryRun, "dry-run", 0),
    ] {
        let (run, _) = w.store.begin_run(&params()).unwrap();
        let report = serde_json::json!({"status": status, "writes": {"inserted": 3}});
        w.store.finish_run(&run, outcome, &report).unwrap();
        let sql = format!(
            "SELECT r.\"Status\", r.\"FinishedAt\", r.\"Report\", s.\"InProgressFlag\" \
             FROM {} r, {settings} s WHERE r.\"RunID\" = $1",
            w.t.table("detection_runs")
        );
        let r = w.t.client.query_one(&sql, &[&run.run_id]).unwrap();
        assert_eq!(r.get::<_, String>(0), status, "{outcome:?}");
        assert!(r.get::<_, Option<NaiveDateTime>>(1).is_some());
        assert_eq!(r.get::<_, serde_json::Value>(2), report);
        assert_eq!(r.get::<_, Option<i64>>(3), Some(flag), "{outcome:?}");
    }
}

#[test]
fn without_a_settings_row_finishing_still_records_the_run() {
    let mut w = World::new();
    let (run, _) = w.store.begin_run(&params()).unwrap();
    w.store
        .finish_run(&run, Outcome::Succeeded, &serde_json::json!({}))
        .unwrap();
    assert_eq!(w.count("settings"), 0);
}

#[test]
fn the_newest_unfinished_run_with_open_batches_is_resumable() {
    let w = World::new();
    assert_eq!(w.store.resumable_run().unwrap(), None);
    let spec = BatchSpec {
        key: "ssn:1".into(),
        scope: Scope::SsnPrefix("1".into()),
    };
    let (old, _) = w.store.begin_run(&params()).unwrap();
    w.store
        .add_batches(old.run_id, std::slice::from_ref(&spec))
        .unwrap();
    w.store
        .finish_run(&old, Outcome::Failed, &serde_json::json!({}))
        .unwrap();
    let (done, _) = w.store.begin_run(&params()).unwrap();
    w.store
        .add_batches(done.run_id, std::slice::from_ref(&spec))
        .unwrap();
    w.store
        .finish_run(&done, Outcome::Succeeded, &serde_json::json!({}))
        .unwrap();
    // A succeeded run is never resumed, even with a batch left.
    assert_eq!(
        w.store.resumable_run().unwrap().map(|r| r.run_id),
        Some(old.run_id)
    );
    let resumed = w.store.open_run(old.run_id).unwrap().unwrap();
    assert_eq!(resumed, old);
    assert_eq!(w.store.open_run(9_999).unwrap(), None);
}
