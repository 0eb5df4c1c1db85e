//! The emulator test: the Snowflake-dialect statements of both run modes (the list `conflicts
//! sql` prints) executed by fakesnow — Snowflake SQL emulated on DuckDB, through the Snowflake
//! Python connector with `?` parameters — on the same generated analytics world the PostgreSQL
//! tests use; every row they return must equal the row of the PostgreSQL-dialect statement of
//! the same step, run through the real psqlODBC driver.
//!
//! scripts/test.sh installs fakesnow in a virtual environment and exports its interpreter as
//! `CONFLICTS_TEST_FAKESNOW_PYTHON`. Without it the test fails (like every test that needs a
//! server the test command provides), saying how to get it.
//!
//! What the emulator cannot prove (see docs/snowflake.md): the session statements (fakesnow
//! does not implement `ALTER SESSION`; they run apart and must fail only as "not implemented"),
//! the error Snowflake raises on a value longer than a `VARCHAR(n)` cast (DuckDB ignores the
//! bound; the parser test checks every such cast holds a `LEFT`), and the driver's behaviour
//! (array binding, buffer sizes; the psqlODBC tests count statements instead).

use std::collections::BTreeSet;
use std::process::Command;

use chrono::NaiveDate;
use conflict_core::inservice::EventSpan;
use conflict_core::model::trim;
use conflict_io::analytics::statements::{run_statements, ListOptions, Statement, Step};
use conflict_io::analytics::{span_rows, AnalyticsSchema, Dialect};
use conflict_io::run::Mode;
use odbc_api::parameter::VarCharBox;
use odbc_api::{buffers::TextRowSet, ConnectionOptions, Cursor, Environment, IntoParameter};
use serde_json::{json, Value};

use super::fixture::Loaded;
use crate::support::env;
use crate::support::expected::Expected;

const PYTHON_ENV: &str = "CONFLICTS_TEST_FAKESNOW_PYTHON";

type Row = Vec<Option<String>>;

/// Consecutive statements of the same step (PostgreSQL replaces a table with two).
fn groups(list: &[Statement]) -> Vec<(Step, Vec<String>)> {
    let mut out: Vec<(Step, Vec<String>)> = Vec::new();
    for s in list {
        match out.last_mut() {
            Some((step, sqls)) if *step == s.step && s.step != Step::Tag => {
                sqls.push(s.sql.clone())
            }
            _ => out.push((s.step, vec![s.sql.clone()])),
        }
    }
    out
}

/// A one-row insert widened to `n` rows, as the source does for a chunk.
fn widen(insert: &str, n: usize) -> String {
    let (head, tuple) = insert.split_once(" VALUES ").expect("an INSERT ... VALUES");
    format!("{head} VALUES {}", vec![tuple; n].join(", "))
}

/// A cell as compared: timestamps without trailing fraction zeros, numbers by value.
fn normal(cell: Option<&str>) -> Option<String> {
    let c = cell?.trim_end().to_string();
    let b = c.as_bytes();
    let ts = b.len() >= 19 && b[4] == b'-' && b[10] == b' ' && b[13] == b':';
    if ts {
        if let Some((whole, frac)) = c.split_once('.') {
            let frac = frac.trim_end_matches('0');
            return Some(if frac.is_empty() {
                whole.to_string()
            } else {
                format!("{whole}.{frac}")
            });
        }
        return Some(c);
    }
    // Numbers by value: Snowflake and PostgreSQL print a FLOAT/real -74 as "-74", DuckDB as
    // "-74.0"; the reader parses the text either way.
    if c.bytes().any(|b| b.is_ascii_digit()) && !c.contains(char::is_alphabetic) || c.contains('e')
    {
        if let Ok(x) = c.parse::<f64>() {
            return Some(format!("{x:?}"));
        }
    }
    Some(c)
}

/// One step of the scenario in both dialects.
struct Action {
    step: Step,
    snowflake: String,
    postgres: Vec<String>,
    params: Vec<String>,
    fetch: bool,
}

