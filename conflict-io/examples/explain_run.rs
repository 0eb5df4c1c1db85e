//! Where the warehouse spends a run: `EXPLAIN (ANALYZE, BUFFERS)` of every statement a run
//! sends to the analytics source, on a generated world loaded into PostgreSQL (the statements
//! are the source's own, from `statements::run_statements_excluding`, so they cannot drift
//! from what a run sends).
//!
//! ```text
//! bash scripts/with-pg.sh cargo run --release -p conflict-io --example explain_run -- \
//!   --visits 638216 --ssns 1284 > bench/explain/after.txt
//! ```
//!
//! Full run: the planning query (at the prefix length a run with the default batch limit
//! uses), then per SSN-prefix batch the visit query and the details query (with the ids of
//! the visits in that batch's pairs, from detection over the world's expected visits); then
//! the in-service step (events; visits of those caregivers; details) and the incremental
//! run's delta keys (watermark one day before the as-of date). Every plan is printed in full
//! and a summary of execution times per statement kind closes the output. Parameters are
//! written into the text as literals: EXPLAIN takes no `?` markers, and every value is one
//! this program generated.

#[path = "../tests/support/mod.rs"]
mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use conflict_core::inservice::{event_spans, Event, EventKind};
use conflict_core::{detect, DetectConfig, DetectedPair, Exclusions};
use conflict_io::analytics::statements::{run_statements_excluding, ListOptions, Statement, Step};
use conflict_io::analytics::{
    span_rows, AnalyticsSchema, Dialect, Excluding, ScopeFilter, DEFAULT_INSERT_ROWS,
};
use conflict_io::run::Mode;

use support::expected::Expected;
use support::load::AnalyticsDb;
use support::world::{World, WorldConfig};

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(|v| v.parse().expect("a number"))
        .unwrap_or(default)
}

/// `sql` with its `?` markers replaced, in order, by `values` as quoted literals.
fn bind(sql: &str, values: &[String]) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut it = values.iter();
    for c in sql.chars() {
        if c == '?' {
            let v = it.next().expect("a value for every marker");
            out.push('\'');
            out.push_str(&v.replace('\'', "''"));
            out.push('\'');
        } else {
            out.push(c);
        }
    }
    assert!(it.next().is_none(), "more values than markers");
    out
}

struct Explainer {
    db: AnalyticsDb,
    /// Execution milliseconds per statement kind, and how many were explained.
    summary: BTreeMap<String, (f64, usize)>,
}

impl Explainer {
    fn explain(&mut self, kind: &str, label: &str, sql: &str) {
        let rows = self
            .db
            .client
            .query(&format!("EXPLAIN (ANALYZE, BUFFERS) {sql}"), &[])
            .unwrap_or_else(|e| panic!("{kind}: {e}\n{sql}"));
        println!("===== {kind}: {label}");
        let mut ms = 0.0;
        for r in rows {
            let line: String = r.get(0);
            if let Some(t) = line.strip_prefix("Execution Time: ") {
                ms = t.trim_end_matches(" ms").parse().unwrap_or(0.0);
            }
            println!("{line}");
        }
        println!();
        let e = self.summary.entry(kind.to_string()).or_default();
        e.0 += ms;
        e.1 += 1;
    }

    fn exec(&mut self, sql: &str) {
        self.db.exec(sql);
    }

    /// Replaces temporary table `name` (the statements of the list) and fills its single
    /// text-typed column from `values` (cast to the column's type by the server).
    /// Recreates temporary table `name` as the list does and fills it with `columns` (one
    /// text array per column, cast to the column's type).
    fn fill(&mut self, list: &[Statement], name: &str, columns: &[Vec<String>]) {
        for s in list {
            if s.step == Step::ReplaceTable(static_name(name)) {
                self.exec(&s.sql);
            }
        }
        let col_ty: Vec<(String, String)> = self
            .db
            .client
            .query(
                "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod) \
                 FROM pg_attribute a WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 \
                 ORDER BY a.attnum",
                &[&format!("pg_temp.{name}")],
            )
            .expect("the temporary table's columns")
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        let names: Vec<&str> = col_ty.iter().map(|(n, _)| n.as_str()).collect();
        let casts: Vec<String> = col_ty
            .iter()
            .enumerate()
            .map(|(i, (_, ty))| format!("CAST(v{i} AS {ty})"))
            .collect();
        let arrays: Vec<String> = (1..=col_ty.len())
            .map(|i| format!("${i}::text[]"))
            .collect();
        let aliases: Vec<String> = (0..col_ty.len()).map(|i| format!("v{i}")).collect();
        let sql = format!(
            "INSERT INTO pg_temp.{name} ({}) SELECT {} FROM unnest({}) AS u({})",
            names.join(", "),
            casts.join(", "),
            arrays.join(", "),
            aliases.join(", ")
        );
        let params: Vec<&(dyn postgres::types::ToSql + Sync)> = columns
            .iter()
            .map(|c| c as &(dyn postgres::types::ToSql + Sync))
            .collect();
        self.db
            .client
            .execute(&sql, &params)
            .expect("fill the temporary table");
    }
}

/// The list's `&'static str` table names, for comparing steps.
fn static_name(name: &str) -> &'static str {
    match name {
        "conflicts_detail_ids" => "conflicts_detail_ids",
        "conflicts_scope_events" => "conflicts_scope_events",
        "conflicts_scope_keys" => "conflicts_scope_keys",
        other => panic!("unknown temporary table {other}"),
    }
}

fn first(list: &[Statement], step: Step) -> &str {
    &list
        .iter()
        .find(|s| s.step == step)
        .unwrap_or_else(|| panic!("no {step:?} in the list"))
        .sql
}

