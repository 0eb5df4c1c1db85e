//! The report of the process that owns a run covers every batch of the run, including those a
//! `--join` process did (issue 9, item 6).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use conflict_io::run::{Mode, Observer, Outcome, Silent, Start, WriteCounts};
use postgres::Client;

use super::harness::{job, params, Loaded, Target};

/// Holds the owner's first finished batch until the joiner has finished one of its own, so
/// both processes certainly share the run.
struct WaitForJoiner {
    client: Mutex<Client>,
    batches: String,
    waited: AtomicBool,
}

impl Observer for WaitForJoiner {
    fn batch_done(&self, _key: &str, _visits: u64, _c: &WriteCounts) {
        if self.waited.swap(true, Ordering::SeqCst) {
            return;
        }
        // A guard against hanging forever if the joiner never starts, not a timing assertion.
        let give_up = Instant::now() + Duration::from_secs(300);
        let mut client = self.client.lock().unwrap();
        while Instant::now() < give_up {
            let n: i64 = client
                .query_one(
                    &format!(
                        "SELECT count(*) FROM {} WHERE \"Status\" = 'done' \
                         AND \"ClaimedBy\" LIKE 'joiner/%'",
                        self.batches
                    ),
                    &[],
                )
                .unwrap()
                .get(0);
            if n > 0 {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

both_sources! {
fn the_owner_reports_the_batches_a_joined_process_did() {
    let loaded = Loaded::new(53);
    let expected = loaded.expected_pairs();
    let mut schema = loaded.conflict_schema("whole");
    let batches = schema.t("detection_run_batches");
    let p = params(Mode::Full, loaded.cfg.as_of);
    let target = Target::of(&loaded, &schema);
    let never = AtomicBool::new(false);
    let wait = WaitForJoiner {
        client: Mutex::new(Loaded::client()),
        batches: batches.clone(),
        waited: AtomicBool::new(false),
    };
    let mut owner_opts = job(1, 1);
    owner_opts.worker_name = "owner".into();
    let mut joiner_opts = job(1, 1);
    joiner_opts.worker_name = "joiner".into();

    let (owner, joiner) = std::thread::scope(|s| {
        let owner = s.spawn(|| target.run(Start::New(p.clone()), &p, &owner_opts, &never, &wait));
        let mut watcher = Loaded::client();
        loop {
            let n: i64 = watcher
                .query_one(&format!("SELECT count(*) FROM {batches}"), &[])
                .map(|r| r.get(0))
                .unwrap_or(0);
            if n > 0 {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let joiner = target.run(Start::Join(1), &p, &joiner_opts, &never, &Silent);
        (owner.join().unwrap(), joiner)
    });
    assert_eq!(owner.outcome, Outcome::Succeeded);
    assert!(owner.owner && !joiner.owner);
    assert!(
        joiner.report.timing.batches >= 1,
        "the joiner did batches of its own"
    );

    let (done, total) = {
        let r = schema
            .client
            .query_one(
                &format!(
                    "SELECT count(*) FILTER (WHERE \"Status\" = 'done'), count(*) FROM {batches}"
                ),
                &[],
            )
            .unwrap();
        (r.get::<_, i64>(0) as u64, r.get::<_, i64>(1) as u64)
    };
    assert_eq!(done, total);
    let r = &owner.report;
    assert_eq!(r.timing.batches, total, "every batch of the run");
    assert!(joiner.report.timing.batches < total);
    // Against what the database holds and what detection over the whole world finds.
    let rows = schema.scalar_i64(&format!(
        "SELECT count(*) FROM {}",
        schema.t("conflictvisitmaps")
    )) as u64;
    assert_eq!(r.writes.inserted, rows);
    assert_eq!(r.detection.pairs_detected as usize, expected.len());
    let per_flag: u64 = r.detection.per_flag.values().sum();
    let want_per_flag: u64 = expected
        .values()
        .map(|(f, _, _)| f.iter().filter(|&&b| b).count() as u64)
        .sum();
    assert_eq!(per_flag, want_per_flag);
    // The visits both processes read add up.
    assert!(joiner.report.input.visits_read < r.input.visits_read);

    // The report stored with the run is the same whole-run report.
    let stored: serde_json::Value = schema
        .client
        .query_one(
            &format!(
                "SELECT \"Report\" FROM {} WHERE \"RunID\" = 1",
                schema.t("detection_runs")
            ),
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(stored["writes"]["inserted"], rows);
    assert_eq!(stored["timing"]["batches"], total);
}
}

/// Raises the cancel flag after the first finished batch, as Ctrl-C would.
struct StopAfterOne<'a> {
    cancel: &'a AtomicBool,
}

impl Observer for StopAfterOne<'_> {
    fn batch_done(&self, _key: &str, _visits: u64, _c: &WriteCounts) {
        self.cancel.store(true, Ordering::SeqCst);
    }
}

both_sources! {
fn a_resumed_run_reports_the_batches_of_the_interrupted_attempt_too() {
    let loaded = Loaded::new(59);
    let expected = loaded.expected_pairs();
    let mut schema = loaded.conflict_schema("resumed");
    let p = params(Mode::Full, loaded.cfg.as_of);
    let target = Target::of(&loaded, &schema);
    let cancel = AtomicBool::new(false);
    let first = target.run(
        Start::New(p.clone()),
        &p,
        &job(1, 1),
        &cancel,
        &StopAfterOne { cancel: &cancel },
    );
    assert_eq!(first.outcome, Outcome::Interrupted);
    let done_before = first.report.timing.batches;
    assert!(done_before >= 1);

    let resumed = target.run(
        Start::Resume(None),
        &p,
        &job(1, 1),
        &AtomicBool::new(false),
        &Silent,
    );
    assert_eq!(resumed.outcome, Outcome::Succeeded);
    let r = &resumed.report;
    let rows = schema.scalar_i64(&format!(
        "SELECT count(*) FROM {}",
        schema.t("conflictvisitmaps")
    )) as u64;
    assert!(
        rows > first.report.writes.inserted,
        "the resumed part wrote rows too"
    );
    assert_eq!(r.writes.inserted, rows, "both attempts");
    assert_eq!(r.detection.pairs_detected as usize, expected.len());
}
}
