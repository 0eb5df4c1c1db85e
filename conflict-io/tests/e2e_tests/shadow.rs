//! Shadow mode (`--changes-out`): the changes file of a run, checked against snapshots of
//! conflictvisitmaps taken by the test before and after the run (not against the writer's own
//! capture), and a dry run's file against the real run's.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use chrono::NaiveDateTime;
use conflict_io::csv::CsvChangeSink;
use conflict_io::run::{
    run_job, Change, ChangeSink, JobResult, Mode, Outcome, RunParams, Silent, Start,
};
use conflict_io::store::PgStore;
use serde_json::{Map, Value};

use super::harness::{job, params, ConflictSchema, Loaded, Target};
use crate::support::env;

/// One line of the changes file, JSON columns parsed.
#[derive(Debug, Clone, PartialEq)]
struct Line {
    action: String,
    id: Option<i64>,
    visit_id: String,
    con_visit_id: String,
    columns: Vec<String>,
    old: Map<String, Value>,
    new: Map<String, Value>,
}

fn read_lines(path: &Path) -> Vec<Line> {
    let mut r = csv::Reader::from_path(path).unwrap();
    let header: Vec<String> = r.headers().unwrap().iter().map(str::to_string).collect();
    assert_eq!(
        header,
        [
            "action",
            "ID",
            "VisitID",
            "ConVisitID",
            "columns",
            "old",
            "new"
        ]
    );
    r.records()
        .map(|rec| {
            let rec = rec.unwrap();
            let obj = |s: &str| match serde_json::from_str::<Value>(s).unwrap() {
                Value::Object(m) => m,
                other => panic!("not a JSON object: {other}"),
            };
            Line {
                action: rec[0].to_string(),
                id: (!rec[1].is_empty()).then(|| rec[1].parse().unwrap()),
                visit_id: rec[2].to_string(),
                con_visit_id: rec[3].to_string(),
                columns: rec[4]
                    .split(';')
                    .filter(|c| !c.is_empty())
                    .map(str::to_string)
                    .collect(),
                old: obj(&rec[5]),
                new: obj(&rec[6]),
            }
        })
        .collect()
}

/// Every CVM row by "ID", as PostgreSQL renders it to JSON.
fn rows_by_id(schema: &mut ConflictSchema) -> BTreeMap<i64, Map<String, Value>> {
    let cvm = schema.t("conflictvisitmaps");
    schema
        .client
        .query(&format!("SELECT \"ID\", to_jsonb(c) FROM {cvm} c"), &[])
        .unwrap()
        .iter()
        .map(|r| match r.get::<_, Value>(1) {
            Value::Object(m) => (r.get(0), m),
            _ => unreachable!(),
        })
        .collect()
}

