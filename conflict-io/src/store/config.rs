//! Connection target and schema names of the conflict store (schema.md §1).
//!
//! Schema names come from configuration and end up inside SQL text (identifiers cannot be bind
//! parameters), so each one is validated against `^[A-Za-z_][A-Za-z0-9_]{0,62}$` before it is
//! ever formatted into a statement. Conflict-schema names are then written double-quoted (case
//! kept exactly as configured); analytics names unquoted, so that each server folds case its
//! own way.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use postgres::config::{Host, SslMode};

use super::error::StoreError;

/// Longest identifier PostgreSQL keeps without truncating (NAMEDATALEN − 1).
const MAX_IDENTIFIER_LEN: usize = 63;

/// Connect timeout applied when the connection string sets none: a server that is down or
/// unreachable must fail the run within seconds, not hang on the operating system's TCP timeout.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A validated SQL identifier: `^[A-Za-z_][A-Za-z0-9_]{0,62}$`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Identifier(String);

impl Identifier {
    /// Validates `value`; `what` names the setting in the error ("conflict schema name", …).
    pub fn new(what: &'static str, value: &str) -> Result<Self, StoreError> {
        let mut chars = value.chars();
        let first_ok = chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
        let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
        if first_ok && rest_ok && value.len() <= MAX_IDENTIFIER_LEN {
            Ok(Identifier(value.to_string()))
        } else {
            Err(StoreError::InvalidIdentifier {
                what,
                value: value.to_string(),
            })
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The identifier double-quoted for SQL text. Validation guarantees there is no quote to
    /// escape.
    pub fn quoted(&self) -> String {
        format!("\"{}\"", self.0)
    }
}

impl fmt::Display for Identifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A possibly qualified name such as `analytics` or `ANALYTICS.BI` (database.schema), each part
/// a validated identifier. Written unquoted (schema.md §1).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct QualifiedName(Vec<Identifier>);

impl QualifiedName {
    /// One or two dot-separated parts.
    pub fn new(what: &'static str, value: &str) -> Result<Self, StoreError> {
        let parts: Vec<&str> = value.split('.').collect();
        if parts.len() > 2 {
            return Err(StoreError::InvalidIdentifier {
                what,
                value: value.to_string(),
            });
        }
        let parts = parts
            .into_iter()
            .map(|p| {
                Identifier::new(what, p).map_err(|_| StoreError::InvalidIdentifier {
                    what,
                    value: value.to_string(),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(QualifiedName(parts))
    }

    pub fn parts(&self) -> &[Identifier] {
        &self.0
    }

    /// The unquoted SQL text, parts joined by dots.
    pub fn sql(&self) -> String {
        self.0
            .iter()
            .map(Identifier::as_str)
            .collect::<Vec<_>>()
            .join(".")
    }
}

impl fmt::Display for QualifiedName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.sql())
    }
}

/// The two configured schema names (defaults `conflict` and `analytics`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaNames {
    pub conflict: Identifier,
    pub analytics: QualifiedName,
}

impl SchemaNames {
    pub fn new(conflict: &str, analytics: &str) -> Result<Self, StoreError> {
        Ok(SchemaNames {
            conflict: Identifier::new("conflict schema name", conflict)?,
            analytics: QualifiedName::new("analytics schema name", analytics)?,
        })
    }

    /// `"<conflict schema>"."<table>"` for one of the tool's own tables.
    pub fn conflict_table(&self, table: &str) -> String {
        debug_assert!(Identifier::new("table", table).is_ok(), "{table}");
        format!("{}.\"{table}\"", self.conflict.quoted())
    }
}

impl Default for SchemaNames {
    fn default() -> Self {
        SchemaNames::new("conflict", "analytics").expect("default names are valid")
    }
}

/// A parsed PostgreSQL connection string (libpq `key=value` form or `postgresql://` URL).
///
/// `Display` and `Debug` show only host, port, user, database and sslmode; a password is shown
/// as `***`. The raw string is not kept.
#[derive(Clone)]
pub struct ConnInfo {
    config: postgres::Config,
}

impl ConnInfo {
    pub fn parse(conninfo: &str) -> Result<Self, StoreError> {
        // The parser's messages name the offending option, never its value, so they are safe
        // to pass on.
        let mut config =
            postgres::Config::from_str(conninfo).map_err(|e| StoreError::InvalidConnInfo {
                reason: e.to_string(),
            })?;
        if config.get_hosts().is_empty() {
            return Err(StoreError::InvalidConnInfo {
                reason: "no host given (host=… or a postgresql:// URL with a host)".into(),
            });
        }
        if config.get_ssl_mode() == SslMode::Require {
            return Err(StoreError::TlsUnavailable { mode: "require" });
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(DEFAULT_CONNECT_TIMEOUT);
        }
        if config.get_application_name().is_none() {
            config.application_name("conflicts");
        }
        Ok(ConnInfo { config })
    }

    pub fn config(&self) -> &postgres::Config {
        &self.config
    }
}

impl FromStr for ConnInfo {
    type Err = StoreError;
    fn from_str(s: &str) -> Result<Self, StoreError> {
        ConnInfo::parse(s)
    }
}

impl fmt::Display for ConnInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.config;
        let hosts: Vec<String> = c
            .get_hosts()
            .iter()
            .map(|h| match h {
                Host::Tcp(name) => name.clone(),
                Host::Unix(path) => path.display().to_string(),
            })
            .collect();
        write!(f, "host={}", hosts.join(","))?;
        if !c.get_ports().is_empty() {
            let ports: Vec<String> = c.get_ports().iter().map(u16::to_string).collect();
            write!(f, " port={}", ports.join(","))?;
        }
        if let Some(user) = c.get_user() {
            write!(f, " user={user}")?;
        }
        if let Some(db) = c.get_dbname() {
            write!(f, " dbname={db}")?;
        }
        if c.get_password().is_some() {
            f.write_str(" password=***")?;
        }
        let mode = match c.get_ssl_mode() {
            SslMode::Disable => "disable",
            SslMode::Prefer => "prefer",
            _ => "require",
        };
        write!(f, " sslmode={mode}")
    }
}

