//! Orchestration tests with in-memory source and store: batching, workers, resume, join,
//! retries, cancellation. The real adapters are tested against real servers elsewhere.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{NaiveDate, NaiveDateTime};
use conflict_core::{
    detect, DetectConfig, DetectedPair, Exclusions, SpeedBands, Visit, Warnings, Window,
};

use super::job::{run_job, JobError, JobOptions, JobResult, Observer, Silent, Start};
use super::ports::*;
use conflict_core::inservice::{Event, EventKind};

use crate::details::{SourcedEvent, VisitDetails};
use crate::scope::{BatchScope, Scope};

fn day(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn as_of() -> NaiveDate {
    day("2025-06-15")
}

/// Visits of `n` SSNs with two overlapping visits at two providers per SSN and day.
fn visits(n: usize, days: u32) -> Vec<Visit> {
    let mut out = Vec::new();
    for s in 0..n {
        let ssn = format!("{:03}{:06}", (s * 37) % 1000, s + 1);
        for d in 0..days {
            let date = day("2025-06-01") + chrono::Days::new(d as u64);
            for p in 0..2 {
                let mut v = Visit::new(format!("v{s}-{d}-{p}"), ssn.clone(), format!("p{p}"), date);
                v.sch_start = date.and_hms_opt(9 + p, 0, 0);
                v.sch_end = date.and_hms_opt(11 + p, 0, 0);
                v.updated_at = date.and_hms_opt(12, 0, 0);
                out.push(v);
            }
        }
    }
    out
}

#[derive(Default)]
struct MockSource {
    visits: Vec<Visit>,
    events: Vec<SourcedEvent>,
    fail: bool,
    /// Set when the events are read: an operator's Ctrl-C during the event step's reads.
    interrupt_on_events: Option<Arc<AtomicBool>>,
    /// Counts the reads of visits near events.
    near_reads: Arc<AtomicU32>,
}

#[derive(Debug, thiserror::Error)]
#[error("mock source failure")]
struct SourceFailure;

fn trimmed(v: &Visit) -> String {
    v.ssn.as_deref().unwrap_or("").trim().to_string()
}

impl VisitSource for MockSource {
    type Error = SourceFailure;
    fn visits(
        &mut self,
        scope: &BatchScope,
        _ex: &Exclusions,
    ) -> Result<Vec<Visit>, SourceFailure> {
        if self.fail {
            return Err(SourceFailure);
        }
        Ok(self
            .visits
            .iter()
            .filter(|v| scope.window.contains(v.visit_date))
            .filter(|v| match &scope.scope {
                Scope::Window => true,
                Scope::SsnPrefix(p) => trimmed(v).starts_with(p.as_str()),
                Scope::Keys(keys) => keys.contains(&(v.visit_date, trimmed(v))),
            })
            .cloned()
            .collect())
    }
    fn details(&mut self, ids: &[&str]) -> Result<HashMap<String, VisitDetails>, SourceFailure> {
        Ok(ids
            .iter()
            .map(|i| (i.to_string(), VisitDetails::empty()))
            .collect())
    }
    fn ssn_prefixes(
        &mut self,
        w: &Window,
        len: usize,
    ) -> Result<Vec<(String, u64)>, SourceFailure> {
        let mut m: BTreeMap<String, u64> = BTreeMap::new();
        for v in self.visits.iter().filter(|v| w.contains(v.visit_date)) {
            *m.entry(trimmed(v).chars().take(len).collect()).or_default() += 1;
        }
        Ok(m.into_iter().collect())
    }
    fn events(
        &mut self,
        _k: EventKind,
        _w: &Window,
        _ex: &Exclusions,
    ) -> Result<Vec<SourcedEvent>, SourceFailure> {
        if let Some(flag) = &self.interrupt_on_events {
            flag.store(true, Ordering::SeqCst);
        }
        Ok(self.events.clone())
    }
    fn visits_near_events(
        &mut self,
        w: &Window,
        spans: &[conflict_core::inservice::EventSpan],
        _ex: &Exclusions,
    ) -> Result<Vec<Visit>, SourceFailure> {
        self.near_reads.fetch_add(1, Ordering::SeqCst);
        Ok(self
            .visits
            .iter()
            .filter(|v| w.contains(v.visit_date) && spans.iter().any(|s| s.ssn == trimmed(v)))
            .cloned()
            .collect())
    }
    fn delta_keys(&mut self, since: NaiveDateTime, w: &Window) -> Result<Vec<Key>, SourceFailure> {
        Ok(self
            .visits
            .iter()
            .filter(|v| w.contains(v.visit_date) && v.updated_at.is_some_and(|u| u >= since))
            .map(|v| (v.visit_date, trimmed(v)))
            .collect())
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Status {
    Pending,
    Claimed(String),
    Done,
}

#[derive(Default)]
struct State {
    lock_held: bool,
    runs: Vec<(RunInfo, Option<Outcome>)>,
    ledger: BTreeMap<(i64, String), (BatchSpec, Status)>,
    /// (batch key, pairs) of every committed apply.
    applied: Vec<(String, usize)>,
    event_pairs: usize,
    /// For every event step write: how many batch writes were committed before it.
    batches_before_event_write: Vec<usize>,
    /// The event bookkeeping, by kind (committed steps only).
    digests: HashMap<EventKind, HashMap<String, super::event_scope::Digest>>,
    /// The trimmed SSNs of the visits of every committed event step.
    event_ssns: Vec<Vec<String>>,
    /// The conflict rows, written through the core's planner like the real store does.
    cvm: super::memory_cvm::MemoryCvm,
}

type ApplyHook = Box<dyn Fn(&str) + Sync>;

#[derive(Default)]
struct MockStore {
    state: Arc<Mutex<State>>,
    transient_failures: AtomicU32,
    permanent_failure_key: Option<String>,
    on_apply: Option<ApplyHook>,
}

#[derive(Debug, thiserror::Error)]
#[error("mock store failure (transient: {0})")]
struct StoreFailure(bool);

struct OwnedLock(Arc<Mutex<State>>);
impl Drop for OwnedLock {
    fn drop(&mut self) {
        self.0.lock().unwrap().lock_held = false;
    }
}

impl ConflictStore for MockStore {
    type Error = StoreFailure;
    type Lock = OwnedLock;

    fn try_lock(&self) -> Result<Option<OwnedLock>, StoreFailure> {
        let mut s = self.state.lock().unwrap();
        if s.lock_held {
            return Ok(None);
        }
        s.lock_held = true;
        Ok(Some(OwnedLock(self.state.clone())))
    }
    fn begin_run(&self, p: &RunParams) -> Result<(RunInfo, Warnings), StoreFailure> {
        let mut s = self.state.lock().unwrap();
        let as_of = p.as_of.unwrap_or_else(as_of);
        let run = RunInfo {
            run_id: s.runs.len() as i64 + 1,
            mode: p.mode,
            run_ts: as_of.and_hms_opt(1, 0, 0).unwrap(),
            as_of,
            window: Window::default_around(as_of).unwrap(),
            since: p
                .since
                .or_else(|| Some(day("2025-06-02").and_hms_opt(0, 0, 0).unwrap())),
        };
        s.runs.push((run.clone(), None));
        Ok((run, Warnings::default()))
    }
    fn resumable_run(&self) -> Result<Option<RunInfo>, StoreFailure> {
        let s = self.state.lock().unwrap();
        Ok(s.runs
            .iter()
            .rev()
            .find(|(_, o)| o != &Some(Outcome::Succeeded))
            .map(|(r, _)| r.clone()))
    }
    fn open_run(&self, id: i64) -> Result<Option<RunInfo>, StoreFailure> {
        let s = self.state.lock().unwrap();
        Ok(s.runs
            .iter()
            .find(|(r, _)| r.run_id == id)
            .map(|(r, _)| r.clone()))
    }
    fn reference(&self) -> Result<Reference, StoreFailure> {
        Ok(Reference {
            extra_distance_per: 1.0,
            bands: SpeedBands::defaults(),
            exclusions: Exclusions::default(),
            warnings: Warnings::default(),
        })
    }
    fn stored_prefixes(&self, w: &Window, len: usize) -> Result<Vec<(String, u64)>, StoreFailure> {
        Ok(self.state.lock().unwrap().cvm.prefixes(w, len))
    }
    fn reset_claims(&self, run_id: i64) -> Result<(), StoreFailure> {
        let mut s = self.state.lock().unwrap();
        for ((r, _), (_, st)) in s.ledger.iter_mut() {
            if *r == run_id && matches!(st, Status::Claimed(_)) {
                *st = Status::Pending;
            }
        }
        Ok(())
    }
    fn add_batches(&self, run_id: i64, batches: &[BatchSpec]) -> Result<(), StoreFailure> {
        let mut s = self.state.lock().unwrap();
        for b in batches {
            s.ledger
                .entry((run_id, b.key.clone()))
                .or_insert((b.clone(), Status::Pending));
        }
        Ok(())
    }
    fn claim_batch(&self, run_id: i64, worker: &str) -> Result<Option<BatchSpec>, StoreFailure> {
        let mut s = self.state.lock().unwrap();
        for ((r, _), (spec, st)) in s.ledger.iter_mut() {
            if *r == run_id && *st == Status::Pending {
                *st = Status::Claimed(worker.to_string());
                return Ok(Some(spec.clone()));
            }
        }
        Ok(None)
    }
    fn batch_progress(&self, run_id: i64) -> Result<(u64, u64), StoreFailure> {
        let s = self.state.lock().unwrap();
        let all: Vec<_> = s.ledger.iter().filter(|((r, _), _)| *r == run_id).collect();
        let done = all
            .iter()
            .filter(|(_, (_, st))| *st == Status::Done)
            .count();
        Ok((done as u64, all.len() as u64))
    }
    fn apply_batch(
        &self,
        run: &RunInfo,
        batch: &BatchSpec,
        input: &BatchInput<'_>,
        dry_run: bool,
    ) -> Result<WriteCounts, StoreFailure> {
        if let Some(f) = &self.on_apply {
            f(&batch.key);
        }
        if self.permanent_failure_key.as_deref() == Some(batch.key.as_str()) {
            return Err(StoreFailure(false));
        }
        if self
            .transient_failures
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return Err(StoreFailure(true));
        }
        let mut s = self.state.lock().unwrap();
        let scope = BatchScope {
            window: run.window,
            scope: batch.scope.clone(),
        };
        let counts = if dry_run {
            // A dry run plans and counts, then rolls back: work on a copy.
            s.cvm.clone().apply(run, &scope, input)
        } else {
            s.applied.push((batch.key.clone(), input.pairs.len()));
            s.cvm.apply(run, &scope, input)
        };
        if let Some((_, st)) = s.ledger.get_mut(&(run.run_id, batch.key.clone())) {
            *st = Status::Done;
        }
        Ok(counts)
    }
    fn event_digests(
        &self,
        kind: EventKind,
    ) -> Result<HashMap<String, super::event_scope::Digest>, StoreFailure> {
        let s = self.state.lock().unwrap();
        Ok(s.digests.get(&kind).cloned().unwrap_or_default())
    }
    fn apply_events(
        &self,
        run: &RunInfo,
        input: &EventInput<'_>,
        dry_run: bool,
    ) -> Result<EventCounts, StoreFailure> {
        self.apply_events_with_digests(run, input, &super::DigestUpdate::default(), dry_run)
    }
    fn apply_events_with_digests(
        &self,
        _run: &RunInfo,
        input: &EventInput<'_>,
        u: &super::DigestUpdate,
        dry_run: bool,
    ) -> Result<EventCounts, StoreFailure> {
        let mut s = self.state.lock().unwrap();
        s.event_pairs += input.pairs.len();
        let before = s.applied.len();
        s.batches_before_event_write.push(before);
        if !dry_run {
            let mut ssns: Vec<String> = input.visits.iter().map(trimmed).collect();
            ssns.sort_unstable();
            ssns.dedup();
            s.event_ssns.push(ssns);
            let d = s.digests.entry(input.kind).or_default();
            if u.replace_all {
                d.clear();
            }
            for ssn in &u.remove {
                d.remove(ssn);
            }
            d.extend(u.set.iter().cloned());
        }
        Ok(EventCounts {
            inserted: input.pairs.len() as u64,
            ..EventCounts::default()
        })
    }
    fn release_batch(
        &self,
        run_id: i64,
        key: &str,
        _error: Option<&str>,
    ) -> Result<(), StoreFailure> {
        let mut s = self.state.lock().unwrap();
        if let Some((_, st)) = s.ledger.get_mut(&(run_id, key.to_string())) {
            *st = Status::Pending;
        }
        Ok(())
    }
    fn finish_run(
        &self,
        run: &RunInfo,
        outcome: Outcome,
        _r: &serde_json::Value,
    ) -> Result<(), StoreFailure> {
        let mut s = self.state.lock().unwrap();
        for (r, o) in s.runs.iter_mut() {
            if r.run_id == run.run_id {
                *o = Some(outcome);
            }
        }
        Ok(())
    }
    fn is_transient(e: &StoreFailure) -> bool {
        e.0
    }
}

fn params(mode: Mode) -> RunParams {
    RunParams::new(mode, Some(as_of()))
}

fn opts(workers: usize) -> JobOptions {
    JobOptions {
        workers,
        prefix_len: Some(2),
        poll: Duration::from_millis(5),
        ..JobOptions::default()
    }
}

fn expected_pairs(all: &[Visit]) -> usize {
    let cfg = DetectConfig::new(as_of()).unwrap();
    let mut pairs: Vec<DetectedPair> = Vec::new();
    detect(all, &cfg, &mut pairs).unwrap();
    pairs.len()
}

fn source_for(all: &[Visit]) -> impl Fn() -> Result<MockSource, SourceFailure> + Sync + '_ {
    move || {
        Ok(MockSource {
            visits: all.to_vec(),
            events: vec![],
            fail: false,
            ..MockSource::default()
        })
    }
}

fn applied_once(store: &MockStore) -> (usize, usize) {
    let s = store.state.lock().unwrap();
    let mut keys: Vec<&String> = s.applied.iter().map(|(k, _)| k).collect();
    let n = keys.len();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), n, "a batch was applied twice");
    (n, s.applied.iter().map(|(_, p)| p).sum())
}

