//! Adapting the ODBC source's statements to the native protocol: numbered placeholders, text
//! parameters that the server's inferred types decide how to send, and one-statement loads of
//! the temporary tables.
//!
//! The statements themselves come from the ODBC source's builder (`analytics::Sql` with
//! `Dialect::Postgres`), so both sources send the same SQL; only the placeholder style and the
//! way lists travel differ.

use std::error::Error;

use bytes::BytesMut;
use chrono::{NaiveDate, NaiveDateTime};
use postgres::types::{to_sql_checked, IsNull, ToSql, Type};

use crate::analytics::TempTable;

/// `sql` with each `?` placeholder replaced by `$1`, `$2`, ... in text order. Question marks
/// inside string literals (`'...'`) and quoted identifiers (`"..."`) are left alone; the
/// builder writes no other `?` (PostgreSQL's jsonb `?` operators are not used).
pub fn numbered(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 16);
    let mut n = 0;
    let mut quote: Option<char> = None;
    for c in sql.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, '?') => {
                n += 1;
                out.push('$');
                out.push_str(&n.to_string());
                continue;
            }
            (None, _) => {}
        }
        out.push(c);
    }
    out
}

/// A parameter given as text, as the ODBC source binds every parameter, and sent in the binary
/// format of the type the server inferred for its placeholder (`CAST($1 AS DATE)` infers
/// `date`). The server thus sees the same values as through ODBC, but typed, so that the
/// planner compares dates with dates and can use the date index.
#[derive(Debug, Clone)]
pub struct TextParam(pub String);

impl ToSql for TextParam {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn Error + Sync + Send>> {
        let s = self.0.as_str();
        match *ty {
            Type::DATE => NaiveDate::parse_from_str(s, "%Y-%m-%d")?.to_sql(ty, out),
            Type::TIMESTAMP => {
                NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f")?.to_sql(ty, out)
            }
            Type::INT2 => s.parse::<i16>()?.to_sql(ty, out),
            Type::INT4 => s.parse::<i32>()?.to_sql(ty, out),
            Type::INT8 => s.parse::<i64>()?.to_sql(ty, out),
            _ => s.to_sql(ty, out),
        }
    }

    fn accepts(ty: &Type) -> bool {
        matches!(
            *ty,
            Type::DATE | Type::TIMESTAMP | Type::INT2 | Type::INT4 | Type::INT8
        ) || <&str as ToSql>::accepts(ty)
    }

    to_sql_checked!();
}

/// One statement that fills temporary table `t` from one text array per column: the ODBC
/// source's insert expressions (`CAST(? AS DATE)`, ...) applied to the unnested arrays, so
/// each value is converted exactly as through ODBC, in one round trip whatever the list's size.
pub fn fill_from_arrays(t: &TempTable, qualified: &str) -> String {
    let names: Vec<&str> = t.columns.iter().map(|(n, _)| *n).collect();
    let exprs: Vec<String> = t
        .values
        .iter()
        .enumerate()
        .map(|(i, v)| v.replace('?', &format!("u.c{i}")))
        .collect();
    let arrays: Vec<String> = (1..=t.columns.len())
        .map(|i| format!("CAST(${i} AS TEXT[])"))
        .collect();
    let aliases: Vec<String> = (0..t.columns.len()).map(|i| format!("c{i}")).collect();
    format!(
        "INSERT INTO {qualified} ({}) SELECT {} FROM unnest({}) AS u({})",
        names.join(", "),
        exprs.join(", "),
        arrays.join(", "),
        aliases.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_outside_quotes_only() {
        assert_eq!(
            numbered("SELECT '?', \"a?\" FROM t WHERE a = ? AND b BETWEEN CAST(? AS DATE) AND ?"),
            "SELECT '?', \"a?\" FROM t WHERE a = $1 AND b BETWEEN CAST($2 AS DATE) AND $3"
        );
        // A doubled quote inside a literal closes and reopens it: still inside.
        assert_eq!(numbered("'it''s ?' ?"), "'it''s ?' $1");
    }

    #[test]
    fn a_fill_statement_applies_the_insert_expressions_to_arrays() {
        let t = TempTable {
            name: "k",
            columns: vec![("key_date", "DATE"), ("key_ssn", "VARCHAR")],
            values: vec!["CAST(? AS DATE)".into(), "?".into()],
        };
        assert_eq!(
            fill_from_arrays(&t, "pg_temp.k"),
            "INSERT INTO pg_temp.k (key_date, key_ssn) SELECT CAST(u.c0 AS DATE), u.c1 FROM \
             unnest(CAST($1 AS TEXT[]), CAST($2 AS TEXT[])) AS u(c0, c1)"
        );
    }
}
