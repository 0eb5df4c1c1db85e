//! Fetch throughput of the analytics source over psqlODBC, at the size of the old system's measured batches
//! batch 6 (1,284 SSNs, 638,216 visits).
//!
//! ```text
//! CONFLICTS_TEST_PG='host=127.0.0.1 port=5432 user=postgres dbname=postgres' \
//!   cargo run --release -p conflict-io --example odbc_fetch_bench -- [options]
//! ```
//!
//! Options:
//!
//! * `--visits N`, `--ssns N`: world size (default 638,216 visits, 1,284 SSNs).
//! * `--fetch-rows N`: rows per columnar fetch of the narrow query (default: the
//!   configuration's default).
//! * `--odbc 'Key=Value;…'`: extra psqlODBC attributes appended to the connection string, to
//!   compare driver settings (`UseDeclareFetch=1;Fetch=10000;`, `UseServerSidePrepare=0;`, …).
//! * `--details N`: how many visit ids `details()` reads (default 30,000).
//! * `--runs N`: repetitions of each measurement (default 3; the best and the median are shown).
//! * `--server-pid PID`: the postmaster of a local cluster; adds the CPU time of its client
//!   backends to each measurement, so that driver and server cost can be told apart.
//! * `--no-check`: skip comparing the results with the model (for profiling the fetch alone).
//! * `--keep`: leave the loaded schema in place (its name is printed) and `--reuse SCHEMA`:
//!   measure against such a schema instead of loading again (same `--visits`/`--ssns`, or the
//!   model checks fail). For comparing driver settings without reloading each time.
//!
//! The world is loaded into a schema of its own (`analytics_t_<random>`), dropped at the end
//! unless `--keep` is given.
//! Every fetched result is also checked against the model of docs/tables.md §9 (`tests/support`), so
//! a fast but wrong configuration cannot look good.

#[path = "../tests/support/mod.rs"]
mod support;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use conflict_core::Exclusions;
use conflict_io::analytics::AnalyticsSource;
use conflict_io::scope::{BatchScope, Scope};

use support::env;
use support::expected::{assert_same_visits, prefilter, Expected};
use support::load::AnalyticsDb;
use support::world::{World, WorldConfig};

struct Options {
    visits: usize,
    ssns: usize,
    fetch_rows: Option<usize>,
    odbc: String,
    details: usize,
    runs: usize,
    keep: bool,
    reuse: Option<String>,
    check: bool,
    server_pid: Option<u32>,
}

fn options() -> Options {
    let mut o = Options {
        visits: 638_216,
        ssns: 1_284,
        fetch_rows: None,
        odbc: String::new(),
        details: 30_000,
        runs: 3,
        keep: false,
        reuse: None,
        check: true,
        server_pid: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || {
            args.next()
                .unwrap_or_else(|| panic!("{flag} needs a value"))
        };
        let number = |v: String| -> usize {
            v.replace('_', "")
                .parse()
                .unwrap_or_else(|_| panic!("not a number: {v}"))
        };
        match flag.as_str() {
            "--visits" => o.visits = number(value()),
            "--ssns" => o.ssns = number(value()),
            "--fetch-rows" => o.fetch_rows = Some(number(value())),
            "--odbc" => o.odbc = value(),
            "--details" => o.details = number(value()),
            "--runs" => o.runs = number(value()).max(1),
            "--keep" => o.keep = true,
            "--no-check" => o.check = false,
            "--server-pid" => o.server_pid = Some(number(value()) as u32),
            "--reuse" => o.reuse = Some(value()),
            other => panic!("unknown option {other} (see the file header for the options)"),
        }
    }
    o
}

/// Fields after the parenthesised command name of a /proc/<pid>/stat line (field 3 first).
fn stat_fields(pid: &str) -> Option<Vec<u64>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = stat.rsplit_once(')')?.1;
    // The state field (3) is a letter; keep it as 0 so indexes stay aligned.
    Some(
        rest.split_whitespace()
            .map(|f| f.parse::<u64>().unwrap_or(0))
            .collect(),
    )
}

/// Clock ticks are 1/100 s on Linux (sysconf(_SC_CLK_TCK) is 100 on mainstream kernels).
fn ticks(t: u64) -> Duration {
    Duration::from_millis(t * 10)
}

/// CPU time (user + system) this process has used so far. Wall time on a shared machine says
/// little; the client's CPU time is what the driver and the conversions cost, whatever else
/// runs.
fn cpu_time() -> Duration {
    // utime and stime are fields 14 and 15, i.e. indexes 11 and 12 from field 3.
    stat_fields("self").map_or(Duration::ZERO, |f| ticks(f[11] + f[12]))
}

/// CPU time of the client backends of a local PostgreSQL cluster: live children of the
/// postmaster serving a TCP or socket client (`postgres: user db 127.0.0.1(port) …`). Background
/// processes are left out: an autovacuum worker busy with the freshly loaded tables would
/// otherwise be charged to the query. The measured connection is open during a measurement, so
/// its backend is among the live ones.
fn server_cpu_time(postmaster: u32) -> Duration {
    let mut total = 0;
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
        else {
            continue;
        };
        let Some(f) = stat_fields(pid) else { continue };
        // ppid is field 4 (index 1).
        if f[1] != u64::from(postmaster) {
            continue;
        }
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline);
        if cmdline.contains(")") || cmdline.contains("[local]") {
            total += f[11] + f[12];
        }
    }
    ticks(total)
}

/// One measurement: wall time, the client's CPU time and (optionally) the server's.
#[derive(Clone, Copy)]
struct Sample {
    wall: Duration,
    cpu: Duration,
    server: Option<Duration>,
}