#[test]
fn full_run_applies_every_batch_once_with_any_number_of_workers() {
    let all = visits(40, 3);
    let want = expected_pairs(&all);
    assert!(want > 0);
    for workers in [1, 2, 4] {
        let store = MockStore::default();
        let cancel = AtomicBool::new(false);
        let p = params(Mode::Full);
        let r = run_job(
            &store,
            source_for(&all),
            Start::New(p.clone()),
            &p,
            &opts(workers),
            &cancel,
            &Silent,
        )
        .unwrap();
        assert_eq!(r.outcome, Outcome::Succeeded);
        let (batches, pairs) = applied_once(&store);
        assert_eq!(pairs, want, "workers {workers}");
        assert_eq!(r.report.detection.pairs_detected as usize, want);
        assert_eq!(r.report.writes.inserted as usize, want);
        assert_eq!(r.report.timing.batches as usize, batches);
        assert!(!store.state.lock().unwrap().lock_held, "lock released");
    }
}

#[test]
fn a_held_lock_stops_a_new_run_before_it_changes_anything() {
    let all = visits(5, 1);
    let store = MockStore::default();
    store.state.lock().unwrap().lock_held = true;
    let p = params(Mode::Full);
    let err = run_new(&store, source_for(&all), &p, 1).unwrap_err();
    assert!(matches!(err, JobError::Locked));
    assert!(store.state.lock().unwrap().runs.is_empty());
}

