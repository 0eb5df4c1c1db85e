//! The two edges of a run: where visits come from and where conflicts are kept. The run
//! (the job) is generic over both, so services can embed it and tests can drive it with
//! in-memory implementations; production uses the ODBC analytics source and the
//! PostgreSQL store.

use std::collections::HashMap;

use chrono::{NaiveDate, NaiveDateTime};
use conflict_core::{DetectReport, DetectedPair, Exclusions, RuleOptions, Visit, Warnings, Window};

use conflict_core::inservice::{AdmittedEvent, EventKind, EventPair, EventSpan};

use crate::details::{SourcedEvent, VisitDetails};
use crate::scope::{BatchScope, Scope};

/// The reference data a run detects with: X, the speed bands and the exclusion lists
/// (docs/tables.md). Defined next to the ports because every store supplies it
/// ([`ConflictStore::reference`]); the PostgreSQL store reads it from its reference tables.
#[derive(Debug, Clone)]
pub struct Reference {
    /// `ExtraDistancePer` (X), finite and > 0.
    pub extra_distance_per: f64,
    /// The speed bands of the travel rule.
    pub bands: conflict_core::SpeedBands,
    /// Excluded providers and SSNs (docs/rules.md §3).
    pub exclusions: Exclusions,
    /// Data warnings found while reading it (`settings_missing`, `settings_multiple_rows`,
    /// `mph_band_invalid`, `mph_bands_overlap`, `mph_empty`).
    pub warnings: Warnings,
}

/// A (visit date, trimmed SSN) key.
pub type Key = (NaiveDate, String);

/// Reads base visits and their business columns (issue "Analytics source over ODBC").
pub trait VisitSource {
    /// What the source fails with; it fails the batch (or the run).
    type Error: std::error::Error + Send + Sync + 'static;

    /// Called before the reads of each batch (and of each event step, as batch `inservice` or
    /// `pto`) so that the source can label what follows, e.g. with Snowflake's `QUERY_TAG`.
    fn begin_batch(&mut self, _run_id: i64, _batch: &str) -> Result<(), Self::Error> {
        Ok(())
    }

    /// Admissible visits of the scope (window, exclusions and candidate pre-filter pushed down).
    fn visits(&mut self, scope: &BatchScope, ex: &Exclusions) -> Result<Vec<Visit>, Self::Error>;

    /// Business columns of the given visits, keyed by visit id.
    fn details(&mut self, ids: &[&str]) -> Result<HashMap<String, VisitDetails>, Self::Error>;

    /// Distinct prefixes of length `len` of the trimmed, non-blank SSNs of visits in the
    /// window, with visit counts (used to plan batches and skip empty ones).
    fn ssn_prefixes(
        &mut self,
        window: &Window,
        len: usize,
    ) -> Result<Vec<(String, u64)>, Self::Error>;

    /// Delta keys (docs/lifecycle.md §2): keys of visits in the window updated at or after `since`.
    fn delta_keys(
        &mut self,
        since: NaiveDateTime,
        window: &Window,
    ) -> Result<Vec<Key>, Self::Error>;

    /// In-service events (or PTO absences) of the window (docs/rules.md §13).
    fn events(
        &mut self,
        kind: EventKind,
        window: &Window,
        ex: &Exclusions,
    ) -> Result<Vec<SourcedEvent>, Self::Error>;

    /// Statements sent and rows read since the source was opened, in
    /// [`super::totals::IoCounts::warehouse_statements`] and `warehouse_rows_read` (the store
    /// fields stay 0), for the run report. A source that does not count reports nothing.
    fn io(&self) -> super::totals::IoCounts {
        super::totals::IoCounts::default()
    }

    /// The visits an event step pairs with `spans` (docs/lifecycle.md §7): at least every
    /// admissible visit of the window of a span's SSN whose interval (visit start to end)
    /// meets that span, without the candidate pre-filter. More is allowed (detection decides:
    /// e.g. every visit of the spans' SSNs); the warehouse sources read the visits that meet a
    /// span widened by a day on each side.
    fn visits_near_events(
        &mut self,
        window: &Window,
        spans: &[EventSpan],
        ex: &Exclusions,
    ) -> Result<Vec<Visit>, Self::Error>;
}

/// Which keys a run covers (docs/lifecycle.md §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Every key of the window.
    Full,
    /// Only the keys of visits changed since the watermark.
    Incremental,
}

