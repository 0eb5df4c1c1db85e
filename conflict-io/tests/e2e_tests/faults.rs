//! Faults during a run (docs/lifecycle.md §9, README "Failure model"): a slow live worker keeps its
//! claim, a stolen claim cannot commit, a joiner started with the owner takes part, a
//! terminated session is reconnected and retried, exhausted retries fail the run with the
//! batch and its cause (and `--resume` completes it), a lost run lock stops the run.
//!
//! Every expectation is a fact independent of the code under test: the database state of an
//! uninterrupted run in another schema, row counts, and the ledger's own columns.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use conflict_io::run::{
    run_job, JobError, JobOptions, JobResult, Mode, Observer, Outcome, RunParams, Silent, Start,
    WriteCounts,
};
use conflict_io::store::BatchHook;
use conflict_io::store::PgStore;

use super::harness::{job, params, run_full, ConflictSchema, Loaded, Target};
use crate::support::env;

/// Long enough for any step of these small runs on a loaded machine; only a hang reaches it.
const PATIENCE: Duration = Duration::from_secs(180);

fn store(target: &Target, hook: Option<BatchHook>) -> PgStore {
    let s = PgStore::connect(&env::conninfo(), target.names.clone(), 8).unwrap();
    match hook {
        Some(h) => s.with_batch_hook(h),
        None => s,
    }
}

fn go(
    target: &Target,
    store: &PgStore,
    start: Start,
    p: &RunParams,
    opts: &JobOptions,
    observer: &dyn Observer,
) -> Result<JobResult, JobError> {
    let make = || target.connect();
    run_job(
        store,
        make,
        start,
        p,
        opts,
        &AtomicBool::new(false),
        observer,
    )
}

fn named(name: &str, workers: usize) -> JobOptions {
    JobOptions {
        worker_name: name.into(),
        retry_backoff: Duration::from_millis(10),
        ..job(workers, 1)
    }
}

/// (Status, ClaimedBy, Attempts) of every ledger row of run 1, by batch key.
fn ledger(schema: &mut ConflictSchema) -> Vec<(String, String, Option<String>, i32)> {
    let sql = format!(
        "SELECT \"BatchKey\", \"Status\", \"ClaimedBy\", \"Attempts\" FROM {} \
         WHERE \"RunID\" = 1 ORDER BY \"BatchKey\"",
        schema.t("detection_run_batches")
    );
    schema
        .client
        .query(&sql, &[])
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect()
}

/// `--resume` by a second process completes the run, ending exactly where an uninterrupted
/// run (`reference`) ended.
fn resume_completes(
    target: &Target,
    p: &RunParams,
    reference: &mut ConflictSchema,
    shared: &mut ConflictSchema,
) {
    let resumed = go(
        target,
        &store(target, None),
        Start::Resume(None),
        p,
        &named("B", 1),
        &Silent,
    )
    .unwrap();
    assert_eq!(resumed.outcome, Outcome::Succeeded);
    assert_eq!(reference.snapshot(), shared.snapshot());
}

fn duplicate_pairs(schema: &mut ConflictSchema) -> i64 {
    schema.scalar_i64(&format!(
        "SELECT count(*) FROM (SELECT 1 FROM {} GROUP BY \"VisitID\", \"ConVisitID\" \
         HAVING count(*) > 1) d",
        schema.t("conflictvisitmaps")
    ))
}

/// A hook that stops the first batch to reach it until the test opens the gate.
fn pause_first() -> (BatchHook, Receiver<(String, i32)>, Sender<()>) {
    let (reached_tx, reached_rx) = channel();
    let (gate_tx, gate_rx) = channel::<()>();
    let gate = Mutex::new(gate_rx);
    let first = AtomicBool::new(true);
    let reached_tx = Mutex::new(reached_tx);
    let hook: BatchHook = Arc::new(move |key: &str, pid: i32| {
        if first.swap(false, Ordering::SeqCst) {
            let _ = reached_tx.lock().unwrap().send((key.to_string(), pid));
            let _ = gate.lock().unwrap().recv_timeout(PATIENCE);
        }
    });
    (hook, reached_rx, gate_tx)
}

