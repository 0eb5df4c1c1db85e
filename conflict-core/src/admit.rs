//! Admission of visits (docs/rules.md §3): de-duplication, window, SSN and exclusion checks, and
//! location resolution for every admitted visit.

use std::hash::{BuildHasher, BuildHasherDefault};
use std::sync::Arc;

use rayon::prelude::*;

use crate::intern::{FastHasher, FastMap};
use crate::model::{non_blank, Location, LocationSource, Visit};
use crate::options::{Exclusions, Window};
use crate::rows::{VisitRef, VisitRows};
use crate::stats::{AdmitStats, DropReason, WarningKind, Warnings};

/// Two different records that carry the same `visit_id` (an input error).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DuplicateId {
    /// The visit id that occurs twice.
    pub visit_id: String,
    /// Input positions of the first record and of the conflicting one.
    pub first: usize,
    /// Input index of the second record with that id.
    pub second: usize,
}

/// An admitted visit: the input position, the trimmed SSN and the resolved location. The SSN
/// is shared by all admitted visits with that SSN (a batch has few caregivers and many
/// visits; one string per visit was a large part of a large batch's memory).
#[derive(Debug, Clone, PartialEq)]
pub struct Admitted {
    /// Input index of the visit.
    pub index: usize,
    /// The trimmed SSN the visit is paired by.
    pub ssn: Arc<str>,
    /// The visit's location and where it came from (docs/rules.md §4); `None` when it has none.
    pub location: Option<(Location, LocationSource)>,
}

/// Result of admission: admitted visits in input order plus counters.
#[derive(Debug, Clone, Default)]
pub struct Admission {
    /// The admitted visits, in input order.
    pub admitted: Vec<Admitted>,
    /// Counters and warnings of the admission.
    pub stats: AdmitStats,
}

/// The first failing condition of docs/rules.md §3, or `None` when the visit is admitted.
pub fn drop_reason(v: &Visit, window: &Window, ex: &Exclusions) -> Option<DropReason> {
    drop_reason_of(&v.as_row(), window, ex)
}

