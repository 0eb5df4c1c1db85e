//! Missing parent conflicts (docs/lifecycle.md §5.2): a `CONFLICTID` the run writes or keeps
//! without a `conflicts` row gets one with that id.

use chrono::NaiveDateTime;

use super::batch::{numbers, ts, u, visit, Batch, World};

#[test]
fn a_kept_conflict_id_without_parent_gets_one_with_a_warning() {
    let mut w = World::new();
    let (a, b) = (u(1), u(2));
    // (a, b) carries conflict 900, which has no parent; b has nothing.
    w.seed(&a, &b, Some(900), &[("SameSchTimeFlag", "'N'")]);
    let counts = Batch::new(vec![visit(1, 1), visit(2, 2)]).apply(&w.store, "2025-06-15 02:00:00");
    assert_eq!(numbers(&counts), [1, 0, 0, 1, 0, 0, 1]);
    assert_eq!(counts.warnings.count_named("missing_parent_conflict"), 1);
    let conflicts = w.conflicts();
    let parent =
        w.t.client
            .query_one(
                &format!(
                "SELECT \"StatusFlag\", \"CreatedDate\" FROM {conflicts} WHERE \"CONFLICTID\" = 900"
            ),
                &[],
            )
            .unwrap();
    assert_eq!(parent.get::<_, Option<String>>(0).as_deref(), Some("U"));
    assert_eq!(
        parent.get::<_, Option<NaiveDateTime>>(1),
        Some(ts("2025-06-15 02:00:00"))
    );
    assert_eq!(w.count("conflicts"), 2);
}

#[test]
fn a_reused_conflict_id_without_parent_gets_one_too() {
    let mut w = World::new();
    let (a, b) = (u(1), u(2));
    // a's only conflict id sits on an out-of-window row whose parent was deleted.
    w.seed(&a, &u(9), Some(901), &[("VisitDate", "'2020-01-01'")]);
    let counts = Batch::new(vec![visit(1, 1), visit(2, 2)]).apply(&w.store, "2025-06-15 02:00:00");
    assert_eq!(counts.warnings.count_named("missing_parent_conflict"), 1);
    assert_eq!(w.row(&a, &b).get::<_, Option<i64>>("CONFLICTID"), Some(901));
    assert_eq!(
        counts.conflicts_created, 1,
        "only b's conflict is allocated"
    );
    assert_eq!(w.count("conflicts"), 2);
}
