//! Insert-only switches (docs/rules.md §12, docs/lifecycle.md §5.1): they decide which new pairs are
//! inserted and nothing else.

use conflict_core::RuleOptions;

use super::batch::{d, numbers, text, u, visit, Batch, World};

#[test]
fn requires_not_missed_skips_new_pairs_with_a_missed_or_unknown_visit_only() {
    let mut w = World::new();
    let (a, b, c) = (u(1), u(2), u(3));
    w.seed_conflict(10, "U");
    // (b, a) exists; c is missed.
    w.seed(&b, &a, Some(10), &[("SameSchTimeFlag", "'N'")]);
    let mut vb = visit(2, 2);
    vb.is_missed = None;
    let mut vc = visit(3, 3);
    vc.is_missed = Some(true);
    let mut batch = Batch::new(vec![visit(1, 1), vb, vc]);
    batch.options = RuleOptions {
        insert_requires_not_missed: true,
        ..RuleOptions::default()
    };
    let counts = batch.apply(&w.store, "2025-06-15 02:00:00");
    // Six pairs: (b, a) updated; the five new ones all involve b or c.
    assert_eq!(numbers(&counts), [1, 0, 0, 0, 5, 0, 0]);
    assert_eq!(
        text(&w.row(&b, &a), "SameSchTimeFlag").as_deref(),
        Some("Y")
    );
    assert!(w.rows(&a, &c).is_empty());
}

#[test]
fn schedule_only_flags_before_as_of_do_not_insert() {
    let mut w = World::new();
    // a, b on 2025-06-10 (before as_of): rule 1 only. c, d on 2025-06-20: rule 1 as well.
    let mut vc = visit(3, 3);
    let mut vd = visit(4, 4);
    for v in [&mut vc, &mut vd] {
        v.visit_date = d("2025-06-20");
        v.sch_start = Some(d("2025-06-20").and_hms_opt(9, 0, 0).unwrap());
        v.sch_end = Some(d("2025-06-20").and_hms_opt(11, 0, 0).unwrap());
    }
    let mut batch = Batch::new(vec![visit(1, 1), visit(2, 2), vc, vd]);
    batch.options = RuleOptions {
        insert_schedule_only_from_as_of: true,
        ..RuleOptions::default()
    };
    let counts = batch.apply(&w.store, "2025-06-15 02:00:00");
    assert_eq!(numbers(&counts), [0, 0, 0, 2, 2, 0, 2]);
    assert!(w.rows(&u(1), &u(2)).is_empty());
    assert_eq!(w.rows(&u(3), &u(4)).len(), 1);
}
