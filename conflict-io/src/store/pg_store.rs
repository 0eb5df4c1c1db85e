//! [`PgStore`]: the PostgreSQL [`ConflictStore`] the job runs against.
//!
//! It owns a connection pool (one connection per batch worker, plus a few for the ledger
//! calls), the layout of the written CVM columns with the `varchar` lengths found by the
//! start-up check, and the connection target for the dedicated connections. Every method
//! checks a connection out for the duration of one call, with two exceptions that hold a
//! connection of their own because what they hold dies with it: the run lock (for the whole
//! run) and each claimed batch (from the claim until the batch is applied or released; the
//! batch's advisory lock lives on that connection and the batch's transaction runs on it).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use postgres::Client;

use conflict_core::{Warnings, Window};

use super::config::{ConnInfo, SchemaNames};
use super::cvm_row::CvmLayout;
use super::error::StoreError;
use super::pool::{connect, Pool, PoolOptions, PooledClient};
use super::reference::load_reference;
use super::runs::{self, RunLock};
use super::schema::{check_deployment_schema, check_schema, SchemaInfo};
use super::schema_plan::ensure_tool_tables;
use super::writer::{BatchHook, BatchWrite};
use super::{ledger, stored_rows, writer};
use crate::run::Reference;
use crate::run::{
    BatchInput, BatchSpec, BatchTotals, ChangeSink, ConflictStore, Outcome, RunInfo, RunParams,
    RunState, WriteCounts,
};

/// The conflict store over a PostgreSQL conflict schema.
pub struct PgStore {
    conn: ConnInfo,
    names: SchemaNames,
    pool: Pool,
    info: SchemaInfo,
    layout: CvmLayout,
    /// Shadow mode: where committed changes go (see [`PgStore::with_changes`]).
    changes: Option<Arc<dyn ChangeSink>>,
    /// The batches this process holds, by (run, batch key); `None` while an apply has the
    /// claim checked out (the key stays, so no other worker of this process claims it).
    claims: Mutex<HashMap<(i64, String), Option<HeldClaim>>>,
    /// Fault injection for tests (see [`PgStore::with_batch_hook`]).
    hook: Option<BatchHook>,
}

/// A batch this process has claimed: the claimant's name and the connection whose session
/// holds the batch's advisory lock. `None` after the connection was given up (a transient
/// failure): the next attempt claims the batch again on a fresh connection.
struct HeldClaim {
    worker: String,
    client: Option<Client>,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // ConnInfo's own Display is the redacted form.
        f.debug_struct("PgStore")
            .field("target", &self.conn.to_string())
            .field("schema", &self.names.conflict.as_str())
            .field("pool", &self.pool)
            .finish()
    }
}

impl PgStore {
    /// Opens the pool (at most `max_connections` connections), creates the tool's own tables
    /// (`detection_runs`, the ledger) when they do not exist yet and runs the start-up check of
    /// docs/tables.md §1 once.
    pub fn connect(
        conn: &ConnInfo,
        names: SchemaNames,
        max_connections: u32,
    ) -> Result<PgStore, StoreError> {
        let pool = Pool::build(
            conn,
            &PoolOptions {
                workers: max_connections.max(1),
                ..PoolOptions::default()
            },
        )?;
        let mut client = pool.get()?;
        // The deployment's tables are only ever created by `db init`: when one is missing the
        // run stops here, before it has created anything. The tool's own tables are created
        // next when missing; the full check then covers them too.
        check_deployment_schema(&mut *client, &names)?;
        ensure_tool_tables(&mut client, &names)?;
        let info = check_schema(&mut *client, &names)?;
        drop(client);
        let layout = CvmLayout::new(&info);
        Ok(PgStore {
            conn: conn.clone(),
            names,
            pool,
            info,
            layout,
            changes: None,
            claims: Mutex::new(HashMap::new()),
            hook: None,
        })
    }

    /// Fault injection for tests: `hook` runs inside every batch transaction after the
    /// batch's writes and before its commit fence, with the batch key and the session's server
    /// process id, so a test can pause a worker there or end its session.
    pub fn with_batch_hook(mut self, hook: BatchHook) -> PgStore {
        self.hook = Some(hook);
        self
    }

    /// A batch this process has not claimed: written only when the run's ledger does not
    /// know it (a store driven without a run's ledger); a ledger batch must be claimed first.
    fn apply_unclaimed(
        &self,
        run: &RunInfo,
        batch: &BatchSpec,
        input: &BatchInput<'_>,
        dry_run: bool,
    ) -> Result<WriteCounts, StoreError> {
        let mut client = self.client()?;
        if ledger::has_batch(&mut *client, &self.names, run.run_id, &batch.key)? {
            return Err(StoreError::ClaimLost {
                key: batch.key.clone(),
                status: "not claimed by this process".into(),
                holder: None,
            });
        }
        let how = BatchWrite {
            dry_run,
            changes: self.changes(),
            claimant: None,
            hook: self.hook.as_ref(),
        };
        writer::apply_batch(
            &mut client,
            &self.names,
            &self.layout,
            run,
            batch,
            input,
            &how,
        )
    }

