//! The TLS connector of every connection to the conflict database (rustls with the `ring`
//! provider, so no system OpenSSL is needed), and the description of a failed handshake.
//!
//! What is checked follows libpq's `sslmode` (see [`TlsMode`]):
//!
//! | mode | certificate chain | host name |
//! | --- | --- | --- |
//! | `disable` | (no TLS) | |
//! | `allow`, `prefer` | not checked | not checked |
//! | `require` | checked when a root certificate is available, as in libpq | not checked |
//! | `verify-ca` | checked against `sslrootcert` | not checked |
//! | `verify-full` | checked against `sslrootcert` | must match `host` |
//!
//! The root certificate is `sslrootcert`, or libpq's default `~/.postgresql/root.crt` when that
//! file exists. `verify-ca` / `verify-full` without a readable root certificate are refused
//! before anything is sent, naming the file. Files are read once, when the connection string is
//! parsed, so a bad path is a configuration error and not a failure halfway through a run.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{ring, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore};
use rustls::{Error as RustlsError, SignatureScheme};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::error::StoreError;
use super::tls_options::{TlsMode, TlsOptions};

/// What the connector checks of the server's certificate, decided from the options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verification {
    /// Nothing (`prefer`, or `require` without a root certificate): the connection is encrypted
    /// but not authenticated, as with libpq.
    None,
    /// The chain must lead to a certificate in this file; the host name is not checked.
    Chain(PathBuf),
    /// The chain, and the host name.
    ChainAndName(PathBuf),
}

/// The connector and what it checks.
#[derive(Clone)]
pub struct Tls {
    pub connector: MakeRustlsConnect,
    pub verification: Verification,
}

/// libpq's default root certificate, used when `sslrootcert` is not given.
fn default_root_cert() -> Option<PathBuf> {
    std::env::var_os("HOME").map(|home| Path::new(&home).join(".postgresql/root.crt"))
}

/// Decides what to verify and builds the connector, reading the certificate files.
pub fn build(options: &TlsOptions) -> Result<Tls, StoreError> {
    let verification = verification(options)?;
    let provider = Arc::new(ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_setup_error(&e))?;
    let builder = match &verification {
        Verification::None => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider))),
        Verification::Chain(path) => {
            let inner = webpki_verifier(path, provider)?;
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(ChainOnly(inner)))
        }
        Verification::ChainAndName(path) => {
            builder.with_webpki_verifier(webpki_verifier(path, provider)?)
        }
    };
    let config = match (&options.client_cert, &options.client_key) {
        (None, None) => builder.with_no_client_auth(),
        (Some(cert), Some(key)) => {
            let chain = read_certificates("sslcert", cert)?;
            let key = PrivateKeyDer::from_pem_file(key).map_err(|e| StoreError::TlsConfig {
                setting: "sslkey",
                path: key.display().to_string(),
                reason: pem_problem(&e, "private key"),
            })?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| StoreError::TlsConfig {
                    setting: "sslkey",
                    path: options
                        .client_key
                        .as_deref()
                        .unwrap_or(cert)
                        .display()
                        .to_string(),
                    reason: format!("does not fit the certificate of sslcert: {e}"),
                })?
        }
        (Some(_), None) | (None, Some(_)) => {
            return Err(StoreError::InvalidConnInfo {
                reason: "sslcert and sslkey go together: give both PEM files or neither".into(),
            })
        }
    };
    let mut config = config;
    // libpq 17 offers this ALPN name on every TLS connection; PostgreSQL 17 requires it for
    // `sslnegotiation=direct`, older servers ignore it.
    config.alpn_protocols = vec![b"postgresql".to_vec()];
    Ok(Tls {
        connector: MakeRustlsConnect::new(config),
        verification,
    })
}

