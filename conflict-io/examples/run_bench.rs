//! End-to-end time of a full run (`run_job`: psqlODBC source → detection → PostgreSQL store) on
//! a generated world, for issue "conflicts run" figures.
//!
//! ```text
//! CONFLICTS_TEST_PG='host=127.0.0.1 port=5432 user=postgres dbname=postgres' \
//!   cargo run --release -p conflict-io --example run_bench -- --visits 638216 --ssns 1284 \
//!   --existing 15000 --workers 2
//! ```
//!
//! Loads the world into `analytics_t_<random>`, creates `conflict_t_<random>` with settings and
//! the default bands, seeds `--existing` stored rows (re-detected pairs, so the first run has
//! updates to check, plus stale rows), then runs a full run twice (the second shows the
//! unchanged-rows path), then an incremental run with nothing changed (`since` after every
//! `"Visit Updated Timestamp"` of the world), and prints the time per step. Both schemas are
//! dropped at the end. `--inservice` runs the InService step in every run (PTO stays off);
//! `--noop-runs N` repeats the incremental run N times.
//! `--changes-out DIR` runs in shadow mode, writing `DIR/run-1.csv`, `DIR/run-2.csv` and
//! `DIR/run-3.csv`.

#[path = "../tests/support/mod.rs"]
mod support;

use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use conflict_core::{detect, DetectConfig, DetectedPair, Exclusions};
use conflict_io::analytics::AnalyticsSource;
use conflict_io::run::{run_job, JobOptions, Mode, RunParams, Silent, Start};
use conflict_io::store::{PgStore, SchemaNames};

use support::env;
use support::expected::Expected;
use support::load::AnalyticsDb;
use support::world::{World, WorldConfig};

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(|v| {
            v.parse()
                .unwrap_or_else(|_| panic!("{name} takes a number"))
        })
        .unwrap_or(default)
}

fn flag(name: &str) -> bool {
    std::env::args().any(|a| a == name)
}

