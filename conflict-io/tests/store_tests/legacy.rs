//! Existing (legacy) conflict schemas: what `init_schema` adds and what it leaves alone, the
//! duplicate-key report, the read-only review plan, and the tool's own tables created at run
//! start (also by two processes at once).

use std::sync::{Arc, Barrier};

use conflict_io::store::{self, PgStore, StoreError};

use super::support::{self, conninfo, TestSchemas};

const A: &str = "6f1e0c4e-0000-4000-8000-00000000000a";
const B: &str = "6f1e0c4e-0000-4000-8000-00000000000b";
const C: &str = "6f1e0c4e-0000-4000-8000-00000000000c";

/// An initialised schema turned into a legacy one: no tool tables, no pair index.
fn legacy() -> TestSchemas {
    let mut t = TestSchemas::initialised();
    let s = t.names.conflict.quoted();
    let (runs, batches) = (t.table("detection_runs"), t.table("detection_run_batches"));
    let digests = t.table("detection_event_digests");
    t.exec(&format!(
        "DROP TABLE IF EXISTS {runs}, {batches}, {digests}; DROP INDEX {s}.cvm_pair_unique;"
    ));
    t
}

fn exists(t: &mut TestSchemas, table: &str) -> bool {
    t.client
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM information_schema.tables \
             WHERE table_schema = $1 AND table_name = $2)",
            &[&t.names.conflict.as_str(), &table],
        )
        .unwrap()
        .get(0)
}

fn has_index(t: &mut TestSchemas, index: &str) -> bool {
    t.client
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_indexes WHERE schemaname = $1 AND indexname = $2)",
            &[&t.names.conflict.as_str(), &index],
        )
        .unwrap()
        .get(0)
}

#[test]
fn duplicate_keys_are_counted_with_examples_and_the_index_is_skipped() {
    let mut t = legacy();
    let cvm = t.table("conflictvisitmaps");
    // Keys by construction: (A,B) ×3, (A,C) ×2, (B,C) ×1, (C,A) ×2, and two rows with a NULL
    // ConVisitID (not a duplicate: a unique index accepts NULLs). Duplicated keys: 3.
    t.exec(&format!(
        "INSERT INTO {cvm} (\"VisitID\", \"ConVisitID\") VALUES \
         ('{A}', '{B}'), ('{A}', '{B}'), ('{A}', '{B}'), ('{A}', '{C}'), ('{A}', '{C}'), \
         ('{B}', '{C}'), ('{C}', '{A}'), ('{C}', '{A}'), ('{B}', NULL), ('{B}', NULL)"
    ));
    let plan = store::init_schema(&mut t.client, &t.names).unwrap();
    let d = plan.duplicates.expect("duplicates reported");
    assert_eq!(d.keys, 3);
    let examples: Vec<(&str, &str, i64)> = d
        .examples
        .iter()
        .map(|k| (k.visit_id.as_str(), k.con_visit_id.as_str(), k.rows))
        .collect();
    assert_eq!(examples, [(A, B, 3), (A, C, 2), (C, A, 2)]);
    assert!(!has_index(&mut t, "cvm_pair_unique"));
    assert!(plan
        .steps
        .iter()
        .all(|s| !s.what.contains("cvm_pair_unique")));
    // The listing query runs and lists exactly the duplicated keys.
    let listed = t.client.query(d.list_sql.as_str(), &[]).unwrap();
    assert_eq!(listed.len(), 3);
    // Tool tables were added.
    assert!(exists(&mut t, "detection_runs") && exists(&mut t, "detection_run_batches"));
}

#[test]
fn without_duplicates_the_unique_index_is_created() {
    let mut t = legacy();
    let cvm = t.table("conflictvisitmaps");
    t.exec(&format!(
        "INSERT INTO {cvm} (\"VisitID\", \"ConVisitID\") VALUES ('{A}', '{B}'), ('{B}', '{A}'), \
         ('{B}', NULL), ('{B}', NULL)"
    ));
    let plan = store::init_schema(&mut t.client, &t.names).unwrap();
    assert!(plan.duplicates.is_none());
    assert!(has_index(&mut t, "cvm_pair_unique"));
}

#[test]
fn a_unique_pair_index_under_another_name_is_not_duplicated() {
    let mut t = legacy();
    let cvm = t.table("conflictvisitmaps");
    t.exec(&format!(
        "ALTER TABLE {cvm} ADD CONSTRAINT legacy_pair_key UNIQUE (\"VisitID\", \"ConVisitID\")"
    ));
    let plan = store::init_schema(&mut t.client, &t.names).unwrap();
    assert!(plan.duplicates.is_none());
    assert!(!has_index(&mut t, "cvm_pair_unique"));
    // An index on the same columns in the other order, or a partial one, is not equivalent.
    let mut t = legacy();
    let cvm = t.table("conflictvisitmaps");
    t.exec(&format!(
        "CREATE UNIQUE INDEX legacy_rev ON {cvm} (\"ConVisitID\", \"VisitID\"); \
         CREATE UNIQUE INDEX legacy_part ON {cvm} (\"VisitID\", \"ConVisitID\") WHERE \"SSN\" IS NULL"
    ));
    store::init_schema(&mut t.client, &t.names).unwrap();
    assert!(has_index(&mut t, "cvm_pair_unique"));
}

