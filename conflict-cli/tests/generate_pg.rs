//! "Try it on your machine": `conflicts generate --pg` loads synthetic data into the test
//! server, and the commands it prints (db check, db init, run through the real psqlODBC
//! driver) are run exactly as printed. The run must store every pair that file-mode detection
//! finds in the same generated visits.

use std::process::{Command, Output, Stdio};

use chrono::NaiveDate;
use conflict_core::{detect, DetectConfig, DetectedPair};
use conflict_synth::{generate, IdStyle, SynthConfig};

fn test_pg() -> String {
    match std::env::var("CONFLICTS_TEST_PG") {
        Ok(s) if !s.trim().is_empty() => s,
        _ => panic!("set CONFLICTS_TEST_PG or run scripts/test.sh"),
    }
}

fn suffix() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{:x}{:x}", std::process::id(), nanos)
}

/// Drops the two schemas when the test ends, also on panic.
struct Cleanup(Vec<String>);

impl Drop for Cleanup {
    fn drop(&mut self) {
        if let Ok(mut c) = conflict_io::store::ConnInfo::parse(&test_pg())
            .and_then(|ci| conflict_io::store::connect(&ci))
        {
            for s in &self.0 {
                let _ = c.batch_execute(&format!("DROP SCHEMA IF EXISTS \"{s}\" CASCADE"));
            }
        }
    }
}

const SSNS: usize = 30;
const PER_SSN: usize = 40;
const SEED: u64 = 11;

fn as_of() -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 6, 15).unwrap()
}

fn generate_cmd(pg: &str, conflict: &str, analytics: &str, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_conflicts"))
        .args(["generate", "--pg", pg, "--conflict-schema", conflict])
        .args(["--analytics-schema", analytics])
        .args(["--ssns", &SSNS.to_string(), "--visits-per-ssn"])
        .arg(PER_SSN.to_string())
        .args(["--seed", &SEED.to_string(), "--as-of", "2025-06-15"])
        .args(extra)
        .env_remove("CONFLICTS_PG")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// Runs a printed `conflicts …` line with the shell, the binary first on PATH.
fn run_printed(line: &str) -> Output {
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_conflicts"))
        .parent()
        .unwrap()
        .to_path_buf();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    Command::new("sh")
        .args(["-c", line])
        .env("PATH", path)
        .env_remove("CONFLICTS_PG")
        .env_remove("CONFLICTS_ODBC")
        .env_remove("CONFLICTS_CONFIG")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn generate_pg_then_the_printed_commands_give_a_real_run() {
    let s = suffix();
    let (conflict, analytics) = (format!("gen_c_{s}"), format!("gen_a_{s}"));
    let _cleanup = Cleanup(vec![conflict.clone(), analytics.clone()]);
    let pg = test_pg();

    let out = generate_cmd(&pg, &conflict, &analytics, &[]);
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    let visits = SSNS * PER_SSN;
    assert!(err.contains(&format!("loaded {visits} visits")), "{err}");
    // A second load into the same schemas is refused unless --replace.
    let again = generate_cmd(&pg, &conflict, &analytics, &[]);
    assert_eq!(again.status.code(), Some(2), "{}", text(&again.stderr));
    assert!(text(&again.stderr).contains("--replace"));
    let replaced = generate_cmd(&pg, &conflict, &analytics, &["--replace"]);
    assert!(replaced.status.success(), "{}", text(&replaced.stderr));
    let err = text(&replaced.stderr);

    let printed: Vec<&str> = err
        .lines()
        .map(str::trim)
        .skip_while(|l| *l != "try next:")
        .filter(|l| l.starts_with("conflicts "))
        .collect();
    assert_eq!(printed.len(), 3, "{err}");
    assert!(printed[2].contains("/usr/lib/x86_64-linux-gnu/odbc/psqlodbcw.so"));
    assert!(printed[2].contains("--analytics-dialect postgres"));

    // db check: the deployment tables are complete; the duplicates are a note.
    let check = run_printed(printed[0]);
    assert!(check.status.success(), "{}", text(&check.stderr));
    assert!(text(&check.stderr).contains("2 (VisitID, ConVisitID) key(s)"));
    // db init: adds the tool's tables and indexes, warns about the two duplicated keys.
    let init = run_printed(printed[1]);
    assert!(init.status.success(), "{}", text(&init.stderr));
    assert!(text(&init.stderr).contains("warning: 2 (VisitID, ConVisitID) key(s)"));
    // The run, exactly as printed, with a JSON report added.
    let dir = tempfile::tempdir().unwrap();
    let report_path = dir.path().join("report.json");
    let run = run_printed(&format!(
        "{} --report-json '{}'",
        printed[2],
        report_path.display()
    ));
    assert!(run.status.success(), "{}", text(&run.stderr));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report_path).unwrap()).unwrap();

    // Expected independently: file-mode detection on the same generated visits.
    let mut cfg = SynthConfig::new(SSNS, PER_SSN, SEED, as_of());
    cfg.id_style = IdStyle::Uuid;
    let generated = generate(&cfg);
    let mut pairs: Vec<DetectedPair> = Vec::new();
    detect(&generated, &DetectConfig::new(as_of()).unwrap(), &mut pairs).unwrap();
    assert!(pairs.len() >= 3, "the data has pairs: {}", pairs.len());

    let mut c =
        conflict_io::store::connect(&conflict_io::store::ConnInfo::parse(&pg).unwrap()).unwrap();
    let stored: i64 = c
        .query_one(
            &format!(
                "SELECT count(DISTINCT (\"VisitID\", \"ConVisitID\")) FROM \"{conflict}\".conflictvisitmaps \
                 WHERE \"CONFLICTID\" IS NOT NULL AND \"InserviceStartDate\" IS NULL"
            ),
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(stored as usize, pairs.len());
    // Legacy rows: two keys held twice and one once, all orphans of detected pairs: five rows
    // adopted, the other pairs inserted, one duplicate_cvm_key warning per duplicated key.
    assert_eq!(report["writes"]["adopted"], 5, "{report}");
    assert_eq!(
        report["writes"]["inserted"],
        pairs.len() as u64 - 3,
        "{report}"
    );
    assert_eq!(report["warnings"]["duplicate_cvm_key"], 2, "{report}");
}