/// [`drop_reason`] of a borrowed visit.
#[inline]
pub fn drop_reason_of(v: &VisitRef<'_>, window: &Window, ex: &Exclusions) -> Option<DropReason> {
    if !window.contains(v.visit_date) {
        return Some(DropReason::OutsideWindow);
    }
    let Some(ssn) = non_blank(v.ssn) else {
        return Some(DropReason::BlankSsn);
    };
    if ex.providers.contains(v.provider_id) {
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
    // The digit-only form, built on the stack for SSN-sized values (no allocation per visit).
    let mut buf = [0u8; 32];
    let mut len = 0;
    for b in ssn.bytes().filter(u8::is_ascii_digit) {
        if len == buf.len() {
            let digits: String = ssn.chars().filter(|c| c.is_ascii_digit()).collect();
            return ex.placeholder_ssns.contains(&digits);
        }
        buf[len] = b;
        len += 1;
    }
    let digits = std::str::from_utf8(&buf[..len]).expect("ASCII digits");
    if ex.placeholder_ssns.len() <= 8 {
        ex.placeholder_ssns.iter().any(|p| p == digits)
    } else {
        ex.placeholder_ssns.contains(digits)
    }
}

/// Every position `i` whose `visit_id` already occurred earlier, with the position of its
/// first occurrence, in increasing `i`: what a sequential scan with a map from id to first
/// position reports. The ids are hashed in parallel and sorted by (hash, position), so only
/// the rare runs of equal hashes need their texts compared; this touches each id once from
/// both cores instead of probing a large map from one.
pub fn repeated_ids<R: VisitRows + ?Sized>(visits: &R) -> Vec<(usize, usize)> {
    let hasher = BuildHasherDefault::<FastHasher>::default();
    let mut keyed: Vec<(u64, usize)> = (0..visits.len())
        .into_par_iter()
        .map(|i| (hasher.hash_one(visits.visit_id(i)), i))
        .collect();
    keyed.par_sort_unstable();
    let mut repeated = Vec::new();
    let mut members = Vec::new();
    for run in keyed.chunk_by(|a, b| a.0 == b.0).filter(|r| r.len() > 1) {
        // Equal hashes: group the positions by id text, each group in position order.
        members.clear();
        members.extend(run.iter().map(|&(_, i)| i));
        members.sort_by(|&a, &b| visits.visit_id(a).cmp(visits.visit_id(b)).then(a.cmp(&b)));
        for group in members.chunk_by(|&a, &b| visits.visit_id(a) == visits.visit_id(b)) {
            repeated.extend(group[1..].iter().map(|&i| (i, group[0])));
        }
    }
    repeated.sort_unstable();
    repeated
}

/// Visits admitted by one parallel task, with the counters and warnings it raised.
struct Part {
    admitted: Vec<Admitted>,
    dropped: [u64; 5],
    warnings: Warnings,
}

/// Input positions handled by one parallel admission task.
const ADMIT_CHUNK: usize = 8192;

/// Admits `visits`. Identical duplicates are collapsed (warning `duplicate_visit`); different
/// records with one id are returned as errors, all of them, and nothing is admitted.
pub fn admit<R: VisitRows + ?Sized>(
    visits: &R,
    window: &Window,
    ex: &Exclusions,
) -> Result<Admission, Vec<DuplicateId>> {
    let mut stats = AdmitStats {
        visits_read: visits.len() as u64,
        ..AdmitStats::default()
    };
    let mut duplicates = Vec::new();
    let mut keep = vec![true; visits.len()];
    for (i, first) in repeated_ids(visits) {
        let v = visits.get(i);
        keep[i] = false;
        if visits.get(first) == v {
            stats
                .warnings
                .add(WarningKind::DuplicateVisit, Some(v.visit_id));
        } else {
            duplicates.push(DuplicateId {
                visit_id: v.visit_id.to_string(),
                first,
                second: i,
            });
        }
    }
    if !duplicates.is_empty() {
        return Err(duplicates);
    }
    // Each visit is judged on its own, so chunks of the input are admitted in parallel and
    // their results appended in input order: the admitted list, the counters and the first
    // warning examples are exactly those of a sequential pass.
    let parts: Vec<Part> = keep
        .par_chunks(ADMIT_CHUNK)
        .enumerate()
        .map(|(c, keep)| {
            let mut part = Part {
                admitted: Vec::with_capacity(keep.len()),
                dropped: [0; 5],
                warnings: Warnings::default(),
            };
            let mut ssns: FastMap<&str, Arc<str>> = FastMap::default();
            for k in (0..keep.len()).filter(|&k| keep[k]) {
                let v = visits.get(c * ADMIT_CHUNK + k);
                if let Some(reason) = drop_reason_of(&v, window, ex) {
                    part.dropped[reason as usize] += 1;
                    continue;
                }
                let text = non_blank(v.ssn).unwrap_or_default();
                let ssn = Arc::clone(ssns.entry(text).or_insert_with(|| Arc::from(text)));
                let location = crate::gps::resolve_location_of(&v, |kind| {
                    part.warnings.add(kind, Some(v.visit_id));
                });
                part.admitted.push(Admitted {
                    index: c * ADMIT_CHUNK + k,
                    ssn,
                    location,
                });
            }
            part
        })
        .collect();
    let mut admitted = Vec::with_capacity(parts.iter().map(|p| p.admitted.len()).sum());
    for part in parts {
        admitted.extend(part.admitted);
        for (total, n) in stats.dropped.iter_mut().zip(part.dropped) {
            *total += n;
        }
        stats.warnings.merge(&part.warnings);
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
        assert_eq!(
            drop_reason(&v("", "bad", "2020-01-01"), &w, &ex),
            Some(DropReason::OutsideWindow)
        );
        assert_eq!(
            drop_reason(&v(" \t", "bad", "2025-06-10"), &w, &ex),
            Some(DropReason::BlankSsn)
        );
        assert_eq!(
            drop_reason(&v("123", "bad", "2025-06-10"), &w, &ex),
            Some(DropReason::ExcludedProvider)
        );
        assert_eq!(
            drop_reason(&v(" 123", "ok", "2025-06-10"), &w, &ex),
            Some(DropReason::ExcludedSsn)
        );
        assert_eq!(
            drop_reason(&v("000-00-0000", "ok", "2025-06-10"), &w, &ex),
            Some(DropReason::PlaceholderSsn)
        );
        assert_eq!(
            drop_reason(&v("999999999", "ok", "2025-06-10"), &w, &ex),
            Some(DropReason::PlaceholderSsn)
        );
        assert_eq!(drop_reason(&v("1234", "ok", "2025-06-10"), &w, &ex), None);
        ex.placeholder_ssns.clear();
        assert_eq!(
            drop_reason(&v("000000000", "ok", "2025-06-10"), &w, &ex),
            None
        );
    }

    #[test]
    fn repeated_ids_are_reported_against_their_first_occurrence_in_input_order() {
        let ids = ["a", "b", "a", "c", "a", "b", "d", "c"];
        let visits: Vec<Visit> = ids
            .iter()
            .map(|id| Visit::new(*id, "1", "p", day("2025-06-10")))
            .collect();
        assert_eq!(repeated_ids(&visits), vec![(2, 0), (4, 0), (5, 1), (7, 3)]);
        assert!(repeated_ids(&visits[..2]).is_empty());
        assert!(repeated_ids(&[]).is_empty());
    }

    /// The parallel admission against a plain sequential pass, on enough visits to span many
    /// chunks, with repeated ids across chunk borders and every kind of warning.
    #[test]
    fn parallel_admission_equals_a_sequential_pass() {
        let gps = ["40.75,-73.99", "N/A", "91,0", ",", "40.8,-73.9,0", ""];
        let ssns = ["100000001", " 100000002 ", "", "999999999", "100000003"];
        let mut visits: Vec<Visit> = Vec::new();
        for i in 0..5 * ADMIT_CHUNK + 123 {
            let date = day("2023-06-10") + chrono::TimeDelta::days((i % 800) as i64);
            let mut v = Visit::new(format!("v{i}"), ssns[i % 5], "p", date);
            v.call_out_gps = Some(gps[i % 6].to_string()).filter(|_| i % 7 > 0);
            v.call_in_gps = Some(gps[(i / 6) % 6].to_string());
            if i % 11 == 0 {
                v.address_lat = Some(if i % 2 == 0 { 95.0 } else { 40.7 });
                v.address_lon = Some(-73.9);
            }
            if i >= 4 * ADMIT_CHUNK && i % 3 == 0 {
                // An identical copy of an earlier record: collapsed with a warning.
                v = visits[i % (4 * ADMIT_CHUNK)].clone();
            }
            visits.push(v);
        }
        let (w, ex) = (window(), Exclusions::default());
        let got = admit(&visits, &w, &ex).unwrap();

        let mut want = AdmitStats {
            visits_read: visits.len() as u64,
            ..AdmitStats::default()
        };
        let mut first = std::collections::HashMap::new();
        let mut admitted = Vec::new();
        for (i, v) in visits.iter().enumerate() {
            if let Some(&f) = first.get(v.visit_id.as_str()) {
                if visits[f] == *v {
                    want.warnings
                        .add(WarningKind::DuplicateVisit, Some(&v.visit_id));
                    continue;
                }
                panic!("test data has different records under {}", v.visit_id);
            }
            first.insert(v.visit_id.as_str(), i);
        }
        for (i, v) in visits.iter().enumerate() {
            if first[v.visit_id.as_str()] != i {
                continue;
            }
            if let Some(r) = drop_reason(v, &w, &ex) {
                want.dropped[r as usize] += 1;
                continue;
            }
            let location =
                crate::gps::resolve_location(v, |k| want.warnings.add(k, Some(&v.visit_id)));
            let ssn = Arc::from(non_blank(v.ssn.as_deref()).unwrap());
            admitted.push(Admitted {
                index: i,
                ssn,
                location,
            });
        }
        want.visits_admitted = admitted.len() as u64;
        assert!(want.warnings.count(WarningKind::DuplicateVisit) > 1000);
        assert!(want.warnings.count(WarningKind::AddressOutOfRange) > 0);
        assert_eq!(got.admitted, admitted);
        assert_eq!(got.stats, want);
    }

    #[test]
    fn placeholder_check_reads_digits_only() {
        let mut ex = Exclusions::default();
        assert!(is_placeholder("000-00-0000", &ex));
        assert!(is_placeholder("x9 9 9 9 9 9 9 9 9", &ex));
        assert!(!is_placeholder("0000000000", &ex));
        assert!(!is_placeholder(&"0".repeat(40), &ex));
        ex.placeholder_ssns.insert("0".repeat(40));
        assert!(is_placeholder(&format!("-{}-", "0".repeat(40)), &ex));
        for i in 0..10 {
            ex.placeholder_ssns.insert(format!("12{i}"));
        }
        assert!(is_placeholder("1-2-5", &ex));
        assert!(!is_placeholder("1-2-", &ex));
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
        assert_eq!(
            err,
            vec![DuplicateId {
                visit_id: "a".into(),
                first: 0,
                second: 1
            }]
        );
    }
}
