//! The Snowflake-readiness changes as far as PostgreSQL through psqlODBC can show them:
//! dialect detection from the driver's DBMS name, key loading with a known number of
//! statements (no array binding), exclusion lists far beyond Snowflake's 16,384-item `IN`
//! limit, temporary tables that never touch a permanent table of the same name, and the
//! batch label (`application_name` here, `QUERY_TAG` on Snowflake).

use std::collections::HashSet;

use chrono::NaiveDate;
use conflict_core::Visit;
use conflict_io::analytics::{AnalyticsSource, Dialect};
use conflict_io::scope::Scope;

use super::fixture::Loaded;
use crate::support::env;
use crate::support::expected::{assert_same_visits, Expected};

fn key(v: &Visit) -> (NaiveDate, String) {
    (
        v.visit_date,
        conflict_core::model::trim(v.ssn.as_deref().unwrap_or("")).to_string(),
    )
}

#[test]
fn the_dialect_is_taken_from_the_drivers_dbms_name() {
    let t = Loaded::new(41);
    let mut cfg = t.db.config(false);
    cfg.dialect = None;
    let mut src = AnalyticsSource::connect(cfg).expect("connect without a dialect");
    // psqlODBC reports "PostgreSQL" as SQL_DBMS_NAME.
    assert_eq!(src.dialect(), Dialect::Postgres);
    let ex = t.exclusions();
    let actual = src
        .visits(&t.scope(Scope::Window), &ex)
        .expect("read with the detected dialect");
    let expected = Expected::new(&t.world).visits(&t.window(), &ex);
    assert_same_visits("detected dialect", actual, expected);
}

/// Hand count: PostgreSQL replaces a temporary table with DROP + CREATE (2 statements) and
/// fills it with one INSERT per 700 rows (the fixture's `insert_rows`).
#[test]
fn loading_keys_takes_one_statement_per_chunk_of_rows() {
    let t = Loaded::new(42);
    let ex = t.exclusions();
    let admitted = Expected::new(&t.world).visits(&t.window(), &ex);
    let mut keys: Vec<(NaiveDate, String)> = admitted.iter().map(key).collect();
    keys.sort();
    keys.dedup();
    assert!(keys.len() > 1_500, "{} keys", keys.len());
    keys.truncate(1_500);

    let mut src = t.source(false);
    // Session setup: SET TIME ZONE, SET jit.
    assert_eq!(src.statements_sent(), 2);
    let first = src
        .visits(&t.scope(Scope::Keys(keys.clone())), &ex)
        .expect("read keys");
    // Exclusions (2 providers, 2 SSNs): 2 tables × (2 + 1); keys: 2 + ceil(1500/700) = 5;
    // the narrow query: 1.
    assert_eq!(src.statements_sent(), 2 + 6 + 5 + 1);
    // A second batch reuses the exclusion tables: keys 2 + 3, narrow 1.
    let second = src
        .visits(&t.scope(Scope::Keys(keys[..700].to_vec())), &ex)
        .expect("read keys again");
    assert_eq!(src.statements_sent(), 14 + 2 + 1 + 1);

    let wanted: HashSet<&(NaiveDate, String)> = keys.iter().collect();
    let expected: Vec<Visit> = admitted
        .iter()
        .filter(|v| wanted.contains(&key(v)))
        .cloned()
        .collect();
    assert_same_visits("1,500 keys", first, expected);
    let wanted: HashSet<&(NaiveDate, String)> = keys[..700].iter().collect();
    let expected: Vec<Visit> = admitted
        .iter()
        .filter(|v| wanted.contains(&key(v)))
        .cloned()
        .collect();
    assert_same_visits("700 keys", second, expected);

    // Without exclusions there are no exclusion tables: connect 2, keys 2 + 1, narrow 1.
    let mut src = t.source(false);
    src.visits(
        &t.scope(Scope::Keys(keys[..700].to_vec())),
        &conflict_core::Exclusions::default(),
    )
    .expect("read keys without exclusions");
    assert_eq!(src.statements_sent(), 2 + 3 + 1);
}

#[test]
fn exclusion_lists_beyond_snowflakes_in_list_limit_work() {
    let t = Loaded::new(43);
    let mut ex = t.exclusions();
    // 20,000 SSNs nobody has (more than Snowflake's 16,384 items of an IN list), next to the
    // fixture's real ones.
    // They sort before every digit, so a list cut anywhere loses the real ones.
    let fake: Vec<String> = (0..20_000).map(|i| format!("#fake{i:05}")).collect();
    ex.add_ssns(fake.iter().map(String::as_str));
    assert!(ex.ssns.len() > 16_384);
    let actual = t
        .default_source(false)
        .visits(&t.scope(Scope::Window), &ex)
        .expect("read with 20,000 excluded SSNs");
    let expected = Expected::new(&t.world).visits(&t.window(), &ex);
    assert_same_visits("20,002 excluded SSNs", actual, expected);
}

/// `DROP TABLE IF EXISTS conflicts_scope_keys` before the first temporary table exists would
/// drop a permanent table of that name found on the search path.
#[test]
fn a_permanent_table_named_like_a_temporary_one_is_left_alone() {
    let t = Loaded::new(44);
    let mut pg = env::pg_client();
    pg.batch_execute(
        "CREATE TABLE IF NOT EXISTS public.conflicts_scope_keys (marker text); \
         INSERT INTO public.conflicts_scope_keys VALUES ('keep me');",
    )
    .expect("create the permanent table");
    let ex = t.exclusions();
    let admitted = Expected::new(&t.world).visits(&t.window(), &ex);
    let keys: Vec<(NaiveDate, String)> = admitted.iter().take(50).map(key).collect();
    let read = t.source(false).visits(&t.scope(Scope::Keys(keys)), &ex);
    let rows = pg.query("SELECT marker FROM public.conflicts_scope_keys", &[]);
    pg.batch_execute("DROP TABLE IF EXISTS public.conflicts_scope_keys")
        .expect("clean up");
    read.expect("read keys next to a permanent table of the same name");
    let rows = rows.expect("the permanent table still exists");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].get::<_, String>(0), "keep me");
}

#[test]
fn each_batch_is_labelled_with_the_tool_run_and_batch() {
    let t = Loaded::new(45);
    let mut src = t.source(false);
    src.tag(7, "ssn:12'3").expect("set the label");
    let mut pg = env::pg_client();
    let n: i64 = pg
        .query_one(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1",
            &[&"conflicts run=7 batch=ssn:12_3"],
        )
        .expect("pg_stat_activity")
        .get(0);
    assert_eq!(n, 1);
    drop(src);
}
