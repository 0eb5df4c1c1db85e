//! An in-memory conflictvisitmaps for the job tests: it reads the same facts the PostgreSQL
//! store reads, asks the core's planner (`conflict_core::plan::Planner`) and carries the plan
//! out on a vector, so the job tests see the real lifecycle (docs/lifecycle.md §3–§6).
//!
//! "Content" is reduced to the pair's metrics: enough for a re-detected pair with the same
//! values to be unchanged and one with other values to be rewritten.

use std::collections::HashMap;

use chrono::{NaiveDate, NaiveDateTime};
use conflict_core::plan::conflict_id::smallest_by_visit;
use conflict_core::plan::{
    plan_conflict_ids, DetectedRow, NewPair, Planner, RowFacts, RowKind, StoredRow,
};

use super::ports::{BatchInput, RunInfo, WriteCounts};
use crate::scope::{BatchScope, Scope};

/// One stored row: the control columns the planner sees, and what the scope and the content
/// comparison need.
#[derive(Debug, Clone)]
pub(crate) struct MemRow {
    pub row: StoredRow,
    pub visit_date: NaiveDate,
    /// V1's trimmed SSN.
    pub ssn: String,
    pub content: String,
    pub updated: NaiveDateTime,
}

/// The table, with the two identity sequences.
#[derive(Debug, Clone, Default)]
pub(crate) struct MemoryCvm {
    pub rows: Vec<MemRow>,
    next_id: i64,
    next_conflict: i64,
}

fn in_scope(r: &MemRow, scope: &BatchScope) -> bool {
    scope.window.contains(r.visit_date)
        && match &scope.scope {
            Scope::Window => true,
            Scope::SsnPrefix(p) => r.ssn.starts_with(p.as_str()),
            Scope::Keys(keys) => keys.iter().any(|(d, s)| *d == r.visit_date && *s == r.ssn),
        }
}

impl MemoryCvm {
    /// Rows with this status, any kind.
    pub fn with_status(&self, status: &str) -> usize {
        self.rows
            .iter()
            .filter(|r| r.row.status.as_deref() == Some(status))
            .count()
    }

    /// Distinct SSN prefixes of the regular rows in the window, with row counts: the batches
    /// must also cover keys that only stored rows still have (so that they can go stale).
    pub fn prefixes(&self, window: &conflict_core::Window, len: usize) -> Vec<(String, u64)> {
        let mut out: std::collections::BTreeMap<String, u64> = Default::default();
        for r in &self.rows {
            if r.row.kind == RowKind::Regular && window.contains(r.visit_date) && !r.ssn.is_empty()
            {
                *out.entry(r.ssn.chars().take(len).collect()).or_default() += 1;
            }
        }
        out.into_iter().collect()
    }

    /// One batch: facts, plan, writes. Mirrors `store::writer::write_batch`.
    pub fn apply(
        &mut self,
        run: &RunInfo,
        scope: &BatchScope,
        input: &BatchInput<'_>,
    ) -> WriteCounts {
        let detected: Vec<DetectedRow> = input
            .pairs
            .iter()
            .map(|p| DetectedRow {
                visit_id: input.visits[p.v1].visit_id.clone(),
                con_visit_id: input.visits[p.v2].visit_id.clone(),
                new: NewPair {
                    flags: p.flags.to_array(),
                    v1_missed: input.visits[p.v1].is_missed,
                    v2_missed: input.visits[p.v2].is_missed,
                    visit_date: input.visits[p.v1].visit_date,
                },
            })
            .collect();
        let contents: Vec<String> = input
            .pairs
            .iter()
            .map(|p| format!("{:?}", p.metrics))
            .collect();
        let by_key: HashMap<(&str, &str), usize> = detected
            .iter()
            .enumerate()
            .map(|(i, d)| ((d.visit_id.as_str(), d.con_visit_id.as_str()), i))
            .collect();
        let facts: Vec<RowFacts<()>> = self
            .rows
            .iter()
            .filter_map(|r| {
                let &pair = by_key.get(&r.row.key())?;
                Some(RowFacts {
                    pair,
                    row: r.row.clone(),
                    content_changed: r.content != contents[pair],
                    kind_flag: None,
                    payload: (),
                })
            })
            .collect();
        let scope_rows: Vec<StoredRow> = self
            .rows
            .iter()
            .filter(|r| in_scope(r, scope))
            .map(|r| r.row.clone())
            .collect();
        let plan = Planner {
            kind: RowKind::Regular,
            as_of: run.as_of,
            options: input.options,
        }
        .plan(&detected, facts, &scope_rows);

        // §5.2: reuse the smallest CONFLICTID of the primary visit, else allocate in order.
        let mut counts = WriteCounts::default();
        let existing = smallest_by_visit(
            self.rows
                .iter()
                .map(|r| (r.row.visit_id.as_str(), r.row.conflict_id)),
        );
        let ids = plan_conflict_ids(plan.visits_needing_ids(), &existing);
        let allocated: Vec<i64> = ids
            .allocate
            .iter()
            .map(|_| {
                self.next_conflict += 1;
                self.next_conflict
            })
            .collect();
        counts.conflicts_created = allocated.len() as u64;
        let ids = ids.assign(&allocated);

        for u in &plan.updates {
            let r = self
                .rows
                .iter_mut()
                .find(|r| r.row.id == u.row.id)
                .expect("the plan updates rows it was given");
            r.row.status = u.plan.status.clone();
            r.row.flags = u.plan.flags.clone();
            r.row.update_flag = None;
            r.row.resolve_date = None;
            if u.adopt {
                r.row.conflict_id = ids.get(&r.row.visit_id).copied();
                r.row.kind = RowKind::Regular;
            }
            r.content = contents[u.pair].clone();
            r.updated = run.run_ts;
        }
        for i in &plan.inserts {
            self.next_id += 1;
            let p = &input.pairs[i.pair];
            self.rows.push(MemRow {
                row: StoredRow {
                    id: self.next_id,
                    visit_id: i.visit_id.clone(),
                    con_visit_id: i.con_visit_id.clone(),
                    conflict_id: ids.get(&i.visit_id).copied(),
                    kind: RowKind::Regular,
                    status: Some("N".into()),
                    update_flag: None,
                    resolve_date: None,
                    flags: i.flags.map(|f| Some(if f { "Y" } else { "N" }.to_string())),
                },
                visit_date: input.visits[p.v1].visit_date,
                ssn: input.visits[p.v1]
                    .ssn
                    .as_deref()
                    .unwrap_or("")
                    .trim()
                    .to_string(),
                content: contents[i.pair].clone(),
                updated: run.run_ts,
            });
        }
        for id in &plan.stale {
            let r = self
                .rows
                .iter_mut()
                .find(|r| r.row.id == *id)
                .expect("stale rows come from the table");
            r.row.status = Some("R".into());
            r.row.resolve_date = r.row.resolve_date.or(Some(run.run_ts));
            r.updated = run.run_ts;
        }
        counts.updated = plan.updates.len() as u64;
        counts.adopted = plan.adopted();
        counts.unchanged = plan.unchanged;
        counts.inserted = plan.inserts.len() as u64;
        counts.not_inserted_by_switch = plan.not_inserted_by_switch;
        counts.resolved = plan.stale.len() as u64;
        counts.warnings = plan.warnings;
        counts
    }
}
