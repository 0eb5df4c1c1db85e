//! The data of one batch's share of the run report ([`BatchTotals`]) and the counters it is
//! made of. Kept apart from the report's arithmetic so that the ports, which hand shares
//! around (`ConflictStore::batch_totals`), do not depend on the report, which
//! depends on them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct InputCounts {
    pub visits_read: u64,
    pub visits_admitted: u64,
    pub dropped: BTreeMap<String, u64>,
    pub keys: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DetectionCounts {
    pub candidates: u64,
    pub pairs_detected: u64,
    pub pairs_dropped_cross_state: u64,
    pub per_flag: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct WriteReport {
    pub updated: u64,
    pub unchanged: u64,
    pub adopted: u64,
    pub inserted: u64,
    pub not_inserted_by_switch: u64,
    pub resolved: u64,
    pub conflicts_created: u64,
}

/// One batch's share of the run report. The store keeps it in the batch's ledger entry, in
/// the batch's own transaction, so the process that owns a run can report every batch of it,
/// including those done by `--join` processes or by an earlier attempt of a resumed run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BatchTotals {
    /// Visits and keys read.
    pub input: InputCounts,
    /// Detection counters.
    pub detection: DetectionCounts,
    /// Write counters.
    pub writes: WriteReport,
    /// Warning counts by kind.
    pub warnings: BTreeMap<String, u64>,
    /// The first few visit ids per warning kind.
    pub warning_examples: BTreeMap<String, Vec<String>>,
    /// Seconds spent reading, detecting and writing this batch.
    pub read_visits: f64,
    /// Seconds detecting.
    pub detect: f64,
    /// Seconds writing.
    pub apply: f64,
}
