//! The batches of a run: several workers per process, each claiming a batch, fetching and
//! detecting it, and handing it to its writer thread, so the fetch of the next batch overlaps
//! the write of the current one (docs/lifecycle.md §9).
//!
//! A write that fails with a transient error (a lost connection, a serialization failure, a
//! deadlock) is retried with a growing wait, on a fresh connection; a batch whose claim was
//! lost to another claimant is let go. After the retries a batch fails the run with its key
//! and cause; `--resume` continues it.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::sync_channel;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use conflict_core::{detect, DetectConfig, DetectReport, DetectedPair, Visit};

use super::job::{duplicate_ids, source_err, store_err, Job, JobError, JobOptions, MAX_BACKOFF};
use super::ports::{BatchInput, BatchSpec, ConflictStore, RunInfo, VisitSource};
use super::report::RunReport;
use crate::details::VisitDetails;
use crate::scope::BatchScope;

/// One run as the workers see it.
pub(super) struct Ctx<'a, St: ConflictStore, F> {
    pub job: &'a Job<'a, St, F>,
    pub run: &'a RunInfo,
    pub cfg: &'a DetectConfig,
    /// The owner's run lock, checked before every claim: a lost lock stops the run.
    pub lock: Option<&'a Mutex<St::Lock>>,
    /// The owner waits for batches claimed by others and reports the whole run; a joiner
    /// stops when nothing is left to claim and reports its own share.
    pub owner: bool,
}

/// What the workers of this process share.
struct Shared {
    report: Mutex<RunReport>,
    failures: Mutex<Vec<JobError>>,
    failed: AtomicBool,
}

impl Shared {
    fn fail(&self, error: JobError) {
        self.failed.store(true, Ordering::SeqCst);
        if let Ok(mut f) = self.failures.lock() {
            f.push(error);
        }
    }

    fn with_report(&self, f: impl FnOnce(&mut RunReport)) {
        if let Ok(mut r) = self.report.lock() {
            f(&mut r);
        }
    }
}

