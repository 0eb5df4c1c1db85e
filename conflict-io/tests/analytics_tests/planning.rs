//! The planning reads of a run: visit counts per SSN prefix (batch planning) and the delta keys
//! of an incremental run (docs/lifecycle.md §2), against the model.

use std::collections::BTreeMap;

use chrono::{NaiveDate, NaiveDateTime, TimeDelta};
use conflict_core::model::trim;
use conflict_core::Exclusions;

use super::fixture::Loaded;
use crate::support::expected::Expected;

#[test]
fn ssn_prefix_counts_cover_every_admitted_visit_of_the_window() {
    let t = Loaded::new(51);
    let window = t.window();
    // Planning ignores exclusions: it only needs a superset of the keys that hold data.
    let admitted = Expected::new(&t.world).visits(&window, &Exclusions::default());
    let mut src = t.source(false);
    for len in [1, 3] {
        let mut expected: BTreeMap<String, u64> = BTreeMap::new();
        for v in &admitted {
            let ssn = trim(v.ssn.as_deref().unwrap_or(""));
            *expected.entry(ssn.chars().take(len).collect()).or_default() += 1;
        }
        let actual: BTreeMap<String, u64> = src
            .ssn_prefixes(&window, len)
            .unwrap_or_else(|e| panic!("count visits per prefix of {len}: {e}"))
            .into_iter()
            .collect();
        assert_eq!(
            actual, expected,
            "visit counts per SSN prefix of length {len}"
        );
        assert!(actual.len() > 1);
    }
}

#[test]
fn delta_keys_are_the_keys_of_visits_updated_since_regardless_of_provider() {
    let t = Loaded::new(52);
    let window = t.window();
    let w = &t.world;
    let caregivers: std::collections::HashMap<&str, &str> = w
        .caregivers
        .iter()
        .filter_map(|c| Some((c.id.as_str(), c.ssn.as_deref()?)))
        .collect();
    // `since` is exactly one visit's update time (microseconds included): the bound is
    // inclusive, so that visit's key must be among the delta keys.
    let mut stamps: Vec<_> = w.visits.iter().filter_map(|f| f.updated_at).collect();
    stamps.sort();
    let since = stamps[stamps.len() * 3 / 4];
    assert!(since.and_utc().timestamp_subsec_micros() != 0 || stamps.len() < 4);

    let expected = |since: NaiveDateTime| {
        let mut keys: Vec<(NaiveDate, String)> = w
            .visits
            .iter()
            .filter(|f| f.updated_at.is_some_and(|u| u >= since))
            .filter_map(|f| {
                let date = f.date.filter(|d| window.contains(*d))?;
                let ssn = trim(caregivers.get(f.caregiver_id.as_deref()?)?);
                (!ssn.is_empty()).then(|| (date, ssn.to_string()))
            })
            .collect();
        keys.sort();
        keys.dedup();
        keys
    };
    // The world must show that provider status does not matter here: some keys come only
    // from visits of inactive, demo or unknown providers.
    let admitting: Vec<&str> = w
        .providers
        .iter()
        .filter(|p| p.admits())
        .map(|p| p.id.as_str())
        .collect();
    let via_admitting: Vec<(NaiveDate, String)> = w
        .visits
        .iter()
        .filter(|f| f.updated_at.is_some_and(|u| u >= since))
        .filter(|f| {
            f.provider_id
                .as_deref()
                .is_some_and(|p| admitting.contains(&p))
        })
        .filter_map(|f| {
            let date = f.date.filter(|d| window.contains(*d))?;
            let ssn = trim(caregivers.get(f.caregiver_id.as_deref()?)?);
            (!ssn.is_empty()).then(|| (date, ssn.to_string()))
        })
        .collect();
    assert!(
        expected(since).iter().any(|k| !via_admitting.contains(k)),
        "no delta key comes only from a non-admitting provider"
    );

    let mut src = t.source(false);
    for since in [since, since + TimeDelta::microseconds(1)] {
        let mut actual = src.delta_keys(since, &window).expect("read delta keys");
        actual.sort();
        let expected = expected(since);
        assert!(!expected.is_empty());
        assert_eq!(
            actual.len(),
            expected.len(),
            "number of delta keys since {since}"
        );
        assert_eq!(actual, expected, "delta keys since {since}");
    }
}
