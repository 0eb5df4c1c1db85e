//! The nightly job (docs/lifecycle.md §1): plan batches, then fetch → detect → write them with
//! several workers, each overlapping the fetch of its next batch with the write of the
//! current one; a ledger makes the run resumable and shareable between processes.

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::sync_channel;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use conflict_core::admit::admit;
use conflict_core::inservice::{admit_events, pair_events, EventKind};
use conflict_core::{detect, DetectConfig, DetectReport, DetectedPair, GeoParams, Visit};

use super::ports::{
    BatchInput, BatchSpec, ConflictStore, EventInput, Key, Mode, Outcome, RunInfo, RunParams,
    VisitSource, WriteCounts,
};
use super::report::RunReport;
use crate::details::VisitDetails;
use crate::scope::{BatchScope, Scope};

/// How the job splits and schedules work.
#[derive(Debug, Clone)]
pub struct JobOptions {
    pub workers: usize,
    /// SSN prefix length of full-run batches; `None` chooses it from the data.
    pub prefix_len: Option<usize>,
    /// Upper bound of visits per batch when the prefix length is chosen automatically.
    pub max_visits_per_batch: u64,
    /// Keys per batch of an incremental run.
    pub keys_per_batch: usize,
    /// A claim older than this is considered abandoned and may be taken over.
    pub stall_after: Duration,
    /// Retries of a batch write after a transient failure (docs/lifecycle.md §9).
    pub retries: u32,
    /// Name of this process in the ledger.
    pub worker_name: String,
    /// How often a process waits for batches claimed by others.
    pub poll: Duration,
}

impl Default for JobOptions {
    fn default() -> Self {
        JobOptions {
            workers: std::thread::available_parallelism().map_or(2, |n| n.get()),
            prefix_len: None,
            max_visits_per_batch: 750_000,
            keys_per_batch: 20_000,
            stall_after: Duration::from_secs(15 * 60),
            retries: 3,
            worker_name: format!("pid-{}", std::process::id()),
            poll: Duration::from_secs(2),
        }
    }
}

/// How this process takes part in a run.
#[derive(Debug, Clone)]
pub enum Start {
    New(RunParams),
    /// Resume the given run, or the latest resumable one.
    Resume(Option<i64>),
    /// Help a run started elsewhere (no lock; the owner finishes the run).
    Join(i64),
}

/// Callbacks for progress display; every method has a no-op default.
pub trait Observer: Sync {
    fn phase(&self, _name: &str) {}
    fn planned(&self, _run: &RunInfo, _total: u64, _done: u64) {}
    fn batch_done(&self, _key: &str, _visits: u64, _counts: &WriteCounts) {}
    fn batch_failed(&self, _key: &str, _error: &str) {}
    fn retrying(&self, _key: &str, _attempt: u32, _error: &str) {}
}

/// An observer that shows nothing.
pub struct Silent;
impl Observer for Silent {}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error("another run holds the run lock of this conflict schema; nothing was changed")]
    Locked,
    #[error("run {0} does not exist")]
    NoSuchRun(i64),
    #[error("there is no interrupted or failed run to resume")]
    NothingToResume,
    // The message carries the cause; exposing it as `source()` too would print it twice.
    #[error("analytics source: {0}")]
    Source(BoxError),
    #[error("conflict store: {0}")]
    Store(BoxError),
    #[error("{failed} batch(es) failed; first: {first}")]
    Batches { failed: usize, first: String },
}

/// The result of [`run_job`]: how the run ended and what it did.
#[derive(Debug, Clone)]
pub struct JobResult {
    pub outcome: Outcome,
    pub report: RunReport,
    /// Set when this process owns the run (started or resumed it).
    pub owner: bool,
}

fn store_err<E: std::error::Error + Send + Sync + 'static>(e: E) -> JobError {
    JobError::Store(Box::new(e))
}

/// The source returned two different records under one visit id.
fn duplicate_ids(d: &[conflict_core::admit::DuplicateId]) -> JobError {
    JobError::Source(
        format!(
            "visit id {:?} came back as two different records",
            d[0].visit_id
        )
        .into(),
    )
}