fn main() {
    let mut cfg = WorldConfig::batch6(11);
    cfg.visits = arg("--visits", 638_216);
    cfg.people = arg("--ssns", 1_284);
    let t = Instant::now();
    let world = World::generate(&cfg);
    let mut db = AnalyticsDb::create();
    // EXPLAIN_KEEP=1: leave the loaded schema for manual experiments in the same cluster.
    db.keep = std::env::var_os("EXPLAIN_KEEP").is_some();
    let stats = db.load(&world);
    eprintln!("analytics schema: {}", db.schema());
    eprintln!(
        "world: {} visits ({} rows) loaded in {:.1} s",
        stats.visits,
        stats.rows,
        t.elapsed().as_secs_f64()
    );
    let window = cfg.window();
    let (from, to) = (window.from.to_string(), window.to.to_string());
    let schema = AnalyticsSchema::new(&db.schema()).expect("valid schema");
    let opts = |mode| ListOptions {
        dialect: Dialect::Postgres,
        mode,
        schema: schema.clone(),
        scratch: None,
        prefilter: true,
        insert_rows: DEFAULT_INSERT_ROWS,
    };
    // The benchmark's reference data has no exclusions: the run sends no exclusion tables.
    let full = run_statements_excluding(&opts(Mode::Full), Excluding::NONE);
    let incr = run_statements_excluding(&opts(Mode::Incremental), Excluding::NONE);

    // The batches and their pairs, from the expected visits (the run's own detection).
    let base = Expected::new(&world).visits(&window, &Exclusions::default());
    let mut pairs: Vec<DetectedPair> = Vec::new();
    let report = detect(&base, &DetectConfig::new(cfg.as_of).unwrap(), &mut pairs).unwrap();
    let mut ids_by_prefix: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for p in &pairs {
        let ssn = report.ssn(p.v1).unwrap_or_default();
        let prefix: String = ssn.chars().take(1).collect();
        let ids = ids_by_prefix.entry(prefix).or_default();
        ids.insert(base[p.v1].visit_id.clone());
        ids.insert(base[p.v2].visit_id.clone());
    }

    let mut x = Explainer {
        db,
        summary: BTreeMap::new(),
    };
    for s in full.iter().filter(|s| s.step == Step::Session) {
        x.exec(&s.sql);
    }
    // Planning: the default batch limit (750,000 visits) is met at prefix length 1.
    let prefixes_sql = bind(
        first(&full, Step::Prefixes),
        &[from.clone(), to.clone(), "1".into()],
    );
    x.explain(
        "planning (visits per SSN prefix)",
        "length 1",
        &prefixes_sql,
    );
    let batches: Vec<String> = {
        let rows = x.db.client.query(&prefixes_sql, &[]).expect("prefixes");
        let mut v: Vec<String> = rows.iter().map(|r| r.get::<_, String>(0)).collect();
        v.sort();
        v
    };
    let narrow = first(&full, Step::Narrow(ScopeFilter::SsnPrefix)).to_string();
    let wide = first(&full, Step::Wide).to_string();
    for p in &batches {
        let sql = bind(&narrow, &["1".into(), p.clone(), from.clone(), to.clone()]);
        x.explain("batch visits (SSN prefix)", &format!("batch ssn:{p}"), &sql);
        let ids: Vec<String> = ids_by_prefix
            .get(p)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default();
        x.fill(&full, "conflicts_detail_ids", std::slice::from_ref(&ids));
        x.explain(
            "batch details (wide)",
            &format!("batch ssn:{p}, {} ids", ids.len()),
            &bind(&wide, &[from.clone(), to.clone()]),
        );
    }

    // The in-service step: events, the visits of their caregivers, their details.
    let events_sql = bind(
        first(&full, Step::Events(EventKind::InService)),
        &[from.clone(), to.clone()],
    );
    x.explain("inservice events", "window", &events_sql);
    // The spans the step loads: those of the admitted events, as the source computes them.
    let spans = {
        let rows = x.db.client.query(&events_sql, &[]).expect("events");
        let events: Vec<Event> = rows
            .iter()
            .map(|r| Event {
                kind: EventKind::InService,
                source_id: r.get(0),
                environment: r.get::<_, Option<String>>(1).unwrap_or_default(),
                caregiver_id: r.get(2),
                ssn: r.get(3),
                provider_id: r.get::<_, Option<String>>(4).unwrap_or_default(),
                start: r.get(5),
                end: r.get(6),
            })
            .collect();
        event_spans(&events, &window, &Exclusions::default())
    };
    let mut columns = vec![Vec::new(), Vec::new(), Vec::new()];
    for row in span_rows(&spans) {
        for (c, v) in columns.iter_mut().zip(row) {
            c.push(v);
        }
    }
    x.fill(&full, "conflicts_scope_events", &columns);
    x.explain(
        "inservice visits near events",
        &format!("{} spans", spans.len()),
        &bind(
            first(&full, Step::Narrow(ScopeFilter::Events)),
            &[from.clone(), to.clone()],
        ),
    );

    // An incremental run's planning: the keys changed in the last day.
    let since = format!("{} 00:00:00", cfg.as_of.pred_opt().unwrap());
    x.explain(
        "incremental delta keys",
        &format!("since {since}"),
        &bind(first(&incr, Step::DeltaKeys), &[since, from, to]),
    );

    println!("===== summary: execution time per statement kind (server side, EXPLAIN ANALYZE)");
    let mut total = 0.0;
    for (kind, (ms, n)) in &x.summary {
        total += ms;
        println!("{kind:40} {n:3} statement(s) {ms:10.1} ms");
    }
    println!("{:40} {:>16} {total:10.1} ms", "all", "");
}