struct CancelAfter<'a>(&'a AtomicBool, AtomicU32);
impl Observer for CancelAfter<'_> {
    fn batch_done(&self, _k: &str, _v: u64, _c: &WriteCounts) {
        if self.1.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.store(true, Ordering::SeqCst);
        }
    }
}

#[test]
fn an_interrupted_run_resumes_where_it_stopped() {
    let all = visits(60, 2);
    let want = expected_pairs(&all);
    let store = MockStore::default();
    let cancel = AtomicBool::new(false);
    let p = params(Mode::Full);
    let r = run_job(
        &store,
        source_for(&all),
        Start::New(p.clone()),
        &p,
        &opts(1),
        &cancel,
        &CancelAfter(&cancel, AtomicU32::new(3)),
    )
    .unwrap();
    assert_eq!(r.outcome, Outcome::Interrupted);
    let (done_first, _) = applied_once(&store);
    let (_, total) = store.batch_progress(1).unwrap();
    assert!(
        done_first >= 3 && (done_first as u64) < total,
        "{done_first} of {total}"
    );

    let cancel = AtomicBool::new(false);
    let r = run_job(
        &store,
        source_for(&all),
        Start::Resume(None),
        &p,
        &opts(2),
        &cancel,
        &Silent,
    )
    .unwrap();
    assert_eq!(r.outcome, Outcome::Succeeded);
    let (batches, pairs) = applied_once(&store);
    assert_eq!(batches as u64, total);
    assert_eq!(pairs, want);
}

