//! Property test: InService/PTO pairing equals a naive all-pairs reading of docs/rules.md §13.

use chrono::{NaiveDate, NaiveDateTime};
use conflict_core::admit::admit;
use conflict_core::inservice::{admit_events, pair_events, Event, EventKind, Side};
use conflict_core::{Exclusions, Visit, Warnings, Window};
use proptest::prelude::*;

fn base() -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2025, 6, 10)
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap()
}

/// Times on a half-hour grid over three days, so equal and touching ends are common.
fn at(slot: u32) -> NaiveDateTime {
    base() + chrono::Duration::minutes(30 * i64::from(slot))
}

prop_compose! {
    fn visit_strategy(i: usize)(
        ssn in prop::sample::select(vec!["111", " 111", "222", "  "]),
        prov in 0..3u8,
        cg in prop::option::of(0..3u8),
        start in prop::option::of(0..140u32),
        len in 0..12u32,
        missed in prop::option::of(any::<bool>()),
    ) -> Visit {
        let s = start.map(at);
        Visit {
            visit_start: s,
            visit_end: s.map(|s| s + chrono::Duration::minutes(30 * i64::from(len))),
            is_missed: missed,
            caregiver_id: cg.map(|c| format!("cg{c}")),
            ..Visit::new(format!("v{i:03}"), ssn, format!("p{prov}"), s.map_or(base().date(), |t| t.date()))
        }
    }
}

prop_compose! {
    fn event_strategy(kind: EventKind)(
        id in 0..6i64,
        env in prop::sample::select(vec!["a", "b"]),
        ssn in prop::sample::select(vec!["111", "222 ", ""]),
        prov in 0..3u8,
        cg in 0..3u8,
        start in 0..140u32,
        len in 0..12u32,
    ) -> Event {
        Event {
            kind,
            source_id: id,
            environment: env.into(),
            caregiver_id: Some(format!("cg{cg}")),
            ssn: Some(ssn.into()),
            provider_id: format!("p{prov}"),
            start: Some(at(start)),
            end: Some(at(start + len)),
        }
    }
}

fn naive(visits: &[Visit], events: &[Event], kind: EventKind) -> Vec<(String, String, Side)> {
    let window = Window::default_around("2025-06-15".parse().unwrap()).unwrap();
    let ex = Exclusions::default();
    let mut w = Warnings::default();
    let admitted = admit_events(events, &window, &ex, &mut w);
    let adm = admit(visits, &window, &ex).unwrap();
    let mut out = Vec::new();
    for a in &adm.admitted {
        let v = &visits[a.index];
        let (Some(vs), Some(ve)) = (v.visit_start, v.visit_end) else {
            continue;
        };
        if v.is_missed != Some(false) {
            continue;
        }
        let blocked = admitted.iter().any(|e| {
            let src = &events[e.index];
            e.ssn == a.ssn
                && src.provider_id == v.provider_id
                && v.caregiver_id.is_some()
                && src.caregiver_id == v.caregiver_id
                && vs <= e.end
                && ve >= e.start
        });
        if blocked {
            continue;
        }
        for e in &admitted {
            let src = &events[e.index];
            let overlap = match kind {
                EventKind::InService => vs <= e.end && ve >= e.start,
                EventKind::Pto => vs.date() <= e.end.date() && ve.date() >= e.start.date(),
            };
            if e.ssn == a.ssn && src.provider_id != v.provider_id && overlap {
                out.push((v.visit_id.clone(), e.visit_id.clone(), Side::VisitFirst));
                out.push((v.visit_id.clone(), e.visit_id.clone(), Side::EventFirst));
            }
        }
    }
    out.sort();
    out
}

fn fast(visits: &[Visit], events: &[Event], kind: EventKind) -> Vec<(String, String, Side)> {
    let window = Window::default_around("2025-06-15".parse().unwrap()).unwrap();
    let ex = Exclusions::default();
    let mut w = Warnings::default();
    let admitted = admit_events(events, &window, &ex, &mut w);
    let adm = admit(visits, &window, &ex).unwrap();
    let mut out: Vec<_> = pair_events(visits, &adm, kind, events, &admitted)
        .into_iter()
        .map(|p| {
            (
                visits[p.visit].visit_id.clone(),
                admitted[p.event].visit_id.clone(),
                p.side,
            )
        })
        .collect();
    out.sort();
    out
}

fn visits() -> impl Strategy<Value = Vec<Visit>> {
    (0..25usize).prop_flat_map(|n| (0..n).map(visit_strategy).collect::<Vec<_>>())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn inservice_pairing_equals_naive(
        visits in visits(),
        events in prop::collection::vec(event_strategy(EventKind::InService), 0..10),
    ) {
        prop_assert_eq!(fast(&visits, &events, EventKind::InService), naive(&visits, &events, EventKind::InService));
    }

    #[test]
    fn pto_pairing_equals_naive(
        visits in visits(),
        events in prop::collection::vec(event_strategy(EventKind::Pto), 0..10),
    ) {
        prop_assert_eq!(fast(&visits, &events, EventKind::Pto), naive(&visits, &events, EventKind::Pto));
    }
}
