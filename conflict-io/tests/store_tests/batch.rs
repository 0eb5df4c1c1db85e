//! Fixtures of the batch-writer tests: a test schema with a [`PgStore`], hand-made visits run
//! through the real detection, their business payloads, and helpers to seed and read CVM rows.

use std::collections::HashMap;

use chrono::{NaiveDate, NaiveDateTime};
use conflict_core::{detect, DetectConfig, DetectReport, DetectedPair, RuleOptions, Visit, Window};
use conflict_io::details::{Value, VisitDetails, DETAIL_COLUMNS};
use conflict_io::run::{BatchInput, BatchSpec, ConflictStore, Mode, RunInfo, WriteCounts};
use conflict_io::scope::Scope;
use conflict_io::store::{PgStore, StoreError};
use postgres::Row;

use super::support::{conninfo, TestSchemas};

/// The visit date of every fixture visit and the run's `as_of`.
pub const DAY: &str = "2025-06-10";
pub const AS_OF: &str = "2025-06-15";
/// The SSN of the fixture visits; their batch is the SSN prefix `1`.
pub const SSN: &str = "123456789";

pub fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

pub fn ts(s: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap()
}

/// `hh:mm` on [`DAY`].
pub fn at(hhmm: &str) -> NaiveDateTime {
    ts(&format!("{DAY} {hhmm}:00"))
}

/// `u(7)` = "00000000-0000-4000-8000-000000000007".
pub fn u(n: u32) -> String {
    format!("00000000-0000-4000-8000-{n:012}")
}

/// A run with the given run timestamp (the writer takes everything it writes from it).
pub fn run(run_ts: &str) -> RunInfo {
    RunInfo {
        run_id: 1,
        mode: Mode::Full,
        run_ts: ts(run_ts),
        as_of: d(AS_OF),
        window: Window::default_around(d(AS_OF)).unwrap(),
        since: None,
    }
}

/// A test schema with a store connected to it.
pub struct World {
    pub t: TestSchemas,
    pub store: PgStore,
}

impl World {
    pub fn new() -> World {
        let t = TestSchemas::initialised();
        let store = PgStore::connect(&conninfo(), t.names.clone(), 2).expect("PgStore::connect");
        World { t, store }
    }

    pub fn cvm(&self) -> String {
        self.t.table("conflictvisitmaps")
    }

    pub fn conflicts(&self) -> String {
        self.t.table("conflicts")
    }

    pub fn exec(&mut self, sql: &str) {
        self.t.exec(sql)
    }

    /// The CVM rows of a key, in `"ID"` order.
    pub fn rows(&mut self, v1: &str, v2: &str) -> Vec<Row> {
        let sql = format!(
            "SELECT * FROM {} WHERE \"VisitID\"::text = $1 AND \"ConVisitID\"::text = $2 \
             ORDER BY \"ID\"",
            self.cvm()
        );
        self.t.client.query(&sql, &[&v1, &v2]).unwrap()
    }

    /// The only CVM row of a key.
    pub fn row(&mut self, v1: &str, v2: &str) -> Row {
        let mut rows = self.rows(v1, v2);
        assert_eq!(rows.len(), 1, "rows of ({v1}, {v2})");
        rows.remove(0)
    }

    pub fn count(&mut self, table: &str) -> i64 {
        let sql = format!("SELECT count(*) FROM {}", self.t.table(table));
        self.t.client.query_one(&sql, &[]).unwrap().get(0)
    }

    /// Every row of a table as text, in key order: compares whole tables before and after.
    pub fn snapshot(&mut self, table: &str, order: &str) -> Vec<String> {
        let sql = format!(
            "SELECT t::text FROM {} t ORDER BY {order}",
            self.t.table(table)
        );
        self.t
            .client
            .query(&sql, &[])
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect()
    }

    /// A stored CVM row: key, [`DAY`], [`SSN`], `CONFLICTID` and further (`Column`, SQL
    /// literal) pairs, which may also replace the defaults. Parents are seeded separately
    /// ([`World::seed_conflict`]).
    pub fn seed(&mut self, v1: &str, v2: &str, conflict_id: Option<i64>, extra: &[(&str, &str)]) {
        let mut cols = vec![
            "\"VisitID\"".to_string(),
            "\"ConVisitID\"".into(),
            "\"SSN\"".into(),
            "\"VisitDate\"".into(),
            "\"CONFLICTID\"".into(),
        ];
        let mut vals = vec![
            format!("'{v1}'"),
            format!("'{v2}'"),
            format!("'{SSN}'"),
            format!("'{DAY}'"),
            conflict_id.map_or("NULL".into(), |c| c.to_string()),
        ];
        for (c, v) in extra {
            // A later entry for a column replaces the default above.
            let quoted = format!("\"{c}\"");
            if let Some(i) = cols.iter().position(|x| *x == quoted) {
                vals[i] = v.to_string();
            } else {
                cols.push(quoted);
                vals.push(v.to_string());
            }
        }
        let sql = format!(
            "INSERT INTO {} ({}) VALUES ({})",
            self.cvm(),
            cols.join(", "),
            vals.join(", ")
        );
        self.exec(&sql);
    }