#[test]
fn a_joined_process_shares_the_batches_of_a_run() {
    let all = visits(80, 2);
    let want = expected_pairs(&all);
    let store = MockStore {
        // Slow applies so the joiner gets work.
        on_apply: Some(Box::new(|_| std::thread::sleep(Duration::from_millis(2)))),
        ..MockStore::default()
    };
    let p = params(Mode::Full);
    let never = AtomicBool::new(false);
    let joined_batches = std::thread::scope(|s| {
        let owner = s.spawn(|| {
            run_job(
                &store,
                source_for(&all),
                Start::New(p.clone()),
                &p,
                &opts(1),
                &never,
                &Silent,
            )
        });
        // Wait until the owner has planned the run, then join it.
        while store.state.lock().unwrap().ledger.is_empty() {
            std::thread::sleep(Duration::from_millis(1));
        }
        let joiner = run_job(
            &store,
            source_for(&all),
            Start::Join(1),
            &p,
            &opts(1),
            &never,
            &Silent,
        )
        .unwrap();
        let owner = owner.join().unwrap().unwrap();
        assert!(owner.owner && !joiner.owner);
        assert_eq!(owner.outcome, Outcome::Succeeded);
        joiner.report.timing.batches
    });
    let (_, pairs) = applied_once(&store);
    assert_eq!(pairs, want);
    assert!(
        joined_batches > 0,
        "the joined process did some of the work"
    );
    assert_eq!(
        store.state.lock().unwrap().runs[0].1,
        Some(Outcome::Succeeded)
    );
}

