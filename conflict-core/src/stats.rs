//! Counters and data warnings of a detection (docs/lifecycle.md §11 names).

use std::collections::BTreeMap;
use std::fmt;

/// Kinds of data warnings the core raises. Adapters add their own kinds by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum WarningKind {
    /// A GPS string that is not `lat,lon`.
    GpsUnparsable,
    /// A GPS location outside the valid ranges.
    GpsOutOfRange,
    /// Address coordinates outside the valid ranges.
    AddressOutOfRange,
    /// The same visit id twice with identical records (kept once).
    DuplicateVisit,
    /// No speed band at all.
    MphEmpty,
    /// Speed bands that overlap.
    MphBandsOverlap,
    /// A speed band row that cannot be used.
    MphBandInvalid,
    /// More than one updatable row carries a detected pair's key; each is updated
    /// (docs/lifecycle.md §3).
    DuplicateCvmKey,
    /// Only rows of another kind carry a detected pair's key; they are left alone
    /// (docs/lifecycle.md §3, §7).
    KeyHeldByOtherKind,
    /// A `CONFLICTID` written or kept has no parent `conflicts` row; one is added
    /// (docs/lifecycle.md §5.2).
    MissingParentConflict,
}

impl WarningKind {
    /// The warning's name in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            WarningKind::GpsUnparsable => "gps_unparsable",
            WarningKind::GpsOutOfRange => "gps_out_of_range",
            WarningKind::AddressOutOfRange => "address_out_of_range",
            WarningKind::DuplicateVisit => "duplicate_visit",
            WarningKind::MphEmpty => "mph_empty",
            WarningKind::MphBandsOverlap => "mph_bands_overlap",
            WarningKind::MphBandInvalid => "mph_band_invalid",
            WarningKind::DuplicateCvmKey => "duplicate_cvm_key",
            WarningKind::KeyHeldByOtherKind => "key_held_by_other_kind",
            WarningKind::MissingParentConflict => "missing_parent_conflict",
        }
    }
}

impl fmt::Display for WarningKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How many examples (visit ids, never SSNs) are kept per warning kind.
pub const WARNING_EXAMPLES: usize = 3;

/// Warning counts by kind, with the first few distinct visit ids (in input order) as examples:
/// one visit can raise a kind twice (call-in and call-out GPS both unparsable), and a repeated id
/// would waste one of the few examples an operator sees.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Warnings {
    counts: BTreeMap<String, u64>,
    examples: BTreeMap<String, Vec<String>>,
}

impl Warnings {
    /// Counts one warning of `kind`, keeping `visit_id` as an example.
    pub fn add(&mut self, kind: WarningKind, visit_id: Option<&str>) {
        self.add_named(kind.as_str(), visit_id);
    }

    /// Counts one warning of an adapter's own kind, by name.
    pub fn add_named(&mut self, kind: &str, example: Option<&str>) {
        // Looked up by `&str` first: a batch can raise the same kind once per pair and column
        // (truncated values), and allocating the key for every call dominated that.
        match self.counts.get_mut(kind) {
            Some(n) => *n += 1,
            None => {
                self.counts.insert(kind.to_string(), 1);
            }
        }
        if let Some(id) = example {
            if !self.examples.contains_key(kind) {
                self.examples.insert(kind.to_string(), Vec::new());
            }
            if let Some(ex) = self.examples.get_mut(kind) {
                if ex.len() < WARNING_EXAMPLES && !ex.iter().any(|e| e == id) {
                    ex.push(id.to_string());
                }
            }
        }
    }

    /// How many warnings of `kind`.
    pub fn count(&self, kind: WarningKind) -> u64 {
        self.count_named(kind.as_str())
    }

    /// How many warnings of the named kind.
    pub fn count_named(&self, kind: &str) -> u64 {
        self.counts.get(kind).copied().unwrap_or(0)
    }

    /// No warning at all.
    pub fn is_empty(&self) -> bool {
        self.counts.is_empty()
    }

    /// (kind, count, examples) in kind order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, u64, &[String])> {
        self.counts.iter().map(|(k, &n)| {
            let ex = self.examples.get(k).map(Vec::as_slice).unwrap_or(&[]);
            (k.as_str(), n, ex)
        })
    }

    /// Adds `other`'s counts and examples (up to the example limit, skipping ids already kept).
    /// Merging the parts of an input in order keeps the first distinct ids of the whole input:
    /// each part holds its own first distinct ids, enough to fill what the earlier parts left.
    pub fn merge(&mut self, other: &Warnings) {
        for (k, n) in &other.counts {
            *self.counts.entry(k.clone()).or_default() += n;
        }
        for (k, ex) in &other.examples {
            let mine = self.examples.entry(k.clone()).or_default();
            for id in ex {
                if mine.len() < WARNING_EXAMPLES && !mine.contains(id) {
                    mine.push(id.clone());
                }
            }
        }
    }
}

