//! Interrupted-and-resumed runs and runs shared by two processes end in exactly the state of
//! one uninterrupted run.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant};

use conflict_io::run::{JobOptions, Mode, Observer, Outcome, Silent, Start, WriteCounts};

use super::harness::{job, params, run, run_full, Loaded, Target};

/// Raises the cancel flag after `n` batches, as Ctrl-C would.
struct StopAfter<'a> {
    cancel: &'a AtomicBool,
    left: AtomicU32,
}

impl Observer for StopAfter<'_> {
    fn batch_done(&self, _key: &str, _visits: u64, _c: &WriteCounts) {
        if self.left.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.cancel.store(true, Ordering::SeqCst);
        }
    }
}

both_sources! {
fn an_interrupted_run_resumed_equals_an_uninterrupted_run() {
    let loaded = Loaded::new(31);
    let mut reference = loaded.conflict_schema("ref");
    run_full(&loaded, &reference);

    let mut interrupted = loaded.conflict_schema("int");
    let p = params(Mode::Full, loaded.cfg.as_of);
    let cancel = AtomicBool::new(false);
    let stop = StopAfter {
        cancel: &cancel,
        left: AtomicU32::new(3),
    };
    let first = run(
        &loaded,
        &interrupted,
        Start::New(p.clone()),
        &p,
        &job(1, 1),
        &cancel,
        &stop,
    );
    assert_eq!(first.outcome, Outcome::Interrupted);
    let runs = interrupted.t("detection_runs");
    let batches = interrupted.t("detection_run_batches");
    let (done, total) = {
        let r = interrupted
            .client
            .query_one(
                &format!(
                    "SELECT count(*) FILTER (WHERE \"Status\" = 'done'), count(*) FROM {batches}"
                ),
                &[],
            )
            .unwrap();
        (r.get::<_, i64>(0), r.get::<_, i64>(1))
    };
    assert!(
        done >= 3 && done < total,
        "{done} of {total} batches done before the stop"
    );
    let flag: i64 = interrupted
        .client
        .query_one(
            &format!(
                "SELECT \"InProgressFlag\" FROM {}",
                interrupted.t("settings")
            ),
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(flag, 2, "an interrupted run leaves InProgressFlag = 2");
    assert_ne!(
        reference.snapshot(),
        interrupted.snapshot(),
        "stopped half-way"
    );

    let resumed = run(
        &loaded,
        &interrupted,
        Start::Resume(None),
        &p,
        &job(2, 1),
        &AtomicBool::new(false),
        &Silent,
    );
    assert_eq!(resumed.outcome, Outcome::Succeeded);
    assert_eq!(reference.snapshot(), interrupted.snapshot());
    let status: String = interrupted
        .client
        .query_one(
            &format!("SELECT \"Status\" FROM {runs} ORDER BY \"RunID\" DESC LIMIT 1"),
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(status, "succeeded");
}
}

/// How long a test waits for another process's progress before it fails (a guard against a
/// hang, not a timed assertion: on success the waits end as soon as the awaited thing happens).
const HANG_GUARD: Duration = Duration::from_secs(180);

/// Counts the batches a process completed; `gate`, when set, holds the process inside its first
/// completed batch until the other process has completed one too, so that both must take part
/// whatever their relative speed.
struct Share<'a> {
    done: AtomicU32,
    gate: Option<&'a AtomicU32>,
}

impl Observer for Share<'_> {
    fn batch_done(&self, _key: &str, _visits: u64, _c: &WriteCounts) {
        let first = self.done.fetch_add(1, Ordering::SeqCst) == 0;
        if let (true, Some(other)) = (first, self.gate) {
            let deadline = Instant::now() + HANG_GUARD;
            while other.load(Ordering::SeqCst) == 0 && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    }
}

both_sources! {
fn two_processes_joined_on_one_run_equal_one_process() {
    let loaded = Loaded::new(47);
    let mut reference = loaded.conflict_schema("one");
    run_full(&loaded, &reference);

    let mut shared = loaded.conflict_schema("two");
    let p = params(Mode::Full, loaded.cfg.as_of);
    let never = AtomicBool::new(false);
    let batches = shared.t("detection_run_batches");
    let target = Target::of(&loaded, &shared);
    let named = |name: &str| JobOptions {
        worker_name: name.into(),
        ..job(1, 1)
    };
    let joiner_share = Share {
        done: AtomicU32::new(0),
        gate: None,
    };
    // The owner (one worker) stops after its first batch until the joiner has done one: a
    // joiner that does nothing makes this test fail instead of passing by the owner's work.
    let owner_share = Share {
        done: AtomicU32::new(0),
        gate: Some(&joiner_share.done),
    };
    let (owner, joiner) = std::thread::scope(|s| {
        let owner = s.spawn(|| {
            target.run(
                Start::New(p.clone()),
                &p,
                &named("owner"),
                &never,
                &owner_share,
            )
        });
        // Join as soon as the owner has recorded the batches of run 1.
        let mut watcher = super::harness::Loaded::client();
        let deadline = Instant::now() + HANG_GUARD;
        loop {
            // The ledger table may not exist yet (the owner creates it); any other error is real.
            let n: i64 = match watcher.query_one(&format!("SELECT count(*) FROM {batches}"), &[]) {
                Ok(r) => r.get(0),
                Err(e) if e.code() == Some(&postgres::error::SqlState::UNDEFINED_TABLE) => 0,
                Err(e) => panic!("watching the ledger: {e}"),
            };
            if n > 0 {
                break;
            }
            assert!(
                Instant::now() < deadline && !owner.is_finished(),
                "the owner recorded no batches"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        let joiner = target.run(Start::Join(1), &p, &named("joiner"), &never, &joiner_share);
        (owner.join().unwrap(), joiner)
    });
    assert_eq!(owner.outcome, Outcome::Succeeded);
    assert!(owner.owner);
    assert!(!joiner.owner);
    assert_eq!(reference.snapshot(), shared.snapshot());

    // Both processes completed batches, the ledger says which, and it agrees with each one's
    // own count.
    let by_process: BTreeMap<String, i64> = shared
        .client
        .query(
            &format!(
                "SELECT split_part(\"ClaimedBy\", '/', 1), count(*) FROM {batches} \
                 WHERE \"Status\" = 'done' GROUP BY 1"
            ),
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let total: i64 = shared.scalar_i64(&format!("SELECT count(*) FROM {batches}"));
    let joined = i64::from(joiner_share.done.load(Ordering::SeqCst));
    let owned = i64::from(owner_share.done.load(Ordering::SeqCst));
    assert!(joined >= 1, "the joiner completed no batch");
    assert!(owned >= 1, "the owner completed no batch");
    assert_eq!(joined + owned, total, "every batch done exactly once");
    assert_eq!(
        by_process,
        BTreeMap::from([("joiner".to_string(), joined), ("owner".to_string(), owned)]),
        "the ledger's ClaimedBy per process"
    );
    assert_eq!(joiner.report.timing.batches, joined as u64);
}
}
