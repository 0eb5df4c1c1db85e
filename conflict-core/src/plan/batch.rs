//! The one planner of a run's row writes (docs/lifecycle.md §3–§7): given the detected pairs
//! of a batch (or of the InService/PTO step) and the facts the store read about the stored
//! rows with their keys, it decides every update, adoption, insert, unchanged row, stale row
//! and `CONFLICTID` need, with no I/O.
//!
//! Stores only read facts, call [`Planner::plan`] and carry the plan out; an in-memory store
//! that does the same runs exactly the lifecycle the PostgreSQL store runs.
//!
//! The step's row kind is the parameter ([`Planner::kind`]):
//!
//! * [`RowKind::Regular`] (the batches): a key's regular and orphan rows are updated, orphans
//!   adopted; a new pair passes the insert-only switches; the regular rows of the stale scope
//!   that were not detected are resolved (§6);
//! * [`RowKind::InService`] / [`RowKind::Pto`] (§7): only rows of the step's own kind match a
//!   key; the seven rule flags are computed `'N'`; the kind's flag (`InServiceFlag` /
//!   `PTOFlag`) is sticky, so a stored `'N'` turning `'Y'` is a content change; there is no
//!   stale resolution and no insert-only switch.

use std::collections::{BTreeSet, HashMap, HashSet};

use chrono::NaiveDate;

use super::conflict_id::sort_for_insert;
use super::insert::{insert_decision, InsertDecision, NewPair};
use super::matching::{match_pair, PairMatch};
use super::row::{RowKind, StoredRow};
use super::stale::stale_rows;
use super::update::{plan_update, sticky_flag, UpdatePlan};
use crate::options::RuleOptions;
use crate::stats::{WarningKind, Warnings};

/// One detected pair as the planner needs it: its key, and what the insert-only switches need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DetectedRow {
    /// The key's `VisitID` (canonical text as the store compares it).
    pub visit_id: String,
    /// The key's `ConVisitID`.
    pub con_visit_id: String,
    /// Computed flags, missed states and visit date; for InService/PTO pairs the flags are
    /// all false (the rule flags of such rows are `'N'`).
    pub new: NewPair,
}

/// What the store read about one stored row that carries the key of a detected pair.
///
/// `P` is whatever the store needs to carry the update out later (the PostgreSQL store keeps
/// which columns differ); it travels with the row into [`PlannedUpdate::payload`] untouched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowFacts<P = ()> {
    /// Index of the detected pair (in the slice given to [`Planner::plan`]).
    pub pair: usize,
    /// The stored row's control columns.
    pub row: StoredRow,
    /// Some written column other than the rule flags and the control columns differs from the
    /// new value after the write conversions (for event rows including the event dates of the
    /// row's side). Stores compare values; deciding what a difference means is the planner's.
    pub content_changed: bool,
    /// Event steps only: the stored value of the step's kind flag (`InServiceFlag` or
    /// `PTOFlag`), which is sticky. Ignored by the regular step.
    pub kind_flag: Option<String>,
    /// Carried to the update, see the type's documentation.
    pub payload: P,
}

/// A stored row that is rewritten.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedUpdate<P = ()> {
    /// The detected pair whose values it takes.
    pub pair: usize,
    /// The row as read: its `"ID"`, and the control values a careful write checks are still
    /// there.
    pub row: StoredRow,
    /// New status and flags.
    pub plan: UpdatePlan,
    /// An orphan that receives its primary visit's `CONFLICTID` (regular step only).
    pub adopt: bool,
    /// The store's payload of the row, from [`RowFacts::payload`].
    pub payload: P,
}

/// A detected pair without any stored row that is inserted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedInsert {
    /// Index of the detected pair.
    pub pair: usize,
    /// Flags after the insert-only switches (all false for event rows).
    pub flags: [bool; 7],
    /// The key's `VisitID`, the primary visit whose `CONFLICTID` the row gets.
    pub visit_id: String,
    /// The key's `ConVisitID`.
    pub con_visit_id: String,
}

/// Everything a batch (or the InService/PTO step) writes, decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchPlan<P = ()> {
    /// Rewritten rows, adopted orphans included, in pair then `"ID"` order.
    pub updates: Vec<PlannedUpdate<P>>,
    /// New rows, in (`VisitID`, `ConVisitID`) order: the order of their identity `"ID"`s.
    pub inserts: Vec<PlannedInsert>,
    /// Matched rows whose written values would all stay the same: not touched at all.
    pub unchanged: u64,
    /// New pairs suppressed by an insert-only switch (still detected for §6).
    pub not_inserted_by_switch: u64,
    /// `"ID"`s of the stale-scope rows the run resolves (regular step only), ascending.
    pub stale: Vec<i64>,
    /// `duplicate_cvm_key` and `key_held_by_other_kind`, with the key's `VisitID` as example.
    pub warnings: Warnings,
}

