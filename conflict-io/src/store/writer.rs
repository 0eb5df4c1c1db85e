//! The batch writer (docs/lifecycle.md §3–§6, §9): everything one batch changes, in one
//! transaction together with its ledger entry.
//!
//! Order inside the transaction:
//!
//! 1. the detected pairs' written values go to a temporary table (binary COPY);
//! 2. reads: the stored rows with the pairs' keys over the whole table, each with whether its
//!    content differs ([`pair_table::read_matched`]), and the regular rows of the stale scope;
//! 3. the plan ([`batch_plan::plan_rows`], `conflict_core::plan::Planner`): updates,
//!    adoptions, inserts, unchanged rows, stale rows;
//! 4. `CONFLICTID`s: reuse the smallest of the primary visit, else allocate (ascending
//!    `VisitID`);
//! 5. writes: update, insert, missing parents, stale resolution — each one set-based
//!    statement;
//! 6. the commit fence ([`ledger::fence`]: the batch's ledger row, locked, must still name
//!    this worker as its claimant), the ledger entry, then commit. Any error before the
//!    commit rolls everything back; so does a lost claim.

use std::collections::{BTreeMap, HashMap};

use conflict_core::plan::conflict_id::missing_parents;
use conflict_core::plan::{plan_conflict_ids, RowKind, StoredRow};
use conflict_core::WarningKind;
use postgres::{Client, GenericClient};

use super::batch_plan::{plan_rows, PairKey, RowPlan};
use super::cell::Cell;
use super::change_capture;
use super::config::SchemaNames;
use super::conflict_rows;
use super::cvm_row::CvmLayout;
use super::error::StoreError;
use super::ledger;
use super::pair_table::{self, PairLink};
use super::row_writes;
use super::stored_rows::{existing_conflicts, read_scope_rows, smallest_conflict_ids};
use super::uuid_param::UuidParam;
use crate::run::{BatchInput, BatchSpec, BatchTotals, Change, ChangeSink, RunInfo, WriteCounts};
use crate::scope::BatchScope;

/// A test's look inside a batch: called with the batch key and the server process id of the
/// batch's session, inside the batch's transaction after its writes and before the commit
/// fence. Fault-injection tests pause a worker here or end its session; production sets none.
pub type BatchHook = std::sync::Arc<dyn Fn(&str, i32) + Send + Sync>;

/// How one batch is written, besides its data.
pub(crate) struct BatchWrite<'a> {
    /// Roll the data back; only the ledger entry is committed.
    pub dry_run: bool,
    /// Shadow mode: where the committed changes go.
    pub changes: Option<&'a dyn ChangeSink>,
    /// The claimant the ledger row must still name at commit time; `None` for a batch that
    /// is not in the ledger at all (a store used without a run, as in tests and embeddings):
    /// then there is no claim to check and no ledger entry to complete.
    pub claimant: Option<&'a str>,
    pub hook: Option<&'a BatchHook>,
}

/// Writes one batch; see the module documentation. With `dry_run` the data transaction is
/// rolled back and the ledger entry is then marked done on its own. With `changes` (shadow
/// mode) the changed rows are captured inside the transaction and handed to the sink only
/// once the batch's ledger entry is committed, so a rolled-back or retried batch leaves no
/// line behind.
pub(crate) fn apply_batch(
    client: &mut Client,
    names: &SchemaNames,
    layout: &CvmLayout,
    run: &RunInfo,
    batch: &BatchSpec,
    input: &BatchInput<'_>,
    how: &BatchWrite<'_>,
) -> Result<WriteCounts, StoreError> {
    let (dry_run, changes) = (how.dry_run, how.changes);
    let started = std::time::Instant::now();
    let mut counts = WriteCounts::default();
    let begin = |e| StoreError::db("begin the batch transaction", None, e);
    let mut tx = client.transaction().map_err(begin)?;
    // The batch's statements carry a few hundred expressions over thousands of rows, so
    // their estimated cost is high enough for PostgreSQL to JIT-compile them; compiling took
    // longer than running them (measured: over a second per statement), and each statement
    // runs once.
    tx.batch_execute("SET LOCAL jit = off")
        .map_err(|e| StoreError::db("configure the batch transaction", None, e))?;
    let lines = write_batch(
        &mut tx,
        names,
        layout,
        run,
        batch,
        input,
        &mut counts,
        changes.is_some(),
    )?;
    crate::test_hooks::pause_in_write();
    // The batch's share of the whole-run report, kept in the ledger so that the process that
    // owns the run can report batches other processes did.
    let mut totals = BatchTotals::of_batch(input, &counts, started.elapsed().as_secs_f64());
    // What the batch read and wrote in the conflict tables, as the server counted it.
    let store_io = super::counters::transaction_io(&mut tx, names)?;
    totals.io.add(&store_io);
    if let Some(hook) = how.hook {
        let pid: i32 = tx
            .query_one("SELECT pg_backend_pid()", &[])
            .map_err(|e| StoreError::db("read the session's process id", None, e))?
            .get(0);
        hook(&batch.key, pid);
    }
    let (run_id, key, claimant) = (run.run_id, batch.key.as_str(), how.claimant);
    if dry_run {
        tx.rollback()
            .map_err(|e| StoreError::db("roll back the dry-run batch", None, e))?;
        if let Some(claimant) = claimant {
            let mut tx = client.transaction().map_err(begin)?;
            ledger::fence(&mut tx, names, run_id, key, claimant)?;
            ledger::mark_done(&mut tx, names, run_id, key, claimant, &counts, &totals)?;
            tx.commit()
                .map_err(|e| StoreError::db("commit the dry-run ledger entry", None, e))?;
        }
    } else {
        if let Some(claimant) = claimant {
            ledger::fence(&mut tx, names, run_id, key, claimant)?;
            ledger::mark_done(&mut tx, names, run_id, key, claimant, &counts, &totals)?;
        }
        tx.commit()
            .map_err(|e| StoreError::db("commit the batch", None, e))?;
    }
    if let (Some(sink), Some(lines)) = (changes, lines) {
        sink.write(&lines)
            .map_err(|source| StoreError::ChangesOut { source })?;
    }
    Ok(counts)
}

