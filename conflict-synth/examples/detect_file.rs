//! File mode end to end, in process, phase by phase: read visits.csv, detect, write
//! conflicts.csv, on the batch-6-size data of `conflicts generate --ssns 1284
//! --visits-per-ssn 497 --seed 7 --as-of 2025-06-15` (generated into the directory when its
//! visits.csv is missing). Both readers are timed on the same file in the same process, so the
//! comparison holds on a busy machine: the strict reader into `Vec<Visit>` (file mode before)
//! and the parallel reader into the compact `VisitTable` (file mode now). The output of each
//! is written and compared byte for byte.
//!
//! ```text
//! cargo run --release -p conflict-synth --example detect_file -- [DIR] [both|strict|table]
//! ```
//!
//! DIR defaults to /tmp/b6. When DIR holds an events.csv (in-service events, docs/file-formats.md),
//! both paths also pair it and write the in-service rows, compared byte for byte too. The peak RSS printed after each phase is the process's so far: run
//! `table` or `strict` alone to see one path's peak.

use std::path::{Path, PathBuf};
use std::time::Instant;

use conflict_core::{detect, DetectConfig, DetectedPair, VisitRows};
use conflict_io::csv::{
    read_events, read_visit_table, read_visits, write_bands, write_conflicts, write_inservice,
    write_visits,
};
use conflict_synth::{default_bands, generate, SynthConfig};

/// CPU seconds (user + system, all threads) of this process so far: steadier than the wall
/// clock when other work shares the machine.
fn cpu_secs() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return f64::NAN;
    };
    let Some(close) = stat.rfind(')') else {
        return f64::NAN;
    };
    let fields: Vec<&str> = stat[close + 2..].split(' ').collect();
    let tick = |k: usize| fields.get(k).and_then(|f| f.parse::<f64>().ok());
    match (tick(11), tick(12)) {
        (Some(u), Some(s)) => (u + s) / 100.0,
        _ => f64::NAN,
    }
}

/// `VmHWM` (peak resident set so far) of this process in MiB, when /proc is there.
fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|k| k.parse::<f64>().ok());
    kib.map_or(f64::NAN, |k| k / 1024.0)
}

/// Wall and CPU seconds of `f`.
fn timed<T>(what: &str, f: impl FnOnce() -> T) -> (T, f64) {
    let (wall, cpu) = (Instant::now(), cpu_secs());
    let out = f();
    let secs = wall.elapsed().as_secs_f64();
    eprintln!(
        "  {what:<28} {secs:>7.3} s wall {:>7.3} s cpu   peak RSS so far {:>6.0} MiB",
        cpu_secs() - cpu,
        peak_rss_mib()
    );
    (out, secs)
}

/// Pairs the in-service events of `events` with `visits` and writes the rows to `out`.
fn inservice<R: VisitRows>(visits: &R, events: &Path, out: &Path) {
    use conflict_core::inservice::{detect_events, EventKind};
    let cfg = DetectConfig::new("2025-06-15".parse().expect("date")).expect("config");
    let raw = read_events(events).expect("read events.csv");
    let found = detect_events(
        visits,
        &raw,
        EventKind::InService,
        &cfg.window,
        &cfg.exclusions,
    )
    .expect("no duplicate ids");
    write_inservice(out, visits, &raw, &found.admitted_events, &found.pairs).expect("write");
    eprintln!("  in-service rows             {:>7}", found.pairs.len());
}

/// Read (by `read`), detect and write; the total wall seconds.
fn run<R: VisitRows>(label: &str, out: &Path, read: impl FnOnce() -> R) -> f64 {
    eprintln!("{label}:");
    let cfg = DetectConfig::new("2025-06-15".parse().expect("date")).expect("config");
    let (visits, r) = timed("read", read);
    let mut pairs: Vec<DetectedPair> = Vec::new();
    let (report, d) = timed("detect", || {
        detect(&visits, &cfg, &mut pairs).expect("no duplicate ids")
    });
    let ((), w) = timed("write", || {
        write_conflicts(out, &visits, &report, &mut pairs).expect("write")
    });
    eprintln!(
        "  {:<28} {:>7.3} s wall, {} visits, {} pairs, {:.0} visits/s",
        "total",
        r + d + w,
        visits.len(),
        report.pairs.pairs_detected,
        visits.len() as f64 / (r + d + w)
    );
    let events = out.with_file_name("events.csv");
    if events.exists() {
        inservice(&visits, &events, &out.with_extension("inservice.csv"));
    }
    r + d + w
}

fn main() {
    let dir = PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "/tmp/b6".into()));
    let visits_csv = dir.join("visits.csv");
    if !visits_csv.exists() {
        eprintln!("generating {}", visits_csv.display());
        let cfg = SynthConfig::new(1284, 497, 7, "2025-06-15".parse().expect("date"));
        std::fs::create_dir_all(&dir).expect("create the directory");
        write_visits(&visits_csv, &generate(&cfg)).expect("write visits.csv");
        write_bands(&dir.join("mph.csv"), &default_bands()).expect("write mph.csv");
    }
    let (strict_out, table_out) = (dir.join("bench-strict.csv"), dir.join("bench-table.csv"));
    let which = std::env::args().nth(2).unwrap_or_else(|| "both".into());
    let strict = (which != "table").then(|| {
        run("strict reader, Vec<Visit>", &strict_out, || {
            read_visits(&visits_csv).expect("read").visits
        })
    });
    let table = (which != "strict").then(|| {
        run("parallel reader, VisitTable", &table_out, || {
            read_visit_table(&visits_csv).expect("read").visits
        })
    });
    if let (Some(strict), Some(table)) = (strict, table) {
        let read = |p: &Path| std::fs::read(p).ok();
        let same = read(&strict_out) == read(&table_out)
            && read(&strict_out.with_extension("inservice.csv"))
                == read(&table_out.with_extension("inservice.csv"));
        eprintln!(
            "speed-up {:.2}x; outputs {}",
            strict / table,
            if same { "byte-identical" } else { "DIFFER" }
        );
        if !same {
            std::process::exit(1);
        }
    }
}