    fn held(&self) -> std::sync::MutexGuard<'_, HashMap<(i64, String), Option<HeldClaim>>> {
        // A panic while the map was locked leaves it consistent (single inserts/removes).
        self.claims.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The held claim of a batch with a live connection: the one it was claimed on, or a
    /// fresh one on which the batch is claimed again (after a lost connection).
    fn claim_connection<'h>(
        &self,
        run_id: i64,
        held: &'h mut HeldClaim,
        key: &str,
    ) -> Result<&'h mut Client, StoreError> {
        if held.client.as_ref().is_some_and(Client::is_closed) {
            held.client = None;
        }
        let client = match held.client.take() {
            Some(client) => client,
            None => {
                let mut client = connect(&self.conn)?;
                if !ledger::reclaim(&mut client, &self.names, run_id, key, &held.worker)? {
                    return Err(StoreError::ClaimLost {
                        key: key.to_string(),
                        status: "taken by another claimant".into(),
                        holder: None,
                    });
                }
                client
            }
        };
        Ok(held.client.insert(client))
    }

    /// Shadow mode (`--changes-out`): every conflict row a batch or the InService/PTO step
    /// changes (or, dry, would change) is handed to `sink` once its transaction is settled.
    pub fn with_changes(mut self, sink: Arc<dyn ChangeSink>) -> PgStore {
        self.changes = Some(sink);
        self
    }

    /// The shadow-mode sink, when one is set.
    pub(crate) fn changes(&self) -> Option<&dyn ChangeSink> {
        self.changes.as_deref()
    }

    /// The schema names the store was opened with.
    pub fn names(&self) -> &SchemaNames {
        &self.names
    }

    /// What the start-up check found (declared `varchar` lengths).
    pub fn schema_info(&self) -> &SchemaInfo {
        &self.info
    }

    /// The connection pool (for statements outside the port, e.g. `db` commands).
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    fn client(&self) -> Result<PooledClient, StoreError> {
        self.pool.get()
    }

    /// Applies the in-service step's changes (and, when given, the digests of the caregivers
    /// it read) on a pooled connection: the one path behind both port methods.
    fn write_events(
        &self,
        run: &RunInfo,
        input: &crate::run::EventInput<'_>,
        digests: Option<&crate::run::DigestUpdate>,
        dry_run: bool,
    ) -> Result<crate::run::EventCounts, StoreError> {
        let mut client = self.client()?;
        super::event_writer::apply_events(
            &mut client,
            &self.names,
            &self.layout,
            run,
            input,
            digests,
            dry_run,
            self.changes(),
        )
    }

    /// Runs `f` in a transaction of a pooled connection and commits it.
    fn in_transaction<T>(
        &self,
        what: &'static str,
        f: impl FnOnce(&mut postgres::Transaction<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut client = self.client()?;
        let mut tx = client
            .transaction()
            .map_err(|e| StoreError::db(format!("begin: {what}"), None, e))?;
        let out = f(&mut tx)?;
        tx.commit()
            .map_err(|e| StoreError::db(format!("commit: {what}"), None, e))?;
        Ok(out)
    }
}

impl ConflictStore for PgStore {
    type Error = StoreError;
    type Lock = RunLock;

    fn try_lock(&self) -> Result<Option<RunLock>, StoreError> {
        // A connection of its own: the advisory lock lives exactly as long as it, and the
        // pool could otherwise hand it to a worker or close it.
        runs::try_lock(connect(&self.conn)?, &self.names)
    }

    fn begin_run(&self, params: &RunParams) -> Result<(RunInfo, Warnings), StoreError> {
        self.in_transaction("start the run", |tx| {
            runs::begin_run(tx, &self.names, params)
        })
    }

    fn resumable_run(&self) -> Result<Option<RunInfo>, StoreError> {
        runs::resumable_run(&mut *self.client()?, &self.names)
    }

    fn open_run(&self, run_id: i64) -> Result<Option<RunInfo>, StoreError> {
        runs::open_run(&mut *self.client()?, &self.names, run_id)
    }

    fn reference(&self) -> Result<Reference, StoreError> {
        // One snapshot for X, bands and exclusions.
        self.in_transaction("read the reference tables", |tx| {
            load_reference(tx, &self.names)
        })
    }

    fn stored_prefixes(
        &self,
        window: &Window,
        len: usize,
    ) -> Result<Vec<(String, u64)>, StoreError> {
        stored_rows::stored_prefixes(&mut *self.client()?, &self.names, window, len)
    }

    fn reset_claims(&self, _run_id: i64) -> Result<(), StoreError> {
        // A claim is a session's advisory lock: a crashed claimant's batches are free already,
        // and resetting the ledger rows could only disturb a live joiner of the earlier attempt.
        Ok(())
    }

    fn add_batches(&self, run_id: i64, batches: &[BatchSpec]) -> Result<(), StoreError> {
        ledger::add_batches(&mut *self.client()?, &self.names, run_id, batches)
    }