fn verification(options: &TlsOptions) -> Result<Verification, StoreError> {
    let (root, explicit) = match &options.root_cert {
        Some(path) => (Some(path.clone()), true),
        None => (default_root_cert(), false),
    };
    // The default file counts only when it exists (libpq); a named one must be readable.
    let root = root.filter(|p| explicit || p.is_file());
    Ok(match options.mode {
        TlsMode::Disable | TlsMode::Allow | TlsMode::Prefer => Verification::None,
        TlsMode::Require => root.map_or(Verification::None, Verification::Chain),
        TlsMode::VerifyCa | TlsMode::VerifyFull => {
            let path = root.ok_or_else(|| StoreError::TlsConfig {
                setting: "sslrootcert",
                path: default_root_cert()
                    .map(|p| p.display().to_string())
                    .unwrap_or_else(|| "~/.postgresql/root.crt".into()),
                reason: format!(
                    "sslmode={} checks the server's certificate against a root certificate, \
                     and this default file does not exist: name the CA's PEM file with \
                     sslrootcert=…",
                    options.mode
                ),
            })?;
            if options.mode == TlsMode::VerifyCa {
                Verification::Chain(path)
            } else {
                Verification::ChainAndName(path)
            }
        }
    })
}

fn webpki_verifier(
    path: &Path,
    provider: Arc<CryptoProvider>,
) -> Result<Arc<WebPkiServerVerifier>, StoreError> {
    let bad = |reason: String| StoreError::TlsConfig {
        setting: "sslrootcert",
        path: path.display().to_string(),
        reason,
    };
    let mut roots = RootCertStore::empty();
    for cert in read_certificates("sslrootcert", path)? {
        roots
            .add(cert)
            .map_err(|e| bad(format!("not a usable CA certificate: {e}")))?;
    }
    WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
        .build()
        .map_err(|e| bad(e.to_string()))
}

/// Every certificate of a PEM file; none at all is an error.
fn read_certificates(
    setting: &'static str,
    path: &Path,
) -> Result<Vec<CertificateDer<'static>>, StoreError> {
    let bad = |reason: String| StoreError::TlsConfig {
        setting,
        path: path.display().to_string(),
        reason,
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| bad(pem_problem(&e, "certificate")))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(pem_problem(&e, "certificate")))?;
    if certs.is_empty() {
        return Err(bad(
            "no PEM certificate (-----BEGIN CERTIFICATE-----) in the file".into(),
        ));
    }
    Ok(certs)
}

fn pem_problem(e: &rustls::pki_types::pem::Error, what: &str) -> String {
    use rustls::pki_types::pem::Error;
    match e {
        Error::Io(io) => format!("cannot read the file: {io}"),
        Error::NoItemsFound => format!("no PEM {what} in the file"),
        other => format!("not a valid PEM file: {other:?}"),
    }
}

fn tls_setup_error(e: &RustlsError) -> StoreError {
    StoreError::InvalidConnInfo {
        reason: format!("cannot set up TLS: {e}"),
    }
}

