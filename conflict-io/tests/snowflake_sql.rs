//! The Snowflake statements of `conflicts sql` (both modes, with and without a scratch schema)
//! parsed with a Snowflake-dialect SQL parser (`sqlparser`'s `SnowflakeDialect`) and checked,
//! on the syntax tree, against the rules of the Snowflake review (issue "Snowflake readiness"):
//!
//! * every cast to a bounded `VARCHAR(n)` holds a `LEFT(x, m)` with m ≤ n, a string literal of
//!   at most n characters, or NULL (Snowflake raises an error on a longer value, PostgreSQL
//!   truncates);
//! * every timestamp type is `TIMESTAMP_NTZ` (plain `TIMESTAMP` follows the account's
//!   `TIMESTAMP_TYPE_MAPPING`), and the session pins the mapping anyway;
//! * no `IN (...)` list holds parameters (Snowflake rejects lists over 16,384 items);
//! * every temporary table is created with `OR REPLACE`, and nothing is dropped;
//! * every query that reads the fact table restricts `"Visit Date"` (micro-partition pruning);
//! * a `QUERY_TAG` names the tool, the run and the batch.
//!
//! The checker itself is tested on hand-written statements that break each rule. No server.

use std::ops::ControlFlow;

use conflict_io::analytics::statements::{run_statements, ListOptions, Statement, Step};
use conflict_io::analytics::{AnalyticsSchema, Dialect, DEFAULT_INSERT_ROWS};
use conflict_io::run::Mode;
use sqlparser::ast::{
    visit_expressions, visit_relations, visit_statements, CharacterLength, DataType, Expr,
    FunctionArg, FunctionArgExpr, FunctionArguments, InTarget, Statement as Ast, Value,
};
use sqlparser::dialect::SnowflakeDialect;
use sqlparser::parser::Parser;

fn snowflake_lists() -> Vec<(String, Vec<Statement>)> {
    let mut out = Vec::new();
    for mode in [Mode::Full, Mode::Incremental] {
        for scratch in [None, Some("CONFLICTS_DB.SCRATCH")] {
            let o = ListOptions {
                dialect: Dialect::Snowflake,
                mode,
                schema: AnalyticsSchema::new("ANALYTICS.BI").unwrap(),
                scratch: scratch.map(|s| AnalyticsSchema::new(s).unwrap()),
                prefilter: true,
                insert_rows: DEFAULT_INSERT_ROWS,
            };
            out.push((
                format!("{} mode, scratch {scratch:?}", mode.as_str()),
                run_statements(&o),
            ));
        }
    }
    out
}

fn parse(sql: &str) -> Vec<Ast> {
    Parser::parse_sql(&SnowflakeDialect {}, sql)
        .unwrap_or_else(|e| panic!("Snowflake parser rejects {e}:\n{sql}"))
}

fn number(e: &Expr) -> Option<u64> {
    match e {
        Expr::Value(v) => match &v.value {
            Value::Number(n, _) => n.parse().ok(),
            _ => None,
        },
        _ => None,
    }
}

/// `Some(m)` when `e` is `LEFT(x, m)` with a literal m.
fn left_bound(e: &Expr) -> Option<u64> {
    let Expr::Function(f) = e else { return None };
    if !f.name.to_string().eq_ignore_ascii_case("LEFT") {
        return None;
    }
    let FunctionArguments::List(list) = &f.args else {
        return None;
    };
    match list.args.as_slice() {
        [_, FunctionArg::Unnamed(FunctionArgExpr::Expr(n))] => number(n),
        _ => None,
    }
}

/// Any timestamp type; Snowflake's `TIMESTAMP_TZ`/`TIMESTAMP_LTZ` parse as custom types.
fn is_timestamp_type(t: &DataType) -> bool {
    let name = t.to_string().to_ascii_uppercase();
    matches!(
        t,
        DataType::Timestamp(..)
            | DataType::TimestampNtz(..)
            | DataType::Datetime(..)
            | DataType::Datetime64(..)
    ) || name.starts_with("TIMESTAMP")
        || name.starts_with("DATETIME")
}

