//! Orphan rows (no `CONFLICTID`, no InService/PTO dates) are adopted when their pair is
//! detected again (docs/lifecycle.md §3, §5.2).

use super::batch::{numbers, text, u, visit, Batch, World};

#[test]
fn an_orphan_takes_the_conflict_id_of_its_primary_visit_and_is_updated() {
    let mut w = World::new();
    let (a, b) = (u(1), u(2));
    // a already has conflict 42 on a row outside the window (never stale, still counted).
    w.seed_conflict(42, "U");
    w.seed(&a, &u(9), Some(42), &[("VisitDate", "'2020-01-01'")]);
    w.seed(
        &a,
        &b,
        None,
        &[("StatusFlag", "'N'"), ("SameSchTimeFlag", "'N'")],
    );
    // b has no conflict anywhere: its orphan gets a new one.
    w.seed(
        &b,
        &a,
        None,
        &[("StatusFlag", "'N'"), ("SameSchTimeFlag", "'N'")],
    );

    let counts = Batch::new(vec![visit(1, 1), visit(2, 2)]).apply(&w.store, "2025-06-15 02:00:00");
    // Adopted rows are rewritten, so they count as updated as well.
    assert_eq!(numbers(&counts), [2, 0, 2, 0, 0, 0, 1]);
    assert_eq!(counts.warnings.count_named("missing_parent_conflict"), 0);
    let ab = w.row(&a, &b);
    assert_eq!(ab.get::<_, Option<i64>>("CONFLICTID"), Some(42));
    assert_eq!(text(&ab, "SameSchTimeFlag").as_deref(), Some("Y"));
    assert_eq!(
        text(&ab, "StatusFlag").as_deref(),
        Some("U"),
        "content changed"
    );
    let ba = w.row(&b, &a);
    let new_id: i64 = ba.get("CONFLICTID");
    assert_ne!(new_id, 42);
    assert_eq!(w.count("conflicts"), 2);

    // Adopted rows are regular now: the same batch again changes nothing.
    let counts = Batch::new(vec![visit(1, 1), visit(2, 2)]).apply(&w.store, "2025-06-16 02:00:00");
    assert_eq!(numbers(&counts), [0, 2, 0, 0, 0, 0, 0]);
}

#[test]
fn an_orphan_with_unchanged_content_is_still_adopted_and_keeps_status_n() {
    let mut w = World::new();
    let (a, b) = (u(1), u(2));
    let batch = Batch::new(vec![visit(1, 1), visit(2, 2)]);
    batch.apply(&w.store, "2025-06-15 02:00:00");
    // The previous system lost the conflict id of (a, b).
    let cvm = w.cvm();
    w.exec(&format!(
        "UPDATE {cvm} SET \"CONFLICTID\" = NULL WHERE \"VisitID\" = '{a}'"
    ));
    let counts = batch.apply(&w.store, "2025-06-16 02:00:00");
    assert_eq!(numbers(&counts), [1, 1, 1, 0, 0, 0, 1]);
    let ab = w.row(&a, &b);
    assert!(ab.get::<_, Option<i64>>("CONFLICTID").is_some());
    assert_eq!(text(&ab, "StatusFlag").as_deref(), Some("N"));
}
