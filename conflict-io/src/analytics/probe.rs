//! Preflight probe of the analytics schema: every table the queries read exists and has every
//! column they name, checked before a run writes anything.
//!
//! **Which columns.** The list is derived from the text of the real queries (narrow, delta keys,
//! business columns, and the in-service / PTO queries when those steps are on), built by the
//! same code and for the same dialect as the run's own: each `schema.table ALIAS` binding and
//! each `ALIAS."Column"` reference is collected. There is no second, hand-written list that
//! could drift from the queries; a test checks that the references resolve to tables of
//! schema.sql and that no alias is bound to two tables in one query.
//!
//! **How.** One `SELECT * FROM schema.table LIMIT 0` per table and a comparison of the result
//! set's column names (ODBC metadata) with the needed ones. A probe naming the columns
//! (`SELECT "a", "b" ... LIMIT 0`) would stop at the first missing one in PostgreSQL and
//! Snowflake alike, so listing all of them would take one query per column (hundreds of round
//! trips to the warehouse); `SELECT *` costs one round trip per table, reads no row, and
//! reports every missing column at once. `LIMIT 0` is valid in both dialects, and Snowflake
//! answers it without scanning the table. Names compare exactly, because the queries quote
//! them; a name that differs only in case is pointed out as such.

use std::collections::{BTreeMap, BTreeSet};

use conflict_core::inservice::EventKind;
use odbc_api::ResultSetMetadata;

use super::config::AnalyticsSchema;
use super::error::AnalyticsError;
use super::sql::{Excluding, ScopeFilter};
use super::AnalyticsSource;

/// The probe of one analytics table: its result columns, no rows (and no scan).
pub(crate) fn probe_sql(schema: &AnalyticsSchema, table: &str) -> String {
    format!("SELECT * FROM {} LIMIT 0", schema.table(table))
}

/// Tables of the analytics schema (unqualified names, as the queries write them) and the
/// columns the queries read from each.
pub type ReadColumns = BTreeMap<String, BTreeSet<String>>;

/// The query texts a run with these switches sends, for the probe. Without exclusions: those
/// go through temporary tables of the tool's own, not analytics tables. Shared with the native
/// source, which sends the same statements.
pub(crate) fn probed_queries(
    sql: &super::sql::Sql<'_>,
    prefilter: bool,
    inservice: bool,
    pto: bool,
) -> Vec<String> {
    let mut queries = vec![
        sql.narrow(ScopeFilter::Window, prefilter, Excluding::NONE),
        sql.delta_keys(),
        sql.wide(),
    ];
    if inservice {
        queries.push(sql.events(EventKind::InService, Excluding::NONE));
    }
    if pto {
        queries.push(sql.events(EventKind::Pto, Excluding::NONE));
    }
    queries
}

/// The problems the probe reports: for each table the queries read, either why it cannot be
/// read or the needed columns its result set lacks. `present` gives a table's result columns
/// (or the cause of failure, for the message); each source probes in its own way.
pub(crate) fn missing_objects(
    schema: &AnalyticsSchema,
    read: ReadColumns,
    mut present: impl FnMut(&str) -> Result<Vec<String>, String>,
) -> Vec<String> {
    let mut missing = Vec::new();
    for (table, needed) in read {
        let qualified = schema.table(&table);
        match present(&table) {
            Ok(present) => {
                if let Some(problem) = missing_columns(&qualified, &needed, &present) {
                    missing.push(problem);
                }
            }
            Err(cause) => missing.push(format!("table {qualified} cannot be read ({cause})")),
        }
    }
    missing
}

impl AnalyticsSource {
    /// Every analytics table and column a run with these switches reads.
    pub fn read_columns(&self, inservice: bool, pto: bool) -> ReadColumns {
        let queries = probed_queries(&self.sql(), self.cfg.prefilter, inservice, pto);
        columns_of_queries(&self.cfg.schema, &queries).columns
    }

    /// Checks that every table and column in [`Self::read_columns`] exists: one `LIMIT 0`
    /// query per table. All problems are reported in one
    /// [`AnalyticsError::MissingObjects`].
    pub fn probe(&self, inservice: bool, pto: bool) -> Result<(), AnalyticsError> {
        let schema = &self.cfg.schema;
        let missing = missing_objects(schema, self.read_columns(inservice, pto), |table| {
            self.result_columns(&probe_sql(schema, table))
                .map_err(|e| e.to_string())
        });
        if missing.is_empty() {
            Ok(())
        } else {
            Err(AnalyticsError::MissingObjects {
                schema: schema.as_str().to_string(),
                missing,
            })
        }
    }

    /// Column names of the result set of `query`.
    fn result_columns(&self, query: &str) -> Result<Vec<String>, super::OdbcFailure> {
        let fail = |e: odbc_api::Error| super::OdbcFailure::new(&e, Some(&self.cfg.connection));
        let Some(mut cursor) = self.conn.execute(query, (), None).map_err(fail)? else {
            return Ok(Vec::new());
        };
        let names = cursor.column_names().map_err(fail)?;
        names.map(|n| n.map_err(fail)).collect()
    }
}

