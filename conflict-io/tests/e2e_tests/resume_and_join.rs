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
    // Distinct process names, so the ledger says who completed each batch.
    let (owner_opts, joiner_opts) = (
        conflict_io::run::JobOptions {
            worker_name: "owner".into(),
            ..job(1, 1)
        },
        conflict_io::run::JobOptions {
            worker_name: "joiner".into(),
            ..job(1, 1)
        },
    );
    let joined = std::thread::scope(|s| {
        let owner = s.spawn(|| target.run(Start::New(p.clone()), &p, &owner_opts, &never, &Silent));
        // Join as soon as the owner has recorded the run (the joiner waits for the batches).
        let mut watcher = super::harness::Loaded::client();
        let runs = shared.t("detection_runs");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(180);
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
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        let store = conflict_io::store::PgStore::connect(
            &crate::support::env::conninfo(),
            target.names.clone(),
            8,
        )
        .unwrap();
        let make = || conflict_io::analytics::AnalyticsSource::connect(target.source.clone());
        let joined = match conflict_io::run::run_job(
            &store,
            make,
            Start::Join(1),
            &p,
            &joiner_opts,
            &never,
            &Silent,
        ) {
            Ok(joiner) => {
                assert!(!joiner.owner);
                joiner.report.timing.batches
            }
            // On a slow machine the owner may be done before the joiner looks.
            Err(conflict_io::run::JobError::RunEnded { .. }) => 0,
            Err(e) => panic!("the joiner failed: {e}"),
        };
        let owner = owner.join().unwrap();
        assert_eq!(owner.outcome, Outcome::Succeeded);
        joined
    });
    assert_eq!(reference.snapshot(), shared.snapshot());
    // Whether the joiner got work depends on scheduling (the faults tests force it); what
    // must hold always: every batch was completed by one of the two, and the joiner's report
    // is exactly its own share.
    let mut by = |who: &str| {
        shared.scalar_i64(&format!(
            "SELECT count(*) FROM {batches} WHERE \"Status\" = 'done' \
             AND split_part(\"ClaimedBy\", '/', 1) = '{who}'"
        ))
    };
    let (by_owner, by_joiner) = (by("owner"), by("joiner"));
    let total = shared.scalar_i64(&format!("SELECT count(*) FROM {batches}"));
    assert_eq!(by_owner + by_joiner, total);
    assert_eq!(by_joiner as u64, joined, "the joiner reports its own share");
}
