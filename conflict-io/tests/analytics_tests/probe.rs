//! The preflight probe through psqlODBC: the tables of schema.sql pass; missing tables and
//! columns are all listed, by name, in one error.

use conflict_io::analytics::{AnalyticsError, AnalyticsSource};

use crate::support::load::AnalyticsDb;

#[test]
fn the_schema_of_schema_sql_passes_with_every_step_on() {
    let db = AnalyticsDb::create();
    let src = AnalyticsSource::connect(db.config(true)).expect("connect");
    src.probe(true, true)
        .expect("every table and column exists");
}

#[test]
fn the_event_tables_are_read_only_when_their_steps_run() {
    let db = AnalyticsDb::create();
    let src = AnalyticsSource::connect(db.config(true)).expect("connect");
    let off = src.read_columns(false, false);
    assert!(!off.contains_key("factcaregiverinservice"));
    assert!(!off.contains_key("factcaregiverabsence"));
    let on = src.read_columns(true, true);
    assert!(on["factcaregiverinservice"].contains("Inservice start date"));
    assert!(on["factcaregiverabsence"].contains("Global Caregiver Id"));

    // Without the PTO step a missing absence table is no problem.
    let mut db = db;
    let absence = format!("{}.factcaregiverabsence", db.schema());
    db.exec(&format!("DROP TABLE {absence}"));
    src.probe(true, false).expect("PTO is off");
    let e = src.probe(true, true).expect_err("PTO is on");
    assert!(
        e.to_string()
            .contains(&format!("table {absence} cannot be read")),
        "{e}"
    );
}

#[test]
fn every_missing_column_of_a_table_is_listed() {
    let mut db = AnalyticsDb::create();
    let schema = db.schema();
    let address = format!("{schema}.dimpatientaddress");
    db.exec(&format!(
        "ALTER TABLE {address} DROP COLUMN \"Latitude\";
         ALTER TABLE {address} DROP COLUMN \"Longitude\";
         ALTER TABLE {address} DROP COLUMN \"Primary Address\";"
    ));
    let src = AnalyticsSource::connect(db.config(true)).expect("connect");
    let e = src.probe(false, false).expect_err("columns are missing");
    let AnalyticsError::MissingObjects { missing, .. } = &e else {
        panic!("{e:?}");
    };
    assert_eq!(
        missing,
        &[format!(
            "{address}: missing columns \"Latitude\", \"Longitude\", \"Primary Address\""
        )]
    );
}