/// Ends a server session and waits until it is gone, as an idle-session killer or a
/// failover would.
fn terminate(pid: i32) {
    let mut c = env::pg_client();
    c.execute("SELECT pg_terminate_backend($1)", &[&pid])
        .unwrap();
    let deadline = std::time::Instant::now() + PATIENCE;
    while c
        .query_one(
            "SELECT count(*) FROM pg_stat_activity WHERE pid = $1",
            &[&pid],
        )
        .unwrap()
        .get::<_, i64>(0)
        > 0
    {
        assert!(
            std::time::Instant::now() < deadline,
            "session {pid} lives on"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Counts retries and lost claims per batch.
#[derive(Default)]
struct Events {
    retries: Mutex<Vec<(String, String)>>,
    lost: AtomicU32,
}

impl Observer for Events {
    fn retrying(&self, key: &str, _attempt: u32, error: &str) {
        self.retries
            .lock()
            .unwrap()
            .push((key.to_string(), error.to_string()));
    }
    fn claim_lost(&self, _key: &str, _error: &str) {
        self.lost.fetch_add(1, Ordering::SeqCst);
    }
}

/// Worker A pauses inside a batch, holding it; process B joins and does everything else but
/// cannot take A's batch, however long A takes. A then commits it: one commit per batch, no
/// duplicate rows, the state of one uninterrupted run.
fn a_slow_live_worker_keeps_its_batch(with_unique_index: bool) {
    let loaded = Loaded::new(61);
    let mut reference = loaded.conflict_schema("ref");
    run_full(&loaded, &reference);
    let mut shared = loaded.conflict_schema("slow");
    if !with_unique_index {
        // As in deployments without the pair index: a second commit would insert duplicates.
        let s = shared.names.conflict.quoted();
        shared.exec(&format!("DROP INDEX {s}.cvm_pair_unique"));
    }
    let target = Target::of(&loaded, &shared);
    let p = params(Mode::Full, loaded.cfg.as_of);
    let (hook, reached, gate) = pause_first();
    let a_store = store(&target, Some(hook));
    let b_store = store(&target, None);
    let (a_opts, b_opts) = (named("A", 1), named("B", 1));
    let (held, ledger_while_held, b_finished, a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| {
            go(
                &target,
                &a_store,
                Start::New(p.clone()),
                &p,
                &a_opts,
                &Silent,
            )
        });
        let (key, _) = reached.recv_timeout(PATIENCE).expect("A reaches a batch");
        let (done_tx, done_rx) = channel();
        let (target, b_store, p, b_opts) = (&target, &b_store, &p, &b_opts);
        let b = s.spawn(move || {
            let r = go(target, b_store, Start::Join(1), p, b_opts, &Silent);
            let _ = done_tx.send(());
            r
        });
        // B ends on its own while A still holds its batch (with a broken claim it would take
        // A's batch, and with the unique index wait for A's uncommitted rows).
        let b_finished = done_rx.recv_timeout(PATIENCE).is_ok();
        let ledger_while_held = ledger(&mut shared);
        gate.send(()).unwrap();
        (
            key,
            ledger_while_held,
            b_finished,
            a.join().unwrap(),
            b.join().unwrap(),
        )
    });
    assert!(b_finished, "the joiner finished while A held its batch");
    let row = ledger_while_held
        .iter()
        .find(|r| r.0 == held)
        .expect("A's batch is in the ledger");
    assert_eq!(
        (row.1.as_str(), row.2.as_deref(), row.3),
        ("claimed", Some("A/w0"), 1),
        "A's batch stayed A's while A was slow"
    );
    assert_eq!(a.unwrap().outcome, Outcome::Succeeded);
    let b = b.unwrap();
    assert!(!b.owner);
    assert!(b.report.timing.batches > 0, "B did part of the run");
    let after = ledger(&mut shared);
    assert!(after.iter().all(|r| r.1 == "done" && r.3 == 1), "{after:?}");
    let by_a = after.iter().find(|r| r.0 == held).unwrap();
    assert_eq!(by_a.2.as_deref(), Some("A/w0"), "A completed its batch");
    assert_eq!(duplicate_pairs(&mut shared), 0);
    assert_eq!(reference.snapshot(), shared.snapshot());
}

both_sources! {
fn a_slow_live_worker_keeps_its_batch_with_the_unique_pair_index() {
    a_slow_live_worker_keeps_its_batch(true);
}
}

both_sources! {
fn a_slow_live_worker_keeps_its_batch_without_the_unique_pair_index() {
    a_slow_live_worker_keeps_its_batch(false);
}
}

both_sources! {
/// A claim taken away from a worker while it is inside its batch (here by hand, as an older
/// version's time-based takeover or an operator's edit of the ledger would) cannot commit: the
/// fence rolls the batch back, and the batch is then done once, by a claimant that holds it.
fn a_stolen_claim_cannot_commit() {
    let loaded = Loaded::new(62);
    let mut reference = loaded.conflict_schema("ref");
    run_full(&loaded, &reference);
    let mut shared = loaded.conflict_schema("stolen");
    let s = shared.names.conflict.quoted();
    shared.exec(&format!("DROP INDEX {s}.cvm_pair_unique"));
    let target = Target::of(&loaded, &shared);
    let p = params(Mode::Full, loaded.cfg.as_of);
    let (hook, reached, gate) = pause_first();
    let a_store = store(&target, Some(hook));
    let events = Events::default();
    let t = shared.t("detection_run_batches");
    let (key, result) = std::thread::scope(|sc| {
        let a = sc.spawn(|| {
            go(
                &target,
                &a_store,
                Start::New(p.clone()),
                &p,
                &named("A", 1),
                &events,
            )
        });
        let (key, _) = reached.recv_timeout(PATIENCE).expect("A reaches a batch");
        let mut thief = env::pg_client();
        thief
            .execute(
                &format!(
                    "UPDATE {t} SET \"ClaimedBy\" = 'thief' WHERE \"RunID\" = 1 AND \"BatchKey\" = $1"
                ),
                &[&key],
            )
            .unwrap();
        gate.send(()).unwrap();
        (key, a.join().unwrap())
    });
    assert_eq!(result.unwrap().outcome, Outcome::Succeeded);
    assert_eq!(
        events.lost.load(Ordering::SeqCst),
        1,
        "A let the stolen batch go once"
    );
    let row = ledger(&mut shared)
        .into_iter()
        .find(|r| r.0 == key)
        .unwrap();
    // The thief never finished it; A claimed it again (the thief held no lock) and did it.
    assert_eq!(
        (row.1.as_str(), row.2.as_deref(), row.3),
        ("done", Some("A/w0"), 2)
    );
    assert_eq!(duplicate_pairs(&mut shared), 0);
    assert_eq!(reference.snapshot(), shared.snapshot());
}
}

/// Raises a flag when a named phase starts, and can hold that phase until released.
struct Phases {
    waiting: Sender<()>,
    first_batch: Mutex<Option<Sender<()>>>,
}

impl Observer for Phases {
    fn phase(&self, name: &str) {
        if name.starts_with("waiting for run") {
            let _ = self.waiting.send(());
        }
    }
    fn batch_done(&self, _key: &str, _visits: u64, _c: &WriteCounts) {
        if let Some(tx) = self.first_batch.lock().unwrap().take() {
            let _ = tx.send(());
        }
    }
}

/// Holds the owner before it plans until the joiner waits, and inside its first batch until
/// the joiner has completed one.
struct OwnerGate {
    joiner_waits: Mutex<Receiver<()>>,
}

impl Observer for OwnerGate {
    fn phase(&self, name: &str) {
        if name == "scope" {
            let _ = self.joiner_waits.lock().unwrap().recv_timeout(PATIENCE);
        }
    }
}

both_sources! {
/// An orchestrator starts the owner and a joiner at the same moment: the joiner finds the run
/// before its batches are planned, waits for them, and then completes batches of its own.
fn a_joiner_started_with_the_owner_waits_for_the_plan_and_takes_part() {
    let loaded = Loaded::new(63);
    let mut reference = loaded.conflict_schema("ref");
    run_full(&loaded, &reference);
    let mut shared = loaded.conflict_schema("together");
    let target = Target::of(&loaded, &shared);
    let p = params(Mode::Full, loaded.cfg.as_of);
    let (waiting_tx, waiting_rx) = channel();
    let (joined_tx, joined_rx) = channel::<()>();
    let joined_rx = Mutex::new(joined_rx);
    let first = AtomicBool::new(true);
    // The owner's first batch waits until the joiner has completed one, so both take part
    // whatever the scheduling.
    let hook: BatchHook = Arc::new(move |_key: &str, _pid: i32| {
        if first.swap(false, Ordering::SeqCst) {
            let _ = joined_rx.lock().unwrap().recv_timeout(PATIENCE);
        }
    });
    let owner_store = store(&target, Some(hook));
    let joiner_store = store(&target, None);
    let gate = OwnerGate {
        joiner_waits: Mutex::new(waiting_rx),
    };
    let phases = Phases {
        waiting: waiting_tx,
        first_batch: Mutex::new(Some(joined_tx)),
    };
    let runs = shared.t("detection_runs");
    let (owner, joiner) = std::thread::scope(|s| {
        let owner = s.spawn(|| {
            go(
                &target,
                &owner_store,
                Start::New(p.clone()),
                &p,
                &named("owner", 1),
                &gate,
            )
        });
        // Started "together": as soon as the run exists, before its batches are planned.
        let mut watcher = env::pg_client();
        let deadline = std::time::Instant::now() + PATIENCE;
        while watcher
            .query_one(&format!("SELECT count(*) FROM {runs}"), &[])
            .unwrap()
            .get::<_, i64>(0)
            == 0
        {
            assert!(
                std::time::Instant::now() < deadline,
                "the owner never started"
            );
            std::thread::sleep(Duration::from_millis(2));
        }
        let joiner = go(
            &target,
            &joiner_store,
            Start::Join(1),
            &p,
            &named("joiner", 1),
            &phases,
        );
        (owner.join().unwrap(), joiner)
    });
    assert_eq!(owner.unwrap().outcome, Outcome::Succeeded);
    let joiner = joiner.expect("the joiner ends without error");
    assert!(!joiner.owner);
    assert!(
        joiner.report.timing.batches > 0,
        "the joiner completed batches"
    );
    let rows = ledger(&mut shared);
    let by = |who: &str| {
        rows.iter()
            .filter(|r| r.2.as_deref().is_some_and(|c| c.starts_with(who)))
            .count()
    };
    assert!(by("owner/") > 0 && by("joiner/") > 0, "{rows:?}");
    assert_eq!(by("owner/") + by("joiner/"), rows.len());
    assert_eq!(
        by("joiner/") as u64,
        joiner.report.timing.batches,
        "the joiner reports its own share"
    );
    assert_eq!(reference.snapshot(), shared.snapshot());
}
}

both_sources! {
/// The server ends the batch's session in the middle of the batch: the batch rolls back, is
/// claimed again on a fresh connection and retried; the run completes exactly.
fn a_session_terminated_mid_batch_is_reconnected_and_the_run_completes_exactly() {
    let loaded = Loaded::new(64);
    let mut reference = loaded.conflict_schema("ref");
    run_full(&loaded, &reference);
    let mut shared = loaded.conflict_schema("dropped");
    let target = Target::of(&loaded, &shared);
    let p = params(Mode::Full, loaded.cfg.as_of);
    let victim = Arc::new(Mutex::new(None));
    let first = AtomicBool::new(true);
    let v = victim.clone();
    let hook: BatchHook = Arc::new(move |key: &str, pid: i32| {
        if first.swap(false, Ordering::SeqCst) {
            *v.lock().unwrap() = Some(key.to_string());
            terminate(pid);
        }
    });
    let events = Events::default();
    let r = go(
        &target,
        &store(&target, Some(hook)),
        Start::New(p.clone()),
        &p,
        &named("A", 2),
        &events,
    )
    .expect("the run recovers on its own");
    assert_eq!(r.outcome, Outcome::Succeeded);
    let victim = victim.lock().unwrap().clone().expect("a batch was hit");
    let retries = events.retries.lock().unwrap().clone();
    assert_eq!(retries.len(), 1, "{retries:?}");
    assert_eq!(retries[0].0, victim);
    for (key, status, _, attempts) in ledger(&mut shared) {
        let want = if key == victim { 2 } else { 1 };
        assert_eq!((status.as_str(), attempts), ("done", want), "{key}");
    }
    assert_eq!(reference.snapshot(), shared.snapshot());
}
}

both_sources! {
/// Every attempt of a batch loses its session: after the retries the run fails naming the
/// batch and the cause, the batch is given back with its error, and `--resume` completes the
/// run exactly.
fn exhausted_retries_fail_the_run_with_the_batch_and_cause_and_resume_completes_it() {
    let loaded = Loaded::new(65);
    let mut reference = loaded.conflict_schema("ref");
    run_full(&loaded, &reference);
    let mut shared = loaded.conflict_schema("exhaust");
    let target = Target::of(&loaded, &shared);
    let p = params(Mode::Full, loaded.cfg.as_of);
    let hit = Arc::new(Mutex::new(Vec::new()));
    let h = hit.clone();
    let hook: BatchHook = Arc::new(move |key: &str, pid: i32| {
        h.lock().unwrap().push(key.to_string());
        terminate(pid);
    });
    let opts = JobOptions {
        retries: 2,
        ..named("A", 1)
    };
    let err = go(
        &target,
        &store(&target, Some(hook)),
        Start::New(p.clone()),
        &p,
        &opts,
        &Silent,
    )
    .unwrap_err();
    let hit = hit.lock().unwrap().clone();
    assert_eq!(hit.len(), 3, "one attempt and two retries: {hit:?}");
    let key = hit[0].clone();
    assert!(hit.iter().all(|k| *k == key));
    let text = err.to_string();
    assert!(
        text.contains(&format!("batch {key}")) && text.contains("3 attempt"),
        "{text}"
    );
    assert!(text.contains("connection"), "the cause is named: {text}");
    let row = ledger(&mut shared)
        .into_iter()
        .find(|r| r.0 == key)
        .unwrap();
    assert_eq!(
        (row.1.as_str(), row.2.as_deref(), row.3),
        ("pending", None, 3)
    );
    let status: String = shared
        .client
        .query_one(
            &format!(
                "SELECT \"Status\" FROM {} WHERE \"RunID\" = 1",
                shared.t("detection_runs")
            ),
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(status, "failed");

    resume_completes(&target, &p, &mut reference, &mut shared);
}
}

both_sources! {
/// The run lock's own connection is lost mid-run: the run stops (another run could start),
/// is recorded failed, keeps its committed batches, and `--resume` completes it.
fn a_lost_run_lock_stops_the_run_cleanly_and_resume_completes_it() {
    let loaded = Loaded::new(66);
    let mut reference = loaded.conflict_schema("ref");
    run_full(&loaded, &reference);
    let mut shared = loaded.conflict_schema("lostlock");
    let target = Target::of(&loaded, &shared);
    let p = params(Mode::Full, loaded.cfg.as_of);
    let key = conflict_io::store::lock_key(&shared.names);
    let first = AtomicBool::new(true);
    let hook: BatchHook = Arc::new(move |_key: &str, _pid: i32| {
        if first.swap(false, Ordering::SeqCst) {
            let mut c = env::pg_client();
            let holder: i32 = c
                .query_one(
                    "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 1 \
                     AND ((classid::int8 << 32) | objid::int8) = $1",
                    &[&key],
                )
                .unwrap()
                .get(0);
            terminate(holder);
        }
    });
    let err = go(
        &target,
        &store(&target, Some(hook)),
        Start::New(p.clone()),
        &p,
        &named("A", 1),
        &Silent,
    )
    .unwrap_err();
    assert!(err.to_string().contains("run lock was lost"), "{err}");
    let done = ledger(&mut shared).iter().filter(|r| r.1 == "done").count();
    assert_eq!(
        done, 1,
        "the batch in flight committed; no later one was claimed"
    );
    resume_completes(&target, &p, &mut reference, &mut shared);
}
}

both_sources! {
/// `--join` of a run id that does not exist, or of a run that is over, says so at once.
fn joining_an_unknown_or_finished_run_fails_with_a_clear_error() {
    let loaded = Loaded::new(67);
    let shared = loaded.conflict_schema("joinend");
    run_full(&loaded, &shared);
    let target = Target::of(&loaded, &shared);
    let p = params(Mode::Full, loaded.cfg.as_of);
    let s = store(&target, None);
    let err = go(&target, &s, Start::Join(99), &p, &named("J", 1), &Silent).unwrap_err();
    assert!(matches!(err, JobError::NoSuchRun(99)), "{err:?}");
    let err = go(&target, &s, Start::Join(1), &p, &named("J", 1), &Silent).unwrap_err();
    assert!(
        matches!(&err, JobError::RunEnded { run_id: 1, status } if status == "succeeded"),
        "{err:?}"
    );
}
}

both_sources! {
/// The analytics side drops: the server ends the workers' ODBC sessions in the middle of the
/// run. The fetch that hits the dead connection is retried on a fresh one; the run completes
/// exactly.
fn a_dropped_analytics_connection_is_reopened_and_the_run_completes_exactly() {
    let loaded = Loaded::new(68);
    let mut reference = loaded.conflict_schema("ref");
    run_full(&loaded, &reference);
    let mut shared = loaded.conflict_schema("odbcdrop");
    let mut target = Target::of(&loaded, &shared);
    // The workers' ODBC sessions log in as a role of their own, so the test ends exactly
    // those (their application_name is the run's query tag, the same in parallel tests).
    let app = format!("odbc_{}", shared.names.conflict.as_str());
    env::pg_client()
        .batch_execute(&format!("CREATE ROLE \"{app}\" LOGIN SUPERUSER"))
        .unwrap();
    let user = env::conninfo()
        .config()
        .get_user()
        .unwrap_or("postgres")
        .to_string();
    target.source.connection = conflict_io::analytics::ConnectionString::new(
        env::odbc_connection_string("").replace(&format!("Uid={user};"), &format!("Uid={app};")),
    );
    // The native source's sessions likewise (a later user= overrides the first).
    target.native.conn =
        conflict_io::store::ConnInfo::parse(&format!("{} user={app}", env::conninfo_text()))
            .unwrap();
    let p = params(Mode::Full, loaded.cfg.as_of);
    let killed = Arc::new(AtomicU32::new(0));
    let k = killed.clone();
    let first = AtomicBool::new(true);
    let hook: BatchHook = Arc::new(move |_key: &str, _pid: i32| {
        if first.swap(false, Ordering::SeqCst) {
            let mut c = env::pg_client();
            let pids: Vec<i32> = c
                .query(
                    "SELECT pid FROM pg_stat_activity WHERE usename = $1",
                    &[&app],
                )
                .unwrap()
                .iter()
                .map(|r| r.get(0))
                .collect();
            for pid in pids {
                terminate(pid);
                k.fetch_add(1, Ordering::SeqCst);
            }
        }
    });
    let events = Events::default();
    let r = go(
        &target,
        &store(&target, Some(hook)),
        Start::New(p.clone()),
        &p,
        &named("A", 1),
        &events,
    )
    .expect("the run recovers on its own");
    assert_eq!(r.outcome, Outcome::Succeeded);
    assert!(
        killed.load(Ordering::SeqCst) > 0,
        "an ODBC session was ended"
    );
    let retries = events.retries.lock().unwrap().clone();
    assert!(
        retries.iter().any(|(_, e)| e.contains("analytics source")),
        "a fetch was retried: {retries:?}"
    );
    assert!(ledger(&mut shared).iter().all(|r| r.1 == "done"));
    assert_eq!(reference.snapshot(), shared.snapshot());
}
}
