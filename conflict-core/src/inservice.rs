//! InService (and PTO) conflicts (docs/rules.md §13): a caregiver attending a training course, or
//! absent, for one provider while a visit of the same person is worked for another.
//!
//! Unlike regular pairs these are not restricted to one visit date: an event and a visit pair
//! when their intervals overlap inclusively (PTO: on whole dates), in both orders.

use std::collections::HashMap;

use chrono::{NaiveDate, NaiveDateTime};
use md5::{Digest, Md5};
use rayon::prelude::*;

use crate::admit::Admission;
use crate::model::non_blank;
use crate::options::{Exclusions, Window};
use crate::rows::VisitRows;
use crate::stats::Warnings;

pub use crate::event_detection::{detect_events, event_spans, EventDetection, EventSpan};

/// Warning kind for two event rows with one synthetic id.
pub const DUPLICATE_INSERVICE_ID: &str = "duplicate_inservice_id";

/// Which kind of absence an event is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// `factcaregiverinservice`: overlap on timestamps, `InServiceFlag`.
    InService,
    /// `factcaregiverabsence`: overlap on dates, `PTOFlag` (switch `pto`, off by default).
    Pto,
}

impl EventKind {
    fn id_prefix(self) -> &'static str {
        match self {
            EventKind::InService => "I",
            EventKind::Pto => "P",
        }
    }
}

/// One event row as the source delivers it.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// In-service or PTO.
    pub kind: EventKind,
    /// `"Application Caregiver Inservice Id"` or `"Caregiver Vacation Id"`.
    pub source_id: i64,
    /// `"Environment"` (in-service ids repeat across environments); empty for PTO.
    pub environment: String,
    /// The caregiver's id, when the source has one.
    pub caregiver_id: Option<String>,
    /// Raw SSN of the caregiver; trimmed here.
    pub ssn: Option<String>,
    /// The provider the event is at.
    pub provider_id: String,
    /// Start of the event; events without both times are not admitted.
    pub start: Option<NaiveDateTime>,
    /// End of the event.
    pub end: Option<NaiveDateTime>,
}

/// The uuid written as the event's visit id: MD5 of `'I'`/`'P'` followed by the decimal id.
pub fn synthetic_id(kind: EventKind, source_id: i64) -> String {
    let digest = Md5::digest(format!("{}{source_id}", kind.id_prefix()).as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// An admitted event.
#[derive(Debug, Clone, PartialEq)]
pub struct AdmittedEvent {
    /// Position in the input slice.
    pub index: usize,
    /// The synthetic uuid of the event ([`synthetic_id`]).
    pub visit_id: String,
    /// The trimmed SSN.
    pub ssn: String,
    /// Date of the start: the row's `VisitDate`.
    pub visit_date: NaiveDate,
    /// Start of the event.
    pub start: NaiveDateTime,
    /// End of the event.
    pub end: NaiveDateTime,
}

/// Admits events (date of start in the window, trimmed SSN non-blank, provider and SSN not
/// excluded, start and end known) and collapses rows sharing a synthetic id: the earliest start
/// wins, ties go to the smaller environment text.
pub fn admit_events(
    events: &[Event],
    window: &Window,
    ex: &Exclusions,
    warnings: &mut Warnings,
) -> Vec<AdmittedEvent> {
    let mut by_id: HashMap<String, AdmittedEvent> = HashMap::new();
    for (i, e) in events.iter().enumerate() {
        let (Some(start), Some(end)) = (e.start, e.end) else {
            continue;
        };
        let Some(ssn) = non_blank(e.ssn.as_deref()) else {
            continue;
        };
        if !window.contains(start.date())
            || ex.providers.contains(&e.provider_id)
            || ex.ssns.contains(ssn)
        {
            continue;
        }
        let candidate = AdmittedEvent {
            index: i,
            visit_id: synthetic_id(e.kind, e.source_id),
            ssn: ssn.to_string(),
            visit_date: start.date(),
            start,
            end,
        };
        match by_id.get_mut(&candidate.visit_id) {
            None => {
                by_id.insert(candidate.visit_id.clone(), candidate);
            }
            Some(kept) => {
                warnings.add_named(DUPLICATE_INSERVICE_ID, Some(&candidate.visit_id));
                let rank = |a: &AdmittedEvent| (a.start, events[a.index].environment.clone());
                if rank(&candidate) < rank(kept) {
                    *kept = candidate;
                }
            }
        }
    }
    let mut out: Vec<AdmittedEvent> = by_id.into_values().collect();
    out.sort_by(|a, b| a.visit_id.cmp(&b.visit_id));
    out
}

/// Which side of the CVM row the event is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Side {
    /// (visit → event): the event's times go to `ConInserviceStartDate/EndDate`.
    VisitFirst,
    /// (event → visit): the event's times go to `InserviceStartDate/EndDate`.
    EventFirst,
}

/// A detected (visit, event) pair; `visit` indexes the visit slice, `event` the admitted
/// events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct EventPair {
    /// Index of the visit in the visit slice.
    pub visit: usize,
    /// Index of the event among the admitted events.
    pub event: usize,
    /// Which side of the row the event is on.
    pub side: Side,
}

