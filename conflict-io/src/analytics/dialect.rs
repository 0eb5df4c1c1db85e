//! The few places where Snowflake and PostgreSQL SQL differ. Everything else the source sends
//! is plain SQL both accept: quoted column identifiers, `CAST`, `LTRIM`/`RTRIM` with a set of
//! characters, `SUBSTR`, `CHR`, `ROW_NUMBER() OVER`, `NULLS LAST`, CTEs, temporary tables.

use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Dialect {
    /// Production: the Snowflake ODBC driver.
    #[default]
    Snowflake,
    /// Tests and small deployments: psqlODBC against PostgreSQL.
    Postgres,
}

impl FromStr for Dialect {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "snowflake" => Ok(Dialect::Snowflake),
            "postgres" | "postgresql" => Ok(Dialect::Postgres),
            _ => Err(format!(
                "unknown analytics dialect {s:?} (expected snowflake or postgres)"
            )),
        }
    }
}

/// The ASCII whitespace of docs/rules.md §1 as an SQL character-set expression.
const WS: &str = "' ' || CHR(9) || CHR(10) || CHR(12) || CHR(13)";

impl Dialect {
    pub fn session_setup(self) -> &'static str {
        match self {
            Dialect::Snowflake => "ALTER SESSION SET TIMEZONE = 'UTC'",
            Dialect::Postgres => "SET TIME ZONE 'UTC'",
        }
    }

    /// A `timestamptz` as its UTC wall-clock value without zone.
    pub fn utc(self, col: &str) -> String {
        match self {
            Dialect::Snowflake => format!("CAST(CONVERT_TIMEZONE('UTC', {col}) AS TIMESTAMP_NTZ)"),
            Dialect::Postgres => format!("({col} AT TIME ZONE 'UTC')"),
        }
    }

    /// Column type of ids in temporary tables, so joins compare like with like (and PostgreSQL
    /// can use the uuid primary key).
    pub fn id_type(self) -> &'static str {
        match self {
            Dialect::Snowflake => "VARCHAR(36)",
            Dialect::Postgres => "UUID",
        }
    }

    /// `col = other` for an id column against a temporary-table id.
    pub fn id_eq(self, col: &str, other: &str) -> String {
        match self {
            // Warehouse ids are text and may be upper case.
            Dialect::Snowflake => format!("LOWER({col}) = {other}"),
            Dialect::Postgres => format!("{col} = {other}"),
        }
    }
}

/// Id as canonical lower-case text.
pub fn id_text(col: &str) -> String {
    format!("LOWER(CAST({col} AS VARCHAR(36)))")
}

/// Text bounded to `n` characters (the Snowflake driver reports unbounded VARCHAR as 16 MB).
pub fn text(col: &str, n: usize) -> String {
    format!("CAST({col} AS VARCHAR({n}))")
}

/// A `real` by its shortest decimal text (never widened to double).
pub fn real_text(col: &str) -> String {
    format!("CAST({col} AS VARCHAR(32))")
}

/// Trim of docs/rules.md §1 (space, tab, LF, FF, CR).
pub fn trim_ws(expr: &str) -> String {
    format!("LTRIM(RTRIM({expr}, {WS}), {WS})")
}

/// A boolean as 1/0/NULL: drivers disagree on how they hand out booleans.
pub fn bool_int(col: &str) -> String {
    format!("CASE WHEN {col} THEN 1 WHEN NOT {col} THEN 0 END")
}