fn source_err<E: std::error::Error + Send + Sync + 'static>(e: E) -> JobError {
    JobError::Source(Box::new(e))
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
    let started = Instant::now();
    observer.phase("preflight");
    let (lock, run, mut preflight_warnings, owner) = match &start {
        Start::New(params) => {
            let lock = store
                .try_lock()
                .map_err(store_err)?
                .ok_or(JobError::Locked)?;
            let (run, w) = store.begin_run(params).map_err(store_err)?;
            (Some(lock), run, w, true)
        }
        Start::Resume(id) => {
            let lock = store
                .try_lock()
                .map_err(store_err)?
                .ok_or(JobError::Locked)?;
            let run = match id {
                Some(id) => store
                    .open_run(*id)
                    .map_err(store_err)?
                    .ok_or(JobError::NoSuchRun(*id))?,
                None => store
                    .resumable_run()
                    .map_err(store_err)?
                    .ok_or(JobError::NothingToResume)?,
            };
            store.reset_claims(run.run_id).map_err(store_err)?;
            (Some(lock), run, Default::default(), true)
        }
        Start::Join(id) => {
            let run = store
                .open_run(*id)
                .map_err(store_err)?
                .ok_or(JobError::NoSuchRun(*id))?;
            (None, run, Default::default(), false)
        }
    };
    let dry_run = params_for_resume.dry_run;
    let _ = &lock;
    let profile = params_for_resume.profile.as_str();
    let mut report = RunReport::for_run(&run, profile, dry_run, opts.workers);
    report.timing.preflight = started.elapsed().as_secs_f64();
    report.add_warnings(&std::mem::take(&mut preflight_warnings));

    let result = drive(
        store,
        &make_source,
        &start,
        &run,
        params_for_resume,
        opts,
        cancel,
        observer,
        &mut report,
    );

    let finish_started = Instant::now();
    let outcome = match (&result, cancel.load(Ordering::SeqCst)) {
        (Err(_), _) => Outcome::Failed,
        (Ok(()), true) => Outcome::Interrupted,
        (Ok(()), false) if dry_run => Outcome::DryRun,
        (Ok(()), false) => Outcome::Succeeded,
    };
    report.status = match outcome {
        Outcome::Succeeded => "succeeded",
        Outcome::Failed => "failed",
        Outcome::Interrupted => "interrupted",
        Outcome::DryRun => "dry-run",
    }
    .to_string();
    report.timing.total = started.elapsed().as_secs_f64();
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

#[allow(clippy::too_many_arguments)]
fn drive<St, S, F>(
    store: &St,
    make_source: &F,
    start: &Start,
    run: &RunInfo,
    params: &RunParams,
    opts: &JobOptions,
    cancel: &AtomicBool,
    observer: &dyn Observer,
    report: &mut RunReport,
) -> Result<(), JobError>
where
    St: ConflictStore,
    S: VisitSource,
    F: Fn() -> Result<S, S::Error> + Sync,
{
    let t = Instant::now();
    observer.phase("load_reference");
    let reference = store.reference().map_err(store_err)?;
    report.add_warnings(&reference.warnings);
    let geo = GeoParams::default()
        .with_extra_distance_per(reference.extra_distance_per)
        .map_err(store_err)?;
    let cfg = DetectConfig {
        options: params.options,
        geo,
        bands: reference.bands.clone(),
        window: run.window,
        exclusions: reference.exclusions.clone(),
    };
    report.timing.load_reference = t.elapsed().as_secs_f64();

    if let Start::New(_) = start {
        let t = Instant::now();
        observer.phase("scope");
        let mut source = make_source().map_err(source_err)?;
        let batches = plan_batches(store, &mut source, run, opts)?;
        store.add_batches(run.run_id, &batches).map_err(store_err)?;
        report.timing.scope = t.elapsed().as_secs_f64();
    }

    let owner = !matches!(start, Start::Join(_));
    // What the report holds before any batch: the owner adds the ledger's batch shares to it.
    let base = report.clone();
    let shared = Shared {
        report: Mutex::new(std::mem::take(report)),
        failures: Mutex::new(Vec::new()),
        failed: AtomicBool::new(false),
    };
    loop {
        let (done, total) = store.batch_progress(run.run_id).map_err(store_err)?;
        observer.planned(run, total, done);
        if done >= total || cancel.load(Ordering::SeqCst) || shared.failed.load(Ordering::SeqCst) {
            break;
        }
        let claimed_any = AtomicBool::new(false);
        std::thread::scope(|s| {
            for w in 0..opts.workers.max(1) {
                let (shared, cfg, claimed_any) = (&shared, &cfg, &claimed_any);
                s.spawn(move || {
                    let name = format!("{}/w{w}", opts.worker_name);
                    if let Err(e) = worker(
                        store,
                        make_source,
                        run,
                        cfg,
                        opts,
                        &name,
                        cancel,
                        observer,
                        shared,
                        claimed_any,
                        params.dry_run,
                    ) {
                        shared.fail(format!("{name}: {e}"));
                    }
                });
            }
        });
        if !claimed_any.load(Ordering::SeqCst) {
            // Everything left is claimed by other processes: wait for them (or for their
            // claims to go stale).
            std::thread::sleep(opts.poll);
        }
    }
    *report = shared
        .report
        .into_inner()
        .unwrap_or_else(|e| e.into_inner());
    if owner {
        // The whole run, whichever process did each batch (issue 9, item 6). When the ledger
        // cannot be read the report keeps this process's own batches.
        if let Ok(Some(shares)) = store.batch_totals(run.run_id) {
            let mut whole = base;
            for share in &shares {
                whole.add_batch(share);
            }
            *report = whole;
        }
    }
    let failures = shared
        .failures
        .into_inner()
        .unwrap_or_else(|e| e.into_inner());
    if let Some(first) = failures.first() {
        return Err(JobError::Batches {
            failed: failures.len(),
            first: first.clone(),
        });
    }
    if owner && !cancel.load(Ordering::SeqCst) {
        let kinds = [
            (EventKind::InService, params.inservice),
            (EventKind::Pto, params.pto),
        ];
        for (kind, on) in kinds {
            if on {
                let t = Instant::now();
                observer.phase(match kind {
                    EventKind::InService => "inservice",
                    EventKind::Pto => "pto",
                });
                event_step(store, make_source, run, &cfg, kind, params.dry_run, report)?;
                report.timing.inservice += t.elapsed().as_secs_f64();
            }
        }
    }
    Ok(())
}

