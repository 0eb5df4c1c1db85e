//! The places where Snowflake and PostgreSQL SQL differ. Everything else the source sends
//! is plain SQL both accept: quoted column identifiers, `CAST`, `LEFT`, `LTRIM`/`RTRIM` with a
//! set of characters, `SUBSTR`, `CHR`, `ROW_NUMBER() OVER`, `NULLS LAST`, CTEs, `NOT EXISTS`,
//! multi-row `VALUES`, temporary tables.

use std::str::FromStr;

/// The SQL dialect of the analytics warehouse; it decides temporary tables and functions.
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
    /// The dialect of a server by the DBMS name its ODBC driver reports (`SQLGetInfo`,
    /// `SQL_DBMS_NAME`): the Snowflake driver answers "Snowflake", psqlODBC "PostgreSQL".
    /// `None` for anything else, so the caller can ask for `--analytics-dialect`.
    pub fn from_dbms_name(name: &str) -> Option<Dialect> {
        let n = name.trim().to_ascii_lowercase();
        if n.contains("snowflake") {
            Some(Dialect::Snowflake)
        } else if n.contains("postgres") {
            Some(Dialect::Postgres)
        } else {
            None
        }
    }

    /// The name as the configuration spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Dialect::Snowflake => "snowflake",
            Dialect::Postgres => "postgres",
        }
    }

    /// Session settings sent once after connecting, with what each is for. Snowflake's
    /// `TIMESTAMP` is an alias chosen by the account's `TIMESTAMP_TYPE_MAPPING`; the statements
    /// only use `TIMESTAMP_NTZ`, and the mapping is pinned as well so that nothing the server
    /// derives (e.g. `DATE` to timestamp comparisons) can turn into LTZ or TZ.
    pub fn session_setup(self) -> Vec<(&'static str, &'static str)> {
        match self {
            Dialect::Snowflake => vec![
                (
                    "session time zone UTC: timestamps are read and compared as UTC wall clock",
                    "ALTER SESSION SET TIMEZONE = 'UTC'",
                ),
                (
                    "TIMESTAMP means TIMESTAMP_NTZ in this session, whatever the account default",
                    "ALTER SESSION SET TIMESTAMP_TYPE_MAPPING = 'TIMESTAMP_NTZ'",
                ),
            ],
            Dialect::Postgres => vec![
                (
                    "session time zone UTC: timestamps are read and compared as UTC wall clock",
                    "SET TIME ZONE 'UTC'",
                ),
                (
                    "no JIT compilation: every query runs once, and compiling the wide visit \
                     queries took longer than running them (EXPLAIN ANALYZE: 1.7 s of JIT in a \
                     4 s in-service visit query, bench/explain/)",
                    "SET jit = off",
                ),
            ],
        }
    }

    /// The zone-less timestamp type (never Snowflake's mapping-dependent `TIMESTAMP` alias).
    pub fn timestamp_type(self) -> &'static str {
        match self {
            Dialect::Snowflake => "TIMESTAMP_NTZ",
            Dialect::Postgres => "TIMESTAMP",
        }
    }

    /// A `timestamptz` as its UTC wall-clock value without zone.
    pub fn utc(self, col: &str) -> String {
        match self {
            Dialect::Snowflake => format!("CAST(CONVERT_TIMEZONE('UTC', {col}) AS TIMESTAMP_NTZ)"),
            Dialect::Postgres => format!("({col} AT TIME ZONE 'UTC')"),
        }
    }

    /// The UTC calendar date of a `timestamptz` (not the date in some session or account zone).
    pub fn utc_date(self, col: &str) -> String {
        format!("CAST({} AS DATE)", self.utc(col))
    }

    /// Column type of visit ids in the scratch table, so joins compare like with like (and
    /// PostgreSQL can use the uuid primary key).
    pub fn id_type(self) -> &'static str {
        match self {
            // Unbounded: Snowflake rejects an insert longer than a declared length.
            Dialect::Snowflake => "VARCHAR",
            Dialect::Postgres => "UUID",
        }
    }

    /// `col = other` for an id column against a scratch-table id.
    pub fn id_eq(self, col: &str, other: &str) -> String {
        match self {
            // Warehouse ids are text and may be upper case.
            Dialect::Snowflake => format!("LOWER({col}) = {other}"),
            Dialect::Postgres => format!("{col} = {other}"),
        }
    }

    /// The query tag statement: Snowflake's `QUERY_TAG` shows in the warehouse's query history
    /// (who sent this, for which run and batch); PostgreSQL's `application_name` shows in
    /// `pg_stat_activity`. `tag` must come from [`query_tag`] (no quote can reach it).
    pub fn tag_statement(self, tag: &str) -> String {
        let tag = tag.replace('\'', "''");
        match self {
            Dialect::Snowflake => format!("ALTER SESSION SET QUERY_TAG = '{tag}'"),
            Dialect::Postgres => format!("SET application_name = '{tag}'"),
        }
    }
}