impl Mode {
    /// The mode's name in reports and `detection_runs`.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Full => "full",
            Mode::Incremental => "incremental",
        }
    }
}

/// What a new run is asked to do.
#[derive(Debug, Clone)]
pub struct RunParams {
    /// Full or incremental.
    pub mode: Mode,
    /// The rule profile.
    pub profile: conflict_core::Profile,
    /// The rule switches (the profile's, with overrides).
    pub options: RuleOptions,
    /// Default: the date of the run timestamp.
    pub as_of: Option<NaiveDate>,
    /// Window: years before the as-of date.
    pub lookback_years: u32,
    /// Window: days after the as-of date.
    pub lookforward_days: u32,
    /// Incremental: explicit watermark; otherwise derived (docs/lifecycle.md §2).
    pub since: Option<NaiveDateTime>,
    /// Incremental: the safety look-back of the derived watermark, in hours (docs/lifecycle.md §2.2).
    pub lookback_hours: u32,
    /// Roll every batch back, report what would change (docs/lifecycle.md §13).
    pub dry_run: bool,
    /// InService detection after the regular batches (default on).
    pub inservice: bool,
    /// PTO detection (default off; the absence → caregiver link is provisional).
    pub pto: bool,
}

impl RunParams {
    /// The safety look-back of an incremental run's derived watermark (docs/lifecycle.md §2.2).
    pub const DEFAULT_LOOKBACK_HOURS: u32 = 36;

    /// A run of `mode` with the defaults of `conflicts run` without a configuration file: the
    /// current profile's rules, the default window around `as_of` (`None`: the run's date), a
    /// derived watermark with the default look-back, changes written, InService on, PTO off.
    pub fn new(mode: Mode, as_of: Option<NaiveDate>) -> RunParams {
        RunParams {
            mode,
            profile: conflict_core::Profile::Current,
            options: RuleOptions::default(),
            as_of,
            lookback_years: Window::DEFAULT_LOOKBACK_YEARS,
            lookforward_days: Window::DEFAULT_LOOKFORWARD_DAYS,
            since: None,
            lookback_hours: Self::DEFAULT_LOOKBACK_HOURS,
            dry_run: false,
            inservice: true,
            pto: false,
        }
    }
}

/// A run as recorded in `detection_runs`.
#[derive(Debug, Clone, PartialEq)]
pub struct RunInfo {
    /// `detection_runs` id.
    pub run_id: i64,
    /// Full or incremental.
    pub mode: Mode,
    /// Every timestamp the run writes (docs/lifecycle.md §1).
    pub run_ts: NaiveDateTime,
    /// The run's as-of date.
    pub as_of: NaiveDate,
    /// The run's date window.
    pub window: Window,
    /// Incremental: the watermark of the delta keys.
    pub since: Option<NaiveDateTime>,
}

/// One unit of work of the ledger: a set of whole keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchSpec {
    /// Stable name in the ledger, e.g. `ssn:123` or `keys:0007`.
    pub key: String,
    /// The keys it covers.
    pub scope: Scope,
}

/// Everything a batch hands to the store.
pub struct BatchInput<'a> {
    /// The visits the batch read.
    pub visits: &'a [Visit],
    /// What detection did with them.
    pub report: &'a DetectReport,
    /// The detected pairs, indexing `visits`.
    pub pairs: &'a [DetectedPair],
    /// Business columns of the visits in pairs, by visit id.
    pub details: &'a HashMap<String, VisitDetails>,
    /// The run's rule options (insert-only switches).
    pub options: &'a RuleOptions,
    /// Read and detection times of this batch, recorded in the ledger.
    pub fetch_secs: f64,
    /// Seconds spent detecting.
    pub detect_secs: f64,
    /// What reading the batch cost the warehouse (the store adds its own side to the
    /// batch's ledger share).
    pub io: super::totals::IoCounts,
}

/// Write counters of docs/lifecycle.md §11.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteCounts {
    /// Re-detected rows rewritten.
    pub updated: u64,
    /// Re-detected rows left untouched.
    pub unchanged: u64,
    /// Orphans adopted.
    pub adopted: u64,
    /// New rows.
    pub inserted: u64,
    /// New pairs suppressed by an insert-only switch.
    pub not_inserted_by_switch: u64,
    /// Stale rows resolved.
    pub resolved: u64,
    /// New `conflicts` rows.
    pub conflicts_created: u64,
    /// Write warnings (`duplicate_cvm_key`, …).
    pub warnings: Warnings,
}