fn main() {
    let inservice = flag("--inservice");
    let visits = arg("--visits", 638_216);
    let ssns = arg("--ssns", 1_284);
    let existing = arg("--existing", 15_000);
    let workers = arg("--workers", 2);
    let mut cfg = WorldConfig::batch6(11);
    cfg.visits = visits;
    cfg.people = ssns;
    let t = Instant::now();
    let world = World::generate(&cfg);
    let mut db = AnalyticsDb::create();
    let stats = db.load(&world);
    println!(
        "world: {} visits ({} rows in all) generated and loaded in {:.1} s",
        stats.visits,
        stats.rows,
        t.elapsed().as_secs_f64()
    );

    let names = SchemaNames::new(db.names.conflict.as_str(), &db.schema()).unwrap();
    let mut client = env::pg_client();
    env::create_conflict_schema(&mut client, &names);
    let s = names.conflict.quoted();

    // Stored rows: the first `existing` expected pairs (with flags 'N' so the run updates
    // them) and as many made-up stale rows under the same keys.
    let base = Expected::new(&world).visits(&cfg.window(), &Exclusions::default());
    let mut pairs: Vec<DetectedPair> = Vec::new();
    let dcfg = DetectConfig::new(cfg.as_of).unwrap();
    let report = detect(&base, &dcfg, &mut pairs).unwrap();
    let seeded = pairs.len().min(existing);
    let mut sql = String::new();
    for (n, p) in pairs.iter().take(seeded).enumerate() {
        let (a, b) = (&base[p.v1], &base[p.v2]);
        let ssn = report.ssn(p.v1).unwrap();
        let stale = format!("00000000-0000-4000-8000-{:012x}", n);
        sql.push_str(&format!(
            "INSERT INTO {s}.conflictvisitmaps (\"VisitID\", \"ConVisitID\", \"SSN\", \"VisitDate\", \
             \"CONFLICTID\", \"StatusFlag\", \"SameSchTimeFlag\", \"SameVisitTimeFlag\", \
             \"SchAndVisitTimeSameFlag\", \"SchOverAnotherSchTimeFlag\", \
             \"VisitTimeOverAnotherVisitTimeFlag\", \"SchTimeOverVisitTimeFlag\", \"DistanceFlag\") \
             VALUES ('{}', '{}', '{ssn}', '{}', {id}, 'N', 'N','N','N','N','N','N','N'), \
             ('{}', '{stale}', '{ssn}', '{}', {id}, 'N', 'N','N','N','N','N','N','N');\n",
            a.visit_id,
            b.visit_id,
            a.visit_date,
            a.visit_id,
            a.visit_date,
            id = 1_000_000 + n
        ));
    }
    client.batch_execute(&sql).unwrap();
    // The load leaves about a gigabyte of dirty pages and WAL behind: flushed now, the
    // checkpoint it would otherwise trigger does not write (and log full pages) during the
    // measured runs. Needs a superuser or pg_checkpoint; the measurement is only noisier
    // without it.
    if let Err(e) = client.batch_execute("CHECKPOINT") {
        eprintln!("note: CHECKPOINT before measuring failed ({e}); figures include its writes");
    }
    println!(
        "detected pairs in the world: {}; seeded {} stored pairs + {} stale rows",
        pairs.len(),
        seeded,
        seeded
    );

    let changes_dir = std::env::args()
        .skip_while(|a| a != "--changes-out")
        .nth(1)
        .map(std::path::PathBuf::from);
    let source_cfg = db.config(true);
    let make = || AnalyticsSource::connect(source_cfg.clone());
    let params = RunParams {
        inservice,
        ..RunParams::new(Mode::Full, Some(cfg.as_of))
    };
    // An incremental run with nothing changed: the watermark lies after every update
    // timestamp of the world, so no visit is a delta.
    let last_update = world
        .visits
        .iter()
        .filter_map(|v| v.updated_at)
        .max()
        .expect("the world has update timestamps");
    let noop = RunParams {
        mode: Mode::Incremental,
        since: Some(last_update + chrono::TimeDelta::seconds(1)),
        ..params.clone()
    };
    let opts = JobOptions {
        workers,
        poll: Duration::from_millis(50),
        ..JobOptions::default()
    };
    // `--noop-runs N` repeats the incremental run with nothing changed (a short run is noisy).
    let noop_runs = arg("--noop-runs", 1);
    let mut runs = vec![
        ("first run", &params),
        ("second run (nothing changed)", &params),
    ];
    runs.extend(std::iter::repeat_n(
        ("incremental run (nothing changed)", &noop),
        noop_runs,
    ));
    for (n, (attempt, params)) in runs.into_iter().enumerate() {
        let mut store =
            PgStore::connect(&env::conninfo(), names.clone(), workers as u32 + 2).unwrap();
        let sink = changes_dir.as_ref().map(|d| {
            let path = d.join(format!("run-{}.csv", n + 1));
            std::sync::Arc::new(conflict_io::csv::CsvChangeSink::create(&path).unwrap())
        });
        if let Some(sink) = &sink {
            store = store.with_changes(sink.clone());
        }
        let t = Instant::now();
        let r = run_job(
            &store,
            make,
            Start::New(params.clone()),
            params,
            &opts,
            &AtomicBool::new(false),
            &Silent,
        )
        .unwrap();
        if let Some(sink) = &sink {
            let c = sink.finish().unwrap();
            println!(
                "  changes file: {} insert, {} update, {} resolve",
                c.inserted, c.updated, c.resolved
            );
        }
        let secs = t.elapsed().as_secs_f64();
        let (tm, w, i) = (&r.report.timing, &r.report.writes, &r.report.input);
        println!(
            "{attempt}: {secs:.2} s wall, {} batches, {} visits read ({:.0}/s), {} pairs; \
             updated {} unchanged {} inserted {} resolved {} conflicts created {}",
            tm.batches,
            i.visits_read,
            i.visits_read as f64 / secs,
            r.report.detection.pairs_detected,
            w.updated,
            w.unchanged,
            w.inserted,
            w.resolved,
            w.conflicts_created
        );
        println!(
            "  steps (fetch/detect/write summed over {workers} workers): preflight {:.2} s, \
             load_reference {:.2} s, scope {:.2} s, fetch {:.2} s, detect {:.2} s, write {:.2} s, \
             inservice {:.2} s, finish {:.2} s",
            tm.preflight,
            tm.load_reference,
            tm.scope,
            tm.read_visits,
            tm.detect,
            tm.apply,
            tm.inservice,
            tm.finish
        );
        let is = serde_json::to_value(&r.report).map(|v| v["inservice"].clone());
        if inservice {
            println!("  inservice: {}", is.unwrap_or_default());
        }
    }
    client
        .batch_execute(&format!("DROP SCHEMA {s} CASCADE"))
        .unwrap();
}