/// The query tag of a batch: `conflicts run=<run id> batch=<batch key>`. The batch key is
/// built from data (SSN prefixes), so every character outside `[A-Za-z0-9:_.-]` becomes `_`:
/// the tag is a literal in `ALTER SESSION` (which takes no parameters).
pub fn query_tag(run_id: i64, batch: &str) -> String {
    let batch: String = batch
        .chars()
        .take(64)
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, ':' | '_' | '.' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("conflicts run={run_id} batch={batch}")
}

/// Id as canonical lower-case text. The inner unbounded cast turns a PostgreSQL `uuid` into
/// text for `LEFT`; see [`text`] for why every bounded cast holds a `LEFT`.
pub fn id_text(col: &str) -> String {
    format!("LOWER({})", bounded(&format!("CAST({col} AS VARCHAR)"), 36))
}

/// Text bounded to `n` characters (the Snowflake driver reports unbounded VARCHAR as 16 MB).
/// `LEFT` cuts first: Snowflake raises an error where PostgreSQL truncates silently when a
/// value is longer than the cast's bound, and one long value would abort the whole fetch.
pub fn text(col: &str, n: usize) -> String {
    bounded(col, n)
}

fn bounded(expr: &str, n: usize) -> String {
    format!("CAST(LEFT({expr}, {n}) AS VARCHAR({n}))")
}

/// A `real` by its shortest decimal text (never widened to double).
pub fn real_text(col: &str) -> String {
    bounded(&format!("CAST({col} AS VARCHAR)"), 32)
}

/// Trim of docs/rules.md §1 (space, tab, LF, FF, CR).
pub fn trim_ws(expr: &str) -> String {
    format!("LTRIM(RTRIM({expr}, {WS}), {WS})")
}

/// A boolean as 1/0/NULL: drivers disagree on how they hand out booleans.
pub fn bool_int(col: &str) -> String {
    format!("CASE WHEN {col} THEN 1 WHEN NOT {col} THEN 0 END")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dbms_names_of_the_two_drivers() {
        // The values the drivers document for SQL_DBMS_NAME.
        assert_eq!(
            Dialect::from_dbms_name("Snowflake"),
            Some(Dialect::Snowflake)
        );
        assert_eq!(
            Dialect::from_dbms_name("PostgreSQL"),
            Some(Dialect::Postgres)
        );
        assert_eq!(Dialect::from_dbms_name("Microsoft SQL Server"), None);
    }

    #[test]
    fn query_tags_cannot_carry_quotes() {
        assert_eq!(
            query_tag(42, "ssn:12'3 x"),
            "conflicts run=42 batch=ssn:12_3_x"
        );
        assert_eq!(
            Dialect::Snowflake.tag_statement(&query_tag(7, "keys:0001")),
            "ALTER SESSION SET QUERY_TAG = 'conflicts run=7 batch=keys:0001'"
        );
    }
}
