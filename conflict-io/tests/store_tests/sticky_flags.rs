//! Sticky rule flags (docs/lifecycle.md §4.1): only a stored `'N'` takes the computed flag; `'Y'`,
//! NULL and anything else are kept, and keeping them is no change.

use super::batch::{flags, numbers, text, u, visit, Batch, World};

#[test]
fn a_stored_n_takes_the_computed_flag_everything_else_is_kept() {
    let mut w = World::new();
    // (a, b) is re-detected with rule 1 (same schedule) only.
    let (a, b) = (u(1), u(2));
    w.seed_conflict(10, "U");
    w.seed(
        &a,
        &b,
        Some(10),
        &[
            ("StatusFlag", "'U'"),
            ("SameSchTimeFlag", "'N'"),
            ("SameVisitTimeFlag", "'Y'"),
            ("SchAndVisitTimeSameFlag", "NULL"),
            ("SchOverAnotherSchTimeFlag", "'N'"),
            ("VisitTimeOverAnotherVisitTimeFlag", "'N'"),
            ("SchTimeOverVisitTimeFlag", "'x'"),
            ("DistanceFlag", "'N'"),
        ],
    );
    let batch = Batch::new(vec![visit(1, 1), visit(2, 2)]);
    let counts = batch.apply(&w.store, "2025-06-15 02:00:00");
    // (a, b) updated, (b, a) inserted under a new conflict.
    assert_eq!(numbers(&counts), [1, 0, 0, 1, 0, 0, 1]);
    let row = w.row(&a, &b);
    assert_eq!(flags(&row), "YY.NNxN");
    assert_eq!(text(&row, "StatusFlag").as_deref(), Some("U"));
}

#[test]
fn keeping_a_stored_y_or_null_against_a_computed_flag_is_no_change() {
    let mut w = World::new();
    let (a, b) = (u(1), u(2));
    let batch = Batch::new(vec![visit(1, 1), visit(2, 2)]);
    assert_eq!(numbers(&batch.apply(&w.store, "2025-06-15 02:00:00"))[3], 2);
    // A person (or the old system) left a 'Y' where the rules now say 'N', and a NULL where
    // they say 'Y'.
    let cvm = w.cvm();
    w.exec(&format!(
        "UPDATE {cvm} SET \"DistanceFlag\" = 'Y' WHERE \"VisitID\" = '{a}';
         UPDATE {cvm} SET \"SameSchTimeFlag\" = NULL WHERE \"VisitID\" = '{b}';"
    ));
    let counts = batch.apply(&w.store, "2025-06-16 02:00:00");
    assert_eq!(numbers(&counts), [0, 2, 0, 0, 0, 0, 0]);
    let ab = w.row(&a, &b);
    assert_eq!(flags(&ab), "YNNNNNY");
    assert_eq!(text(&ab, "StatusFlag").as_deref(), Some("N"));
    let ba = w.row(&b, &a);
    assert_eq!(flags(&ba), ".NNNNNN");
    assert_eq!(
        ba.get::<_, Option<chrono::NaiveDateTime>>("UpdatedDate"),
        None
    );
}
