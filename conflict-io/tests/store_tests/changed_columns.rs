//! A rewrite sets only the columns that changed somewhere in the batch (docs/lifecycle.md §4):
//! each rewritten row must still get every value that changed in it, whichever other rows
//! changed which other columns, and a row whose values did not change is left alone.

use conflict_io::details::Value;

use super::batch::{numbers, set, text, u, visit, Batch, World};

/// The provider name `details_for` gives visit `n` of provider `n`, or its new name.
fn provider_name(n: u32, renamed: bool) -> String {
    if renamed && n == 1 {
        "Renamed agency".into()
    } else {
        format!("Agency {}", &u(1000 + n)[30..])
    }
}

fn aide_name(n: u32, renamed: bool) -> String {
    if renamed && n == 3 {
        "Sam Roe".into()
    } else {
        "Pat Doe".into()
    }
}

#[test]
fn each_rewritten_row_gets_the_columns_that_changed_in_it() {
    let mut w = World::new();
    // Four overlapping visits at four providers: twelve pairs.
    let mut batch = Batch::new((1..=4).map(|n| visit(n, n)).collect());
    let first = batch.apply(&w.store, "2025-06-15 02:00:00");
    assert_eq!(numbers(&first)[3], 12, "inserted");

    // Visit 1 changes its provider name, visit 3 its caregiver name: the rows of visit 1 get a
    // new ProviderName (as V1) or ConProviderName (as V2), those of visit 3 a new AideName or
    // ConAideName, the row (1, 3) both; the rows (2, 4) and (4, 2) nothing.
    set(
        batch.detail(1),
        "ProviderName",
        Value::Text("Renamed agency".into()),
    );
    set(batch.detail(3), "AideName", Value::Text("Sam Roe".into()));
    let second = batch.apply(&w.store, "2025-06-16 02:00:00");
    assert_eq!(numbers(&second)[..2], [10, 2], "updated, unchanged");

    for v1 in 1..=4u32 {
        for v2 in (1..=4u32).filter(|&v2| v2 != v1) {
            let row = w.row(&u(v1), &u(v2));
            let key = format!("({v1}, {v2})");
            assert_eq!(
                text(&row, "ProviderName"),
                Some(provider_name(v1, true)),
                "{key}"
            );
            assert_eq!(
                text(&row, "ConProviderName"),
                Some(provider_name(v2, true)),
                "{key}"
            );
            assert_eq!(text(&row, "AideName"), Some(aide_name(v1, true)), "{key}");
            assert_eq!(
                text(&row, "ConAideName"),
                Some(aide_name(v2, true)),
                "{key}"
            );
            let rewritten = [v1, v2].iter().any(|v| [1, 3].contains(v));
            let updated: Option<chrono::NaiveDateTime> = row.get("UpdatedDate");
            assert_eq!(
                updated.map(|t| t.to_string()),
                rewritten.then(|| "2025-06-16 02:00:00".to_string()),
                "{key}"
            );
        }
    }
}
