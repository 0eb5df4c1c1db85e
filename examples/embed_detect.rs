//! Embeds the engine: builds visits in memory, streams detected pairs into a custom sink and
//! prints them. Run with `cargo run -p conflict-examples --example embed_detect`.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use conflict_core::{detect, DetectConfig, DetectedPair, PairSink, Profile, RuleOptions, Visit};

/// A sink that only counts pairs per primary provider: callers decide what to keep.
#[derive(Default)]
struct PerProvider<'a> {
    visits: &'a [Visit],
    counts: BTreeMap<String, usize>,
}

impl PairSink for PerProvider<'_> {
    type Error = std::convert::Infallible;
    fn accept(&mut self, pair: &DetectedPair) -> Result<(), Self::Error> {
        let provider = &self.visits[pair.v1].provider_id;
        *self.counts.entry(provider.clone()).or_default() += 1;
        Ok(())
    }
}

fn main() {
    let day = NaiveDate::from_ymd_opt(2025, 6, 10).expect("valid date");
    let at = |h, m| day.and_hms_opt(h, m, 0).expect("valid time");
    let visit = |id: &str, provider: &str, start, end, gps: &str| Visit {
        sch_start: Some(start),
        sch_end: Some(end),
        visit_start: Some(start),
        visit_end: Some(end),
        call_out_gps: Some(gps.to_string()),
        ..Visit::new(id, "123-45-6789", provider, day)
    };
    let visits = vec![
        // Overlapping actual times at two agencies.
        visit("a1", "agency-a", at(8, 0), at(10, 0), "40.7500,-73.9900"),
        visit("b1", "agency-b", at(9, 30), at(11, 0), "40.7500,-73.9900"),
        // Fifteen miles away twenty minutes later: impossible at 35 mph.
        visit("c1", "agency-c", at(11, 20), at(12, 0), "40.9670,-73.9900"),
    ];
    let mut cfg = DetectConfig::new(NaiveDate::from_ymd_opt(2025, 6, 15).expect("valid date"))
        .expect("valid window");
    cfg.options = RuleOptions::profile(Profile::Current);

    let mut sink = PerProvider {
        visits: &visits,
        ..PerProvider::default()
    };
    let report = detect(&visits, &cfg, &mut sink).expect("distinct visit ids");
    println!(
        "{} visits, {} candidates, {} pairs detected",
        report.admit_stats().visits_admitted,
        report.pairs.candidates,
        report.pairs.pairs_detected
    );
    for (provider, n) in &sink.counts {
        println!("  {provider}: {n} conflicting pair(s) as primary");
    }
}
