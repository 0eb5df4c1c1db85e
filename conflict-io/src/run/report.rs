//! The run report of lifecycle.md §11 (plain-text summary is rendered by the CLI; this is the
//! data and its JSON form).

use std::collections::BTreeMap;

use serde::Serialize;

use conflict_core::stats::{AdmitStats, DropReason, PairStats};
use conflict_core::{Warnings, FLAG_NAMES};

use super::ports::{RunInfo, WriteCounts};

#[derive(Debug, Clone, Default, Serialize)]
pub struct InputCounts {
    pub visits_read: u64,
    pub visits_admitted: u64,
    pub dropped: BTreeMap<String, u64>,
    pub keys: u64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct DetectionCounts {
    pub candidates: u64,
    pub pairs_detected: u64,
    pub pairs_dropped_cross_state: u64,
    pub per_flag: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct WriteReport {
    pub updated: u64,
    pub unchanged: u64,
    pub adopted: u64,
    pub inserted: u64,
    pub not_inserted_by_switch: u64,
    pub resolved: u64,
    pub conflicts_created: u64,
}

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

#[derive(Debug, Clone, Default, Serialize)]
pub struct RunReport {
    pub run_id: i64,
    pub mode: String,
    pub profile: String,
    pub as_of: String,
    pub window: [String; 2],
    pub since: Option<String>,
    pub run_ts: String,
    pub status: String,
    pub dry_run: bool,
    pub workers: usize,
    pub input: InputCounts,
    pub detection: DetectionCounts,
    pub writes: WriteReport,
    pub inservice: InServiceReport,
    pub warnings: BTreeMap<String, u64>,
    pub warning_examples: BTreeMap<String, Vec<String>>,
    pub timing: Timing,
}

impl RunReport {
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

    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }
}
