//! A batch whose pair rows take several COPY messages (the writer sends 1 MB at a time):
//! every row arrives whole and in order.

use conflict_io::details::Value;

use super::batch::{numbers, set, text, u, visit, Batch, World};

#[test]
fn a_batch_larger_than_one_copy_message_arrives_whole() {
    let mut w = World::new();
    // 30 overlapping visits at 30 providers: 870 pairs of a few kilobytes each, well over
    // 1 MB of COPY data.
    let n = 30u32;
    let mut batch = Batch::new((1..=n).map(|i| visit(i, i)).collect());
    for i in 1..=n {
        set(
            batch.detail(i),
            "ProviderName",
            Value::Text(format!("{i:03}-{}", "p".repeat(90))),
        );
        set(
            batch.detail(i),
            "AideName",
            Value::Text(format!("{i:03}-{}", "a".repeat(90))),
        );
    }
    let counts = batch.apply(&w.store, "2025-06-15 02:00:00");
    let pairs = u64::from(n * (n - 1));
    assert_eq!(numbers(&counts)[3], pairs, "inserted");
    assert_eq!(w.count("conflictvisitmaps"), pairs as i64);
    for (v1, v2) in [(1, 2), (2, 1), (15, 29), (30, 1), (29, 30)] {
        let row = w.row(&u(v1), &u(v2));
        let name = |i: u32, fill: &str| Some(format!("{i:03}-{}", fill.repeat(90)));
        assert_eq!(text(&row, "ProviderName"), name(v1, "p"), "({v1}, {v2})");
        assert_eq!(text(&row, "ConProviderName"), name(v2, "p"), "({v1}, {v2})");
        assert_eq!(text(&row, "AideName"), name(v1, "a"), "({v1}, {v2})");
        assert_eq!(text(&row, "ConAideName"), name(v2, "a"), "({v1}, {v2})");
    }
}
