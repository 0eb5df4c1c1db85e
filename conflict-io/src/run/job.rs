//! The nightly job (docs/lifecycle.md §1): take part in a run ([`super::take_part`]: lock, start,
//! resume or join), plan its batches ([`super::plan`]), then fetch → detect → write them with
//! several workers ([`super::workers`]), then the InService/PTO step ([`super::event_step`]);
//! a ledger makes the run resumable and shareable between processes.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use conflict_core::inservice::EventKind;
use conflict_core::{DetectConfig, GeoParams};

use super::event_step::{event_step, phase_name, read_event_step, write_event_step, EventRead};
use super::plan::plan_batches;
use super::ports::{
    BatchSpec, ConflictStore, Mode, Outcome, RunInfo, RunParams, VisitSource, WriteCounts,
};
use super::report::RunReport;
use super::take_part::{take_part, Participation};
use super::workers::{run_batches, Ctx};

/// How the job splits and schedules work.
#[derive(Debug, Clone)]
pub struct JobOptions {
    /// Batches this process works on at the same time, each with its own analytics and store
    /// connection.
    pub workers: usize,
    /// SSN prefix length of full-run batches; `None` chooses it from the data.
    pub prefix_len: Option<usize>,
    /// Upper bound of visits per batch when the prefix length is chosen automatically.
    pub max_visits_per_batch: u64,
    /// Keys per batch of an incremental run.
    pub keys_per_batch: usize,
    /// Retries of a batch write after a transient failure (docs/lifecycle.md §9).
    pub retries: u32,
    /// Wait before the first retry of a batch; it doubles with every further retry (up to
    /// [`MAX_BACKOFF`]) so that a server in failover gets time to come back.
    pub retry_backoff: Duration,
    /// Name of this process in the ledger; distinct per process (host, process id, a random
    /// part), so the ledger says which process completed each batch.
    pub worker_name: String,
    /// How often a process waits for batches claimed by others, or (joining) for the owner
    /// to plan the run.
    pub poll: Duration,
}

/// The longest wait between two attempts of a batch.
pub const MAX_BACKOFF: Duration = Duration::from_secs(10);

impl Default for JobOptions {
    fn default() -> Self {
        JobOptions {
            workers: std::thread::available_parallelism().map_or(2, |n| n.get()),
            prefix_len: None,
            max_visits_per_batch: 750_000,
            keys_per_batch: 20_000,
            retries: 3,
            retry_backoff: Duration::from_millis(200),
            worker_name: default_worker_name(),
            poll: Duration::from_secs(2),
        }
    }
}

/// `host:pid:random`: unique per process even across machines and pid reuse.
fn default_worker_name() -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "host".into());
    // The clock's nanoseconds are random enough to tell two processes with one pid apart.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!("{host}:{}:{nanos:08x}", std::process::id())
}

/// How this process takes part in a run.
#[derive(Debug, Clone)]
pub enum Start {
    /// Start a new run with these parameters (the run lock is taken for its whole length).
    New(RunParams),
    /// Resume the given run, or the latest resumable one.
    Resume(Option<i64>),
    /// Help a run started elsewhere (no lock; the owner finishes the run). The joiner waits
    /// until the owner has planned the run's batches.
    Join(i64),
}

/// Callbacks for progress display; every method has a no-op default.
pub trait Observer: Sync {
    /// A new phase of the run begins (`preflight`, `load_reference`, `scope`, `inservice`, ...).
    fn phase(&self, _name: &str) {}
    /// The run's batches are known: `total` of them, `done` already completed (a resume).
    fn planned(&self, _run: &RunInfo, _total: u64, _done: u64) {}
    /// This process committed batch `key` with `visits` visits.
    fn batch_done(&self, _key: &str, _visits: u64, _counts: &WriteCounts) {}
    /// Batch `key` failed for good (no retries left, or a permanent error).
    fn batch_failed(&self, _key: &str, _error: &str) {}
    /// Batch `key` failed transiently; attempt number `attempt` follows after a back-off.
    fn retrying(&self, _key: &str, _attempt: u32, _error: &str) {}
    /// Another claimant completed or holds the batch; this process let it go.
    fn claim_lost(&self, _key: &str, _error: &str) {}
}

