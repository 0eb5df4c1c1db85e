//! The `conflicts` binary on a conflict database shaped like a real deployment (issue 9; see
//! `conflict-io/tests/support/deployment.rs`): legacy duplicate keys and no unique pair index,
//! columns the tool does not know, none of the tool's own tables, database TimeZone
//! America/New_York. Covers `db check`, `db init --print-sql`, `db init` twice, `run` without
//! `db init` and `run` after `db init`, through the real binary, PostgreSQL and psqlODBC.

#[path = "../../conflict-io/tests/support/mod.rs"]
mod support;

#[allow(dead_code)]
#[path = "../../conflict-io/tests/e2e_tests/harness.rs"]
mod harness;

use std::process::{Command, Output, Stdio};

use chrono::NaiveDate;
use harness::Loaded;
use support::deployment::{Deployment, LegacyKey, EXTRA_CVM_COLUMN};
use support::env;

/// The legacy keys of the fixture, by construction: two keys that are not pairs of any world
/// (dated 2019, outside every window), one held by two rows and one by three.
fn old_keys() -> Vec<LegacyKey> {
    let key = |v: u32, c: u32, rows| LegacyKey {
        visit_id: format!("00000000-0000-4000-8000-{v:012}"),
        con_visit_id: format!("00000000-0000-4000-8000-{c:012}"),
        ssn: "900000001".into(),
        visit_date: NaiveDate::from_ymd_opt(2019, 3, 1).unwrap(),
        rows,
    };
    vec![key(1, 2, 2), key(3, 4, 3)]
}

fn conflicts(args: &[&str], pg: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_conflicts"))
        .args(args)
        .env("CONFLICTS_PG", pg)
        .env_remove("CONFLICTS_CONFLICT_SCHEMA")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

const ALL_TABLES: [&str; 6] = [
    "settings",
    "mph",
    "excluded_agency",
    "excluded_ssn",
    "conflicts",
    "conflictvisitmaps",
];

#[test]
fn db_init_on_a_deployment_adds_only_what_is_missing_and_changes_no_row() {
    let suffix = env::random_suffix();
    let mut dep = Deployment::create(&format!("conflict_dep_{suffix}"), &old_keys());
    let schema = dep.schema().to_string();
    let before = dep.row_digests(&ALL_TABLES);
    assert_eq!(before[5].1, 5, "five legacy CVM rows");

    // db check: the deployment's tables are complete (exit 0); the duplicates and what init
    // would add are notes.
    let out = conflicts(&["db", "check", "--schema", &schema], &dep.pg);
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("2 (VisitID, ConVisitID) key(s)"), "{err}");
    assert!(err.contains("detection_runs"), "{err}");
    assert!(err.contains("conflicts db init --schema"), "{err}");

    // --print-sql prints only what is missing and changes nothing.
    let out = conflicts(&["db", "init", "--print-sql", "--schema", &schema], &dep.pg);
    let sql = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        sql.contains("CREATE TABLE IF NOT EXISTS detection_runs"),
        "{sql}"
    );
    assert!(sql.contains("detection_run_batches"), "{sql}");
    assert!(
        sql.contains("CREATE INDEX IF NOT EXISTS cvm_date_ssn_regular"),
        "{sql}"
    );
    assert!(sql.contains("toast_tuple_target"), "{sql}");
    assert!(!sql.contains("cvm_pair_unique"), "{sql}");
    // Tables that exist are not in the script.
    assert!(
        !sql.contains("CREATE TABLE IF NOT EXISTS conflictvisitmaps"),
        "{sql}"
    );
    assert!(
        !sql.contains("CREATE TABLE IF NOT EXISTS settings"),
        "{sql}"
    );
    for stmt in sql.split(";\n").map(str::trim).filter(|s| !s.is_empty()) {
        let code: Vec<&str> = stmt.lines().filter(|l| !l.starts_with("--")).collect();
        assert!(!code.is_empty(), "a comment without a statement: {stmt}");
    }
    assert!(sql.trim_end().ends_with("COMMIT;"), "{sql}");
    assert!(
        !dep.has_table("detection_runs"),
        "--print-sql created a table"
    );
    assert_eq!(dep.tables(), 6);

    // db init adds the missing objects, warns about the duplicates, changes no row.
    for round in 1..=2 {
        let out = conflicts(&["db", "init", "--schema", &schema], &dep.pg);
        let err = text(&out.stderr);
        assert!(out.status.success(), "round {round}: {err}");
        assert!(
            err.contains("warning: 2 (VisitID, ConVisitID) key(s)"),
            "round {round}: {err}"
        );
        // The three examples: both keys, in key order, with their row counts.
        let k = old_keys();
        for (key, rows) in [(&k[0], 2), (&k[1], 3)] {
            let line = format!(
                "VisitID {} ConVisitID {} ({rows} rows)",
                key.visit_id, key.con_visit_id
            );
            assert!(err.contains(&line), "round {round}: {line} not in {err}");
        }
        assert!(err.contains("HAVING count(*) > 1"), "{err}");
        if round == 1 {
            assert!(err.contains("added "), "{err}");
        } else {
            assert!(err.contains("nothing to do"), "round 2: {err}");
        }
        assert_eq!(dep.row_digests(&ALL_TABLES), before, "round {round}");
        assert!(!dep.has_index("cvm_pair_unique"));
        assert!(dep.has_index("cvm_date_ssn_regular"));
        assert!(dep.has_index("cvm_trimmed_ssn_regular"));
        assert!(dep.has_table("detection_runs") && dep.has_table("detection_run_batches"));
        assert!(dep.has_table("detection_event_digests"));
        assert_eq!(dep.tables(), 9);
    }
    // The column the tool does not know is still there, with its values.
    let legacy = dep.scalar_i64(&format!(
        "SELECT count(*) FROM {} WHERE \"{EXTRA_CVM_COLUMN}\" LIKE 'copy %'",
        dep.t("conflictvisitmaps")
    ));
    assert_eq!(legacy, 5);

    // Once the duplicates are merged, init creates the unique index.
    let cvm = dep.t("conflictvisitmaps");
    dep.client
        .batch_execute(&format!(
            "DELETE FROM {cvm} a USING {cvm} b WHERE a.\"VisitID\" = b.\"VisitID\" \
             AND a.\"ConVisitID\" = b.\"ConVisitID\" AND a.\"ID\" > b.\"ID\""
        ))
        .unwrap();
    let out = conflicts(&["db", "init", "--schema", &schema], &dep.pg);
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(!err.contains("warning"), "{err}");
    assert!(err.contains("index cvm_pair_unique"), "{err}");
    assert!(dep.has_index("cvm_pair_unique"));
}