/// The rule violations of one SQL text (empty when it follows every rule).
fn violations(sql: &str) -> Vec<String> {
    let ast = parse(sql);
    let mut v = Vec::new();
    let _ = visit_expressions(&ast, |e| {
        match e {
            Expr::Cast {
                expr, data_type, ..
            } => {
                if let DataType::Varchar(Some(CharacterLength::IntegerLength { length, .. }))
                | DataType::Char(Some(CharacterLength::IntegerLength { length, .. }))
                | DataType::CharacterVarying(Some(CharacterLength::IntegerLength {
                    length,
                    ..
                })) = data_type
                {
                    let guarded = match expr.as_ref() {
                        Expr::Value(val) => match &val.value {
                            Value::Null => true,
                            Value::SingleQuotedString(s) => s.chars().count() as u64 <= *length,
                            _ => false,
                        },
                        other => left_bound(other).is_some_and(|m| m <= *length),
                    };
                    if !guarded {
                        v.push(format!("unguarded length cast: {e}"));
                    }
                }
                if is_timestamp_type(data_type) && !matches!(data_type, DataType::TimestampNtz(_)) {
                    v.push(format!("timestamp type other than TIMESTAMP_NTZ: {e}"));
                }
            }
            Expr::TypedString(t)
                if is_timestamp_type(&t.data_type)
                    && !matches!(t.data_type, DataType::TimestampNtz(_)) =>
            {
                v.push(format!("timestamp literal other than TIMESTAMP_NTZ: {e}"));
            }
            Expr::In {
                target: InTarget::List(list),
                ..
            } => {
                let from_data = list.iter().any(
                    |x| matches!(x, Expr::Value(val) if matches!(val.value, Value::Placeholder(_))),
                );
                if from_data {
                    v.push(format!("IN list of parameters: {} items", list.len()));
                }
            }
            _ => {}
        }
        ControlFlow::<()>::Continue(())
    });
    let _ = visit_statements(&ast, |s| {
        match s {
            Ast::CreateTable(c) => {
                if c.temporary && !c.or_replace {
                    v.push(format!("temporary table without OR REPLACE: {}", c.name));
                }
                for col in &c.columns {
                    if is_timestamp_type(&col.data_type)
                        && !matches!(col.data_type, DataType::TimestampNtz(_))
                    {
                        v.push(format!("timestamp column other than TIMESTAMP_NTZ: {col}"));
                    }
                }
            }
            Ast::Drop { .. } => v.push(format!("DROP statement: {s}")),
            _ => {}
        }
        ControlFlow::<()>::Continue(())
    });
    // A `LIMIT 0` probe (preflight) reads column names only: the warehouse scans nothing.
    let reads_no_rows = ast.iter().all(|st| st.to_string().ends_with(" LIMIT 0"));
    if reads_fact_table(&ast) && !restricts_visit_date(&ast) && !reads_no_rows {
        v.push("reads the fact table without a \"Visit Date\" condition".into());
    }
    v
}