    fn claim_batch(&self, run_id: i64, worker: &str) -> Result<Option<BatchSpec>, StoreError> {
        // A connection of its own per claim: the claim lives exactly as long as its session.
        let mut client = connect(&self.conn)?;
        // Batches this process holds (some may be between a lost connection and their retry,
        // with no lock held for a moment) are not for its other workers.
        let held: Vec<String> = self
            .held()
            .keys()
            .filter(|(r, _)| *r == run_id)
            .map(|(_, k)| k.clone())
            .collect();
        let spec = ledger::claim(&mut client, &self.names, run_id, worker, &held)?;
        if let Some(spec) = &spec {
            let held = HeldClaim {
                worker: worker.to_string(),
                client: Some(client),
            };
            self.held().insert((run_id, spec.key.clone()), Some(held));
        }
        Ok(spec)
    }

    fn batch_progress(&self, run_id: i64) -> Result<(u64, u64), StoreError> {
        ledger::progress(&mut *self.client()?, &self.names, run_id)
    }

    fn apply_batch(
        &self,
        run: &RunInfo,
        batch: &BatchSpec,
        input: &BatchInput<'_>,
        dry_run: bool,
    ) -> Result<WriteCounts, StoreError> {
        let id = (run.run_id, batch.key.clone());
        // Checked out, the key left in place: see `claims`.
        let held = self.held().get_mut(&id).and_then(Option::take);
        let Some(mut held) = held else {
            return self.apply_unclaimed(run, batch, input, dry_run);
        };
        let worker = held.worker.clone();
        let result = self
            .claim_connection(run.run_id, &mut held, &batch.key)
            .and_then(|client| {
                let how = BatchWrite {
                    dry_run,
                    changes: self.changes(),
                    claimant: Some(&worker),
                    hook: self.hook.as_ref(),
                };
                writer::apply_batch(client, &self.names, &self.layout, run, batch, input, &how)
            });
        match &result {
            Ok(_) | Err(StoreError::ClaimLost { .. }) => {
                // Done, or no longer ours: give the lock back with the connection.
                if let Some(mut client) = held.client.take() {
                    ledger::unlock_batch(&mut client, &self.names, run.run_id, &batch.key);
                }
                self.held().remove(&id);
            }
            Err(e) => {
                if e.is_transient() {
                    // A retry starts on a fresh connection: this one may be dead or broken.
                    if let Some(mut client) = held.client.take() {
                        ledger::unlock_batch(&mut client, &self.names, run.run_id, &batch.key);
                    }
                }
                // Kept for the retry or for release_batch.
                self.held().insert(id, Some(held));
            }
        }
        result
    }

    fn batch_totals(&self, run_id: i64) -> Result<Option<Vec<BatchTotals>>, StoreError> {
        ledger::batch_totals(&mut *self.client()?, &self.names, run_id).map(Some)
    }

    fn release_batch(&self, run_id: i64, key: &str, error: Option<&str>) -> Result<(), StoreError> {
        let Some(mut held) = self.held().remove(&(run_id, key.to_string())).flatten() else {
            return Ok(());
        };
        let worker = held.worker.clone();
        match held.client.as_mut().filter(|c| !c.is_closed()) {
            Some(client) => {
                let r = ledger::release(client, &self.names, run_id, key, &worker, error);
                ledger::unlock_batch(client, &self.names, run_id, key);
                r
            }
            None => ledger::release(
                &mut *self.client()?,
                &self.names,
                run_id,
                key,
                &worker,
                error,
            ),
        }
    }

    fn finish_run(
        &self,
        run: &RunInfo,
        outcome: Outcome,
        report: &serde_json::Value,
    ) -> Result<(), StoreError> {
        self.in_transaction("finish the run", |tx| {
            runs::finish_run(tx, &self.names, run, outcome, report)
        })
    }

    fn apply_events(
        &self,
        run: &RunInfo,
        input: &crate::run::EventInput<'_>,
        dry_run: bool,
    ) -> Result<crate::run::EventCounts, StoreError> {
        self.write_events(run, input, None, dry_run)
    }

    fn apply_events_with_digests(
        &self,
        run: &RunInfo,
        input: &crate::run::EventInput<'_>,
        digests: &crate::run::DigestUpdate,
        dry_run: bool,
    ) -> Result<crate::run::EventCounts, StoreError> {
        self.write_events(run, input, Some(digests), dry_run)
    }

    fn event_digests(
        &self,
        kind: conflict_core::inservice::EventKind,
    ) -> Result<HashMap<String, crate::run::Digest>, StoreError> {
        let mut client = self.client()?;
        super::event_digests::read(&mut *client, &self.names, kind)
    }

    fn is_transient(err: &StoreError) -> bool {
        err.is_transient()
    }

    fn is_claim_lost(err: &StoreError) -> bool {
        matches!(err, StoreError::ClaimLost { .. })
    }

    fn check_lock(&self, lock: &mut RunLock) -> Result<(), StoreError> {
        lock.check()
    }

    fn run_state(&self, run_id: i64) -> Result<RunState, StoreError> {
        runs::run_state(&mut *self.client()?, &self.names, run_id)
    }
}