#[test]
fn transient_write_failures_are_retried_and_permanent_ones_fail_the_run() {
    let all = visits(20, 1);
    let want = expected_pairs(&all);
    let store = MockStore {
        transient_failures: AtomicU32::new(3),
        ..MockStore::default()
    };
    let p = params(Mode::Full);
    let mut o = opts(1);
    o.prefix_len = Some(1);
    let r = run_job(
        &store,
        source_for(&all),
        Start::New(p.clone()),
        &p,
        &o,
        &AtomicBool::new(false),
        &Silent,
    )
    .unwrap();
    assert_eq!(r.outcome, Outcome::Succeeded);
    assert_eq!(applied_once(&store).1, want);

    let first_key = {
        let s = store.state.lock().unwrap();
        s.ledger.keys().next().unwrap().1.clone()
    };
    let store = MockStore {
        permanent_failure_key: Some(first_key.clone()),
        ..MockStore::default()
    };
    let err = run_job(
        &store,
        source_for(&all),
        Start::New(p.clone()),
        &p,
        &o,
        &AtomicBool::new(false),
        &Silent,
    )
    .unwrap_err();
    assert!(
        matches!(&err, JobError::Batches { first, .. }
            if matches!(&**first, JobError::Batch { key, .. } if *key == first_key)),
        "{err}"
    );
    // The message the CLI prints: the batch, the attempts (a permanent failure is not
    // retried), then the store's own words.
    assert_eq!(
        err.to_string(),
        format!(
            "1 batch(es) failed; first: batch {first_key}: failed after 1 attempt(s): \
             mock store failure (transient: false)"
        )
    );
    let s = store.state.lock().unwrap();
    assert_eq!(s.runs[0].1, Some(Outcome::Failed));
    assert_eq!(
        s.ledger.get(&(1, first_key)).unwrap().1,
        Status::Pending,
        "released"
    );
}

#[test]
fn a_failing_source_fails_the_run_and_releases_the_batch() {
    let all = visits(5, 1);
    let store = MockStore::default();
    let p = params(Mode::Full);
    let make = || {
        Ok(MockSource {
            visits: all.clone(),
            events: vec![],
            fail: true,
            ..MockSource::default()
        })
    };
    let err = run_new(&store, make, &p, 1).unwrap_err();
    assert!(err.to_string().contains("mock source failure"), "{err}");
    let s = store.state.lock().unwrap();
    assert!(s.ledger.values().all(|(_, st)| *st == Status::Pending));
}

#[test]
fn incremental_runs_batch_the_delta_keys() {
    let all = visits(30, 4);
    let store = MockStore::default();
    let p = params(Mode::Incremental);
    let mut o = opts(2);
    o.keys_per_batch = 7;
    let r = run_job(
        &store,
        source_for(&all),
        Start::New(p.clone()),
        &p,
        &o,
        &AtomicBool::new(false),
        &Silent,
    )
    .unwrap();
    assert_eq!(r.outcome, Outcome::Succeeded);
    // Visits of 2025-06-01 were updated before the watermark (2025-06-02 00:00) of the mock.
    let keys = 30 * 3;
    assert_eq!(r.report.input.keys, keys);
    assert_eq!(store.batch_progress(1).unwrap(), (13, 13)); // ceil(90 / 7)
    let recent: Vec<Visit> = all
        .into_iter()
        .filter(|v| v.visit_date >= day("2025-06-02"))
        .collect();
    assert_eq!(applied_once(&store).1, expected_pairs(&recent));
}