impl WriteCounts {
    /// Adds `o`'s counters.
    pub fn merge(&mut self, o: &WriteCounts) {
        self.updated += o.updated;
        self.unchanged += o.unchanged;
        self.adopted += o.adopted;
        self.inserted += o.inserted;
        self.not_inserted_by_switch += o.not_inserted_by_switch;
        self.resolved += o.resolved;
        self.conflicts_created += o.conflicts_created;
        self.warnings.merge(&o.warnings);
    }
}

/// Everything the InService (or PTO) step hands to the store.
pub struct EventInput<'a> {
    /// In-service or PTO.
    pub kind: EventKind,
    /// The window's visits.
    pub visits: &'a [Visit],
    /// Admission of `visits` (trimmed SSNs, resolved locations).
    pub admission: &'a conflict_core::admit::Admission,
    /// The events read, with their payloads.
    pub events: &'a [SourcedEvent],
    /// The admitted events, indexing `events`.
    pub admitted_events: &'a [AdmittedEvent],
    /// The detected (visit, event) pairs.
    pub pairs: &'a [EventPair],
    /// Business columns of the visits in `pairs`.
    pub details: &'a HashMap<String, VisitDetails>,
}

/// Write counters of the InService step (docs/lifecycle.md §11).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventCounts {
    /// Rows rewritten.
    pub updated: u64,
    /// Rows left untouched.
    pub unchanged: u64,
    /// New rows.
    pub inserted: u64,
    /// New `conflicts` rows.
    pub conflicts_created: u64,
    /// Write warnings.
    pub warnings: Warnings,
}

/// How a run ended, for `detection_runs` and `InProgressFlag`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Every batch was applied.
    Succeeded,
    /// A batch or a step failed.
    Failed,
    /// Stopped by a signal before all batches were done; resumable.
    Interrupted,
    /// `--dry-run`: every batch was rolled back; recorded as `dry-run`, `InProgressFlag` 0.
    DryRun,
}

/// What a joining process finds about a run id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunState {
    /// No run has this id.
    Unknown,
    /// The run is in progress (its owner may still be planning its batches).
    Running,
    /// The run ended with this status (`succeeded`, `failed`, `dry-run`).
    Ended(String),
}

impl Outcome {
    /// The outcome as the run report names it (`succeeded`, `failed`, `interrupted`,
    /// `dry-run`; docs/lifecycle.md §11). `detection_runs."Status"` records an interrupted run
    /// as `failed`, so the store maps it on its own.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Succeeded => "succeeded",
            Outcome::Failed => "failed",
            Outcome::Interrupted => "interrupted",
            Outcome::DryRun => "dry-run",
        }
    }
}

/// Keeps conflicts (issue "PostgreSQL conflict store"). Shared by all workers of a process.
pub trait ConflictStore: Sync {
    /// What the store fails with; [`ConflictStore::is_transient`] tells whether to retry.
    type Error: std::error::Error + Send + Sync + 'static;
    /// Held for the whole run by the process that started (or resumed) it; dropping releases.
    type Lock: Send;

    /// The run lock of docs/lifecycle.md §9; `Ok(None)` when another run holds it.
    fn try_lock(&self) -> Result<Option<Self::Lock>, Self::Error>;

    /// Preflight: run timestamp, `detection_runs` row, `InProgressFlag = 1`, identity resync.
    /// Resolves `as_of`, the window and (incremental) `since`.
    fn begin_run(&self, params: &RunParams) -> Result<(RunInfo, Warnings), Self::Error>;

    /// The most recent run that did not succeed and can be resumed, if any.
    fn resumable_run(&self) -> Result<Option<RunInfo>, Self::Error>;

    /// A run by id (for `--join` and `--resume RUN_ID`).
    fn open_run(&self, run_id: i64) -> Result<Option<RunInfo>, Self::Error>;

    /// X, bands, exclusions (docs/tables.md §2).
    fn reference(&self) -> Result<Reference, Self::Error>;

    /// SSN prefixes of regular CVM rows with `VisitDate` in the window (full-run scope).
    fn stored_prefixes(
        &self,
        window: &Window,
        len: usize,
    ) -> Result<Vec<(String, u64)>, Self::Error>;

    /// Gives back every claim of the run (resuming after a crash: the claimants are gone).
    /// A store whose claims end with their claimant (the PostgreSQL store) needs to do nothing.
    fn reset_claims(&self, run_id: i64) -> Result<(), Self::Error>;

