//! Typed reads from a fetched columnar row set; every error names the column and row.

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
use odbc_api::buffers::{BufferDesc, ColumnarDynBuffer};
use odbc_api::sys::{Date, Timestamp, NULL_DATA};

use super::error::AnalyticsError;

/// Describes a bound column: its name (for messages) and buffer.
#[derive(Debug, Clone, Copy)]
pub struct Col {
    pub name: &'static str,
    pub desc: BufferDesc,
}

/// Worst-case UTF-8 bytes per character. `VARCHAR(n)` bounds characters (PostgreSQL and
/// Snowflake alike) while drivers report and copy text in bytes, so a buffer of `n` bytes
/// overflows — and the whole fetch fails its truncation check — as soon as a full-length value
/// holds a non-ASCII character ("São João", "O’Brien", "40.7°").
const MAX_UTF8_BYTES: usize = 4;

impl Col {
    /// Text of at most `max_chars` characters, of any script.
    pub const fn text(name: &'static str, max_chars: usize) -> Col {
        Col {
            name,
            desc: BufferDesc::Text {
                max_str_len: max_chars * MAX_UTF8_BYTES,
            },
        }
    }
    /// Text the server renders in ASCII: canonical uuids and numbers (`real`s as text).
    pub const fn ascii(name: &'static str, max_len: usize) -> Col {
        Col {
            name,
            desc: BufferDesc::Text {
                max_str_len: max_len,
            },
        }
    }
    pub const fn i64(name: &'static str) -> Col {
        Col {
            name,
            desc: BufferDesc::I64 { nullable: true },
        }
    }
    pub const fn date(name: &'static str) -> Col {
        Col {
            name,
            desc: BufferDesc::Date { nullable: true },
        }
    }
    pub const fn timestamp(name: &'static str) -> Col {
        Col {
            name,
            desc: BufferDesc::Timestamp { nullable: true },
        }
    }
}

/// One fetched row set with the column list it was bound with.
pub struct Rows<'a> {
    pub buf: &'a ColumnarDynBuffer,
    pub cols: &'a [Col],
    pub what: &'static str,
    /// Rows fetched before this row set (for messages).
    pub offset: usize,
}

impl Rows<'_> {
    pub fn len(&self) -> usize {
        self.buf.num_rows()
    }

    fn err(&self, col: usize, row: usize, reason: impl Into<String>) -> AnalyticsError {
        AnalyticsError::Column {
            what: self.what,
            column: self.cols[col].name,
            row: self.offset + row + 1,
            reason: reason.into(),
        }
    }

    fn bound_as(&self, col: usize, kind: &str) -> AnalyticsError {
        self.err(col, 0, format!("internal: column is not bound as {kind}"))
    }

    pub fn text(&self, col: usize, row: usize) -> Result<Option<&str>, AnalyticsError> {
        let view = self
            .buf
            .column(col)
            .as_text()
            .ok_or_else(|| self.bound_as(col, "text"))?;
        match view.get(row) {
            None => Ok(None),
            Some(bytes) => std::str::from_utf8(bytes).map(Some).map_err(|_| {
                self.err(
                    col,
                    row,
                    "the value is not valid UTF-8; configure the driver to return UTF-8 text",
                )
            }),
        }
    }

    pub fn string(&self, col: usize, row: usize) -> Result<Option<String>, AnalyticsError> {
        Ok(self.text(col, row)?.map(String::from))
    }

    /// A required, non-blank id.
    pub fn required(&self, col: usize, row: usize) -> Result<String, AnalyticsError> {
        match self.text(col, row)? {
            Some(s) if !s.trim().is_empty() => Ok(s.to_string()),
            _ => Err(self.err(col, row, "a value is required (found NULL or blank)")),
        }
    }

    pub fn i64(&self, col: usize, row: usize) -> Result<Option<i64>, AnalyticsError> {
        let view = self
            .buf
            .column(col)
            .as_nullable_slice::<i64>()
            .ok_or_else(|| self.bound_as(col, "integer"))?;
        let (values, indicators) = view.raw_values();
        Ok((indicators[row] != NULL_DATA).then(|| values[row]))
    }

    pub fn bool(&self, col: usize, row: usize) -> Result<Option<bool>, AnalyticsError> {
        match self.i64(col, row)? {
            None => Ok(None),
            Some(0) => Ok(Some(false)),
            Some(1) => Ok(Some(true)),
            Some(v) => Err(self.err(col, row, format!("expected a boolean 0/1, found {v}"))),
        }
    }

    pub fn date(&self, col: usize, row: usize) -> Result<Option<NaiveDate>, AnalyticsError> {
        let view = self
            .buf
            .column(col)
            .as_nullable_slice::<Date>()
            .ok_or_else(|| self.bound_as(col, "date"))?;
        let (values, indicators) = view.raw_values();
        if indicators[row] == NULL_DATA {
            return Ok(None);
        }
        let d = values[row];
        NaiveDate::from_ymd_opt(d.year as i32, d.month as u32, d.day as u32)
            .map(Some)
            .ok_or_else(|| self.err(col, row, format!("invalid date {d:?}")))
    }

    pub fn timestamp(
        &self,
        col: usize,
        row: usize,
    ) -> Result<Option<NaiveDateTime>, AnalyticsError> {
        let view = self
            .buf
            .column(col)
            .as_nullable_slice::<Timestamp>()
            .ok_or_else(|| self.bound_as(col, "timestamp"))?;
        let (values, indicators) = view.raw_values();
        if indicators[row] == NULL_DATA {
            return Ok(None);
        }
        let t = values[row];
        let date = NaiveDate::from_ymd_opt(t.year as i32, t.month as u32, t.day as u32);
        let time = NaiveTime::from_hms_nano_opt(
            t.hour as u32,
            t.minute as u32,
            t.second as u32,
            t.fraction,
        );
        match (date, time) {
            (Some(d), Some(tm)) => Ok(Some(d.and_time(tm))),
            _ => Err(self.err(col, row, format!("invalid timestamp {t:?}"))),
        }
    }

    /// A decimal read from its text (docs/tables.md §1: reals travel as shortest text).
    pub fn f64_text(&self, col: usize, row: usize) -> Result<Option<f64>, AnalyticsError> {
        match self.text(col, row)? {
            None => Ok(None),
            Some(s) => s
                .trim()
                .parse::<f64>()
                .map(Some)
                .map_err(|_| self.err(col, row, format!("expected a number, found {s:?}"))),
        }
    }

    /// A `real` from its shortest text: parsing that text as f32 gives back the exact float4.
    pub fn f32_text(&self, col: usize, row: usize) -> Result<Option<f32>, AnalyticsError> {
        match self.text(col, row)? {
            None => Ok(None),
            Some(s) => s
                .trim()
                .parse::<f32>()
                .map(Some)
                .map_err(|_| self.err(col, row, format!("expected a number, found {s:?}"))),
        }
    }
}
