//! `init_schema` / `init_analytics_schema`: what they create, and that running them again (or
//! twice at once) is harmless.

use std::collections::BTreeMap;

use conflict_io::store::{self, testing::ddl};
use postgres::Client;

use super::support::{self, TestSchemas};

/// Column name → (data type, varchar length) of one table as the server reports it.
fn columns(
    client: &mut Client,
    schema: &str,
    table: &str,
) -> BTreeMap<String, (String, Option<i32>)> {
    client
        .query(
            "SELECT column_name::text, data_type::text, character_maximum_length::int4 \
             FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2",
            &[&schema, &table],
        )
        .unwrap()
        .into_iter()
        .map(|r| (r.get(0), (r.get(1), r.get(2))))
        .collect()
}

fn indexes(client: &mut Client, schema: &str) -> Vec<String> {
    client
        .query(
            "SELECT indexname::text FROM pg_indexes WHERE schemaname = $1 ORDER BY 1",
            &[&schema],
        )
        .unwrap()
        .into_iter()
        .map(|r| r.get(0))
        .collect()
}

#[test]
fn init_creates_every_table_column_and_index_of_the_ddl() {
    let mut t = TestSchemas::initialised();
    let schema = t.names.conflict.as_str().to_string();
    for def in ddl::conflict_tables() {
        let found = columns(&mut t.client, &schema, &def.name);
        let expected: Vec<&String> = def.columns.iter().map(|(c, _)| c).collect();
        let got: Vec<&String> = found.keys().collect();
        let mut expected_sorted = expected.clone();
        expected_sorted.sort();
        assert_eq!(got, expected_sorted, "columns of {}", def.name);
    }
    let cvm = columns(&mut t.client, &schema, "conflictvisitmaps");
    assert_eq!(cvm.len(), 225, "CVM column count of schema.sql");
    assert_eq!(cvm["PayerState"], ("character varying".into(), Some(10)));
    assert_eq!(
        cvm["ConPayerState"],
        ("character varying".into(), Some(100))
    );
    assert_eq!(cvm["PLatitude"].0, "real");
    assert_eq!(cvm["VisitID"].0, "uuid");

    let idx = indexes(&mut t.client, &schema);
    for name in [
        "cvm_visitid",
        "cvm_convisitid",
        "cvm_conflictid",
        "cvm_pair_unique",
        "cvm_date_ssn_regular",
        "cvm_trimmed_ssn_regular",
        "detection_runs_success",
    ] {
        assert!(
            idx.iter().any(|i| i == name),
            "index {name} missing: {idx:?}"
        );
    }
    let partial: String = t
        .client
        .query_one(
            "SELECT indexdef FROM pg_indexes WHERE schemaname = $1 AND indexname = 'cvm_date_ssn_regular'",
            &[&schema],
        )
        .unwrap()
        .get(0);
    assert!(
        partial.contains("WHERE") && partial.contains("PTOEndDate"),
        "{partial}"
    );
}

#[test]
fn column_defaults_of_the_ddl_apply() {
    let mut t = TestSchemas::initialised();
    let cvm = t.table("conflictvisitmaps");
    let row = t
        .client
        .query_one(
            &format!(
                "INSERT INTO {cvm} (\"VisitID\") VALUES ('6f1e0c4e-0000-4000-8000-000000000001') \
                 RETURNING \"ID\", \"StatusFlag\", \"CreatedDate\" IS NOT NULL"
            ),
            &[],
        )
        .unwrap();
    assert!(row.get::<_, i64>(0) >= 1);
    assert_eq!(row.get::<_, String>(1), "U");
    assert!(row.get::<_, bool>(2));
    // The unique pair index is there: a second row with the same key is refused.
    let sql = format!(
        "INSERT INTO {cvm} (\"VisitID\", \"ConVisitID\") VALUES \
         ('6f1e0c4e-0000-4000-8000-000000000001', '6f1e0c4e-0000-4000-8000-000000000002')"
    );
    t.exec(&sql);
    let err = t.client.batch_execute(&sql).unwrap_err();
    assert_eq!(err.code().unwrap().code(), "23505");
}

#[test]
fn init_twice_is_harmless_and_keeps_the_data() {
    let mut t = TestSchemas::initialised();
    let settings = t.table("settings");
    t.exec(&format!(
        "INSERT INTO {settings} (\"ID\", \"ExtraDistancePer\") VALUES (1, 1.25)"
    ));
    store::init_schema(&mut t.client, &t.names).expect("second init");
    store::init_schema(&mut t.client, &t.names).expect("third init");
    let x: String = t
        .client
        .query_one(
            &format!("SELECT \"ExtraDistancePer\"::text FROM {settings}"),
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(x, "1.25");
    store::check_schema(&mut t.client, &t.names).expect("schema still complete");
}

#[test]
fn concurrent_inits_of_one_schema_both_succeed() {
    let t = TestSchemas::new();
    let handles: Vec<_> = (0..2)
        .map(|_| {
            let names = t.names.clone();
            std::thread::spawn(move || {
                let mut c = support::client();
                store::init_schema(&mut c, &names)
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap().expect("concurrent init");
    }
    let mut t = t;
    store::check_schema(&mut t.client, &t.names).expect("complete after concurrent inits");
}

#[test]
fn schema_names_keep_their_case_exactly() {
    let suffix = support::random_suffix();
    let mut t = TestSchemas::named(
        &format!("Conflict_T_{suffix}"),
        &format!("analytics_t_{suffix}"),
    );
    store::init_schema(&mut t.client, &t.names).unwrap();
    let n: i64 = t
        .client
        .query_one(
            "SELECT count(*) FROM pg_namespace WHERE nspname = $1",
            &[&t.names.conflict.as_str()],
        )
        .unwrap()
        .get(0);
    assert_eq!(n, 1, "the quoted, mixed-case name is stored as configured");
    store::check_schema(&mut t.client, &t.names).unwrap();
}

#[test]
fn analytics_schema_is_created_unquoted_and_idempotently() {
    let suffix = support::random_suffix();
    let mut t = TestSchemas::named(
        &format!("conflict_t_{suffix}"),
        &format!("Analytics_T_{suffix}"),
    );
    store::init_analytics_schema(&mut t.client, &t.names).unwrap();
    store::init_analytics_schema(&mut t.client, &t.names).unwrap();
    // Unquoted: PostgreSQL folds the configured name to lower case.
    let folded = format!("analytics_t_{suffix}");
    for def in ddl::analytics_tables() {
        let found = columns(&mut t.client, &folded, &def.name);
        assert_eq!(found.len(), def.columns.len(), "columns of {}", def.name);
    }
    let fact = columns(&mut t.client, &folded, "factvisitcallperformance_cr");
    assert_eq!(
        fact["Visit Updated Timestamp"].0,
        "timestamp with time zone"
    );
    assert!(indexes(&mut t.client, &folded).contains(&"dpa_gps".to_string()));
}

#[test]
fn a_database_qualified_analytics_name_cannot_be_created() {
    let mut t = TestSchemas::named(
        &format!("conflict_t_{}", support::random_suffix()),
        "warehouse.analytics",
    );
    let err = store::init_analytics_schema(&mut t.client, &t.names).unwrap_err();
    assert!(err.to_string().contains("warehouse.analytics"), "{err}");
}
