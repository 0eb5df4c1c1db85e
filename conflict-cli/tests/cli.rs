//! Runs the `conflicts` binary on small CSV files.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use predicates::prelude::*;

fn vectors() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors")
}

fn conflicts() -> Command {
    Command::cargo_bin("conflicts").expect("binary built")
}

const HEADER: &str = "visit_id,ssn,provider_id,visit_date,sch_start,sch_end,visit_start,visit_end";

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn conformance_vectors_byte_for_byte() {
    let cases: [(&[&str], &str, usize); 4] = [
        (&[], "expected-current.csv", 32),
        (&["--profile", "classic"], "expected-classic.csv", 36),
        (
            &["--extra-distance-per", "1.1"],
            "expected-current-x1.1.csv",
            33,
        ),
        (
            &["--profile", "classic", "--extra-distance-per", "1.1"],
            "expected-classic-x1.1.csv",
            40,
        ),
    ];
    let dir = tempfile::tempdir().unwrap();
    for (extra, expected, pairs) in cases {
        let out = dir.path().join(expected);
        let assert = conflicts()
            .args(["detect", "--as-of", "2025-06-15", "--visits"])
            .arg(vectors().join("visits.csv"))
            .arg("--out")
            .arg(&out)
            .args(extra)
            .assert()
            .success();
        let stderr = String::from_utf8(assert.get_output().stderr.clone()).unwrap();
        let want = std::fs::read(vectors().join(expected)).unwrap();
        assert_eq!(std::fs::read(&out).unwrap(), want, "{expected}");
        let note =
            "using default speed bands 0-2:10 3-10:25 11-25:35 26-100:50 101-10000:60 (miles:mph)";
        assert!(
            stderr.contains(note),
            "{expected}: note missing from\n{stderr}"
        );
        let field = |name: &str| {
            stderr
                .lines()
                .find(|l| l.trim_start().starts_with(name))
                .unwrap_or_else(|| panic!("no {name} in {stderr}"))
                .split_whitespace()
                .last()
                .unwrap()
                .to_string()
        };
        assert_eq!(field("pairs detected"), pairs.to_string());
        assert_eq!(field("visits read"), "55");
        assert_eq!(field("visits admitted"), "49");
        assert_eq!(field("candidates"), "58");
        assert_eq!(field("dropped cross-state"), "2");
        assert!(stderr.contains("outside_window 4, blank_ssn 2"), "{stderr}");
        assert!(stderr.contains("gps_out_of_range 1"), "{stderr}");
        assert!(stderr.contains("gps_unparsable 2"), "{stderr}");
    }
}

#[test]
fn malformed_rows_are_reported_with_file_line_and_column_and_no_output_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let visits = write(
        dir.path(),
        "visits.csv",
        &format!(
            "{HEADER}\n\
             a,1,p,2025-06-10,2025-06-10 09:00:00,2025-06-10 10:00:00,,\n\
             b,1,q,2025-06-10,2025-06-10 9:00,2025-06-10 10:00:00,,\n\
             c,1,q,06/10/2025,,,,\n\
             d,1,q,2025-06-10,,,\n\
             ,1,q,2025-06-10,,,,\n\
             a,1,q,2025-06-10,,,,\n"
        ),
    );
    let out = dir.path().join("out.csv");
    let v = visits.display().to_string();
    conflicts()
        .args(["detect", "--as-of", "2025-06-15", "--visits"])
        .arg(&visits)
        .arg("--out")
        .arg(&out)
        .assert()
        .code(2)
        .stderr(predicate::str::contains(format!(
            "{v}:3: column sch_start: expected a timestamp"
        )))
        .stderr(predicate::str::contains(format!(
            "{v}:4: column visit_date: expected a date"
        )))
        .stderr(predicate::str::contains(format!(
            "{v}:5: expected 8 fields like the header, found 7"
        )))
        .stderr(predicate::str::contains(format!(
            "{v}:6: column visit_id: a value is required"
        )))
        .stderr(predicate::str::contains(format!(
            "{v}:7: column visit_id: visit id \"a\" is already used by a different record on line 2"
        )));
    assert!(!out.exists());
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers.len(), 1, "only the input remains: {leftovers:?}");
}

#[test]
fn header_problems_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.csv");
    for (text, needle) in [
        (
            "visit_id,ssn,provider_id,visit_date,sch_start,sch_end,visit_start\n",
            ":1: column visit_end: required column is missing",
        ),
        (
            &format!("{HEADER},ssn\n") as &str,
            ":1: column ssn: the column appears twice",
        ),
        ("", ":1: the file is empty"),
    ] {
        let visits = write(dir.path(), "visits.csv", text);
        conflicts()
            .args(["detect", "--visits"])
            .arg(&visits)
            .arg("--out")
            .arg(&out)
            .assert()
            .code(2)
            .stderr(predicate::str::contains(needle));
    }
}

