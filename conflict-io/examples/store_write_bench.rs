//! Throughput of the batch writer (`PgStore::apply_batch`) on a table of realistic size.
//!
//! A batch the size of the old system's large batch (11,617 rows updated
//! of 15,348) is written into a conflict schema that holds a few hundred thousand other CVM
//! rows: about 11,600 updated rows, some inserts and some stale rows to resolve, all in one
//! transaction. The schema is created under a unique name and dropped at the end.
//!
//! ```text
//! CONFLICTS_BENCH_PG="host=127.0.0.1 port=5432 user=postgres dbname=postgres" \
//!   cargo run --release -p conflict-io --example store_write_bench [-- FILLER_COPIES ROUNDS [inline]]
//! ```
//!
//! `CONFLICTS_TEST_PG` is used when `CONFLICTS_BENCH_PG` is not set. FILLER_COPIES (default
//! 25) copies of the batch's rows under other SSNs fill the table (25 → ~300,000 rows);
//! ROUNDS (default 5) measured writes. `inline` sets `toast_tuple_target = 8160` on
//! conflictvisitmaps first (a deployment tuning: rows of a few kilobytes then stay in the
//! table instead of moving dozens of short values per row into its TOAST table).
//!
//! With `CONFLICTS_BENCH_EXPLAIN=PREFIX` (throwaway cluster of `scripts/with-pg.sh` only), one
//! more changed write and one more unchanged write run after the measured ones with every
//! statement's duration and executed plan logged; the server log lines go to
//! `PREFIX-changed.txt` and `PREFIX-unchanged.txt` (see `support/explain_log.rs`).
//!
//! With `CONFLICTS_BENCH_KEEP=1` the schema is kept at the end (its name is printed), to try
//! statements on the same data by hand.

use std::collections::HashMap;
use std::time::Instant;

use chrono::{Duration, NaiveDate};
use conflict_core::{detect, DetectConfig, DetectReport, DetectedPair, RuleOptions, Visit};
use conflict_io::details::{Kind, Value, VisitDetails, DETAIL_COLUMNS};
use conflict_io::run::{BatchInput, BatchSpec, ConflictStore, Mode, RunInfo, WriteCounts};
use conflict_io::scope::{BatchScope, Scope};
use conflict_io::store::testing::stored_rows::read_scope_rows;
use conflict_io::store::{self, ConnInfo, PgStore, SchemaNames};

#[path = "support/explain_log.rs"]
mod explain_log;

/// Keys (visit date, SSN) of the batch, three visits at three providers each: six pairs a key.
const KEYS: usize = 2_000;
/// Of the 12,000 pairs, this many are new in the measured write; the rest are updates.
const NEW_PAIRS: usize = 400;
/// Stored rows of the batch's scope that are no longer detected.
const STALE_ROWS: usize = 500;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let copies: u32 = args.first().map_or(Ok(25), |a| a.parse())?;
    let rounds: u32 = args.get(1).map_or(Ok(5), |a| a.parse())?;
    let inline = args.get(2).is_some_and(|a| a == "inline");
    let conninfo = std::env::var("CONFLICTS_BENCH_PG")
        .or_else(|_| std::env::var("CONFLICTS_TEST_PG"))
        .map_err(|_| "set CONFLICTS_BENCH_PG (or CONFLICTS_TEST_PG) to a libpq conninfo")?;
    let conn = ConnInfo::parse(&conninfo)?;
    let schema = format!("conflict_bench_{}", std::process::id());
    let names = SchemaNames::new(&schema, "analytics")?;
    let mut admin = store::connect(&conn)?;
    store::init_schema(&mut admin, &names)?;
    if inline {
        admin.batch_execute(&format!(
            "ALTER TABLE {} SET (toast_tuple_target = 8160)",
            names.conflict_table("conflictvisitmaps")
        ))?;
    }
    let result = bench(&conn, &names, &mut admin, copies, rounds);
    if std::env::var_os("CONFLICTS_BENCH_KEEP").is_some() {
        println!("kept schema {schema}");
        return result;
    }
    admin.batch_execute(&format!("DROP SCHEMA {} CASCADE", names.conflict.quoted()))?;
    result
}

