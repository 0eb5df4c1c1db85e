//! Whether a newly detected pair is inserted, and with which flags (docs/lifecycle.md §5.1,
//! docs/rules.md §12 insert-only switches).

use chrono::NaiveDate;

use crate::options::RuleOptions;

/// Flags 1 (`SameSchTimeFlag`) and 4 (`SchOverAnotherSchTimeFlag`): the schedule-only rules
/// that `insert_schedule_only_from_as_of` drops before `as_of`.
const SCHEDULE_ONLY_FLAGS: [usize; 2] = [0, 3];

/// The outcome for a pair that has no stored row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InsertDecision {
    /// Insert with these flags (`StatusFlag 'N'`, `InServiceFlag`/`PTOFlag` `'N'`).
    Insert {
        /// The flags the row is inserted with.
        flags: [bool; 7],
    },
    /// Suppressed by an insert-only switch: counted `not_inserted_by_switch`, but still a
    /// detected pair for stale resolution (§6).
    NotInsertedBySwitch,
}

/// What the switches need to know about the pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewPair {
    /// The computed rule flags.
    pub flags: [bool; 7],
    /// `is_missed` of V1 and V2.
    pub v1_missed: Option<bool>,
    /// `is_missed` of V2.
    pub v2_missed: Option<bool>,
    /// V1's visit date (the row's `VisitDate`).
    pub visit_date: NaiveDate,
}

/// Applies the insert-only switches of docs/rules.md §12 to a new pair.
pub fn insert_decision(pair: &NewPair, as_of: NaiveDate, options: &RuleOptions) -> InsertDecision {
    // NULL does not qualify: both visits must be known not to be missed.
    if options.insert_requires_not_missed
        && !(pair.v1_missed == Some(false) && pair.v2_missed == Some(false))
    {
        return InsertDecision::NotInsertedBySwitch;
    }
    let mut flags = pair.flags;
    if options.insert_schedule_only_from_as_of && pair.visit_date < as_of {
        for i in SCHEDULE_ONLY_FLAGS {
            flags[i] = false;
        }
    }
    if flags.iter().any(|&f| f) {
        InsertDecision::Insert { flags }
    } else {
        InsertDecision::NotInsertedBySwitch
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn pair(flags: &[usize], date: &str, missed: (Option<bool>, Option<bool>)) -> NewPair {
        let mut f = [false; 7];
        for &i in flags {
            f[i] = true;
        }
        NewPair {
            flags: f,
            v1_missed: missed.0,
            v2_missed: missed.1,
            visit_date: d(date),
        }
    }

    const NOT_MISSED: (Option<bool>, Option<bool>) = (Some(false), Some(false));

    #[test]
    fn without_switches_every_detected_pair_is_inserted_as_is() {
        let opts = RuleOptions::default();
        let p = pair(&[0, 3], "2025-01-01", (None, Some(true)));
        assert_eq!(
            insert_decision(&p, d("2025-06-01"), &opts),
            InsertDecision::Insert { flags: p.flags }
        );
    }

    #[test]
    fn requires_not_missed_needs_false_on_both_sides() {
        let opts = RuleOptions {
            insert_requires_not_missed: true,
            ..RuleOptions::default()
        };
        let as_of = d("2025-06-01");
        for missed in [
            (None, Some(false)),
            (Some(false), None),
            (Some(true), Some(false)),
            (Some(false), Some(true)),
        ] {
            let p = pair(&[1], "2025-06-01", missed);
            assert_eq!(
                insert_decision(&p, as_of, &opts),
                InsertDecision::NotInsertedBySwitch,
                "{missed:?}"
            );
        }
        let p = pair(&[1], "2025-06-01", NOT_MISSED);
        assert!(matches!(
            insert_decision(&p, as_of, &opts),
            InsertDecision::Insert { .. }
        ));
    }

    #[test]
    fn schedule_only_flags_are_dropped_before_as_of() {
        let opts = RuleOptions {
            insert_schedule_only_from_as_of: true,
            ..RuleOptions::default()
        };
        let as_of = d("2025-06-01");
        // Before as_of: flags 1 and 4 alone are not enough.
        let p = pair(&[0, 3], "2025-05-31", NOT_MISSED);
        assert_eq!(
            insert_decision(&p, as_of, &opts),
            InsertDecision::NotInsertedBySwitch
        );
        // Another flag keeps the pair, inserted without flags 1 and 4.
        let p = pair(&[0, 3, 5], "2025-05-31", NOT_MISSED);
        let mut expected = [false; 7];
        expected[5] = true;
        assert_eq!(
            insert_decision(&p, as_of, &opts),
            InsertDecision::Insert { flags: expected }
        );
        // On or after as_of nothing changes.
        let p = pair(&[0, 3], "2025-06-01", NOT_MISSED);
        assert_eq!(
            insert_decision(&p, as_of, &opts),
            InsertDecision::Insert { flags: p.flags }
        );
    }
}
