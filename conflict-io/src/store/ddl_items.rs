//! The conflict-schema DDL split into the objects it creates, so that `db init` can run (or
//! print) only the statements for what a database lacks.
//!
//! The script (`conflict_schema.sql`) stays the single source: it is split at `;` into
//! statements and each statement is classified by its leading keywords. The script is written
//! for this: no `;` inside a statement, no `--` inside a literal, one object per statement.

use super::config::{Identifier, SchemaNames};
use super::ddl::conflict_script;
use super::{event_digests, ledger};

/// Tables the tool owns (bookkeeping of its own runs). `run` creates them when missing; every
/// other table belongs to the deployment and is created only by `db init`.
pub const TOOL_TABLES: &[&str] = &[
    "detection_runs",
    event_digests::DIGEST_TABLE,
    ledger::LEDGER_TABLE,
];

/// One column of a `CREATE TABLE` body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnDef {
    pub name: String,
    /// Declared type as written (`varchar(100)`, `int8`, …).
    pub ty: String,
    /// The `DEFAULT` expression, when the script declares one (a single token in the script).
    pub default: Option<String>,
}

/// One object the script creates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DdlItem {
    /// `CREATE SCHEMA IF NOT EXISTS …`.
    Schema { sql: String },
    /// `CREATE TABLE IF NOT EXISTS name (…)`.
    Table {
        name: String,
        sql: String,
        columns: Vec<ColumnDef>,
    },
    /// `ALTER TABLE name SET (key = value)`: a storage option.
    TableOption {
        table: String,
        key: String,
        sql: String,
    },
    /// `CREATE [UNIQUE] INDEX IF NOT EXISTS name ON table …`.
    Index {
        name: String,
        table: String,
        sql: String,
    },
}

impl DdlItem {
    /// The table the object belongs to (`None` for the schema).
    pub fn table(&self) -> Option<&str> {
        match self {
            DdlItem::Schema { .. } => None,
            DdlItem::Table { name, .. } => Some(name),
            DdlItem::TableOption { table, .. } | DdlItem::Index { table, .. } => Some(table),
        }
    }

    /// Whether the object belongs to one of the tool's own tables.
    pub fn tool_owned(&self) -> bool {
        self.table().is_some_and(|t| TOOL_TABLES.contains(&t))
    }
}

/// Every object of the conflict schema `names.conflict`, in creation order: the script's
/// objects, the event bookkeeping, then the run ledger (each declared next to the code that
/// uses it).
pub fn conflict_items(names: &SchemaNames) -> Vec<DdlItem> {
    let mut items = parse_script(&conflict_script(&names.conflict));
    let digests_sql = event_digests::ddl(names);
    items.push(DdlItem::Table {
        name: event_digests::DIGEST_TABLE.to_string(),
        columns: parse_body(body_of(&digests_sql)),
        sql: digests_sql,
    });
    let ledger_sql = ledger::ddl(names);
    items.push(DdlItem::Table {
        name: ledger::LEDGER_TABLE.to_string(),
        columns: parse_body(body_of(&ledger_sql)),
        sql: ledger_sql,
    });
    items
}

/// The statement that sets the search path for the unqualified statements of the script.
pub fn search_path_sql(schema: &Identifier) -> String {
    format!("SET LOCAL search_path = {}", schema.quoted())
}

