//! `begin_run` (docs/lifecycle.md §1, §2): the run timestamp, the `detection_runs` row,
//! `InProgressFlag`, the watermark `since` and identity resync.

use chrono::{Duration, NaiveDateTime};
use conflict_core::Window;
use conflict_io::run::{ConflictStore, Mode, RunParams};

use super::batch::{d, ts, u, World};

fn params(mode: Mode) -> RunParams {
    RunParams {
        inservice: false,
        ..RunParams::new(mode, None)
    }
}

fn in_progress(w: &mut World) -> Option<i64> {
    let sql = format!("SELECT \"InProgressFlag\" FROM {}", w.t.table("settings"));
    w.t.client.query_one(&sql, &[]).unwrap().get(0)
}

/// A finished run in `detection_runs`.
fn past_run(w: &mut World, status: &str, started: NaiveDateTime) {
    let sql = format!(
        "INSERT INTO {} (\"Mode\", \"Profile\", \"AsOf\", \"WindowFrom\", \"WindowTo\", \
         \"StartedAt\", \"Status\") VALUES ('full', 'current', $1, $1, $1, $2, $3)",
        w.t.table("detection_runs")
    );
    w.t.client
        .execute(&sql, &[&started.date(), &started, &status])
        .unwrap();
}

fn now(w: &mut World) -> NaiveDateTime {
    w.t.client
        .query_one("SELECT LOCALTIMESTAMP", &[])
        .unwrap()
        .get(0)
}

#[test]
fn a_full_run_is_recorded_with_its_timestamp_window_and_in_progress_flag() {
    let mut w = World::new();
    let settings = w.t.table("settings");
    w.exec(&format!(
        "INSERT INTO {settings} (\"ID\", \"ExtraDistancePer\", \"InProgressFlag\") VALUES (0, 1.0, 0)"
    ));
    let before = now(&mut w);
    let (run, warnings) = w.store.begin_run(&params(Mode::Full)).unwrap();
    assert!(warnings.is_empty());
    assert!(run.run_ts >= before && run.run_ts <= now(&mut w));
    assert_eq!(run.as_of, run.run_ts.date());
    assert_eq!(run.window, Window::default_around(run.as_of).unwrap());
    assert_eq!(run.since, None);
    assert_eq!(in_progress(&mut w), Some(1));
    let sql = format!(
        "SELECT \"Mode\", \"Profile\", \"Status\", \"StartedAt\" FROM {} WHERE \"RunID\" = $1",
        w.t.table("detection_runs")
    );
    let r = w.t.client.query_one(&sql, &[&run.run_id]).unwrap();
    assert_eq!(r.get::<_, String>(0), "full");
    assert_eq!(r.get::<_, String>(1), "current");
    assert_eq!(r.get::<_, String>(2), "running");
    assert_eq!(r.get::<_, NaiveDateTime>(3), run.run_ts);
    assert_eq!(w.store.open_run(run.run_id).unwrap(), Some(run));
}

#[test]
fn an_explicit_as_of_sets_the_window() {
    let w = World::new();
    let mut p = params(Mode::Full);
    p.as_of = Some(d("2025-06-15"));
    let (run, _) = w.store.begin_run(&p).unwrap();
    assert_eq!(run.window.from, d("2023-06-15"));
    assert_eq!(run.window.to, d("2025-07-30"));
}

#[test]
fn since_is_the_earlier_of_the_watermark_and_the_lookback() {
    let mut w = World::new();
    // No succeeded run: the lookback alone.
    let (run, _) = w.store.begin_run(&params(Mode::Incremental)).unwrap();
    assert_eq!(run.since, Some(run.run_ts - Duration::hours(36)));

    // A succeeded run inside the lookback: still the lookback (the earlier one).
    let recent = now(&mut w) - Duration::hours(1);
    past_run(&mut w, "succeeded", recent);
    let (run, _) = w.store.begin_run(&params(Mode::Incremental)).unwrap();
    assert_eq!(run.since, Some(run.run_ts - Duration::hours(36)));

    // The last succeeded run started long ago: its start is the watermark. Failed and
    // dry runs never count, however recent.
    let old = ts("2025-01-01 00:00:00");
    let mut w = World::new();
    past_run(&mut w, "succeeded", old - Duration::days(30));
    past_run(&mut w, "succeeded", old);
    past_run(&mut w, "failed", old + Duration::days(10));
    past_run(&mut w, "dry-run", old + Duration::days(11));
    let (run, _) = w.store.begin_run(&params(Mode::Incremental)).unwrap();
    assert_eq!(run.since, Some(old));

    // --since wins.
    let mut p = params(Mode::Incremental);
    p.since = Some(ts("2024-12-24 18:00:00"));
    let (run, _) = w.store.begin_run(&p).unwrap();
    assert_eq!(run.since, Some(ts("2024-12-24 18:00:00")));
}

#[test]
fn lagging_identity_sequences_are_advanced_with_a_warning() {
    let mut w = World::new();
    let (cvm, conflicts) = (w.cvm(), w.conflicts());
    w.exec(&format!(
        "INSERT INTO {cvm} (\"ID\", \"VisitID\", \"ConVisitID\", \"CONFLICTID\") \
         VALUES (500, '{}', '{}', 300)",
        u(1),
        u(2)
    ));
    w.exec(&format!(
        "INSERT INTO {conflicts} (\"CONFLICTID\") VALUES (200)"
    ));
    let (_, warnings) = w.store.begin_run(&params(Mode::Full)).unwrap();
    assert_eq!(warnings.count_named("identity_resynced"), 2);
    // The conflict sequence also passes the CVM's largest CONFLICTID (300 > parent 200).
    let next_cvm: i64 =
        w.t.client
            .query_one(
                &format!("INSERT INTO {cvm} (\"SSN\") VALUES ('x') RETURNING \"ID\""),
                &[],
            )
            .unwrap()
            .get(0);
    assert_eq!(next_cvm, 501);
    let next_conflict: i64 =
        w.t.client
            .query_one(
                &format!(
                "INSERT INTO {conflicts} (\"StatusFlag\") VALUES ('U') RETURNING \"CONFLICTID\""
            ),
                &[],
            )
            .unwrap()
            .get(0);
    assert_eq!(next_conflict, 301);
    // In step again: no warning.
    let (_, warnings) = w.store.begin_run(&params(Mode::Full)).unwrap();
    assert!(warnings.is_empty());
}