#[test]
fn missing_columns_are_added_without_touching_existing_rows() {
    let mut t = TestSchemas::initialised();
    let (cvm, conflicts) = (t.table("conflictvisitmaps"), t.table("conflicts"));
    t.exec(&format!(
        "ALTER TABLE {cvm} DROP COLUMN \"StatusFlag\", DROP COLUMN \"ConPTOEndDate\"; \
         ALTER TABLE {conflicts} DROP COLUMN \"UpdatedRFlag\"; \
         INSERT INTO {cvm} (\"VisitID\", \"ConVisitID\") VALUES ('{A}', '{B}');"
    ));
    let plan = store::init_schema(&mut t.client, &t.names).unwrap();
    let whats: Vec<&str> = plan.steps.iter().map(|s| s.what.as_str()).collect();
    assert_eq!(
        whats,
        // Script order: conflicts comes before conflictvisitmaps.
        [
            format!("column {conflicts}.\"UpdatedRFlag\""),
            format!("column {cvm}.\"StatusFlag\""),
            format!("default of column {cvm}.\"StatusFlag\""),
            format!("column {cvm}.\"ConPTOEndDate\""),
            // Dropping ConPTOEndDate dropped the partial index that names it.
            format!("index cvm_date_ssn_regular on {cvm}"),
            format!("index cvm_trimmed_ssn_regular on {cvm}"),
        ]
    );
    // The existing row has no value in the added column; the schema.sql default ('U')
    // applies to rows written afterwards.
    t.exec(&format!(
        "INSERT INTO {cvm} (\"VisitID\", \"ConVisitID\") VALUES ('{B}', '{A}')"
    ));
    let rows = t
        .client
        .query(
            &format!("SELECT \"VisitID\"::text, \"StatusFlag\" FROM {cvm} ORDER BY \"VisitID\""),
            &[],
        )
        .unwrap();
    let got: Vec<(String, Option<String>)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    assert_eq!(
        got,
        [(A.to_string(), None), (B.to_string(), Some("U".into()))]
    );
    store::check_schema(&mut t.client, &t.names).unwrap();
    // Nothing left to do.
    assert!(store::init_schema(&mut t.client, &t.names)
        .unwrap()
        .steps
        .is_empty());
}

#[test]
fn the_review_plan_changes_nothing_and_its_script_does_what_init_would() {
    let mut t = legacy();
    let plan = store::review_plan(&mut t.client, &t.names).unwrap();
    let whats: Vec<&str> = plan.steps.iter().map(|s| s.what.as_str()).collect();
    assert_eq!(
        whats,
        [
            format!("index cvm_pair_unique on {}", t.table("conflictvisitmaps")),
            format!("table {}", t.table("detection_runs")),
            format!(
                "index detection_runs_success on {}",
                t.table("detection_runs")
            ),
            format!("table {}", t.table("detection_event_digests")),
            format!("table {}", t.table("detection_run_batches")),
        ]
    );
    assert!(!exists(&mut t, "detection_runs"), "review created a table");
    // The printed script is valid SQL that leaves nothing missing.
    t.client.batch_execute(&plan.script()).unwrap();
    let again = store::review_plan(&mut t.client, &t.names).unwrap();
    assert!(again.steps.is_empty(), "{:?}", again.steps);
}

#[test]
fn a_missing_schema_is_planned_whole_but_never_created_by_a_run() {
    let mut t = TestSchemas::new();
    let plan = store::review_plan(&mut t.client, &t.names).unwrap();
    assert!(!plan.schema_exists);
    // Schema, 9 tables, storage option, 7 indexes.
    assert_eq!(plan.steps.len(), 18, "{:?}", plan.steps);
    let err = PgStore::connect(&conninfo(), t.names.clone(), 1).unwrap_err();
    assert!(matches!(err, StoreError::MissingObjects { .. }), "{err}");
    assert!(err.to_string().contains("conflicts db init"), "{err}");
    let n: i64 = t
        .client
        .query_one(
            "SELECT count(*) FROM pg_namespace WHERE nspname = $1",
            &[&t.names.conflict.as_str()],
        )
        .unwrap()
        .get(0);
    assert_eq!(n, 0, "a run created the schema");
}

#[test]
fn a_run_creates_its_own_tables_but_not_the_deployments() {
    let mut t = legacy();
    let mph = t.table("mph");
    t.exec(&format!("DROP TABLE {mph}"));
    let err = PgStore::connect(&conninfo(), t.names.clone(), 1).unwrap_err();
    match &err {
        StoreError::MissingObjects { missing, .. } => {
            assert_eq!(missing, &[format!("table {mph}")])
        }
        other => panic!("expected MissingObjects, got {other:?}"),
    }
    assert!(
        !exists(&mut t, "detection_runs"),
        "created before the check"
    );
    store::init_schema(&mut t.client, &t.names).unwrap();
    let mut t2 = legacy();
    PgStore::connect(&conninfo(), t2.names.clone(), 1).unwrap();
    assert!(exists(&mut t2, "detection_runs") && exists(&mut t2, "detection_run_batches"));
    // The deployment's index is not the run's business.
    assert!(!has_index(&mut t2, "cvm_pair_unique"));
}

#[test]
fn processes_starting_at_the_same_moment_all_find_their_tables() {
    for _ in 0..5 {
        let t = legacy();
        let barrier = Arc::new(Barrier::new(4));
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let names = t.names.clone();
                let barrier = barrier.clone();
                std::thread::spawn(move || {
                    let mut c = support::client();
                    barrier.wait();
                    store::ensure_tool_tables(&mut c, &names).map(|steps| steps.len())
                })
            })
            .collect();
        let created: Vec<usize> = handles
            .into_iter()
            .map(|h| h.join().unwrap().expect("concurrent start"))
            .collect();
        // Exactly one of them created the four objects (three tables, one index); the others
        // found them.
        let mut sorted = created.clone();
        sorted.sort();
        assert_eq!(sorted, [0, 0, 0, 4], "{created:?}");
    }
}
