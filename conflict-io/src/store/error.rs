//! Errors of the conflict store.
//!
//! Every variant says what was being done. None of them ever carries a password: connection
//! targets are rendered by the redacting [`ConnInfo`](super::ConnInfo) display, and PostgreSQL's
//! own messages do not echo credentials.

use std::fmt;

/// What went wrong while talking to the conflict database or checking its configuration.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A configured schema (or other) name is not a plain SQL identifier.
    #[error("invalid {what} {value:?}: it must match ^[A-Za-z_][A-Za-z0-9_]{{0,62}}$")]
    InvalidIdentifier {
        /// Which name it is (e.g. "conflict schema").
        what: &'static str,
        /// The refused name.
        value: String,
    },

    /// The connection string could not be parsed. `reason` never quotes option values.
    #[error("invalid PostgreSQL connection string: {reason}")]
    InvalidConnInfo {
        /// What is wrong, without option values.
        reason: String,
    },

    /// A TLS setting names a file that cannot be used (missing, unreadable, not PEM, no
    /// certificate), or `verify-ca`/`verify-full` has no root certificate. Paths are not
    /// secret; file contents are never shown.
    #[error("TLS setting {setting}={path}: {reason}")]
    TlsConfig {
        /// `sslrootcert`, `sslcert` or `sslkey`.
        setting: &'static str,
        /// The file the setting names.
        path: String,
        /// Why it cannot be used.
        reason: String,
    },

    /// The TLS handshake failed: the server's certificate was not accepted (unknown issuer,
    /// name mismatch, expired, …), the server does not offer TLS where it is required, or the
    /// server refused the client. Nothing was sent to the server past the handshake.
    #[error("TLS with PostgreSQL at {target} failed: {problem}")]
    TlsHandshake {
        /// Redacted connection target.
        target: String,
        /// The cause, in words (unknown issuer, name mismatch, …).
        problem: String,
    },

    /// No connection could be opened (server down, refused, authentication failed, pool
    /// exhausted for longer than the connection timeout).
    #[error("cannot connect to PostgreSQL at {target}: {message}{}", sqlstate_suffix(.sqlstate))]
    Connect {
        /// Redacted connection target.
        target: String,
        /// The server's SQLSTATE, when it answered.
        sqlstate: Option<String>,
        /// The driver's or server's message.
        message: String,
    },

    /// A statement failed.
    #[error("{}", DbDisplay { action, table, batch: *batch, sqlstate, source: error })]
    Db {
        /// What was being done, e.g. "read settings".
        action: String,
        /// Schema-qualified table the statement was about, when there is one.
        table: Option<String>,
        /// Batch number of a write, when the statement belonged to one.
        batch: Option<u64>,
        /// The server's SQLSTATE, when it answered.
        sqlstate: Option<String>,
        /// Not exposed as `source()`: the message above already carries the server's message,
        /// and the driver error's own chain would repeat it with its DETAIL line, which for
        /// key violations quotes row values (SSNs).
        error: postgres::Error,
    },

    /// A value could not be encoded for a binary COPY (its type does not match the column's):
    /// a bug of the writer, reported instead of sending a reinterpreted value.
    #[error("cannot copy field {field} of a row into {table}: {reason}")]
    CopyValue {
        /// The temporary table being loaded.
        table: String,
        /// Position of the field in the row.
        field: usize,
        /// What was wrong (never the value itself).
        reason: String,
    },

    /// Start-up check (docs/tables.md §1): tables or columns the tool needs are missing. The
    /// message names the command that adds them, because that is the only way out for a user.
    #[error(
        "the conflict schema {schema:?} lacks {} table(s)/column(s) the tool needs: {}; \
         `conflicts db init` adds what is missing (review it first with `conflicts db init \
         --print-sql`)",
        missing.len(),
        missing.join(", ")
    )]
    MissingObjects {
        /// The conflict schema.
        schema: String,
        /// Every missing table or `table.column`.
        missing: Vec<String>,
    },

    /// A visit id handed to the store is not a uuid (database mode needs uuids).
    #[error("visit id {value:?} is not a uuid")]
    InvalidId {
        /// The refused id.
        value: String,
    },

    /// A detected pair names a visit whose business columns were not handed to the store.
    #[error("no business columns were fetched for visit {visit_id}")]
    MissingDetails {
        /// The visit without business columns.
        visit_id: String,
    },

    /// A value handed to the store does not fit the column it is written to.
    #[error("visit {visit_id}: cannot write {column}: {reason}")]
    InvalidValue {
        /// The target column.
        column: String,
        /// The visit the value belongs to (never an SSN).
        visit_id: String,
        /// Why it does not fit.
        reason: String,
    },

    /// Rows changed between the batch's read and its write (a person or another job edited
    /// them): the batch is rolled back and may be retried on fresh data.
    #[error("{action} on {table}: {affected} of {expected} rows still matched what was read; another session changed them")]
    ConcurrentChange {
        /// The statement, e.g. "update the re-detected rows".
        action: &'static str,
        /// The table it wrote.
        table: String,
        /// Rows the plan wrote.
        expected: u64,
        /// Rows that still matched.
        affected: u64,
    },

    /// A value read from a reference table is not usable (configuration error).
    #[error("{table}.{column} = {value} is not usable: {reason}")]
    InvalidSetting {
        /// The reference table.
        table: String,
        /// The column read.
        column: &'static str,
        /// The value found.
        value: String,
        /// Why it is refused.
        reason: String,
    },

    /// Shadow mode: the changed rows found do not match what the transaction counted (a bug
    /// or a concurrent writer); the transaction is rolled back rather than report two truths.
    #[error(
        "the changes file would not match the run's counters (counted {counted}; found {found})"
    )]
    ChangesMismatch {
        /// The transaction's counters.
        counted: String,
        /// What the captured lines hold.
        found: String,
    },

    /// The batch's claim is no longer this worker's: another session completed or claimed the
    /// batch (after this worker's connection was lost, or a claim was given back by hand). The
    /// batch's transaction was rolled back; the batch belongs to whoever holds it now.
    #[error("batch {key}: the claim was lost (the ledger says {status}, claimed by {})", holder.as_deref().unwrap_or("nobody"))]
    ClaimLost {
        /// The batch key.
        key: String,
        /// The ledger status found at commit time.
        status: String,
        /// The worker the ledger names now, if any.
        holder: Option<String>,
    },

    /// The connection that holds the run lock was lost: another run could start, so this one
    /// stops. Batches committed so far stay; `--resume` continues the run.
    #[error("the connection holding the run lock was lost ({message}); the run stops so that no second run can overlap it")]
    LockLost {
        /// What the driver reported.
        message: String,
    },

    /// Shadow mode: the committed batch's lines could not be written to the changes sink.
    #[error("cannot write the changes file: {source}")]
    ChangesOut {
        /// The write error.
        #[source]
        source: std::io::Error,
    },
}

