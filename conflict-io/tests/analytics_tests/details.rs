//! `details()`: the business columns of docs/tables.md §9.1 read over psqlODBC against the model,
//! column by column.

use conflict_io::details::{Value, VisitDetails, DETAIL_COLUMNS};

use super::fixture::Loaded;
use crate::support::expected::Expected;
use crate::support::rng::Rng;

/// Like `Value == Value`, but `real`s must be bit-identical (copied bit-exact, docs/tables.md §10).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::F32(x), Value::F32(y)) => x.to_bits() == y.to_bits(),
        _ => a == b,
    }
}

fn differences(id: &str, actual: &VisitDetails, expected: &VisitDetails) -> Vec<String> {
    assert_eq!(
        actual.values.len(),
        DETAIL_COLUMNS.len(),
        "visit {id}: width"
    );
    DETAIL_COLUMNS
        .iter()
        .zip(actual.values.iter().zip(&expected.values))
        .filter(|(_, (a, e))| !same(a, e))
        .map(|(c, (a, e))| format!("visit {id} column {}: read {a:?}, expected {e:?}", c.cvm))
        .collect()
}

#[test]
fn details_equal_the_model_column_by_column() {
    let t = Loaded::new(31);
    let model = Expected::new(&t.world);
    let admitted = model.visits(&t.window(), &t.exclusions());
    // A random third of the admitted visits plus every hand-made edge case (the last fact
    // rows), some ids twice, and an id that does not exist.
    let mut rng = Rng::new(31);
    let mut ids: Vec<String> = admitted
        .iter()
        .enumerate()
        .filter(|(i, _)| *i + 40 >= admitted.len() || rng.chance(0.33))
        .map(|(_, v)| v.visit_id.clone())
        .collect();
    let sample = ids.len();
    ids.extend(ids[..10].to_vec());
    let unknown = "00000000-0000-4000-8000-000000000000".to_string();
    ids.push(unknown.clone());

    let mut src = t.source(false);
    let got = src
        .details(ids.iter().map(String::as_str))
        .expect("read business columns");
    assert_eq!(got.len(), sample, "one entry per distinct existing id");
    assert!(!got.contains_key(&unknown));

    let mut diffs = Vec::new();
    let mut seen = vec![std::collections::HashSet::new(); DETAIL_COLUMNS.len()];
    for id in &ids[..sample] {
        let fact = model.fact(id).expect("a fact row");
        let expected = model.details(fact);
        let actual = got
            .get(id)
            .unwrap_or_else(|| panic!("no details for visit {id}"));
        diffs.extend(differences(id, actual, &expected));
        for (k, v) in expected.values.iter().enumerate() {
            seen[k].insert(std::mem::discriminant(v));
        }
    }
    assert!(
        diffs.is_empty(),
        "{} differing cells; the first ones:\n{}",
        diffs.len(),
        diffs[..diffs.len().min(25)].join("\n")
    );
    // Every column was compared with both a value and a NULL, so neither direction of a
    // mix-up (value lost, value invented) can hide. Provider and caregiver ids are never NULL
    // for an admitted visit (inner joins).
    let constant: Vec<&str> = seen
        .iter()
        .zip(DETAIL_COLUMNS)
        .filter(|(kinds, c)| kinds.len() < 2 && !["ProviderID", "CaregiverID"].contains(&c.cvm))
        .map(|(_, c)| c.cvm)
        .collect();
    assert!(
        constant.is_empty(),
        "columns never both NULL and a value: {constant:?}"
    );

    // Each Contract/ContractType/BillRateBoth case occurred.
    let column = |name: &str| DETAIL_COLUMNS.iter().position(|c| c.cvm == name).unwrap();
    let values = |name: &str| -> Vec<Value> {
        ids[..sample]
            .iter()
            .map(|id| got[id].values[column(name)].clone())
            .collect()
    };
    for kind in ["Internal", "UPR", "Payer"] {
        assert!(
            values("ContractType").contains(&Value::Text(kind.into())),
            "{kind}"
        );
    }
    assert!(values("Contract")
        .iter()
        .any(|v| matches!(v, Value::Text(s) if s.starts_with("Contract "))));
}

#[test]
fn details_of_no_ids_is_empty() {
    let t = Loaded::new(32);
    let got = t.source(false).details(std::iter::empty()).expect("no ids");
    assert!(got.is_empty());
}
