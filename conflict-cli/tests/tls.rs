//! `conflicts db init` against the TLS-only test cluster of scripts/test.sh: a server
//! certificate from an unknown CA, or for another host name, stops the command with exit code 2
//! and one clear message, before anything is created; the right CA lets it through.

use std::process::{Command, Output};

use conflict_io::store::{self, ConnInfo};

const SECRET: &str = "tls-Secret-pw";

fn env(name: &str) -> String {
    std::env::var(name)
        .unwrap_or_else(|_| panic!("{name} is not set: run the tests through scripts/test.sh"))
}

/// `port=…` of the test server's connection string.
fn port() -> String {
    let pg = env("CONFLICTS_TEST_PG");
    pg.split_whitespace()
        .find(|kv| kv.starts_with("port="))
        .unwrap_or_else(|| panic!("no port in CONFLICTS_TEST_PG: {pg}"))
        .to_string()
}

fn unique_schema() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("conflict_cli_tls_{}_{nanos}", std::process::id())
}

fn db_init(pg: &str, schema: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_conflicts"))
        .args(["db", "init", "--schema", schema])
        .env("CONFLICTS_PG", pg)
        .output()
        .unwrap()
}

/// Checked (and cleaned up) through the test server's own connection string.
fn schema_exists(schema: &str) -> bool {
    let ci = ConnInfo::parse(&env("CONFLICTS_TEST_PG")).unwrap();
    let mut client = store::connect(&ci).unwrap();
    client
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)",
            &[&schema],
        )
        .unwrap()
        .get(0)
}

fn drop_schema(schema: &str) {
    let ci = ConnInfo::parse(&env("CONFLICTS_TEST_PG")).unwrap();
    store::connect(&ci)
        .unwrap()
        .batch_execute(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
        .unwrap();
}

fn assert_refused(out: &Output, schema: &str, cause: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.starts_with("error: TLS with PostgreSQL at "),
        "{stderr}"
    );
    assert!(stderr.contains(cause), "{stderr}");
    assert!(stderr.contains("password=***"), "{stderr}");
    assert!(!stderr.contains(SECRET), "{stderr}");
    assert!(!schema_exists(schema), "{schema} was created: {stderr}");
}

#[test]
fn db_init_refuses_a_certificate_of_another_ca_and_creates_nothing() {
    let schema = unique_schema();
    let pg = format!(
        "host=127.0.0.1 {} user=postgres password={SECRET} sslmode=verify-full sslrootcert={}",
        port(),
        env("CONFLICTS_TEST_PG_OTHER_CA")
    );
    let out = db_init(&pg, &schema);
    assert_refused(&out, &schema, "(unknown issuer)");
}

#[test]
fn db_init_refuses_a_certificate_for_another_host_name_and_creates_nothing() {
    let schema = unique_schema();
    let pg = format!(
        "host=wrong.example hostaddr=127.0.0.1 {} user=postgres password={SECRET} \
         sslmode=verify-full sslrootcert={}",
        port(),
        env("CONFLICTS_TEST_PG_CA")
    );
    let out = db_init(&pg, &schema);
    assert_refused(&out, &schema, "(name mismatch)");
}

#[test]
fn db_init_goes_through_with_the_right_ca() {
    let schema = unique_schema();
    let pg = format!(
        "host=localhost {} user=postgres sslmode=verify-full sslrootcert={}",
        port(),
        env("CONFLICTS_TEST_PG_CA")
    );
    let out = db_init(&pg, &schema);
    let exists = schema_exists(&schema);
    drop_schema(&schema);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(exists);
}
