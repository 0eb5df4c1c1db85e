//! `conflicts run --changes-out` through the real binary, PostgreSQL and psqlODBC: a dry run's
//! file announces what the real run then reports, and a target that cannot be written stops
//! the run before anything is recorded.

#[path = "../../conflict-io/tests/support/mod.rs"]
mod support;

#[allow(dead_code)]
#[path = "../../conflict-io/tests/e2e_tests/harness.rs"]
mod harness;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use harness::Loaded;
use support::env;

fn run(loaded: &Loaded, schema: &str, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_conflicts"))
        .arg("run")
        .args(["--full", "--as-of", "2025-06-15", "--workers", "2"])
        .args(extra)
        .args(["--conflict-schema", schema, "--analytics-schema"])
        .arg(loaded.db.schema())
        .args(["--analytics-dialect", "postgres"])
        .env("CONFLICTS_PG", env::conninfo_text())
        .env("CONFLICTS_ODBC", env::odbc_connection_string(""))
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// Lines per action of a changes file.
fn actions(path: &Path) -> BTreeMap<String, u64> {
    let mut r = csv::Reader::from_path(path).unwrap();
    assert_eq!(
        r.headers().unwrap(),
        vec![
            "action",
            "ID",
            "VisitID",
            "ConVisitID",
            "columns",
            "old",
            "new"
        ]
    );
    let mut n = BTreeMap::new();
    for rec in r.records() {
        *n.entry(rec.unwrap()[0].to_string()).or_insert(0) += 1;
    }
    n
}

fn report(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn a_dry_run_with_changes_out_announces_the_real_run() {
    let loaded = Loaded::new(4243);
    let mut schema = loaded.conflict_schema("cli_shadow");
    let name = schema.names.conflict.as_str().to_string();
    let cvm = schema.t("conflictvisitmaps");
    let dir = tempfile::tempdir().unwrap();
    let (dry_csv, dry_json) = (dir.path().join("dry.csv"), dir.path().join("dry.json"));
    let out = run(
        &loaded,
        &name,
        &[
            "--dry-run",
            "--changes-out",
            dry_csv.to_str().unwrap(),
            "--report-json",
            dry_json.to_str().unwrap(),
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("changes written to"), "{stderr}");
    assert_eq!(
        schema.scalar_i64(&format!("SELECT count(*) FROM {cvm}")),
        0,
        "a dry run writes no conflict row"
    );
    let dry = actions(&dry_csv);
    let dry_report = report(&dry_json);
    let inserted = dry_report["writes"]["inserted"].as_u64().unwrap();
    assert!(inserted > 0);
    assert_eq!(dry.get("insert"), Some(&inserted));
    assert_eq!(
        dry.len(),
        1,
        "an empty conflict table only gets inserts: {dry:?}"
    );

    let (real_csv, real_json) = (dir.path().join("real.csv"), dir.path().join("real.json"));
    let out = run(
        &loaded,
        &name,
        &[
            "--changes-out",
            real_csv.to_str().unwrap(),
            "--report-json",
            real_json.to_str().unwrap(),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows = schema.scalar_i64(&format!("SELECT count(*) FROM {cvm}")) as u64;
    assert_eq!(actions(&real_csv), dry, "the dry run announced the run");
    assert_eq!(rows, inserted);
    assert_eq!(report(&real_json)["writes"]["inserted"], rows);
}

#[test]
fn an_unwritable_changes_file_stops_the_run_before_it_starts() {
    let loaded = Loaded::new(4244);
    let mut schema = loaded.conflict_schema("cli_shadow_bad");
    let name = schema.names.conflict.as_str().to_string();
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("missing-dir").join("changes.csv");
    let out = run(&loaded, &name, &["--changes-out", target.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(
        stderr.trim_end(),
        format!(
            "error: --changes-out: {}: No such file or directory (os error 2)",
            target.display()
        ),
        "one line, one cause"
    );
    assert!(!stderr.contains("--resume"), "{stderr}");
    let runs = schema.t("detection_runs");
    let recorded = schema
        .client
        .query_one(&format!("SELECT count(*) FROM {runs}"), &[])
        .map(|r| r.get::<_, i64>(0))
        .unwrap_or(0);
    assert_eq!(recorded, 0, "no run recorded");
}
