//! The run report of docs/lifecycle.md §11 (plain-text summary is rendered by the CLI; this is the
//! data and its JSON form).

use std::collections::BTreeMap;

use serde::Serialize;

use conflict_core::stats::{AdmitStats, DropReason, PairStats};
use conflict_core::{Warnings, FLAG_NAMES};

use super::ports::{BatchInput, RunInfo, WriteCounts};
pub use super::totals::{BatchTotals, DetectionCounts, InputCounts, IoCounts, WriteReport};

#[derive(Debug, Clone, Default, Serialize)]
pub struct InServiceReport {
    pub inservice_events: u64,
    pub inservice_pairs: u64,
    pub inservice_updated: u64,
    pub inservice_unchanged: u64,
    pub inservice_inserted: u64,
    pub pto_events: u64,
    pub pto_pairs: u64,
    pub pto_updated: u64,
    pub pto_unchanged: u64,
    pub pto_inserted: u64,
    /// SSNs (with events) whose in-service rows the step re-derived: all of them in a full
    /// step, those whose events or visits changed in an incremental one (docs/lifecycle.md §7.1).
    pub inservice_ssns_rederived: u64,
    /// SSNs with events whose inputs did not change, left alone by an incremental step.
    pub inservice_ssns_skipped: u64,
    /// Visits the in-service step read (those of the re-derived caregivers).
    pub inservice_visits_read: u64,
    /// As `inservice_ssns_rederived`, for PTO.
    pub pto_ssns_rederived: u64,
    /// As `inservice_ssns_skipped`, for PTO.
    pub pto_ssns_skipped: u64,
    /// As `inservice_visits_read`, for PTO.
    pub pto_visits_read: u64,
}

/// Wall seconds per step; fetch/detect/write are summed over batches (and so over workers).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Timing {
    pub preflight: f64,
    pub load_reference: f64,
    pub scope: f64,
    pub read_visits: f64,
    pub detect: f64,
    pub apply: f64,
    pub inservice: f64,
    pub finish: f64,
    pub total: f64,
    pub batches: u64,
    pub batches_skipped_empty: u64,
    pub read_rows_per_sec: f64,
    pub apply_rows_per_sec: f64,
}

/// The whole-run report of docs/lifecycle.md §11.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RunReport {
    /// `detection_runs` id.
    pub run_id: i64,
    /// `full` or `incremental`.
    pub mode: String,
    /// The rule profile's name.
    pub profile: String,
    /// The as-of date.
    pub as_of: String,
    /// First and last day of the window.
    pub window: [String; 2],
    /// Incremental: the watermark.
    pub since: Option<String>,
    /// The run timestamp every write carries.
    pub run_ts: String,
    /// How the run ended ([`crate::run::Outcome::as_str`]).
    pub status: String,
    /// A dry run.
    pub dry_run: bool,
    /// Workers of the owning process.
    pub workers: usize,
    /// Visits and keys read.
    pub input: InputCounts,
    /// Detection counters.
    pub detection: DetectionCounts,
    /// Write counters.
    pub writes: WriteReport,
    /// The InService/PTO steps.
    pub inservice: InServiceReport,
    /// Warning counts by kind.
    pub warnings: BTreeMap<String, u64>,
    /// The first few visit ids per warning kind.
    pub warning_examples: BTreeMap<String, Vec<String>>,
    /// Seconds per phase.
    pub timing: Timing,
    /// Statements and rows on each side (warehouse, conflict database).
    pub io: IoCounts,
}

impl RunReport {
    /// Fills `read_rows_per_sec` (visits read per second of fetching) and `apply_rows_per_sec`
    /// (rows updated, inserted or resolved per second of writing), both over the summed
    /// per-batch times; 0 where nothing was timed. Called once the counters are final.
    pub fn set_rates(&mut self) {
        let per_sec = |rows: u64, secs: f64| {
            if secs > 0.0 {
                rows as f64 / secs
            } else {
                0.0
            }
        };
        let w = &self.writes;
        self.timing.read_rows_per_sec = per_sec(self.input.visits_read, self.timing.read_visits);
        self.timing.apply_rows_per_sec =
            per_sec(w.updated + w.inserted + w.resolved, self.timing.apply);
    }

    /// An empty report of `run`.
    pub fn for_run(run: &RunInfo, profile: &str, dry_run: bool, workers: usize) -> Self {
        RunReport {
            run_id: run.run_id,
            mode: run.mode.as_str().to_string(),
            profile: profile.to_string(),
            as_of: run.as_of.to_string(),
            window: [run.window.from.to_string(), run.window.to.to_string()],
            since: run.since.map(|s| s.to_string()),
            run_ts: run.run_ts.to_string(),
            dry_run,
            workers,
            ..RunReport::default()
        }
    }

