//! The facts a batch reads, handed to the core's planner (`conflict_core::plan::Planner`,
//! docs/lifecycle.md §3–§7). The database supplies only the facts — the stored rows with
//! their control columns, and for each whether its written content differs from the new
//! values; every decision (sticky flags, statuses, rewrite or not, insert or not, stale or
//! not) is the core's. The writers then carry the plan out in SQL.

use chrono::NaiveDate;
use conflict_core::plan::{BatchPlan, DetectedRow, NewPair, Planner, RowFacts, RowKind, StoredRow};
use conflict_core::{DetectedPair, RuleOptions, Visit};

/// A stored row that carries the key of the detected pair `idx`, as read.
#[derive(Debug, Clone)]
pub(crate) struct MatchedRow {
    pub idx: usize,
    pub row: StoredRow,
    /// Whether stored values differ from the new ones after the write conversions: the
    /// batch writer reads one flag for all updated columns (`pair_table::read_matched`); any
    /// `true` is a content change. Only meaningful for regular and orphan rows.
    pub changed: Vec<bool>,
}

impl MatchedRow {
    /// Some written column other than the flags and the control columns differs.
    pub fn content_changed(&self) -> bool {
        self.changed.iter().any(|&c| c)
    }

    /// The row as the planner's facts (the changes travel along as the payload).
    pub fn into_facts(self, extra_changed: bool, kind_flag: Option<String>) -> RowFacts<Vec<bool>> {
        RowFacts {
            pair: self.idx,
            content_changed: self.content_changed() || extra_changed,
            row: self.row,
            kind_flag,
            payload: self.changed,
        }
    }
}

/// The plan of a batch or an event step, with the updated columns' changes as payload.
pub(crate) type RowPlan = BatchPlan<Vec<bool>>;

/// A planned update of the PostgreSQL store.
pub(crate) type PlannedUpdate = conflict_core::plan::PlannedUpdate<Vec<bool>>;

pub(crate) use conflict_core::plan::PlannedInsert;

/// The canonical key texts of one detected pair.
#[derive(Debug, Clone)]
pub(crate) struct PairKey {
    pub visit_id: String,
    pub con_visit_id: String,
}

/// Plans every detected pair of a batch. `keys[i]` is the key of `pairs[i]`; `matched` holds
/// every stored row (any kind) that carries one of the keys, `scope_rows` the stored rows of
/// the batch's stale scope.
pub(crate) fn plan_rows(
    visits: &[Visit],
    pairs: &[DetectedPair],
    keys: &[PairKey],
    matched: Vec<MatchedRow>,
    scope_rows: &[StoredRow],
    as_of: NaiveDate,
    options: &RuleOptions,
) -> RowPlan {
    let detected: Vec<DetectedRow> = pairs
        .iter()
        .zip(keys)
        .map(|(pair, key)| DetectedRow {
            visit_id: key.visit_id.clone(),
            con_visit_id: key.con_visit_id.clone(),
            new: NewPair {
                flags: pair.flags.to_array(),
                v1_missed: visits[pair.v1].is_missed,
                v2_missed: visits[pair.v2].is_missed,
                visit_date: visits[pair.v1].visit_date,
            },
        })
        .collect();
    let facts = matched
        .into_iter()
        .map(|m| m.into_facts(false, None))
        .collect();
    Planner {
        kind: RowKind::Regular,
        as_of,
        options,
    }
    .plan(&detected, facts, scope_rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use conflict_core::WarningKind;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn visit(id: &str, missed: Option<bool>) -> Visit {
        let mut v = Visit::new(id, "123456789", format!("p-{id}"), d("2025-06-10"));
        v.is_missed = missed;
        v
    }

    fn stored(id: i64, kind: RowKind, status: Option<&str>) -> StoredRow {
        StoredRow {
            id,
            visit_id: "a".into(),
            con_visit_id: "b".into(),
            conflict_id: (kind != RowKind::Orphan).then_some(7),
            kind,
            status: status.map(str::to_string),
            update_flag: None,
            resolve_date: None,
            flags: std::array::from_fn(|_| Some("N".to_string())),
        }
    }

    fn one_pair(flag: usize) -> (Vec<Visit>, Vec<DetectedPair>, Vec<PairKey>) {
        let mut flags = [false; 7];
        flags[flag] = true;
        let visits = vec![visit("a", Some(false)), visit("b", Some(false))];
        let pairs = vec![DetectedPair {
            v1: 0,
            v2: 1,
            flags: flags.into(),
            metrics: Default::default(),
        }];
        let keys = vec![PairKey {
            visit_id: "a".into(),
            con_visit_id: "b".into(),
        }];
        (visits, pairs, keys)
    }

    #[test]
    fn a_changed_column_is_a_content_change_and_travels_with_the_update() {
        let (visits, pairs, keys) = one_pair(0);
        // Stored flag 0 is already 'Y': only the changed column makes the row rewritten.
        let mut row = stored(1, RowKind::Regular, Some("N"));
        row.flags[0] = Some("Y".into());
        let matched = vec![MatchedRow {
            idx: 0,
            row,
            changed: vec![false, true],
        }];
        let plan = plan_rows(
            &visits,
            &pairs,
            &keys,
            matched,
            &[],
            d("2025-06-15"),
            &Default::default(),
        );
        assert_eq!(plan.updates.len(), 1);
        assert_eq!(plan.updates[0].plan.status.as_deref(), Some("U"));
        assert_eq!(plan.updates[0].payload, [false, true]);
    }

    #[test]
    fn keys_held_by_other_kinds_are_left_alone() {
        let (visits, pairs, keys) = one_pair(0);
        let matched = vec![MatchedRow {
            idx: 0,
            row: stored(1, RowKind::InService, Some("N")),
            changed: vec![true],
        }];
        let plan = plan_rows(
            &visits,
            &pairs,
            &keys,
            matched,
            &[],
            d("2025-06-15"),
            &Default::default(),
        );
        assert!(plan.updates.is_empty() && plan.inserts.is_empty());
        assert_eq!(plan.warnings.count(WarningKind::KeyHeldByOtherKind), 1);
    }

    #[test]
    fn the_missed_states_of_the_visits_reach_the_insert_only_switch() {
        let (mut visits, pairs, keys) = one_pair(1);
        visits[1].is_missed = None;
        let opts = RuleOptions {
            insert_requires_not_missed: true,
            ..RuleOptions::default()
        };
        let plan = plan_rows(&visits, &pairs, &keys, vec![], &[], d("2025-06-15"), &opts);
        assert!(plan.inserts.is_empty());
        assert_eq!(plan.not_inserted_by_switch, 1);
    }
}
