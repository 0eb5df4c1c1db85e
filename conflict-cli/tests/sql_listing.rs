//! `conflicts sql`: the statements a run sends, printed without a connection.

use assert_cmd::Command;

fn conflicts() -> Command {
    let mut c = Command::cargo_bin("conflicts").expect("the conflicts binary");
    // No connection may be needed: nothing of the environment is used.
    c.env_remove("CONFLICTS_ODBC").env_remove("CONFLICTS_PG");
    c
}

/// The (comment, statement) blocks of the output; panics on anything else.
fn blocks(out: &str) -> Vec<(String, String)> {
    out.split("\n\n")
        .filter(|b| !b.trim().is_empty())
        .map(|b| {
            let (comment, statement) = b.split_once('\n').expect("comment line, then statement");
            assert!(comment.starts_with("-- "), "{comment}");
            assert!(
                statement.ends_with(';'),
                "statement ends with ';': {statement}"
            );
            assert!(!statement.contains('\n'), "one line per statement");
            (comment.to_string(), statement.to_string())
        })
        .collect()
}

#[test]
fn snowflake_incremental_listing() {
    let out = conflicts()
        .args(["sql", "--dialect", "snowflake", "--mode", "incremental"])
        .output()
        .expect("run");
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).expect("UTF-8");
    let b = blocks(&text);
    assert_eq!(b[0].1, "ALTER SESSION SET TIMEZONE = 'UTC';");
    assert_eq!(
        b[1].1,
        "ALTER SESSION SET TIMESTAMP_TYPE_MAPPING = 'TIMESTAMP_NTZ';"
    );
    assert_eq!(b[2].1, "SELECT CURRENT_SCHEMA();");
    // Then the preflight's probes, one per analytics table read, then the delta keys.
    let probes = b[3..]
        .iter()
        .take_while(|(_, s)| s.ends_with(" LIMIT 0;"))
        .count();
    assert!(probes >= 7, "{probes} probes");
    assert!(b[3..3 + probes]
        .iter()
        .all(|(_, s)| s.starts_with("SELECT * FROM analytics.")));
    let keys = &b[3 + probes].1;
    assert!(keys.starts_with("SELECT DISTINCT"), "delta keys next");
    assert!(keys.contains("analytics.factvisitcallperformance_cr"));
    assert!(b
        .iter()
        .any(|(_, s)| s == "ALTER SESSION SET QUERY_TAG = 'conflicts run=42 batch=keys:0001';"));
    assert!(b.iter().any(|(_, s)| s.starts_with(
        "CREATE OR REPLACE TEMPORARY TABLE conflicts_scope_keys (key_date DATE, key_ssn VARCHAR)"
    )));
    assert!(!text.contains("DROP TABLE"));
    assert!(!text.contains(" IN ("));
}

#[test]
fn scratch_schema_and_analytics_schema_qualify_the_tables() {
    let out = conflicts()
        .args([
            "sql",
            "--mode",
            "full",
            "--analytics-schema",
            "ANALYTICS.BI",
            "--scratch-schema",
            "CONFLICTS.SCRATCH",
        ])
        .output()
        .expect("run");
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).expect("UTF-8");
    let b = blocks(&text);
    // With a scratch schema there is no current-schema check.
    assert!(!text.contains("CURRENT_SCHEMA()"));
    assert!(text.contains("FROM ANALYTICS.BI.factvisitcallperformance_cr F"));
    for (_, s) in &b {
        if s.contains("TEMPORARY TABLE") || s.starts_with("INSERT") {
            assert!(s.contains("CONFLICTS.SCRATCH.conflicts_"), "{s}");
        }
    }
    assert!(b
        .iter()
        .any(|(c, _)| c.starts_with("-- planning: visits per SSN prefix")));
}

#[test]
fn postgres_listing_keeps_temporary_tables_in_pg_temp() {
    let out = conflicts()
        .args(["sql", "--dialect", "postgres", "--mode", "full"])
        .output()
        .expect("run");
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).expect("UTF-8");
    let b = blocks(&text);
    assert_eq!(b[0].1, "SET TIME ZONE 'UTC';");
    assert!(text.contains("DROP TABLE IF EXISTS pg_temp.conflicts_excluded_providers;"));
    assert!(text.contains("CREATE TEMPORARY TABLE pg_temp.conflicts_excluded_providers"));
    assert!(text.contains("SET application_name = 'conflicts run=42 batch=ssn:123';"));
}

#[test]
fn a_bad_scratch_schema_is_an_invalid_argument() {
    let out = conflicts()
        .args(["sql", "--scratch-schema", "a;drop"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("scratch schema \"a;drop\" is not a valid name"),
        "{err}"
    );
}