/// `S.T: missing column(s) "A", "B"` when some of `needed` are not in `present`.
pub(crate) fn missing_columns(
    qualified: &str,
    needed: &BTreeSet<String>,
    present: &[String],
) -> Option<String> {
    let absent: Vec<String> = needed
        .iter()
        .filter(|c| !present.iter().any(|p| p == *c))
        .map(
            |c| match present.iter().find(|p| p.eq_ignore_ascii_case(c)) {
                Some(p) => format!("\"{c}\" (there is \"{p}\"; quoted names are case-sensitive)"),
                None => format!("\"{c}\""),
            },
        )
        .collect();
    if absent.is_empty() {
        None
    } else {
        Some(format!(
            "{qualified}: missing column{} {}",
            if absent.len() == 1 { "" } else { "s" },
            absent.join(", ")
        ))
    }
}

/// What the query texts read, and the aliases that could not be attributed.
#[derive(Debug, Default)]
pub(crate) struct QueryColumns {
    pub columns: ReadColumns,
    /// Aliases bound to two different tables within one query: their columns cannot be
    /// attributed and are left out (a unit test keeps this empty for the real queries).
    pub ambiguous: BTreeSet<String>,
}

/// Collects the `schema.table ALIAS` bindings and `ALIAS."Column"` references of each query.
/// Aliases bound to something other than a table of `schema` (CTEs, temporary tables) are
/// ignored: their columns come from tables that are bound elsewhere.
pub(crate) fn columns_of_queries(schema: &AnalyticsSchema, queries: &[String]) -> QueryColumns {
    let mut out = QueryColumns::default();
    for sql in queries {
        let bindings = table_bindings(schema.as_str(), sql);
        let mut by_alias: BTreeMap<&str, &str> = BTreeMap::new();
        for (table, alias) in &bindings {
            out.columns.entry(table.to_string()).or_default();
            match by_alias.get(alias) {
                Some(t) if t != table => {
                    out.ambiguous.insert(alias.to_string());
                }
                _ => {
                    by_alias.insert(alias, table);
                }
            }
        }
        for (alias, column) in column_references(sql) {
            if out.ambiguous.contains(alias) {
                continue;
            }
            if let Some(table) = by_alias.get(alias) {
                out.columns
                    .entry(table.to_string())
                    .or_default()
                    .insert(column.to_string());
            }
        }
    }
    out
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Leading identifier of `s`.
fn ident(s: &str) -> &str {
    let end = s.find(|c: char| !is_ident(c)).unwrap_or(s.len());
    &s[..end]
}

/// Words that may follow a table name when it has no alias.
const KEYWORDS: &[&str] = &[
    "WHERE", "JOIN", "LEFT", "RIGHT", "INNER", "FULL", "CROSS", "ON", "GROUP", "ORDER", "LIMIT",
    "UNION", "HAVING",
];

/// (table, alias) for each `schema.table [AS] alias` of `sql`; a table without an alias is
/// bound under its own name.
fn table_bindings<'a>(schema: &str, sql: &'a str) -> Vec<(&'a str, &'a str)> {
    let prefix = format!("{schema}.");
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(found) = sql[from..].find(&prefix) {
        let at = from + found;
        from = at + prefix.len();
        let preceded_ok = sql[..at]
            .chars()
            .next_back()
            .is_none_or(|c| !is_ident(c) && c != '.');
        if !preceded_ok {
            continue;
        }
        let table = ident(&sql[from..]);
        if table.is_empty() {
            continue;
        }
        let mut rest = sql[from + table.len()..].trim_start();
        let mut alias = ident(rest);
        if alias.eq_ignore_ascii_case("AS") {
            rest = rest[2..].trim_start();
            alias = ident(rest);
        }
        if alias.is_empty() || KEYWORDS.iter().any(|k| alias.eq_ignore_ascii_case(k)) {
            alias = table;
        }
        out.push((table, alias));
    }
    out
}

