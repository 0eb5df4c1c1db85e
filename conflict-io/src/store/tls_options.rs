//! The TLS settings of a connection string, taken out before the driver parses the rest.
//!
//! The `postgres` driver's parser knows only `sslmode=disable|prefer|require` and rejects
//! `verify-ca`, `verify-full`, `sslrootcert`, `sslcert` and `sslkey` as invalid or unknown. The
//! tool reads those keys itself, with libpq's syntax (a `key=value` string with single quotes
//! and backslash escapes, or the query of a `postgresql://` URL with percent-encoding), and
//! hands the driver the string without them. The values of other keys are never quoted in an
//! error: one of them may be a password.

use std::fmt;
use std::path::PathBuf;

use super::error::StoreError;

/// libpq's `sslmode`: whether TLS is used and what of the server's certificate is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TlsMode {
    /// Plain text only.
    Disable,
    /// libpq tries plain text first; the driver cannot, so this behaves as `prefer` (TLS when
    /// the server offers it, which is never less safe).
    Allow,
    /// libpq's default: TLS when the server offers it, plain text otherwise; no certificate
    /// check.
    #[default]
    Prefer,
    /// TLS or no connection; no certificate check unless a root certificate is available, in
    /// which case libpq (and the tool) check the chain as `verify-ca` does.
    Require,
    /// TLS; the server's certificate chain must lead to a certificate of `sslrootcert`.
    VerifyCa,
    /// `verify-ca`, and the certificate must name the host that was connected to.
    VerifyFull,
}

impl TlsMode {
    /// The accepted spellings, for the error message of an unknown one.
    const NAMES: &'static str = "disable, allow, prefer, require, verify-ca, verify-full";

    fn parse(value: &str) -> Result<Self, StoreError> {
        Ok(match value {
            "disable" => TlsMode::Disable,
            "allow" => TlsMode::Allow,
            "prefer" => TlsMode::Prefer,
            "require" => TlsMode::Require,
            "verify-ca" => TlsMode::VerifyCa,
            "verify-full" => TlsMode::VerifyFull,
            // An sslmode is not a secret, and echoing it is the quickest way to spot a typo.
            other => {
                return Err(StoreError::InvalidConnInfo {
                    reason: format!(
                        "invalid sslmode {other:?}: expected one of {}",
                        TlsMode::NAMES
                    ),
                })
            }
        })
    }

    /// The libpq spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            TlsMode::Disable => "disable",
            TlsMode::Allow => "allow",
            TlsMode::Prefer => "prefer",
            TlsMode::Require => "require",
            TlsMode::VerifyCa => "verify-ca",
            TlsMode::VerifyFull => "verify-full",
        }
    }

    /// The mode the driver is given: it only decides whether TLS is attempted and whether it
    /// is mandatory; certificate checks are the connector's business.
    pub fn driver_mode(self) -> postgres::config::SslMode {
        use postgres::config::SslMode;
        match self {
            TlsMode::Disable => SslMode::Disable,
            TlsMode::Allow | TlsMode::Prefer => SslMode::Prefer,
            TlsMode::Require | TlsMode::VerifyCa | TlsMode::VerifyFull => SslMode::Require,
        }
    }
}

impl fmt::Display for TlsMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The TLS keys of a connection string; a key given twice keeps its last value, as in libpq.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsOptions {
    /// `sslmode`, `prefer` when absent.
    pub mode: TlsMode,
    /// `sslrootcert`: PEM file of the certificate authorities trusted to sign the server's
    /// certificate.
    pub root_cert: Option<PathBuf>,
    /// `sslcert`: PEM file of the client certificate (and any intermediates).
    pub client_cert: Option<PathBuf>,
    /// `sslkey`: PEM file of the client certificate's private key.
    pub client_key: Option<PathBuf>,
}

impl TlsOptions {
    /// Records `key=value` when `key` is a TLS key; false for any other key. An empty value
    /// means "not set", as in libpq.
    fn take(&mut self, key: &str, value: &str) -> Result<bool, StoreError> {
        let path = || (!value.is_empty()).then(|| PathBuf::from(value));
        match key {
            "sslmode" => self.mode = TlsMode::parse(value)?,
            "sslrootcert" => self.root_cert = path(),
            "sslcert" => self.client_cert = path(),
            "sslkey" => self.client_key = path(),
            _ => return Ok(false),
        }
        Ok(true)
    }
}

/// Splits `conninfo` into the TLS options and the connection string the driver parses (the
/// same string without the TLS keys).
pub fn split_tls_options(conninfo: &str) -> Result<(String, TlsOptions), StoreError> {
    let trimmed = conninfo.trim_start();
    if trimmed.starts_with("postgresql://") || trimmed.starts_with("postgres://") {
        split_url(trimmed)
    } else {
        split_key_values(conninfo)
    }
}