/// The InService (or PTO) step: events of the whole window, the visits of their caregivers,
/// pairing, and one write (docs/lifecycle.md §7).
fn event_step<St, S, F>(
    store: &St,
    make_source: &F,
    run: &RunInfo,
    cfg: &DetectConfig,
    kind: EventKind,
    dry_run: bool,
    report: &mut RunReport,
) -> Result<(), JobError>
where
    St: ConflictStore,
    S: VisitSource,
    F: Fn() -> Result<S, S::Error> + Sync,
{
    let mut source = make_source().map_err(source_err)?;
    let events = source
        .events(kind, &run.window, &cfg.exclusions)
        .map_err(source_err)?;
    let raw: Vec<_> = events.iter().map(|e| e.event.clone()).collect();
    let mut warnings = conflict_core::Warnings::default();
    let admitted_events = admit_events(&raw, &run.window, &cfg.exclusions, &mut warnings);
    let mut ssns: Vec<String> = admitted_events.iter().map(|e| e.ssn.clone()).collect();
    ssns.sort_unstable();
    ssns.dedup();
    let visits = source
        .visits_of_ssns(&run.window, &ssns, &cfg.exclusions)
        .map_err(source_err)?;
    let admission = admit(&visits, &run.window, &cfg.exclusions).map_err(|d| duplicate_ids(&d))?;
    let pairs = pair_events(&visits, &admission, kind, &raw, &admitted_events);
    let mut ids: Vec<&str> = pairs
        .iter()
        .map(|p| visits[p.visit].visit_id.as_str())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let details = source.details(&ids).map_err(source_err)?;
    let input = EventInput {
        kind,
        visits: &visits,
        admission: &admission,
        events: &events,
        admitted_events: &admitted_events,
        pairs: &pairs,
        details: &details,
    };
    let counts = store
        .apply_events(run, &input, dry_run)
        .map_err(store_err)?;
    report.add_warnings(&warnings);
    report.add_warnings(&counts.warnings);
    report.writes.conflicts_created += counts.conflicts_created;
    let r = &mut report.inservice;
    let (ev, pa, up, un, ins) = match kind {
        EventKind::InService => (
            &mut r.inservice_events,
            &mut r.inservice_pairs,
            &mut r.inservice_updated,
            &mut r.inservice_unchanged,
            &mut r.inservice_inserted,
        ),
        EventKind::Pto => (
            &mut r.pto_events,
            &mut r.pto_pairs,
            &mut r.pto_updated,
            &mut r.pto_unchanged,
            &mut r.pto_inserted,
        ),
    };
    *ev += admitted_events.len() as u64;
    *pa += pairs.len() as u64;
    *up += counts.updated;
    *un += counts.unchanged;
    *ins += counts.inserted;
    Ok(())
}

