//! Typed reads from binary result rows, giving exactly the values the ODBC source's columnar
//! reads give (`analytics::cells`): text as sent (the SQL trims and truncates), integers of any
//! width as `i64`, booleans from their 0/1 rendering, timestamps as UTC wall clock, decimals
//! parsed from the text the SQL renders. Every error names the column and row.

use std::error::Error;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use postgres::types::{FromSql, Type};
use postgres::Row;

use super::error::PgSourceError;

/// An integer column of any width, as the ODBC source binds every integer as `BIGINT`: a copy
/// of the warehouse tables may have kept `int4` where the test schema has `int8`.
struct AnyInt(i64);

impl<'a> FromSql<'a> for AnyInt {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn Error + Sync + Send>> {
        Ok(AnyInt(match *ty {
            Type::INT2 => i64::from(i16::from_sql(ty, raw)?),
            Type::INT4 => i64::from(i32::from_sql(ty, raw)?),
            _ => i64::from_sql(ty, raw)?,
        }))
    }

    fn accepts(ty: &Type) -> bool {
        matches!(*ty, Type::INT2 | Type::INT4 | Type::INT8)
    }
}

/// A timestamp as UTC wall clock: `AT TIME ZONE 'UTC'` of a `timestamptz` gives a `timestamp`,
/// of a `timestamp` (a copy that dropped the zone) a `timestamptz`, which the ODBC driver
/// renders in the session's zone, UTC.
struct UtcWallClock(NaiveDateTime);

impl<'a> FromSql<'a> for UtcWallClock {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn Error + Sync + Send>> {
        Ok(UtcWallClock(match *ty {
            Type::TIMESTAMPTZ => DateTime::<Utc>::from_sql(ty, raw)?.naive_utc(),
            _ => NaiveDateTime::from_sql(ty, raw)?,
        }))
    }

    fn accepts(ty: &Type) -> bool {
        matches!(*ty, Type::TIMESTAMP | Type::TIMESTAMPTZ)
    }
}

/// One row of a result set, with what it belongs to and the names of its columns for messages.
pub struct Cells<'a> {
    pub row: &'a Row,
    /// The step that read it (e.g. `reading base visits`).
    pub what: &'static str,
    /// Column names for messages, in select order (the row's own names where shorter).
    pub names: &'a [&'a str],
    /// The row's number within its result set, from 1.
    pub number: usize,
}

impl Cells<'_> {
    fn err(&self, col: usize, reason: impl Into<String>) -> PgSourceError {
        let column = match self.names.get(col) {
            Some(n) => n.to_string(),
            None => self
                .row
                .columns()
                .get(col)
                .map_or_else(|| format!("#{col}"), |c| c.name().to_string()),
        };
        PgSourceError::Column {
            what: self.what,
            column,
            row: self.number,
            reason: reason.into(),
        }
    }

    fn get<'r, T: FromSql<'r>>(&'r self, col: usize) -> Result<Option<T>, PgSourceError> {
        self.row
            .try_get::<_, Option<T>>(col)
            .map_err(|e| match e.source() {
                Some(cause) => self.err(col, cause.to_string()),
                None => self.err(col, e.to_string()),
            })
    }

    /// Text as sent (`None` for NULL).
    pub fn text(&self, col: usize) -> Result<Option<&str>, PgSourceError> {
        self.get::<&str>(col)
    }

    /// Owned text.
    pub fn string(&self, col: usize) -> Result<Option<String>, PgSourceError> {
        Ok(self.text(col)?.map(String::from))
    }

    /// A required, non-blank id.
    pub fn required(&self, col: usize) -> Result<String, PgSourceError> {
        match self.text(col)? {
            Some(s) if !s.trim().is_empty() => Ok(s.to_string()),
            _ => Err(self.err(col, "a value is required (found NULL or blank)")),
        }
    }

    /// An integer of any width.
    pub fn i64(&self, col: usize) -> Result<Option<i64>, PgSourceError> {
        Ok(self.get::<AnyInt>(col)?.map(|v| v.0))
    }

    /// A boolean rendered as 1/0 (`CASE WHEN ... THEN 1 ...`).
    pub fn bool(&self, col: usize) -> Result<Option<bool>, PgSourceError> {
        match self.i64(col)? {
            None => Ok(None),
            Some(0) => Ok(Some(false)),
            Some(1) => Ok(Some(true)),
            Some(v) => Err(self.err(col, format!("expected a boolean 0/1, found {v}"))),
        }
    }

    /// A date.
    pub fn date(&self, col: usize) -> Result<Option<NaiveDate>, PgSourceError> {
        self.get::<NaiveDate>(col)
    }

    /// A required date.
    pub fn required_date(&self, col: usize) -> Result<NaiveDate, PgSourceError> {
        self.date(col)?
            .ok_or_else(|| self.err(col, "a value is required (found NULL)"))
    }

    /// A timestamp as UTC wall clock.
    pub fn timestamp(&self, col: usize) -> Result<Option<NaiveDateTime>, PgSourceError> {
        Ok(self.get::<UtcWallClock>(col)?.map(|v| v.0))
    }

    /// A decimal read from its text, as the ODBC source reads it.
    pub fn f64_text(&self, col: usize) -> Result<Option<f64>, PgSourceError> {
        match self.text(col)? {
            None => Ok(None),
            Some(s) => s
                .trim()
                .parse::<f64>()
                .map(Some)
                .map_err(|_| self.err(col, format!("expected a number, found {s:?}"))),
        }
    }

    /// A `real` from its shortest text (parsing it as f32 gives back the exact float4).
    pub fn f32_text(&self, col: usize) -> Result<Option<f32>, PgSourceError> {
        match self.text(col)? {
            None => Ok(None),
            Some(s) => s
                .trim()
                .parse::<f32>()
                .map(Some)
                .map_err(|_| self.err(col, format!("expected a number, found {s:?}"))),
        }
    }
}
