//! `PgStore::connect`: the start-up check runs once and the ledger table is created.

use conflict_io::store::{PgStore, StoreError};

use super::support::{conninfo, TestSchemas};

#[test]
fn connecting_checks_the_schema_and_creates_the_ledger() {
    let mut t = TestSchemas::initialised();
    let store = PgStore::connect(&conninfo(), t.names.clone(), 3).unwrap();
    assert_eq!(
        store
            .schema_info()
            .varchar_len("conflictvisitmaps", "PayerState"),
        Some(10)
    );
    assert_eq!(store.pool().max_size(), 3);
    let exists: bool = t
        .client
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM information_schema.tables \
             WHERE table_schema = $1 AND table_name = 'detection_run_batches')",
            &[&t.names.conflict.as_str()],
        )
        .unwrap()
        .get(0);
    assert!(exists);
    // A second store on the same schema finds the ledger in place.
    PgStore::connect(&conninfo(), t.names.clone(), 1).unwrap();
}

#[test]
fn a_schema_missing_a_column_is_refused_at_connect() {
    let mut t = TestSchemas::initialised();
    let cvm = t.table("conflictvisitmaps");
    t.exec(&format!("ALTER TABLE {cvm} DROP COLUMN \"ConPayerState\""));
    let err = PgStore::connect(&conninfo(), t.names.clone(), 1).unwrap_err();
    match err {
        StoreError::MissingObjects { missing, .. } => {
            assert_eq!(missing.len(), 1);
            assert!(missing[0].contains("ConPayerState"), "{missing:?}");
        }
        other => panic!("expected MissingObjects, got {other:?}"),
    }
}
