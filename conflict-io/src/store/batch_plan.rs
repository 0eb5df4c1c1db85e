//! What a batch does to each detected pair and each stored row with its key (lifecycle.md §3–§5),
//! decided in memory with the rules of `conflict_core::plan` before anything is written.
//!
//! The database only supplies the facts (the stored rows with their control columns, and for
//! each whether its written content differs from the new values); the decisions — sticky
//! flags, statuses, rewrite or not, insert or not — are the core's.

use std::collections::{BTreeSet, HashMap};

use chrono::NaiveDate;
use conflict_core::plan::conflict_id::sort_for_insert;
use conflict_core::plan::{
    insert_decision, match_pair, plan_update, InsertDecision, NewPair, PairMatch, RowKind,
    StoredRow, UpdatePlan,
};
use conflict_core::{DetectedPair, RuleOptions, Visit, Warnings};

/// Warning kinds of this module.
pub const DUPLICATE_CVM_KEY: &str = "duplicate_cvm_key";
pub const KEY_HELD_BY_OTHER_KIND: &str = "key_held_by_other_kind";

/// A stored row that carries the key of the detected pair `idx`.
#[derive(Debug, Clone)]
pub(crate) struct MatchedRow {
    pub idx: usize,
    pub row: StoredRow,
    /// For each updated column (`CvmLayout::updated_columns` order): the stored value differs
    /// from the new one after the write conversions. Only meaningful for regular and orphan
    /// rows.
    pub changed: Vec<bool>,
}

impl MatchedRow {
    /// Some written column other than the flags and the control columns differs.
    pub fn content_changed(&self) -> bool {
        self.changed.iter().any(|&c| c)
    }
}

/// A matched row that is rewritten.
#[derive(Debug, Clone)]
pub(crate) struct PlannedUpdate {
    /// The detected pair whose values it takes.
    pub idx: usize,
    /// The row as read: its `"ID"`, and the control values the write checks are still there.
    pub row: StoredRow,
    pub plan: UpdatePlan,
    /// An orphan that receives its primary visit's `CONFLICTID`.
    pub adopt: bool,
    /// Which updated columns take the new value; the others are written back unchanged.
    pub changed: Vec<bool>,
}

/// A detected pair without any stored row that is inserted.
#[derive(Debug, Clone)]
pub(crate) struct PlannedInsert {
    pub idx: usize,
    /// Flags after the insert-only switches.
    pub flags: [bool; 7],
    pub visit_id: String,
    pub con_visit_id: String,
}

#[derive(Debug, Default)]
pub(crate) struct RowPlan {
    pub updates: Vec<PlannedUpdate>,
    pub inserts: Vec<PlannedInsert>,
    pub unchanged: u64,
    pub not_inserted_by_switch: u64,
    pub warnings: Warnings,
}

impl RowPlan {
    /// Primary visits that need a `CONFLICTID` now (§5.2): those of new rows and of adopted
    /// orphans. Ascending, each once.
    pub fn visits_needing_ids(&self) -> BTreeSet<&str> {
        self.inserts
            .iter()
            .map(|i| i.visit_id.as_str())
            .chain(
                self.updates
                    .iter()
                    .filter(|u| u.adopt)
                    .map(|u| u.row.visit_id.as_str()),
            )
            .collect()
    }

    pub fn adopted(&self) -> u64 {
        self.updates.iter().filter(|u| u.adopt).count() as u64
    }
}

/// The canonical key texts of one detected pair.
#[derive(Debug, Clone)]
pub(crate) struct PairKey {
    pub visit_id: String,
    pub con_visit_id: String,
}

