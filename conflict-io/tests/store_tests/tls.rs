//! TLS to the conflict database against the test cluster of scripts/test.sh, which accepts TCP
//! connections over TLS only, with a certificate for `localhost` and `127.0.0.1` signed by the
//! CA in `CONFLICTS_TEST_PG_CA`. `CONFLICTS_TEST_PG_OTHER_CA` is an unrelated CA.

use std::time::Duration;

use conflict_io::store::{self, ConnInfo, Pool, PoolOptions, StoreError};
use postgres::config::Host;

use super::support;

/// A file path the test command exports; a missing one is a failure, never a skip.
fn env_path(name: &str) -> String {
    match std::env::var(name) {
        Ok(p) if std::path::Path::new(&p).is_file() => p,
        _ => panic!("{name} does not name a file: run the tests through scripts/test.sh"),
    }
}

fn ca() -> String {
    env_path("CONFLICTS_TEST_PG_CA")
}

fn other_ca() -> String {
    env_path("CONFLICTS_TEST_PG_OTHER_CA")
}

/// The test server's port, user and database with `host` and the TLS settings of `extra`
/// (the server's own `host=` cannot simply be appended: a second `host` adds a host).
fn conninfo_text(host: &str, extra: &str) -> String {
    let base = support::conninfo();
    let c = base.config();
    assert!(
        matches!(c.get_hosts().first(), Some(Host::Tcp(_))),
        "the test server is reached over TCP"
    );
    format!(
        "host={host} port={} user={} dbname={} {extra}",
        c.get_ports().first().copied().unwrap_or(5432),
        c.get_user().unwrap_or("postgres"),
        c.get_dbname().unwrap_or("postgres"),
    )
}

fn parse(text: &str) -> ConnInfo {
    ConnInfo::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

/// Whether the server sees this session as TLS, and the protocol version.
fn session_tls(client: &mut postgres::Client) -> (bool, Option<String>) {
    let row = client
        .query_one(
            "SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .unwrap();
    (row.get(0), row.get(1))
}

fn connect_error(text: &str) -> StoreError {
    match store::connect(&parse(text)) {
        Ok(_) => panic!("connected with {text}"),
        Err(e) => e,
    }
}

#[test]
fn require_connects_over_tls() {
    let mut client =
        store::connect(&parse(&conninfo_text("127.0.0.1", "sslmode=require"))).unwrap();
    let (ssl, version) = session_tls(&mut client);
    assert!(ssl);
    assert!(version.is_some_and(|v| v.starts_with("TLSv1.")));
}

#[test]
fn the_default_mode_prefers_tls() {
    // The test command's own connection string has no sslmode: libpq's default, prefer.
    let ci = support::conninfo();
    assert!(ci.to_string().ends_with(" sslmode=prefer"), "{ci}");
    let mut client = store::connect(&ci).unwrap();
    assert!(session_tls(&mut client).0);
}

#[test]
fn disable_is_refused_by_the_tls_only_test_server() {
    // Proves that the test server enforces TLS, so the other tests really test it.
    let e = connect_error(&conninfo_text("127.0.0.1", "sslmode=disable"));
    assert!(matches!(e, StoreError::Connect { .. }), "{e:?}");
    assert_eq!(e.sqlstate(), Some("28000"), "{e}");
    assert!(e.to_string().contains("no encryption"), "{e}");
}

#[test]
fn verify_full_with_the_right_ca_connects_by_name_and_by_address() {
    for host in ["localhost", "127.0.0.1"] {
        let text = conninfo_text(host, &format!("sslmode=verify-full sslrootcert={}", ca()));
        let ci = parse(&text);
        assert!(ci.to_string().ends_with(" sslmode=verify-full"), "{ci}");
        let mut client = store::connect(&ci).unwrap_or_else(|e| panic!("{host}: {e}"));
        assert!(session_tls(&mut client).0, "{host}");
    }
}

#[test]
fn verify_full_with_another_ca_names_the_unknown_issuer_and_writes_nothing() {
    let schema = format!("conflict_tls_{}", support::random_suffix());
    let text = conninfo_text(
        "127.0.0.1",
        &format!("sslmode=verify-full sslrootcert={}", other_ca()),
    );
    let e = connect_error(&text);
    assert!(matches!(e, StoreError::TlsHandshake { .. }), "{e:?}");
    let message = e.to_string();
    assert!(message.contains("unknown issuer"), "{message}");
    assert!(message.contains(&other_ca()), "{message}");
    // The store of a run refuses just the same, before creating anything.
    let names = store::SchemaNames::new(&schema, "analytics").unwrap();
    let Err(e) = store::PgStore::connect(&parse(&text), names, 2) else {
        panic!("the store connected through an untrusted certificate");
    };
    assert!(matches!(e, StoreError::TlsHandshake { .. }), "{e:?}");
    let exists: bool = support::client()
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)",
            &[&schema],
        )
        .unwrap()
        .get(0);
    assert!(!exists, "schema {schema} was created");
}

