//! The building blocks and the seven rule flags (docs/rules.md §6–§7), on microsecond timestamps.
//!
//! NULL is `NULL_TS` (`i64::MIN`); every predicate with a NULL operand is false.

use crate::options::Direction;

pub const NULL_TS: i64 = i64::MIN;

/// The four times of a visit in microseconds: schedule start/end, actual start/end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Times {
    pub sch: (i64, i64),
    pub act: (i64, i64),
}

impl Times {
    #[inline]
    pub fn from_row(r: &[i64]) -> Self {
        Times {
            sch: (r[0], r[1]),
            act: (r[2], r[3]),
        }
    }

    #[inline]
    pub fn unstarted(&self) -> bool {
        self.act.0 == NULL_TS && self.act.1 == NULL_TS
    }

    #[inline]
    pub fn completed(&self) -> bool {
        self.act.0 != NULL_TS && self.act.1 != NULL_TS
    }
}

#[inline]
fn known(i: (i64, i64)) -> bool {
    i.0 != NULL_TS && i.1 != NULL_TS
}

#[inline]
pub fn same(i: (i64, i64), j: (i64, i64)) -> bool {
    known(i) && known(j) && i == j
}

/// Strict overlap: touching intervals do not overlap.
#[inline]
pub fn overlap(i: (i64, i64), j: (i64, i64)) -> bool {
    known(i) && known(j) && i.0 < j.1 && i.1 > j.0
}

/// `overlap ∧ ¬same`, the "over another" rules.
#[inline]
fn over(i: (i64, i64), j: (i64, i64)) -> bool {
    overlap(i, j) && !same(i, j)
}

/// `minute_floor(b) − minute_floor(a)`; `None` when either is NULL.
#[inline]
pub fn datediff_min(a: i64, b: i64) -> Option<i64> {
    if a == NULL_TS || b == NULL_TS {
        return None;
    }
    Some(b.div_euclid(60_000_000) - a.div_euclid(60_000_000))
}

/// Flags 1–6 in CVM order (the seventh, DistanceFlag, needs the metrics).
#[inline]
pub fn time_flags(v1: &Times, v2: &Times, dir: Direction) -> [bool; 6] {
    let (u1, c1, u2, c2) = (
        v1.unstarted(),
        v1.completed(),
        v2.unstarted(),
        v2.completed(),
    );
    let both = dir == Direction::BothWays;
    [
        u1 && u2 && same(v1.sch, v2.sch),
        c1 && c2 && same(v1.act, v2.act),
        (u1 && c2 && same(v1.sch, v2.act)) || (both && c1 && u2 && same(v1.act, v2.sch)),
        u1 && u2 && over(v1.sch, v2.sch),
        c1 && c2 && over(v1.act, v2.act),
        (u1 && c2 && over(v1.sch, v2.act)) || (both && c1 && u2 && over(v1.act, v2.sch)),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000_000;
    const SEC: i64 = 1_000_000;

    #[test]
    fn datediff_vectors_of_rules_md() {
        let t = |h: i64, m: i64, s: i64| (h * 60 + m) * MIN + s * SEC;
        assert_eq!(datediff_min(t(9, 0, 59), t(9, 1, 0)), Some(1));
        assert_eq!(datediff_min(t(9, 0, 0), t(9, 0, 59)), Some(0));
        assert_eq!(datediff_min(t(9, 30, 0), t(9, 0, 0)), Some(-30));
        assert_eq!(datediff_min(t(9, 0, 45), t(8, 59, 15)), Some(-1));
        assert_eq!(datediff_min(t(23, 59, 30), t(24, 0, 10)), Some(1));
        assert_eq!(datediff_min(t(9, 0, 59), t(9, 12, 0)), Some(12));
        assert_eq!(datediff_min(NULL_TS, 0), None);
        // Before the epoch minute_floor still floors (div_euclid), not truncates.
        assert_eq!(datediff_min(-SEC, 0), Some(1));
    }

    #[test]
    fn null_schedules_are_not_the_same_and_touching_is_no_overlap() {
        let n = (NULL_TS, NULL_TS);
        assert!(!same(n, n));
        assert!(!overlap((0, 10), (10, 20)));
        assert!(overlap((0, 11), (10, 20)));
        assert!(!overlap((0, NULL_TS), (0, 20)));
    }

    #[test]
    fn half_started_visit_fires_nothing() {
        let a = Times {
            sch: (0, 100),
            act: (5, NULL_TS),
        };
        let b = Times {
            sch: (0, 100),
            act: (NULL_TS, NULL_TS),
        };
        assert_eq!(time_flags(&a, &b, Direction::BothWays), [false; 6]);
        assert_eq!(time_flags(&b, &a, Direction::BothWays), [false; 6]);
    }
}