/// Plans every detected pair of the batch. `keys[i]` is the key of `pairs[i]`; `matched` holds
/// every stored row (any kind) that carries one of the keys.
pub(crate) fn plan_rows(
    visits: &[Visit],
    pairs: &[DetectedPair],
    keys: &[PairKey],
    matched: Vec<MatchedRow>,
    as_of: NaiveDate,
    options: &RuleOptions,
) -> RowPlan {
    let mut by_pair: HashMap<usize, Vec<MatchedRow>> = HashMap::new();
    for m in matched {
        by_pair.entry(m.idx).or_default().push(m);
    }
    let mut plan = RowPlan::default();
    for (idx, (pair, key)) in pairs.iter().zip(keys).enumerate() {
        let mut rows = by_pair.remove(&idx).unwrap_or_default();
        // The read returns rows in no particular order; "ID" order makes the plan (and the
        // order of warnings' examples) deterministic.
        rows.sort_by_key(|m| m.row.id);
        let stored: Vec<&StoredRow> = rows.iter().map(|m| &m.row).collect();
        match match_pair(&stored) {
            PairMatch::Update {
                rows: targets,
                duplicate,
            } => {
                if duplicate {
                    plan.warnings
                        .add_named(DUPLICATE_CVM_KEY, Some(&key.visit_id));
                }
                for target in targets {
                    let m = rows
                        .iter()
                        .find(|m| m.row.id == target.id)
                        .expect("match_pair returns rows it was given");
                    let adopt = m.row.kind == RowKind::Orphan;
                    let up = plan_update(&m.row, &pair.flags, m.content_changed(), adopt);
                    if up.rewrite {
                        plan.updates.push(PlannedUpdate {
                            idx,
                            row: m.row.clone(),
                            plan: up,
                            adopt,
                            changed: m.changed.clone(),
                        });
                    } else {
                        plan.unchanged += 1;
                    }
                }
            }
            PairMatch::Insert => {
                let new = NewPair {
                    flags: pair.flags,
                    v1_missed: visits[pair.v1].is_missed,
                    v2_missed: visits[pair.v2].is_missed,
                    visit_date: visits[pair.v1].visit_date,
                };
                match insert_decision(&new, as_of, options) {
                    InsertDecision::Insert { flags } => plan.inserts.push(PlannedInsert {
                        idx,
                        flags,
                        visit_id: key.visit_id.clone(),
                        con_visit_id: key.con_visit_id.clone(),
                    }),
                    InsertDecision::NotInsertedBySwitch => plan.not_inserted_by_switch += 1,
                }
            }
            PairMatch::HeldByOtherKind => {
                plan.warnings
                    .add_named(KEY_HELD_BY_OTHER_KIND, Some(&key.visit_id));
            }
        }
    }
    // The INSERT orders by key itself; sorting here keeps the copied plan in the same order.
    sort_for_insert(&mut plan.inserts, |i| (&i.visit_id, &i.con_visit_id));
    plan
}

#[cfg(test)]
mod tests {
    use super::*;

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
            flags,
            metrics: Default::default(),
        }];
        let keys = vec![PairKey {
            visit_id: "a".into(),
            con_visit_id: "b".into(),
        }];
        (visits, pairs, keys)
    }

    #[test]
    fn regular_and_orphan_rows_are_updated_and_the_orphan_adopted() {
        let (visits, pairs, keys) = one_pair(0);
        let matched = vec![
            MatchedRow {
                idx: 0,
                row: stored(2, RowKind::Orphan, Some("N")),
                changed: vec![false],
            },
            MatchedRow {
                idx: 0,
                row: stored(1, RowKind::Regular, Some("U")),
                changed: vec![false],
            },
        ];
        let plan = plan_rows(
            &visits,
            &pairs,
            &keys,
            matched,
            d("2025-06-15"),
            &Default::default(),
        );
        // Row 1: flag 0 turns Y, rewritten; row 2: adopted (and flag 0 turns Y as well).
        assert_eq!(plan.updates.len(), 2);
        assert_eq!(plan.updates[0].row.id, 1);
        assert!(!plan.updates[0].adopt);
        assert!(plan.updates[1].adopt);
        assert_eq!(plan.adopted(), 1);
        assert_eq!(plan.warnings.count_named(DUPLICATE_CVM_KEY), 1);
        assert_eq!(
            plan.visits_needing_ids().into_iter().collect::<Vec<_>>(),
            ["a"]
        );
    }

    #[test]
    fn unchanged_rows_are_counted_not_planned() {
        let (visits, pairs, keys) = one_pair(0);
        let mut row = stored(1, RowKind::Regular, Some("N"));
        row.flags[0] = Some("Y".into());
        let matched = vec![MatchedRow {
            idx: 0,
            row,
            changed: vec![false],
        }];
        let plan = plan_rows(
            &visits,
            &pairs,
            &keys,
            matched,
            d("2025-06-15"),
            &Default::default(),
        );
        assert!(plan.updates.is_empty());
        assert_eq!(plan.unchanged, 1);
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
            d("2025-06-15"),
            &Default::default(),
        );
        assert!(plan.updates.is_empty() && plan.inserts.is_empty());
        assert_eq!(plan.warnings.count_named(KEY_HELD_BY_OTHER_KIND), 1);
    }

    #[test]
    fn new_pairs_pass_the_insert_only_switches() {
        let (mut visits, pairs, keys) = one_pair(1);
        let plan = plan_rows(
            &visits,
            &pairs,
            &keys,
            vec![],
            d("2025-06-15"),
            &Default::default(),
        );
        assert_eq!(plan.inserts.len(), 1);
        assert!(plan.inserts[0].flags[1]);

        visits[1].is_missed = None;
        let opts = RuleOptions {
            insert_requires_not_missed: true,
            ..RuleOptions::default()
        };
        let plan = plan_rows(&visits, &pairs, &keys, vec![], d("2025-06-15"), &opts);
        assert!(plan.inserts.is_empty());
        assert_eq!(plan.not_inserted_by_switch, 1);
    }
}
