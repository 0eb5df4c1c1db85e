//! Stale resolution (docs/lifecycle.md §6): open regular rows of the stale scope whose key the
//! batch did not detect become `R`.

use chrono::NaiveDateTime;
use conflict_io::scope::Scope;

use super::batch::{d, flags, numbers, text, ts, u, visit, Batch, World, DAY};

const RUN_TS: &str = "2025-06-15 02:00:00";

fn resolve_date(w: &mut World, v1: &str, v2: &str) -> Option<NaiveDateTime> {
    w.row(v1, v2).get("ResolveDate")
}

#[test]
fn open_regular_rows_of_the_scope_that_were_not_detected_are_resolved() {
    let mut w = World::new();
    let a = u(1);
    w.seed_conflict(10, "U");
    // Keys (a, u(20+i)) are never detected.
    let statuses = ["'N'", "'U'", "NULL", "'zz'", "'R'", "'W'", "'I'", "'D'"];
    for (i, s) in statuses.iter().enumerate() {
        w.seed(
            &a,
            &u(20 + i as u32),
            Some(10),
            &[("StatusFlag", s), ("SameSchTimeFlag", "'Y'")],
        );
    }
    // An existing ResolveDate is kept; a padded SSN is trimmed before the prefix test.
    let cvm = w.cvm();
    w.exec(&format!(
        "UPDATE {cvm} SET \"ResolveDate\" = '2025-01-01 00:00:00' WHERE \"ConVisitID\" = '{}'",
        u(21)
    ));
    w.seed(&a, &u(30), Some(10), &[("SSN", "E' 123456789\\t'")]);
    // Not in the stale scope: another SSN prefix, outside the window.
    w.seed(&a, &u(31), Some(10), &[("SSN", "'987654321'")]);
    w.seed(&a, &u(32), Some(10), &[("VisitDate", "'2020-01-01'")]);

    let batch = Batch::new(vec![visit(1, 1), visit(2, 2)]);
    let counts = batch.apply(&w.store, RUN_TS);
    // a reuses conflict 10; b gets a new one.
    assert_eq!(numbers(&counts), [0, 0, 0, 2, 0, 5, 1]);

    for i in [0, 1, 2, 3] {
        let r = w.row(&a, &u(20 + i));
        assert_eq!(text(&r, "StatusFlag").as_deref(), Some("R"), "status #{i}");
        assert_eq!(
            r.get::<_, Option<NaiveDateTime>>("UpdatedDate"),
            Some(ts(RUN_TS))
        );
        assert_eq!(flags(&r), "Y......", "nothing else changes");
    }
    assert_eq!(resolve_date(&mut w, &a, &u(20)), Some(ts(RUN_TS)));
    assert_eq!(
        resolve_date(&mut w, &a, &u(21)),
        Some(ts("2025-01-01 00:00:00")),
        "COALESCE keeps the first resolution"
    );
    assert_eq!(text(&w.row(&a, &u(30)), "StatusFlag").as_deref(), Some("R"));
    for (i, s) in [(4, "R"), (5, "W"), (6, "I"), (7, "D")] {
        let r = w.row(&a, &u(20 + i));
        assert_eq!(text(&r, "StatusFlag").as_deref(), Some(s));
        assert_eq!(r.get::<_, Option<NaiveDateTime>>("UpdatedDate"), None);
    }
    for v2 in [u(31), u(32)] {
        let r = w.row(&a, &v2);
        assert_eq!(
            text(&r, "StatusFlag").as_deref(),
            Some("U"),
            "default, untouched"
        );
    }
    // Resolving again changes nothing.
    let counts = batch.apply(&w.store, "2025-06-16 02:00:00");
    assert_eq!(numbers(&counts), [0, 2, 0, 0, 0, 0, 0]);
}

#[test]
fn a_key_scope_resolves_only_the_rows_of_its_keys() {
    let mut w = World::new();
    let a = u(1);
    w.seed_conflict(10, "U");
    w.seed(&a, &u(20), Some(10), &[]);
    w.seed(&a, &u(21), Some(10), &[("VisitDate", "'2025-06-11'")]);
    w.seed(&a, &u(22), Some(10), &[("SSN", "' 123456789'")]);
    let mut batch = Batch::new(vec![visit(1, 1), visit(2, 2)]);
    batch.spec.scope = Scope::Keys(vec![(d(DAY), "123456789".into())]);
    let counts = batch.apply(&w.store, RUN_TS);
    assert_eq!(counts.resolved, 2);
    assert_eq!(text(&w.row(&a, &u(20)), "StatusFlag").as_deref(), Some("R"));
    assert_eq!(text(&w.row(&a, &u(22)), "StatusFlag").as_deref(), Some("R"));
    assert_eq!(text(&w.row(&a, &u(21)), "StatusFlag").as_deref(), Some("U"));
}

#[test]
fn a_row_of_a_pair_that_is_no_longer_detected_is_resolved_but_its_reverse_is_kept() {
    let mut w = World::new();
    let (a, b) = (u(1), u(2));
    let mut batch = Batch::new(vec![visit(1, 1), visit(2, 2)]);
    batch.apply(&w.store, RUN_TS);
    // b moves to a later, touching schedule: no rule fires any more in either order.
    batch.visits[1].sch_start = Some(ts("2025-06-10 11:00:00"));
    batch.visits[1].sch_end = Some(ts("2025-06-10 12:00:00"));
    let counts = batch.apply(&w.store, "2025-06-16 02:00:00");
    assert_eq!(numbers(&counts), [0, 0, 0, 0, 0, 2, 0]);
    for (v1, v2) in [(&a, &b), (&b, &a)] {
        let r = w.row(v1, v2);
        assert_eq!(text(&r, "StatusFlag").as_deref(), Some("R"));
        assert_eq!(
            r.get::<_, Option<NaiveDateTime>>("ResolveDate"),
            Some(ts("2025-06-16 02:00:00"))
        );
        // The last detected values stay.
        assert_eq!(
            r.get::<_, Option<NaiveDateTime>>(if *v1 == a {
                "ConSchStartTime"
            } else {
                "SchStartTime"
            }),
            Some(ts("2025-06-10 09:00:00"))
        );
    }
}
