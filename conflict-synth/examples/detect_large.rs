//! Detection on a synthetic batch the size of the old system's large batch (
//! 1,284 SSNs, ≈ 638,000 visits), timed phase by phase, with the peak resident memory read from
//! /proc after generation and after detection. Run under `/usr/bin/time -v` for the full picture:
//!
//! ```text
//! cargo build --release -p conflict-synth --example detect_large
//! /usr/bin/time -v target/release/examples/detect_large [SSNS VISITS_PER_SSN SEED]
//! ```
//!
//! `SYNTH_CONFLICT_RATE=0.2` overrides the generator's share of deliberate conflicts.

use std::time::Instant;

use conflict_core::admit::admit;
use conflict_core::pairing::{pair_batch, Batch};
use conflict_core::{detect, DetectConfig, DetectedPair, PairSink};
use conflict_synth::{generate, SynthConfig};

/// Counts pairs and keeps nothing.
#[derive(Default)]
struct Count(u64);

impl PairSink for Count {
    type Error = std::convert::Infallible;
    fn accept(&mut self, _: &DetectedPair) -> Result<(), Self::Error> {
        self.0 += 1;
        Ok(())
    }
}

/// CPU seconds (user + system, all threads) this process has used, when /proc is there. On a
/// busy machine this is steadier than the wall clock.
fn cpu_secs() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let fields: Vec<&str> = stat[stat.rfind(')')? + 2..].split(' ').collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

/// `VmHWM` (peak resident set) of this process in MiB, when /proc is there.
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn main() {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("arguments: SSNS VISITS_PER_SSN SEED"))
        .collect();
    let as_of = "2025-06-15".parse().unwrap();
    let mut cfg = SynthConfig::large_batch(args.get(2).copied().unwrap_or(1), as_of);
    if let Some(&s) = args.first() {
        cfg.ssns = s as usize;
    }
    if let Some(&v) = args.get(1) {
        cfg.visits_per_ssn = v as usize;
    }

    if let Ok(r) = std::env::var("SYNTH_CONFLICT_RATE") {
        cfg.conflict_rate = r.parse().expect("SYNTH_CONFLICT_RATE: a probability");
    }
    let t = Instant::now();
    let visits = generate(&cfg);
    let gen_s = t.elapsed().as_secs_f64();
    let rss_gen = peak_rss_mib();
    println!(
        "generated {} visits of {} SSNs in {:.3} s (peak RSS {:.0} MiB, Visit = {} bytes)",
        visits.len(),
        cfg.ssns,
        gen_s,
        rss_gen.unwrap_or(f64::NAN),
        std::mem::size_of::<conflict_core::Visit>()
    );

    let dc = DetectConfig::new(as_of).unwrap();
    let mut sink = Count::default();
    let t = Instant::now();
    let cpu0 = cpu_secs();
    let report = detect(&visits, &dc, &mut sink).unwrap();
    let secs = t.elapsed().as_secs_f64();
    let cpu = cpu_secs().zip(cpu0).map(|(b, a)| b - a);
    let rss_detect = peak_rss_mib();
    let s = report.admit_stats();
    println!(
        "detect: {:.3} s ({:.2} CPU s), {:.0} visits/s, {} pairs ({:.2} per 100 visits), {} admitted, {} candidates, {} keys, {} dropped by the cross-state filter",
        secs,
        cpu.unwrap_or(f64::NAN),
        visits.len() as f64 / secs,
        sink.0,
        sink.0 as f64 * 100.0 / visits.len() as f64,
        s.visits_admitted,
        report.pairs.candidates,
        report.pairs.keys,
        report.pairs.pairs_dropped_cross_state,
    );
    println!("per flag: {:?}", report.pairs.per_flag);
    println!("dropped: {:?}", s.dropped);
    for (kind, n, _) in s.warnings.iter() {
        println!("warning {kind}: {n}");
    }
    println!(
        "peak RSS after detect {:.0} MiB (+{:.0} MiB over generation)",
        rss_detect.unwrap_or(f64::NAN),
        rss_detect.unwrap_or(f64::NAN) - rss_gen.unwrap_or(f64::NAN)
    );

    drop(report);

    // The same work again, phase by phase.
    let t = Instant::now();
    let adm = admit(&visits, &dc.window, &dc.exclusions).unwrap();
    let t_admit = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let batch = Batch::build(&visits, &adm);
    let t_build = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let mut sink = Count::default();
    pair_batch(&batch, &dc, &mut sink).unwrap();
    let t_pair = t.elapsed().as_secs_f64();
    println!(
        "phases: admit {:.3} s, group (Batch::build) {:.3} s, pair {:.3} s, pairs {}",
        t_admit, t_build, t_pair, sink.0
    );
}
