//! Errors of the analytics source. Messages never carry the connection string.

#[derive(Debug, thiserror::Error)]
pub enum AnalyticsError {
    #[error("analytics configuration: {0}")]
    Config(String),
    #[error("cannot connect to the analytics source ({target}): {source}")]
    Connect {
        /// The redacted connection string.
        target: String,
        source: odbc_api::Error,
    },
    #[error("analytics query failed while {what}: {source}")]
    Query {
        what: &'static str,
        source: odbc_api::Error,
    },
    #[error("analytics column {column:?}, row {row} of {what}: {reason}")]
    Column {
        what: &'static str,
        column: &'static str,
        row: usize,
        reason: String,
    },
}