#[test]
fn bom_crlf_quotes_unknown_columns_and_identical_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let visits = write(
        dir.path(),
        "visits.csv",
        "\u{feff}visit_id , ssn,provider_id,visit_date,sch_start,sch_end,visit_start,visit_end,notes\r\n\
         \"x,1\",\" 42 \",p,2025-06-10,2025-06-10T09:00:00,2025-06-10 11:00:00.000,,,hello\r\n\
         y,42,q,2025-06-10,2025-06-10 09:00:00,2025-06-10 11:00:00,,,\"say \"\"hi\"\"\"\r\n\
         y,42,q,2025-06-10,2025-06-10 09:00:00,2025-06-10 11:00:00,,,\"say \"\"hi\"\"\"\r\n",
    );
    let out = dir.path().join("out.csv");
    conflicts()
        .args(["detect", "--as-of", "2025-06-15", "--visits"])
        .arg(&visits)
        .arg("--out")
        .arg(&out)
        .assert()
        .success()
        .stderr(predicate::str::contains("ignoring unknown column(s)"))
        .stderr(predicate::str::contains("notes"))
        .stderr(predicate::str::contains("duplicate_visit 1"));
    let got = std::fs::read_to_string(&out).unwrap();
    let rows: Vec<&str> = got.lines().skip(1).collect();
    assert_eq!(
        rows,
        [
            "\"x,1\",y,42,2025-06-10,p,q,Y,N,N,N,N,N,N,,,,",
            "y,\"x,1\",42,2025-06-10,q,p,Y,N,N,N,N,N,N,,,,"
        ]
    );
}

#[test]
fn mph_file_is_used_and_validated() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.csv");
    let visits = vectors().join("visits.csv");
    // Header only: no bands, so no DistanceFlag and a warning.
    let mph = write(dir.path(), "mph.csv", "average_mph,from,to\n");
    conflicts()
        .args(["detect", "--as-of", "2025-06-15", "--visits"])
        .arg(&visits)
        .arg("--mph")
        .arg(&mph)
        .arg("--out")
        .arg(&out)
        .assert()
        .success()
        .stderr(predicate::str::contains("mph_empty 1"))
        .stderr(predicate::str::is_match(r"DistanceFlag +0\n").unwrap());
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(text
        .lines()
        .skip(1)
        .all(|l| !l.ends_with(",Y,,,") && l.split(',').nth(12) == Some("N")));

    let mph = write(
        dir.path(),
        "mph.csv",
        "from,to,average_mph\n0,2,10\n5,3,25\n-1,4,2\n1,2,fast\n",
    );
    let m = mph.display().to_string();
    conflicts()
        .args(["detect", "--visits"])
        .arg(&visits)
        .arg("--mph")
        .arg(&mph)
        .arg("--out")
        .arg(&out)
        .assert()
        .code(2)
        .stderr(predicate::str::contains(format!(
            "{m}:3: column from: band 5-3"
        )))
        .stderr(predicate::str::contains(format!(
            "{m}:4: column from: expected a non-negative integer"
        )))
        .stderr(predicate::str::contains(format!(
            "{m}:5: column average_mph: expected a plain decimal"
        )));
}

#[test]
fn decimal_mph_is_printed_shortest() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.csv");
    let mph = write(dir.path(), "mph.csv", "from,to,average_mph\n0,100,12.50\n");
    conflicts()
        .args(["detect", "--as-of", "2025-06-15", "--visits"])
        .arg(vectors().join("visits.csv"))
        .arg("--mph")
        .arg(&mph)
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
    let text = std::fs::read_to_string(&out).unwrap();
    let e08 = text
        .lines()
        .find(|l| l.starts_with("e08-a,e08-b,"))
        .unwrap();
    // D 15.00 at 12.5 mph: 72.00 minutes.
    assert!(e08.ends_with(",15.00,12.5,72.00"), "{e08}");
}

#[test]
fn bad_arguments_exit_with_code_2() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.csv");
    let visits = vectors().join("visits.csv");
    for x in ["0", "-1", "1e3", "abc", "inf"] {
        conflicts()
            .args(["detect", "--extra-distance-per", x, "--visits"])
            .arg(&visits)
            .arg("--out")
            .arg(&out)
            .assert()
            .code(2)
            .stderr(predicate::str::contains("--extra-distance-per"));
    }
    conflicts()
        .args(["detect", "--visits", "/nonexistent/visits.csv", "--out"])
        .arg(&out)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("/nonexistent/visits.csv"));
    conflicts()
        .args(["detect", "--profile", "modern", "--visits"])
        .arg(&visits)
        .arg("--out")
        .arg(&out)
        .assert()
        .code(2);
    assert!(!out.exists());
}