/// The table's column order, from information_schema.
fn column_order(schema: &mut ConflictSchema) -> Vec<String> {
    schema
        .client
        .query(
            "SELECT column_name::text FROM information_schema.columns WHERE table_schema = $1 \
             AND table_name = 'conflictvisitmaps' ORDER BY ordinal_position",
            &[&schema.names.conflict.as_str()],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

fn run_with_changes(
    loaded: &Loaded,
    schema: &ConflictSchema,
    p: &RunParams,
    path: &Path,
) -> JobResult {
    let sink = Arc::new(CsvChangeSink::create(path).unwrap());
    let store = PgStore::connect(&env::conninfo(), schema.names.clone(), 8)
        .unwrap()
        .with_changes(sink.clone());
    let target = Target::of(loaded, schema);
    let make = || target.connect();
    let r = run_job(
        &store,
        make,
        Start::New(p.clone()),
        p,
        &job(2, 1),
        &AtomicBool::new(false),
        &Silent,
    )
    .unwrap_or_else(|e| panic!("run failed: {e}"));
    sink.finish().unwrap();
    r
}

/// Lines per action equal the run's counters (InService/PTO included).
fn assert_counts_match(lines: &[Line], r: &JobResult) {
    let n = |a: &str| lines.iter().filter(|l| l.action == a).count() as u64;
    let (w, i) = (&r.report.writes, &r.report.inservice);
    assert_eq!(
        n("insert"),
        w.inserted + i.inservice_inserted + i.pto_inserted
    );
    assert_eq!(n("update"), w.updated + i.inservice_updated + i.pto_updated);
    assert_eq!(n("resolve"), w.resolved);
    assert_eq!(
        lines.len() as u64,
        n("insert") + n("update") + n("resolve"),
        "no other action"
    );
}

/// The file says exactly what happened between the two snapshots.
fn assert_file_matches_database(
    lines: &[Line],
    before: &BTreeMap<i64, Map<String, Value>>,
    after: &BTreeMap<i64, Map<String, Value>>,
    order: &[String],
) {
    assert!(
        before.keys().all(|id| after.contains_key(id)),
        "no row deleted"
    );
    let position = |c: &String| order.iter().position(|o| o == c).unwrap();
    // Rows that existed and differ afterwards: one update or resolve line each.
    let changed: BTreeSet<i64> = before
        .iter()
        .filter(|(id, row)| after[*id] != **row)
        .map(|(id, _)| *id)
        .collect();
    let mut seen = BTreeSet::new();
    for l in lines.iter().filter(|l| l.action != "insert") {
        let id = l.id.expect("update and resolve lines carry the ID");
        assert!(seen.insert(id), "row {id} has one line");
        let (b, a) = (&before[&id], &after[&id]);
        assert_eq!(
            (l.visit_id.as_str(), l.con_visit_id.as_str()),
            (
                a["VisitID"].as_str().unwrap(),
                a["ConVisitID"].as_str().unwrap()
            )
        );
        let differing: Vec<String> = order.iter().filter(|c| b[*c] != a[*c]).cloned().collect();
        assert_eq!(l.columns, differing, "columns of row {id}, in table order");
        for c in &l.columns {
            assert_eq!(l.old[c], b[c], "old {c} of row {id}");
            assert_eq!(l.new[c], a[c], "new {c} of row {id}");
        }
        assert_eq!(l.old.len(), l.columns.len());
        assert_eq!(l.new.len(), l.columns.len());
        if l.action == "resolve" {
            assert_eq!(a["StatusFlag"], "R");
            assert_ne!(b["StatusFlag"], "R");
        } else {
            assert_eq!(l.action, "update");
        }
    }
    assert_eq!(seen, changed, "every changed row, and only those");

    // New rows: one insert line each, with every non-NULL column but "ID".
    let mut new_rows: Vec<&Map<String, Value>> = after
        .iter()
        .filter(|(id, _)| !before.contains_key(*id))
        .map(|(_, r)| r)
        .collect();
    new_rows.sort_by_key(|r| (r["VisitID"].to_string(), r["ConVisitID"].to_string()));
    let mut inserts: Vec<&Line> = lines.iter().filter(|l| l.action == "insert").collect();
    inserts.sort_by_key(|l| (l.visit_id.clone(), l.con_visit_id.clone()));
    assert_eq!(inserts.len(), new_rows.len());
    for (l, row) in inserts.iter().zip(&new_rows) {
        assert_eq!(l.id, None);
        assert_eq!(l.visit_id, row["VisitID"].as_str().unwrap());
        assert_eq!(l.con_visit_id, row["ConVisitID"].as_str().unwrap());
        let mut want: Vec<&String> = row
            .iter()
            .filter(|(k, v)| *k != "ID" && !v.is_null())
            .map(|(k, _)| k)
            .collect();
        want.sort_by_key(|c| position(c));
        assert_eq!(l.columns.iter().collect::<Vec<_>>(), want);
        for c in &l.columns {
            assert_eq!(l.new[c], row[c], "inserted {c}");
        }
        assert!(l.old.is_empty());
    }
}

/// A file with what differs between two runs of the same changes taken out: the run
/// timestamps (each run has its own) and newly allocated CONFLICTIDs (renumbered by first
/// appearance, as sequences never give a number twice).
fn normalised(lines: &[Line], run_ts: &str) -> Vec<Line> {
    let run_ts = NaiveDateTime::parse_from_str(run_ts, "%Y-%m-%d %H:%M:%S%.f").unwrap();
    let mut lines = lines.to_vec();
    lines.sort_by_key(|l| (l.action.clone(), l.visit_id.clone(), l.con_visit_id.clone()));
    let mut ids: BTreeMap<i64, i64> = BTreeMap::new();
    for l in &mut lines {
        for m in [&mut l.old, &mut l.new] {
            for (k, v) in m.iter_mut() {
                let is_run_ts = v
                    .as_str()
                    .and_then(|s| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f").ok())
                    == Some(run_ts);
                if is_run_ts {
                    *v = Value::from("<run_ts>");
                } else if k == "CONFLICTID" {
                    if let Some(id) = v.as_i64() {
                        let next = ids.len() as i64 + 1;
                        *v = Value::from(*ids.entry(id).or_insert(next));
                    }
                }
            }
        }
    }
    lines
}

both_sources! {
fn the_changes_file_says_what_each_run_changed_and_a_dry_run_says_it_first() {
    let mut loaded = Loaded::new(91);
    let expected = loaded.expected_pairs();
    let mut schema = loaded.conflict_schema("shadow");
    let cvm = schema.t("conflictvisitmaps");
    let conflicts = schema.t("conflicts");
    let order = column_order(&mut schema);
    let dir = tempfile::tempdir().unwrap();

    // A stored row of a detected pair with other flags and no business columns (updated), and
    // a stale row under another detected visit's key (resolved).
    let mut v1s: Vec<&(String, String)> = Vec::new();
    for k in expected.keys() {
        if !v1s.iter().any(|x| x.0 == k.0) {
            v1s.push(k);
        }
    }
    let (upd, stale) = (v1s[0], v1s[1]);
    let (_, upd_ssn, upd_date) = &expected[upd];
    let (_, stale_ssn, stale_date) = &expected[stale];
    schema.exec(&format!(
        "INSERT INTO {conflicts} (\"CONFLICTID\", \"StatusFlag\") VALUES (500001, 'N'), (600001, 'N');
         INSERT INTO {cvm} (\"VisitID\", \"ConVisitID\", \"SSN\", \"VisitDate\", \"CONFLICTID\", \
         \"StatusFlag\", \"SameSchTimeFlag\", \"SameVisitTimeFlag\", \"SchAndVisitTimeSameFlag\", \
         \"SchOverAnotherSchTimeFlag\", \"VisitTimeOverAnotherVisitTimeFlag\", \
         \"SchTimeOverVisitTimeFlag\", \"DistanceFlag\") VALUES \
         ('{}', '{}', '{upd_ssn}', '{upd_date}', 500001, 'N', 'N', 'N', 'N', 'N', 'N', 'N', 'N'), \
         ('{}', '00000000-0000-4000-8000-00000000beef', '{stale_ssn}', '{stale_date}', 600001, 'N', \
          'N', 'N', 'N', 'N', 'N', 'N', 'N');",
        upd.0, upd.1, stale.0
    ));

    let mut p = params(Mode::Full, loaded.cfg.as_of);
    p.inservice = true;

    // Dry run: counts and a file, and not one row changed.
    let before = rows_by_id(&mut schema);
    let dry_path = dir.path().join("dry.csv");
    let mut dry_p = p.clone();
    dry_p.dry_run = true;
    let dry = run_with_changes(&loaded, &schema, &dry_p, &dry_path);
    assert_eq!(dry.outcome, Outcome::DryRun);
    // (A boolean: a failure would otherwise print every row twice.)
    assert!(
        rows_by_id(&mut schema) == before,
        "a dry run changes no row"
    );
    let dry_lines = read_lines(&dry_path);
    assert_counts_match(&dry_lines, &dry);

    // The real run: the file matches the database, and equals the dry run's.
    let first_path = dir.path().join("first.csv");
    let first = run_with_changes(&loaded, &schema, &p, &first_path);
    assert_eq!(first.outcome, Outcome::Succeeded);
    let after = rows_by_id(&mut schema);
    let first_lines = read_lines(&first_path);
    assert_counts_match(&first_lines, &first);
    assert_file_matches_database(&first_lines, &before, &after, &order);
    let w = &first.report.writes;
    assert!(w.inserted > 50, "first run inserts: {w:?}");
    assert_eq!((w.updated, w.resolved), (1, 1), "{w:?}");
    assert!(first.report.inservice.inservice_inserted > 0);
    let inservice_lines = first_lines
        .iter()
        .filter(|l| l.action == "insert" && l.new.get("InServiceFlag") == Some(&"Y".into()))
        .count() as u64;
    assert_eq!(inservice_lines, first.report.inservice.inservice_inserted);
    let upd_line = first_lines.iter().find(|l| l.action == "update").unwrap();
    assert_eq!(
        (&upd_line.visit_id, &upd_line.con_visit_id),
        (&upd.0, &upd.1)
    );
    let resolve_line = first_lines.iter().find(|l| l.action == "resolve").unwrap();
    assert_eq!(resolve_line.visit_id, stale.0);
    assert_eq!(resolve_line.new["StatusFlag"], "R");
    assert_eq!(
        normalised(&dry_lines, &dry.report.run_ts),
        normalised(&first_lines, &first.report.run_ts),
        "the dry run announced what the run then did"
    );

    // Change the warehouse: a business column of some paired visits (their rows are
    // rewritten with the new value), and the times of others (some conflicts end, others
    // start). Then run again.
    let fact = format!("{}.factvisitcallperformance_cr", loaded.db.schema());
    let list = |skip: usize, n: usize| -> String {
        v1s.iter()
            .skip(skip)
            .step_by(3)
            .take(n)
            .map(|k| format!("'{}'", k.0))
            .collect::<Vec<_>>()
            .join(", ")
    };
    loaded.db.exec(&format!(
        "UPDATE {fact} SET \"Missed Visit Reason\" = 'shadow-test' WHERE \"Visit Id\" IN ({});
         UPDATE {fact} SET \"Scheduled Start Time\" = \"Scheduled Start Time\" + interval '5 hours', \
         \"Scheduled End Time\" = \"Scheduled End Time\" + interval '5 hours', \
         \"Visit Start Time\" = \"Visit Start Time\" + interval '5 hours', \
         \"Visit End Time\" = \"Visit End Time\" + interval '5 hours' WHERE \"Visit Id\" IN ({})",
        list(2, 10),
        list(3, 20)
    ));
    let before = rows_by_id(&mut schema);
    let second_path = dir.path().join("second.csv");
    let second = run_with_changes(&loaded, &schema, &p, &second_path);
    let after = rows_by_id(&mut schema);
    let second_lines = read_lines(&second_path);
    assert_counts_match(&second_lines, &second);
    assert_file_matches_database(&second_lines, &before, &after, &order);
    let w = &second.report.writes;
    assert!(w.updated > 0 && w.resolved > 0, "{w:?}");
    let reason_updates: Vec<&Line> = second_lines
        .iter()
        .filter(|l| l.action == "update" && l.columns.iter().any(|c| c == "MissedVisitReason"))
        .collect();
    assert!(
        !reason_updates.is_empty(),
        "rows of visits with a new reason are rewritten"
    );
    for l in reason_updates {
        assert_eq!(l.new["MissedVisitReason"], "shadow-test", "{l:?}");
        assert_ne!(l.old["MissedVisitReason"], "shadow-test", "{l:?}");
        assert!(l.columns.iter().any(|c| c == "UpdatedDate"), "{l:?}");
    }

    // A sink that cannot take a batch's lines ends the run as failed, with the reason (the
    // InService step is left out: it would fail the run on its own).
    let mut batches_only = p.clone();
    batches_only.inservice = false;
    let broken = loaded.conflict_schema("shadow_broken");
    let store = PgStore::connect(&env::conninfo(), broken.names.clone(), 8)
        .unwrap()
        .with_changes(Arc::new(DiskFull));
    let target = Target::of(&loaded, &broken);
    let make = || target.connect();
    let err = run_job(
        &store,
        make,
        Start::New(batches_only.clone()),
        &batches_only,
        &job(1, 1),
        &AtomicBool::new(false),
        &Silent,
    )
    .expect_err("the run fails");
    assert!(
        err.to_string()
            .contains("cannot write the changes file: no space left (test)"),
        "{err}"
    );
}
}

/// A sink whose disk is full.
struct DiskFull;

impl ChangeSink for DiskFull {
    fn write(&self, _changes: &[Change]) -> std::io::Result<()> {
        Err(std::io::Error::other("no space left (test)"))
    }
}

both_sources! {
fn a_batch_retried_after_a_transient_failure_has_its_lines_once() {
    let loaded = Loaded::new(93);
    let mut schema = loaded.conflict_schema("shadow_retry");
    let order = column_order(&mut schema);
    let s = schema.names.conflict.quoted();
    let batches = schema.t("detection_run_batches");
    // The run creates its ledger when it is missing; the trigger needs it now.
    schema.exec(&conflict_io::store::testing::ledger::ddl(&schema.names));
    // The first batch with new rows to be marked done fails with a serialization failure
    // (transient, so the batch is retried) after its rows were written and captured. A sequence counts the
    // attempts because it is not rolled back with the failed transaction.
    schema.exec(&format!(
        "CREATE SEQUENCE {s}.attempts;
         CREATE FUNCTION {s}.fail_once() RETURNS trigger LANGUAGE plpgsql AS $$ \
         BEGIN IF nextval('{s}.attempts') = 1 THEN \
         RAISE EXCEPTION 'injected serialization failure' USING ERRCODE = '40001'; END IF; \
         RETURN NEW; END $$;
         CREATE TRIGGER fail_once BEFORE UPDATE ON {batches} FOR EACH ROW \
         WHEN (NEW.\"Status\" = 'done' AND (NEW.\"Counts\" ->> 'inserted')::int > 0) EXECUTE FUNCTION {s}.fail_once();"
    ));
    let p = params(Mode::Full, loaded.cfg.as_of);
    let before = rows_by_id(&mut schema);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("retry.csv");
    let r = run_with_changes(&loaded, &schema, &p, &path);
    assert_eq!(r.outcome, Outcome::Succeeded);
    let attempts = schema.scalar_i64(&format!("SELECT last_value FROM {s}.attempts"));
    let with_inserts = schema.scalar_i64(&format!(
        "SELECT count(*) FROM {batches} WHERE (\"Counts\" ->> 'inserted')::int > 0"
    ));
    assert_eq!(attempts, with_inserts + 1, "one batch was retried once");
    let lines = read_lines(&path);
    assert!(!lines.is_empty());
    assert_counts_match(&lines, &r);
    assert_file_matches_database(&lines, &before, &rows_by_id(&mut schema), &order);
}
}
