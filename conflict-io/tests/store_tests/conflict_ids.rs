//! `CONFLICTID` reuse and allocation (docs/lifecycle.md §5.2).

use chrono::NaiveDateTime;

use super::batch::{numbers, ts, u, visit, Batch, World};

#[test]
fn a_new_row_reuses_the_smallest_conflict_id_of_its_primary_visit_from_any_row() {
    let mut w = World::new();
    let (a, b) = (u(1), u(2));
    w.seed_conflict(77, "U");
    w.seed_conflict(55, "W");
    // An InService row and an out-of-window regular row of a (neither is touched).
    w.seed(
        &a,
        &u(8),
        Some(77),
        &[("InserviceStartDate", "'2025-06-10 08:00:00'")],
    );
    w.seed(&a, &u(9), Some(55), &[("VisitDate", "'2020-01-01'")]);
    let before = w.snapshot("conflicts", "\"CONFLICTID\" DESC");
    let counts = Batch::new(vec![visit(1, 1), visit(2, 2)]).apply(&w.store, "2025-06-15 02:00:00");
    assert_eq!(numbers(&counts), [0, 0, 0, 2, 0, 0, 1]);
    assert_eq!(w.row(&a, &b).get::<_, Option<i64>>("CONFLICTID"), Some(55));
    // The existing conflicts are never changed.
    let after = w.snapshot("conflicts", "\"CONFLICTID\" DESC");
    assert_eq!(&after[..2], &before[..]);
}

#[test]
fn new_conflicts_follow_ascending_visit_ids_and_rows_are_inserted_in_key_order() {
    let mut w = World::new();
    // Input order is the reverse of id order; three providers, so each visit is the V1 of
    // two pairs.
    let batch = Batch::new(vec![visit(30, 1), visit(20, 2), visit(10, 3)]);
    let counts = batch.apply(&w.store, "2025-06-15 02:00:00");
    assert_eq!(numbers(&counts), [0, 0, 0, 6, 0, 0, 3]);

    let cvm = w.cvm();
    let rows =
        w.t.client
            .query(
                &format!(
                    "SELECT \"VisitID\"::text, \"ConVisitID\"::text, \"CONFLICTID\" FROM {cvm} \
                 ORDER BY \"ID\""
                ),
                &[],
            )
            .unwrap();
    let keys: Vec<(String, String)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted, "\"ID\" order is (VisitID, ConVisitID) order");
    let ids: Vec<i64> = rows.iter().map(|r| r.get(2)).collect();
    // Rows 0–1 belong to u(10), 2–3 to u(20), 4–5 to u(30).
    assert_eq!(ids[0], ids[1]);
    assert_eq!(ids[2], ids[3]);
    assert_eq!(ids[4], ids[5]);
    assert!(ids[0] < ids[2] && ids[2] < ids[4], "{ids:?}");

    let conflicts = w.conflicts();
    for r in
        w.t.client
            .query(
                &format!("SELECT \"StatusFlag\", \"CreatedDate\" FROM {conflicts}"),
                &[],
            )
            .unwrap()
    {
        assert_eq!(r.get::<_, Option<String>>(0).as_deref(), Some("U"));
        assert_eq!(
            r.get::<_, Option<NaiveDateTime>>(1),
            Some(ts("2025-06-15 02:00:00"))
        );
    }
}