#[allow(clippy::too_many_arguments)]
fn write_batch<C: GenericClient>(
    tx: &mut C,
    names: &SchemaNames,
    layout: &CvmLayout,
    run: &RunInfo,
    batch: &BatchSpec,
    input: &BatchInput<'_>,
    counts: &mut WriteCounts,
    capture: bool,
) -> Result<Option<Vec<Change>>, StoreError> {
    // The pairs' values are built as they are copied (a bad value fails the COPY, and the
    // transaction is rolled back like for any other error); their keys are kept for the plan.
    let mut built = BuiltPairs::new(layout, input, &mut counts.warnings);
    let matched = if input.pairs.is_empty() {
        Vec::new()
    } else {
        pair_table::copy_pairs(tx, layout, &mut built)?;
        pair_table::read_matched(tx, names, layout)?
    };
    let keys = built.keys;
    let scope = BatchScope {
        window: run.window,
        scope: batch.scope.clone(),
    };
    let scope_rows: Vec<StoredRow> = read_scope_rows(tx, names, &scope)?
        .into_iter()
        .map(|r| r.into_stored())
        .collect();

    let plan = plan_rows(
        input.visits,
        input.pairs,
        &keys,
        matched,
        &scope_rows,
        run.as_of,
        input.options,
    );
    let conflict_ids = conflict_ids(tx, names, &plan, run, counts)?;
    let stale = &plan.stale;

    let capture = if capture {
        let updated: Vec<i64> = plan.updates.iter().map(|u| u.row.id).collect();
        Some(change_capture::begin(tx, names, &updated, stale)?)
    } else {
        None
    };

    counts.updated =
        row_writes::update_rows(tx, names, layout, &plan.updates, &conflict_ids, run.run_ts)?;
    counts.adopted = plan.adopted();
    counts.unchanged = plan.unchanged;
    counts.inserted =
        row_writes::insert_rows(tx, names, layout, &plan.inserts, &conflict_ids, run.run_ts)?;
    counts.not_inserted_by_switch = plan.not_inserted_by_switch;
    counts.warnings.merge(&plan.warnings);

    repair_parents(tx, names, &plan, &conflict_ids, run, counts)?;

    counts.resolved = row_writes::resolve_stale(tx, names, stale, run.run_ts)?;
    match capture {
        None => Ok(None),
        Some(capture) => {
            let inserted: Vec<i32> = plan.inserts.iter().map(|i| i.pair as i32).collect();
            let lines = capture.collect(tx, names, &inserted)?;
            change_capture::check_counts(&lines, counts.updated, counts.inserted, counts.resolved)?;
            Ok(Some(lines))
        }
    }
}

/// The batch's detected pairs as [`pair_table::PairSource`]: each visit of a pair is one side
/// row, built when the COPY asks for it; each pair then names its two side rows and gets its
/// own values and warnings. The pairs' keys are kept for the plan.
struct BuiltPairs<'a, 'b> {
    layout: &'a CvmLayout,
    input: &'a BatchInput<'b>,
    warnings: &'a mut conflict_core::Warnings,
    keys: Vec<PairKey>,
    /// Per side row, its visit (index into `input.visits`), in order of first appearance.
    side_visits: Vec<usize>,
    /// Per visit, its side row (`u32::MAX`: in no pair).
    side_of: Vec<u32>,
    /// Per side row built so far: the visit's id (bytes and canonical text) and the side
    /// columns that were cut.
    side_ids: Vec<(UuidParam, String)>,
    cut: Vec<Vec<u16>>,
}

