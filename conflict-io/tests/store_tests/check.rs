//! The start-up check of docs/tables.md §1 (`check_schema`).

use conflict_io::store::{self, StoreError};

use super::support::TestSchemas;

fn missing_of(err: StoreError) -> Vec<String> {
    match err {
        StoreError::MissingObjects { missing, .. } => missing,
        other => panic!("expected MissingObjects, got {other:?}"),
    }
}

#[test]
fn a_complete_schema_passes_and_reports_varchar_lengths() {
    let mut t = TestSchemas::initialised();
    let info = store::check_schema(&mut t.client, &t.names).unwrap();
    assert_eq!(
        info.varchar_len("conflictvisitmaps", "ProviderName"),
        Some(100)
    );
    assert_eq!(
        info.varchar_len("conflictvisitmaps", "PayerState"),
        Some(10)
    );
    assert_eq!(
        info.varchar_len("conflictvisitmaps", "ConPayerState"),
        Some(100)
    );
    assert_eq!(info.varchar_len("conflictvisitmaps", "AideName"), Some(101));
    assert_eq!(info.varchar_len("conflictvisitmaps", "SSN"), Some(20));
    assert_eq!(info.varchar_len("conflicts", "StatusFlag"), Some(5));
    // Not varchar, or not a column the tool needs.
    assert_eq!(info.varchar_len("conflictvisitmaps", "VisitID"), None);
    assert_eq!(info.varchar_len("conflicts", "ResolvedBy"), None);
    assert!(info.varchar_columns() > 100, "{}", info.varchar_columns());
}

#[test]
fn lengths_are_read_from_the_database_not_assumed() {
    let mut t = TestSchemas::initialised();
    let cvm = t.table("conflictvisitmaps");
    t.exec(&format!(
        "ALTER TABLE {cvm} ALTER COLUMN \"ProviderName\" TYPE varchar(150), \
                          ALTER COLUMN \"Office\" TYPE varchar"
    ));
    let info = store::check_schema(&mut t.client, &t.names).unwrap();
    assert_eq!(
        info.varchar_len("conflictvisitmaps", "ProviderName"),
        Some(150)
    );
    assert_eq!(
        info.varchar_len("conflictvisitmaps", "Office"),
        None,
        "unbounded"
    );
}

#[test]
fn every_missing_table_and_column_is_listed() {
    let mut t = TestSchemas::initialised();
    let (cvm, mph, runs) = (
        t.table("conflictvisitmaps"),
        t.table("mph"),
        t.table("detection_runs"),
    );
    t.exec(&format!(
        "ALTER TABLE {cvm} DROP COLUMN \"SSN\", DROP COLUMN \"ConPTOEndDate\"; \
         ALTER TABLE {runs} DROP COLUMN \"Report\"; DROP TABLE {mph};"
    ));
    let missing = missing_of(store::check_schema(&mut t.client, &t.names).unwrap_err());
    assert_eq!(missing.len(), 4, "{missing:?}");
    for expected in [
        format!("table {mph}"),
        format!("column {cvm}.\"SSN\""),
        format!("column {cvm}.\"ConPTOEndDate\""),
        format!("column {runs}.\"Report\""),
    ] {
        assert!(missing.contains(&expected), "{expected} not in {missing:?}");
    }
}

#[test]
fn columns_the_tool_never_uses_may_be_absent() {
    let mut t = TestSchemas::initialised();
    let (cvm, settings, conflicts) = (
        t.table("conflictvisitmaps"),
        t.table("settings"),
        t.table("conflicts"),
    );
    t.exec(&format!(
        "ALTER TABLE {cvm} DROP COLUMN \"GroupID\", DROP COLUMN \"TempGroupID\"; \
         ALTER TABLE {settings} DROP COLUMN \"NORESPONSELIMITTIME\"; \
         ALTER TABLE {conflicts} DROP COLUMN \"NoResponseNotes\";"
    ));
    store::check_schema(&mut t.client, &t.names).expect("unused columns are not required");
}

#[test]
fn a_schema_that_does_not_exist_lacks_all_seven_tables() {
    let mut t = TestSchemas::new();
    let err = store::check_schema(&mut t.client, &t.names).unwrap_err();
    let text = err.to_string();
    let missing = missing_of(err);
    assert_eq!(missing.len(), 7, "{missing:?}");
    assert!(text.contains(t.names.conflict.as_str()), "{text}");
}