#[test]
fn a_dry_run_applies_nothing_but_counts_everything() {
    let all = visits(10, 2);
    let want = expected_pairs(&all);
    let store = MockStore::default();
    let mut p = params(Mode::Full);
    p.dry_run = true;
    let r = run_new(&store, source_for(&all), &p, 2).unwrap();
    assert_eq!(r.outcome, Outcome::DryRun);
    assert_eq!(r.report.writes.inserted as usize, want);
    assert!(store.state.lock().unwrap().applied.is_empty());
}

#[test]
fn the_owner_runs_the_inservice_step_after_the_batches() {
    let all = visits(5, 1);
    let store = MockStore::default();
    let p = params(Mode::Full);
    let make = training_source(&all);
    let r = run_new(&store, &make, &p, 2).unwrap();
    // Visits 0 and 1 (both providers of SSN 0 on that day) overlap the training: 2 × 2 rows.
    assert_eq!(r.report.inservice.inservice_events, 1);
    assert_eq!(r.report.inservice.inservice_pairs, 4);
    {
        let s = store.state.lock().unwrap();
        assert_eq!(s.event_pairs, 4);
        // The step read beside the batches, but wrote after every one of them.
        assert!(s.applied.len() > 1, "{} batches", s.applied.len());
        assert_eq!(s.batches_before_event_write, [s.applied.len()]);
    }

    let mut off = p.clone();
    off.inservice = false;
    let store = MockStore::default();
    let r = run_new(&store, &make, &off, 1).unwrap();
    assert_eq!(r.report.inservice.inservice_pairs, 0);
    assert_eq!(store.state.lock().unwrap().event_pairs, 0);
}

#[test]
fn a_failed_batch_leaves_the_inservice_step_unwritten() {
    let all = visits(5, 1);
    let make = training_source(&all);
    let p = params(Mode::Full);
    let probe = MockStore::default();
    full_run(&probe, &completed(&all));
    let key = probe.state.lock().unwrap().applied[0].0.clone();
    let store = MockStore {
        permanent_failure_key: Some(key.clone()),
        ..MockStore::default()
    };
    let err = run_new(&store, make, &p, 2).unwrap_err();
    assert!(err.to_string().contains(&key), "{err}");
    // The events were read beside the batches, but a failed run writes no event row.
    let s = store.state.lock().unwrap();
    assert_eq!(s.event_pairs, 0);
    assert!(s.batches_before_event_write.is_empty());
}

/// `all` as worked visits (started and ended as scheduled, not missed): what the InService
/// step pairs.
fn completed(all: &[Visit]) -> Vec<Visit> {
    let mut out = all.to_vec();
    for c in out.iter_mut() {
        c.visit_start = c.sch_start;
        c.visit_end = c.sch_end;
        c.is_missed = Some(false);
    }
    out
}

#[test]
fn an_interrupt_during_the_event_reads_stops_them_and_writes_no_event_row() {
    let all = visits(5, 1);
    let completed = completed(&all);
    let event = training(1, &all[0]);
    let cancel = Arc::new(AtomicBool::new(false));
    let near_reads = Arc::new(AtomicU32::new(0));
    let make = || {
        Ok(MockSource {
            visits: completed.clone(),
            events: vec![event.clone()],
            interrupt_on_events: Some(cancel.clone()),
            near_reads: near_reads.clone(),
            ..MockSource::default()
        })
    };
    let store = MockStore::default();
    let p = params(Mode::Full);
    let r = run_job(
        &store,
        make,
        Start::New(p.clone()),
        &p,
        &opts(1),
        &cancel,
        &Silent,
    )
    .unwrap();
    assert_eq!(r.outcome, Outcome::Interrupted);
    // The events were read (that is when Ctrl-C came); the visits near them were not.
    assert_eq!(near_reads.load(Ordering::SeqCst), 0);
    assert_eq!(store.state.lock().unwrap().event_pairs, 0);
}

/// A source of `all` as worked visits with one training of the first visit's caregiver.
fn training_source(all: &[Visit]) -> impl Fn() -> Result<MockSource, SourceFailure> + Sync {
    let (visits, event) = (completed(all), training(1, &all[0]));
    move || {
        Ok(MockSource {
            visits: visits.clone(),
            events: vec![event.clone()],
            ..MockSource::default()
        })
    }
}

