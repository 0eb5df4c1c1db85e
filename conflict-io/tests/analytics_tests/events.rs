//! In-service events, PTO absences and the visits of their caregivers (docs/rules.md §13) against
//! the model.

use std::collections::HashSet;

use conflict_core::inservice::EventKind;
use conflict_core::model::trim;
use conflict_core::Visit;

use super::fixture::Loaded;
use crate::support::expected::{assert_same_visits, sorted_events, Expected};

#[test]
fn events_equal_the_model() {
    let t = Loaded::new(61);
    let window = t.window();
    let ex = t.exclusions();
    let model = Expected::new(&t.world);
    let mut src = t.source(false);
    for kind in [EventKind::InService, EventKind::Pto] {
        let expected = sorted_events(model.events(kind, &window, &ex));
        let all = match kind {
            EventKind::InService => t.world.inservice.len(),
            EventKind::Pto => t.world.absences.len(),
        };
        assert!(
            expected.len() > 20 && expected.len() < all,
            "{kind:?}: {} of {all} rows expected",
            expected.len()
        );
        let actual = sorted_events(
            src.events(kind, &window, &ex)
                .unwrap_or_else(|e| panic!("read {kind:?} events: {e}")),
        );
        assert_eq!(actual.len(), expected.len(), "{kind:?}: number of events");
        for (a, e) in actual.iter().zip(&expected) {
            assert_eq!(a, e, "{kind:?} event {}", e.event.source_id);
        }
    }
    // The window edge by the start's UTC date: the last microsecond before it is out, the first
    // and last days are in.
    let inservice = model.events(EventKind::InService, &window, &ex);
    assert!(inservice
        .iter()
        .any(|e| e.event.start.is_some_and(|s| s.date() == window.to)));
    assert!(inservice
        .iter()
        .all(|e| e.event.start.is_some_and(|s| window.contains(s.date()))));
    // The same in-service id in two environments: both rows are delivered.
    let mut ids: Vec<i64> = inservice.iter().map(|e| e.event.source_id).collect();
    let n = ids.len();
    ids.sort_unstable();
    ids.dedup();
    assert!(
        ids.len() < n,
        "no in-service id repeats across environments"
    );
}

#[test]
fn visits_of_ssns_are_every_admitted_visit_of_those_ssns() {
    let t = Loaded::new(62);
    let window = t.window();
    let ex = t.exclusions();
    let admitted = Expected::new(&t.world).visits(&window, &ex);
    // Every fourth person, one SSN nobody has, and a single-agency person: no pre-filter here.
    let mut ssns: Vec<String> = t
        .world
        .people
        .iter()
        .step_by(4)
        .map(|p| p.ssn.clone())
        .collect();
    ssns.push("999999998".into());
    let single = t
        .world
        .people
        .iter()
        .find(|p| p.records.len() == 1)
        .expect("a single-agency person");
    ssns.push(single.ssn.clone());
    let wanted: HashSet<&str> = ssns.iter().map(String::as_str).collect();
    let expected: Vec<Visit> = admitted
        .iter()
        .filter(|v| wanted.contains(trim(v.ssn.as_deref().unwrap_or(""))))
        .cloned()
        .collect();
    assert!(expected.len() > 1_000);
    let actual = t
        .source(true)
        .visits_of_ssns(&window, &ssns, &ex)
        .expect("read visits of SSNs");
    assert_same_visits("visits_of_ssns", actual, expected);
}
