//! The native PostgreSQL analytics source against the ODBC one (psqlODBC) on the same world:
//! issue "Speed II", item 4.
//!
//! ```text
//! bash scripts/with-pg.sh cargo run --release -p conflict-io --example pg_source_bench -- \
//!   --visits 638216 --ssns 1284 --workers 2 [--only odbc|native]
//! ```
//!
//! Loads a batch-6-size world into `analytics_t_<random>` (as `run_bench` does), then, the
//! sources interleaved so that a busy machine's drift favours neither: (1) the transport, three
//! times: every visit of the window in one narrow query without and with the candidate
//! pre-filter (no exclusions), then the business columns of about 20,000 of them, with wall time,
//! rows/s and this process's CPU time; (2) two full runs (no InService step, like `run_bench`'s
//! baseline) per source into a fresh conflict schema of its own: the first inserts every pair,
//! the second finds every row unchanged. Prints wall time and the report's step times. Peak memory of each phase is the growth of the process's
//! resident high-water mark (`VmHWM`, reset through `/proc/self/clear_refs` before the phase);
//! run with `--only` under `/usr/bin/time` for a whole-process figure per source.

#[path = "../tests/support/mod.rs"]
mod support;

use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use conflict_core::Exclusions;
use conflict_io::analytics_pg::{AnySource, SourceConfig};
use conflict_io::run::{run_job, JobOptions, Mode, RunParams, Silent, Start, VisitSource};
use conflict_io::scope::{BatchScope, Scope};
use conflict_io::store::{PgStore, SchemaNames};

use support::env;
use support::load::AnalyticsDb;
use support::world::{World, WorldConfig};

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

fn num(name: &str, default: usize) -> usize {
    arg(name).map_or(default, |v| {
        v.parse()
            .unwrap_or_else(|_| panic!("{name} takes a number"))
    })
}

/// A `/proc/self/status` value in kB.
fn status_kb(key: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// Resets the resident high-water mark to the current resident size; returns that size.
fn reset_peak() -> u64 {
    // Linux: writing 5 to clear_refs resets VmHWM (proc(5)).
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    status_kb("VmRSS:")
}

fn peak_growth_mb(base: u64) -> f64 {
    status_kb("VmHWM:").saturating_sub(base) as f64 / 1024.0
}

/// User + system CPU seconds of this process so far (`/proc/self/stat`, 100 ticks a second).
fn cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which is in parentheses and may hold spaces).
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<u64> = rest
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|v| v.parse().ok())
        .collect();
    f.iter().sum::<u64>() as f64 / 100.0
}

fn connect(cfg: &SourceConfig) -> AnySource {
    cfg.connect().unwrap_or_else(|e| panic!("connect: {e}"))
}