impl<P> Default for BatchPlan<P> {
    fn default() -> Self {
        BatchPlan {
            updates: Vec::new(),
            inserts: Vec::new(),
            unchanged: 0,
            not_inserted_by_switch: 0,
            stale: Vec::new(),
            warnings: Warnings::default(),
        }
    }
}

impl<P> BatchPlan<P> {
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

    /// Orphans adopted by this plan (the report's `adopted`).
    pub fn adopted(&self) -> u64 {
        self.updates.iter().filter(|u| u.adopt).count() as u64
    }
}

/// The step a plan is made for; see the module documentation.
#[derive(Debug, Clone, Copy)]
pub struct Planner<'a> {
    /// The rows the step owns: [`RowKind::Regular`] for the batches (an `Orphan` argument
    /// plans the same way), [`RowKind::InService`] or [`RowKind::Pto`] for the event steps.
    pub kind: RowKind,
    /// The run's as-of date (insert-only switches).
    pub as_of: NaiveDate,
    /// The run's rule options (insert-only switches).
    pub options: &'a RuleOptions,
}

impl Planner<'_> {
    fn is_event_step(&self) -> bool {
        matches!(self.kind, RowKind::InService | RowKind::Pto)
    }

    /// Plans every detected pair of `pairs`. `facts` holds every stored row, of any kind and
    /// anywhere in the table, that carries one of the pairs' keys; `scope_rows` the stored
    /// rows of the batch's stale scope (ignored by the event steps).
    pub fn plan<P>(
        &self,
        pairs: &[DetectedRow],
        facts: Vec<RowFacts<P>>,
        scope_rows: &[StoredRow],
    ) -> BatchPlan<P> {
        let mut by_pair: HashMap<usize, Vec<RowFacts<P>>> = HashMap::new();
        for f in facts {
            by_pair.entry(f.pair).or_default().push(f);
        }
        let mut plan = BatchPlan::default();
        for (idx, pair) in pairs.iter().enumerate() {
            let mut rows = by_pair.remove(&idx).unwrap_or_default();
            // Stores return rows in no particular order; "ID" order makes the plan (and the
            // order of the warnings' examples) deterministic.
            rows.sort_by_key(|f| f.row.id);
            if self.is_event_step() {
                self.plan_event_pair(idx, pair, rows, &mut plan);
            } else {
                self.plan_regular_pair(idx, pair, rows, &mut plan);
            }
        }
        // The INSERT orders by key itself; sorting here keeps the plan in the same order.
        sort_for_insert(&mut plan.inserts, |i| (&i.visit_id, &i.con_visit_id));
        if !self.is_event_step() {
            // Pairs suppressed by a switch or held by another kind still count as detected
            // (§5.1).
            let detected: HashSet<(&str, &str)> = pairs
                .iter()
                .map(|p| (p.visit_id.as_str(), p.con_visit_id.as_str()))
                .collect();
            let mut stale: Vec<i64> = stale_rows(scope_rows, &detected)
                .iter()
                .map(|r| r.id)
                .collect();
            stale.sort_unstable();
            plan.stale = stale;
        }
        plan
    }

    /// §3–§5 for one pair of a batch.
    fn plan_regular_pair<P>(
        &self,
        idx: usize,
        pair: &DetectedRow,
        rows: Vec<RowFacts<P>>,
        plan: &mut BatchPlan<P>,
    ) {
        let stored: Vec<&StoredRow> = rows.iter().map(|f| &f.row).collect();
        let (targets, duplicate): (Vec<i64>, bool) = match match_pair(&stored) {
            PairMatch::Update { rows, duplicate } => {
                (rows.iter().map(|r| r.id).collect(), duplicate)
            }
            PairMatch::Insert => {
                match insert_decision(&pair.new, self.as_of, self.options) {
                    InsertDecision::Insert { flags } => plan.inserts.push(PlannedInsert {
                        pair: idx,
                        flags,
                        visit_id: pair.visit_id.clone(),
                        con_visit_id: pair.con_visit_id.clone(),
                    }),
                    InsertDecision::NotInsertedBySwitch => plan.not_inserted_by_switch += 1,
                }
                return;
            }
            PairMatch::HeldByOtherKind => {
                plan.warnings
                    .add(WarningKind::KeyHeldByOtherKind, Some(&pair.visit_id));
                return;
            }
        };
        if duplicate {
            plan.warnings
                .add(WarningKind::DuplicateCvmKey, Some(&pair.visit_id));
        }
        for f in rows.into_iter().filter(|f| targets.contains(&f.row.id)) {
            let adopt = f.row.kind == RowKind::Orphan;
            let up = plan_update(&f.row, &pair.new.flags, f.content_changed, adopt);
            push_update(plan, idx, f, up, adopt);
        }
    }

    /// §7 for one (visit, event) pair.
    fn plan_event_pair<P>(
        &self,
        idx: usize,
        pair: &DetectedRow,
        rows: Vec<RowFacts<P>>,
        plan: &mut BatchPlan<P>,
    ) {
        let (own, other): (Vec<RowFacts<P>>, Vec<RowFacts<P>>) =
            rows.into_iter().partition(|f| f.row.kind == self.kind);
        if own.is_empty() {
            if other.is_empty() {
                plan.inserts.push(PlannedInsert {
                    pair: idx,
                    flags: [false; 7],
                    visit_id: pair.visit_id.clone(),
                    con_visit_id: pair.con_visit_id.clone(),
                });
            } else {
                // The pair key is unique in the table: a key held by a row of another kind
                // cannot get a row of this one.
                plan.warnings
                    .add(WarningKind::KeyHeldByOtherKind, Some(&pair.visit_id));
            }
            return;
        }
        if own.len() > 1 {
            plan.warnings
                .add(WarningKind::DuplicateCvmKey, Some(&pair.visit_id));
        }
        for f in own {
            // The kind flag is sticky like a rule flag: only a stored 'N' becomes 'Y', and
            // that is a change of the row's content.
            let stored = f.kind_flag.as_deref();
            let kind_flag_changed = sticky_flag(stored, true) != stored;
            let up = plan_update(
                &f.row,
                &[false; 7],
                f.content_changed || kind_flag_changed,
                false,
            );
            push_update(plan, idx, f, up, false);
        }
    }
}

