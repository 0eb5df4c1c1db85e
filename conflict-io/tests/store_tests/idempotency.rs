//! Running the same batch twice on unchanged data (docs/lifecycle.md §10): the second run changes
//! nothing and counts every detected pair as unchanged.

use conflict_io::details::Value;

use super::batch::{numbers, set, u, visit, Batch, World};

#[test]
fn the_second_application_of_a_batch_changes_nothing() {
    let mut w = World::new();
    let (a, b) = (u(1), u(2));
    // Updates, an adoption, inserts, a stale row and a missing parent, with reals, long text
    // and GPS locations in the values.
    w.seed_conflict(10, "U");
    w.seed(&a, &b, Some(10), &[("SameSchTimeFlag", "'N'")]);
    w.seed(&b, &a, None, &[]);
    w.seed(&a, &u(9), Some(10), &[]);
    w.seed(&u(3), &a, Some(999), &[("SameSchTimeFlag", "'N'")]);
    let mut va = visit(1, 1);
    va.call_out_gps = Some("40.786200,-73.990000".into());
    let mut vc = visit(3, 3);
    vc.call_in_gps = Some(" 40.7501 , -73.9901 ".into());
    vc.address_lat = Some(40.1);
    let mut batch = Batch::new(vec![va, visit(2, 2), vc]);
    set(
        batch.detail(3),
        "ProviderName",
        Value::Text("x".repeat(300)),
    );
    set(batch.detail(2), "BillRateBoth", Value::F32(-0.0));
    set(
        batch.detail(2),
        "TotalBilledAmount",
        Value::F32(f32::MIN_POSITIVE),
    );

    let first = batch.apply(&w.store, "2025-06-15 02:00:00");
    assert_eq!(numbers(&first), [3, 0, 1, 3, 0, 1, 1]);
    assert_eq!(first.warnings.count_named("missing_parent_conflict"), 1);
    let cvm = w.snapshot("conflictvisitmaps", "\"ID\"");
    let conflicts = w.snapshot("conflicts", "\"CONFLICTID\"");

    let second = batch.apply(&w.store, "2025-06-16 02:00:00");
    assert_eq!(numbers(&second), [0, 6, 0, 0, 0, 0, 0]);
    assert_eq!(w.snapshot("conflictvisitmaps", "\"ID\""), cvm);
    assert_eq!(w.snapshot("conflicts", "\"CONFLICTID\""), conflicts);
}

#[test]
fn a_real_is_compared_by_its_bits() {
    let mut w = World::new();
    let (a, b) = (u(1), u(2));
    let mut batch = Batch::new(vec![visit(1, 1), visit(2, 2)]);
    set(batch.detail(1), "BilledRate", Value::F32(0.0));
    batch.apply(&w.store, "2025-06-15 02:00:00");
    // -0.0 = 0.0 numerically, but it is another stored value.
    set(batch.detail(1), "BilledRate", Value::F32(-0.0));
    let counts = batch.apply(&w.store, "2025-06-16 02:00:00");
    assert_eq!(numbers(&counts), [2, 0, 0, 0, 0, 0, 0]);
    let r = w.row(&a, &b);
    assert!(r.get::<_, f32>("BilledRate").is_sign_negative());
}
