//! `conflicts run --analytics-pg CONNINFO`: analytics tables in PostgreSQL read natively, with
//! no ODBC connection string anywhere. Through the real binary and the TLS-only test server: a
//! run gives the pairs of the model and the same rows as a run through psqlODBC; a bad
//! conninfo, an unreachable server, a missing table or two sources at once are refused by
//! preflight with exit code 2 (as their ODBC equivalents), one `error:` line, nothing recorded
//! and no credential shown.

#[path = "../../conflict-io/tests/support/mod.rs"]
mod support;

#[allow(dead_code)]
#[path = "../../conflict-io/tests/e2e_tests/harness.rs"]
mod harness;

#[path = "shared/run_command.rs"]
mod shared_run;

use std::collections::BTreeSet;
use std::process::{Command, Output};

use harness::{flags_text, ConflictSchema, Loaded};
use support::env;

/// Trust authentication ignores it, so it can be present without breaking the connection.
const PASSWORD: &str = "Native-Pw-0d15ea5e-Secret";

/// `conflicts run --full` reading the world natively: `CONFLICTS_ODBC` removed, the source given
/// by `--analytics-pg` (when `native` is given) and `extra`.
fn native_command(loaded: &Loaded, schema: &str, native: Option<&str>, extra: &[&str]) -> Command {
    let mut c = shared_run::run_command(loaded, schema, 1, &["--full"]);
    c.env_remove("CONFLICTS_ODBC")
        .env_remove("CONFLICTS_ANALYTICS_PG")
        .env_remove("CONFLICTS_CONFIG");
    if let Some(n) = native {
        c.args(["--analytics-pg", n]);
    }
    c.args(extra);
    c
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn good_conninfo() -> String {
    format!("{} password={PASSWORD}", env::conninfo_text())
}

/// Refused by preflight: code 2, no run recorded, one error line, no credential, no resume
/// advice. Returns stderr.
fn assert_refused(schema: &mut ConflictSchema, out: &Output) -> String {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    let runs = schema.scalar_i64(&format!(
        "SELECT count(*) FROM {}",
        schema.t("detection_runs")
    ));
    assert_eq!(runs, 0, "a run was recorded\n{err}");
    assert_eq!(err.matches("error:").count(), 1, "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    assert!(!err.contains(PASSWORD), "{err}");
    assert!(!err.contains("--resume"), "{err}");
    err
}

/// Regular rows as (VisitID, ConVisitID, flags).
fn rows(schema: &mut ConflictSchema) -> BTreeSet<(String, String, String)> {
    schema
        .rows()
        .into_iter()
        .map(|((v, c), (_, flags, _))| (v, c, flags))
        .collect()
}

#[test]
fn a_run_with_analytics_pg_needs_no_odbc_and_equals_the_model_and_an_odbc_run() {
    let loaded = Loaded::new(91);
    let mut native = loaded.conflict_schema("native");
    let mut odbc = loaded.conflict_schema("odbc");
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.json");
    let out = native_command(
        &loaded,
        native.names.conflict.as_str(),
        Some(&good_conninfo()),
        &["--report-json", report.to_str().unwrap()],
    )
    .output()
    .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(!err.contains(PASSWORD), "{err}");
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(r["status"], "succeeded", "{r}");

    let out = shared_run::run_command(&loaded, odbc.names.conflict.as_str(), 1, &["--full"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    let expected: BTreeSet<(String, String, String)> = loaded
        .expected_pairs()
        .into_iter()
        .map(|((v, c), (flags, _, _))| (v, c, flags_text(&flags)))
        .collect();
    assert!(expected.len() > 50, "{} pairs", expected.len());
    assert_eq!(rows(&mut native), expected, "native run vs the model");
    assert_eq!(native.snapshot(), odbc.snapshot(), "native run vs ODBC run");

    // The config file's key works the same (the flag is absent).
    let mut from_file = loaded.conflict_schema("native_file");
    let config = dir.path().join("conflicts.toml");
    std::fs::write(&config, format!("analytics_pg = {:?}\n", good_conninfo())).unwrap();
    let out = native_command(
        &loaded,
        from_file.names.conflict.as_str(),
        None,
        &["--config", config.to_str().unwrap()],
    )
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(from_file.snapshot(), odbc.snapshot());

    // Flags win over the file, as for every key: the file's (unusable) ODBC string is not used
    // when --analytics-pg is given.
    let mut flag_wins = loaded.conflict_schema("native_flag");
    std::fs::write(&config, "odbc = \"Driver=/nonexistent/driver.so;\"\n").unwrap();
    let out = native_command(
        &loaded,
        flag_wins.names.conflict.as_str(),
        Some(&good_conninfo()),
        &["--config", config.to_str().unwrap()],
    )
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(flag_wins.snapshot(), odbc.snapshot());
}

#[test]
fn bad_native_sources_are_refused_before_anything_is_written() {
    let loaded = Loaded::new(92);
    let mut schema = loaded.conflict_schema("refused");
    let name = schema.names.conflict.as_str().to_string();
    let run = |native: Option<&str>, extra: &[&str]| {
        native_command(&loaded, &name, native, extra)
            .output()
            .unwrap()
    };

    // Both sources at once.
    let out = run(
        Some(&good_conninfo()),
        &["--odbc", &env::odbc_connection_string("")],
    );
    let err = assert_refused(&mut schema, &out);
    assert!(
        err.starts_with("error: two analytics sources given in flags and environment"),
        "{err}"
    );

    // Both in the config file.
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("conflicts.toml");
    std::fs::write(
        &config,
        format!(
            "odbc = {:?}\nanalytics_pg = {:?}\n",
            env::odbc_connection_string(""),
            good_conninfo()
        ),
    )
    .unwrap();
    let out = run(None, &["--config", config.to_str().unwrap()]);
    let err = assert_refused(&mut schema, &out);
    assert!(
        err.starts_with("error: two analytics sources given in the config file"),
        "{err}"
    );

    // An unparsable conninfo and an empty one.
    let out = run(Some("host=127.0.0.1 port=notaport"), &[]);
    let err = assert_refused(&mut schema, &out);
    assert!(
        err.starts_with("error: --analytics-pg: invalid PostgreSQL connection string"),
        "{err}"
    );
    let out = run(Some("  "), &[]);
    let err = assert_refused(&mut schema, &out);
    assert!(
        err.starts_with("error: the PostgreSQL analytics connection string is empty"),
        "{err}"
    );

    // Nothing listens on port 1.
    let out = run(
        Some(&format!(
            "host=127.0.0.1 port=1 user=postgres password={PASSWORD} connect_timeout=5"
        )),
        &[],
    );
    let err = assert_refused(&mut schema, &out);
    assert!(
        err.starts_with("error: cannot connect to the PostgreSQL analytics source: "),
        "{err}"
    );

    // A missing analytics table: named by the probe (lines of one message).
    let user = format!("{}.dimuser", loaded.db.schema());
    env::pg_client()
        .batch_execute(&format!("DROP TABLE {user}"))
        .unwrap();
    let out = run(Some(&good_conninfo()), &[]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(!err.contains(PASSWORD), "{err}");
    assert_eq!(err.matches("error:").count(), 1, "{err}");
    assert!(
        err.starts_with(&format!(
            "error: the analytics schema {} lacks what the queries read:",
            loaded.db.schema()
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!("table {user} cannot be read")),
        "{err}"
    );
}