struct Shared {
    report: Mutex<RunReport>,
    failures: Mutex<Vec<String>>,
    failed: AtomicBool,
}

impl Shared {
    fn fail(&self, message: String) {
        self.failed.store(true, Ordering::SeqCst);
        if let Ok(mut f) = self.failures.lock() {
            f.push(message);
        }
    }

    fn with_report(&self, f: impl FnOnce(&mut RunReport)) {
        if let Ok(mut r) = self.report.lock() {
            f(&mut r);
        }
    }
}

/// A fetched and detected batch on its way to the writer.
struct Work {
    spec: BatchSpec,
    visits: Vec<Visit>,
    report: DetectReport,
    pairs: Vec<DetectedPair>,
    details: std::collections::HashMap<String, VisitDetails>,
    fetch_secs: f64,
    detect_secs: f64,
}

#[allow(clippy::too_many_arguments)]
fn worker<St, S, F>(
    store: &St,
    make_source: &F,
    run: &RunInfo,
    cfg: &DetectConfig,
    opts: &JobOptions,
    name: &str,
    cancel: &AtomicBool,
    observer: &dyn Observer,
    shared: &Shared,
    claimed_any: &AtomicBool,
    dry_run: bool,
) -> Result<(), JobError>
where
    St: ConflictStore,
    S: VisitSource,
    F: Fn() -> Result<S, S::Error> + Sync,
{
    let mut source = make_source().map_err(source_err)?;
    let (tx, rx) = sync_channel::<Work>(1);
    std::thread::scope(|s| {
        s.spawn(move || {
            for work in rx {
                write_batch(store, run, cfg, opts, observer, shared, work, dry_run);
            }
        });
        loop {
            if cancel.load(Ordering::SeqCst) || shared.failed.load(Ordering::SeqCst) {
                break;
            }
            let spec = match store.claim_batch(run.run_id, name, opts.stall_after) {
                Ok(Some(spec)) => spec,
                Ok(None) => break,
                Err(e) => {
                    shared.fail(format!("claiming a batch: {e}"));
                    break;
                }
            };
            claimed_any.store(true, Ordering::SeqCst);
            match fetch_and_detect(&mut source, run, cfg, spec.clone()) {
                Ok(work) => {
                    if tx.send(work).is_err() {
                        break;
                    }
                }
                Err(e) => {
                    let msg = format!("batch {}: {e}", spec.key);
                    observer.batch_failed(&spec.key, &msg);
                    let _ = store.release_batch(run.run_id, &spec.key, Some(&msg));
                    shared.fail(msg);
                    break;
                }
            }
        }
        drop(tx);
    });
    Ok(())
}

fn fetch_and_detect<S: VisitSource>(
    source: &mut S,
    run: &RunInfo,
    cfg: &DetectConfig,
    spec: BatchSpec,
) -> Result<Work, JobError> {
    let t = Instant::now();
    let scope = BatchScope {
        window: run.window,
        scope: spec.scope.clone(),
    };
    let visits = source.visits(&scope, &cfg.exclusions).map_err(source_err)?;
    let mut fetch_secs = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let mut pairs: Vec<DetectedPair> = Vec::new();
    let report = match detect(&visits, cfg, &mut pairs) {
        Ok(r) => r,
        Err(conflict_core::DetectError::DuplicateIds(d)) => return Err(duplicate_ids(&d)),
        Err(conflict_core::DetectError::Sink(never)) => match never {},
    };
    let detect_secs = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let ids: HashSet<&str> = pairs
        .iter()
        .flat_map(|p| {
            [
                visits[p.v1].visit_id.as_str(),
                visits[p.v2].visit_id.as_str(),
            ]
        })
        .collect();
    let mut ids: Vec<&str> = ids.into_iter().collect();
    ids.sort_unstable();
    let details = source.details(&ids).map_err(source_err)?;
    fetch_secs += t.elapsed().as_secs_f64();
    Ok(Work {
        spec,
        visits,
        report,
        pairs,
        details,
        fetch_secs,
        detect_secs,
    })
}