/// A new run of `p` with `workers` workers, not cancelled, observed by nobody.
fn run_new<S, F>(
    store: &MockStore,
    make: F,
    p: &RunParams,
    workers: usize,
) -> Result<JobResult, JobError>
where
    S: VisitSource,
    F: Fn() -> Result<S, S::Error> + Sync,
{
    run_job(
        store,
        make,
        Start::New(p.clone()),
        p,
        &opts(workers),
        &AtomicBool::new(false),
        &Silent,
    )
}

/// Runs a full job over `all` against `store`.
fn full_run(store: &MockStore, all: &[Visit]) -> JobResult {
    let p = params(Mode::Full);
    run_new(store, source_for(all), &p, 2).unwrap()
}

#[test]
fn runs_follow_the_lifecycle_insert_then_keep_then_resolve() {
    // 40 SSNs × 3 days, each day two overlapping schedules (9–11 at p0, 10–12 at p1): rule 4
    // in both directions, so 2 pairs per SSN and day = 240 pairs (docs/rules.md).
    let all = visits(40, 3);
    let store = MockStore::default();

    let first = full_run(&store, &all);
    assert_eq!(first.report.writes.inserted, 240);
    assert_eq!(first.report.writes.unchanged, 0);
    // One conflict per primary visit (docs/lifecycle.md §5.2): every visit is a V1 once.
    assert_eq!(first.report.writes.conflicts_created, 240);

    // Same data again: every row is re-detected with the same values and left untouched
    // (§4.3), nothing new, nothing stale.
    let second = full_run(&store, &all);
    assert_eq!(second.report.writes.inserted, 0);
    assert_eq!(second.report.writes.updated, 0);
    assert_eq!(second.report.writes.unchanged, 240);
    assert_eq!(second.report.writes.resolved, 0);

    // The first SSN's visits are gone: its 6 rows are stale and resolved (§6), the others
    // stay as they are.
    let ssn0 = all[0].ssn.clone();
    let rest: Vec<Visit> = all.iter().filter(|v| v.ssn != ssn0).cloned().collect();
    let third = full_run(&store, &rest);
    assert_eq!(third.report.writes.resolved, 6);
    assert_eq!(third.report.writes.unchanged, 234);
    let s = store.state.lock().unwrap();
    assert_eq!(s.cvm.with_status("R"), 6);
    assert_eq!(s.cvm.with_status("N"), 234);
}

/// A failed fetch names its batch and shows the source's cause once, after the attempts; the
/// wrappers print their cause rather than return it from `source()`, so a chain printed link by
/// link (the CLI) does not repeat it.
#[test]
fn batch_errors_show_the_key_the_attempts_and_the_cause_once() {
    use std::error::Error;
    let e = JobError::Batch {
        key: "12".into(),
        cause: Box::new(JobError::Source(Box::new(JobError::Retried {
            attempts: 4,
            cause: "connection reset".into(),
        }))),
    };
    assert_eq!(
        e.to_string(),
        "batch 12: analytics source: failed after 4 attempt(s): connection reset"
    );
    assert!(e.source().is_none());
    let w = JobError::Worker {
        worker: "h:1:ab/w0".into(),
        cause: Box::new(JobError::Claim("gone".into())),
    };
    assert_eq!(w.to_string(), "h:1:ab/w0: claiming a batch: gone");
    assert!(w.source().is_none());
}

/// An in-service event of the SSN of `v` at a training provider, over `v`'s schedule.
fn training(id: i64, v: &Visit) -> SourcedEvent {
    let start = v.sch_start.unwrap();
    SourcedEvent {
        event: Event {
            kind: EventKind::InService,
            source_id: id,
            environment: "prod".into(),
            caregiver_id: None,
            ssn: v.ssn.clone(),
            provider_id: "training-provider".into(),
            start: Some(start),
            end: Some(start + chrono::Duration::hours(1)),
        },
        details: VisitDetails::empty(),
    }
}