#[test]
fn verify_full_against_another_host_name_is_a_name_mismatch() {
    // The TCP connection goes to the test server (hostaddr); the certificate is checked
    // against `host`, which it does not name.
    let text = conninfo_text(
        "wrong.example",
        &format!(
            "hostaddr=127.0.0.1 sslmode=verify-full sslrootcert={}",
            ca()
        ),
    );
    let e = connect_error(&text);
    assert!(matches!(e, StoreError::TlsHandshake { .. }), "{e:?}");
    let message = e.to_string();
    assert!(message.contains("name mismatch"), "{message}");
    assert!(message.contains("\"wrong.example\""), "{message}");
}

#[test]
fn verify_ca_checks_the_chain_but_not_the_host_name() {
    let wrong_name = |root: &str| {
        conninfo_text(
            "wrong.example",
            &format!("hostaddr=127.0.0.1 sslmode=verify-ca sslrootcert={root}"),
        )
    };
    let mut client = store::connect(&parse(&wrong_name(&ca()))).unwrap();
    assert!(session_tls(&mut client).0);
    let e = connect_error(&wrong_name(&other_ca()));
    assert!(e.to_string().contains("unknown issuer"), "{e}");
}

#[test]
fn require_with_a_root_certificate_checks_the_chain_as_libpq_does() {
    let text = conninfo_text(
        "127.0.0.1",
        &format!("sslmode=require sslrootcert={}", other_ca()),
    );
    let e = connect_error(&text);
    assert!(matches!(e, StoreError::TlsHandshake { .. }), "{e:?}");
    assert!(e.to_string().contains("unknown issuer"), "{e}");
    let text = conninfo_text(
        "127.0.0.1",
        &format!("sslmode=require sslrootcert={}", ca()),
    );
    assert!(store::connect(&parse(&text)).is_ok());
}

#[test]
fn the_pool_connects_with_verify_full() {
    let text = conninfo_text(
        "localhost",
        &format!("sslmode=verify-full sslrootcert={}", ca()),
    );
    let options = PoolOptions {
        workers: 3,
        connection_timeout: Duration::from_secs(5),
    };
    let pool = Pool::build(&parse(&text), &options).unwrap();
    let mut held: Vec<_> = (0..3).map(|_| pool.get().unwrap()).collect();
    for client in &mut held {
        assert!(session_tls(client).0);
    }
    assert_eq!(pool.connections(), 3);
}

/// The role the test server authenticates by client certificate only (`cert` in pg_hba.conf).
const CERT_USER: &str = "conflicts_cert_user";

fn create_cert_user() {
    // Tests run in parallel: the role may be created by another test at the same moment.
    support::client()
        .batch_execute(&format!(
            "DO $$ BEGIN CREATE ROLE {CERT_USER} LOGIN; \
             EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$"
        ))
        .unwrap();
}

#[test]
fn a_client_certificate_logs_in_where_the_server_demands_one() {
    create_cert_user();
    let base = conninfo_text(
        "localhost",
        &format!("sslmode=verify-full sslrootcert={}", ca()),
    )
    .replace("user=postgres", &format!("user={CERT_USER}"));
    assert!(base.contains(CERT_USER), "{base}");

    let e = connect_error(&base);
    assert_eq!(e.sqlstate(), Some("28000"), "{e}");

    let with_cert = format!(
        "{base} sslcert={} sslkey={}",
        env_path("CONFLICTS_TEST_PG_CLIENT_CERT"),
        env_path("CONFLICTS_TEST_PG_CLIENT_KEY")
    );
    let mut client = store::connect(&parse(&with_cert)).unwrap();
    let user: String = client
        .query_one("SELECT current_user::text", &[])
        .unwrap()
        .get(0);
    assert_eq!(user, CERT_USER);
}