fn push_update<P>(
    plan: &mut BatchPlan<P>,
    pair: usize,
    f: RowFacts<P>,
    up: UpdatePlan,
    adopt: bool,
) {
    if up.rewrite {
        plan.updates.push(PlannedUpdate {
            pair,
            row: f.row,
            plan: up,
            adopt,
            payload: f.payload,
        });
    } else {
        plan.unchanged += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::super::row::fixtures::row;
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn detected(flag: Option<usize>) -> DetectedRow {
        let mut flags = [false; 7];
        if let Some(i) = flag {
            flags[i] = true;
        }
        DetectedRow {
            visit_id: "a".into(),
            con_visit_id: "b".into(),
            new: NewPair {
                flags,
                v1_missed: Some(false),
                v2_missed: Some(false),
                visit_date: d("2025-06-10"),
            },
        }
    }

    fn facts(r: StoredRow) -> RowFacts {
        RowFacts {
            pair: 0,
            row: r,
            content_changed: false,
            kind_flag: None,
            payload: (),
        }
    }

    fn kinded(id: i64, kind: RowKind) -> StoredRow {
        let mut r = row(id, "a", "b");
        r.kind = kind;
        if kind == RowKind::Orphan {
            r.conflict_id = None;
        }
        r
    }

    fn planner(kind: RowKind, options: &RuleOptions) -> Planner<'_> {
        Planner {
            kind,
            as_of: d("2025-06-15"),
            options,
        }
    }

    #[test]
    fn regular_and_orphan_rows_are_updated_and_the_orphan_adopted() {
        let o = RuleOptions::default();
        // Row 2 (orphan) is given first: the plan still follows "ID" order.
        let plan = planner(RowKind::Regular, &o).plan(
            &[detected(Some(0))],
            vec![
                facts(kinded(2, RowKind::Orphan)),
                facts(kinded(1, RowKind::Regular)),
            ],
            &[],
        );
        // Both rows have SameSchTimeFlag 'N' and the pair has it: 'N' -> 'Y', status 'U'.
        assert_eq!(plan.updates.len(), 2);
        assert_eq!(plan.updates[0].row.id, 1);
        assert!(!plan.updates[0].adopt);
        assert!(plan.updates[1].adopt);
        assert_eq!(plan.updates[0].plan.status.as_deref(), Some("U"));
        assert_eq!(plan.updates[0].plan.flags[0].as_deref(), Some("Y"));
        assert_eq!(plan.adopted(), 1);
        assert_eq!(plan.warnings.count(WarningKind::DuplicateCvmKey), 1);
        assert_eq!(
            plan.visits_needing_ids().into_iter().collect::<Vec<_>>(),
            ["a"]
        );
    }

    #[test]
    fn a_row_whose_values_all_stay_is_counted_unchanged() {
        let o = RuleOptions::default();
        let mut r = kinded(1, RowKind::Regular);
        r.flags[0] = Some("Y".into());
        let plan = planner(RowKind::Regular, &o).plan(&[detected(Some(0))], vec![facts(r)], &[]);
        assert!(plan.updates.is_empty());
        assert_eq!(plan.unchanged, 1);
    }

    #[test]
    fn a_key_held_only_by_an_event_row_is_left_alone_by_the_batch() {
        let o = RuleOptions::default();
        let plan = planner(RowKind::Regular, &o).plan(
            &[detected(Some(0))],
            vec![facts(kinded(1, RowKind::InService))],
            &[],
        );
        assert!(plan.updates.is_empty() && plan.inserts.is_empty());
        assert_eq!(plan.warnings.count(WarningKind::KeyHeldByOtherKind), 1);
    }

    #[test]
    fn new_pairs_pass_the_insert_only_switches() {
        let o = RuleOptions::default();
        let plan = planner(RowKind::Regular, &o).plan::<()>(&[detected(Some(1))], vec![], &[]);
        assert_eq!(plan.inserts.len(), 1);
        assert!(plan.inserts[0].flags[1]);

        let o = RuleOptions {
            insert_requires_not_missed: true,
            ..RuleOptions::default()
        };
        let mut p = detected(Some(1));
        p.new.v2_missed = None;
        let plan = planner(RowKind::Regular, &o).plan::<()>(&[p], vec![], &[]);
        assert!(plan.inserts.is_empty());
        assert_eq!(plan.not_inserted_by_switch, 1);
    }

    #[test]
    fn undetected_regular_rows_of_the_scope_are_stale_only_in_the_batch_step() {
        let o = RuleOptions::default();
        // Scope: row 5 is the detected key, row 6 another key, row 7 another key marked 'W'.
        let kept = kinded(5, RowKind::Regular);
        let gone = row(6, "c", "d");
        let mut decided = row(7, "e", "f");
        decided.status = Some("W".into());
        let scope = [kept.clone(), gone, decided];
        let plan = planner(RowKind::Regular, &o).plan(
            &[detected(Some(0))],
            vec![facts(kept.clone())],
            &scope,
        );
        assert_eq!(plan.stale, [6]);
        let plan = planner(RowKind::InService, &o).plan::<()>(&[detected(None)], vec![], &scope);
        assert!(plan.stale.is_empty());
    }

    #[test]
    fn event_steps_match_only_their_own_kind() {
        let o = RuleOptions::default();
        let p = planner(RowKind::InService, &o);
        // No row: inserted with every rule flag false, whatever the switches.
        let plan = p.plan::<()>(&[detected(None)], vec![], &[]);
        assert_eq!(plan.inserts.len(), 1);
        assert_eq!(plan.inserts[0].flags, [false; 7]);
        // Only a regular row: left alone (the key is unique in the table).
        let plan = p.plan(
            &[detected(None)],
            vec![facts(kinded(1, RowKind::Regular))],
            &[],
        );
        assert!(plan.updates.is_empty() && plan.inserts.is_empty());
        assert_eq!(plan.warnings.count(WarningKind::KeyHeldByOtherKind), 1);
        // A PTO row is another kind for the InService step too.
        let plan = p.plan(&[detected(None)], vec![facts(kinded(1, RowKind::Pto))], &[]);
        assert_eq!(plan.warnings.count(WarningKind::KeyHeldByOtherKind), 1);
    }

    #[test]
    fn the_kind_flag_is_sticky_and_its_change_is_a_content_change() {
        let o = RuleOptions::default();
        let p = planner(RowKind::Pto, &o);
        let with_flag = |flag: Option<&str>, changed: bool| {
            let mut f = facts(kinded(1, RowKind::Pto));
            f.kind_flag = flag.map(str::to_string);
            f.content_changed = changed;
            p.plan(&[detected(None)], vec![f], &[])
        };
        // Stored 'N' becomes 'Y': a content change, status 'N' -> 'U' (§4.2).
        let plan = with_flag(Some("N"), false);
        assert_eq!(plan.updates.len(), 1);
        assert_eq!(plan.updates[0].plan.status.as_deref(), Some("U"));
        // Stored 'Y', same dates: nothing to write.
        let plan = with_flag(Some("Y"), false);
        assert_eq!((plan.updates.len(), plan.unchanged), (0, 1));
        // Stored 'Y', changed dates: rewritten.
        let plan = with_flag(Some("Y"), true);
        assert_eq!(plan.updates.len(), 1);
        // Two rows of the kind with the key: both updated, one warning.
        let mut a = facts(kinded(1, RowKind::Pto));
        a.kind_flag = Some("N".into());
        let mut b = facts(kinded(2, RowKind::Pto));
        b.kind_flag = Some("N".into());
        let plan = p.plan(&[detected(None)], vec![b, a], &[]);
        assert_eq!(
            plan.updates.iter().map(|u| u.row.id).collect::<Vec<_>>(),
            [1, 2]
        );
        assert_eq!(plan.warnings.count(WarningKind::DuplicateCvmKey), 1);
    }
}