#[allow(clippy::too_many_arguments)]
fn write_batch<St: ConflictStore>(
    store: &St,
    run: &RunInfo,
    cfg: &DetectConfig,
    opts: &JobOptions,
    observer: &dyn Observer,
    shared: &Shared,
    work: Work,
    dry_run: bool,
) {
    let input = BatchInput {
        visits: &work.visits,
        report: &work.report,
        pairs: &work.pairs,
        details: &work.details,
        options: &cfg.options,
        fetch_secs: work.fetch_secs,
        detect_secs: work.detect_secs,
    };
    let t = Instant::now();
    let mut attempt = 0;
    let result = loop {
        match store.apply_batch(run, &work.spec, &input, dry_run) {
            Err(e) if St::is_transient(&e) && attempt < opts.retries => {
                attempt += 1;
                observer.retrying(&work.spec.key, attempt, &e.to_string());
                std::thread::sleep(Duration::from_millis(200 * u64::from(attempt)));
            }
            other => break other,
        }
    };
    let apply_secs = t.elapsed().as_secs_f64();
    match result {
        Ok(counts) => {
            observer.batch_done(&work.spec.key, work.visits.len() as u64, &counts);
            shared.with_report(|r| {
                r.add_detection(work.report.admit_stats(), &work.report.pairs);
                r.add_writes(&counts);
                r.timing.read_visits += work.fetch_secs;
                r.timing.detect += work.detect_secs;
                r.timing.apply += apply_secs;
                r.timing.batches += 1;
            });
        }
        Err(e) => {
            let msg = format!("batch {}: {e}", work.spec.key);
            observer.batch_failed(&work.spec.key, &msg);
            let _ = store.release_batch(run.run_id, &work.spec.key, Some(&msg));
            shared.fail(msg);
        }
    }
}

/// Batches of a new run: SSN-prefix batches over the window (full), or groups of delta keys
/// (incremental).
fn plan_batches<St: ConflictStore, S: VisitSource>(
    store: &St,
    source: &mut S,
    run: &RunInfo,
    opts: &JobOptions,
) -> Result<Vec<BatchSpec>, JobError> {
    match run.mode {
        Mode::Full => {
            let counts = |len: usize, source: &mut S| -> Result<BTreeMap<String, u64>, JobError> {
                let mut m = BTreeMap::new();
                for (p, n) in source.ssn_prefixes(&run.window, len).map_err(source_err)? {
                    *m.entry(p).or_default() += n;
                }
                for (p, n) in store.stored_prefixes(&run.window, len).map_err(store_err)? {
                    *m.entry(p).or_default() += n;
                }
                Ok(m)
            };
            let prefixes = match opts.prefix_len {
                Some(len) => counts(len.max(1), source)?,
                None => choose_prefixes(|len| counts(len, source), opts.max_visits_per_batch)?,
            };
            Ok(prefixes
                .into_keys()
                .map(|p| BatchSpec {
                    key: format!("ssn:{p}"),
                    scope: Scope::SsnPrefix(p),
                })
                .collect())
        }
        Mode::Incremental => {
            let since = run.since.ok_or_else(|| {
                JobError::Store("incremental run without a watermark".to_string().into())
            })?;
            let mut keys: Vec<Key> = source.delta_keys(since, &run.window).map_err(source_err)?;
            keys.sort_unstable_by(|a, b| (&a.1, a.0).cmp(&(&b.1, b.0)));
            keys.dedup();
            Ok(keys
                .chunks(opts.keys_per_batch.max(1))
                .enumerate()
                .map(|(i, chunk)| BatchSpec {
                    key: format!("keys:{i:06}"),
                    scope: Scope::Keys(chunk.to_vec()),
                })
                .collect())
        }
    }
}

/// The shortest prefix length (1..=9) whose largest batch holds at most `max` visits.
fn choose_prefixes(
    mut counts: impl FnMut(usize) -> Result<BTreeMap<String, u64>, JobError>,
    max: u64,
) -> Result<BTreeMap<String, u64>, JobError> {
    let mut last = BTreeMap::new();
    for len in 1..=9 {
        last = counts(len)?;
        if last.values().all(|&n| n <= max) {
            break;
        }
    }
    Ok(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_length_grows_until_batches_fit() {
        let data = ["111", "112", "121", "211"];
        let counts = |len: usize| {
            let mut m = BTreeMap::new();
            for s in data {
                *m.entry(s[..len.min(3)].to_string()).or_insert(0) += 10;
            }
            Ok(m)
        };
        assert_eq!(choose_prefixes(counts, 30).unwrap().len(), 2);
        assert_eq!(choose_prefixes(counts, 20).unwrap().len(), 3);
        assert_eq!(choose_prefixes(counts, 10).unwrap().len(), 4);
        assert_eq!(
            choose_prefixes(counts, 1).unwrap().len(),
            4,
            "stops at full length"
        );
    }
}