/// Why a visit was not admitted (docs/rules.md §3), in the order the conditions are checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DropReason {
    /// Visit date outside the window.
    OutsideWindow,
    /// NULL or blank SSN.
    BlankSsn,
    /// Provider on the exclusion list.
    ExcludedProvider,
    /// SSN on the exclusion list.
    ExcludedSsn,
    /// A placeholder SSN such as `000000000`.
    PlaceholderSsn,
}

impl DropReason {
    /// Every reason, in check order (the index of [`AdmitStats::dropped`]).
    pub const ALL: [DropReason; 5] = [
        DropReason::OutsideWindow,
        DropReason::BlankSsn,
        DropReason::ExcludedProvider,
        DropReason::ExcludedSsn,
        DropReason::PlaceholderSsn,
    ];

    /// The reason's name in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::OutsideWindow => "outside_window",
            DropReason::BlankSsn => "blank_ssn",
            DropReason::ExcludedProvider => "excluded_provider",
            DropReason::ExcludedSsn => "excluded_ssn",
            DropReason::PlaceholderSsn => "placeholder_ssn",
        }
    }
}

/// Names of the seven rule flags in CVM column order.
pub const FLAG_NAMES: [&str; 7] = [
    "SameSchTimeFlag",
    "SameVisitTimeFlag",
    "SchAndVisitTimeSameFlag",
    "SchOverAnotherSchTimeFlag",
    "VisitTimeOverAnotherVisitTimeFlag",
    "SchTimeOverVisitTimeFlag",
    "DistanceFlag",
];

/// Admission counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AdmitStats {
    /// Visits given to the admission.
    pub visits_read: u64,
    /// Visits admitted.
    pub visits_admitted: u64,
    /// Indexed like [`DropReason::ALL`].
    pub dropped: [u64; 5],
    /// Data warnings of the admission.
    pub warnings: Warnings,
}

impl AdmitStats {
    /// Visits dropped for `reason`.
    pub fn dropped(&self, reason: DropReason) -> u64 {
        self.dropped[reason as usize]
    }
}

/// Pairing counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PairStats {
    /// Ordered pairs with equal key and different providers.
    pub candidates: u64,
    /// Pairs delivered to the sink.
    pub pairs_detected: u64,
    /// Pairs dropped by the cross-state filter.
    pub pairs_dropped_cross_state: u64,
    /// Detected pairs per flag, in [`FLAG_NAMES`] order.
    pub per_flag: [u64; 7],
    /// Distinct (visit date, SSN) keys among admitted visits.
    pub keys: u64,
}

impl PairStats {
    /// Adds `o`'s counters.
    pub fn merge(&mut self, o: &PairStats) {
        self.candidates += o.candidates;
        self.pairs_detected += o.pairs_detected;
        self.pairs_dropped_cross_state += o.pairs_dropped_cross_state;
        for (a, b) in self.per_flag.iter_mut().zip(o.per_flag) {
            *a += b;
        }
        self.keys += o.keys;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn examples(w: &Warnings, kind: WarningKind) -> Vec<String> {
        w.iter()
            .find(|(k, _, _)| *k == kind.as_str())
            .map(|(_, _, ex)| ex.to_vec())
            .unwrap_or_default()
    }

    /// A visit whose call-out and call-in GPS are both unparsable counts twice but is one
    /// example; the examples are the first distinct ids in input order.
    #[test]
    fn examples_are_the_first_distinct_ids_in_input_order() {
        let mut w = Warnings::default();
        for id in ["v1", "v1", "v2", "v1", "v3", "v4"] {
            w.add(WarningKind::GpsUnparsable, Some(id));
        }
        assert_eq!(w.count(WarningKind::GpsUnparsable), 6);
        assert_eq!(examples(&w, WarningKind::GpsUnparsable), ["v1", "v2", "v3"]);
    }

    /// Merging parts in input order gives what one pass over the whole input gives.
    #[test]
    fn merging_parts_keeps_the_first_distinct_ids_of_the_whole() {
        let (mut a, mut b, mut c) = (
            Warnings::default(),
            Warnings::default(),
            Warnings::default(),
        );
        a.add(WarningKind::GpsOutOfRange, Some("v1"));
        a.add(WarningKind::GpsOutOfRange, Some("v1"));
        for id in ["v1", "v2", "v2", "v5"] {
            b.add(WarningKind::GpsOutOfRange, Some(id));
        }
        c.add(WarningKind::GpsOutOfRange, Some("v9"));
        let mut all = Warnings::default();
        all.merge(&a);
        all.merge(&b);
        all.merge(&c);
        assert_eq!(all.count(WarningKind::GpsOutOfRange), 7);
        assert_eq!(
            examples(&all, WarningKind::GpsOutOfRange),
            ["v1", "v2", "v5"]
        );
    }
}
