//! One typed value of a row the writer copies to the server, and the SQL types it can have.
//!
//! The batch writer sends a few hundred columns per detected pair through binary COPY. A
//! single enum keeps every row one `Vec<Cell>` (no boxing per value) and lets each cell check,
//! at COPY time, that it is of the column's type: a mismatch is an error, never a silently
//! reinterpreted value.

use std::error::Error;

use bytes::BytesMut;
use chrono::{NaiveDate, NaiveDateTime};
use postgres::types::{IsNull, ToSql, Type};

use super::uuid_param::UuidParam;

/// The SQL types of the conflictvisitmaps columns the writer fills.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SqlType {
    Uuid,
    Int8,
    Int4,
    /// `varchar(n)` in the table; `text` in the writer's temporary tables.
    Text,
    Timestamp,
    Date,
    Real,
    Bool,
}

impl SqlType {
    /// The type declared in the DDL script (`varchar(100)`, `int8`, …).
    pub(crate) fn from_declared(declared: &str) -> Option<SqlType> {
        Some(match declared {
            "uuid" => SqlType::Uuid,
            "int8" => SqlType::Int8,
            "int4" => SqlType::Int4,
            "timestamp" => SqlType::Timestamp,
            "date" => SqlType::Date,
            "real" => SqlType::Real,
            "bool" => SqlType::Bool,
            d if d.starts_with("varchar") => SqlType::Text,
            _ => return None,
        })
    }

    /// The type of the column in a temporary table (and of its COPY field).
    pub(crate) fn sql(self) -> &'static str {
        match self {
            SqlType::Uuid => "uuid",
            SqlType::Int8 => "int8",
            SqlType::Int4 => "int4",
            SqlType::Text => "text",
            SqlType::Timestamp => "timestamp",
            SqlType::Date => "date",
            SqlType::Real => "real",
            SqlType::Bool => "bool",
        }
    }

    pub(crate) fn pg_type(self) -> Type {
        match self {
            SqlType::Uuid => Type::UUID,
            SqlType::Int8 => Type::INT8,
            SqlType::Int4 => Type::INT4,
            SqlType::Text => Type::TEXT,
            SqlType::Timestamp => Type::TIMESTAMP,
            SqlType::Date => Type::DATE,
            SqlType::Real => Type::FLOAT4,
            SqlType::Bool => Type::BOOL,
        }
    }
}

/// A value as it is written: already converted to the stored type (truncated text, float4,
/// int4, uuid bytes), so that equal cells mean equal stored values.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Cell {
    Null,
    Uuid(UuidParam),
    I64(i64),
    I32(i32),
    Text(String),
    Timestamp(NaiveDateTime),
    Date(NaiveDate),
    F32(f32),
    Bool(bool),
}

impl ToSql for Cell {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn Error + Sync + Send>> {
        // Each arm goes through the inner type's own check, so a cell of the wrong type for
        // its column fails the COPY instead of sending bytes the server would misread.
        match self {
            Cell::Null => Ok(IsNull::Yes),
            Cell::Uuid(v) => v.to_sql_checked(ty, out),
            Cell::I64(v) => v.to_sql_checked(ty, out),
            Cell::I32(v) => v.to_sql_checked(ty, out),
            Cell::Text(v) => v.to_sql_checked(ty, out),
            Cell::Timestamp(v) => v.to_sql_checked(ty, out),
            Cell::Date(v) => v.to_sql_checked(ty, out),
            Cell::F32(v) => v.to_sql_checked(ty, out),
            Cell::Bool(v) => v.to_sql_checked(ty, out),
        }
    }

    fn accepts(ty: &Type) -> bool {
        [
            Type::UUID,
            Type::INT8,
            Type::INT4,
            Type::TEXT,
            Type::TIMESTAMP,
            Type::DATE,
            Type::FLOAT4,
            Type::BOOL,
        ]
        .contains(ty)
    }

    fn to_sql_checked(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn Error + Sync + Send>> {
        self.to_sql(ty, out)
    }
}

/// Text cut to at most `max_chars` characters (PostgreSQL counts `varchar(n)` in characters).
/// Returns whether anything was cut.
pub(crate) fn truncate_chars(text: &mut String, max_chars: usize) -> bool {
    // A text of n bytes has at most n characters: most values need no scan at all.
    if text.len() <= max_chars {
        return false;
    }
    match text.char_indices().nth(max_chars) {
        Some((byte, _)) => {
            text.truncate(byte);
            true
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_counts_characters_not_bytes() {
        let mut s = "Zoë Ñandú".to_string();
        assert!(truncate_chars(&mut s, 3));
        assert_eq!(s, "Zoë");
        let mut s = "abc".to_string();
        assert!(!truncate_chars(&mut s, 3));
        assert_eq!(s, "abc");
        assert!(truncate_chars(&mut s, 0));
        assert_eq!(s, "");
    }

    #[test]
    fn declared_types_map_to_writer_types() {
        assert_eq!(SqlType::from_declared("varchar(5)"), Some(SqlType::Text));
        assert_eq!(SqlType::from_declared("real"), Some(SqlType::Real));
        assert_eq!(SqlType::from_declared("int2"), None);
    }

    #[test]
    fn a_cell_of_the_wrong_type_is_refused() {
        let mut out = BytesMut::new();
        assert!(Cell::I64(1).to_sql(&Type::INT8, &mut out).is_ok());
        assert!(Cell::I64(1).to_sql(&Type::INT4, &mut out).is_err());
        assert!(Cell::Text("x".into())
            .to_sql(&Type::UUID, &mut out)
            .is_err());
        assert!(matches!(
            Cell::Null.to_sql(&Type::UUID, &mut out),
            Ok(IsNull::Yes)
        ));
    }
}
