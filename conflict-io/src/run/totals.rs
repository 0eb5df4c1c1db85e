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

/// What a run cost each side (issue "Speed II": an operator sees the cost on the warehouse
/// too): statements sent and rows read from the analytics source, and rows read and written
/// in the conflict database by the batch writes. Summed over batches (whichever process did
/// them, through the ledger), workers, planning and (warehouse side) the InService/PTO steps.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct IoCounts {
    /// Statements sent to the analytics warehouse (session settings, probes, planning,
    /// temporary tables, queries): each one request to the server.
    pub warehouse_statements: u64,
    /// Rows the warehouse returned (visits, business-column rows, events, planning rows).
    pub warehouse_rows_read: u64,
    /// Rows of the conflict tables (not the ledger) a batch's write read, as the server
    /// counts them (`pg_stat_xact_user_tables` of the batch transaction: tuples returned by
    /// sequential scans plus tuples fetched by index scans).
    pub store_rows_read: u64,
    /// Rows of the conflict tables (not the ledger) a batch's write inserted, updated or
    /// deleted, as the server counts them (same view).
    pub store_rows_written: u64,
}

impl IoCounts {
    /// Adds `o`'s counters.
    pub fn add(&mut self, o: &IoCounts) {
        self.warehouse_statements += o.warehouse_statements;
        self.warehouse_rows_read += o.warehouse_rows_read;
        self.store_rows_read += o.store_rows_read;
        self.store_rows_written += o.store_rows_written;
    }

    /// What was counted between `before` and `self` (counters only grow).
    pub fn since(&self, before: &IoCounts) -> IoCounts {
        IoCounts {
            warehouse_statements: self
                .warehouse_statements
                .saturating_sub(before.warehouse_statements),
            warehouse_rows_read: self
                .warehouse_rows_read
                .saturating_sub(before.warehouse_rows_read),
            store_rows_read: self.store_rows_read.saturating_sub(before.store_rows_read),
            store_rows_written: self
                .store_rows_written
                .saturating_sub(before.store_rows_written),
        }
    }
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
    /// Statements and rows on each side for this batch.
    pub io: IoCounts,
}
