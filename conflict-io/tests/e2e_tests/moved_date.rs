//! A stored row whose two visits moved to another day in the warehouse (docs/lifecycle.md §2, §3,
//! §9 "rows under an old key"): the same row (same ID and CONFLICTID) follows them to the new
//! `VisitDate`, open (`U`) and not resolved, in a full run and in an incremental run whose
//! batches hold one key each — with the old key's batch first (a move forward: keys are
//! ordered by SSN, then date) or last (a move backward).

use std::sync::atomic::AtomicBool;

use chrono::NaiveDate;
use conflict_io::run::{Mode, Outcome, Silent, Start};

use super::harness::{params, run, since, ConflictSchema, Loaded};
use super::moved_key::one_worker;

/// The row of a key: (ID, CONFLICTID, VisitDate, StatusFlag, ResolveDate set).
fn row_of(
    s: &mut ConflictSchema,
    v1: &str,
    v2: &str,
) -> Vec<(i64, Option<i64>, NaiveDate, String, bool)> {
    let sql = format!(
        "SELECT \"ID\", \"CONFLICTID\", \"VisitDate\", \"StatusFlag\", \"ResolveDate\" IS NOT NULL \
         FROM {} WHERE \"VisitID\"::text = $1 AND \"ConVisitID\"::text = $2",
        s.t("conflictvisitmaps")
    );
    s.client
        .query(&sql, &[&v1, &v2])
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
        .collect()
}

/// Moves the pair by `days`; returns the incremental run's `resolved` counter.
fn scenario(days: i64) -> u64 {
    let mut loaded = Loaded::new(92);
    let mut full = loaded.conflict_schema("md_full");
    let mut incremental = loaded.conflict_schema("md_inc");
    let p = params(Mode::Full, loaded.cfg.as_of);
    for s in [&full, &incremental] {
        let r = run(
            &loaded,
            s,
            Start::New(p.clone()),
            &p,
            &one_worker(),
            &AtomicBool::new(false),
            &Silent,
        );
        assert_eq!(r.outcome, Outcome::Succeeded);
    }
    // A regular row whose key keeps a third visit after the move (so the incremental delta
    // holds the old key too), well inside the window.
    let cvm = full.t("conflictvisitmaps");
    let a = loaded.db.schema();
    let fact = format!("{a}.factvisitcallperformance_cr");
    let r = full
        .client
        .query_one(
            &format!(
                "SELECT m.\"VisitID\"::text, m.\"ConVisitID\"::text, m.\"SSN\", m.\"VisitDate\" \
                 FROM {cvm} m WHERE m.\"CONFLICTID\" IS NOT NULL \
                 AND m.\"InserviceStartDate\" IS NULL AND m.\"ConInserviceStartDate\" IS NULL \
                 AND m.\"VisitDate\" BETWEEN '2024-01-01' AND '2025-01-01' \
                 AND EXISTS (SELECT 1 FROM {fact} f JOIN {a}.dimcaregiver c USING (\"Caregiver Id\") \
                   WHERE trim(c.\"SSN\") = m.\"SSN\" AND f.\"Visit Date\" = m.\"VisitDate\" \
                   AND f.\"Visit Id\" NOT IN (m.\"VisitID\", m.\"ConVisitID\")) \
                 ORDER BY 1, 2 LIMIT 1"
            ),
            &[],
        )
        .unwrap();
    let (v1, v2, ssn, date): (String, String, String, NaiveDate) =
        (r.get(0), r.get(1), r.get(2), r.get(3));
    let before = row_of(&mut full, &v1, &v2);
    assert_eq!(before.len(), 1);
    let (id, conflict_id) = (before[0].0, before[0].1);
    let new_date = date + chrono::Duration::days(days);

    // Both visits (date and all four times) move; they and every visit of the old key are
    // marked updated after the watermark below.
    loaded.db.exec(&format!(
        "UPDATE {fact} f SET \"Visit Updated Timestamp\" = '2030-01-01 00:00:00+00' \
         WHERE f.\"Visit Date\" = '{date}' AND f.\"Caregiver Id\" IN \
           (SELECT \"Caregiver Id\" FROM {a}.dimcaregiver WHERE trim(\"SSN\") = '{ssn}');
         UPDATE {fact} SET \"Visit Date\" = \"Visit Date\" + {days}, \
         \"Scheduled Start Time\" = \"Scheduled Start Time\" + interval '{days} days', \
         \"Scheduled End Time\" = \"Scheduled End Time\" + interval '{days} days', \
         \"Visit Start Time\" = \"Visit Start Time\" + interval '{days} days', \
         \"Visit End Time\" = \"Visit End Time\" + interval '{days} days', \
         \"Visit Updated Timestamp\" = '2030-01-01 00:00:00+00' \
         WHERE \"Visit Id\"::text IN ('{v1}', '{v2}');"
    ));

    let f = run(
        &loaded,
        &full,
        Start::New(p.clone()),
        &p,
        &one_worker(),
        &AtomicBool::new(false),
        &Silent,
    );
    assert_eq!(f.outcome, Outcome::Succeeded);
    let mut pi = params(Mode::Incremental, loaded.cfg.as_of);
    pi.since = Some(since("2029-12-31 00:00:00"));
    let i = run(
        &loaded,
        &incremental,
        Start::New(pi.clone()),
        &pi,
        &one_worker(),
        &AtomicBool::new(false),
        &Silent,
    );
    assert_eq!(i.outcome, Outcome::Succeeded);

    for s in [&mut full, &mut incremental] {
        assert_eq!(
            row_of(s, &v1, &v2),
            vec![(id, conflict_id, new_date, "U".to_string(), false)],
            "the moved row ({v1}, {v2}) from {date} to {new_date}"
        );
    }
    assert_eq!(
        full.snapshot(),
        incremental.snapshot(),
        "incremental equals full"
    );
    i.report.writes.resolved
}

both_sources! {
fn a_row_whose_visit_date_moved_follows_it_in_either_batch_order() {
    let old_first = scenario(1);
    let new_first = scenario(-1);
    // With the old key's batch first, the row was resolved on the way and then reopened.
    assert!(
        old_first > new_first,
        "resolved: old key first {old_first}, new key first {new_first}"
    );
}
}