struct Scenario {
    window: (String, String),
    since: String,
    prefix: String,
    rows: Vec<(&'static str, Vec<Vec<String>>)>,
}

impl Scenario {
    fn rows(&self, table: &str) -> &[Vec<String>] {
        &self.rows.iter().find(|(t, _)| *t == table).expect(table).1
    }

    fn actions(&self, mode: Mode, schema: &AnalyticsSchema) -> Vec<Action> {
        let list = |dialect| {
            run_statements(&ListOptions {
                dialect,
                mode,
                schema: schema.clone(),
                scratch: None,
                prefilter: true,
                insert_rows: 1,
            })
        };
        let sf = groups(&list(Dialect::Snowflake));
        let pg: Vec<_> = groups(&list(Dialect::Postgres))
            .into_iter()
            .filter(|(s, _)| *s != Step::Session)
            .collect();
        let (from, to) = self.window.clone();
        let mut pg = pg.into_iter();
        let mut out = Vec::new();
        for (step, sqls) in sf {
            let (sql, fetch) = (sqls[0].clone(), true);
            if matches!(step, Step::Session | Step::CurrentSchema) {
                // Snowflake only; the PostgreSQL session setup runs when connecting.
                out.push(Action {
                    step,
                    snowflake: sql,
                    postgres: vec![],
                    params: vec![],
                    fetch: step == Step::CurrentSchema,
                });
                continue;
            }
            let (pstep, psqls) = pg.next().expect("the PostgreSQL list has the same steps");
            assert_eq!(
                pstep, step,
                "the two dialects list the same steps in the same order"
            );
            let w = vec![from.clone(), to.clone()];
            let (snowflake, postgres, params, fetch) = match step {
                Step::Tag | Step::ReplaceTable(_) => (sql, psqls, vec![], false),
                Step::Probe => (sql, psqls, vec![], fetch),
                Step::Insert(t) => {
                    let rows = self.rows(t);
                    if rows.is_empty() {
                        continue; // the source sends no insert for an empty list
                    }
                    let p = psqls.iter().map(|s| widen(s, rows.len())).collect();
                    (widen(&sql, rows.len()), p, rows.concat(), false)
                }
                Step::Prefixes => (sql, psqls, [w, vec!["1".into()]].concat(), fetch),
                Step::DeltaKeys => (sql, psqls, [vec![self.since.clone()], w].concat(), fetch),
                Step::Narrow(conflict_io::analytics::ScopeFilter::SsnPrefix) => (
                    sql,
                    psqls,
                    [vec!["1".into(), self.prefix.clone()], w].concat(),
                    fetch,
                ),
                Step::Narrow(_) | Step::Events(_) | Step::Wide => (sql, psqls, w, fetch),
                Step::Session | Step::CurrentSchema => unreachable!(),
            };
            out.push(Action {
                step,
                snowflake,
                postgres,
                params,
                fetch,
            });
        }
        out
    }
}

/// Runs the PostgreSQL side of `actions` on one psqlODBC connection; rows of fetching steps.
fn run_postgres(env_: &Environment, actions: &[Action]) -> Vec<Option<Vec<Row>>> {
    let conn = env_
        .connect_with_connection_string(
            &env::odbc_connection_string(""),
            ConnectionOptions::default(),
        )
        .expect("connect through psqlODBC");
    conn.execute("SET TIME ZONE 'UTC'", (), None)
        .expect("session time zone");
    let mut out = Vec::new();
    for a in actions {
        if a.postgres.is_empty() {
            out.push(None);
            continue;
        }
        let mut rows = Vec::new();
        for sql in &a.postgres {
            let params: Vec<VarCharBox> = a
                .params
                .iter()
                .map(|p| p.clone().into_parameter())
                .collect();
            let cursor = conn
                .execute(sql, &params[..], None)
                .unwrap_or_else(|e| panic!("PostgreSQL {:?}: {e}\n{sql}", a.step));
            if let Some(mut cursor) = cursor {
                let buf = TextRowSet::for_cursor(500, &mut cursor, Some(4096)).expect("buffer");
                let mut block = cursor.bind_buffer(buf).expect("bind");
                while let Some(b) = block.fetch_with_truncation_check(true).expect("fetch") {
                    for r in 0..b.num_rows() {
                        rows.push(
                            (0..b.num_cols())
                                .map(|c| normal(b.at_as_str(c, r).expect("UTF-8")))
                                .collect(),
                        );
                    }
                }
            }
        }
        out.push(a.fetch.then_some(rows));
    }
    out
}

/// The analytics tables of the loaded schema as JSON for the Python driver.
fn export_tables(schema: &str) -> Vec<Value> {
    let mut pg = env::pg_client();
    let tables = pg
        .query(
            "SELECT table_name::text FROM information_schema.tables WHERE table_schema = $1 \
             ORDER BY 1",
            &[&schema],
        )
        .expect("list tables");
    let mut out = Vec::new();
    for t in tables {
        let name: String = t.get(0);
        let cols: Vec<(String, String)> = pg
            .query(
                "SELECT column_name::text, data_type::text FROM information_schema.columns \
                 WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position",
                &[&schema, &name],
            )
            .expect("list columns")
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        let rows: String = pg
            .query_one(
                &format!("SELECT coalesce(json_agg(t), '[]')::text FROM {schema}.{name} t"),
                &[],
            )
            .expect("export rows")
            .get(0);
        out.push(json!({
            "name": name,
            "columns": cols,
            "rows": serde_json::from_str::<Value>(&rows).expect("json"),
        }));
    }
    out
}

#[test]
fn snowflake_statements_on_fakesnow_return_the_rows_of_the_postgres_dialect() {
    let python = match std::env::var(PYTHON_ENV) {
        Ok(p) if !p.trim().is_empty() => p,
        _ => panic!(
            "{PYTHON_ENV} is not set: run the tests through scripts/test.sh, which installs \
             fakesnow into a virtual environment and exports its python"
        ),
    };
    let t = Loaded::new(51);
    let ex = t.exclusions();
    let window = t.window();
    let admitted = Expected::new(&t.world).visits(&window, &ex);
    let ssn = |v: &conflict_core::Visit| trim(v.ssn.as_deref().unwrap_or("")).to_string();
    let keys: BTreeSet<(NaiveDate, String)> = admitted
        .iter()
        .step_by(7)
        .take(300)
        .map(|v| (v.visit_date, ssn(v)))
        .collect();
    let ids: BTreeSet<String> = admitted
        .iter()
        .step_by(5)
        .take(300)
        .map(|v| v.visit_id.clone())
        .collect();
    // Spans of pretend events: each over a visit's own interval, so that visit meets it.
    let spans: Vec<EventSpan> = admitted
        .iter()
        .filter(|v| v.visit_start.is_some() && v.visit_end.is_some())
        .step_by(11)
        .take(100)
        .map(|v| EventSpan {
            ssn: ssn(v),
            start: v.visit_start.unwrap(),
            end: v.visit_end.unwrap(),
        })
        .collect();
    let mut updated: Vec<_> = admitted.iter().filter_map(|v| v.updated_at).collect();
    updated.sort();
    let since = updated[updated.len() / 2];
    let scenario = Scenario {
        window: (window.from.to_string(), window.to.to_string()),
        since: since.format("%Y-%m-%d %H:%M:%S%.6f").to_string(),
        prefix: ssn(&admitted[0])[..1].to_string(),
        rows: vec![
            (
                "conflicts_excluded_providers",
                ex.providers
                    .iter()
                    .map(|p| vec![p.to_lowercase()])
                    .collect(),
            ),
            (
                "conflicts_excluded_ssns",
                ex.ssns.iter().map(|s| vec![s.clone()]).collect(),
            ),
            (
                "conflicts_scope_keys",
                keys.iter()
                    .map(|(d, s)| vec![d.to_string(), s.clone()])
                    .collect(),
            ),
            (
                "conflicts_detail_ids",
                ids.iter().map(|i| vec![i.clone()]).collect(),
            ),
            ("conflicts_scope_events", span_rows(&spans).collect()),
        ],
    };
    let schema = AnalyticsSchema::new(&t.db.schema()).unwrap();
    let modes = [Mode::Full, Mode::Incremental];
    let runs: Vec<Vec<Action>> = modes
        .iter()
        .map(|m| scenario.actions(*m, &schema))
        .collect();

    let dir = tempfile::tempdir().expect("temporary directory");
    let input = dir.path().join("input.json");
    let output = dir.path().join("output.json");
    let spec = json!({
        "database": "CONFLICTS",
        "schema": t.db.schema(),
        "tables": export_tables(&t.db.schema()),
        "runs": runs.iter().map(|actions| actions.iter().map(|a| json!({
            "sql": a.snowflake,
            "params": if a.params.is_empty() { Value::Null } else { json!(a.params) },
            "fetch": a.fetch,
            "session": matches!(a.step, Step::Session | Step::Tag),
        })).collect::<Vec<_>>()).collect::<Vec<_>>(),
    });
    std::fs::write(&input, spec.to_string()).expect("write the input");
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fakesnow/run_statements.py"
    );
    let status = Command::new(&python)
        .args([script.as_ref(), input.as_os_str(), output.as_os_str()])
        .status()
        .unwrap_or_else(|e| panic!("cannot run {python}: {e}"));
    assert!(status.success(), "the fakesnow driver failed: {status}");
    let result: Value =
        serde_json::from_str(&std::fs::read_to_string(&output).expect("read the output"))
            .expect("output JSON");