#[test]
fn db_check_names_what_is_missing_and_the_command_that_adds_it() {
    let mut dep = Deployment::create(
        &format!("conflict_dep_{}", env::random_suffix()),
        &old_keys(),
    );
    let schema = dep.schema().to_string();
    let mph = dep.t("mph");
    dep.client
        .batch_execute(&format!("DROP TABLE {mph}"))
        .unwrap();
    let out = conflicts(&["db", "check", "--schema", &schema], &dep.pg);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains(&format!("missing: table {mph}")), "{err}");
    assert!(
        err.contains(&format!("fix: conflicts db init --schema {schema}")),
        "{err}"
    );
    // A run refuses with the same cause and creates nothing.
    let out = Command::new(env!("CARGO_BIN_EXE_conflicts"))
        .args(["run", "--full", "--conflict-schema", &schema])
        .args([
            "--analytics-schema",
            "analytics",
            "--analytics-dialect",
            "postgres",
        ])
        .env("CONFLICTS_PG", &dep.pg)
        .env("CONFLICTS_ODBC", env::odbc_connection_string(""))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let err = text(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains(&format!("table {mph}")), "{err}");
    assert!(err.contains("conflicts db init"), "{err}");
    assert!(
        !dep.has_table("detection_runs"),
        "the refused run created a table"
    );
}