/// Claims and works batches until none is left (the owner: until all are done, waiting for
/// those other processes hold), then (the owner) reports the whole run from the ledger.
pub(super) fn run_batches<St, S, F>(
    ctx: &Ctx<'_, St, F>,
    report: &mut RunReport,
) -> Result<(), JobError>
where
    St: ConflictStore,
    S: VisitSource,
    F: Fn() -> Result<S, S::Error> + Sync,
{
    let (store, run, job) = (ctx.job.store, ctx.run, ctx.job);
    // What the report holds before any batch: the owner adds the ledger's batch shares to it.
    let base = report.clone();
    let shared = Shared {
        report: Mutex::new(std::mem::take(report)),
        failures: Mutex::new(Vec::new()),
        failed: AtomicBool::new(false),
    };
    loop {
        let (done, total) = store.batch_progress(run.run_id).map_err(store_err)?;
        job.observer.planned(run, total, done);
        if done >= total
            || job.cancel.load(Ordering::SeqCst)
            || shared.failed.load(Ordering::SeqCst)
        {
            break;
        }
        let claimed_any = AtomicBool::new(false);
        std::thread::scope(|s| {
            for w in 0..job.opts.workers.max(1) {
                let (shared, claimed_any) = (&shared, &claimed_any);
                s.spawn(move || {
                    let name = format!("{}/w{w}", job.opts.worker_name);
                    if let Err(e) = worker(ctx, &name, shared, claimed_any) {
                        shared.fail(JobError::Worker {
                            worker: name,
                            cause: Box::new(e),
                        });
                    }
                });
            }
        });
        if !claimed_any.load(Ordering::SeqCst) {
            if !ctx.owner {
                // Everything left is held by other processes, which finish it.
                break;
            }
            // Everything left is held by other processes: wait for them (a crashed one's
            // batches become free as its sessions end).
            std::thread::sleep(job.opts.poll);
        }
    }
    *report = shared
        .report
        .into_inner()
        .unwrap_or_else(|e| e.into_inner());
    if ctx.owner {
        // The whole run, whichever process did each batch. When the ledger cannot be read
        // the report keeps this process's own batches.
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
    let failed = failures.len();
    match failures.into_iter().next() {
        Some(first) => Err(JobError::Batches {
            failed,
            first: Box::new(first),
        }),
        None => Ok(()),
    }
}

/// A fetched and detected batch on its way to the writer.
struct Work {
    spec: BatchSpec,
    visits: Vec<Visit>,
    report: DetectReport,
    pairs: Vec<DetectedPair>,
    details: HashMap<String, VisitDetails>,
    fetch_secs: f64,
    detect_secs: f64,
    /// What reading the batch cost the warehouse.
    io: super::totals::IoCounts,
}

/// One worker: claims and fetches batches on this thread and writes them on a second one.
fn worker<St, S, F>(
    ctx: &Ctx<'_, St, F>,
    name: &str,
    shared: &Shared,
    claimed_any: &AtomicBool,
) -> Result<(), JobError>
where
    St: ConflictStore,
    S: VisitSource,
    F: Fn() -> Result<S, S::Error> + Sync,
{
    let (store, run, job) = (ctx.job.store, ctx.run, ctx.job);
    let mut source = (job.make_source)().map_err(source_err)?;
    // The source's counters when its previous batch was handed on.
    let mut seen = super::totals::IoCounts::default();
    let (tx, rx) = sync_channel::<Work>(1);
    std::thread::scope(|s| {
        s.spawn(move || {
            for work in rx {
                write_batch(ctx, shared, work);
            }
        });
        loop {
            if job.cancel.load(Ordering::SeqCst) || shared.failed.load(Ordering::SeqCst) {
                break;
            }
            if let Err(e) = check_lock(ctx) {
                shared.fail(e);
                break;
            }
            let spec = match store.claim_batch(run.run_id, name) {
                Ok(Some(spec)) => spec,
                Ok(None) => break,
                Err(e) => {
                    shared.fail(JobError::Claim(Box::new(e)));
                    break;
                }
            };
            claimed_any.store(true, Ordering::SeqCst);
            match fetch_with_retries(ctx, &mut source, &spec, &mut seen) {
                Ok(mut work) => {
                    // Everything the connection sent since the previous batch: its setup
                    // (session settings, exclusion tables) goes to its first batch.
                    let now = source.io();
                    work.io = now.since(&seen);
                    seen = now;
                    if tx.send(work).is_err() {
                        break;
                    }
                }
                Err(e) => {
                    let error = JobError::Batch {
                        key: spec.key.clone(),
                        cause: Box::new(e),
                    };
                    let msg = error.to_string();
                    job.observer.batch_failed(&spec.key, &msg);
                    // Failed first, then given back (see `write_batch`).
                    shared.fail(error);
                    let _ = store.release_batch(run.run_id, &spec.key, Some(&msg));
                    break;
                }
            }
        }
        drop(tx);
    });
    Ok(())
}

/// The owner stops claiming when its run lock is gone: another run could start meanwhile.
fn check_lock<St: ConflictStore, F>(ctx: &Ctx<'_, St, F>) -> Result<(), JobError> {
    let Some(lock) = ctx.lock else { return Ok(()) };
    let mut lock = lock.lock().unwrap_or_else(|e| e.into_inner());
    ctx.job.store.check_lock(&mut lock).map_err(store_err)
}

/// Why a batch could not be fetched and detected.
enum FetchError {
    /// The analytics source failed (a dropped connection, a warehouse hiccup): worth a retry on
    /// a fresh connection. The source port does not classify its errors, so all are retried.
    Source(JobError),
    /// The data itself is unusable (one visit id, two records): a retry would see the same.
    Data(JobError),
}

/// Fetches and detects a batch, retrying a failed fetch with backoff on a fresh analytics
/// connection (`make_source`), as a failed write is retried on a fresh store connection.
fn fetch_with_retries<St, S, F>(
    ctx: &Ctx<'_, St, F>,
    source: &mut S,
    spec: &BatchSpec,
    seen: &mut super::totals::IoCounts,
) -> Result<Work, JobError>
where
    St: ConflictStore,
    S: VisitSource,
    F: Fn() -> Result<S, S::Error> + Sync,
{
    let job = ctx.job;
    let mut attempt = 0;
    loop {
        match fetch_and_detect(source, ctx.run, ctx.cfg, spec.clone()) {
            Ok(work) => return Ok(work),
            Err(FetchError::Source(e)) if attempt < job.opts.retries => {
                attempt += 1;
                job.observer.retrying(&spec.key, attempt, &e.to_string());
                std::thread::sleep(backoff(job.opts, attempt));
                // A new connection that cannot be opened leaves the old one: the next attempt
                // fails too and counts.
                if let Ok(fresh) = (job.make_source)() {
                    *source = fresh;
                    // A fresh connection counts from zero.
                    *seen = super::totals::IoCounts::default();
                }
            }
            Err(FetchError::Source(e)) => {
                let attempts = attempt + 1;
                return Err(match e {
                    JobError::Source(cause) => {
                        JobError::Source(Box::new(JobError::Retried { attempts, cause }))
                    }
                    other => other,
                });
            }
            Err(FetchError::Data(e)) => return Err(e),
        }
    }
}

fn fetch_and_detect<S: VisitSource>(
    source: &mut S,
    run: &RunInfo,
    cfg: &DetectConfig,
    spec: BatchSpec,
) -> Result<Work, FetchError> {
    let from_source = |e: S::Error| FetchError::Source(source_err(e));
    let t = Instant::now();
    let scope = BatchScope {
        window: run.window,
        scope: spec.scope.clone(),
    };
    source
        .begin_batch(run.run_id, &spec.key)
        .map_err(from_source)?;
    let visits = source
        .visits(&scope, &cfg.exclusions)
        .map_err(from_source)?;
    let mut fetch_secs = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let mut pairs: Vec<DetectedPair> = Vec::new();
    let report = match detect(&visits, cfg, &mut pairs) {
        Ok(r) => r,
        Err(conflict_core::DetectError::DuplicateIds(d)) => {
            return Err(FetchError::Data(duplicate_ids(&d)))
        }
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
    let details = source.details(&ids).map_err(from_source)?;
    fetch_secs += t.elapsed().as_secs_f64();
    Ok(Work {
        spec,
        visits,
        report,
        pairs,
        details,
        fetch_secs,
        detect_secs,
        io: Default::default(),
    })
}

/// The wait before retry number `attempt` (1-based): the base, doubled per retry, capped.
pub(super) fn backoff(opts: &JobOptions, attempt: u32) -> Duration {
    let factor = 1u32 << attempt.saturating_sub(1).min(16);
    opts.retry_backoff.saturating_mul(factor).min(MAX_BACKOFF)
}

/// How a batch's write ended.
enum Written<E> {
    Done(super::ports::WriteCounts),
    /// Another claimant completed or holds the batch.
    Lost(E),
    Failed {
        attempts: u32,
        error: E,
    },
}

/// Applies a batch, retrying transient failures with backoff.
fn apply_with_retries<St: ConflictStore, F>(
    ctx: &Ctx<'_, St, F>,
    work: &Work,
    input: &BatchInput<'_>,
) -> Written<St::Error> {
    let (store, job) = (ctx.job.store, ctx.job);
    let mut attempt = 0;
    loop {
        match store.apply_batch(ctx.run, &work.spec, input, job.params.dry_run) {
            Ok(counts) => return Written::Done(counts),
            Err(e) if St::is_claim_lost(&e) => return Written::Lost(e),
            Err(e) if St::is_transient(&e) && attempt < job.opts.retries => {
                attempt += 1;
                job.observer
                    .retrying(&work.spec.key, attempt, &e.to_string());
                std::thread::sleep(backoff(job.opts, attempt));
            }
            Err(error) => {
                return Written::Failed {
                    attempts: attempt + 1,
                    error,
                }
            }
        }
    }
}

fn write_batch<St: ConflictStore, F>(ctx: &Ctx<'_, St, F>, shared: &Shared, work: Work) {
    let (store, observer) = (ctx.job.store, ctx.job.observer);
    let key = &work.spec.key;
    // After a failure elsewhere the run stops: a batch fetched meanwhile is given back.
    if shared.failed.load(Ordering::SeqCst) {
        let _ = store.release_batch(ctx.run.run_id, key, None);
        return;
    }
    // Without the run lock another run could be writing: nothing more is written.
    if let Err(e) = check_lock(ctx) {
        let _ = store.release_batch(ctx.run.run_id, key, None);
        shared.fail(e);
        return;
    }
    let input = BatchInput {
        visits: &work.visits,
        report: &work.report,
        pairs: &work.pairs,
        details: &work.details,
        options: &ctx.cfg.options,
        fetch_secs: work.fetch_secs,
        detect_secs: work.detect_secs,
        io: work.io.clone(),
    };
    let t = Instant::now();
    let result = apply_with_retries(ctx, &work, &input);
    let apply_secs = t.elapsed().as_secs_f64();
    match result {
        Written::Done(counts) => {
            observer.batch_done(key, work.visits.len() as u64, &counts);
            shared.with_report(|r| {
                r.add_detection(work.report.admit_stats(), &work.report.pairs);
                r.add_writes(&counts);
                r.timing.read_visits += work.fetch_secs;
                r.timing.detect += work.detect_secs;
                r.timing.apply += apply_secs;
                r.timing.batches += 1;
                r.io.add(&work.io);
            });
        }
        Written::Lost(e) => observer.claim_lost(key, &e.to_string()),
        Written::Failed { attempts, error } => {
            let error = JobError::Batch {
                key: key.clone(),
                cause: Box::new(JobError::Retried {
                    attempts,
                    cause: Box::new(error),
                }),
            };
            let msg = error.to_string();
            observer.batch_failed(key, &msg);
            // The run is marked failed before the batch is given back: a claimer that looked
            // in between would take the batch again (one attempt too many in its ledger row).
            shared.fail(error);
            let _ = store.release_batch(ctx.run.run_id, key, Some(&msg));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wait_between_attempts_doubles_up_to_the_cap() {
        let opts = JobOptions {
            retry_backoff: Duration::from_millis(200),
            ..JobOptions::default()
        };
        let waits: Vec<u128> = (1..=8).map(|a| backoff(&opts, a).as_millis()).collect();
        assert_eq!(waits, [200, 400, 800, 1600, 3200, 6400, 10_000, 10_000]);
    }
}