fn main() {
    let mut cfg = WorldConfig::batch6(11);
    cfg.visits = num("--visits", 638_216);
    cfg.people = num("--ssns", 1_284);
    let workers = num("--workers", 2);
    let only = arg("--only");
    let t = Instant::now();
    let mut db = AnalyticsDb::create();
    let stats = {
        let world = World::generate(&cfg);
        db.load(&world)
    };
    println!(
        "world: {} visits ({} rows in all) generated and loaded in {:.1} s",
        stats.visits,
        stats.rows,
        t.elapsed().as_secs_f64()
    );

    // (name, pre-filter on, pre-filter off)
    let sources = [
        (
            "odbc",
            SourceConfig::Odbc(db.config(true)),
            SourceConfig::Odbc(db.config(false)),
        ),
        (
            "native",
            SourceConfig::Pg(db.native_config(true)),
            SourceConfig::Pg(db.native_config(false)),
        ),
    ];
    let window = cfg.window();
    let none = Exclusions::default();
    let chosen: Vec<&(&str, SourceConfig, SourceConfig)> = sources
        .iter()
        .filter(|(name, _, _)| only.as_deref().is_none_or(|o| o == *name))
        .collect();
    // (1) The transport alone, the sources interleaved so that a busy machine's drift does not
    // favour one of them: every visit of the window without and with the pre-filter, then the
    // business columns of 20,000 of them. Client CPU is this process's user + system time.
    for attempt in 1..=3 {
        for (name, source, unfiltered) in &chosen {
            let base = reset_peak();
            let mut s = connect(source);
            let scope = BatchScope {
                window,
                scope: Scope::Window,
            };
            let mut u = connect(unfiltered);
            let (t, cpu) = (Instant::now(), cpu_secs());
            let all = u.visits(&scope, &none).unwrap().len();
            drop(u);
            let (all_secs, all_cpu) = (t.elapsed().as_secs_f64(), cpu_secs() - cpu);
            let (t, cpu) = (Instant::now(), cpu_secs());
            let visits = s.visits(&scope, &none).unwrap();
            let (read, read_cpu) = (t.elapsed().as_secs_f64(), cpu_secs() - cpu);
            let ids: Vec<&str> = visits
                .iter()
                .step_by((visits.len() / 20_000).max(1))
                .map(|v| v.visit_id.as_str())
                .collect();
            let (t, cpu) = (Instant::now(), cpu_secs());
            let details = s.details(&ids).unwrap();
            let (wide, wide_cpu) = (t.elapsed().as_secs_f64(), cpu_secs() - cpu);
            println!(
                "{name} read #{attempt}: all {all} visits in {all_secs:.2} s ({:.0} rows/s, \
                 client CPU {all_cpu:.2} s); pre-filtered {} in {read:.2} s ({:.0} rows/s, \
                 client CPU {read_cpu:.2} s); business columns of {} in {wide:.2} s \
                 ({:.0} rows/s, client CPU {wide_cpu:.2} s); {} statements; peak +{:.0} MB",
                all as f64 / all_secs,
                visits.len(),
                visits.len() as f64 / read,
                details.len(),
                details.len() as f64 / wide,
                s.statements_sent(),
                peak_growth_mb(base),
                all = all,
            );
        }
    }
    // (2) Full runs, each source into a conflict schema of its own, interleaved as above.
    let params = RunParams {
        inservice: false,
        ..RunParams::new(Mode::Full, Some(cfg.as_of))
    };
    let opts = JobOptions {
        workers,
        poll: Duration::from_millis(50),
        ..JobOptions::default()
    };
    let mut client = env::pg_client();
    let mut schemas = Vec::new();
    for (name, _, _) in &chosen {
        let names = SchemaNames::new(
            &format!("{}_{name}", db.names.conflict.as_str()),
            &db.schema(),
        )
        .unwrap();
        env::create_conflict_schema(&mut client, &names);
        schemas.push(names);
    }
    for attempt in ["first run", "second run (nothing changed)"] {
        for ((name, source, _), names) in chosen.iter().zip(&schemas) {
            let store =
                PgStore::connect(&env::conninfo(), names.clone(), workers as u32 + 2).unwrap();
            let base = reset_peak();
            let (t, cpu) = (Instant::now(), cpu_secs());
            let r = run_job(
                &store,
                || source.connect(),
                Start::New(params.clone()),
                &params,
                &opts,
                &AtomicBool::new(false),
                &Silent,
            )
            .unwrap();
            let (secs, cpu) = (t.elapsed().as_secs_f64(), cpu_secs() - cpu);
            let (tm, w, i) = (&r.report.timing, &r.report.writes, &r.report.input);
            println!(
                "{name} {attempt}: {secs:.2} s wall, client CPU {cpu:.2} s, {} batches, {} \
                 visits read, {} pairs; inserted {} updated {} unchanged {}; peak +{:.0} MB",
                tm.batches,
                i.visits_read,
                r.report.detection.pairs_detected,
                w.inserted,
                w.updated,
                w.unchanged,
                peak_growth_mb(base)
            );
            println!(
                "  steps (fetch/detect/write summed over {workers} workers): preflight {:.2} s, \
                 scope {:.2} s, fetch {:.2} s, detect {:.2} s, write {:.2} s, finish {:.2} s",
                tm.preflight, tm.scope, tm.read_visits, tm.detect, tm.apply, tm.finish
            );
        }
    }
    for names in &schemas {
        client
            .batch_execute(&format!("DROP SCHEMA {} CASCADE", names.conflict.quoted()))
            .unwrap();
    }
}
