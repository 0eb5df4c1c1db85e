//! Connection target and schema names of the conflict store (docs/tables.md §1).
//!
//! Schema names come from configuration and end up inside SQL text (identifiers cannot be bind
//! parameters), so each one is validated against `^[A-Za-z_][A-Za-z0-9_]{0,62}$` before it is
//! ever formatted into a statement. Conflict-schema names are then written double-quoted (case
//! kept exactly as configured); analytics names unquoted, so that each server folds case its
//! own way.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use postgres::config::Host;
use tokio_postgres_rustls::MakeRustlsConnect;

pub use crate::ident::{Identifier, QualifiedName};

use super::error::StoreError;
use super::tls::{self, Tls, Verification};
use super::tls_options::{split_tls_options, TlsMode};

/// Connect timeout applied when the connection string sets none: a server that is down or
/// unreachable must fail the run within seconds, not hang on the operating system's TCP timeout.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The two configured schema names (defaults `conflict` and `analytics`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaNames {
    /// The conflict schema.
    pub conflict: Identifier,
    /// The analytics schema (possibly `database.schema`).
    pub analytics: QualifiedName,
}

impl SchemaNames {
    /// Validates both names.
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

/// A parsed PostgreSQL connection string (libpq `key=value` form or `postgresql://` URL),
/// with the TLS connector its `sslmode`, `sslrootcert`, `sslcert` and `sslkey` ask for.
///
/// `Display` and `Debug` show only host, port, user, database and sslmode; a password is shown
/// as `***`. The raw string is not kept.
#[derive(Clone)]
pub struct ConnInfo {
    config: postgres::Config,
    mode: TlsMode,
    tls: Tls,
}

impl ConnInfo {
    /// Parses `conninfo` and reads the certificate files it names, so that a bad path or file
    /// is reported here, as a configuration error, before any connection is attempted.
    pub fn parse(conninfo: &str) -> Result<Self, StoreError> {
        // The driver does not understand libpq's TLS keys; they are taken out first.
        let (driver_text, tls_options) = split_tls_options(conninfo)?;
        // The parser's messages name the offending option, never its value, so they are safe
        // to pass on.
        let mut config =
            postgres::Config::from_str(&driver_text).map_err(|e| StoreError::InvalidConnInfo {
                reason: e.to_string(),
            })?;
        if config.get_hosts().is_empty() {
            return Err(StoreError::InvalidConnInfo {
                reason: "no host given (host=… or a postgresql:// URL with a host)".into(),
            });
        }
        config.ssl_mode(tls_options.mode.driver_mode());
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(DEFAULT_CONNECT_TIMEOUT);
        }
        if config.get_application_name().is_none() {
            config.application_name("conflicts");
        }
        let tls = tls::build(&tls_options)?;
        Ok(ConnInfo {
            config,
            mode: tls_options.mode,
            tls,
        })
    }

    /// The driver's configuration (TLS keys other than the plain mode are not in it).
    pub fn config(&self) -> &postgres::Config {
        &self.config
    }

    /// The `sslmode` as given (libpq spelling), `prefer` when absent.
    pub fn tls_mode(&self) -> TlsMode {
        self.mode
    }

    /// What the connector checks of the server's certificate.
    pub fn verification(&self) -> &Verification {
        &self.tls.verification
    }

    /// The connector to pass to every connect of this target (single client or pool); for
    /// `sslmode=disable` the driver never calls it.
    pub fn tls_connector(&self) -> MakeRustlsConnect {
        self.tls.connector.clone()
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
        write!(f, " sslmode={}", self.mode)
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
    use postgres::config::SslMode;

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
    fn bad_strings_are_configuration_errors() {
        let err = ConnInfo::parse("host=h port=notaport password=s3cr3t-pw").unwrap_err();
        assert!(matches!(err, StoreError::InvalidConnInfo { .. }));
        assert!(!err.to_string().contains("s3cr3t-pw"));
        assert!(matches!(
            ConnInfo::parse("user=u dbname=d").unwrap_err(),
            StoreError::InvalidConnInfo { .. }
        ));
    }

    #[test]
    fn display_shows_the_sslmode_as_given() {
        for mode in ["disable", "allow", "prefer", "require"] {
            let ci = ConnInfo::parse(&format!("host=h password=s3cr3t-pw sslmode={mode}")).unwrap();
            assert!(
                ci.to_string().ends_with(&format!(" sslmode={mode}")),
                "{ci}"
            );
            assert!(!ci.to_string().contains("s3cr3t-pw"), "{ci}");
        }
        assert!(ConnInfo::parse("host=h")
            .unwrap()
            .to_string()
            .ends_with(" sslmode=prefer"));
        let ci = ConnInfo::parse("postgresql://u:s3cr3t-pw@h/d?sslmode=require").unwrap();
        assert_eq!(
            ci.to_string(),
            // The driver fills in the default port of a URL without one.
            "host=h port=5432 user=u dbname=d password=*** sslmode=require"
        );
        assert_eq!(ci.config().get_ssl_mode(), SslMode::Require);
    }

    #[test]
    fn verification_needs_a_root_certificate_file() {
        let e = ConnInfo::parse("host=h sslmode=verify-full sslrootcert=/nonexistent/ca.pem")
            .unwrap_err();
        assert!(
            matches!(
                e,
                StoreError::TlsConfig {
                    setting: "sslrootcert",
                    ..
                }
            ),
            "{e:?}"
        );
        assert!(e.to_string().contains("/nonexistent/ca.pem"), "{e}");
        assert!(e.to_string().contains("cannot read"), "{e}");

        // Without sslrootcert, libpq's default file is used; this machine has none.
        let default = std::env::var("HOME").unwrap() + "/.postgresql/root.crt";
        assert!(
            !std::path::Path::new(&default).exists(),
            "{default} exists here"
        );
        for mode in ["verify-ca", "verify-full"] {
            let e = ConnInfo::parse(&format!("host=h sslmode={mode}")).unwrap_err();
            assert!(matches!(e, StoreError::TlsConfig { .. }), "{e:?}");
            assert!(e.to_string().contains(&default), "{e}");
            assert!(e.to_string().contains("sslrootcert="), "{e}");
        }
        // require without a root certificate encrypts without checking, as libpq does.
        let ci = ConnInfo::parse("host=h sslmode=require").unwrap();
        assert_eq!(ci.verification(), &Verification::None);
    }

    #[test]
    fn a_file_without_certificates_is_refused() {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        std::io::Write::write_all(&mut f, b"not a certificate\n").unwrap();
        let path = f.path().display().to_string();
        for mode in ["require", "verify-ca", "verify-full"] {
            let e =
                ConnInfo::parse(&format!("host=h sslmode={mode} sslrootcert={path}")).unwrap_err();
            assert!(matches!(e, StoreError::TlsConfig { .. }), "{e:?}");
            assert!(e.to_string().contains(&path), "{e}");
            assert!(e.to_string().contains("no PEM certificate"), "{e}");
        }
    }

    #[test]
    fn a_client_certificate_needs_its_key() {
        for half in ["sslcert=/c.pem", "sslkey=/k.pem"] {
            let e = ConnInfo::parse(&format!("host=h sslmode=require {half}")).unwrap_err();
            assert!(matches!(e, StoreError::InvalidConnInfo { .. }), "{e:?}");
            assert!(e.to_string().contains("sslcert and sslkey"), "{e}");
        }
    }
}
