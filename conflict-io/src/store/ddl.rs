//! The DDL scripts of schema.sql and what the start-up check learns from them.
//!
//! The scripts live in `.sql` files so that they can be read (and diffed against the spec) as
//! SQL. The only text substituted into them is a schema name that has already been validated
//! as a plain identifier.

use super::config::{Identifier, QualifiedName};

const CONFLICT_DDL: &str = include_str!("conflict_schema.sql");
const ANALYTICS_DDL: &str = include_str!("analytics_schema.sql");
const PLACEHOLDER: &str = "{{schema}}";

/// The conflict-schema script for `schema`, written double-quoted.
pub(crate) fn conflict_script(schema: &Identifier) -> String {
    CONFLICT_DDL.replace(PLACEHOLDER, &schema.quoted())
}

/// The analytics-schema script for `schema`, written unquoted (docs/tables.md §1).
pub(crate) fn analytics_script(schema: &QualifiedName) -> String {
    ANALYTICS_DDL.replace(PLACEHOLDER, &schema.sql())
}

/// One table of a DDL script: its name and its columns with their declared types.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableDef {
    pub name: String,
    /// (column name, declared type as written, e.g. `varchar(100)`, `int8`).
    pub columns: Vec<(String, String)>,
}

impl TableDef {
    pub fn column_type(&self, column: &str) -> Option<&str> {
        self.columns
            .iter()
            .find(|(c, _)| c == column)
            .map(|(_, t)| t.as_str())
    }
}

/// The tables of the conflict schema, in script order.
pub fn conflict_tables() -> Vec<TableDef> {
    parse_tables(CONFLICT_DDL)
}

/// The tables of the analytics schema, in script order (only tests compare against them).
#[cfg(any(test, feature = "test-support"))]
pub fn analytics_tables() -> Vec<TableDef> {
    parse_tables(ANALYTICS_DDL)
}

/// Reads `CREATE TABLE IF NOT EXISTS name ( … );` blocks. Inside a block every double-quoted
/// name is a column followed by its type; this holds for the scripts above, which declare
/// constraints only inline (`PRIMARY KEY`) or as a trailing `PRIMARY KEY (…)` of quoted names
/// that repeat columns already seen.
fn parse_tables(script: &str) -> Vec<TableDef> {
    let text: String = script
        .lines()
        .map(|l| l.split("--").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n");
    let mut tables = Vec::new();
    let mut rest = text.as_str();
    const START: &str = "CREATE TABLE IF NOT EXISTS ";
    while let Some(i) = rest.find(START) {
        let after = &rest[i + START.len()..];
        let open = after.find('(').expect("table body");
        let name = after[..open].trim().to_string();
        let close = after.find("\n);").expect("end of table body");
        let body = &after[open + 1..close];
        tables.push(TableDef {
            name,
            columns: parse_columns(body),
        });
        rest = &after[close..];
    }
    tables
}

fn parse_columns(body: &str) -> Vec<(String, String)> {
    let mut columns: Vec<(String, String)> = Vec::new();
    let mut rest = body;
    while let Some(q) = rest.find('"') {
        let tail = &rest[q + 1..];
        let end = tail.find('"').expect("closing quote");
        let name = &tail[..end];
        let after = tail[end + 1..].trim_start();
        let ty: String = after
            .chars()
            .take_while(|c| !c.is_whitespace() && *c != ',' && *c != '"')
            .collect();
        // `PRIMARY KEY ("a", "b")` repeats known columns; its names are followed by `,` or `)`.
        if !columns.iter().any(|(c, _)| c == name) {
            columns.push((name.to_string(), ty));
        }
        rest = &tail[end + 1..];
    }
    columns
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conflict_script_lists_the_seven_tables() {
        let names: Vec<String> = conflict_tables().into_iter().map(|t| t.name).collect();
        assert_eq!(
            names,
            [
                "settings",
                "mph",
                "excluded_agency",
                "excluded_ssn",
                "conflicts",
                "conflictvisitmaps",
                "detection_runs"
            ]
        );
    }

    #[test]
    fn columns_and_types_are_read_from_the_script() {
        let tables = conflict_tables();
        let cvm = tables
            .iter()
            .find(|t| t.name == "conflictvisitmaps")
            .unwrap();
        assert_eq!(cvm.columns.first().unwrap().0, "ID");
        assert_eq!(cvm.columns.last().unwrap().0, "ConPTOEndDate");
        assert_eq!(cvm.column_type("PayerState"), Some("varchar(10)"));
        assert_eq!(cvm.column_type("ConPayerState"), Some("varchar(100)"));
        assert_eq!(cvm.column_type("StatusFlag"), Some("varchar(5)"));
        assert_eq!(cvm.column_type("PLatitude"), Some("real"));
        let runs = tables.iter().find(|t| t.name == "detection_runs").unwrap();
        assert_eq!(runs.column_type("Report"), Some("jsonb"));
        assert_eq!(runs.columns.len(), 11);
    }

    #[test]
    fn composite_primary_keys_do_not_add_columns() {
        let tables = analytics_tables();
        let inservice = tables
            .iter()
            .find(|t| t.name == "factcaregiverinservice")
            .unwrap();
        assert_eq!(inservice.columns.len(), 7);
        assert_eq!(inservice.column_type("Environment"), Some("varchar(50)"));
    }

    #[test]
    fn scripts_carry_only_the_validated_name() {
        let id = Identifier::new("schema", "conflict_t_1").unwrap();
        let s = conflict_script(&id);
        assert!(!s.contains(PLACEHOLDER));
        assert!(s.contains("CREATE SCHEMA IF NOT EXISTS \"conflict_t_1\";"));
        let q = QualifiedName::new("schema", "Analytics_T").unwrap();
        assert!(analytics_script(&q).contains("SET LOCAL search_path = Analytics_T;"));
    }
}