/// docs/lifecycle.md §7.1: an incremental run re-derives in-service rows only for the SSNs
/// whose events or visits changed; with nothing changed it reads no visits and writes nothing;
/// a dry run records no bookkeeping.
#[test]
fn incremental_event_steps_re_derive_only_changed_caregivers() {
    let mut all = visits(6, 2);
    for v in all.iter_mut() {
        v.visit_start = v.sch_start;
        v.visit_end = v.sch_end;
        v.is_missed = Some(false);
    }
    // Visits are laid out SSN by SSN, 2 days × 2 providers: SSN k starts at index 4k.
    let ssn = |k: usize| trimmed(&all[4 * k]);
    let events: Vec<SourcedEvent> = (0..3)
        .map(|k| training(k as i64 + 1, &all[4 * k]))
        .collect();
    let store = MockStore::default();
    let run = |visits: &[Visit], events: &[SourcedEvent], p: &RunParams| {
        let make = || {
            Ok(MockSource {
                visits: visits.to_vec(),
                events: events.to_vec(),
                fail: false,
                ..MockSource::default()
            })
        };
        run_job(
            &store,
            make,
            Start::New(p.clone()),
            p,
            &opts(1),
            &AtomicBool::new(false),
            &Silent,
        )
        .unwrap()
    };
    let full = run(&all, &events, &params(Mode::Full));
    assert_eq!(full.report.inservice.inservice_ssns_rederived, 3);
    // Each event overlaps both visits of its SSN's first day: 2 visits × 2 orders.
    assert_eq!(full.report.inservice.inservice_pairs, 12);
    assert_eq!(
        store.state.lock().unwrap().event_ssns,
        [vec![ssn(0), ssn(1), ssn(2)]]
    );

    // Every visit was updated at noon of its day (2025-06-01 or 02): nothing is a delta.
    let mut inc = params(Mode::Incremental);
    inc.since = day("2025-06-03").and_hms_opt(0, 0, 0);
    let noop = run(&all, &events, &inc);
    let r = &noop.report.inservice;
    assert_eq!(
        (r.inservice_ssns_rederived, r.inservice_ssns_skipped),
        (0, 3)
    );
    assert_eq!(r.inservice_visits_read, 0);
    assert_eq!(r.inservice_pairs, 0);
    assert_eq!(store.state.lock().unwrap().event_ssns.len(), 1, "no write");

    // SSN 1's event moves; a visit of SSN 2 is updated (a delta key).
    let mut moved = events.clone();
    moved[1].event.end = Some(moved[1].event.end.unwrap() + chrono::Duration::minutes(30));
    let mut changed = all.clone();
    changed[4 * 2 + 1].updated_at = day("2025-06-04").and_hms_opt(8, 0, 0);
    let mut dry = inc.clone();
    dry.dry_run = true;
    let d = run(&changed, &moved, &dry);
    assert_eq!(d.report.inservice.inservice_ssns_rederived, 2);
    let step = run(&changed, &moved, &inc);
    let r = &step.report.inservice;
    assert_eq!(
        (r.inservice_ssns_rederived, r.inservice_ssns_skipped),
        (2, 1),
        "the dry run recorded nothing, so the change is still seen"
    );
    assert_eq!(r.inservice_pairs, 8);
    assert_eq!(
        store.state.lock().unwrap().event_ssns.last().unwrap(),
        &vec![ssn(1), ssn(2)]
    );

    // A visit of SSN 0 changes; the run is interrupted after its batch, before the step. The
    // resumed run did not plan the batches, so it asks the source for the delta keys again.
    changed[0].updated_at = day("2025-06-05").and_hms_opt(8, 0, 0);
    let make = || {
        Ok(MockSource {
            visits: changed.clone(),
            events: moved.clone(),
            fail: false,
            ..MockSource::default()
        })
    };
    let cancel = AtomicBool::new(false);
    let stopped = run_job(
        &store,
        make,
        Start::New(inc.clone()),
        &inc,
        &opts(1),
        &cancel,
        &CancelAfter(&cancel, AtomicU32::new(1)),
    )
    .unwrap();
    assert_eq!(stopped.outcome, Outcome::Interrupted);
    assert_eq!(stopped.report.inservice.inservice_ssns_rederived, 0);
    let resumed = run_job(
        &store,
        make,
        Start::Resume(None),
        &inc,
        &opts(1),
        &AtomicBool::new(false),
        &Silent,
    )
    .unwrap();
    assert_eq!(resumed.outcome, Outcome::Succeeded);
    // SSN 2's visit is still a delta under the run's watermark: re-derived again, harmlessly.
    assert_eq!(resumed.report.inservice.inservice_ssns_rederived, 2);
    assert_eq!(
        store.state.lock().unwrap().event_ssns.last().unwrap(),
        &vec![ssn(0), ssn(2)]
    );
}