    /// Records the batches of a run in the ledger (idempotent: existing keys are kept).
    fn add_batches(&self, run_id: i64, batches: &[BatchSpec]) -> Result<(), Self::Error>;

    /// Claims the next batch that is neither done nor held by a live claimant, for `worker`
    /// (a name distinct per process and worker, recorded in the ledger). The claim lasts until
    /// the batch is applied or released, or its claimant dies; it is never taken from a live
    /// claimant, however slow.
    fn claim_batch(&self, run_id: i64, worker: &str) -> Result<Option<BatchSpec>, Self::Error>;

    /// Counts of batches of the run: (done, total).
    fn batch_progress(&self, run_id: i64) -> Result<(u64, u64), Self::Error>;

    /// Writes one batch in one transaction, marking it done in the ledger in the same
    /// transaction. With `dry_run` the data writes are rolled back (the counts are still
    /// returned) and only the ledger entry of the dry run itself is marked done.
    fn apply_batch(
        &self,
        run: &RunInfo,
        batch: &BatchSpec,
        input: &BatchInput<'_>,
        dry_run: bool,
    ) -> Result<WriteCounts, Self::Error>;

    /// Updates and inserts the InService (or PTO) rows of docs/lifecycle.md §7 in one transaction
    /// (no stale resolution); `dry_run` rolls back.
    fn apply_events(
        &self,
        run: &RunInfo,
        input: &EventInput<'_>,
        dry_run: bool,
    ) -> Result<EventCounts, Self::Error>;

    /// The event bookkeeping of `kind` (docs/lifecycle.md §7.1): the digest of every SSN's
    /// event inputs as the last committed step of that kind read them, by trimmed SSN. An
    /// incremental run re-derives only SSNs whose digest differs or whose visits changed.
    /// Empty means no bookkeeping (the first run after an upgrade, or a store that keeps
    /// none): the step then re-derives everything, so the default is always correct.
    fn event_digests(
        &self,
        _kind: EventKind,
    ) -> Result<HashMap<String, super::event_scope::Digest>, Self::Error> {
        Ok(HashMap::new())
    }

    /// [`ConflictStore::apply_events`], and records `digests` (the event bookkeeping of
    /// docs/lifecycle.md §7.1) in the same transaction, so that it describes exactly the rows
    /// committed; a dry run records nothing. The default records nothing: a store that keeps
    /// no bookkeeping answers [`ConflictStore::event_digests`] with nothing, and every step is
    /// full. A store implements both methods or neither.
    fn apply_events_with_digests(
        &self,
        run: &RunInfo,
        input: &EventInput<'_>,
        _digests: &super::event_scope::DigestUpdate,
        dry_run: bool,
    ) -> Result<EventCounts, Self::Error> {
        self.apply_events(run, input, dry_run)
    }

    /// The report shares of every done batch of the run, whichever process did them, so the
    /// owner's report covers the whole run. `None` when the store keeps no shares (then the
    /// owner reports the batches it did itself).
    fn batch_totals(
        &self,
        _run_id: i64,
    ) -> Result<Option<Vec<super::totals::BatchTotals>>, Self::Error> {
        Ok(None)
    }

    /// Gives a claimed batch back (after a failure or an interruption).
    fn release_batch(&self, run_id: i64, key: &str, error: Option<&str>)
        -> Result<(), Self::Error>;

    /// Finish: status and report in `detection_runs`, `InProgressFlag` 0 (2 on failure).
    fn finish_run(
        &self,
        run: &RunInfo,
        outcome: Outcome,
        report: &serde_json::Value,
    ) -> Result<(), Self::Error>;

    /// True when the error is worth retrying the batch (docs/lifecycle.md §9).
    fn is_transient(err: &Self::Error) -> bool;

    /// True when the error says that the batch's claim is no longer this worker's (another
    /// claimant completed or holds the batch): the batch is not this worker's to retry or to
    /// fail, and the run goes on.
    fn is_claim_lost(_err: &Self::Error) -> bool {
        false
    }

    /// Checks that a held run lock is still held; an error stops the run (docs/lifecycle.md §9).
    fn check_lock(&self, _lock: &mut Self::Lock) -> Result<(), Self::Error> {
        Ok(())
    }

    /// Whether the run exists and is still running, for a process that joins it.
    fn run_state(&self, run_id: i64) -> Result<RunState, Self::Error> {
        Ok(match self.open_run(run_id)? {
            Some(_) => RunState::Running,
            None => RunState::Unknown,
        })
    }
}
