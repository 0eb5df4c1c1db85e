//! The StatusFlag table of docs/lifecycle.md §4.2 and the control columns an update clears.

use chrono::NaiveDateTime;
use conflict_io::details::Value;

use super::batch::{numbers, set, text, ts, u, visit, Batch, World};

fn status(w: &mut World, v1: &str, v2: &str) -> Option<String> {
    text(&w.row(v1, v2), "StatusFlag")
}

fn updated_date(w: &mut World, v1: &str, v2: &str) -> Option<NaiveDateTime> {
    w.row(v1, v2).get("UpdatedDate")
}

#[test]
fn whitelisted_and_ignored_rows_keep_their_status_but_take_new_content() {
    let mut w = World::new();
    let (a, b) = (u(1), u(2));
    let mut batch = Batch::new(vec![visit(1, 1), visit(2, 2)]);
    batch.apply(&w.store, "2025-06-15 02:00:00");
    let cvm = w.cvm();
    w.exec(&format!(
        "UPDATE {cvm} SET \"StatusFlag\" = 'W' WHERE \"VisitID\" = '{a}';
         UPDATE {cvm} SET \"StatusFlag\" = 'I' WHERE \"VisitID\" = '{b}';"
    ));
    // Unchanged content: not touched at all.
    let counts = batch.apply(&w.store, "2025-06-16 02:00:00");
    assert_eq!(numbers(&counts), [0, 2, 0, 0, 0, 0, 0]);
    // Changed content (a's provider was renamed): rewritten, status kept.
    set(
        batch.detail(1),
        "ProviderName",
        Value::Text("Renamed".into()),
    );
    let counts = batch.apply(&w.store, "2025-06-17 02:00:00");
    assert_eq!(numbers(&counts), [2, 0, 0, 0, 0, 0, 0]);
    assert_eq!(status(&mut w, &a, &b).as_deref(), Some("W"));
    assert_eq!(status(&mut w, &b, &a).as_deref(), Some("I"));
    let ab = w.row(&a, &b);
    assert_eq!(text(&ab, "ProviderName").as_deref(), Some("Renamed"));
    assert_eq!(
        text(&w.row(&b, &a), "ConProviderName").as_deref(),
        Some("Renamed")
    );
    assert_eq!(
        updated_date(&mut w, &a, &b),
        Some(ts("2025-06-17 02:00:00"))
    );
}

#[test]
fn a_resolved_or_deleted_row_found_again_becomes_u_and_loses_its_resolve_date() {
    let mut w = World::new();
    let (a, b) = (u(1), u(2));
    let batch = Batch::new(vec![visit(1, 1), visit(2, 2)]);
    batch.apply(&w.store, "2025-06-15 02:00:00");
    let cvm = w.cvm();
    w.exec(&format!(
        "UPDATE {cvm} SET \"StatusFlag\" = 'R', \"ResolveDate\" = '2025-06-14 00:00:00', \
           \"ResolvedBy\" = 'someone' WHERE \"VisitID\" = '{a}';
         UPDATE {cvm} SET \"StatusFlag\" = 'D' WHERE \"VisitID\" = '{b}';"
    ));
    let counts = batch.apply(&w.store, "2025-06-16 02:00:00");
    assert_eq!(numbers(&counts), [2, 0, 0, 0, 0, 0, 0]);
    let ab = w.row(&a, &b);
    assert_eq!(text(&ab, "StatusFlag").as_deref(), Some("U"));
    assert_eq!(ab.get::<_, Option<NaiveDateTime>>("ResolveDate"), None);
    assert_eq!(
        text(&ab, "ResolvedBy").as_deref(),
        Some("someone"),
        "never written"
    );
    assert_eq!(
        ab.get::<_, Option<NaiveDateTime>>("UpdatedDate"),
        Some(ts("2025-06-16 02:00:00"))
    );
    assert_eq!(status(&mut w, &b, &a).as_deref(), Some("U"));
}

#[test]
fn n_is_kept_on_an_unchanged_re_detection_and_becomes_u_on_a_change() {
    let mut w = World::new();
    let (a, b) = (u(1), u(2));
    let mut batch = Batch::new(vec![visit(1, 1), visit(2, 2)]);
    batch.apply(&w.store, "2025-06-15 02:00:00");
    assert_eq!(status(&mut w, &a, &b).as_deref(), Some("N"));

    let counts = batch.apply(&w.store, "2025-06-16 02:00:00");
    assert_eq!(numbers(&counts), [0, 2, 0, 0, 0, 0, 0]);
    assert_eq!(status(&mut w, &a, &b).as_deref(), Some("N"));
    assert_eq!(updated_date(&mut w, &a, &b), None);

    // b's caregiver name changes: content of both rows (V1 side of one, V2 side of the other).
    set(
        batch.detail(2),
        "AideName",
        Value::Text("Pat Q. Doe".into()),
    );
    let counts = batch.apply(&w.store, "2025-06-17 02:00:00");
    assert_eq!(numbers(&counts), [2, 0, 0, 0, 0, 0, 0]);
    assert_eq!(status(&mut w, &a, &b).as_deref(), Some("U"));
    assert_eq!(status(&mut w, &b, &a).as_deref(), Some("U"));
}

#[test]
fn an_update_flag_or_resolve_date_alone_forces_a_rewrite_that_clears_it() {
    let mut w = World::new();
    let (a, b) = (u(1), u(2));
    let batch = Batch::new(vec![visit(1, 1), visit(2, 2)]);
    batch.apply(&w.store, "2025-06-15 02:00:00");
    let cvm = w.cvm();
    w.exec(&format!(
        "UPDATE {cvm} SET \"UpdateFlag\" = 1 WHERE \"VisitID\" = '{a}';
         UPDATE {cvm} SET \"ResolveDate\" = '2025-06-01 00:00:00' WHERE \"VisitID\" = '{b}';"
    ));
    let counts = batch.apply(&w.store, "2025-06-16 02:00:00");
    assert_eq!(numbers(&counts), [2, 0, 0, 0, 0, 0, 0]);
    for (v1, v2) in [(&a, &b), (&b, &a)] {
        let r = w.row(v1, v2);
        assert_eq!(r.get::<_, Option<i16>>("UpdateFlag"), None);
        assert_eq!(r.get::<_, Option<NaiveDateTime>>("ResolveDate"), None);
        // Not content: a new row stays N.
        assert_eq!(text(&r, "StatusFlag").as_deref(), Some("N"));
    }
}
