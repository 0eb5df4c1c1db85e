//! Errors of the analytics source. Messages never carry the connection string's secrets.
//!
//! Each message is self-contained: a variant that prints its cause does not also return it
//! from `source()`, so an error chain printed link by link (anyhow's `{:#}`, the CLI) shows
//! every cause once.

use std::fmt;

use super::connection_string::ConnectionString;

/// Why the analytics source could not be configured, reached or read.
#[derive(Debug, thiserror::Error)]
pub enum AnalyticsError {
    /// The configuration is invalid (a bad schema name, an unknown dialect, ...).
    #[error("analytics configuration: {0}")]
    Config(String),
    /// The driver could not open a connection.
    #[error(
        "cannot connect to the analytics source ({}): {cause}",
        shown_target(target)
    )]
    Connect {
        /// The redacted connection string.
        target: String,
        /// What the driver reported.
        cause: OdbcFailure,
    },
    /// A statement failed at the warehouse or in the driver.
    #[error("analytics query failed while {what}: {cause}")]
    Query {
        /// The step that ran the statement (e.g. `reading visits`).
        what: &'static str,
        /// What the driver reported.
        cause: OdbcFailure,
    },
    /// A value in a result set cannot be used (wrong type, out of range, missing).
    #[error("analytics column {column:?}, row {row} of {what}: {reason}")]
    Column {
        /// The result set (e.g. `visits`).
        what: &'static str,
        /// The column of the bad value.
        column: &'static str,
        /// Its row, counted from 1 within the result set.
        row: usize,
        /// Why the value was refused.
        reason: String,
    },
    /// Preflight: tables or columns the queries read are missing (or unreadable). Every problem
    /// is listed, so that one round of fixes is enough.
    #[error(
        "the analytics schema {schema} lacks what the queries read:{}",
        missing.iter().map(|m| format!("\n  - {m}")).collect::<String>()
    )]
    MissingObjects {
        /// The configured analytics schema.
        schema: String,
        /// One entry per table, each shown on a line of its own: `table S.T cannot be read
        /// (cause)` or `S.T: missing columns "A", "B"`.
        missing: Vec<String>,
    },
}

/// An empty target would print as `()`, which says nothing.
fn shown_target(target: &str) -> &str {
    if target.trim().is_empty() {
        "empty connection string"
    } else {
        target
    }
}

/// One failed ODBC call, as one line: the driver's own message and its SQLSTATE.
///
/// odbc-api's `Display` starts with "ODBC emitted an error calling 'SQLDriverConnect':" and a
/// line break, which says nothing to a user and breaks the one-line error format; the driver
/// message is what names the problem ("Can't open lib '/x.so' : file not found").
#[derive(Debug)]
pub struct OdbcFailure {
    /// The driver's message, whitespace-collapsed, secrets of the connection string masked.
    pub message: String,
    /// Five-character SQLSTATE, when the driver reported one.
    pub state: Option<String>,
}

impl OdbcFailure {
    /// Takes what a user needs from `e`; values of secret keys of `conn` are masked wherever a
    /// driver might echo them.
    pub fn new(e: &odbc_api::Error, conn: Option<&ConnectionString>) -> Self {
        let (message, state) = match e {
            odbc_api::Error::Diagnostics { record, .. } => {
                let text = odbc_api::handles::slice_to_cow_utf8(&record.message).into_owned();
                (
                    text,
                    Some(String::from_utf8_lossy(&record.state.0).into_owned()),
                )
            }
            other => (other.to_string(), None),
        };
        let mut message = message.split_whitespace().collect::<Vec<_>>().join(" ");
        if let Some(conn) = conn {
            message = conn.mask_secrets(&message);
        }
        if message.is_empty() {
            message = "the driver gave no message".to_string();
        }
        OdbcFailure { message, state }
    }

    /// True when the driver manager found no driver or DSN to load (IM002 / IM003, or a
    /// library it could not open).
    pub fn is_driver_problem(&self) -> bool {
        matches!(self.state.as_deref(), Some("IM002" | "IM003"))
            || self.message.contains("Can't open lib")
    }
}

impl fmt::Display for OdbcFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        match &self.state {
            Some(s) if !s.is_empty() && s != "00000" => write!(f, " (SQLSTATE {s})"),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_target_is_named_not_shown_as_empty_parentheses() {
        let e = AnalyticsError::Connect {
            target: String::new(),
            cause: OdbcFailure {
                message: "Data source name not found".into(),
                state: Some("IM002".into()),
            },
        };
        let shown = e.to_string();
        assert!(!shown.contains("()"), "{shown}");
        assert_eq!(
            shown,
            "cannot connect to the analytics source (empty connection string): Data source name \
             not found (SQLSTATE IM002)"
        );
    }

    #[test]
    fn no_variant_repeats_its_cause_through_source() {
        let cause = || OdbcFailure {
            message: "boom".into(),
            state: None,
        };
        for e in [
            AnalyticsError::Connect {
                target: "Driver=x".into(),
                cause: cause(),
            },
            AnalyticsError::Query {
                what: "reading",
                cause: cause(),
            },
        ] {
            assert!(std::error::Error::source(&e).is_none(), "{e}");
            assert_eq!(e.to_string().matches("boom").count(), 1, "{e}");
        }
    }
}
