//! Connections and the pool: UTC sessions, bounded size, failing fast, never showing a password.

use std::net::TcpListener;
use std::time::{Duration, Instant};

use conflict_io::store::{self, ConnInfo, Pool, PoolOptions, StoreError};

use super::support;

const SECRET: &str = "hunter2-Secret-pw";

/// A localhost port on which nothing listens (bound once by us, then released).
fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

fn time_zone(client: &mut postgres::Client) -> String {
    client.query_one("SHOW TimeZone", &[]).unwrap().get(0)
}

/// The test server's conninfo with a session default time zone other than UTC, so that only
/// the store's own session setup can make it UTC.
fn conninfo_with_other_zone() -> ConnInfo {
    let text = format!(
        "{} options='-c TimeZone=America/New_York'",
        support::conninfo_text()
    );
    ConnInfo::parse(&text).unwrap()
}

#[test]
fn single_connections_use_utc() {
    let ci = conninfo_with_other_zone();
    let mut c = store::connect(&ci).unwrap();
    assert_eq!(time_zone(&mut c), "UTC");
}

#[test]
fn pooled_connections_use_utc_and_the_pool_grows_to_the_worker_count() {
    let ci = conninfo_with_other_zone();
    let opts = PoolOptions {
        workers: 3,
        connection_timeout: Duration::from_secs(1),
    };
    let pool = Pool::build(&ci, &opts).unwrap();
    assert_eq!(pool.max_size(), 3);
    assert!(pool.connections() >= 1);
    let mut held: Vec<_> = (0..3).map(|_| pool.get().unwrap()).collect();
    for c in &mut held {
        assert_eq!(time_zone(c), "UTC");
    }
    assert_eq!(pool.connections(), 3);
    // A fourth checkout waits for the timeout, then fails with a clear message.
    let started = Instant::now();
    let Err(err) = pool.get() else {
        panic!("a fourth connection was handed out");
    };
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(matches!(err, StoreError::Connect { .. }), "{err:?}");
    assert!(err.to_string().contains("no pooled connection"), "{err}");
    drop(held);
    assert!(pool.get().is_ok());
}

#[test]
fn zero_workers_still_give_one_connection() {
    let opts = PoolOptions {
        workers: 0,
        ..PoolOptions::default()
    };
    let pool = Pool::build(&support::conninfo(), &opts).unwrap();
    assert_eq!(pool.max_size(), 1);
    let mut c = pool.get().unwrap();
    assert_eq!(c.query_one("SELECT 1", &[]).unwrap().get::<_, i32>(0), 1);
}

#[test]
fn a_server_that_is_down_fails_fast_without_showing_the_password() {
    let port = closed_port();
    let ci = ConnInfo::parse(&format!(
        "host=127.0.0.1 port={port} user=postgres password={SECRET} dbname=postgres"
    ))
    .unwrap();
    let started = Instant::now();
    let pool_err = Pool::build(&ci, &PoolOptions::default()).unwrap_err();
    let Err(conn_err) = store::connect(&ci) else {
        panic!("connected to a closed port");
    };
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    for err in [pool_err, conn_err] {
        let text = err.to_string();
        let debug = format!("{err:?}");
        assert!(matches!(err, StoreError::Connect { .. }), "{debug}");
        assert!(!text.contains(SECRET) && !debug.contains(SECRET), "{debug}");
        assert!(text.contains(&format!("127.0.0.1 port={port}")), "{text}");
        assert!(text.contains("password=***"), "{text}");
    }
}

#[test]
fn a_refusal_by_the_server_carries_its_sqlstate() {
    let text = format!(
        "{} dbname=no_such_db_{} password={SECRET}",
        support::conninfo_text(),
        support::random_suffix()
    );
    let ci = ConnInfo::parse(&text).unwrap();
    let err = Pool::build(&ci, &PoolOptions::default()).unwrap_err();
    assert_eq!(err.sqlstate(), Some("3D000"), "{err}");
    assert!(err.to_string().contains("does not exist"), "{err}");
    assert!(!format!("{err} {err:?}").contains(SECRET));
}

#[test]
fn statement_errors_name_the_action_table_and_sqlstate() {
    let mut c = support::client();
    let e = c
        .batch_execute("SELECT * FROM \"conflict_t_no_such_schema\".\"settings\"")
        .unwrap_err();
    let err = StoreError::db(
        "read settings",
        Some("\"conflict_t_no_such_schema\".\"settings\""),
        e,
    )
    .in_batch(7);
    let text = err.to_string();
    assert_eq!(err.sqlstate(), Some("42P01"));
    assert!(text.starts_with("read settings on \"conflict_t_no_such_schema\".\"settings\" (batch 7): ERROR: relation"), "{text}");
    assert!(text.ends_with("(SQLSTATE 42P01)"), "{text}");
    assert!(!err.is_transient());
}
