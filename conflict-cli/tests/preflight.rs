//! `conflicts run` checks everything it can before it writes anything: a configuration or
//! connection problem exits with code 2, records no run, leaves `InProgressFlag` alone, does
//! not suggest `--resume`, names the problem once and never shows a credential. Uses the real
//! binary, PostgreSQL and psqlODBC.

#[path = "../../conflict-io/tests/support/mod.rs"]
mod support;

use std::process::{Command, Output, Stdio};

use conflict_io::store::{init_schema, SchemaNames};
use postgres::Client;
use support::env;
use support::load::AnalyticsDb;

/// Trust authentication ignores passwords, so both can be present without breaking anything;
/// neither may ever appear in the output.
const ODBC_PASSWORD: &str = "Odbc-Pw-51c0ffee-Secret";
const PG_PASSWORD: &str = "Pg-Pw-7ab1e5-Secret";

/// A value `InProgressFlag` never takes by itself (the tool writes 0, 1 or 2).
const FLAG_BEFORE: i32 = 7;

/// An empty analytics schema (every table of schema.sql) and a conflict schema with settings,
/// both dropped on drop.
struct Fixture {
    analytics: AnalyticsDb,
    conflict: SchemaNames,
    client: Client,
}

impl Fixture {
    fn new() -> Fixture {
        let analytics = AnalyticsDb::create();
        let conflict = SchemaNames::new(
            &format!("{}_pf", analytics.names.conflict.as_str()),
            &analytics.schema(),
        )
        .unwrap();
        let mut client = env::pg_client();
        init_schema(&mut client, &conflict).unwrap();
        let s = conflict.conflict.quoted();
        client
            .batch_execute(&format!(
                "INSERT INTO {s}.settings (\"ID\", \"ExtraDistancePer\", \"InProgressFlag\") \
                 VALUES (1, 1.0, {FLAG_BEFORE});"
            ))
            .unwrap();
        Fixture {
            analytics,
            conflict,
            client,
        }
    }