/// `conflicts run --full` against the loaded world, conflict schema in the deployment database.
fn run_full(loaded: &Loaded, dep: &Deployment, report: &std::path::Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_conflicts"))
        .args(["run", "--full", "--as-of"])
        .arg(loaded.cfg.as_of.to_string())
        .args(["--workers", "2", "--prefix-len", "1"])
        .args(["--conflict-schema", dep.schema(), "--analytics-schema"])
        .arg(loaded.db.schema())
        .args(["--analytics-dialect", "postgres", "--report-json"])
        .arg(report)
        .env("CONFLICTS_PG", &dep.pg)
        .env("CONFLICTS_ODBC", env::odbc_connection_string(""))
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

#[test]
fn run_works_on_a_deployment_with_and_without_db_init() {
    let loaded = Loaded::new(9009);
    let pairs = loaded.expected_pairs();
    assert!(pairs.len() >= 2, "the world has pairs");
    // Two detected pairs held by legacy orphan rows twice each, plus the 2019 keys.
    let mut keys = old_keys();
    for ((v, c), (_, ssn, date)) in pairs.iter().take(2) {
        keys.push(LegacyKey {
            visit_id: v.clone(),
            con_visit_id: c.clone(),
            ssn: ssn.clone(),
            visit_date: date.parse().unwrap(),
            rows: 2,
        });
    }
    let dir = tempfile::tempdir().unwrap();
    let mut results = Vec::new();
    for with_init in [false, true] {
        let mut dep = Deployment::create(&format!("conflict_dep_{}", env::random_suffix()), &keys);
        if with_init {
            let out = conflicts(&["db", "init", "--schema", dep.schema()], &dep.pg);
            assert!(out.status.success(), "{}", text(&out.stderr));
        }
        let report = dir.path().join(format!("report-{with_init}.json"));
        let out = run_full(&loaded, &dep, &report);
        let err = text(&out.stderr);
        assert!(out.status.success(), "with_init={with_init}: {err}");
        assert!(dep.has_table("detection_runs") && dep.has_table("detection_run_batches"));
        let report: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
        // One warning per duplicated key in scope (the 2019 keys are outside the window).
        assert_eq!(report["warnings"]["duplicate_cvm_key"], 2, "{report}");
        assert_eq!(report["status"], "succeeded", "{report}");
        let runs = dep.scalar_i64(&format!(
            "SELECT count(*) FROM {} WHERE \"Status\" = 'succeeded'",
            dep.t("detection_runs")
        ));
        assert_eq!(runs, 1);
        let flag = dep.scalar_i64(&format!(
            "SELECT \"InProgressFlag\" FROM {}",
            dep.t("settings")
        ));
        assert_eq!(flag, 0);
        // Every row of a duplicated detected key is updated: adopted and given its flags.
        let cvm = dep.t("conflictvisitmaps");
        for ((v, c), (flags, _, _)) in pairs.iter().take(2) {
            let rows = dep
                .client
                .query(
                    &format!(
                        "SELECT \"CONFLICTID\", concat_ws('/', \"ID\", \"StatusFlag\") AS dbg, concat(\"SameSchTimeFlag\", \"SameVisitTimeFlag\", \
                         \"SchAndVisitTimeSameFlag\", \"SchOverAnotherSchTimeFlag\", \
                         \"VisitTimeOverAnotherVisitTimeFlag\", \"SchTimeOverVisitTimeFlag\", \
                         \"DistanceFlag\"), \"{EXTRA_CVM_COLUMN}\" FROM {cvm} \
                         WHERE \"VisitID\" = $1::text::uuid AND \"ConVisitID\" = $2::text::uuid"
                    ),
                    &[v, c],
                )
                .unwrap();
            assert_eq!(rows.len(), 2, "both legacy rows of {v}/{c} are kept");
            for r in &rows {
                let dbg: Vec<String> = rows.iter().map(|r| r.get::<_, String>(1)).collect();
                assert!(
                    r.get::<_, Option<i64>>(0).is_some(),
                    "{v}/{c} adopted {dbg:?}"
                );
                assert_eq!(
                    r.get::<_, String>(2),
                    harness::flags_text(flags),
                    "{v}/{c} {dbg:?}"
                );
                // The unknown column keeps the legacy value.
                assert!(r.get::<_, String>(3).starts_with("copy "));
            }
        }
        // Every detected pair is stored.
        let stored = dep.scalar_i64(&format!(
            "SELECT count(DISTINCT (\"VisitID\", \"ConVisitID\")) FROM {cvm} \
             WHERE \"CONFLICTID\" IS NOT NULL AND \"InserviceStartDate\" IS NULL \
             AND \"ConInserviceStartDate\" IS NULL AND \"PTOStartDate\" IS NULL \
             AND \"ConPTOStartDate\" IS NULL"
        ));
        assert_eq!(stored as usize, pairs.len(), "with_init={with_init}");
        results.push(report["writes"].clone());
    }
    assert_eq!(
        results[0], results[1],
        "the same run with and without db init"
    );
}
