//! Base visits of `Scope::Window` read over psqlODBC against the model of docs/tables.md §9.

use std::collections::HashSet;

use chrono::Days;
use conflict_core::model::trim;
use conflict_core::{Exclusions, Visit};
use conflict_io::scope::Scope;

use super::fixture::Loaded;
use crate::support::expected::{assert_same_visits, prefilter, Expected};

fn ids(visits: &[Visit]) -> HashSet<&str> {
    visits.iter().map(|v| v.visit_id.as_str()).collect()
}

#[test]
fn window_visits_equal_the_model_field_by_field() {
    let t = Loaded::new(11);
    let window = t.window();
    let ex = t.exclusions();
    let mut src = t.default_source(false);
    let actual = src
        .visits(&t.scope(Scope::Window), &ex)
        .expect("read base visits");
    let model = Expected::new(&t.world);
    let expected = model.visits(&window, &ex);

    // The world must really exercise what this test claims to check.
    let all_ids: HashSet<&str> = t.world.visits.iter().map(|f| f.id.as_str()).collect();
    assert!(expected.len() > 7_000, "{} expected visits", expected.len());
    assert!(
        expected.len() < all_ids.len(),
        "some fact rows must be dropped"
    );
    let has = |p: &dyn Fn(&Visit) -> bool| expected.iter().any(p);
    assert!(has(&|v| v.visit_date == window.from));
    assert!(has(&|v| v.visit_date == window.to));
    assert!(has(&|v| v.address_lat.is_some() && v.address_lon.is_some()));
    assert!(has(&|v| v.address_lat.is_some() && v.address_lon.is_none()));
    assert!(has(&|v| v.address_lat == Some(1e-7)));
    assert!(has(&|v| v.ssn.as_deref().is_some_and(|s| s != trim(s))));
    assert!(has(&|v| v.ssn.as_deref() == Some("\x0b")));
    assert!(has(&|v| v.ssn.as_deref() == Some("000-00-0000")));
    assert!(has(&|v| v.call_out_gps.as_deref() == Some("")));
    assert!(has(&|v| v
        .call_in_gps
        .as_deref()
        .is_some_and(|g| g.chars().count() == 100)));
    assert!(has(&|v| v.sch_start.is_some() && v.sch_end.is_none()));
    assert!(has(&|v| v.visit_start.is_some() && v.visit_end.is_none()));
    assert!(has(&|v| v
        .updated_at
        .is_some_and(|t| t.and_utc().timestamp_subsec_micros() != 0)));
    assert!(has(&|v| v.provider_state.as_deref() == Some("")));
    assert!(has(&|v| v
        .app_visit_id
        .is_some_and(|id| id > i64::from(u32::MAX))));

    assert_same_visits("Scope::Window, pre-filter off", actual.clone(), expected);

    // Spot checks that do not depend on the model.
    let got = ids(&actual);
    let edge: Vec<_> = t
        .world
        .visits
        .iter()
        .filter(|f| {
            f.date
                .is_some_and(|d| d == window.from - Days::new(1) || d == window.to + Days::new(1))
        })
        .collect();
    assert!(!edge.is_empty());
    assert!(
        edge.iter().all(|f| !got.contains(f.id.as_str())),
        "a visit just outside the window was fetched"
    );
    let excluded: HashSet<String> = ex.providers.iter().map(|p| p.to_lowercase()).collect();
    assert!(t
        .world
        .visits
        .iter()
        .any(|f| f.provider_id.as_ref().is_some_and(|p| excluded.contains(p))));
    assert!(actual.iter().all(|v| !excluded.contains(&v.provider_id)));
    assert!(actual
        .iter()
        .all(|v| !trim(v.ssn.as_deref().unwrap_or("")).is_empty()));
    assert!(actual
        .iter()
        .all(|v| !ex.ssns.contains(trim(v.ssn.as_deref().unwrap()))));
    for (i, p) in t.world.providers.iter().enumerate().take(4) {
        assert!(!p.admits(), "provider {i} is a non-admitting one");
        assert!(actual.iter().all(|v| v.provider_id != p.id));
    }
}

#[test]
fn without_exclusions_every_joined_visit_of_the_window_is_read() {
    let t = Loaded::new(12);
    let ex = Exclusions::default();
    let actual = t
        .source(false)
        .visits(&t.scope(Scope::Window), &ex)
        .expect("read base visits");
    let expected = Expected::new(&t.world).visits(&t.window(), &ex);
    assert_same_visits("Scope::Window, no exclusions", actual, expected);
}

#[test]
fn prefilter_keeps_exactly_the_groups_with_two_providers() {
    let t = Loaded::new(13);
    let window = t.window();
    let ex = t.exclusions();
    let model = Expected::new(&t.world);
    let admitted = model.visits(&window, &ex);
    let expected = prefilter(&admitted);

    let actual = t
        .source(true)
        .visits(&t.scope(Scope::Window), &ex)
        .expect("read base visits with the pre-filter");
    let removed = admitted.len() - actual.len();
    eprintln!(
        "pre-filter: {} admitted visits, {} kept, {removed} removed ({:.1} %)",
        admitted.len(),
        actual.len(),
        100.0 * removed as f64 / admitted.len() as f64
    );
    assert!(!expected.is_empty() && expected.len() < admitted.len() / 2);

    // Groups count providers among *admitted* visits: a group whose second provider is
    // excluded is single-provider and must go. The world must contain such a group.
    let unexcluded = prefilter(&model.visits(&window, &Exclusions::default()));
    let kept = ids(&expected);
    let admitted_ids = ids(&admitted);
    let only_without_exclusions = unexcluded
        .iter()
        .filter(|v| !kept.contains(v.visit_id.as_str()))
        .filter(|v| admitted_ids.contains(v.visit_id.as_str()))
        .count();
    assert!(
        only_without_exclusions > 0,
        "no group lost its second provider to an exclusion"
    );

    assert_same_visits("Scope::Window, pre-filter on", actual, expected);
}