fn parse_script(script: &str) -> Vec<DdlItem> {
    let text: String = script
        .lines()
        .map(|l| l.split("--").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n");
    text.split(';')
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .filter_map(classify)
        .collect()
}

/// Normalises runs of whitespace (the script aligns columns) for printing.
fn tidy(sql: &str) -> String {
    sql.lines()
        .map(str::trim_end)
        .filter(|l| !l.trim().is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

fn classify(stmt: &str) -> Option<DdlItem> {
    let words: Vec<&str> = stmt.split_whitespace().collect();
    let upper: Vec<String> = words.iter().map(|w| w.to_ascii_uppercase()).collect();
    let starts = |prefix: &[&str]| {
        upper.len() >= prefix.len() && upper.iter().zip(prefix).all(|(w, p)| w == p)
    };
    let sql = tidy(stmt);
    if starts(&["CREATE", "SCHEMA"]) {
        Some(DdlItem::Schema { sql })
    } else if starts(&["CREATE", "TABLE", "IF", "NOT", "EXISTS"]) {
        let name = words[5].trim_end_matches('(').to_string();
        Some(DdlItem::Table {
            name,
            columns: parse_body(body_of(stmt)),
            sql,
        })
    } else if starts(&["ALTER", "TABLE"]) && upper.get(3).is_some_and(|w| w == "SET") {
        let key = words
            .get(4)
            .map(|w| w.trim_start_matches('(').to_string())
            .unwrap_or_default();
        Some(DdlItem::TableOption {
            table: words[2].to_string(),
            key,
            sql,
        })
    } else if starts(&["CREATE", "INDEX", "IF", "NOT", "EXISTS"])
        || starts(&["CREATE", "UNIQUE", "INDEX", "IF", "NOT", "EXISTS"])
    {
        let at = if upper[1] == "UNIQUE" { 6 } else { 5 };
        Some(DdlItem::Index {
            name: words[at].to_string(),
            table: words.get(at + 2).copied().unwrap_or_default().to_string(),
            sql,
        })
    } else {
        // `SET LOCAL search_path`: part of how the script runs, not an object.
        None
    }
}

/// The text between the first `(` and the last `)` of a `CREATE TABLE` statement.
fn body_of(stmt: &str) -> &str {
    match (stmt.find('('), stmt.rfind(')')) {
        (Some(open), Some(close)) if close > open => &stmt[open + 1..close],
        _ => "",
    }
}

/// Splits a table body at top-level commas; every item that starts with a quoted name is a
/// column (`PRIMARY KEY (…)` and other constraints are not).
fn parse_body(body: &str) -> Vec<ColumnDef> {
    let mut items = Vec::new();
    let (mut depth, mut start) = (0i32, 0usize);
    for (i, c) in body.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                items.push(&body[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items.push(&body[start..]);
    items
        .into_iter()
        .filter_map(|item| {
            let item = item.trim();
            let rest = item.strip_prefix('"')?;
            let end = rest.find('"')?;
            let name = rest[..end].to_string();
            let tokens: Vec<&str> = rest[end + 1..].split_whitespace().collect();
            let ty = tokens.first()?.to_string();
            let default = tokens
                .iter()
                .position(|t| t.eq_ignore_ascii_case("DEFAULT"))
                .and_then(|p| tokens.get(p + 1))
                .map(|t| t.to_string());
            Some(ColumnDef { name, ty, default })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::ddl::conflict_tables;

    fn names() -> SchemaNames {
        SchemaNames::new("conflict_x", "analytics").unwrap()
    }

    #[test]
    fn the_script_splits_into_schema_tables_option_and_indexes() {
        let items = conflict_items(&names());
        let kinds: Vec<String> = items
            .iter()
            .map(|i| match i {
                DdlItem::Schema { .. } => "schema".to_string(),
                DdlItem::Table { name, .. } => format!("table {name}"),
                DdlItem::TableOption { table, key, .. } => format!("option {table}.{key}"),
                DdlItem::Index { name, table, .. } => format!("index {name} on {table}"),
            })
            .collect();
        // The objects of conflict_schema.sql, read by hand, plus the event bookkeeping of
        // event_digests.rs and the ledger of ledger.rs.
        assert_eq!(
            kinds,
            [
                "schema",
                "table settings",
                "table mph",
                "table excluded_agency",
                "table excluded_ssn",
                "table conflicts",
                "table conflictvisitmaps",
                "option conflictvisitmaps.toast_tuple_target",
                "index cvm_visitid on conflictvisitmaps",
                "index cvm_convisitid on conflictvisitmaps",
                "index cvm_conflictid on conflictvisitmaps",
                "index cvm_pair_unique on conflictvisitmaps",
                "index cvm_date_ssn_regular on conflictvisitmaps",
                "index cvm_trimmed_ssn_regular on conflictvisitmaps",
                "table detection_runs",
                "index detection_runs_success on detection_runs",
                "table detection_event_digests",
                "table detection_run_batches",
            ]
        );
        let owned: Vec<bool> = items.iter().map(DdlItem::tool_owned).collect();
        assert_eq!(owned.iter().filter(|o| **o).count(), 4);
    }

    #[test]
    fn columns_match_the_start_up_check_parser_and_carry_defaults() {
        let items = conflict_items(&names());
        for def in conflict_tables() {
            let cols = items
                .iter()
                .find_map(|i| match i {
                    DdlItem::Table { name, columns, .. } if *name == def.name => Some(columns),
                    _ => None,
                })
                .unwrap();
            let got: Vec<(String, String)> = cols
                .iter()
                .map(|c| (c.name.clone(), c.ty.clone()))
                .collect();
            assert_eq!(got, def.columns, "{}", def.name);
        }
        let cvm = items
            .iter()
            .find_map(|i| match i {
                DdlItem::Table { name, columns, .. } if name == "conflictvisitmaps" => {
                    Some(columns)
                }
                _ => None,
            })
            .unwrap();
        let get = |n: &str| cvm.iter().find(|c| c.name == n).unwrap();
        assert_eq!(get("StatusFlag").default.as_deref(), Some("'U'"));
        assert_eq!(
            get("CreatedDate").default.as_deref(),
            Some("CURRENT_TIMESTAMP")
        );
        assert_eq!(get("SSN").default, None);
        assert_eq!(get("SSN").ty, "varchar(20)");
    }

    #[test]
    fn the_ledger_columns_are_read_from_its_ddl() {
        let items = conflict_items(&names());
        let Some(DdlItem::Table { columns, sql, .. }) = items.last() else {
            panic!("ledger last")
        };
        assert!(
            sql.contains("\"conflict_x\".\"detection_run_batches\""),
            "{sql}"
        );
        let names: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "RunID",
                "BatchKey",
                "Scope",
                "Status",
                "ClaimedBy",
                "ClaimedAt",
                "FinishedAt",
                "Attempts",
                "Counts",
                "Error"
            ]
        );
        let status = columns.iter().find(|c| c.name == "Status").unwrap();
        assert_eq!(status.default.as_deref(), Some("'pending'"));
    }
}
