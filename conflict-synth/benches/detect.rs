//! Detection on a synthetic batch the size of the old system's large batch (
//! 1,284 SSNs, 638,216 visits, 14,236 conflicts): end to end, then phase by phase.
//!
//! `cargo bench -p conflict-synth --bench detect` takes about a minute; criterion's throughput line is the
//! visits per second.

use std::time::Duration;

use conflict_core::admit::admit;
use conflict_core::pairing::{pair_batch, Batch};
use conflict_core::{detect, DetectConfig, DetectedPair, PairSink, Visit};
use conflict_synth::{generate, SynthConfig};
use criterion::{criterion_group, criterion_main, Criterion, SamplingMode, Throughput};

/// Counts pairs and keeps nothing, so the benchmark measures detection, not a consumer.
#[derive(Default)]
struct Count(u64);

impl PairSink for Count {
    type Error = std::convert::Infallible;
    fn accept(&mut self, _: &DetectedPair) -> Result<(), Self::Error> {
        self.0 += 1;
        Ok(())
    }
}

fn batch() -> (Vec<Visit>, DetectConfig) {
    let as_of = "2025-06-15".parse().unwrap();
    let visits = generate(&SynthConfig::large_batch(1, as_of));
    (visits, DetectConfig::new(as_of).unwrap())
}

fn large_batch(c: &mut Criterion) {
    let (visits, cfg) = batch();
    let mut probe = Count::default();
    detect(&visits, &cfg, &mut probe).unwrap();
    eprintln!(
        "large batch: {} visits, {} pairs detected",
        visits.len(),
        probe.0
    );

    let mut g = c.benchmark_group("large_batch");
    g.sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(8))
        .throughput(Throughput::Elements(visits.len() as u64));

    g.bench_function("detect", |b| {
        b.iter(|| {
            let mut sink = Count::default();
            detect(&visits, &cfg, &mut sink).unwrap();
            sink.0
        })
    });

    g.bench_function("admit", |b| {
        b.iter(|| admit(&visits, &cfg.window, &cfg.exclusions).unwrap())
    });

    let admission = admit(&visits, &cfg.window, &cfg.exclusions).unwrap();
    g.bench_function("group", |b| b.iter(|| Batch::build(&visits, &admission)));

    let grouped = Batch::build(&visits, &admission);
    g.bench_function("pair", |b| {
        b.iter(|| {
            let mut sink = Count::default();
            pair_batch(&grouped, &cfg, &mut sink).unwrap();
            sink.0
        })
    });
    g.finish();
}

criterion_group!(benches, large_batch);
criterion_main!(benches);
