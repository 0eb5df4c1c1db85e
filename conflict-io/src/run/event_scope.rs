//! Which caregivers an event step re-derives (docs/lifecycle.md §7.1).
//!
//! InService (and PTO) rows are matched by pair key among rows of their kind and are never
//! resolved as stale, and every pair lies within one trimmed SSN. So re-deriving the rows of
//! one SSN writes exactly what a full step writes for it, and re-deriving nothing for an SSN
//! whose inputs did not change since the last committed step writes what a full step would:
//! nothing. The inputs of an SSN are its visits in the window (a changed visit makes a delta
//! key) and its events. The event tables carry no update timestamp, so the store keeps a digest
//! of each SSN's events as the last step read them; an SSN is re-derived when its digest
//! differs or one of its visits changed.
//!
//! Rows sharing a source id collapse into one event whose SSN is the winner's (docs/rules.md
//! §13), so an SSN's digest covers every event that shares a source id with one of its
//! events: a change to a twin in another SSN changes both SSNs' digests.

use std::collections::{BTreeSet, HashMap, HashSet};

use conflict_core::inservice::EventKind;
use conflict_core::model::non_blank;
use conflict_core::Exclusions;
use md5::{Digest as _, Md5};

use crate::details::SourcedEvent;

/// The digest of one SSN's event inputs (MD5: a change detector, not a security measure).
pub type Digest = [u8; 16];

/// What an event step records for the next incremental run, in the step's own transaction
/// (so a rolled-back or dry-run step records nothing).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DigestUpdate {
    /// A full step: every digest of the kind is replaced by `set`.
    pub replace_all: bool,
    /// The digests of the SSNs the step re-derived (a full step: of every SSN with events).
    pub set: Vec<(String, Digest)>,
    /// SSNs that have no events in the window any more: nothing to derive, only forget.
    pub remove: Vec<String>,
}

impl DigestUpdate {
    /// True when there is nothing to record.
    pub fn is_empty(&self) -> bool {
        !self.replace_all && self.set.is_empty() && self.remove.is_empty()
    }
}

/// The part of the events an event step works on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventScope {
    /// Every SSN is re-derived (a full run, or no bookkeeping yet).
    pub full: bool,
    /// Indexes (ascending) of the events read that the step pairs: all events of the
    /// re-derived SSNs and of their twins.
    pub events: Vec<usize>,
    /// SSNs with events that are re-derived, and that are left alone.
    pub ssns_rederived: u64,
    /// SSNs with events whose inputs did not change.
    pub ssns_skipped: u64,
    /// What the step records.
    pub update: DigestUpdate,
}

/// Plans an event step. `changed_visit_ssns` is `None` for a full step, else the trimmed SSNs
/// of the run's delta keys; `stored` is the bookkeeping of the last committed step of `kind`
/// (empty: none yet, so the step is full).
pub fn plan_event_scope(
    kind: EventKind,
    events: &[SourcedEvent],
    ex: &Exclusions,
    stored: &HashMap<String, Digest>,
    changed_visit_ssns: Option<&HashSet<String>>,
) -> EventScope {
    // Events without an SSN never take part (and never collapse with others).
    let mut groups: HashMap<i64, Vec<usize>> = HashMap::new();
    let mut ids_of_ssn: HashMap<&str, BTreeSet<i64>> = HashMap::new();
    for (i, e) in events.iter().enumerate() {
        if let Some(ssn) = non_blank(e.event.ssn.as_deref()) {
            groups.entry(e.event.source_id).or_default().push(i);
            ids_of_ssn.entry(ssn).or_default().insert(e.event.source_id);
        }
    }
    let context = context_bytes(kind, ex);
    let digests: HashMap<&str, Digest> = ids_of_ssn
        .iter()
        .map(|(ssn, ids)| (*ssn, digest(&context, ids, &groups, events)))
        .collect();

    let full = changed_visit_ssns.is_none() || stored.is_empty();
    let changed = |ssn: &str, d: &Digest| {
        full || stored.get(ssn) != Some(d) || changed_visit_ssns.is_some_and(|c| c.contains(ssn))
    };
    let mut affected: Vec<(&str, Digest)> = digests
        .iter()
        .filter(|(s, d)| changed(s, d))
        .map(|(s, d)| (*s, *d))
        .collect();
    affected.sort_unstable();

    let ids: BTreeSet<i64> = affected
        .iter()
        .flat_map(|(s, _)| ids_of_ssn[s].iter().copied())
        .collect();
    let mut selected: Vec<usize> = ids.iter().flat_map(|id| groups[id].clone()).collect();
    selected.sort_unstable();

    let mut remove: Vec<String> = if full {
        Vec::new()
    } else {
        stored
            .keys()
            .filter(|s| !digests.contains_key(s.as_str()))
            .cloned()
            .collect()
    };
    remove.sort_unstable();
    EventScope {
        full,
        events: selected,
        ssns_rederived: affected.len() as u64,
        ssns_skipped: (digests.len() - affected.len()) as u64,
        update: DigestUpdate {
            replace_all: full,
            set: affected
                .into_iter()
                .map(|(s, d)| (s.to_string(), d))
                .collect(),
            remove,
        },
    }
}