    fn exec(&mut self, sql: &str) {
        self.client
            .batch_execute(sql)
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    fn analytics_table(&self, table: &str) -> String {
        format!("{}.{table}", self.analytics.schema())
    }

    /// `conflicts run --full` against the fixture; `odbc` is the whole connection string.
    fn run(&self, odbc: &str, extra: &[&str]) -> Output {
        let pg = format!("{} password={PG_PASSWORD}", env::conninfo_text());
        Command::new(env!("CARGO_BIN_EXE_conflicts"))
            .args(["run", "--full", "--as-of", "2025-06-15", "--workers", "1"])
            .args(["--conflict-schema", self.conflict.conflict.as_str()])
            .args(["--analytics-schema", &self.analytics.schema()])
            .args(["--analytics-dialect", "postgres", "--odbc", odbc])
            .args(extra)
            .env("CONFLICTS_PG", pg)
            .env_remove("CONFLICTS_ODBC")
            .env_remove("CONFLICTS_CONFIG")
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    fn good_odbc(&self) -> String {
        env::odbc_connection_string_with(&env::driver_path(), Some(ODBC_PASSWORD), "")
    }

    /// (rows of detection_runs, InProgressFlag).
    fn state(&mut self) -> (i64, i32) {
        let s = self.conflict.conflict.quoted();
        let runs: i64 = self
            .client
            .query_one(&format!("SELECT count(*) FROM {s}.detection_runs"), &[])
            .unwrap()
            .get(0);
        let flag: i32 = self
            .client
            .query_one(
                &format!("SELECT \"InProgressFlag\"::int4 FROM {s}.settings"),
                &[],
            )
            .unwrap()
            .get(0);
        (runs, flag)
    }

    /// The run was refused by preflight: code 2, nothing recorded, no resume advice, no
    /// credential, one `error:` line group. Returns stderr.
    fn assert_refused(&mut self, out: &Output) -> String {
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert_eq!(
            self.state(),
            (0, FLAG_BEFORE),
            "something was written\n{stderr}"
        );
        assert!(!stderr.contains("--resume"), "{stderr}");
        assert!(!stderr.contains(ODBC_PASSWORD), "{stderr}");
        assert!(!stderr.contains(PG_PASSWORD), "{stderr}");
        assert!(!stderr.contains("()"), "{stderr}");
        assert_eq!(stderr.matches("error:").count(), 1, "{stderr}");
        stderr
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let s = self.conflict.conflict.quoted();
        let _ = self
            .client
            .batch_execute(&format!("DROP SCHEMA IF EXISTS {s} CASCADE"));
    }
}

#[test]
fn a_complete_configuration_passes_preflight_and_the_run_succeeds() {
    let mut f = Fixture::new();
    // pto = true: the absence table is probed as well.
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("conflicts.toml");
    std::fs::write(&config, "pto = true\ninservice = true\n").unwrap();
    let out = f.run(&f.good_odbc(), &["--config", config.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(
        f.state(),
        (1, 0),
        "one run recorded, flag back to 0\n{stderr}"
    );
    assert!(!stderr.contains(ODBC_PASSWORD) && !stderr.contains(PG_PASSWORD));
}

#[test]
fn a_wrong_odbc_driver_path_is_refused_before_anything_is_written() {
    let mut f = Fixture::new();
    let driver = "/nonexistent/odbc/psqlodbcw.so";
    let odbc = env::odbc_connection_string_with(driver, Some(ODBC_PASSWORD), "");
    let out = f.run(&odbc, &[]);
    let stderr = f.assert_refused(&out);
    // The driver manager's own words, once.
    assert_eq!(stderr.matches("Can't open lib").count(), 1, "{stderr}");
    assert!(stderr.contains(driver), "{stderr}");
    assert!(
        stderr.starts_with("error: cannot connect to the analytics source ("),
        "{stderr}"
    );
    assert!(stderr.contains("Pwd=***"), "{stderr}");
}

#[test]
fn an_empty_odbc_connection_string_says_where_to_set_it() {
    let mut f = Fixture::new();
    for empty in ["", " ; "] {
        let out = f.run(empty, &[]);
        let stderr = f.assert_refused(&out);
        assert_eq!(
            stderr.trim_end(),
            "error: the ODBC connection string is empty: set it with --odbc, CONFLICTS_ODBC or \
             `odbc` in the config file",
            "{empty:?}"
        );
    }
}

#[test]
fn missing_analytics_tables_and_columns_are_each_named() {
    let mut f = Fixture::new();
    let fact = f.analytics_table("factvisitcallperformance_cr");
    let caregiver = f.analytics_table("dimcaregiver");
    let user = f.analytics_table("dimuser");
    f.exec(&format!(
        "ALTER TABLE {fact} RENAME COLUMN \"Visit Updated Timestamp\" TO \"Visit Updated At\";
         ALTER TABLE {fact} DROP COLUMN \"Is Missed\";
         ALTER TABLE {caregiver} RENAME COLUMN \"SSN\" TO ssn;
         DROP TABLE {user};"
    ));
    let out = f.run(&f.good_odbc(), &[]);
    let stderr = f.assert_refused(&out);
    assert!(
        stderr.contains(&format!(
            "{fact}: missing columns \"Is Missed\", \"Visit Updated Timestamp\""
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "{caregiver}: missing column \"SSN\" (there is \"ssn\"; quoted names are \
             case-sensitive)"
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("table {user} cannot be read")),
        "{stderr}"
    );
}

#[test]
fn a_conflict_table_missing_a_column_is_named() {
    let mut f = Fixture::new();
    let cvm = f.conflict.conflict_table("conflictvisitmaps");
    f.exec(&format!("ALTER TABLE {cvm} DROP COLUMN \"ConPTOEndDate\""));
    let out = f.run(&f.good_odbc(), &[]);
    let stderr = f.assert_refused(&out);
    assert!(stderr.starts_with("error: conflict database: "), "{stderr}");
    assert!(
        stderr.contains(&format!("column {cvm}.\"ConPTOEndDate\"")),
        "{stderr}"
    );
}

#[test]
fn an_unusable_setting_is_refused_before_the_run_is_recorded() {
    let mut f = Fixture::new();
    let settings = f.conflict.conflict_table("settings");
    f.exec(&format!("UPDATE {settings} SET \"ExtraDistancePer\" = -1"));
    let out = f.run(&f.good_odbc(), &[]);
    let stderr = f.assert_refused(&out);
    assert!(stderr.contains("ExtraDistancePer = -1"), "{stderr}");
}

#[test]
fn an_unreachable_conflict_database_is_refused_without_its_password() {
    let f = Fixture::new();
    // Port 1 on the loopback: nothing listens there, the connection is refused at once.
    let out = Command::new(env!("CARGO_BIN_EXE_conflicts"))
        .args(["run", "--full", "--analytics-dialect", "postgres"])
        .args(["--odbc", &f.good_odbc()])
        .env(
            "CONFLICTS_PG",
            format!("host=127.0.0.1 port=1 user=svc password={PG_PASSWORD}"),
        )
        .env_remove("CONFLICTS_CONFIG")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.starts_with("error: conflict database: cannot connect to PostgreSQL at host=127.0.0.1 port=1 user=svc password=***"),
        "{stderr}"
    );
    assert!(!stderr.contains(PG_PASSWORD), "{stderr}");
    assert!(!stderr.contains("--resume"), "{stderr}");
}
