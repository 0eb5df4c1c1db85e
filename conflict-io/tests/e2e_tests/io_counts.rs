//! The run report's `io` section (issue "Speed II": statements and rows on each side), checked
//! against counts derived from the world and the documented statement list (`conflicts sql`,
//! docs/snowflake.md), not from the code that counts.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::AtomicBool;

use conflict_core::{detect, DetectConfig, DetectedPair};
use conflict_io::run::{Mode, Silent, Start};

use super::harness::{job, params, Loaded, Target};
use crate::support::expected::prefilter;

/// docs/rules.md §1 whitespace.
fn trimmed(s: &str) -> &str {
    s.trim_matches(|c| matches!(c, ' ' | '\t' | '\n' | '\x0c' | '\r'))
}

both_sources! {
fn a_full_run_reports_the_statements_and_rows_of_both_sides() {
    let loaded = Loaded::new(71);
    let mut schema = loaded.conflict_schema("io");
    let target = Target::of(&loaded, &schema);
    let p = params(Mode::Full, loaded.cfg.as_of);
    // One worker: one analytics connection for the batches, so the per-connection statements
    // are counted once.
    let opts = job(1, 1);
    let first = target.run(
        Start::New(p.clone()),
        &p,
        &opts,
        &AtomicBool::new(false),
        &Silent,
    );

    // What the world says the run reads. Batches: one per first character of the trimmed,
    // non-blank SSNs of the visits the planning query counts (the source's visits without
    // the pre-filter: active, non-demo providers, window).
    let visits = loaded.expected_visits();
    let prefix = |ssn: &Option<String>| -> Option<String> {
        let t = trimmed(ssn.as_deref().unwrap_or(""));
        t.chars().next().map(|c| c.to_string())
    };
    let batches: BTreeSet<String> = visits.iter().filter_map(|v| prefix(&v.ssn)).collect();
    // The visit query returns the pre-filtered visits of each batch; together, all of them.
    let narrow_rows = prefilter(&visits).len() as u64;
    // The details query returns one row per distinct visit of the batch's pairs.
    let cfg = DetectConfig::new(loaded.cfg.as_of).unwrap();
    let mut pairs: Vec<DetectedPair> = Vec::new();
    let report = detect(&visits, &cfg, &mut pairs).unwrap();
    let mut ids: BTreeMap<String, BTreeSet<&str>> = BTreeMap::new();
    for p in &pairs {
        let b = report
            .ssn(p.v1)
            .unwrap()
            .chars()
            .take(1)
            .collect::<String>();
        let set = ids.entry(b).or_default();
        set.insert(visits[p.v1].visit_id.as_str());
        set.insert(visits[p.v2].visit_id.as_str());
    }
    let wide_rows: u64 = ids.values().map(|s| s.len() as u64).sum();

    // The documented statements (PostgreSQL dialect, no exclusion lists): each connection
    // sends 2 session settings; planning 1 query (prefix length given); each batch a tag and
    // the visit query, and when it has pairs the ids table (DROP + CREATE, one INSERT per
    // `insert_rows` ids) and the details query.
    let insert_rows = target.source.insert_rows as u64;
    let per_batch: u64 = batches
        .iter()
        .map(|b| {
            let n = ids.get(b).map_or(0, |s| s.len() as u64);
            2 + if n > 0 {
                2 + n.div_ceil(insert_rows) + 1
            } else {
                0
            }
        })
        .sum();
    let planning = 2 + 1;
    let workers = 2;
    let io = &first.report.io;
    assert_eq!(first.report.timing.batches, batches.len() as u64);
    assert_eq!(io.warehouse_statements, planning + workers + per_batch);
    // Planning returns one row per prefix.
    assert_eq!(
        io.warehouse_rows_read,
        batches.len() as u64 + narrow_rows + wide_rows
    );
    // A fresh schema: every stored row was written by this run, and written at least once.
    let stored = schema.scalar_i64(&format!(
        "SELECT (SELECT count(*) FROM {}) + (SELECT count(*) FROM {})",
        schema.t("conflictvisitmaps"),
        schema.t("conflicts")
    )) as u64;
    assert!(stored > 0);
    assert!(
        io.store_rows_written >= stored,
        "{} rows written, {stored} rows stored",
        io.store_rows_written
    );

    // Nothing changed: the second run reads what it compares and writes nothing.
    let second = target.run(
        Start::New(p.clone()),
        &p,
        &opts,
        &AtomicBool::new(false),
        &Silent,
    );
    let io2 = &second.report.io;
    assert_eq!(io2.warehouse_statements, io.warehouse_statements);
    assert_eq!(io2.warehouse_rows_read, io.warehouse_rows_read);
    assert_eq!(io2.store_rows_written, 0);
    assert!(
        io2.store_rows_read >= pairs.len() as u64,
        "{} stored rows read for {} pairs",
        io2.store_rows_read,
        pairs.len()
    );

    // The JSON report carries the section under its documented names.
    let json = second.report.to_json();
    for key in [
        "warehouse_statements",
        "warehouse_rows_read",
        "store_rows_read",
        "store_rows_written",
    ] {
        assert!(json["io"][key].is_u64(), "io.{key} in {json}");
    }
}
}