/// An observer that shows nothing.
pub struct Silent;
impl Observer for Silent {}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Why a run could not be taken part in or did not end well; the CLI maps each to an exit code.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// Another process holds the schema's run lock (docs/lifecycle.md §1).
    #[error("another run holds the run lock of this conflict schema; nothing was changed")]
    Locked,
    /// `--resume`/`--join` named a run id the ledger does not know.
    #[error("run {0} does not exist")]
    NoSuchRun(i64),
    /// `--resume` without an id found no interrupted or failed run.
    #[error("there is no interrupted or failed run to resume")]
    NothingToResume,
    /// `--join` of a run that is over: nothing is left to help with.
    #[error("run {run_id} has ended ({status}); there is nothing to join{}", resume_hint(status, *run_id))]
    RunEnded {
        /// The run that was to be joined.
        run_id: i64,
        /// Its final status in the ledger.
        status: String,
    },
    /// `--join` of a run whose owner stopped before it planned the batches.
    #[error(
        "run {0} has no owner any more (it stopped before planning its batches); continue it \
         with `conflicts run --resume {0}`"
    )]
    OwnerGone(i64),
    /// Stopped (Ctrl-C) while waiting for the owner to plan the run: nothing was done.
    #[error("interrupted while waiting for run {0} to plan its batches; nothing was done")]
    JoinInterrupted(i64),
    // The message carries the cause; exposing it as `source()` too would print it twice.
    /// Reading the analytics warehouse failed (or it returned inconsistent data).
    #[error("analytics source: {0}")]
    Source(BoxError),
    /// Reading or writing the conflict database failed.
    #[error("conflict store: {0}")]
    Store(BoxError),
    /// One batch failed for good: its fetch, its data or its write.
    #[error("batch {key}: {cause}")]
    Batch {
        /// The batch's key in the ledger.
        key: String,
        /// Why it failed.
        cause: Box<JobError>,
    },
    /// A step failed on every attempt; transient failures are retried with a growing wait
    /// (docs/lifecycle.md §9), so this is what is left after the last one.
    #[error("failed after {attempts} attempt(s): {cause}")]
    Retried {
        /// Attempts made, the first included.
        attempts: u32,
        /// The error of the last attempt.
        cause: BoxError,
    },
    /// A worker of this process stopped before it could claim a batch (its analytics
    /// connection could not be opened).
    #[error("{worker}: {cause}")]
    Worker {
        /// The worker's name in the ledger (`process/wN`).
        worker: String,
        /// Why it stopped.
        cause: Box<JobError>,
    },
    /// The ledger refused to hand out the next batch.
    #[error("claiming a batch: {0}")]
    Claim(BoxError),
    /// Some batches (or workers) failed for good; the run is marked failed and can be resumed.
    #[error("{failed} batch(es) failed; first: {first}")]
    Batches {
        /// How many failures there were.
        failed: usize,
        /// The first of them, usually a [`JobError::Batch`].
        first: Box<JobError>,
    },
}

fn resume_hint(status: &str, run_id: i64) -> String {
    if status == "failed" {
        format!("; its owner can continue it with `conflicts run --resume {run_id}`")
    } else {
        String::new()
    }
}

/// The result of [`run_job`]: how the run ended and what it did.
#[derive(Debug, Clone)]
pub struct JobResult {
    /// How the run ended (succeeded, failed, interrupted, dry run).
    pub outcome: Outcome,
    /// The whole run when this process owns it; this process's own batches when it joined.
    pub report: RunReport,
    /// Set when this process owns the run (started or resumed it).
    pub owner: bool,
}

pub(super) fn store_err<E: std::error::Error + Send + Sync + 'static>(e: E) -> JobError {
    JobError::Store(Box::new(e))
}

pub(super) fn source_err<E: std::error::Error + Send + Sync + 'static>(e: E) -> JobError {
    JobError::Source(Box::new(e))
}

/// The source returned two different records under one visit id.
pub(super) fn duplicate_ids(d: &[conflict_core::admit::DuplicateId]) -> JobError {
    JobError::Source(
        format!(
            "visit id {:?} came back as two different records",
            d[0].visit_id
        )
        .into(),
    )
}

