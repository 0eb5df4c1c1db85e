//! Failures: wrong schema or missing table (query errors) and a bad driver (connect error).
//! No message may carry the password of the connection string.

use conflict_core::Exclusions;
use conflict_io::analytics::{
    AnalyticsConfig, AnalyticsError, AnalyticsSchema, AnalyticsSource, ConnectionString, Dialect,
};
use conflict_io::scope::Scope;

use super::fixture::Loaded;
use crate::support::env;
use crate::support::load::AnalyticsDb;

/// Trust authentication ignores it, so it can be present without breaking the connection.
const PASSWORD: &str = "Pw-9f3c1e7a-Secret";

fn config(connection: String, schema: &str) -> AnalyticsConfig {
    AnalyticsConfig::new(
        ConnectionString::new(connection),
        AnalyticsSchema::new(schema).expect("valid name"),
        Dialect::Postgres,
    )
}

fn assert_no_password(e: &AnalyticsError) {
    for shown in [e.to_string(), format!("{e:?}")] {
        assert!(!shown.contains(PASSWORD), "password leaked: {shown}");
    }
}

#[test]
fn a_missing_schema_is_a_query_error_without_the_password() {
    let t = Loaded::new(41);
    let conn = env::odbc_connection_string_with(&env::driver_path(), Some(PASSWORD), "");
    let schema = format!("{}_missing", t.db.schema());
    let mut src = AnalyticsSource::connect(config(conn, &schema))
        .expect("connecting does not touch the schema");
    let scope = t.scope(Scope::Window);
    let e = src
        .visits(&scope, &Exclusions::default())
        .expect_err("no such schema");
    assert!(matches!(e, AnalyticsError::Query { .. }), "{e:?}");
    assert!(e.to_string().contains("does not exist"), "{e}");
    assert_no_password(&e);

    let id = t.world.visits[0].id.as_str();
    let e = src.details([id]).expect_err("no such schema");
    assert!(matches!(e, AnalyticsError::Query { .. }), "{e:?}");
    assert_no_password(&e);
}

#[test]
fn a_missing_table_is_a_query_error_naming_it() {
    let mut db = AnalyticsDb::create();
    let schema = db.schema();
    db.exec(&format!("DROP TABLE {schema}.dimuser"));
    let conn = env::odbc_connection_string_with(&env::driver_path(), Some(PASSWORD), "");
    let mut src = AnalyticsSource::connect(config(conn, &schema)).expect("connect");
    // The narrow query does not read dimuser; the wide one does.
    let window = conflict_core::Window::default_around("2025-06-15".parse().unwrap()).unwrap();
    let scope = conflict_io::scope::BatchScope {
        window,
        scope: Scope::Window,
    };
    let visits = src
        .visits(&scope, &Exclusions::default())
        .expect("dimuser is not needed for base visits");
    assert!(visits.is_empty());
    let e = src
        .details(["00000000-0000-4000-8000-000000000000"])
        .expect_err("dimuser is missing");
    assert!(matches!(e, AnalyticsError::Query { .. }), "{e:?}");
    assert!(e.to_string().contains("dimuser"), "{e}");
    assert_no_password(&e);
}

#[test]
fn a_bad_driver_path_is_a_connect_error_without_the_password() {
    let conn = env::odbc_connection_string_with("/nonexistent/psqlodbcw.so", Some(PASSWORD), "");
    let Err(e) = AnalyticsSource::connect(config(conn, "analytics")) else {
        panic!("connected through a driver that does not exist");
    };
    assert!(matches!(e, AnalyticsError::Connect { .. }), "{e:?}");
    assert!(e.to_string().contains("Pwd=***"), "{e}");
    assert_no_password(&e);
}

#[test]
fn an_unreachable_server_is_a_connect_error_without_the_password() {
    // Port 1 on the loopback: nothing listens there, the connection is refused at once.
    let conn = format!(
        "Driver={};Server=127.0.0.1;Port=1;Database=postgres;Uid=postgres;Pwd={PASSWORD};",
        env::driver_path()
    );
    let Err(e) = AnalyticsSource::connect(config(conn, "analytics")) else {
        panic!("connected to port 1");
    };
    assert!(matches!(e, AnalyticsError::Connect { .. }), "{e:?}");
    assert_no_password(&e);
}