fn invalid(reason: String) -> StoreError {
    StoreError::InvalidConnInfo { reason }
}

/// libpq's `key = value` syntax: whitespace around `=` is allowed; a value is either a run of
/// non-blank characters or single-quoted; in both a backslash takes the next character
/// literally.
fn split_key_values(conninfo: &str) -> Result<(String, TlsOptions), StoreError> {
    let mut options = TlsOptions::default();
    let mut rest: Vec<String> = Vec::new();
    let mut chars = conninfo.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.peek().is_none() {
            break;
        }
        let mut key = String::new();
        while let Some(c) = chars.next_if(|c| !c.is_whitespace() && *c != '=') {
            key.push(c);
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.next() != Some('=') {
            return Err(invalid(format!("missing \"=\" after {key:?}")));
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let mut value = String::new();
        if chars.next_if_eq(&'\'').is_some() {
            loop {
                match chars.next() {
                    Some('\'') => break,
                    Some('\\') => value.extend(chars.next()),
                    Some(c) => value.push(c),
                    // The value itself is not shown: it may be a password.
                    None => return Err(invalid(format!("unterminated quoted value of {key:?}"))),
                }
            }
        } else {
            while let Some(c) = chars.next_if(|c| !c.is_whitespace()) {
                if c == '\\' {
                    value.extend(chars.next());
                } else {
                    value.push(c);
                }
            }
        }
        if !options.take(&key, &value)? {
            rest.push(format!("{key}={}", quote_value(&value)));
        }
    }
    Ok((rest.join(" "), options))
}

/// A value single-quoted for the driver's parser, which undoes exactly these escapes.
fn quote_value(value: &str) -> String {
    let mut quoted = String::with_capacity(value.len() + 2);
    quoted.push('\'');
    for c in value.chars() {
        if c == '\'' || c == '\\' {
            quoted.push('\\');
        }
        quoted.push(c);
    }
    quoted.push('\'');
    quoted
}

/// The query of a `postgresql://` URL (after the first `?`, `&`-separated, percent-encoded).
/// Parameters that are not TLS keys are passed on byte for byte.
fn split_url(url: &str) -> Result<(String, TlsOptions), StoreError> {
    let mut options = TlsOptions::default();
    let Some((base, query)) = url.split_once('?') else {
        return Ok((url.to_string(), options));
    };
    let mut kept: Vec<&str> = Vec::new();
    for param in query.split('&').filter(|p| !p.is_empty()) {
        let (raw_key, raw_value) = param.split_once('=').unwrap_or((param, ""));
        let key = percent_decode(raw_key, "a URL parameter name")?;
        // Decoding errors name the key only: the value may be a password.
        let value = percent_decode(raw_value, &key)?;
        if !options.take(&key, &value)? {
            kept.push(param);
        }
    }
    let rest = if kept.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    Ok((rest, options))
}

/// `%XX` sequences decoded; anything else kept as is.
fn percent_decode(text: &str, what: &str) -> Result<String, StoreError> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| invalid(format!("bad percent-encoding in the value of {what:?}")))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out)
        .map_err(|_| invalid(format!("the value of {what:?} is not UTF-8 after decoding")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(s: &str) -> (String, TlsOptions) {
        split_tls_options(s).unwrap_or_else(|e| panic!("{s:?}: {e}"))
    }

    #[test]
    fn tls_keys_are_taken_out_of_a_key_value_string() {
        let (rest, o) = split(
            "host=db.example sslmode=verify-full sslrootcert=/etc/ca.pem \
             sslcert=/c.pem sslkey=/k.pem dbname=c",
        );
        assert_eq!(rest, "host='db.example' dbname='c'");
        assert_eq!(o.mode, TlsMode::VerifyFull);
        assert_eq!(o.root_cert, Some(PathBuf::from("/etc/ca.pem")));
        assert_eq!(o.client_cert, Some(PathBuf::from("/c.pem")));
        assert_eq!(o.client_key, Some(PathBuf::from("/k.pem")));
    }

    #[test]
    fn quoting_escapes_and_spaces_follow_libpq() {
        // Spaces around "=", a quoted path with a space, an escaped quote and backslash, an
        // escaped space in an unquoted value.
        let (rest, o) =
            split(r"host = h  sslrootcert = '/my certs/it\'s ca.pem' password='p w\\x' user=a\ b");
        assert_eq!(o.root_cert, Some(PathBuf::from("/my certs/it's ca.pem")));
        assert_eq!(rest, r"host='h' password='p w\\x' user='a b'");
        // What the driver reads back is the original value.
        let cfg: postgres::Config = rest.parse().unwrap();
        assert_eq!(cfg.get_password(), Some(&br"p w\x"[..]));
        assert_eq!(cfg.get_user(), Some("a b"));
    }

    #[test]
    fn the_last_value_of_a_repeated_key_wins_and_empty_means_unset() {
        let (_, o) =
            split("host=h sslmode=require sslmode=verify-ca sslrootcert=/a sslrootcert=''");
        assert_eq!(o.mode, TlsMode::VerifyCa);
        assert_eq!(o.root_cert, None);
    }

    #[test]
    fn every_libpq_mode_is_understood_and_prefer_is_the_default() {
        assert_eq!(split("host=h").1.mode, TlsMode::Prefer);
        for (text, mode) in [
            ("disable", TlsMode::Disable),
            ("allow", TlsMode::Allow),
            ("prefer", TlsMode::Prefer),
            ("require", TlsMode::Require),
            ("verify-ca", TlsMode::VerifyCa),
            ("verify-full", TlsMode::VerifyFull),
        ] {
            let o = split(&format!("host=h sslmode={text}")).1;
            assert_eq!(o.mode, mode);
            assert_eq!(o.mode.to_string(), text);
        }
    }

    #[test]
    fn an_unknown_mode_is_a_clear_error() {
        let e = split_tls_options("host=h sslmode=verify_full password=s3cr3t").unwrap_err();
        let text = e.to_string();
        assert!(matches!(e, StoreError::InvalidConnInfo { .. }), "{e:?}");
        assert!(text.contains("invalid sslmode \"verify_full\""), "{text}");
        assert!(text.contains("verify-full"), "{text}");
        assert!(!text.contains("s3cr3t"), "{text}");
    }

    #[test]
    fn syntax_errors_never_show_a_value() {
        for bad in ["host=h password='s3cr3t", "host=h password s3cr3t"] {
            let e = split_tls_options(bad).unwrap_err();
            assert!(matches!(e, StoreError::InvalidConnInfo { .. }), "{e:?}");
            assert!(!e.to_string().contains("s3cr3t"), "{e}");
        }
    }

    #[test]
    fn tls_keys_are_taken_out_of_a_url_query() {
        let (rest, o) = split(
            "postgresql://app:pw@db.example:5433/c?sslmode=verify-ca&application_name=x\
             &sslrootcert=%2Fetc%2Fmy%20ca.pem",
        );
        assert_eq!(
            rest,
            "postgresql://app:pw@db.example:5433/c?application_name=x"
        );
        assert_eq!(o.mode, TlsMode::VerifyCa);
        assert_eq!(o.root_cert, Some(PathBuf::from("/etc/my ca.pem")));

        let (rest, o) = split("postgres://h/db?sslmode=require");
        assert_eq!(rest, "postgres://h/db");
        assert_eq!(o.mode, TlsMode::Require);

        let (rest, o) = split("postgresql://h/db");
        assert_eq!(rest, "postgresql://h/db");
        assert_eq!(o, TlsOptions::default());
    }

    #[test]
    fn bad_percent_encoding_names_the_key_only() {
        let e = split_tls_options("postgresql://h/db?sslrootcert=%zz").unwrap_err();
        assert!(e.to_string().contains("\"sslrootcert\""), "{e}");
        assert!(split_tls_options("postgresql://h/db?sslmode=verify%2Dfull")
            .is_ok_and(|(_, o)| o.mode == TlsMode::VerifyFull));
    }

    /// Small deterministic generator: the same strings on every run.
    fn strings(seed: u64, count: usize, alphabet: &[char]) -> Vec<String> {
        let mut state = seed;
        let mut next = move || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) as usize
        };
        (0..count)
            .map(|_| {
                let len = next() % 12;
                (0..len)
                    .map(|_| alphabet[next() % alphabet.len()])
                    .collect()
            })
            .collect()
    }

    #[test]
    fn any_value_quoted_as_libpq_documents_reaches_the_driver_unchanged() {
        let alphabet = [
            'a', 'Z', ' ', '\'', '\\', '=', '%', '&', '?', '\u{e9}', '\t',
        ];
        for value in strings(7, 2000, &alphabet) {
            // libpq: single quotes around the value, backslash before ' and \.
            let quoted = value.replace('\\', "\\\\").replace('\'', "\\'");
            let text = format!("host=h password='{quoted}' sslmode=require");
            let (rest, o) = split(&text);
            assert_eq!(o.mode, TlsMode::Require);
            let cfg: postgres::Config = rest.parse().unwrap_or_else(|e| panic!("{rest}: {e}"));
            assert_eq!(cfg.get_password(), Some(value.as_bytes()), "{text}");
        }
    }

    #[test]
    fn arbitrary_text_never_panics() {
        let alphabet = [
            's', 'l', '=', ' ', '\'', '\\', '%', '2', 'F', '?', '&', '/', ':',
        ];
        for text in strings(11, 5000, &alphabet) {
            let _ = split_tls_options(&text);
            let _ = split_tls_options(&format!("postgresql://h/d?{text}"));
        }
    }
}
