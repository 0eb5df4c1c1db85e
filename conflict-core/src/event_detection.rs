//! In-service (and PTO) detection in one call, so that `conflicts detect` and the run's event
//! step admit and pair the same way (docs/rules.md, InService).

use chrono::NaiveDateTime;

use crate::admit::{admit, Admission, DuplicateId};
use crate::inservice::{admit_events, pair_events, AdmittedEvent, Event, EventKind, EventPair};
use crate::options::{Exclusions, Window};
use crate::rows::VisitRows;
use crate::stats::Warnings;

/// What [`detect_events`] found; the indexes of `pairs` point into the visit slice and into
/// `admitted_events`.
#[derive(Debug, Clone)]
pub struct EventDetection {
    /// The events that take part, one per synthetic id.
    pub admitted_events: Vec<AdmittedEvent>,
    /// The visits' admission (the writers need the admitted set and its statistics).
    pub admission: Admission,
    /// The (visit, event) pairs, both orders.
    pub pairs: Vec<EventPair>,
    /// What admitting the events dropped or noticed.
    pub warnings: Warnings,
}

/// Admits the events and the visits, then pairs them.
///
/// # Errors
/// The visits carry one id for two different records: the input is wrong, nothing is paired.
pub fn detect_events<R: VisitRows + ?Sized>(
    visits: &R,
    events: &[Event],
    kind: EventKind,
    window: &Window,
    exclusions: &Exclusions,
) -> Result<EventDetection, Vec<DuplicateId>> {
    let mut warnings = Warnings::default();
    let admitted_events = admit_events(events, window, exclusions, &mut warnings);
    let admission = admit(visits, window, exclusions)?;
    let pairs = pair_events(visits, &admission, kind, events, &admitted_events);
    Ok(EventDetection {
        admitted_events,
        admission,
        pairs,
        warnings,
    })
}

/// When and whose one event that takes part is: a visit can pair with it (or be kept out by it,
/// as its own caregiver's training at its own provider) only if it is a visit of `ssn` whose
/// interval meets `start..=end` (PTO: on whole dates).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EventSpan {
    /// The trimmed SSN of the event.
    pub ssn: String,
    /// Start of the event.
    pub start: NaiveDateTime,
    /// End of the event.
    pub end: NaiveDateTime,
}

/// The spans of the events that take part, sorted and without repeats: the visits a source
/// must fetch before [`detect_events`] can pair them are those of these SSNs that meet one of
/// these spans. Every visit that can pair meets the span of the event it pairs with, so
/// reading only those loses nothing, and most of a caregiver's visits are nowhere near an
/// event.
pub fn event_spans(events: &[Event], window: &Window, exclusions: &Exclusions) -> Vec<EventSpan> {
    // The warnings are those `detect_events` reports again; here they would be counted twice.
    let mut ignored = Warnings::default();
    let mut spans: Vec<EventSpan> = admit_events(events, window, exclusions, &mut ignored)
        .into_iter()
        .map(|e| EventSpan {
            ssn: e.ssn,
            start: e.start,
            end: e.end,
        })
        .collect();
    spans.sort_unstable();
    spans.dedup();
    spans
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDateTime;

    use super::*;
    use crate::inservice::Side;
    use crate::model::Visit;

    fn ts(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap()
    }

    fn training(id: i64, ssn: &str, start: &str, end: &str) -> Event {
        Event {
            kind: EventKind::InService,
            source_id: id,
            environment: "prod".into(),
            caregiver_id: Some("cg-training".into()),
            ssn: Some(ssn.into()),
            provider_id: "p-train".into(),
            start: Some(ts(start)),
            end: Some(ts(end)),
        }
    }

    fn visit(id: &str, ssn: &str, prov: &str, start: &str, end: &str) -> Visit {
        Visit {
            visit_start: Some(ts(start)),
            visit_end: Some(ts(end)),
            is_missed: Some(false),
            caregiver_id: Some(format!("cg-{prov}")),
            ..Visit::new(id, ssn, prov, ts(start).date())
        }
    }

    fn window() -> Window {
        Window::default_around("2025-06-15".parse().unwrap()).unwrap()
    }

    /// docs/rules.md: a visit of the same SSN at another provider that overlaps the training pairs
    /// with it in both orders; a visit at the training's own provider, or of another SSN, or
    /// outside its times, does not.
    #[test]
    fn pairs_overlapping_visits_of_the_same_caregiver_at_other_providers() {
        let events = [training(7, " 111 ", "2025-06-10 10:00", "2025-06-10 12:00")];
        let visits = [
            visit(
                "overlaps",
                "111",
                "p-a",
                "2025-06-10 11:00",
                "2025-06-10 13:00",
            ),
            visit(
                "own-provider",
                "111",
                "p-train",
                "2025-06-10 11:00",
                "2025-06-10 13:00",
            ),
            visit(
                "other-ssn",
                "222",
                "p-a",
                "2025-06-10 11:00",
                "2025-06-10 13:00",
            ),
            visit(
                "later",
                "111",
                "p-b",
                "2025-06-10 12:01",
                "2025-06-10 14:00",
            ),
        ];
        let ex = Exclusions::default();
        let found = detect_events(&visits, &events, EventKind::InService, &window(), &ex).unwrap();
        assert_eq!(found.admitted_events.len(), 1);
        assert_eq!(found.admitted_events[0].ssn, "111");
        let mut pairs: Vec<(usize, usize, Side)> = found
            .pairs
            .iter()
            .map(|p| (p.visit, p.event, p.side))
            .collect();
        pairs.sort();
        assert_eq!(pairs, [(0, 0, Side::VisitFirst), (0, 0, Side::EventFirst)]);
        assert_eq!(
            event_spans(&events, &window(), &ex),
            [EventSpan {
                ssn: "111".into(),
                start: ts("2025-06-10 10:00"),
                end: ts("2025-06-10 12:00"),
            }]
        );
    }

    #[test]
    fn two_records_under_one_visit_id_are_refused() {
        let events = [training(7, "111", "2025-06-10 10:00", "2025-06-10 12:00")];
        let visits = [
            visit("v", "111", "p-a", "2025-06-10 11:00", "2025-06-10 13:00"),
            visit("v", "111", "p-b", "2025-06-10 11:00", "2025-06-10 13:00"),
        ];
        let ex = Exclusions::default();
        let err =
            detect_events(&visits, &events, EventKind::InService, &window(), &ex).unwrap_err();
        assert_eq!(err[0].visit_id, "v");
    }
}
