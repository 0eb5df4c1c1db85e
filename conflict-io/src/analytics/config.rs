//! Configuration of the analytics source.

use std::fmt;

use super::attributes::{attributes, unbraced};
use super::dialect::Dialect;
use super::error::AnalyticsError;
use crate::ident::QualifiedName;

/// An ODBC connection string; kept out of `Debug`/`Display` because it may hold a password.
#[derive(Clone)]
pub struct ConnectionString(String);

impl ConnectionString {
    /// Wraps an ODBC connection string; it is shown only redacted.
    pub fn new(s: impl Into<String>) -> Self {
        ConnectionString(s.into())
    }

    pub(crate) fn expose(&self) -> &str {
        &self.0
    }

    /// The connection string with every `PWD`/`PASSWORD`/`TOKEN`/secret-like value replaced.
    pub fn redacted(&self) -> String {
        attributes(&self.0)
            .into_iter()
            .map(|(k, v)| match v {
                Some(_) if is_secret_key(k) => format!("{}=***", k.trim()),
                Some(v) => format!("{}={}", k.trim(), v.trim()),
                None => k.trim().to_string(),
            })
            .collect::<Vec<_>>()
            .join(";")
    }

    /// True when the string holds nothing but separators and blanks: connecting would only
    /// produce the driver manager's "no default driver" error.
    pub fn is_blank(&self) -> bool {
        attributes(&self.0).is_empty()
    }

    /// `text` with every value of a secret key of this connection string replaced by `***`:
    /// a driver's message might echo one, and it must not reach a log.
    pub fn mask_secrets(&self, text: &str) -> String {
        let mut out = text.to_string();
        for (k, v) in attributes(&self.0) {
            let Some(v) = v.filter(|_| is_secret_key(k)) else {
                continue;
            };
            for candidate in [v.trim().to_string(), unbraced(v)] {
                // Very short values would mask ordinary words of the message; a secret that
                // short is not worth protecting by masking.
                if candidate.len() >= 4 {
                    out = out.replace(&candidate, "***");
                }
            }
        }
        out
    }
}

fn is_secret_key(k: &str) -> bool {
    let k = k.trim().to_ascii_lowercase();
    ["pwd", "password", "token", "secret", "priv_key", "passcode"]
        .iter()
        .any(|s| k.contains(s))
}

impl fmt::Debug for ConnectionString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ConnectionString({})", self.redacted())
    }
}

/// A validated, possibly qualified (`database.schema`) analytics schema name. Written unquoted
/// so that each server applies its own case folding (docs/tables.md §1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnalyticsSchema(QualifiedName);

impl AnalyticsSchema {
    /// Validates `SCHEMA` or `DATABASE.SCHEMA`, because the name is written into SQL text.
    pub fn new(name: &str) -> Result<Self, AnalyticsError> {
        QualifiedName::new("analytics schema", name)
            .map(AnalyticsSchema)
            .map_err(|_| {
                AnalyticsError::Config(format!(
                    "analytics schema {name:?} is not a valid name: each part must match \
                     ^[A-Za-z_][A-Za-z0-9_]{{0,62}}$, at most database.schema"
                ))
            })
    }

    /// The name as configured.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The validated name, as the conflict store's configuration holds it.
    pub fn name(&self) -> &QualifiedName {
        &self.0
    }

    /// `schema.table`, unquoted.
    pub fn table(&self, table: &str) -> String {
        format!("{}.{table}", self.0)
    }
}

/// Rows per temporary-table insert statement by default: 20,000 keys of a batch take 20
/// statements, each with at most 2,000 parameters and well under Snowflake's limit of 16,384
/// rows in one `VALUES` clause.
pub const DEFAULT_INSERT_ROWS: usize = 1_000;

/// Everything needed to open and query the analytics source.
#[derive(Debug, Clone)]
pub struct AnalyticsConfig {
    /// The ODBC connection string (with its secrets; never logged).
    pub connection: ConnectionString,
    /// The schema that holds the visit tables.
    pub schema: AnalyticsSchema,
    /// `None`: chosen from the DBMS name the driver reports when connecting.
    pub dialect: Option<Dialect>,
    /// Snowflake: the schema that holds the temporary tables (`DATABASE.SCHEMA` or `SCHEMA`;
    /// validated like the analytics schema). `None`: the session's current schema, which the
    /// connection string's `Schema=` sets. PostgreSQL keeps temporary tables in the session's
    /// own `pg_temp` schema and ignores this setting.
    pub scratch_schema: Option<AnalyticsSchema>,
    /// Rows per columnar fetch of the narrow query.
    pub fetch_rows: usize,
    /// Rows per columnar fetch of the wide (business columns) query.
    pub detail_fetch_rows: usize,
    /// Rows per multi-row `INSERT ... VALUES` into a temporary table (one statement each).
    pub insert_rows: usize,
    /// Only keep visits whose (SSN, date) group has visits of two or more providers.
    pub prefilter: bool,
}

impl AnalyticsConfig {
    /// A configuration with default sizes; `dialect` is a [`Dialect`] or `None` (detect).
    pub fn new(
        connection: ConnectionString,
        schema: AnalyticsSchema,
        dialect: impl Into<Option<Dialect>>,
    ) -> Self {
        AnalyticsConfig {
            connection,
            schema,
            dialect: dialect.into(),
            scratch_schema: None,
            fetch_rows: 20_000,
            detail_fetch_rows: 2_000,
            insert_rows: DEFAULT_INSERT_ROWS,
            prefilter: true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted() {
        let c = ConnectionString::new("Driver=/x.so;Server=h;UID=u;PWD=s3cret;Token=abc;");
        let r = c.redacted();
        assert!(!r.contains("s3cret") && !r.contains("abc"), "{r}");
        assert!(r.contains("UID=u") && r.contains("PWD=***"));
        assert!(!format!("{c:?}").contains("s3cret"));
    }

    #[test]
    fn secrets_echoed_by_a_driver_are_masked() {
        let c =
            ConnectionString::new("Driver=/x.so;UID=svc;PWD={p4ss;wo}}rd};PRIV_KEY_FILE_PWD=kf-99");
        assert_eq!(
            c.mask_secrets("login svc with p4ss;wo}rd failed; key kf-99 rejected"),
            "login svc with *** failed; key *** rejected"
        );
        assert_eq!(
            c.redacted(),
            "Driver=/x.so;UID=svc;PWD=***;PRIV_KEY_FILE_PWD=***"
        );
    }

    #[test]
    fn blank_connection_strings() {
        for blank in ["", "  ", ";", " ; ;"] {
            assert!(ConnectionString::new(blank).is_blank(), "{blank:?}");
        }
        assert!(!ConnectionString::new("DSN=x").is_blank());
    }

    #[test]
    fn schema_names() {
        assert!(AnalyticsSchema::new("analytics").is_ok());
        assert!(AnalyticsSchema::new("ANALYTICS.BI").is_ok());
        for bad in ["", "a.b.c", "a-b", "a;drop", "1abc", &"x".repeat(64), "a."] {
            assert!(AnalyticsSchema::new(bad).is_err(), "{bad}");
        }
    }
}