fn bench(
    conn: &ConnInfo,
    names: &SchemaNames,
    admin: &mut postgres::Client,
    copies: u32,
    rounds: u32,
) -> Result<(), Box<dyn std::error::Error>> {
    let explain = std::env::var("CONFLICTS_BENCH_EXPLAIN").ok();
    if explain.is_some() {
        explain_log::preload(admin)?;
    }
    let store = PgStore::connect(conn, names.clone(), 2)?;
    let as_of: NaiveDate = "2025-06-15".parse()?;
    let run = RunInfo {
        run_id: 1,
        mode: Mode::Full,
        run_ts: as_of.and_hms_opt(2, 0, 0).unwrap(),
        as_of,
        window: conflict_core::Window::default_around(as_of)?,
        since: None,
    };
    let batch = Batch::new(as_of);
    let (report, pairs) = batch.detect(as_of);
    println!(
        "batch: {} visits, {} keys, {} detected pairs",
        batch.visits.len(),
        KEYS,
        pairs.len()
    );

    // Seed: write the batch once, then fill the table with copies of its rows under other
    // SSNs (prefix 9, same width as real rows).
    let t = Instant::now();
    let first = batch.apply(&store, &run, &report, &pairs)?;
    println!(
        "first write into the empty table: {} rows in {:.3} s",
        first.inserted,
        t.elapsed().as_secs_f64()
    );
    let cvm = names.conflict_table("conflictvisitmaps");
    let columns = copy_columns(admin, names)?;
    admin.batch_execute(&format!(
        "INSERT INTO {cvm} ({cols}, \"VisitID\", \"ConVisitID\", \"SSN\", \"AideSSN\", \"ConAideSSN\") \
         SELECT {cols}, md5(c.\"VisitID\"::text || g)::uuid, md5(c.\"ConVisitID\"::text || g)::uuid, \
                '9' || lpad(g::text, 2, '0') || substr(c.\"SSN\", 4), c.\"AideSSN\", c.\"ConAideSSN\" \
         FROM {cvm} c, generate_series(1, {copies}) g",
        cols = columns.join(", ")
    ))?;
    // VACUUM refuses to run inside the implicit transaction of a multi-statement string.
    admin.batch_execute(&format!("VACUUM ANALYZE {cvm}"))?;
    let total: i64 = admin
        .query_one(&format!("SELECT count(*) FROM {cvm}"), &[])?
        .get(0);
    println!(
        "seeded {} rows ({} inserted by the writer) in {:.1} s",
        total,
        first.inserted,
        t.elapsed().as_secs_f64()
    );

    let scope = BatchScope {
        window: run.window,
        scope: batch.spec.scope.clone(),
    };
    let mut rates = Vec::new();
    for round in 1..=rounds {
        reset(admin, &cvm)?;
        let t = Instant::now();
        let scope_rows = read_scope_rows(admin, names, &scope)?.len();
        let scope_secs = t.elapsed().as_secs_f64();

        let t = Instant::now();
        let c = batch.apply(&store, &run, &report, &pairs)?;
        let secs = t.elapsed().as_secs_f64();
        let written = c.updated + c.inserted + c.resolved;
        let handled = written + c.unchanged;
        println!(
            "round {round}: {secs:.3} s — updated {}, inserted {}, resolved {}, unchanged {}, \
             conflicts created {} → {:.0} written rows/s ({:.0} pairs+stale rows/s); \
             stale-scope read alone: {scope_rows} rows in {scope_secs:.3} s",
            c.updated,
            c.inserted,
            c.resolved,
            c.unchanged,
            c.conflicts_created,
            written as f64 / secs,
            handled as f64 / secs,
        );
        rates.push(written as f64 / secs);
    }
    // And once more on unchanged data: the idempotent case (nothing rewritten).
    let t = Instant::now();
    let c = batch.apply(&store, &run, &report, &pairs)?;
    let secs = t.elapsed().as_secs_f64();
    println!(
        "unchanged re-run: {secs:.3} s — unchanged {} → {:.0} pairs/s",
        c.unchanged,
        c.unchanged as f64 / secs
    );
    rates.sort_by(f64::total_cmp);
    if let Some(median) = rates.get(rates.len() / 2) {
        println!("median: {median:.0} written rows/s");
    }
    if let Some(prefix) = explain {
        reset(admin, &cvm)?;
        let capture = explain_log::start(admin)?;
        batch.apply(&store, &run, &report, &pairs)?;
        capture.finish(admin, &format!("{prefix}-changed.txt"))?;
        let capture = explain_log::start(admin)?;
        batch.apply(&store, &run, &report, &pairs)?;
        capture.finish(admin, &format!("{prefix}-unchanged.txt"))?;
    }
    Ok(())
}

/// Every CVM column except the identity, the key and the SSN columns the filler rewrites.
fn copy_columns(
    admin: &mut postgres::Client,
    names: &SchemaNames,
) -> Result<Vec<String>, postgres::Error> {
    let skip = [
        "ID",
        "VisitID",
        "ConVisitID",
        "SSN",
        "AideSSN",
        "ConAideSSN",
    ];
    Ok(admin
        .query(
            "SELECT column_name::text FROM information_schema.columns \
             WHERE table_schema = $1 AND table_name = 'conflictvisitmaps' ORDER BY ordinal_position",
            &[&names.conflict.as_str()],
        )?
        .iter()
        .map(|r| r.get::<_, String>(0))
        .filter(|c| !skip.contains(&c.as_str()))
        .map(|c| format!("\"{c}\""))
        .collect())
}