impl<'a, 'b> BuiltPairs<'a, 'b> {
    fn new(
        layout: &'a CvmLayout,
        input: &'a BatchInput<'b>,
        warnings: &'a mut conflict_core::Warnings,
    ) -> Self {
        let mut side_of = vec![u32::MAX; input.visits.len()];
        let mut side_visits = Vec::new();
        for pair in input.pairs {
            for v in [pair.v1, pair.v2] {
                if side_of[v] == u32::MAX {
                    side_of[v] = side_visits.len() as u32;
                    side_visits.push(v);
                }
            }
        }
        BuiltPairs {
            layout,
            input,
            warnings,
            keys: Vec::with_capacity(input.pairs.len()),
            side_ids: Vec::with_capacity(side_visits.len()),
            cut: Vec::with_capacity(side_visits.len()),
            side_visits,
            side_of,
        }
    }
}

impl pair_table::PairSource for &mut BuiltPairs<'_, '_> {
    fn sides(&self) -> usize {
        self.side_visits.len()
    }

    fn side(&mut self, s: usize, cells: &mut Vec<Cell>) -> Result<(), StoreError> {
        let mut cut = Vec::new();
        let id = self
            .layout
            .build_side(self.input, self.side_visits[s], cells, &mut cut)?;
        self.side_ids.push((id, id.to_string()));
        self.cut.push(cut);
        Ok(())
    }

    fn pairs(&self) -> usize {
        self.input.pairs.len()
    }

    fn pair(&mut self, i: usize, link: &mut PairLink) -> Result<(), StoreError> {
        let pair = &self.input.pairs[i];
        let (a, b) = (
            self.side_of[pair.v1] as usize,
            self.side_of[pair.v2] as usize,
        );
        link.visit_id = self.side_ids[a].0;
        link.con_visit_id = self.side_ids[b].0;
        // Side rows are counted in an int4 before any pair is asked for.
        link.sides = [a as i32, b as i32];
        self.layout.build_pair_values(
            &pair.metrics,
            [&self.cut[a], &self.cut[b]],
            &self.input.visits[pair.v1].visit_id,
            self.warnings,
            &mut link.cells,
        );
        self.keys.push(PairKey {
            visit_id: self.side_ids[a].1.clone(),
            con_visit_id: self.side_ids[b].1.clone(),
        });
        Ok(())
    }
}

/// §5.2: the `CONFLICTID` of every primary visit that needs one in this batch — the smallest
/// one already on any of its rows, else a newly allocated conflict.
pub(crate) fn conflict_ids<C: GenericClient>(
    tx: &mut C,
    names: &SchemaNames,
    plan: &RowPlan,
    run: &RunInfo,
    counts: &mut WriteCounts,
) -> Result<BTreeMap<String, i64>, StoreError> {
    let needing: Vec<&str> = plan.visits_needing_ids().into_iter().collect();
    if needing.is_empty() {
        return Ok(BTreeMap::new());
    }
    let existing = smallest_conflict_ids(tx, names, &needing)?;
    let existing: HashMap<&str, i64> = existing.iter().map(|(k, &v)| (k.as_str(), v)).collect();
    let id_plan = plan_conflict_ids(needing.iter().copied(), &existing);
    let allocated = conflict_rows::allocate(tx, names, id_plan.allocate.len(), run.run_ts)?;
    counts.conflicts_created = allocated.len() as u64;
    Ok(id_plan.assign(&allocated))
}

/// Adds a parent for every `CONFLICTID` the batch wrote or kept on an inserted, rewritten or
/// adopted row that has none (warning `missing_parent_conflict`).
pub(crate) fn repair_parents<C: GenericClient>(
    tx: &mut C,
    names: &SchemaNames,
    plan: &RowPlan,
    conflict_ids: &BTreeMap<String, i64>,
    run: &RunInfo,
    counts: &mut WriteCounts,
) -> Result<(), StoreError> {
    let inserted = plan
        .inserts
        .iter()
        .filter_map(|i| conflict_ids.get(&i.visit_id).copied());
    let updated = plan.updates.iter().filter_map(|u| match u.row.kind {
        RowKind::Orphan => conflict_ids.get(&u.row.visit_id).copied(),
        _ => u.row.conflict_id,
    });
    let written: Vec<i64> = {
        let mut w: Vec<i64> = inserted.chain(updated).collect();
        w.sort_unstable();
        w.dedup();
        w
    };
    if written.is_empty() {
        return Ok(());
    }
    let existing = existing_conflicts(tx, names, &written)?;
    let missing = missing_parents(written, &existing);
    for id in &missing {
        counts.warnings.add(
            WarningKind::MissingParentConflict,
            Some(&format!("CONFLICTID={id}")),
        );
    }
    conflict_rows::insert_parents(tx, names, &missing, run.run_ts)?;
    Ok(())
}
