//! The whole stored state of a conflict schema in a comparable form: two schemas that went
//! through equivalent runs compare equal even though generated ids and timestamps differ.
//! Included by `#[path]` into the CLI tests that compare runs (kill, exit codes).

use serde_json::{Map, Value};

use crate::harness::ConflictSchema;

/// Columns holding the time of a write: only whether they are set can be compared.
const TIMESTAMPS: &[&str] = &[
    "RECORDEDDATETIME",
    "CreatedDate",
    "UpdatedDate",
    "ResolveDate",
    "StartedAt",
    "FinishedAt",
    "ClaimedAt",
];

/// Replaces every timestamp column by whether it is set.
fn timestamps_as_set(o: &mut Map<String, Value>) {
    for ts in TIMESTAMPS {
        if let Some(v) = o.get_mut(*ts) {
            *v = Value::from(!v.is_null());
        }
    }
}

/// Everything but the seconds of a report (its `timing` group, and the timing fields of a
/// batch's share), its `io` counters and the run timestamp.
fn without_timing(report: &mut Value) {
    if let Some(o) = report.as_object_mut() {
        // `io` counts the work done, like the seconds: a resumed run fetches some batches
        // twice and its connections start at other batches, so it differs by design.
        for k in ["timing", "run_ts", "read_visits", "detect", "apply", "io"] {
            o.remove(k);
        }
    }
}

/// The `conflicts` rows, each identified by the CVM keys that point at it (its CONFLICTID is
/// generated), sorted by those keys.
pub fn conflicts(s: &mut ConflictSchema) -> Vec<Value> {
    let sql = format!(
        "SELECT to_jsonb(c), coalesce((SELECT jsonb_agg(jsonb_build_array(m.\"VisitID\", \
         m.\"ConVisitID\") ORDER BY m.\"VisitID\", m.\"ConVisitID\") FROM {cvm} m \
         WHERE m.\"CONFLICTID\" = c.\"CONFLICTID\"), '[]'::jsonb) FROM {conflicts} c",
        cvm = s.t("conflictvisitmaps"),
        conflicts = s.t("conflicts"),
    );
    let mut rows: Vec<Value> = s
        .client
        .query(&sql, &[])
        .unwrap()
        .iter()
        .map(|r| {
            let mut row: Value = r.get(0);
            let o = row.as_object_mut().unwrap();
            o.remove("CONFLICTID");
            timestamps_as_set(o);
            o.insert("cvm_keys".into(), r.get(1));
            row
        })
        .collect();
    rows.sort_by_key(|r| r["cvm_keys"].to_string());
    rows
}

/// The `detection_runs` rows in run order, without timings and timestamps.
pub fn runs(s: &mut ConflictSchema) -> Vec<Value> {
    let sql = format!(
        "SELECT to_jsonb(r) FROM {} r ORDER BY \"RunID\"",
        s.t("detection_runs")
    );
    s.client
        .query(&sql, &[])
        .unwrap()
        .iter()
        .map(|r| {
            let mut row: Value = r.get(0);
            let o = row.as_object_mut().unwrap();
            timestamps_as_set(o);
            if let Some(report) = o.get_mut("Report") {
                without_timing(report);
            }
            row
        })
        .collect()
}

/// The ledger in (run, batch) order: status, scope, error and each batch's counts and report
/// share, without who did it, how often it was attempted and how long it took.
pub fn ledger(s: &mut ConflictSchema) -> Vec<Value> {
    let sql = format!(
        "SELECT to_jsonb(b) FROM {} b ORDER BY \"RunID\", \"BatchKey\"",
        s.t("detection_run_batches")
    );
    s.client
        .query(&sql, &[])
        .unwrap()
        .iter()
        .map(|r| {
            let mut row: Value = r.get(0);
            let o = row.as_object_mut().unwrap();
            o.remove("ClaimedBy");
            o.remove("Attempts");
            timestamps_as_set(o);
            if let Some(share) = o.get_mut("Counts").and_then(|c| c.get_mut("report")) {
                without_timing(share);
            }
            row
        })
        .collect()
}

/// `settings."InProgressFlag"`.
pub fn in_progress_flag(s: &mut ConflictSchema) -> i64 {
    let sql = format!("SELECT \"InProgressFlag\"::int8 FROM {}", s.t("settings"));
    s.scalar_i64(&sql)
}
