//! Interrupted-and-resumed runs and runs shared by two processes end in exactly the state of
//! one uninterrupted run.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use conflict_io::run::{Mode, Observer, Outcome, Silent, Start, WriteCounts};

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

#[test]
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

#[test]
fn two_processes_joined_on_one_run_equal_one_process() {
    let loaded = Loaded::new(47);
    let mut reference = loaded.conflict_schema("one");
    run_full(&loaded, &reference);

    let mut shared = loaded.conflict_schema("two");
    let p = params(Mode::Full, loaded.cfg.as_of);
    let never = AtomicBool::new(false);
    let batches = shared.t("detection_run_batches");
    let target = Target::of(&loaded, &shared);
    let joined = std::thread::scope(|s| {
        let owner = s.spawn(|| target.run(Start::New(p.clone()), &p, &job(1, 1), &never, &Silent));
        // Join as soon as the owner has recorded the batches of run 1.
        let mut watcher = super::harness::Loaded::client();
        loop {
            let n: i64 = watcher
                .query_one(&format!("SELECT count(*) FROM {batches}"), &[])
                .map(|r| r.get(0))
                .unwrap_or(0);
            if n > 0 {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        let joiner = target.run(Start::Join(1), &p, &job(1, 1), &never, &Silent);
        let owner = owner.join().unwrap();
        assert_eq!(owner.outcome, Outcome::Succeeded);
        assert!(!joiner.owner);
        joiner.report.timing.batches
    });
    let claimed_by: i64 = shared
        .client
        .query_one(
            &format!("SELECT count(DISTINCT split_part(\"ClaimedBy\", '/', 1)) FROM {batches}"),
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(reference.snapshot(), shared.snapshot());
    assert!(
        joined > 0 || claimed_by >= 1,
        "the joined process took part"
    );
}