    /// Adds a batch's detection counters.
    pub fn add_detection(&mut self, admit: &AdmitStats, pairs: &PairStats) {
        self.input.visits_read += admit.visits_read;
        self.input.visits_admitted += admit.visits_admitted;
        for r in DropReason::ALL {
            let n = admit.dropped(r);
            if n > 0 {
                *self.input.dropped.entry(r.as_str().into()).or_default() += n;
            }
        }
        self.input.keys += pairs.keys;
        self.detection.candidates += pairs.candidates;
        self.detection.pairs_detected += pairs.pairs_detected;
        self.detection.pairs_dropped_cross_state += pairs.pairs_dropped_cross_state;
        for (name, n) in FLAG_NAMES.iter().zip(pairs.per_flag) {
            *self.detection.per_flag.entry((*name).into()).or_default() += n;
        }
        self.add_warnings(&admit.warnings);
    }

    /// Adds a batch's write counters.
    pub fn add_writes(&mut self, w: &WriteCounts) {
        let r = &mut self.writes;
        r.updated += w.updated;
        r.unchanged += w.unchanged;
        r.adopted += w.adopted;
        r.inserted += w.inserted;
        r.not_inserted_by_switch += w.not_inserted_by_switch;
        r.resolved += w.resolved;
        r.conflicts_created += w.conflicts_created;
        self.add_warnings(&w.warnings);
    }

    /// Adds one batch's share (read from the ledger, possibly written by another process).
    pub fn add_batch(&mut self, b: &BatchTotals) {
        let i = &mut self.input;
        i.visits_read += b.input.visits_read;
        i.visits_admitted += b.input.visits_admitted;
        for (k, n) in &b.input.dropped {
            *i.dropped.entry(k.clone()).or_default() += n;
        }
        i.keys += b.input.keys;
        let d = &mut self.detection;
        d.candidates += b.detection.candidates;
        d.pairs_detected += b.detection.pairs_detected;
        d.pairs_dropped_cross_state += b.detection.pairs_dropped_cross_state;
        for (k, n) in &b.detection.per_flag {
            *d.per_flag.entry(k.clone()).or_default() += n;
        }
        let w = &mut self.writes;
        w.updated += b.writes.updated;
        w.unchanged += b.writes.unchanged;
        w.adopted += b.writes.adopted;
        w.inserted += b.writes.inserted;
        w.not_inserted_by_switch += b.writes.not_inserted_by_switch;
        w.resolved += b.writes.resolved;
        w.conflicts_created += b.writes.conflicts_created;
        for (k, n) in &b.warnings {
            *self.warnings.entry(k.clone()).or_default() += n;
        }
        for (k, ex) in &b.warning_examples {
            let mine = self.warning_examples.entry(k.clone()).or_default();
            for e in ex {
                if mine.len() < conflict_core::stats::WARNING_EXAMPLES {
                    mine.push(e.clone());
                }
            }
        }
        self.warning_examples.retain(|_, v| !v.is_empty());
        self.timing.read_visits += b.read_visits;
        self.timing.detect += b.detect;
        self.timing.apply += b.apply;
        self.timing.batches += 1;
        self.io.add(&b.io);
    }

    /// Adds warnings (counts and examples).
    pub fn add_warnings(&mut self, w: &Warnings) {
        for (kind, n, ex) in w.iter() {
            *self.warnings.entry(kind.into()).or_default() += n;
            let mine = self.warning_examples.entry(kind.into()).or_default();
            for e in ex {
                if mine.len() < conflict_core::stats::WARNING_EXAMPLES {
                    mine.push(e.clone());
                }
            }
        }
        self.warning_examples.retain(|_, v| !v.is_empty());
    }

    /// The report as stored in `detection_runs` and printed by `--report-json`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }
}

