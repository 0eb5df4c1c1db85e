//! The ODBC connection string of the analytics source, which may hold secrets: it is shown
//! only redacted, and driver messages are masked with it. A file of its own because both the
//! configuration and the errors use it.

use std::fmt;

use super::attributes::{attributes, unbraced};

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
}
