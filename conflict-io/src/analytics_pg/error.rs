//! Errors of the native PostgreSQL analytics source. Messages never carry a credential: the
//! target is shown by the redacting [`ConnInfo`](crate::store::ConnInfo) display, and
//! PostgreSQL's own messages do not echo passwords.
//!
//! As in the ODBC source, a variant that prints its cause does not also return it from
//! `source()`, so an error chain printed link by link shows every cause once.

use crate::store::StoreError;

/// Why the native PostgreSQL analytics source could not be configured, reached or read.
#[derive(Debug, thiserror::Error)]
pub enum PgSourceError {
    /// The configuration is invalid (an unparsable connection string, a bad schema name).
    #[error("analytics configuration: {0}")]
    Config(String),
    /// No connection could be opened (server down, TLS refused, authentication failed).
    #[error("cannot connect to the PostgreSQL analytics source: {0}")]
    Connect(StoreError),
    /// A statement failed at the server or on the connection.
    #[error(
        "PostgreSQL analytics source: query failed while {what}: {message}{}{}",
        sqlstate.as_deref().map(|s| format!(" (SQLSTATE {s})")).unwrap_or_default(),
        hint(sqlstate.as_deref())
    )]
    Query {
        /// The step that ran the statement (e.g. `reading base visits`).
        what: &'static str,
        /// The server's (or the driver's) message.
        message: String,
        /// The server's SQLSTATE, when it answered.
        sqlstate: Option<String>,
    },
    /// A value in a result set cannot be used (wrong type, out of range, missing).
    #[error("analytics column {column:?}, row {row} of {what}: {reason}")]
    Column {
        /// The result set (e.g. `reading base visits`).
        what: &'static str,
        /// The column of the bad value.
        column: String,
        /// Its row, counted from 1 within the result set.
        row: usize,
        /// Why the value was refused.
        reason: String,
    },
    /// Preflight: tables or columns the queries read are missing (or unreadable); every
    /// problem is listed so that one round of fixes is enough.
    #[error(
        "the analytics schema {schema} lacks what the queries read:{}",
        missing.iter().map(|m| format!("\n  - {m}")).collect::<String>()
    )]
    MissingObjects {
        /// The configured analytics schema.
        schema: String,
        /// One entry per table with a problem.
        missing: Vec<String>,
    },
}

impl PgSourceError {
    /// A failed statement: the server's message and SQLSTATE, or the driver's message (a
    /// closed connection, a type mismatch found while binding).
    pub(crate) fn query(what: &'static str, e: &postgres::Error) -> Self {
        let (message, sqlstate) = match e.as_db_error() {
            Some(db) => (db.message().to_string(), Some(db.code().code().to_string())),
            None => (with_causes(e), None),
        };
        PgSourceError::Query {
            what,
            message,
            sqlstate,
        }
    }
}

/// The driver's top-level message ("db error", "error serializing parameter 0") alone does not
/// say why; its causes do.
fn with_causes(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let text = c.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        cause = c.source();
    }
    out
}

/// What to do about the SQLSTATEs an operator can fix.
fn hint(sqlstate: Option<&str>) -> &'static str {
    match sqlstate {
        Some("42P01" | "3F000") => {
            "; check --analytics-schema and that the analytics tables were copied into this \
             database"
        }
        Some("42703") => "; the analytics tables lack a column the queries read",
        Some("42501") => {
            "; grant the role SELECT on the analytics tables and TEMPORARY on the database \
             (the source keeps id lists in temporary tables)"
        }
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_query_error_names_the_step_state_and_fix_once() {
        let e = PgSourceError::Query {
            what: "reading base visits",
            message: "relation \"analytics.dimcaregiver\" does not exist".into(),
            sqlstate: Some("42P01".into()),
        };
        assert_eq!(
            e.to_string(),
            "PostgreSQL analytics source: query failed while reading base visits: relation \
             \"analytics.dimcaregiver\" does not exist (SQLSTATE 42P01); check \
             --analytics-schema and that the analytics tables were copied into this database"
        );
        assert!(std::error::Error::source(&e).is_none());
    }
}