    let odbc_env = Environment::new().expect("ODBC environment");
    let mut compared = 0;
    for (m, actions) in modes.iter().zip(&runs) {
        let emulated = result["runs"][compared_run(*m)].as_array().expect("a run");
        let postgres = run_postgres(&odbc_env, actions);
        for ((a, e), p) in actions.iter().zip(emulated).zip(postgres) {
            let what = format!("{} mode, {:?}", m.as_str(), a.step);
            if matches!(a.step, Step::Session | Step::Tag) {
                // fakesnow implements no ALTER SESSION; anything else would be a real error.
                let err = e["error"].as_str().unwrap_or("");
                assert!(
                    e["ok"] == json!(true) || err.contains("not implemented"),
                    "{what}: {err}\n{}",
                    a.snowflake
                );
                continue;
            }
            assert!(
                e["ok"] == json!(true),
                "{what}: fakesnow: {}\n{}",
                e["error"],
                a.snowflake
            );
            if a.step == Step::CurrentSchema {
                let current = e["rows"][0][0].as_str().unwrap_or("");
                assert!(
                    current.eq_ignore_ascii_case(&t.db.schema()),
                    "{what}: {current}"
                );
                continue;
            }
            let Some(mut expected) = p else { continue };
            let mut got: Vec<Row> = e["rows"]
                .as_array()
                .expect("rows")
                .iter()
                .map(|r| {
                    r.as_array()
                        .expect("row")
                        .iter()
                        .map(|c| normal(c.as_str()))
                        .collect()
                })
                .collect();
            got.sort();
            expected.sort();
            // A probe returns no rows by design (LIMIT 0); every other query must, or the
            // comparison would prove nothing.
            assert!(
                !expected.is_empty() || a.step == Step::Probe,
                "{what}: the scenario must return rows"
            );
            if got.len() != expected.len() {
                let g: BTreeSet<&Row> = got.iter().collect();
                let x: BTreeSet<&Row> = expected.iter().collect();
                let only_g: Vec<_> = g.difference(&x).take(5).collect();
                let only_x: Vec<_> = x.difference(&g).take(5).collect();
                panic!(
                    "{what}: {} rows on fakesnow, {} through psqlODBC; only on fakesnow: \
                     {only_g:?}; only through psqlODBC: {only_x:?}",
                    got.len(),
                    expected.len()
                );
            }
            for (g, x) in got.iter().zip(&expected) {
                assert_eq!(g, x, "{what}: first differing row");
            }
            compared += 1;
        }
    }
    // Full: prefixes, narrow, wide, 2 × (events, narrow, wide); incremental: keys instead of
    // prefixes and the key-scoped narrow query.
    assert!(compared >= 16, "{compared} result sets compared");
}

fn compared_run(m: Mode) -> usize {
    match m {
        Mode::Full => 0,
        Mode::Incremental => 1,
    }
}