impl StoreError {
    /// Wraps a failed statement with what was being done and on which table.
    pub fn db(action: impl Into<String>, table: Option<&str>, source: postgres::Error) -> Self {
        StoreError::Db {
            action: action.into(),
            table: table.map(str::to_string),
            batch: None,
            sqlstate: source.code().map(|c| c.code().to_string()),
            error: source,
        }
    }

    /// Attaches the batch number to a statement error (other variants are returned as is).
    pub fn in_batch(mut self, n: u64) -> Self {
        if let StoreError::Db { batch, .. } = &mut self {
            *batch = Some(n);
        }
        self
    }

    /// The five-character SQLSTATE, when the server reported one.
    pub fn sqlstate(&self) -> Option<&str> {
        match self {
            StoreError::Db { sqlstate, .. } | StoreError::Connect { sqlstate, .. } => {
                sqlstate.as_deref()
            }
            _ => None,
        }
    }

    /// True for failures that a retry of the whole batch, on a fresh connection, may cure
    /// (docs/lifecycle.md §9): serialization failure (40001), deadlock (40P01), a lost connection
    /// (class 08, the server shutting the session down: 57P01 to 57P03, a closed socket or an
    /// I/O error on it), a connection that cannot be opened right now (failover), and rows
    /// changed under the batch by another session.
    pub fn is_transient(&self) -> bool {
        match self {
            StoreError::Db {
                sqlstate, error, ..
            } => match sqlstate.as_deref() {
                Some(code) => is_transient_sqlstate(code),
                None => error.is_closed() || is_io_error(error),
            },
            StoreError::Connect { sqlstate, .. } => {
                sqlstate.as_deref().is_none_or(is_transient_sqlstate)
            }
            StoreError::ConcurrentChange { .. } => true,
            _ => false,
        }
    }
}

/// SQLSTATEs worth a retry: see [`StoreError::is_transient`].
pub fn is_transient_sqlstate(code: &str) -> bool {
    matches!(code, "40001" | "40P01" | "57P01" | "57P02" | "57P03") || code.starts_with("08")
}

/// A driver error caused by the socket (reset, unexpected end of stream) rather than by the
/// server's answer.
fn is_io_error(error: &postgres::Error) -> bool {
    let mut cause = std::error::Error::source(error);
    while let Some(c) = cause {
        if c.is::<std::io::Error>() {
            return true;
        }
        cause = c.source();
    }
    false
}

fn sqlstate_suffix(sqlstate: &Option<String>) -> String {
    sqlstate
        .as_deref()
        .map(|s| format!(" (SQLSTATE {s})"))
        .unwrap_or_default()
}

/// "read settings on "conflict"."settings" (batch 3): db error: ERROR: … (SQLSTATE 42P01)".
struct DbDisplay<'a> {
    action: &'a str,
    table: &'a Option<String>,
    batch: Option<u64>,
    sqlstate: &'a Option<String>,
    source: &'a postgres::Error,
}

impl fmt::Display for DbDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.action)?;
        if let Some(t) = self.table {
            write!(f, " on {t}")?;
        }
        if let Some(b) = self.batch {
            write!(f, " (batch {b})")?;
        }
        // postgres::Error's Display says only "db error"; the server's message is in its
        // DbError. The DETAIL field is left out on purpose: for key violations it quotes row
        // values, which may be SSNs.
        match self.source.as_db_error() {
            Some(db) => write!(f, ": {}: {}", db.severity(), db.message())?,
            None => write!(f, ": {}", self.source)?,
        }
        f.write_str(&sqlstate_suffix(self.sqlstate))
    }
}

impl From<crate::ident::InvalidName> for StoreError {
    fn from(e: crate::ident::InvalidName) -> Self {
        StoreError::InvalidIdentifier {
            what: e.what,
            value: e.value,
        }
    }
}
