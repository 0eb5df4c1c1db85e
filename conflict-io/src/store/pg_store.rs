//! [`PgStore`]: the PostgreSQL [`ConflictStore`] the job runs against.
//!
//! It owns a connection pool (one connection per batch worker, plus a few for the ledger
//! calls), the layout of the written CVM columns with the `varchar` lengths found by the
//! start-up check, and the connection target for the dedicated run-lock connection. Every
//! method checks a connection out for the duration of one call; the lock alone keeps its own
//! connection for the whole run.

use std::sync::Arc;
use std::time::Duration;

use conflict_core::{Warnings, Window};

use super::config::{ConnInfo, SchemaNames};
use super::cvm_row::CvmLayout;
use super::error::StoreError;
use super::pool::{connect, Pool, PoolOptions, PooledClient};
use super::reference::load_reference;
use super::runs::{self, RunLock};
use super::schema::{check_deployment_schema, check_schema, SchemaInfo};
use super::schema_plan::ensure_tool_tables;
use super::{ledger, stored_rows, writer};
use crate::run::Reference;
use crate::run::{
    BatchInput, BatchSpec, BatchTotals, ChangeSink, ConflictStore, Outcome, RunInfo, RunParams,
    WriteCounts,
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
        })
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

    fn reset_claims(&self, run_id: i64) -> Result<(), StoreError> {
        ledger::reset_claims(&mut *self.client()?, &self.names, run_id).map(|_| ())
    }

    fn add_batches(&self, run_id: i64, batches: &[BatchSpec]) -> Result<(), StoreError> {
        ledger::add_batches(&mut *self.client()?, &self.names, run_id, batches)
    }

    fn claim_batch(
        &self,
        run_id: i64,
        worker: &str,
        stall: Duration,
    ) -> Result<Option<BatchSpec>, StoreError> {
        ledger::claim(&mut *self.client()?, &self.names, run_id, worker, stall)
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
        let mut client = self.client()?;
        writer::apply_batch(
            &mut client,
            &self.names,
            &self.layout,
            run,
            batch,
            input,
            dry_run,
            self.changes(),
        )
    }

    fn batch_totals(&self, run_id: i64) -> Result<Option<Vec<BatchTotals>>, StoreError> {
        ledger::batch_totals(&mut *self.client()?, &self.names, run_id).map(Some)
    }

    fn release_batch(&self, run_id: i64, key: &str, error: Option<&str>) -> Result<(), StoreError> {
        ledger::release(&mut *self.client()?, &self.names, run_id, key, error)
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
        let mut client = self.client()?;
        super::event_writer::apply_events(
            &mut client,
            &self.names,
            &self.layout,
            run,
            input,
            dry_run,
            self.changes(),
        )
    }

    fn is_transient(err: &StoreError) -> bool {
        err.is_transient()
    }
}
