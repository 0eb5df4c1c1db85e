//! The seven rule flags of a detected pair (docs/rules.md §7), as a typed set rather than a
//! bare `[bool; 7]`: a flag is named by its [`Rule`], so no caller has to remember that index
//! 3 is `SchOverAnotherSchTimeFlag`.

use std::ops::Index;

use crate::stats::FLAG_NAMES;

/// One of the seven rules, in the column order of `conflictvisitmaps`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Rule {
    /// Rule 1: same schedule (`SameSchTimeFlag`).
    SameSchTime,
    /// Rule 2: same actual times (`SameVisitTimeFlag`).
    SameVisitTime,
    /// Rule 3: a schedule equal to the other's actual times (`SchAndVisitTimeSameFlag`).
    SchAndVisitTimeSame,
    /// Rule 4: overlapping schedules (`SchOverAnotherSchTimeFlag`).
    SchOverAnotherSchTime,
    /// Rule 5: overlapping actual times (`VisitTimeOverAnotherVisitTimeFlag`).
    VisitTimeOverAnotherVisitTime,
    /// Rule 6: a schedule overlapping the other's actual times (`SchTimeOverVisitTimeFlag`).
    SchTimeOverVisitTime,
    /// Rule 7: not enough time to travel between the two (`DistanceFlag`).
    Distance,
}

impl Rule {
    /// Every rule, in column order.
    pub const ALL: [Rule; 7] = [
        Rule::SameSchTime,
        Rule::SameVisitTime,
        Rule::SchAndVisitTimeSame,
        Rule::SchOverAnotherSchTime,
        Rule::VisitTimeOverAnotherVisitTime,
        Rule::SchTimeOverVisitTime,
        Rule::Distance,
    ];

    /// The rule's flag column in `conflictvisitmaps` (and in `conflicts.csv`).
    pub fn column(self) -> &'static str {
        FLAG_NAMES[self as usize]
    }
}

/// Which of the seven rules a pair meets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct RuleFlags([bool; 7]);

impl RuleFlags {
    /// No rule met.
    pub const NONE: RuleFlags = RuleFlags([false; 7]);

    /// The flags from their values in column order ([`Rule::ALL`]).
    pub fn from_array(flags: [bool; 7]) -> Self {
        RuleFlags(flags)
    }

    /// The flags in column order, for writers that go column by column.
    pub fn to_array(self) -> [bool; 7] {
        self.0
    }

    /// Whether `rule` is met.
    pub fn get(self, rule: Rule) -> bool {
        self.0[rule as usize]
    }

    /// Sets whether `rule` is met.
    pub fn set(&mut self, rule: Rule, met: bool) {
        self.0[rule as usize] = met;
    }

    /// The set with `rule` met as well.
    pub fn with(mut self, rule: Rule) -> Self {
        self.set(rule, true);
        self
    }

    /// At least one rule is met: only such pairs are emitted (docs/rules.md §11).
    pub fn any(self) -> bool {
        self.0.contains(&true)
    }

    /// The values in column order.
    pub fn iter(self) -> impl Iterator<Item = bool> {
        self.0.into_iter()
    }
}

impl Index<Rule> for RuleFlags {
    type Output = bool;
    fn index(&self, rule: Rule) -> &bool {
        &self.0[rule as usize]
    }
}

impl From<[bool; 7]> for RuleFlags {
    fn from(flags: [bool; 7]) -> Self {
        RuleFlags(flags)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_name_their_columns_in_table_order() {
        // docs/tables.md: the seven flag columns of conflictvisitmaps, in this order.
        assert_eq!(Rule::SameSchTime.column(), "SameSchTimeFlag");
        assert_eq!(
            Rule::SchOverAnotherSchTime.column(),
            "SchOverAnotherSchTimeFlag"
        );
        assert_eq!(Rule::Distance.column(), "DistanceFlag");
        let f = RuleFlags::NONE.with(Rule::SchOverAnotherSchTime);
        assert_eq!(
            f.to_array(),
            [false, false, false, true, false, false, false]
        );
        assert!(f[Rule::SchOverAnotherSchTime] && !f.get(Rule::Distance) && f.any());
        assert!(!RuleFlags::NONE.any());
    }
}