/// `prefer`/`require` without a root certificate: any certificate is accepted, but the
/// handshake signatures are still checked, so the session is encrypted to whoever holds the
/// presented certificate's key.
#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, RustlsError> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, RustlsError> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, RustlsError> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// `verify-ca`: the full WebPKI check, except that a certificate issued for another name is
/// accepted. WebPKI checks the chain (issuer, validity, usage) before the name, so a name
/// error means everything else passed.
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, RustlsError> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(RustlsError::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, RustlsError> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, RustlsError> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// When `error` is a failed TLS negotiation, what went wrong in words a DBA can act on
/// ("the server's certificate is not signed by a CA in sslrootcert … (unknown issuer)").
/// `None` for any other failure.
pub fn handshake_problem(error: &postgres::Error, verification: &Verification) -> Option<String> {
    if let Some(rustls_error) = find_rustls_error(error) {
        return Some(describe(rustls_error, verification));
    }
    // The driver's own TLS failures (e.g. "server does not support TLS") are plain strings
    // under its "error performing TLS handshake" message.
    let top = error.to_string();
    top.starts_with("error performing TLS handshake").then(|| {
        let mut text = top;
        let mut cause = std::error::Error::source(error);
        while let Some(c) = cause {
            text.push_str(": ");
            text.push_str(&c.to_string());
            cause = c.source();
        }
        text
    })
}

/// The rustls error somewhere in the chain. `io::Error::source` skips the error it wraps, so
/// an `io::Error` is looked into with `get_ref`.
fn find_rustls_error(error: &postgres::Error) -> Option<&RustlsError> {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = current {
        if let Some(r) = e.downcast_ref::<RustlsError>() {
            return Some(r);
        }
        if let Some(r) = e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .and_then(|inner| inner.downcast_ref::<RustlsError>())
        {
            return Some(r);
        }
        current = e.source();
    }
    None
}

fn describe(error: &RustlsError, verification: &Verification) -> String {
    let roots = match verification {
        Verification::Chain(p) | Verification::ChainAndName(p) => p.display().to_string(),
        Verification::None => "(none)".into(),
    };
    let certificate = "the server's certificate";
    match error {
        RustlsError::InvalidCertificate(c) => match c {
            CertificateError::UnknownIssuer => format!(
                "{certificate} is not signed by a CA of sslrootcert={roots} (unknown issuer)"
            ),
            CertificateError::NotValidForName => {
                format!("{certificate} is not valid for the host name (name mismatch)")
            }
            CertificateError::NotValidForNameContext {
                expected,
                presented,
            } => format!(
                "{certificate} is not valid for host name {:?} (name mismatch); it names {}",
                expected.to_str(),
                if presented.is_empty() {
                    "no host".to_string()
                } else {
                    presented
                        .iter()
                        .map(|p| plain_name(p))
                        .collect::<Vec<_>>()
                        .join(", ")
                }
            ),
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                format!("{certificate} has expired")
            }
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                format!("{certificate} is not valid yet (check the clocks)")
            }
            CertificateError::Revoked => format!("{certificate} has been revoked"),
            CertificateError::BadSignature => format!("{certificate} has a bad signature"),
            CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. } => {
                format!("{certificate} is not meant for a TLS server (extended key usage)")
            }
            other => format!("{certificate} is not acceptable: {other:?}"),
        },
        RustlsError::AlertReceived(alert) => format!(
            "the server refused the TLS handshake ({alert:?}); if it asks for a client \
             certificate, give sslcert and sslkey"
        ),
        other => format!("TLS failed: {other}"),
    }
}

/// `localhost` for webpki's `DnsName("localhost")`, `127.0.0.1` for `IpAddress(127.0.0.1)`:
/// the names as a DBA would write them in the certificate request.
fn plain_name(presented: &str) -> &str {
    presented
        .strip_prefix("DnsName(\"")
        .and_then(|s| s.strip_suffix("\")"))
        .or_else(|| {
            presented
                .strip_prefix("IpAddress(")
                .and_then(|s| s.strip_suffix(')'))
        })
        .unwrap_or(presented)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_certificate_problem_is_named() {
        let roots = Verification::ChainAndName(PathBuf::from("/etc/conflicts/ca.pem"));
        let cases = [
            (
                CertificateError::UnknownIssuer,
                "sslrootcert=/etc/conflicts/ca.pem (unknown issuer)",
            ),
            (CertificateError::Expired, "has expired"),
            (CertificateError::NotValidYet, "not valid yet"),
            (CertificateError::Revoked, "revoked"),
            (CertificateError::NotValidForName, "(name mismatch)"),
            (
                CertificateError::NotValidForNameContext {
                    expected: ServerName::try_from("db.example").unwrap(),
                    presented: vec!["DnsName(\"other.example\")".into()],
                },
                "not valid for host name \"db.example\" (name mismatch); it names other.example",
            ),
        ];
        for (error, expected) in cases {
            let text = describe(&RustlsError::InvalidCertificate(error), &roots);
            assert!(text.starts_with("the server's certificate "), "{text}");
            assert!(text.contains(expected), "{text} lacks {expected}");
        }
    }

    #[test]
    fn presented_names_are_shown_plain() {
        assert_eq!(plain_name("DnsName(\"db.example\")"), "db.example");
        assert_eq!(plain_name("IpAddress(127.0.0.1)"), "127.0.0.1");
        assert_eq!(plain_name("Other"), "Other");
    }
}
