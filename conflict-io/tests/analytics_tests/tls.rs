//! The analytics side over TLS: psqlODBC against the TLS-only test cluster. `SSLmode=require`
//! (what the other tests use) connects; `verify-full` checks the server's certificate against
//! the CA named through libpq's `sslrootcert` (`pqopt={…}`), and a wrong CA is a connect error.

use conflict_io::analytics::{
    AnalyticsConfig, AnalyticsError, AnalyticsSchema, AnalyticsSource, ConnectionString, Dialect,
};

use crate::support::env;

fn env_path(name: &str) -> String {
    match std::env::var(name) {
        Ok(p) if std::path::Path::new(&p).is_file() => p,
        _ => panic!("{name} does not name a file: run the tests through scripts/test.sh"),
    }
}

/// A psqlODBC connection string for the test server with the given TLS attributes only (the
/// shared helper always adds `SSLmode=require`).
fn odbc(server: &str, tls: &str) -> String {
    let ci = env::conninfo();
    let port = ci.config().get_ports().first().copied().unwrap_or(5432);
    format!(
        "Driver={};Server={server};Port={port};Database={};Uid={};{tls}",
        env::driver_path(),
        ci.config().get_dbname().unwrap_or("postgres"),
        ci.config().get_user().unwrap_or("postgres"),
    )
}

fn connect(connection: String) -> Result<AnalyticsSource, AnalyticsError> {
    AnalyticsSource::connect(AnalyticsConfig::new(
        ConnectionString::new(connection),
        AnalyticsSchema::new("analytics").expect("valid name"),
        Dialect::Postgres,
    ))
}

fn connect_error(connection: String) -> String {
    match connect(connection) {
        Ok(_) => panic!("connected"),
        Err(e) => {
            assert!(matches!(e, AnalyticsError::Connect { .. }), "{e:?}");
            e.to_string()
        }
    }
}

#[test]
fn psqlodbc_without_tls_is_refused_by_the_test_server() {
    let message = connect_error(odbc("127.0.0.1", "SSLmode=disable;"));
    assert!(message.contains("no encryption"), "{message}");
}

#[test]
fn psqlodbc_require_connects() {
    connect(odbc("127.0.0.1", "SSLmode=require;")).unwrap();
}

#[test]
fn psqlodbc_verify_full_checks_the_ca() {
    let ca = env_path("CONFLICTS_TEST_PG_CA");
    connect(odbc(
        "localhost",
        &format!("SSLmode=verify-full;pqopt={{sslrootcert={ca}}};"),
    ))
    .unwrap();
    let other = env_path("CONFLICTS_TEST_PG_OTHER_CA");
    let message = connect_error(odbc(
        "localhost",
        &format!("SSLmode=verify-full;pqopt={{sslrootcert={other}}};"),
    ));
    assert!(message.contains("certificate verify failed"), "{message}");
}
