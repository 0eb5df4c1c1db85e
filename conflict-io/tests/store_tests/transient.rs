//! Which failures a batch retries (docs/lifecycle.md §9, README "Failure model"), classified from
//! real server errors: each error below is produced by the test server, not constructed.

use std::time::Duration;

use conflict_io::store::{ConnInfo, StoreError};
use postgres::Client;

use super::support::{self, TestSchemas};

/// The store's error for a failed statement, as the store wraps it.
fn run(client: &mut Client, sql: &str) -> StoreError {
    let e = client
        .batch_execute(sql)
        .expect_err("the statement was meant to fail");
    StoreError::db("test", None, e)
}

fn table(t: &mut TestSchemas) -> String {
    let name = format!("{}.retry_probe", t.names.conflict.quoted());
    t.exec(&format!(
        "CREATE TABLE {name} (id int PRIMARY KEY, v int); INSERT INTO {name} VALUES (1, 0), (2, 0)"
    ));
    name
}

#[test]
fn a_serialization_failure_is_transient() {
    let mut t = TestSchemas::initialised();
    let name = table(&mut t);
    let mut a = support::client();
    let mut b = support::client();
    a.batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        .unwrap();
    a.batch_execute(&format!("SELECT * FROM {name}")).unwrap();
    b.batch_execute(&format!("UPDATE {name} SET v = 1 WHERE id = 1"))
        .unwrap();
    let e = run(&mut a, &format!("UPDATE {name} SET v = 2 WHERE id = 1"));
    assert_eq!(e.sqlstate(), Some("40001"), "{e}");
    assert!(e.is_transient());
}

#[test]
fn a_deadlock_is_transient() {
    let mut t = TestSchemas::initialised();
    let name = table(&mut t);
    let mut a = support::client();
    let mut b = support::client();
    a.batch_execute(&format!("BEGIN; UPDATE {name} SET v = 1 WHERE id = 1"))
        .unwrap();
    b.batch_execute(&format!("BEGIN; UPDATE {name} SET v = 1 WHERE id = 2"))
        .unwrap();
    // Each waits for the other's row: the server aborts one of them (after deadlock_timeout).
    let (ra, rb) = std::thread::scope(|s| {
        let sql_a = format!("UPDATE {name} SET v = 2 WHERE id = 2");
        let ha = s.spawn(move || {
            let r = a.batch_execute(&sql_a);
            let _ = a.batch_execute("ROLLBACK");
            r
        });
        let sql_b = format!("UPDATE {name} SET v = 2 WHERE id = 1");
        let hb = s.spawn(move || {
            let r = b.batch_execute(&sql_b);
            let _ = b.batch_execute("ROLLBACK");
            r
        });
        (ha.join().unwrap(), hb.join().unwrap())
    });
    let failed: Vec<StoreError> = [ra, rb]
        .into_iter()
        .filter_map(Result::err)
        .map(|e| StoreError::db("test", None, e))
        .collect();
    assert_eq!(failed.len(), 1, "exactly one side is the deadlock victim");
    assert_eq!(failed[0].sqlstate(), Some("40P01"), "{}", failed[0]);
    assert!(failed[0].is_transient());
}

#[test]
fn a_session_ended_by_the_server_is_transient_and_so_is_its_closed_connection() {
    let mut victim = support::client();
    let pid: i32 = victim
        .query_one("SELECT pg_backend_pid()", &[])
        .unwrap()
        .get(0);
    let mut admin = support::client();
    admin
        .execute("SELECT pg_terminate_backend($1)", &[&pid])
        .unwrap();
    while admin
        .query_one(
            "SELECT count(*) FROM pg_stat_activity WHERE pid = $1",
            &[&pid],
        )
        .unwrap()
        .get::<_, i64>(0)
        > 0
    {
        std::thread::sleep(Duration::from_millis(5));
    }
    // First use: the server's FATAL 57P01 (or the socket's end, if it was read first).
    let first = run(&mut victim, "SELECT 1");
    assert!(matches!(first.sqlstate(), Some("57P01") | None), "{first}");
    assert!(first.is_transient(), "{first}");
    // Any later use: the driver's closed connection.
    let second = run(&mut victim, "SELECT 1");
    assert!(victim.is_closed());
    assert!(second.is_transient(), "{second}");
}

#[test]
fn a_server_that_cannot_be_reached_is_transient_a_refused_login_is_not() {
    // Nothing listens on port 1: "connection refused", no SQLSTATE.
    let down = ConnInfo::parse("host=127.0.0.1 port=1 user=x dbname=x sslmode=disable").unwrap();
    let Err(e) = conflict_io::store::connect(&down) else {
        panic!("port 1 accepted a connection")
    };
    assert!(
        matches!(e, StoreError::Connect { sqlstate: None, .. }),
        "{e:?}"
    );
    assert!(e.is_transient(), "{e}");
    // The server answers and refuses: an unknown database (3D000) does not heal by retrying.
    let text = format!(
        "{} dbname=no_such_database_for_retries",
        support::conninfo_text()
    );
    let Err(e) = conflict_io::store::connect(&ConnInfo::parse(&text).unwrap()) else {
        panic!("an unknown database accepted a connection")
    };
    assert_eq!(e.sqlstate(), Some("3D000"), "{e}");
    assert!(!e.is_transient(), "{e}");
}

#[test]
fn errors_of_the_data_or_the_schema_are_not_transient() {
    let mut t = TestSchemas::initialised();
    let name = table(&mut t);
    let mut c = support::client();
    for (sql, code) in [
        (format!("INSERT INTO {name} VALUES (1, 0)"), "23505"),
        (
            format!("SELECT * FROM {}.no_such_table", t.names.conflict.quoted()),
            "42P01",
        ),
        ("SELECT 1 / 0".to_string(), "22012"),
    ] {
        let e = run(&mut c, &sql);
        assert_eq!(e.sqlstate(), Some(code), "{e}");
        assert!(!e.is_transient(), "{code} must not be retried");
    }
}