fn reads_fact_table(ast: &Vec<Ast>) -> bool {
    visit_relations(ast, |r| {
        if r.to_string()
            .to_ascii_lowercase()
            .ends_with("factvisitcallperformance_cr")
        {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    })
    .is_break()
}

/// A `"Visit Date" BETWEEN ? AND ?` (possibly with casts around the parameters).
fn restricts_visit_date(ast: &Vec<Ast>) -> bool {
    visit_expressions(ast, |e| {
        if let Expr::Between { expr, negated, .. } = e {
            let col = expr.to_string();
            if !negated && col.ends_with("\"Visit Date\"") && e.to_string().contains('?') {
                return ControlFlow::Break(());
            }
        }
        ControlFlow::Continue(())
    })
    .is_break()
}

#[test]
fn every_snowflake_statement_parses_and_follows_the_rules() {
    for (name, list) in snowflake_lists() {
        assert!(list.len() > 20, "{name}: {} statements", list.len());
        let mut all = Vec::new();
        for st in &list {
            for problem in violations(&st.sql) {
                all.push(format!("{name}: {:?}: {problem}", st.step));
            }
        }
        assert!(all.is_empty(), "{}", all.join("\n"));
    }
}

#[test]
fn the_session_pins_utc_and_timestamp_ntz_and_batches_are_tagged() {
    for (name, list) in snowflake_lists() {
        let session: Vec<String> = list
            .iter()
            .take_while(|s| s.step == Step::Session)
            .map(|s| s.sql.to_ascii_uppercase())
            .collect();
        assert!(
            session
                .iter()
                .any(|s| s.contains("TIMESTAMP_TYPE_MAPPING") && s.contains("'TIMESTAMP_NTZ'")),
            "{name}: {session:?}"
        );
        assert!(
            session
                .iter()
                .any(|s| s.contains("SET TIMEZONE") && s.contains("'UTC'")),
            "{name}: {session:?}"
        );
        let tags: Vec<&str> = list
            .iter()
            .filter(|s| s.step == Step::Tag)
            .map(|s| s.sql.as_str())
            .collect();
        assert!(!tags.is_empty(), "{name}");
        for t in tags {
            let ast = parse(t);
            assert!(matches!(ast[0], Ast::AlterSession { .. }), "{name}: {t}");
            assert!(
                t.contains("QUERY_TAG = 'conflicts run=42 batch="),
                "{name}: {t}"
            );
        }
    }
}

#[test]
fn temporary_tables_live_in_the_scratch_schema_when_one_is_given() {
    let list = &snowflake_lists()[1].1; // full mode, scratch CONFLICTS_DB.SCRATCH
    let mut temp = 0;
    for st in list {
        let ast = parse(&st.sql);
        let _ = visit_statements(&ast, |s| {
            if let Ast::CreateTable(c) = s {
                temp += 1;
                assert!(
                    c.name.to_string().starts_with("CONFLICTS_DB.SCRATCH."),
                    "{}",
                    c.name
                );
            }
            ControlFlow::<()>::Continue(())
        });
    }
    assert!(temp >= 4, "{temp} temporary tables");
    // Without a scratch schema the session's current schema is checked first.
    let list = &snowflake_lists()[0].1;
    assert!(list.iter().any(|s| s.step == Step::CurrentSchema));
}

/// The checker must see each kind of violation (hand-written statements, one per rule).
#[test]
fn the_checker_flags_each_broken_rule() {
    let bad = [
        (
            "SELECT CAST(C.\"SSN\" AS VARCHAR(50)) FROM t C",
            "unguarded",
        ),
        (
            "SELECT CAST(LEFT(C.x, 60) AS VARCHAR(50)) FROM t C",
            "unguarded",
        ),
        ("SELECT CAST('too long' AS VARCHAR(3)) FROM t", "unguarded"),
        ("SELECT CAST(? AS TIMESTAMP) FROM t", "TIMESTAMP_NTZ"),
        ("SELECT CAST(x AS TIMESTAMP_TZ) FROM t", "TIMESTAMP_NTZ"),
        ("SELECT 1 FROM t WHERE x NOT IN (?, ?)", "IN list"),
        ("CREATE TEMPORARY TABLE k (a DATE)", "OR REPLACE"),
        ("DROP TABLE IF EXISTS k", "DROP"),
        (
            "SELECT 1 FROM bi.factvisitcallperformance_cr F JOIN k ON k.id = F.id",
            "Visit Date",
        ),
    ];
    for (sql, want) in bad {
        let v = violations(sql);
        assert!(v.iter().any(|p| p.contains(want)), "{sql}: {v:?}");
    }
    let good = [
        "SELECT CAST(LEFT(C.x, 50) AS VARCHAR(50)), CAST(NULL AS VARCHAR(36)) FROM t C",
        "SELECT CAST(? AS TIMESTAMP_NTZ) FROM t WHERE x IN (SELECT y FROM u)",
        "CREATE OR REPLACE TEMPORARY TABLE s.k (a DATE)",
        "SELECT 1 FROM bi.factvisitcallperformance_cr F WHERE F.\"Visit Date\" BETWEEN \
         CAST(? AS DATE) AND CAST(? AS DATE)",
    ];
    for sql in good {
        assert_eq!(violations(sql), Vec::<String>::new(), "{sql}");
    }
}
