//! Admission of visits (rules.md §3): de-duplication, window, SSN and exclusion checks, and
//! location resolution for every admitted visit.

use std::collections::HashMap;

use crate::model::{non_blank, Location, LocationSource, Visit};
use crate::options::{Exclusions, Window};
use crate::stats::{AdmitStats, DropReason, WarningKind};

/// Two different records that carry the same `visit_id` (an input error).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DuplicateId {
    pub visit_id: String,
    /// Input positions of the first record and of the conflicting one.
    pub first: usize,
    pub second: usize,
}

/// An admitted visit: the input position, the trimmed SSN and the resolved location.
#[derive(Debug, Clone, PartialEq)]
pub struct Admitted {
    pub index: usize,
    pub ssn: String,
    pub location: Option<(Location, LocationSource)>,
}

/// Result of admission: admitted visits in input order plus counters.
#[derive(Debug, Clone, Default)]
pub struct Admission {
    pub admitted: Vec<Admitted>,
    pub stats: AdmitStats,
}

/// The first failing condition of rules.md §3, or `None` when the visit is admitted.
pub fn drop_reason(v: &Visit, window: &Window, ex: &Exclusions) -> Option<DropReason> {
    if !window.contains(v.visit_date) {
        return Some(DropReason::OutsideWindow);
    }
    let Some(ssn) = non_blank(v.ssn.as_deref()) else {
        return Some(DropReason::BlankSsn);
    };
    if ex.providers.contains(&v.provider_id) {
        return Some(DropReason::ExcludedProvider);
    }
    if ex.ssns.contains(ssn) {
        return Some(DropReason::ExcludedSsn);
    }
    if is_placeholder(ssn, ex) {
        return Some(DropReason::PlaceholderSsn);
    }
    None
}

fn is_placeholder(ssn: &str, ex: &Exclusions) -> bool {
    if ex.placeholder_ssns.is_empty() {
        return false;
    }
    let digits: String = ssn.chars().filter(|c| c.is_ascii_digit()).collect();
    ex.placeholder_ssns.contains(&digits)
}

/// Admits `visits`. Identical duplicates are collapsed (warning `duplicate_visit`); different
/// records with one id are returned as errors, all of them, and nothing is admitted.
pub fn admit(
    visits: &[Visit],
    window: &Window,
    ex: &Exclusions,
) -> Result<Admission, Vec<DuplicateId>> {
    let mut stats = AdmitStats {
        visits_read: visits.len() as u64,
        ..AdmitStats::default()
    };
    let mut first_by_id: HashMap<&str, usize> = HashMap::with_capacity(visits.len());
    let mut duplicates = Vec::new();
    let mut keep = vec![true; visits.len()];
    for (i, v) in visits.iter().enumerate() {
        match first_by_id.entry(v.visit_id.as_str()) {
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(i);
            }
            std::collections::hash_map::Entry::Occupied(e) => {
                let first = *e.get();
                keep[i] = false;
                if visits[first] == *v {
                    stats
                        .warnings
                        .add(WarningKind::DuplicateVisit, Some(&v.visit_id));
                } else {
                    duplicates.push(DuplicateId {
                        visit_id: v.visit_id.clone(),
                        first,
                        second: i,
                    });
                }
            }
        }
    }
    if !duplicates.is_empty() {
        return Err(duplicates);
    }
    let mut admitted = Vec::with_capacity(visits.len());
    for (i, v) in visits.iter().enumerate().filter(|(i, _)| keep[*i]) {
        if let Some(reason) = drop_reason(v, window, ex) {
            stats.dropped[reason as usize] += 1;
            continue;
        }
        let ssn = non_blank(v.ssn.as_deref()).unwrap_or_default().to_string();
        let location = crate::gps::resolve_location(v, |kind| {
            stats.warnings.add(kind, Some(&v.visit_id));
        });
        admitted.push(Admitted {
            index: i,
            ssn,
            location,
        });
    }
    stats.visits_admitted = admitted.len() as u64;
    Ok(Admission { admitted, stats })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn window() -> Window {
        Window::default_around(day("2025-06-15")).unwrap()
    }

    #[test]
    fn first_failing_condition_is_the_reason() {
        let mut ex = Exclusions::default();
        ex.providers.insert("bad".into());
        ex.add_ssns(["  123 ", "   "]);
        let w = window();
        let v = |ssn: &str, prov: &str, date: &str| Visit::new("x", ssn, prov, day(date));
        assert_eq!(drop_reason(&v("", "bad", "2020-01-01"), &w, &ex), Some(DropReason::OutsideWindow));
        assert_eq!(drop_reason(&v(" \t", "bad", "2025-06-10"), &w, &ex), Some(DropReason::BlankSsn));
        assert_eq!(drop_reason(&v("123", "bad", "2025-06-10"), &w, &ex), Some(DropReason::ExcludedProvider));
        assert_eq!(drop_reason(&v(" 123", "ok", "2025-06-10"), &w, &ex), Some(DropReason::ExcludedSsn));
        assert_eq!(drop_reason(&v("000-00-0000", "ok", "2025-06-10"), &w, &ex), Some(DropReason::PlaceholderSsn));
        assert_eq!(drop_reason(&v("999999999", "ok", "2025-06-10"), &w, &ex), Some(DropReason::PlaceholderSsn));
        assert_eq!(drop_reason(&v("1234", "ok", "2025-06-10"), &w, &ex), None);
        ex.placeholder_ssns.clear();
        assert_eq!(drop_reason(&v("000000000", "ok", "2025-06-10"), &w, &ex), None);
    }

    #[test]
    fn identical_duplicates_collapse_and_different_ones_are_errors() {
        let a = Visit::new("a", "1", "p", day("2025-06-10"));
        let mut b = a.clone();
        let out = admit(&[a.clone(), b.clone()], &window(), &Exclusions::default()).unwrap();
        assert_eq!(out.admitted.len(), 1);
        assert_eq!(out.stats.visits_read, 2);
        assert_eq!(out.stats.warnings.count(WarningKind::DuplicateVisit), 1);
        b.provider_id = "q".into();
        let err = admit(&[a, b], &window(), &Exclusions::default()).unwrap_err();
        assert_eq!(err, vec![DuplicateId { visit_id: "a".into(), first: 0, second: 1 }]);
    }
}