/// What every step of a run needs and no step changes.
pub(super) struct Job<'a, St, F> {
    pub store: &'a St,
    pub make_source: &'a F,
    pub params: &'a RunParams,
    pub opts: &'a JobOptions,
    pub cancel: &'a AtomicBool,
    pub observer: &'a dyn Observer,
}

/// Runs (or resumes, or joins) a detection run to its end.
///
/// `params_for_resume` carries the profile, rule options and dry-run switch; for a new run it is
/// the same as the `Start::New` parameters. `make_source` opens one analytics connection per
/// worker. `cancel` stops claiming new
/// batches: running batches commit or roll back and the ledger stays consistent.
pub fn run_job<St, S, F>(
    store: &St,
    make_source: F,
    start: Start,
    params_for_resume: &RunParams,
    opts: &JobOptions,
    cancel: &AtomicBool,
    observer: &dyn Observer,
) -> Result<JobResult, JobError>
where
    St: ConflictStore,
    S: VisitSource,
    F: Fn() -> Result<S, S::Error> + Sync,
{
    let job = Job {
        store,
        make_source: &make_source,
        params: params_for_resume,
        opts,
        cancel,
        observer,
    };
    let started = Instant::now();
    observer.phase("preflight");
    let Participation {
        lock,
        run,
        warnings,
        owner,
    } = take_part(&job, &start)?;
    let dry_run = params_for_resume.dry_run;
    let profile = params_for_resume.profile.as_str();
    let mut report = RunReport::for_run(&run, profile, dry_run, opts.workers);
    report.timing.preflight = started.elapsed().as_secs_f64();
    report.add_warnings(&warnings);
    let lock = lock.map(Mutex::new);

    let result = drive(&job, &start, &run, lock.as_ref(), &mut report);

    let finish_started = Instant::now();
    let outcome = match (&result, cancel.load(Ordering::SeqCst)) {
        (Err(_), _) => Outcome::Failed,
        (Ok(()), true) => Outcome::Interrupted,
        (Ok(()), false) if dry_run => Outcome::DryRun,
        (Ok(()), false) => Outcome::Succeeded,
    };
    report.status = outcome.as_str().to_string();
    report.timing.total = started.elapsed().as_secs_f64();
    report.set_rates();
    if owner {
        observer.phase("finish");
        store
            .finish_run(&run, outcome, &report.to_json())
            .map_err(store_err)?;
    }
    report.timing.finish = finish_started.elapsed().as_secs_f64();
    drop(lock);
    result.map(|()| JobResult {
        outcome,
        report,
        owner,
    })
}