/// Puts the batch's rows back into the state the measured write starts from: most rows with
/// an outdated provider name (an update each), `NEW_PAIRS` rows missing (inserts), and
/// `STALE_ROWS` open rows of the scope whose pairs are not detected.
fn reset(admin: &mut postgres::Client, cvm: &str) -> Result<(), postgres::Error> {
    admin.batch_execute(&format!(
        "DELETE FROM {cvm} WHERE \"SSN\" LIKE '123%' AND \"ConVisitID\" IS NULL;
         DELETE FROM {cvm} WHERE \"ID\" IN (SELECT \"ID\" FROM {cvm} WHERE \"SSN\" LIKE '123%' \
           ORDER BY \"VisitID\", \"ConVisitID\" LIMIT {NEW_PAIRS});
         UPDATE {cvm} SET \"ProviderName\" = 'Outdated name', \"StatusFlag\" = 'N' \
           WHERE \"SSN\" LIKE '123%';
         INSERT INTO {cvm} (\"VisitID\", \"ConVisitID\", \"SSN\", \"VisitDate\", \"CONFLICTID\", \"StatusFlag\") \
           SELECT md5('stale' || g)::uuid, NULL, '123' || lpad(g::text, 6, '0'), date '2025-03-01', 1, 'N' \
           FROM generate_series(1, {STALE_ROWS}) g;"
    ))?;
    admin.batch_execute(&format!("VACUUM ANALYZE {cvm}"))?;
    // The reset dirtied some 40 MB of pages; without a checkpoint here the measured write
    // would pay for writing them out (a backend evicting dirty buffers, or a checkpoint
    // triggered by the seeding running beside it), and the rounds would vary with that.
    admin.batch_execute("CHECKPOINT")
}

struct Batch {
    visits: Vec<Visit>,
    details: HashMap<String, VisitDetails>,
    options: RuleOptions,
    spec: BatchSpec,
}

impl Batch {
    fn new(as_of: NaiveDate) -> Batch {
        let mut visits = Vec::new();
        for k in 0..KEYS {
            let day = as_of - Duration::days((k % 600) as i64);
            let ssn = format!("123{:06}", k);
            for p in 0..3u32 {
                let n = (k as u32) * 3 + p;
                let mut v = Visit::new(uuid(n), ssn.clone(), uuid(1_000_000 + p), day);
                v.app_visit_id = Some(i64::from(n));
                let start = day.and_hms_opt(9 + p, 0, 0).unwrap();
                // Overlapping actual times at nearby places: rule 5 and a distance each way.
                v.sch_start = Some(start);
                v.sch_end = Some(start + Duration::minutes(150));
                v.visit_start = v.sch_start;
                v.visit_end = v.sch_end;
                v.call_out_gps = Some(format!("40.{:04},-73.99", 7500 + p * 40));
                v.is_missed = Some(false);
                v.updated_at = Some(start);
                visits.push(v);
            }
        }
        let details = visits
            .iter()
            .map(|v| (v.visit_id.clone(), payload(v)))
            .collect();
        Batch {
            visits,
            details,
            options: RuleOptions::default(),
            spec: BatchSpec {
                key: "ssn:123".into(),
                scope: Scope::SsnPrefix("123".into()),
            },
        }
    }

    fn detect(&self, as_of: NaiveDate) -> (DetectReport, Vec<DetectedPair>) {
        let cfg = DetectConfig::new(as_of).expect("valid as_of");
        let mut pairs = Vec::new();
        let report = detect(&self.visits, &cfg, &mut pairs).expect("distinct visit ids");
        (report, pairs)
    }

    fn apply(
        &self,
        store: &PgStore,
        run: &RunInfo,
        report: &DetectReport,
        pairs: &[DetectedPair],
    ) -> Result<WriteCounts, conflict_io::store::StoreError> {
        let input = BatchInput {
            visits: &self.visits,
            report,
            pairs,
            details: &self.details,
            options: &self.options,
            fetch_secs: 0.0,
            detect_secs: 0.0,
            io: Default::default(),
        };
        store.apply_batch(run, &self.spec, &input, false)
    }
}

fn uuid(n: u32) -> String {
    format!("00000000-0000-4000-8000-{n:012}")
}

/// A payload with every column filled, text of typical lengths.
fn payload(v: &Visit) -> VisitDetails {
    let values = DETAIL_COLUMNS
        .iter()
        .enumerate()
        .map(|(i, c)| match c.kind {
            Kind::Uuid => Value::Uuid(uuid(2_000_000 + i as u32)),
            Kind::I64 => Value::I64(i as i64),
            Kind::Text => Value::Text(format!("{} of {}", c.cvm, &v.provider_id[28..])),
            Kind::Timestamp => Value::Timestamp(v.sch_start.expect("scheduled")),
            Kind::F32 => Value::F32(i as f32 * 1.25),
            Kind::Bool => Value::Bool(true),
        })
        .collect();
    VisitDetails { values }
}
