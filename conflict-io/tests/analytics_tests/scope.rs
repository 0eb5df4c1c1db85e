//! `Scope::Keys` and `Scope::SsnPrefix`: exactly the visits of the scope, nothing else.

use std::collections::HashSet;

use chrono::{Days, NaiveDate};
use conflict_core::model::trim;
use conflict_core::Visit;
use conflict_io::scope::Scope;

use super::fixture::Loaded;
use crate::support::expected::{assert_same_visits, prefilter, Expected};
use crate::support::rng::Rng;

fn key(v: &Visit) -> (NaiveDate, String) {
    (
        v.visit_date,
        trim(v.ssn.as_deref().unwrap_or("")).to_string(),
    )
}

#[test]
fn keys_scope_returns_exactly_the_visits_of_those_keys() {
    let t = Loaded::new(21);
    let window = t.window();
    let ex = t.exclusions();
    let admitted = Expected::new(&t.world).visits(&window, &ex);

    let mut all_keys: Vec<(NaiveDate, String)> = admitted.iter().map(key).collect();
    all_keys.sort();
    all_keys.dedup();
    let mut rng = Rng::new(21);
    let mut keys: Vec<(NaiveDate, String)> = all_keys
        .iter()
        .filter(|_| rng.chance(0.15))
        .cloned()
        .collect();
    let chosen = keys.len();
    assert!(chosen > 100, "{chosen} keys");
    // A key nobody has, and one of an existing person just outside the window (ignored).
    keys.push((window.from + Days::new(10), "999999998".into()));
    keys.push((window.from - Days::new(1), "555000111".into()));
    // Keys listed twice (callers may build key lists from several sources): still one copy
    // of each visit.
    keys.extend(keys[..5].to_vec());
    assert!(
        t.world
            .visits
            .iter()
            .any(|f| f.date == Some(window.from - Days::new(1))),
        "the world has visits just before the window"
    );

    let wanted: HashSet<&(NaiveDate, String)> = keys.iter().collect();
    let expected: Vec<Visit> = admitted
        .iter()
        .filter(|v| wanted.contains(&key(v)))
        .cloned()
        .collect();

    let mut src = t.source(false);
    let actual = src
        .visits(&t.scope(Scope::Keys(keys.clone())), &ex)
        .expect("read visits of keys");
    assert_same_visits("Scope::Keys, pre-filter off", actual, expected.clone());

    // The same session again with another key set: the temporary key table is replaced, not
    // appended to.
    let few: Vec<(NaiveDate, String)> = keys.iter().step_by(3).cloned().collect();
    let few_set: HashSet<&(NaiveDate, String)> = few.iter().collect();
    let expected_few: Vec<Visit> = expected
        .iter()
        .filter(|v| few_set.contains(&key(v)))
        .cloned()
        .collect();
    let actual = src
        .visits(&t.scope(Scope::Keys(few)), &ex)
        .expect("read visits of fewer keys");
    assert_same_visits("Scope::Keys, second call", actual, expected_few);

    // No keys, no visits.
    let actual = src
        .visits(&t.scope(Scope::Keys(Vec::new())), &ex)
        .expect("read visits of no keys");
    assert!(actual.is_empty(), "{} visits for no keys", actual.len());

    // With the pre-filter, the keys' single-provider groups go too.
    let actual = t
        .source(true)
        .visits(&t.scope(Scope::Keys(keys)), &ex)
        .expect("read visits of keys with the pre-filter");
    assert_same_visits("Scope::Keys, pre-filter on", actual, prefilter(&expected));
}

#[test]
fn ssn_prefix_scope_returns_exactly_the_visits_whose_trimmed_ssn_starts_with_it() {
    let t = Loaded::new(22);
    let window = t.window();
    let ex = t.exclusions();
    let admitted = Expected::new(&t.world).visits(&window, &ex);
    let mut src = t.source(false);

    let three = t.world.people[0].ssn[..3].to_string();
    // A whole SSN as prefix: one of an admitted multi-agency person.
    let full = trim(admitted[admitted.len() / 2].ssn.as_deref().unwrap()).to_string();
    for prefix in [three.as_str(), "1", full.as_str(), "555", "X", "000-"] {
        let expected: Vec<Visit> = admitted
            .iter()
            .filter(|v| trim(v.ssn.as_deref().unwrap_or("")).starts_with(prefix))
            .cloned()
            .collect();
        let actual = src
            .visits(&t.scope(Scope::SsnPrefix(prefix.to_string())), &ex)
            .unwrap_or_else(|e| panic!("read visits of prefix {prefix:?}: {e}"));
        if prefix == "X" {
            assert!(expected.is_empty());
        } else {
            assert!(!expected.is_empty(), "prefix {prefix:?} selects visits");
        }
        assert_same_visits(&format!("Scope::SsnPrefix({prefix:?})"), actual, expected);
    }
}