/// What every SSN's digest depends on besides its events: the kind and the exclusion lists
/// (changing them changes every digest, so the next step re-derives everything). The window
/// is not part of it: it moves every day, and events entering or leaving it change the event
/// set of their SSN anyway.
fn context_bytes(kind: EventKind, ex: &Exclusions) -> Vec<u8> {
    fn sorted(s: &HashSet<String>) -> Vec<&String> {
        let mut v: Vec<&String> = s.iter().collect();
        v.sort_unstable();
        v
    }
    let text = format!(
        "{kind:?}{:?}{:?}{:?}",
        sorted(&ex.providers),
        sorted(&ex.ssns),
        sorted(&ex.placeholder_ssns)
    );
    text.into_bytes()
}

/// MD5 of the context and of every event of the given source ids, in a fixed order. Each
/// event is written as the `Debug` text of its fields (quoted and escaped, so unambiguous);
/// should that text ever change with the compiler, the digests differ once and the next step
/// re-derives everything — a change is never missed.
fn digest(
    context: &[u8],
    ids: &BTreeSet<i64>,
    groups: &HashMap<i64, Vec<usize>>,
    events: &[SourcedEvent],
) -> Digest {
    let mut texts: Vec<String> = ids
        .iter()
        .flat_map(|id| groups[id].iter())
        .map(|&i| {
            let (e, d) = (&events[i].event, &events[i].details);
            format!(
                "{:?}",
                (
                    e.source_id,
                    &e.environment,
                    &e.caregiver_id,
                    &e.ssn,
                    &e.provider_id,
                    e.start,
                    e.end,
                    &d.values
                )
            )
        })
        .collect();
    texts.sort_unstable();
    let mut h = Md5::new();
    h.update((context.len() as u64).to_le_bytes());
    h.update(context);
    for t in &texts {
        h.update((t.len() as u64).to_le_bytes());
        h.update(t.as_bytes());
    }
    h.finalize().into()
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDateTime;
    use conflict_core::inservice::Event;

    use super::*;
    use crate::details::VisitDetails;

    fn ts(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap()
    }

    fn ev(id: i64, env: &str, ssn: &str, start: &str) -> SourcedEvent {
        SourcedEvent {
            event: Event {
                kind: EventKind::InService,
                source_id: id,
                environment: env.into(),
                caregiver_id: None,
                ssn: Some(ssn.into()),
                provider_id: "p".into(),
                start: Some(ts(start)),
                end: Some(ts(start) + chrono::Duration::hours(1)),
            },
            details: VisitDetails::empty(),
        }
    }

    fn world() -> Vec<SourcedEvent> {
        vec![
            ev(1, "prod", " 111 ", "2025-06-10 10:00"),
            ev(2, "prod", "222", "2025-06-11 10:00"),
            // Source id 3 in two environments, of two SSNs: twins.
            ev(3, "prod", "333", "2025-06-12 10:00"),
            ev(3, "legacy", "444", "2025-06-12 09:00"),
            ev(5, "prod", "  ", "2025-06-12 09:00"),
        ]
    }

    fn stored_after_full(events: &[SourcedEvent]) -> HashMap<String, Digest> {
        let s = plan_event_scope(
            EventKind::InService,
            events,
            &Exclusions::default(),
            &HashMap::new(),
            None,
        );
        assert!(s.full && s.update.replace_all);
        s.update.set.into_iter().collect()
    }

    fn incremental(
        events: &[SourcedEvent],
        stored: &HashMap<String, Digest>,
        changed: &[&str],
    ) -> EventScope {
        let changed: HashSet<String> = changed.iter().map(|s| s.to_string()).collect();
        plan_event_scope(
            EventKind::InService,
            events,
            &Exclusions::default(),
            stored,
            Some(&changed),
        )
    }

    #[test]
    fn a_full_step_takes_every_event_and_records_every_ssn() {
        let events = world();
        let s = plan_event_scope(
            EventKind::InService,
            &events,
            &Exclusions::default(),
            &HashMap::new(),
            None,
        );
        // The blank-SSN event belongs to no SSN and never takes part.
        assert_eq!(s.events, [0, 1, 2, 3]);
        let ssns: Vec<&str> = s.update.set.iter().map(|(s, _)| s.as_str()).collect();
        assert_eq!(ssns, ["111", "222", "333", "444"]);
        assert_eq!((s.ssns_rederived, s.ssns_skipped), (4, 0));
    }

    #[test]
    fn nothing_changed_means_nothing_to_derive_or_record() {
        let events = world();
        let stored = stored_after_full(&events);
        let s = incremental(&events, &stored, &[]);
        assert!(!s.full);
        assert!(s.events.is_empty());
        assert!(s.update.is_empty());
        assert_eq!((s.ssns_rederived, s.ssns_skipped), (0, 4));
        // A delta key of an SSN without events derives nothing either.
        assert!(incremental(&events, &stored, &["999"]).events.is_empty());
    }

    #[test]
    fn empty_bookkeeping_makes_an_incremental_step_full() {
        let events = world();
        let s = incremental(&events, &HashMap::new(), &[]);
        assert!(s.full && s.update.replace_all);
        assert_eq!(s.events, [0, 1, 2, 3]);
    }

    #[test]
    fn a_changed_event_or_visit_re_derives_its_ssn_only() {
        let events = world();
        let stored = stored_after_full(&events);
        let mut moved = events.clone();
        moved[1].event.end = Some(ts("2025-06-11 12:00"));
        let s = incremental(&moved, &stored, &[]);
        assert_eq!(s.events, [1]);
        assert_eq!(s.update.set.len(), 1);
        assert_eq!(s.update.set[0].0, "222");
        assert_ne!(s.update.set[0].1, stored["222"]);

        // A changed visit of SSN 111 (a delta key): its events, same digest.
        let s = incremental(&events, &stored, &["111"]);
        assert_eq!(s.events, [0]);
        assert_eq!(s.update.set, [("111".to_string(), stored["111"])]);

        // A new event of a new SSN.
        let mut added = events.clone();
        added.push(ev(9, "prod", "999", "2025-06-13 10:00"));
        assert_eq!(incremental(&added, &stored, &[]).events, [5]);
    }

    #[test]
    fn twins_re_derive_together_and_gone_ssns_are_forgotten() {
        let events = world();
        let stored = stored_after_full(&events);
        // The legacy twin (SSN 444) changes: both SSNs sharing source id 3 are re-derived.
        let mut t = events.clone();
        t[3].event.start = Some(ts("2025-06-12 11:00"));
        let s = incremental(&t, &stored, &[]);
        assert_eq!(s.events, [2, 3]);
        assert_eq!(s.ssns_rederived, 2);

        // SSN 222's only event is gone: nothing to pair, its digest is removed.
        let gone: Vec<SourcedEvent> = events
            .iter()
            .filter(|e| e.event.source_id != 2)
            .cloned()
            .collect();
        let s = incremental(&gone, &stored, &[]);
        assert!(s.events.is_empty());
        assert_eq!(s.update.remove, ["222"]);
    }

    #[test]
    fn changed_exclusions_re_derive_everything() {
        let events = world();
        let stored = stored_after_full(&events);
        let mut ex = Exclusions::default();
        ex.providers.insert("p-x".into());
        let changed = HashSet::new();
        let s = plan_event_scope(EventKind::InService, &events, &ex, &stored, Some(&changed));
        assert_eq!(s.events, [0, 1, 2, 3]);
        assert_eq!(s.ssns_rederived, 4);
    }
}
