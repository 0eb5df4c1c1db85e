//! Write conversions (docs/tables.md §10): varchar truncation with a per-column warning, int4
//! metrics out of range, and that converted values compare equal to what is stored.

use conflict_io::details::Value;

use super::batch::{at, numbers, set, text, ts, u, visit, Batch, World};

#[test]
fn long_values_are_cut_to_the_column_length_in_characters_with_a_warning_per_column() {
    let mut w = World::new();
    let (a, b) = (u(1), u(2));
    let mut batch = Batch::new(vec![visit(1, 1), visit(2, 2)]);
    // 150 two-byte characters into varchar(100); 14 characters into PayerState varchar(10)
    // (ConPayerState is varchar(100) and keeps them).
    set(
        batch.detail(1),
        "ProviderName",
        Value::Text("é".repeat(150)),
    );
    set(
        batch.detail(2),
        "PayerState",
        Value::Text("New York State".into()),
    );
    let counts = batch.apply(&w.store, "2025-06-15 02:00:00");
    assert_eq!(numbers(&counts), [0, 0, 0, 2, 0, 0, 2]);
    let warned = |c: &conflict_io::run::WriteCounts, col: &str| {
        c.warnings.count_named(&format!("truncated_value.{col}"))
    };
    assert_eq!(warned(&counts, "ProviderName"), 1, "(a, b)");
    assert_eq!(warned(&counts, "ConProviderName"), 1, "(b, a)");
    assert_eq!(warned(&counts, "PayerState"), 1, "(b, a)");
    assert_eq!(warned(&counts, "ConPayerState"), 0);
    let ab = w.row(&a, &b);
    assert_eq!(text(&ab, "ProviderName"), Some("é".repeat(100)));
    assert_eq!(
        text(&ab, "ConPayerState").as_deref(),
        Some("New York State")
    );
    assert_eq!(
        text(&w.row(&b, &a), "PayerState").as_deref(),
        Some("New York S")
    );

    // Compared after conversion: the cut values equal the stored ones.
    let counts = batch.apply(&w.store, "2025-06-16 02:00:00");
    assert_eq!(numbers(&counts), [0, 2, 0, 0, 0, 0, 0]);
    assert_eq!(warned(&counts, "ProviderName"), 1);
}

#[test]
fn a_metric_outside_int4_is_written_as_null_with_a_warning() {
    let mut w = World::new();
    let (a, b) = (u(1), u(2));
    // a's actual interval ends in the year 6500: the overlap rule fires for both orders, and
    // |DATEDIFF(a.end, b.start)| is about 2.35e9 minutes.
    let mut va = visit(1, 1);
    (va.visit_start, va.visit_end) = (Some(at("09:00")), Some(ts("6500-01-01 00:00:00")));
    let mut vb = visit(2, 2);
    (vb.visit_start, vb.visit_end) = (Some(at("10:00")), Some(at("11:00")));
    let counts = Batch::new(vec![va, vb]).apply(&w.store, "2025-06-15 02:00:00");
    assert_eq!(counts.warnings.count_named("metric_out_of_range"), 1);
    let md = |r: &postgres::Row| r.get::<_, Option<i32>>("MinuteDiffBetweenSch");
    assert_eq!(md(&w.row(&a, &b)), None);
    assert_eq!(md(&w.row(&b, &a)), Some(120));
}
