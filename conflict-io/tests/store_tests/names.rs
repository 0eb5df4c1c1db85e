//! Configured schema names: validated before they reach any SQL text.

use conflict_io::store::{self, SchemaNames, StoreError};

use super::support::{self, TestSchemas};

#[test]
fn odd_conflict_schema_names_are_configuration_errors() {
    let long = "a".repeat(64);
    for bad in [
        "conflict; drop",
        "a-b",
        long.as_str(),
        "",
        "x\"y",
        "1conflict",
        "conflict.dev",
        "conflict dev",
    ] {
        match SchemaNames::new(bad, "analytics") {
            Err(StoreError::InvalidIdentifier { what, value }) => {
                assert_eq!(value, bad);
                assert!(what.contains("conflict schema"), "{what}");
            }
            other => panic!("{bad:?} was not refused: {other:?}"),
        }
    }
}

#[test]
fn odd_analytics_schema_names_are_configuration_errors() {
    for bad in ["analytics; drop", "a-b", "", "a.b.c", "db.", "x\"y"] {
        assert!(
            matches!(
                SchemaNames::new("conflict", bad),
                Err(StoreError::InvalidIdentifier { .. })
            ),
            "{bad:?}"
        );
    }
    assert!(SchemaNames::new("conflict", "ANALYTICS.BI").is_ok());
}

#[test]
fn a_name_of_the_maximum_length_works_end_to_end() {
    // 63 characters: the longest name PostgreSQL keeps without truncation.
    let prefix = format!("conflict_t_{}_", support::random_suffix());
    let name = format!("{prefix}{}", "x".repeat(63 - prefix.len()));
    assert_eq!(name.len(), 63);
    let mut t = TestSchemas::named(&name, &format!("analytics_t_{}", support::random_suffix()));
    store::init_schema(&mut t.client, &t.names).unwrap();
    store::check_schema(&mut t.client, &t.names).unwrap();
}