impl BatchTotals {
    /// The share of a batch from what it read and detected (`input`) and what it wrote.
    pub fn of_batch(input: &BatchInput<'_>, counts: &WriteCounts, apply_secs: f64) -> Self {
        let mut r = RunReport::default();
        r.add_detection(input.report.admit_stats(), &input.report.pairs);
        r.add_writes(counts);
        BatchTotals {
            input: r.input,
            detection: r.detection,
            writes: r.writes,
            warnings: r.warnings,
            warning_examples: r.warning_examples,
            read_visits: input.fetch_secs,
            detect: input.detect_secs,
            apply: apply_secs,
            io: input.io.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_rows_per_second_of_their_step() {
        let mut r = RunReport::default();
        r.input.visits_read = 638_000;
        r.timing.read_visits = 4.0;
        r.writes.updated = 1_000;
        r.writes.inserted = 2_000;
        r.writes.resolved = 1_000;
        r.writes.unchanged = 50_000; // not written: not counted
        r.timing.apply = 0.5;
        r.set_rates();
        assert_eq!(r.timing.read_rows_per_sec, 159_500.0);
        assert_eq!(r.timing.apply_rows_per_sec, 8_000.0);
        let mut idle = RunReport::default();
        idle.set_rates();
        assert_eq!(idle.timing.read_rows_per_sec, 0.0);
        assert_eq!(idle.timing.apply_rows_per_sec, 0.0);
    }

    #[test]
    fn batch_shares_add_up_field_by_field() {
        let share = |n: u64, warning: &str| BatchTotals {
            input: InputCounts {
                visits_read: 10 * n,
                visits_admitted: 9 * n,
                dropped: [("blank_ssn".to_string(), n)].into(),
                keys: 5 * n,
            },
            detection: DetectionCounts {
                candidates: 4 * n,
                pairs_detected: 3 * n,
                pairs_dropped_cross_state: n,
                per_flag: [("DistanceFlag".to_string(), 2 * n)].into(),
            },
            writes: WriteReport {
                updated: n,
                unchanged: 2 * n,
                adopted: 0,
                inserted: 3 * n,
                not_inserted_by_switch: 0,
                resolved: n,
                conflicts_created: n,
            },
            warnings: [(warning.to_string(), n)].into(),
            warning_examples: [(warning.to_string(), vec![format!("v{n}")])].into(),
            read_visits: 1.5,
            detect: 0.5,
            apply: 2.0,
            io: IoCounts {
                warehouse_statements: 6 * n,
                warehouse_rows_read: 100 * n,
                store_rows_read: 20 * n,
                store_rows_written: 7 * n,
            },
        };
        let mut r = RunReport::default();
        r.add_batch(&share(1, "gps_unparsable"));
        r.add_batch(&share(2, "gps_unparsable"));
        r.add_batch(&share(4, "truncated_value"));
        assert_eq!(r.input.visits_read, 70);
        assert_eq!(r.input.visits_admitted, 63);
        assert_eq!(r.input.dropped["blank_ssn"], 7);
        assert_eq!(r.input.keys, 35);
        assert_eq!(r.detection.candidates, 28);
        assert_eq!(r.detection.pairs_detected, 21);
        assert_eq!(r.detection.pairs_dropped_cross_state, 7);
        assert_eq!(r.detection.per_flag["DistanceFlag"], 14);
        assert_eq!(
            (r.writes.updated, r.writes.unchanged, r.writes.inserted),
            (7, 14, 21)
        );
        assert_eq!((r.writes.resolved, r.writes.conflicts_created), (7, 7));
        assert_eq!(r.warnings["gps_unparsable"], 3);
        assert_eq!(r.warnings["truncated_value"], 4);
        assert_eq!(r.warning_examples["gps_unparsable"], ["v1", "v2"]);
        assert_eq!(r.timing.batches, 3);
        assert_eq!(r.timing.read_visits, 4.5);
        assert_eq!(r.timing.apply, 6.0);
        // 1 + 2 + 4 = 7 times each batch's unit.
        assert_eq!(
            r.io,
            IoCounts {
                warehouse_statements: 42,
                warehouse_rows_read: 700,
                store_rows_read: 140,
                store_rows_written: 49,
            }
        );
    }

    #[test]
    fn a_ledger_share_without_new_keys_still_reads() {
        // Ledger entries written before the share existed hold only the write counters.
        let old: BatchTotals =
            serde_json::from_value(serde_json::json!({"writes": {"inserted": 3}})).unwrap();
        assert_eq!(old.writes.inserted, 3);
        assert_eq!(old.input, InputCounts::default());
        // Entries written before the io counters existed read as zero counters.
        assert_eq!(old.io, IoCounts::default());
    }

    #[test]
    fn io_counted_between_two_readings() {
        let before = IoCounts {
            warehouse_statements: 5,
            warehouse_rows_read: 10,
            ..IoCounts::default()
        };
        let after = IoCounts {
            warehouse_statements: 12,
            warehouse_rows_read: 1_010,
            ..IoCounts::default()
        };
        let d = after.since(&before);
        assert_eq!((d.warehouse_statements, d.warehouse_rows_read), (7, 1_000));
        // A counter that went back (a fresh connection) counts as nothing, never wraps.
        assert_eq!(before.since(&after), IoCounts::default());
    }
}
