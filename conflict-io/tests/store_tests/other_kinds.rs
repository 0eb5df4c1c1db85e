//! InService and PTO rows are never touched by the regular writer (docs/lifecycle.md §3, §6, §7).

use chrono::NaiveDateTime;

use super::batch::{numbers, text, u, visit, Batch, World};

#[test]
fn a_key_held_only_by_an_inservice_row_is_left_alone_with_a_warning() {
    let mut w = World::new();
    let (a, b) = (u(1), u(2));
    w.seed_conflict(10, "U");
    w.seed(
        &a,
        &b,
        Some(10),
        &[
            ("InserviceStartDate", "'2025-06-10 08:00:00'"),
            ("InserviceEndDate", "'2025-06-10 12:00:00'"),
            ("StatusFlag", "'N'"),
            ("SameSchTimeFlag", "'N'"),
        ],
    );
    let before = w.snapshot("conflictvisitmaps", "\"ID\"");
    let counts = Batch::new(vec![visit(1, 1), visit(2, 2)]).apply(&w.store, "2025-06-15 02:00:00");
    // (a, b) held by the InService row; (b, a) inserted under a new conflict.
    assert_eq!(numbers(&counts), [0, 0, 0, 1, 0, 0, 1]);
    assert_eq!(counts.warnings.count_named("key_held_by_other_kind"), 1);
    let after = w.snapshot("conflictvisitmaps", "\"ID\"");
    assert_eq!(after[0], before[0], "the InService row is untouched");
    assert_eq!(w.rows(&a, &b).len(), 1, "nothing inserted next to it");
    assert_eq!(w.rows(&b, &a).len(), 1);
}

#[test]
fn next_to_a_regular_row_only_the_regular_row_is_updated() {
    let mut w = World::new();
    let (a, b) = (u(1), u(2));
    let cvm_index = format!("{}.\"cvm_pair_unique\"", w.t.names.conflict.quoted());
    w.exec(&format!("DROP INDEX {cvm_index}"));
    w.seed_conflict(10, "U");
    w.seed(
        &a,
        &b,
        Some(10),
        &[("PTOStartDate", "'2025-06-10 00:00:00'")],
    );
    w.seed(&a, &b, Some(10), &[("SameSchTimeFlag", "'N'")]);
    let counts = Batch::new(vec![visit(1, 1), visit(2, 2)]).apply(&w.store, "2025-06-15 02:00:00");
    assert_eq!(numbers(&counts), [1, 0, 0, 1, 0, 0, 1]);
    let rows = w.rows(&a, &b);
    assert_eq!(rows.len(), 2);
    assert_eq!(
        rows[0].get::<_, Option<NaiveDateTime>>("UpdatedDate"),
        None,
        "PTO row"
    );
    assert_eq!(text(&rows[1], "SameSchTimeFlag").as_deref(), Some("Y"));
    assert_eq!(counts.warnings.count_named("duplicate_cvm_key"), 0);
}

#[test]
fn undetected_inservice_and_pto_rows_of_the_scope_are_not_stale() {
    let mut w = World::new();
    let a = u(1);
    w.seed_conflict(10, "U");
    w.seed(
        &a,
        &u(20),
        Some(10),
        &[("ConInserviceEndDate", "'2025-06-10 12:00:00'")],
    );
    w.seed(
        &a,
        &u(21),
        None,
        &[("ConPTOStartDate", "'2025-06-10 00:00:00'")],
    );
    // An orphan is not regular either: it is adopted when detected, never resolved.
    w.seed(&a, &u(22), None, &[]);
    let before = w.snapshot("conflictvisitmaps", "\"ID\"");
    let counts = Batch::new(vec![visit(1, 1), visit(2, 2)]).apply(&w.store, "2025-06-15 02:00:00");
    assert_eq!(counts.resolved, 0);
    let after = w.snapshot("conflictvisitmaps", "\"ID\"");
    assert_eq!(&after[..3], &before[..]);
}

#[test]
fn two_regular_rows_with_one_key_are_both_updated_with_a_warning() {
    let mut w = World::new();
    let (a, b) = (u(1), u(2));
    let cvm_index = format!("{}.\"cvm_pair_unique\"", w.t.names.conflict.quoted());
    w.exec(&format!("DROP INDEX {cvm_index}"));
    w.seed_conflict(10, "U");
    w.seed(&a, &b, Some(10), &[("SameSchTimeFlag", "'N'")]);
    w.seed(&a, &b, Some(10), &[("SameSchTimeFlag", "'N'")]);
    let counts = Batch::new(vec![visit(1, 1), visit(2, 2)]).apply(&w.store, "2025-06-15 02:00:00");
    assert_eq!(numbers(&counts), [2, 0, 0, 1, 0, 0, 1]);
    assert_eq!(counts.warnings.count_named("duplicate_cvm_key"), 1);
    for r in w.rows(&a, &b) {
        assert_eq!(text(&r, "SameSchTimeFlag").as_deref(), Some("Y"));
    }
}