/// (alias, column) for each `alias."Column"` of `sql`.
fn column_references(sql: &str) -> Vec<(&str, &str)> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(found) = sql[from..].find(".\"") {
        let dot = from + found;
        let start = dot + 2;
        let Some(len) = sql[start..].find('"') else {
            break;
        };
        from = start + len + 1;
        let alias_start = sql[..dot]
            .char_indices()
            .rev()
            .take_while(|(_, c)| is_ident(*c))
            .last()
            .map_or(dot, |(i, _)| i);
        let alias = &sql[alias_start..dot];
        if !alias.is_empty() {
            out.push((alias, &sql[start..start + len]));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::dialect::Dialect;
    use super::super::sql::Sql;
    use super::*;

    #[test]
    fn bindings_and_references_are_paired_by_alias() {
        let schema = AnalyticsSchema::new("DB.BI").unwrap();
        let q = "WITH a AS (SELECT X.\"One\" FROM DB.BI.t1 X) SELECT a.\"One\", Y.\"Two\", \
                 LOWER(CAST(Y.\"Three\" AS VARCHAR(36))) FROM a JOIN DB.BI.t2 AS Y ON Y.\"Four\" \
                 = 1 JOIN tmp K ON K.key = Y.\"Two\" LEFT JOIN DB.BI.t3 WHERE t3.\"Five\" = 2";
        let got = columns_of_queries(&schema, &[q.to_string()]);
        let want: ReadColumns = [
            ("t1", &["One"][..]),
            ("t2", &["Four", "Three", "Two"][..]),
            ("t3", &["Five"][..]),
        ]
        .into_iter()
        .map(|(t, cs)| (t.to_string(), cs.iter().map(|c| c.to_string()).collect()))
        .collect();
        assert_eq!(got.columns, want);
        assert!(got.ambiguous.is_empty());
    }

    #[test]
    fn an_alias_bound_to_two_tables_is_not_attributed() {
        let schema = AnalyticsSchema::new("s").unwrap();
        let q = "SELECT A.\"x\" FROM s.t1 A JOIN s.t2 A ON 1 = 1".to_string();
        let got = columns_of_queries(&schema, &[q]);
        assert!(got.ambiguous.contains("A"));
        assert!(got.columns["t1"].is_empty() && got.columns["t2"].is_empty());
    }

    #[test]
    fn missing_columns_are_listed_with_case_hints() {
        let needed: BTreeSet<String> = ["Visit Date", "Is Missed", "SSN"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let present = vec!["ssn".to_string(), "Visit Date".to_string()];
        assert_eq!(
            missing_columns("a.f", &needed, &present).unwrap(),
            "a.f: missing columns \"Is Missed\", \"SSN\" (there is \"ssn\"; quoted names are \
             case-sensitive)"
        );
        assert_eq!(
            missing_columns(
                "a.f",
                &needed,
                &["Visit Date", "Is Missed", "SSN"].map(String::from)
            ),
            None
        );
    }

    /// `CREATE TABLE` names and their quoted column names in schema.sql's analytics part.
    fn ddl_columns() -> ReadColumns {
        let ddl = include_str!("../store/analytics_schema.sql");
        let mut out = ReadColumns::new();
        for stmt in ddl.split(';') {
            let Some(at) = stmt.find("CREATE TABLE IF NOT EXISTS ") else {
                continue;
            };
            let rest = &stmt[at + "CREATE TABLE IF NOT EXISTS ".len()..];
            let name = ident(rest).to_string();
            let cols = out.entry(name).or_default();
            // Quoted names only; unquoted words are types and constraints.
            for (i, part) in rest.split('"').enumerate() {
                if i % 2 == 1 {
                    cols.insert(part.to_string());
                }
            }
        }
        out
    }

    /// The columns derived from the real queries, in both dialects, exist in schema.sql: the
    /// derivation attributes each reference to the right table (a misattributed one would name
    /// a column its table lacks), and the lists hold what the rules need (docs/tables.md §9).
    #[test]
    fn the_real_queries_read_tables_and_columns_of_schema_sql() {
        let ddl = ddl_columns();
        let schema = AnalyticsSchema::new("analytics").unwrap();
        for dialect in [Dialect::Snowflake, Dialect::Postgres] {
            let sql = Sql {
                schema: &schema,
                dialect,
                scratch: None,
            };
            let queries = vec![
                sql.narrow(ScopeFilter::Window, true, Excluding::ALL),
                sql.delta_keys(),
                sql.wide(),
            ];
            let got = columns_of_queries(&schema, &queries);
            assert!(got.ambiguous.is_empty(), "{:?}", got.ambiguous);
            for (table, cols) in &got.columns {
                let Some(known) = ddl.get(table) else {
                    panic!("{table} is not a table of schema.sql");
                };
                for c in cols {
                    assert!(known.contains(c), "{table}.\"{c}\" is not in schema.sql");
                }
            }
            // Hand-picked from docs/tables.md §9: what the rules and the window cannot do without.
            let fact = &got.columns["factvisitcallperformance_cr"];
            for c in [
                "Visit Id",
                "Visit Date",
                "Visit Start Time",
                "Is Missed",
                "Visit Updated Timestamp",
                "Call Out GPS Coordinates",
            ] {
                assert!(fact.contains(c), "{c}");
            }
            assert!(got.columns["dimcaregiver"].contains("SSN"));
            assert!(got.columns["dimpatientaddress"].contains("Latitude"));
            assert!(got.columns["dimprovider"].contains("Is Demo"));
            assert!(got.columns.contains_key("dimuser"));
        }
    }
}