#[test]
fn switches_override_the_profile() {
    let dir = tempfile::tempdir().unwrap();
    let run = |extra: &[&str], name: &str| {
        let out = dir.path().join(name);
        conflicts()
            .args(["detect", "--as-of", "2025-06-15", "--visits"])
            .arg(vectors().join("visits.csv"))
            .arg("--out")
            .arg(&out)
            .args(extra)
            .assert()
            .success();
        std::fs::read(out).unwrap()
    };
    let all_classic = run(
        &[
            "--rules-3-6-direction",
            "both-ways",
            "--distance-gap",
            "positive-either-way",
            "--minute-diff",
            "min-positive-or-zero",
            "--eta-miles",
            "whole-miles",
        ],
        "a.csv",
    );
    assert_eq!(
        all_classic,
        std::fs::read(vectors().join("expected-classic.csv")).unwrap()
    );
    let no_filter = String::from_utf8(run(&["--no-cross-state-filter"], "b.csv")).unwrap();
    assert_eq!(no_filter.lines().count(), 1 + 32 + 2);
    assert!(no_filter.contains("\ne20-a,e20-b,"));
}

#[test]
fn help_explains_every_flag() {
    let out = conflicts().args(["detect", "--help"]).assert().success();
    let help = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    for flag in [
        "--visits",
        "--mph",
        "--extra-distance-per",
        "--profile",
        "--as-of",
        "--out",
        "--zip-check",
        "--no-cross-state-filter",
    ] {
        assert!(help.contains(flag), "{flag} missing from help");
    }
}

#[test]
fn inservice_events_give_rows_in_both_orders() {
    let dir = tempfile::tempdir().unwrap();
    let visits = write(
        dir.path(),
        "visits.csv",
        "visit_id,ssn,provider_id,visit_date,sch_start,sch_end,visit_start,visit_end,is_missed,caregiver_id\n\
         v1,123,prov-a,2025-06-10,,,2025-06-10 09:00:00,2025-06-10 10:00:00,false,cg-a\n\
         v2,123,prov-b,2025-06-10,,,2025-06-10 10:30:00,2025-06-10 11:00:00,false,cg-b\n\
         v3,123,prov-c,2025-06-10,,,2025-06-10 09:00:00,2025-06-10 10:00:00,true,cg-c\n",
    );
    let events = write(
        dir.path(),
        "inservice.csv",
        "inservice_id,environment,caregiver_id,ssn,provider_id,start,end\n\
         12345,prod,cg-t,123,prov-t,2025-06-10 10:00:00,2025-06-10 10:15:00\n",
    );
    let out = dir.path().join("out.csv");
    let ins = dir.path().join("inservice-out.csv");
    conflicts()
        .args(["detect", "--as-of", "2025-06-15", "--visits"])
        .arg(&visits)
        .arg("--out")
        .arg(&out)
        .arg("--inservice")
        .arg(&events)
        .arg("--inservice-out")
        .arg(&ins)
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "inservice: 1 events read, 1 admitted, 2 rows",
        ));
    let text = std::fs::read_to_string(&ins).unwrap();
    let id = "64d4ac25-38ed-b872-436b-e75dc844b7f6"; // MD5('I12345') of docs/rules.md §13
    assert_eq!(
        text.lines().collect::<Vec<_>>(),
        [
            "visit_id,con_visit_id,ssn,visit_date,provider_id,con_provider_id,InServiceFlag,InserviceStartDate,InserviceEndDate,ConInserviceStartDate,ConInserviceEndDate",
            &format!("{id},v1,123,2025-06-10,prov-t,prov-a,Y,2025-06-10 10:00:00,2025-06-10 10:15:00,,"),
            &format!("v1,{id},123,2025-06-10,prov-a,prov-t,Y,,,2025-06-10 10:00:00,2025-06-10 10:15:00"),
        ]
    );
    // --inservice without --inservice-out is an argument error.
    conflicts()
        .args(["detect", "--visits"])
        .arg(&visits)
        .arg("--out")
        .arg(&out)
        .arg("--inservice")
        .arg(&events)
        .assert()
        .code(2);
}

#[test]
fn a_malformed_events_file_leaves_no_output_behind() {
    let dir = tempfile::tempdir().unwrap();
    let visits = write(
        dir.path(),
        "visits.csv",
        "visit_id,ssn,provider_id,visit_date,sch_start,sch_end,visit_start,visit_end,is_missed\n\
         v1,123,prov-a,2025-06-10,,,2025-06-10 09:00:00,2025-06-10 10:00:00,false\n\
         v2,123,prov-b,2025-06-10,,,2025-06-10 09:30:00,2025-06-10 11:00:00,false\n",
    );
    let events = write(
        dir.path(),
        "inservice.csv",
        "inservice_id,environment,caregiver_id,ssn,provider_id,start,end\n\
         not-a-number,prod,cg-t,123,prov-t,2025-06-10 10:00:00,2025-06-10 10:15:00\n",
    );
    let out = dir.path().join("out.csv");
    let ins = dir.path().join("inservice-out.csv");
    conflicts()
        .args(["detect", "--as-of", "2025-06-15", "--visits"])
        .arg(&visits)
        .arg("--out")
        .arg(&out)
        .arg("--inservice")
        .arg(&events)
        .arg("--inservice-out")
        .arg(&ins)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("inservice_id"));
    assert!(!out.exists(), "conflicts.csv written despite bad input");
    assert!(!ins.exists());
}