    /// A parent conflict with an explicit id.
    pub fn seed_conflict(&mut self, id: i64, status: &str) {
        let sql = format!(
            "INSERT INTO {} (\"CONFLICTID\", \"StatusFlag\", \"CreatedDate\") \
             VALUES ({id}, '{status}', '2024-01-01 00:00:00')",
            self.conflicts()
        );
        self.exec(&sql);
    }
}

/// Sets one payload value by CVM (V1) column name.
pub fn set(details: &mut VisitDetails, column: &str, value: Value) {
    let i = DETAIL_COLUMNS
        .iter()
        .position(|c| c.cvm == column)
        .unwrap_or_else(|| panic!("{column} is not a payload column"));
    details.values[i] = value;
}

/// A visit of [`SSN`] on [`DAY`] at provider `p`, scheduled 09:00–11:00, not started.
pub fn visit(n: u32, p: u32) -> Visit {
    let mut v = Visit::new(u(n), SSN, u(1000 + p), d(DAY));
    v.app_visit_id = Some(i64::from(n));
    v.sch_start = Some(at("09:00"));
    v.sch_end = Some(at("11:00"));
    v.is_missed = Some(false);
    v.updated_at = Some(ts("2025-06-09 08:00:00"));
    v
}

/// A payload with provider, caregiver and patient fields derived from the visit.
pub fn details_for(v: &Visit) -> VisitDetails {
    let mut dt = VisitDetails::empty();
    set(&mut dt, "ProviderID", Value::Uuid(v.provider_id.clone()));
    set(
        &mut dt,
        "ProviderName",
        Value::Text(format!("Agency {}", &v.provider_id[30..])),
    );
    set(&mut dt, "AgencyPhone", Value::Text("555-0100".into()));
    set(&mut dt, "AideName", Value::Text("Pat Doe".into()));
    set(&mut dt, "PatientID", Value::Uuid(u(5000)));
    set(&mut dt, "AppPatientID", Value::I64(5000));
    set(&mut dt, "P_PStatus", Value::Text("Active".into()));
    set(&mut dt, "BilledHours", Value::F32(1.1));
    set(&mut dt, "ContractType", Value::Text("Payer".into()));
    dt
}

/// The input of one batch: visits, their payloads, options and the batch scope.
pub struct Batch {
    pub visits: Vec<Visit>,
    pub details: HashMap<String, VisitDetails>,
    pub options: RuleOptions,
    pub spec: BatchSpec,
}

impl Batch {
    /// The SSN-prefix batch `ssn:1` over `visits` with payloads from [`details_for`].
    pub fn new(visits: Vec<Visit>) -> Batch {
        let details = visits
            .iter()
            .map(|v| (v.visit_id.clone(), details_for(v)))
            .collect();
        Batch {
            visits,
            details,
            options: RuleOptions::default(),
            spec: BatchSpec {
                key: "ssn:1".into(),
                scope: Scope::SsnPrefix("1".into()),
            },
        }
    }

    pub fn detail(&mut self, n: u32) -> &mut VisitDetails {
        self.details.get_mut(&u(n)).expect("a visit of the batch")
    }

    pub fn detect(&self) -> (DetectReport, Vec<DetectedPair>) {
        let mut cfg = DetectConfig::new(d(AS_OF)).unwrap();
        cfg.options = self.options;
        let mut pairs = Vec::new();
        let report = detect(&self.visits, &cfg, &mut pairs).unwrap();
        (report, pairs)
    }

    pub fn try_apply(
        &self,
        store: &PgStore,
        run: &RunInfo,
        dry_run: bool,
    ) -> Result<WriteCounts, StoreError> {
        let (report, pairs) = self.detect();
        let input = BatchInput {
            visits: &self.visits,
            report: &report,
            pairs: &pairs,
            details: &self.details,
            options: &self.options,
            fetch_secs: 0.0,
            detect_secs: 0.0,
            io: Default::default(),
        };
        store.apply_batch(run, &self.spec, &input, dry_run)
    }

    pub fn apply(&self, store: &PgStore, run_ts: &str) -> WriteCounts {
        self.try_apply(store, &run(run_ts), false)
            .unwrap_or_else(|e| panic!("apply_batch: {e}"))
    }
}

/// `WriteCounts` without warnings, for compact assertions:
/// (updated, unchanged, adopted, inserted, not_inserted_by_switch, resolved, conflicts_created).
pub fn numbers(c: &WriteCounts) -> [u64; 7] {
    [
        c.updated,
        c.unchanged,
        c.adopted,
        c.inserted,
        c.not_inserted_by_switch,
        c.resolved,
        c.conflicts_created,
    ]
}

pub fn text(row: &Row, column: &str) -> Option<String> {
    row.get(column)
}

/// The seven flags of a row as one string, NULL as `.`: "YNN.NNN".
pub fn flags(row: &Row) -> String {
    conflict_core::FLAG_NAMES
        .iter()
        .map(|f| text(row, f).unwrap_or_else(|| ".".into()))
        .collect()
}