fn overlaps(kind: EventKind, vs: NaiveDateTime, ve: NaiveDateTime, e: &AdmittedEvent) -> bool {
    match kind {
        EventKind::InService => vs <= e.end && ve >= e.start,
        EventKind::Pto => vs.date() <= e.end.date() && ve.date() >= e.start.date(),
    }
}

/// Pairs admitted visits with admitted events of the same SSN at another provider (both
/// orders). Visits take part only when not missed (`is_missed = false`), completed, and not
/// overlapping an event of their own caregiver at their own provider.
pub fn pair_events<R: VisitRows + ?Sized>(
    visits: &R,
    admission: &Admission,
    kind: EventKind,
    events: &[Event],
    admitted_events: &[AdmittedEvent],
) -> Vec<EventPair> {
    let mut by_ssn: HashMap<&str, Vec<usize>> = HashMap::new();
    for (k, e) in admitted_events.iter().enumerate() {
        by_ssn.entry(e.ssn.as_str()).or_default().push(k);
    }
    let mut out: Vec<EventPair> = admission
        .admitted
        .par_iter()
        .flat_map_iter(|a| {
            let v = visits.get(a.index);
            let mut found = Vec::new();
            let (Some(vs), Some(ve)) = (v.visit_start, v.visit_end) else {
                return found;
            };
            if v.is_missed != Some(false) {
                return found;
            }
            let Some(candidates) = by_ssn.get(&*a.ssn) else {
                return found;
            };
            let own_training = candidates.iter().any(|&k| {
                let e = &admitted_events[k];
                let src = &events[e.index];
                src.provider_id == v.provider_id
                    && v.caregiver_id.is_some()
                    && src.caregiver_id.as_deref() == v.caregiver_id
                    && vs <= e.end
                    && ve >= e.start
            });
            if own_training {
                return found;
            }
            for &k in candidates {
                let e = &admitted_events[k];
                if events[e.index].provider_id != v.provider_id && overlaps(kind, vs, ve, e) {
                    for side in [Side::VisitFirst, Side::EventFirst] {
                        found.push(EventPair {
                            visit: a.index,
                            event: k,
                            side,
                        });
                    }
                }
            }
            found
        })
        .collect();
    out.sort_unstable();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admit::admit;
    use crate::model::Visit;

    fn ts(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap()
    }

    fn event(id: i64, env: &str, prov: &str, start: &str, end: &str) -> Event {
        Event {
            kind: EventKind::InService,
            source_id: id,
            environment: env.into(),
            caregiver_id: Some("cg-training".into()),
            ssn: Some(" 123456789 ".into()),
            provider_id: prov.into(),
            start: Some(ts(start)),
            end: Some(ts(end)),
        }
    }

    fn visit(id: &str, prov: &str, start: &str, end: &str) -> Visit {
        let d = ts(start).date();
        Visit {
            visit_start: Some(ts(start)),
            visit_end: Some(ts(end)),
            is_missed: Some(false),
            caregiver_id: Some(format!("cg-{prov}")),
            ..Visit::new(id, "123456789", prov, d)
        }
    }

    fn window() -> Window {
        Window::default_around("2025-06-15".parse().unwrap()).unwrap()
    }

    fn run(visits: &[Visit], events: &[Event]) -> (Vec<AdmittedEvent>, Vec<EventPair>) {
        let ex = Exclusions::default();
        let adm = admit(visits, &window(), &ex).unwrap();
        let mut w = Warnings::default();
        let ev = admit_events(events, &window(), &ex, &mut w);
        let pairs = pair_events(visits, &adm, EventKind::InService, events, &ev);
        (ev, pairs)
    }

    #[test]
    fn synthetic_id_example_of_rules_md() {
        assert_eq!(
            synthetic_id(EventKind::InService, 12345),
            "64d4ac25-38ed-b872-436b-e75dc844b7f6"
        );
    }

    #[test]
    fn inclusive_edges_both_orders_and_no_date_condition() {
        let events = [event(
            1,
            "prod",
            "p-train",
            "2025-06-10 23:00",
            "2025-06-11 01:00",
        )];
        let visits = [
            // Ends exactly when the training starts: inclusive, pairs.
            visit("touch-start", "p-a", "2025-06-10 21:00", "2025-06-10 23:00"),
            // Starts exactly when it ends, on the next date: pairs (no visit-date condition).
            visit("touch-end", "p-b", "2025-06-11 01:00", "2025-06-11 03:00"),
            // One minute after: no.
            visit("after", "p-c", "2025-06-11 01:01", "2025-06-11 03:00"),
            // Same provider as the training: never.
            visit(
                "same-provider",
                "p-train",
                "2025-06-10 22:00",
                "2025-06-10 23:30",
            ),
        ];
        let (ev, pairs) = run(&visits, &events);
        assert_eq!(ev.len(), 1);
        let got: Vec<(&str, Side)> = pairs
            .iter()
            .map(|p| (visits[p.visit].visit_id.as_str(), p.side))
            .collect();
        assert_eq!(
            got,
            [
                ("touch-start", Side::VisitFirst),
                ("touch-start", Side::EventFirst),
                ("touch-end", Side::VisitFirst),
                ("touch-end", Side::EventFirst),
            ]
        );
    }

    #[test]
    fn visit_side_restrictions() {
        let mut own = event(2, "prod", "p-a", "2025-06-10 08:00", "2025-06-10 09:00");
        own.caregiver_id = Some("cg-p-a".into());
        let other = event(3, "prod", "p-b", "2025-06-10 08:00", "2025-06-10 12:00");
        let mut missed = visit("missed", "p-c", "2025-06-10 10:00", "2025-06-10 11:00");
        missed.is_missed = Some(true);
        let mut unknown = visit("missed-null", "p-c", "2025-06-10 10:00", "2025-06-10 11:00");
        unknown.is_missed = None;
        let mut half = visit("half", "p-c", "2025-06-10 10:00", "2025-06-10 11:00");
        half.visit_end = None;
        let visits = [
            missed,
            unknown,
            half,
            // Its caregiver attends a training of its own provider at that time.
            visit(
                "in-own-training",
                "p-a",
                "2025-06-10 08:30",
                "2025-06-10 10:00",
            ),
            visit("ok", "p-c", "2025-06-10 10:00", "2025-06-10 11:00"),
        ];
        let (ev, pairs) = run(&visits, &[own, other]);
        let ids: Vec<&str> = pairs
            .iter()
            .map(|p| visits[p.visit].visit_id.as_str())
            .collect();
        assert_eq!(ids, ["ok", "ok"]);
        assert_eq!(
            ev[pairs[0].event].visit_id,
            synthetic_id(EventKind::InService, 3)
        );
    }

    #[test]
    fn duplicate_ids_keep_the_earliest_start_then_the_smaller_environment() {
        let events = [
            event(7, "zeta", "p", "2025-06-10 09:00", "2025-06-10 10:00"),
            event(7, "beta", "p", "2025-06-10 09:00", "2025-06-10 11:00"),
            event(7, "alpha", "p", "2025-06-10 09:30", "2025-06-10 10:00"),
        ];
        let mut w = Warnings::default();
        let ev = admit_events(&events, &window(), &Exclusions::default(), &mut w);
        assert_eq!(ev.len(), 1);
        assert_eq!(events[ev[0].index].environment, "beta");
        assert_eq!(w.count_named(DUPLICATE_INSERVICE_ID), 2);
    }

    #[test]
    fn event_admission() {
        let mut no_end = event(1, "e", "p", "2025-06-10 09:00", "2025-06-10 10:00");
        no_end.end = None;
        let mut blank = event(2, "e", "p", "2025-06-10 09:00", "2025-06-10 10:00");
        blank.ssn = Some("  ".into());
        let outside = event(3, "e", "p", "2020-06-10 09:00", "2020-06-10 10:00");
        let excluded = event(4, "e", "bad", "2025-06-10 09:00", "2025-06-10 10:00");
        let ok = event(5, "e", "p", "2025-06-10 09:00", "2025-06-10 10:00");
        let mut ex = Exclusions::default();
        ex.providers.insert("bad".into());
        let mut w = Warnings::default();
        let ev = admit_events(
            &[no_end, blank, outside, excluded, ok],
            &window(),
            &ex,
            &mut w,
        );
        assert_eq!(ev.len(), 1);
        assert_eq!(ev[0].ssn, "123456789");
        assert_eq!(ev[0].visit_date.to_string(), "2025-06-10");
    }

    #[test]
    fn pto_overlaps_on_dates() {
        let mut pto = event(9, "", "p-x", "2025-06-12 00:00", "2025-06-12 00:00");
        pto.kind = EventKind::Pto;
        let visits = [
            visit(
                "day-before-overnight",
                "p-a",
                "2025-06-11 22:00",
                "2025-06-12 02:00",
            ),
            visit("day-after", "p-a", "2025-06-13 08:00", "2025-06-13 09:00"),
        ];
        let ex = Exclusions::default();
        let adm = admit(&visits, &window(), &ex).unwrap();
        let mut w = Warnings::default();
        let ev = admit_events(&[pto.clone()], &window(), &ex, &mut w);
        assert_eq!(ev[0].visit_id, synthetic_id(EventKind::Pto, 9));
        let pairs = pair_events(&visits, &adm, EventKind::Pto, &[pto], &ev);
        assert_eq!(pairs.len(), 2);
        assert!(pairs.iter().all(|p| p.visit == 0));
    }
}