fn measure<T>(server: Option<u32>, f: impl FnOnce() -> T) -> (T, Sample) {
    let (wall, cpu) = (Instant::now(), cpu_time());
    let srv = server.map(server_cpu_time);
    let out = f();
    let sample = Sample {
        wall: wall.elapsed(),
        cpu: cpu_time().saturating_sub(cpu),
        server: server
            .zip(srv)
            .map(|(p, s)| server_cpu_time(p).saturating_sub(s)),
    };
    (out, sample)
}

/// Best and median of the samples (by wall time).
fn summary(label: &str, rows: usize, samples: &mut [Sample]) {
    samples.sort_by_key(|s| s.wall);
    let best = samples[0];
    let median = samples[samples.len() / 2];
    let rate = |d: Duration| rows as f64 / d.as_secs_f64().max(1e-9);
    let server = best
        .server
        .map(|s| format!(", server CPU {:.2} s", s.as_secs_f64()))
        .unwrap_or_default();
    println!(
        "{label:<38} {rows:>7} rows  best {:>7.3} s = {:>7.0} rows/s (client CPU {:.2} s{server})  \
         median {:>7.3} s = {:>7.0} rows/s",
        best.wall.as_secs_f64(),
        rate(best.wall),
        best.cpu.as_secs_f64(),
        median.wall.as_secs_f64(),
        rate(median.wall),
    );
}

fn main() {
    let o = options();
    let mut cfg = WorldConfig::batch6(6);
    cfg.visits = o.visits;
    cfg.people = o.ssns;

    let t = Instant::now();
    let world = World::generate(&cfg);
    println!(
        "generated {} fact rows ({} regular visits, {} SSNs) in {:.2} s",
        world.visits.len(),
        cfg.visits,
        cfg.people,
        t.elapsed().as_secs_f64()
    );
    let db = if let Some(schema) = &o.reuse {
        println!("reusing the loaded schema {schema}");
        AnalyticsDb::existing(schema)
    } else {
        let mut db = AnalyticsDb::create();
        db.keep = o.keep;
        let stats = db.load(&world);
        println!(
            "loaded {} rows ({} visits) into {} in {:.2} s ({:.0} visits/s){}",
            stats.rows,
            stats.visits,
            db.schema(),
            stats.elapsed.as_secs_f64(),
            stats.visits as f64 / stats.elapsed.as_secs_f64(),
            if o.keep { ", kept" } else { "" }
        );
        db
    };

    let window = cfg.window();
    let ex = Exclusions::default();
    let model = Expected::new(&world);
    let admitted = model.visits(&window, &ex);
    let pairs_only = prefilter(&admitted);
    let scope = BatchScope {
        window,
        scope: Scope::Window,
    };
    let config = |prefilter: bool| {
        let mut c = db.config(prefilter);
        c.connection =
            conflict_io::analytics::ConnectionString::new(env::odbc_connection_string(&o.odbc));
        if let Some(n) = o.fetch_rows {
            c.fetch_rows = n;
        }
        c
    };
    println!(
        "psqlODBC {} {}; fetch_rows {}, detail_fetch_rows {}",
        env::driver_path(),
        if o.odbc.is_empty() {
            "(driver defaults)"
        } else {
            &o.odbc
        },
        config(false).fetch_rows,
        config(false).detail_fetch_rows
    );

    // Narrow fetch, pre-filter off and on; one connection per setting, reused across runs
    // (as a batch worker would).
    let mut pairs = Vec::new();
    for pre in [false, true] {
        let mut src = AnalyticsSource::connect(config(pre)).expect("connect over psqlODBC");
        let mut samples = Vec::new();
        let mut fetched = Vec::new();
        for _ in 0..o.runs {
            let (visits, sample) = measure(o.server_pid, || {
                src.visits(&scope, &ex).expect("narrow fetch")
            });
            fetched = visits;
            samples.push(sample);
        }
        let label = if pre {
            "narrow, Scope::Window, pre-filter on"
        } else {
            "narrow, Scope::Window, pre-filter off"
        };
        summary(label, fetched.len(), &mut samples);
        if o.check {
            let want = if pre { &pairs_only } else { &admitted };
            assert_same_visits(label, fetched.clone(), want.clone());
        }
        if pre {
            pairs = fetched;
        }
    }
    println!(
        "pre-filter: rows fetched with vs without: {} vs {}; {} single-provider-group visits \
         removed ({:.1} %)",
        pairs_only.len(),
        admitted.len(),
        admitted.len() - pairs_only.len(),
        100.0 * (admitted.len() - pairs_only.len()) as f64 / admitted.len() as f64,
    );

    // details() of the visits that would end up in pairs, topped up with others.
    let mut seen = HashSet::new();
    let ids: Vec<&str> = pairs
        .iter()
        .chain(&admitted)
        .map(|v| v.visit_id.as_str())
        .filter(|id| seen.insert(*id))
        .take(o.details)
        .collect();
    let mut src = AnalyticsSource::connect(config(true)).expect("connect over psqlODBC");
    let mut samples = Vec::new();
    let mut got = Default::default();
    for _ in 0..o.runs {
        let (details, sample) = measure(o.server_pid, || {
            src.details(ids.iter().copied()).expect("details")
        });
        got = details;
        samples.push(sample);
    }
    summary("details()", got.len(), &mut samples);
    assert_eq!(got.len(), ids.len());
    if o.check {
        for id in &ids {
            let fact = model.fact(id).expect("fact row");
            assert_eq!(got[*id], model.details(fact), "details of {id}");
        }
        println!("all results equal the model");
    }
}
