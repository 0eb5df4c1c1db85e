//! In-service events, PTO absences and the visits that may meet them (docs/rules.md §13) against
//! the model.

use std::collections::HashSet;

use chrono::TimeDelta;
use conflict_core::inservice::{EventKind, EventSpan};
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

/// The contract of `visits_near_events` (docs/lifecycle.md §7), written out independently of the
/// SQL: an admitted visit of a span's SSN whose interval meets the span widened by a day.
fn meets(v: &Visit, spans: &[EventSpan]) -> bool {
    let day = TimeDelta::days(1);
    let ssn = trim(v.ssn.as_deref().unwrap_or(""));
    let (Some(vs), Some(ve)) = (v.visit_start, v.visit_end) else {
        return false;
    };
    spans
        .iter()
        .any(|s| s.ssn == ssn && vs <= s.end + day && ve >= s.start - day)
}

#[test]
fn visits_near_events_are_the_admitted_visits_that_meet_a_widened_span() {
    let t = Loaded::new(62);
    let window = t.window();
    let ex = t.exclusions();
    let admitted = Expected::new(&t.world).visits(&window, &ex);
    let timed: Vec<&Visit> = admitted
        .iter()
        .filter(|v| v.visit_start.is_some() && v.visit_end.is_some())
        .collect();
    let second = TimeDelta::seconds(1);
    let day = TimeDelta::days(1);
    let mut spans = Vec::new();
    let mut edge_in = Vec::new();
    // Spans at the edges of every 97th timed visit: one starting exactly a day after the
    // visit ends (the margin: in), one ending a day and a second before it starts (out, unless
    // another visit of that caregiver meets it).
    for (k, v) in timed.iter().step_by(97).enumerate() {
        let ssn = trim(v.ssn.as_deref().unwrap_or("")).to_string();
        let (vs, ve) = (v.visit_start.unwrap(), v.visit_end.unwrap());
        let span = if k % 2 == 0 {
            edge_in.push(v.visit_id.clone());
            EventSpan {
                ssn,
                start: ve + day,
                end: ve + day + TimeDelta::hours(2),
            }
        } else {
            EventSpan {
                ssn,
                start: vs - day - TimeDelta::hours(3),
                end: vs - day - second,
            }
        };
        spans.push(span);
    }
    spans.push(EventSpan {
        ssn: "999999998".into(),
        start: timed[0].visit_start.unwrap(),
        end: timed[0].visit_end.unwrap(),
    });
    let expected: Vec<Visit> = admitted
        .iter()
        .filter(|v| meets(v, &spans))
        .cloned()
        .collect();
    let ids: HashSet<&str> = expected.iter().map(|v| v.visit_id.as_str()).collect();
    assert!(edge_in.iter().all(|id| ids.contains(id.as_str())));
    assert!(expected.len() >= edge_in.len() && expected.len() < admitted.len() / 20);
    let actual = t
        .source(true)
        .visits_near_events(&window, &spans, &ex)
        .expect("read visits near events");
    assert_same_visits("visits_near_events", actual, expected);
}