impl fmt::Debug for ConnInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ConnInfo({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_follow_the_configured_pattern() {
        for ok in ["conflict", "conflict_dev", "_x", "A1", &"a".repeat(63)] {
            let id = Identifier::new("name", ok).unwrap();
            assert_eq!(id.quoted(), format!("\"{ok}\""));
        }
        for bad in [
            "",
            "1abc",
            "a-b",
            "conflict; drop",
            "a\"b",
            "sch\u{e9}ma",
            " conflict",
            &"a".repeat(64),
        ] {
            let err = Identifier::new("conflict schema name", bad).unwrap_err();
            assert!(
                matches!(err, StoreError::InvalidIdentifier { .. }),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn analytics_names_may_be_qualified_once() {
        let q = QualifiedName::new("analytics", "ANALYTICS.BI").unwrap();
        assert_eq!(q.sql(), "ANALYTICS.BI");
        assert_eq!(q.parts().len(), 2);
        for bad in ["a.b.c", "a.", ".b", "a-b.c", ""] {
            assert!(QualifiedName::new("analytics", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn conflict_tables_are_quoted_and_qualified() {
        let names = SchemaNames::new("Conflict_Dev", "analytics").unwrap();
        assert_eq!(
            names.conflict_table("conflictvisitmaps"),
            "\"Conflict_Dev\".\"conflictvisitmaps\""
        );
    }

    #[test]
    fn display_and_debug_never_show_the_password() {
        for raw in [
            "host=db.example port=5433 user=app password=s3cr3t-pw dbname=c",
            "postgresql://app:s3cr3t-pw@db.example:5433/c",
        ] {
            let ci = ConnInfo::parse(raw).unwrap();
            for shown in [ci.to_string(), format!("{ci:?}")] {
                assert!(!shown.contains("s3cr3t-pw"), "{shown}");
                assert!(shown.contains("password=***"), "{shown}");
                assert!(shown.contains("host=db.example port=5433 user=app dbname=c"));
            }
        }
    }

    #[test]
    fn a_connect_timeout_is_always_set() {
        let ci = ConnInfo::parse("host=h").unwrap();
        assert_eq!(
            ci.config().get_connect_timeout(),
            Some(&DEFAULT_CONNECT_TIMEOUT)
        );
        let ci = ConnInfo::parse("host=h connect_timeout=2").unwrap();
        assert_eq!(
            ci.config().get_connect_timeout(),
            Some(&Duration::from_secs(2))
        );
    }

    #[test]
    fn bad_strings_and_tls_requirements_are_configuration_errors() {
        let err = ConnInfo::parse("host=h port=notaport password=s3cr3t-pw").unwrap_err();
        assert!(matches!(err, StoreError::InvalidConnInfo { .. }));
        assert!(!err.to_string().contains("s3cr3t-pw"));
        assert!(matches!(
            ConnInfo::parse("user=u dbname=d").unwrap_err(),
            StoreError::InvalidConnInfo { .. }
        ));
        assert!(matches!(
            ConnInfo::parse("host=h sslmode=require").unwrap_err(),
            StoreError::TlsUnavailable { .. }
        ));
        assert!(ConnInfo::parse("host=h sslmode=disable").is_ok());
    }
}
