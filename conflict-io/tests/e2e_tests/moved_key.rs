//! A stored row whose visits' caregiver SSN changed in the warehouse (docs/lifecycle.md §2, §3 and §9 "rows
//! under an old key"): its old key and its new key fall in different batches, and whichever is
//! written first, the row ends in the same state — the same row (same ID and CONFLICTID),
//! moved to the new SSN, open (`U`), not resolved — in a full run and in an incremental run.
//!
//! The two batch orders come from the new SSN: batches are claimed in key order by the single
//! worker, so a new SSN starting with `9` puts the old key's batch first (the row is resolved,
//! then re-detected) and one starting with `0` puts it last (the row is re-detected and has
//! left the old key's stale scope). Apart from that SSN, both orders must leave the same rows.

use std::sync::atomic::AtomicBool;

use conflict_io::run::{JobOptions, Mode, Outcome, Silent, Start};
use serde_json::Value;

use super::harness::{job, params, run, since, ConflictSchema, Loaded};

/// What one order left: the rows (the new SSN replaced by a marker) and the `resolved`
/// counters of the full and the incremental run.
struct Moved {
    full_rows: Vec<Value>,
    full_resolved: u64,
    incremental_resolved: u64,
}

/// The moved row, by key: (ID, CONFLICTID, SSN, StatusFlag, ResolveDate set).
fn row_of(
    s: &mut ConflictSchema,
    v1: &str,
    v2: &str,
) -> Vec<(i64, Option<i64>, String, String, bool)> {
    let sql = format!(
        "SELECT \"ID\", \"CONFLICTID\", \"SSN\", \"StatusFlag\", \"ResolveDate\" IS NOT NULL \
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

pub(super) fn one_worker() -> JobOptions {
    JobOptions {
        // One key per incremental batch, so old and new keys are separate batches there too.
        keys_per_batch: 1,
        ..job(1, 1)
    }
}

fn scenario(new_ssn: &str) -> Moved {
    let mut loaded = Loaded::new(91);
    let mut full = loaded.conflict_schema("mv_full");
    let mut incremental = loaded.conflict_schema("mv_inc");
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

    // The pair to move: a regular row of a plain nine-digit SSN whose first digit lies between
    // the two new SSNs' first digits, whose key has a third visit that stays in it (so the
    // incremental run's delta holds the old key too, not only the new one).
    let cvm = full.t("conflictvisitmaps");
    let a = loaded.db.schema();
    let r = full
        .client
        .query_one(
            &format!(
                "SELECT m.\"VisitID\"::text, m.\"ConVisitID\"::text, m.\"SSN\" FROM {cvm} m \
                 WHERE m.\"CONFLICTID\" IS NOT NULL AND m.\"InserviceStartDate\" IS NULL \
                 AND m.\"ConInserviceStartDate\" IS NULL AND m.\"SSN\" ~ '^[2-7][0-9]{{8}}$' \
                 AND EXISTS (SELECT 1 FROM {a}.factvisitcallperformance_cr f \
                   JOIN {a}.dimcaregiver c USING (\"Caregiver Id\") \
                   WHERE trim(c.\"SSN\") = m.\"SSN\" AND f.\"Visit Date\" = m.\"VisitDate\" \
                   AND f.\"Visit Id\" NOT IN (m.\"VisitID\", m.\"ConVisitID\")) \
                 ORDER BY 1, 2 LIMIT 1"
            ),
            &[],
        )
        .unwrap();
    let (v1, v2, old_ssn): (String, String, String) = (r.get(0), r.get(1), r.get(2));
    let before = row_of(&mut full, &v1, &v2);
    assert_eq!(before.len(), 1);
    let (id, conflict_id) = (before[0].0, before[0].1);

    // The warehouse: the two visits move to new caregiver records (copies of theirs, with ids
    // derived from the old ones so that both orders see the same data, and
    // the new SSN), and every visit of the old key and the two moved ones are marked updated after
    // the watermark below, so that the incremental run's delta has the old key and the new one.
    let taken: i64 = full
        .client
        .query_one(
            &format!("SELECT count(*) FROM {a}.dimcaregiver WHERE trim(\"SSN\") = $1"),
            &[&new_ssn],
        )
        .unwrap()
        .get(0);
    assert_eq!(taken, 0, "the new SSN is new");
    let date: chrono::NaiveDate = full
        .client
        .query_one(
            &format!("SELECT \"VisitDate\" FROM {cvm} WHERE \"VisitID\"::text = $1 AND \"ConVisitID\"::text = $2"),
            &[&v1, &v2],
        )
        .unwrap()
        .get(0);
    let fact = format!("{a}.factvisitcallperformance_cr");
    loaded.db.exec(&format!(
        "CREATE TEMP TABLE moved_caregivers AS SELECT old_id, md5(old_id::text || 'moved')::uuid AS new_id FROM \
           (SELECT DISTINCT \"Caregiver Id\" AS old_id FROM {fact} \
            WHERE \"Visit Id\"::text IN ('{v1}', '{v2}')) x;
         INSERT INTO {a}.dimcaregiver (\"Caregiver Id\", \"Application Caregiver Id\", \
           \"Global Caregiver Id\", \"Caregiver Code\", \"Caregiver Firstname\", \
           \"Caregiver Lastname\", \"Caregiver Fullname\", \"SSN\", \"Status\") \
         SELECT m.new_id, c.\"Application Caregiver Id\", c.\"Global Caregiver Id\", \
           c.\"Caregiver Code\", c.\"Caregiver Firstname\", c.\"Caregiver Lastname\", \
           c.\"Caregiver Fullname\", '{new_ssn}', c.\"Status\" \
         FROM {a}.dimcaregiver c JOIN moved_caregivers m ON c.\"Caregiver Id\" = m.old_id;
         UPDATE {fact} f SET \"Visit Updated Timestamp\" = '2030-01-01 00:00:00+00' \
         WHERE f.\"Visit Date\" = '{date}' AND f.\"Caregiver Id\" IN \
           (SELECT \"Caregiver Id\" FROM {a}.dimcaregiver WHERE trim(\"SSN\") = '{old_ssn}');
         UPDATE {fact} f SET \"Caregiver Id\" = m.new_id FROM moved_caregivers m \
         WHERE f.\"Caregiver Id\" = m.old_id AND f.\"Visit Id\"::text IN ('{v1}', '{v2}');
         DROP TABLE moved_caregivers;"
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

    // The same row, moved to the new SSN, open and not resolved (docs/lifecycle.md §3, §4.2).
    for s in [&mut full, &mut incremental] {
        assert_eq!(
            row_of(s, &v1, &v2),
            vec![(id, conflict_id, new_ssn.to_string(), "U".to_string(), false)],
            "the moved row ({v1}, {v2}) from {old_ssn} to {new_ssn}"
        );
    }
    // The incremental run covered every key of both SSNs: it leaves what the full run leaves
    // (docs/lifecycle.md §2.3).
    assert_eq!(
        full.snapshot(),
        incremental.snapshot(),
        "incremental equals full"
    );

    let full_rows = full
        .snapshot()
        .into_iter()
        .map(|mut v| {
            // The SSN and the caregivers' SSN columns carry the new SSN.
            for (_, x) in v.as_object_mut().unwrap().iter_mut() {
                if *x == new_ssn {
                    *x = Value::from("(new SSN)");
                }
            }
            v
        })
        .collect();
    Moved {
        full_rows,
        full_resolved: f.report.writes.resolved,
        incremental_resolved: i.report.writes.resolved,
    }
}

both_sources! {
fn a_row_whose_ssn_moved_ends_the_same_in_either_batch_order() {
    let old_first = scenario("987654321");
    let new_first = scenario("012345678");
    assert_eq!(
        old_first.full_rows.len(),
        new_first.full_rows.len(),
        "row counts"
    );
    for (a, b) in old_first.full_rows.iter().zip(&new_first.full_rows) {
        let differ: Vec<(&String, &Value, &Value)> = a
            .as_object()
            .unwrap()
            .iter()
            .filter(|(k, v)| b.get(k.as_str()) != Some(v))
            .map(|(k, v)| (k, v, &b[k.as_str()]))
            .collect();
        assert!(
            differ.is_empty(),
            "row ({}, {}) differs between the orders: {differ:?}",
            a["VisitID"],
            a["ConVisitID"]
        );
    }
    // The orders really differed: with the old key first, the moved rows were resolved on the
    // way (docs/lifecycle.md §9: "only the counters may include one extra resolved").
    assert!(
        old_first.full_resolved > new_first.full_resolved,
        "full: {} vs {}",
        old_first.full_resolved,
        new_first.full_resolved
    );
    assert!(
        old_first.incremental_resolved > new_first.incremental_resolved,
        "incremental: {} vs {}",
        old_first.incremental_resolved,
        new_first.incremental_resolved
    );
}
}