/// Everything between taking part and finishing: reference data, batch planning (a new run),
/// the batches, and (the owner) the InService/PTO step.
fn drive<St, S, F>(
    job: &Job<'_, St, F>,
    start: &Start,
    run: &RunInfo,
    lock: Option<&Mutex<St::Lock>>,
    report: &mut RunReport,
) -> Result<(), JobError>
where
    St: ConflictStore,
    S: VisitSource,
    F: Fn() -> Result<S, S::Error> + Sync,
{
    let (store, observer) = (job.store, job.observer);
    let t = Instant::now();
    observer.phase("load_reference");
    let reference = store.reference().map_err(store_err)?;
    report.add_warnings(&reference.warnings);
    let geo = GeoParams::default()
        .with_extra_distance_per(reference.extra_distance_per)
        .map_err(store_err)?;
    let cfg = DetectConfig {
        options: job.params.options,
        geo,
        bands: reference.bands.clone(),
        window: run.window,
        exclusions: reference.exclusions.clone(),
    };
    report.timing.load_reference = t.elapsed().as_secs_f64();

    let owner = !matches!(start, Start::Join(_));
    let ctx = Ctx {
        job,
        run,
        cfg: &cfg,
        lock,
        owner,
    };
    let kinds: Vec<EventKind> = [
        (EventKind::InService, job.params.inservice),
        (EventKind::Pto, job.params.pto),
    ]
    .into_iter()
    .filter_map(|(kind, on)| (owner && on).then_some(kind))
    .collect();
    // A full run's event steps read (warehouse only) while the run is planned and its batches
    // run, on a connection of their own, and write after the batches as always: their reads
    // depend on nothing a batch writes, and the planning query leaves a core idle. An
    // incremental run needs the delta keys of its planning first and reads afterwards.
    let prefetch = run.mode == Mode::Full && !kinds.is_empty();
    std::thread::scope(|s| {
        let reading = prefetch.then(|| {
            s.spawn(|| -> Result<Vec<EventRead>, JobError> {
                let mut source = (job.make_source)().map_err(source_err)?;
                let mut reads = Vec::new();
                for &kind in &kinds {
                    if job.cancel.load(Ordering::SeqCst) {
                        break;
                    }
                    match read_event_step(&ctx, kind, None, &mut source)? {
                        Some(read) => reads.push(read),
                        None => break,
                    }
                }
                Ok(reads)
            })
        });
        let batches = plan_and_run(&ctx, start, report);
        // From here on the step's time: waiting for its reads, if they are not done, and its
        // write (docs/lifecycle.md §7), so that the report's time line adds up.
        let t = Instant::now();
        let read = reading.map(|h| match h.join() {
            Ok(read) => read,
            Err(panic) => std::panic::resume_unwind(panic),
        });
        let delta_ssns = batches?;
        // A joining process has no event step (`kinds` is empty).
        if kinds.is_empty() || job.cancel.load(Ordering::SeqCst) {
            return Ok(());
        }
        match read {
            Some(read) => {
                for r in read? {
                    observer.phase(phase_name(r.kind));
                    write_event_step(&ctx, r, report)?;
                }
            }
            None => {
                let (delta_ssns, mut idle_source) = delta_ssns;
                for &kind in &kinds {
                    observer.phase(phase_name(kind));
                    event_step(&ctx, kind, delta_ssns.as_ref(), &mut idle_source, report)?;
                }
            }
        }
        report.timing.inservice += t.elapsed().as_secs_f64();
        Ok(())
    })
}

/// Plans a new run (its batches and, for an incremental run, the SSNs of its delta keys) and
/// runs the batches. Returns those SSNs, and the planning connection when there was no batch
/// to hand it to (a no-op night's event step then uses it instead of opening another).
#[allow(clippy::type_complexity)]
fn plan_and_run<St, S, F>(
    ctx: &Ctx<'_, St, F>,
    start: &Start,
    report: &mut RunReport,
) -> Result<(Option<HashSet<String>>, Option<S>), JobError>
where
    St: ConflictStore,
    S: VisitSource,
    F: Fn() -> Result<S, S::Error> + Sync,
{
    let (job, run) = (ctx.job, ctx.run);
    let (store, observer) = (job.store, job.observer);
    // The SSNs of an incremental run's delta keys, kept from planning for the event step
    // (docs/lifecycle.md §7.1) so that the source is not asked twice.
    let mut delta_ssns = None;
    // A run with no batches goes from planning straight to the event step: the planning
    // connection is handed on rather than a new one opened (a no-op night's largest cost after
    // the queries themselves). With batches it would sit idle meanwhile, so it is closed.
    let mut idle_source = None;
    if let Start::New(_) = start {
        let t = Instant::now();
        observer.phase("scope");
        let mut source = (job.make_source)().map_err(source_err)?;
        let batches = plan_batches(store, &mut source, run, job.opts)?;
        // The planning connection's cost (session settings and planning queries).
        report.io.add(&source.io());
        store.add_batches(run.run_id, &batches).map_err(store_err)?;
        if run.mode == Mode::Incremental {
            delta_ssns = Some(scope_ssns(&batches));
        }
        if batches.is_empty() {
            idle_source = Some(source);
        }
        report.timing.scope = t.elapsed().as_secs_f64();
    }
    run_batches(ctx, report)?;
    Ok((delta_ssns, idle_source))
}

/// The trimmed SSNs of the keys of an incremental run's batches.
fn scope_ssns(batches: &[BatchSpec]) -> HashSet<String> {
    batches
        .iter()
        .filter_map(|b| match &b.scope {
            crate::scope::Scope::Keys(keys) => Some(keys.iter().map(|(_, ssn)| ssn.clone())),
            _ => None,
        })
        .flatten()
        .collect()
}
