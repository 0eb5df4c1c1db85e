//! The native PostgreSQL source (`conflict_io::analytics_pg`) against the model and against the
//! ODBC source on the same loaded world: every read returns equal values (issue "Speed II",
//! item 4). Both sources talk to the real test server (TLS-only under scripts/test.sh), the
//! ODBC one through the real psqlODBC driver.

use std::collections::BTreeMap;

use chrono::{NaiveDate, TimeDelta};
use conflict_core::inservice::{event_spans, EventKind};
use conflict_core::model::trim;
use conflict_core::{Exclusions, Visit};
use conflict_io::analytics::AnalyticsSchema;
use conflict_io::analytics_pg::{PgAnalyticsSource, PgSourceConfig, PgSourceError};
use conflict_io::details::{Value, VisitDetails};
use conflict_io::scope::Scope;

use super::fixture::Loaded;
use crate::support::env;
use crate::support::expected::{assert_same_visits, prefilter, sorted_events, Expected};
use crate::support::load::AnalyticsDb;
use crate::support::rng::Rng;

fn native(t: &Loaded, prefilter: bool) -> PgAnalyticsSource {
    PgAnalyticsSource::connect(t.db.native_config(prefilter))
        .unwrap_or_else(|e| panic!("connect natively: {e}"))
}

fn key(v: &Visit) -> (NaiveDate, String) {
    (
        v.visit_date,
        trim(v.ssn.as_deref().unwrap_or("")).to_string(),
    )
}

/// Bit-exact for reals, as docs/tables.md §10 asks of the copy.
fn same_details(a: &VisitDetails, b: &VisitDetails) -> bool {
    a.values.len() == b.values.len()
        && a.values.iter().zip(&b.values).all(|(x, y)| match (x, y) {
            (Value::F32(x), Value::F32(y)) => x.to_bits() == y.to_bits(),
            _ => x == y,
        })
}

#[test]
fn native_visits_equal_the_model_and_the_odbc_source_in_every_scope() {
    let t = Loaded::new(81);
    let window = t.window();
    let ex = t.exclusions();
    let model = Expected::new(&t.world).visits(&window, &ex);
    let mut rng = Rng::new(81);
    let mut keys: Vec<(NaiveDate, String)> =
        model.iter().map(key).filter(|_| rng.chance(0.2)).collect();
    // Listed twice: still one copy of each visit.
    keys.extend(keys[..5].to_vec());
    for pre in [false, true] {
        let mut odbc = t.source(pre);
        let mut pg = native(&t, pre);
        let expected = if pre {
            prefilter(&model)
        } else {
            model.clone()
        };
        let got = pg.visits(&t.scope(Scope::Window), &ex).expect("window");
        assert_same_visits(&format!("native, window, pre-filter {pre}"), got, expected);
        // A prefix of one SSN that has visits in this setting.
        let two: String = key(&prefilter(&model)[0]).1.chars().take(2).collect();
        for scope in [
            Scope::SsnPrefix("1".into()),
            Scope::SsnPrefix(two),
            Scope::Keys(keys.clone()),
        ] {
            let what = format!("{scope:?}", scope = &scope)
                .chars()
                .take(40)
                .collect::<String>();
            let a = pg.visits(&t.scope(scope.clone()), &ex).expect("native");
            let b = odbc.visits(&t.scope(scope), &ex).expect("odbc");
            assert!(!b.is_empty(), "{what}: the scope holds visits");
            assert_same_visits(&format!("native vs ODBC, {what}, pre-filter {pre}"), a, b);
        }
    }
    // Without exclusions (no exclusion tables, no conditions) too.
    let none = Exclusions::default();
    let a = native(&t, false)
        .visits(&t.scope(Scope::Window), &none)
        .expect("native");
    let expected = Expected::new(&t.world).visits(&window, &none);
    assert!(expected.len() > model.len(), "exclusions removed visits");
    assert_same_visits("native, no exclusions", a, expected);
}

#[test]
fn native_details_equal_the_model_and_the_odbc_source() {
    let t = Loaded::new(82);
    let model = Expected::new(&t.world);
    let admitted = model.visits(&t.window(), &t.exclusions());
    let mut ids: Vec<String> = admitted.iter().map(|v| v.visit_id.clone()).collect();
    let distinct = ids.len();
    ids.extend(ids[..10].to_vec());
    let unknown = "00000000-0000-4000-8000-000000000000".to_string();
    ids.push(unknown.clone());
    let mut pg = native(&t, false);
    let got = pg.details(ids.iter().map(String::as_str)).expect("native");
    let odbc = t
        .source(false)
        .details(ids.iter().map(String::as_str))
        .expect("odbc");
    assert_eq!(got.len(), distinct, "one entry per distinct existing id");
    assert!(!got.contains_key(&unknown));
    assert_eq!(odbc.len(), got.len());
    for id in &ids[..distinct] {
        let expected = model.details(model.fact(id).expect("a fact row"));
        assert!(
            same_details(&got[id], &expected),
            "visit {id}: native vs model"
        );
        assert!(
            same_details(&got[id], &odbc[id]),
            "visit {id}: native vs ODBC"
        );
    }
    assert!(pg.details(std::iter::empty()).expect("no ids").is_empty());
}

#[test]
fn native_events_and_caregiver_visits_equal_the_model_and_the_odbc_source() {
    let t = Loaded::new(83);
    let window = t.window();
    let ex = t.exclusions();
    let model = Expected::new(&t.world);
    let mut pg = native(&t, false);
    let mut odbc = t.source(false);
    for kind in [EventKind::InService, EventKind::Pto] {
        let expected = sorted_events(model.events(kind, &window, &ex));
        assert!(expected.len() > 20, "{kind:?}: {} events", expected.len());
        let a = sorted_events(pg.events(kind, &window, &ex).expect("native"));
        let b = sorted_events(odbc.events(kind, &window, &ex).expect("odbc"));
        assert_eq!(a, expected, "{kind:?}: native vs model");
        assert_eq!(a, b, "{kind:?}: native vs ODBC");
        let raw: Vec<_> = expected.iter().map(|e| e.event.clone()).collect();
        let spans = event_spans(&raw, &window, &ex);
        assert!(!spans.is_empty());
        let a = pg.visits_near_events(&window, &spans, &ex).expect("native");
        let b = odbc.visits_near_events(&window, &spans, &ex).expect("odbc");
        assert!(!b.is_empty());
        assert_same_visits(&format!("{kind:?}: visits near the events"), a, b);
    }
}

#[test]
fn native_planning_reads_equal_the_model_and_the_odbc_source() {
    let t = Loaded::new(84);
    let window = t.window();
    let admitted = Expected::new(&t.world).visits(&window, &Exclusions::default());
    let mut pg = native(&t, true);
    let mut odbc = t.source(true);
    for len in [1, 2] {
        let mut expected: BTreeMap<String, u64> = BTreeMap::new();
        for v in &admitted {
            let ssn = trim(v.ssn.as_deref().unwrap_or(""));
            *expected.entry(ssn.chars().take(len).collect()).or_default() += 1;
        }
        let a: BTreeMap<String, u64> = pg.ssn_prefixes(&window, len).unwrap().into_iter().collect();
        let b: BTreeMap<String, u64> = odbc
            .ssn_prefixes(&window, len)
            .unwrap()
            .into_iter()
            .collect();
        assert_eq!(a, expected, "prefix length {len}: native vs model");
        assert_eq!(a, b, "prefix length {len}: native vs ODBC");
    }
    // `since` is one visit's own update time (microseconds): inclusive bound.
    let mut stamps: Vec<_> = t.world.visits.iter().filter_map(|f| f.updated_at).collect();
    stamps.sort();
    let since = stamps[stamps.len() * 2 / 3];
    for since in [since, since + TimeDelta::microseconds(1)] {
        let mut a = pg.delta_keys(since, &window).expect("native");
        let mut b = odbc.delta_keys(since, &window).expect("odbc");
        a.sort();
        b.sort();
        assert!(!b.is_empty());
        assert_eq!(a, b, "delta keys since {since}");
    }
    assert!(pg.statements_sent() > 0 && pg.rows_read() > 0);
}

/// Trust authentication ignores it, so it can be present without breaking the connection.
const PASSWORD: &str = "Pw-9f3c1e7a-Secret";

fn with_password(schema: &str) -> PgSourceConfig {
    PgSourceConfig::parse(
        &format!("{} password={PASSWORD}", env::conninfo_text()),
        AnalyticsSchema::new(schema).unwrap(),
    )
    .expect("valid conninfo")
}

fn assert_no_password(e: &PgSourceError) {
    for shown in [e.to_string(), format!("{e:?}")] {
        assert!(!shown.contains(PASSWORD), "password leaked: {shown}");
    }
}

#[test]
fn native_failures_name_the_cause_without_the_password() {
    // A missing table: the probe lists it (and its columns are not guessed at), a query that
    // reads it fails with the server's SQLSTATE and what to do.
    let mut db = AnalyticsDb::create();
    let schema = db.schema();
    db.exec(&format!(
        "DROP TABLE {schema}.dimuser; ALTER TABLE {schema}.dimcaregiver RENAME COLUMN \"SSN\" TO ssn"
    ));
    let mut src = PgAnalyticsSource::connect(with_password(&schema)).expect("connect");
    let e = src.probe(true, false).expect_err("dimuser is missing");
    let shown = e.to_string();
    assert!(matches!(e, PgSourceError::MissingObjects { .. }), "{e:?}");
    assert!(
        shown.contains(&format!("table {schema}.dimuser cannot be read")),
        "{shown}"
    );
    assert!(shown.contains("(SQLSTATE 42P01)"), "{shown}");
    assert!(
        shown.contains("\"SSN\" (there is \"ssn\"; quoted names are case-sensitive)"),
        "{shown}"
    );
    assert_no_password(&e);
    let e = src
        .details(["00000000-0000-4000-8000-000000000000"])
        .expect_err("dimuser is missing");
    let shown = e.to_string();
    assert!(
        shown.starts_with(
            "PostgreSQL analytics source: query failed while reading business columns: "
        ) && shown.contains("dimuser")
            && shown.contains("(SQLSTATE 42P01); check --analytics-schema"),
        "{shown}"
    );
    assert_no_password(&e);

    // An unreachable server: a connect error naming the target, password masked.
    let cfg = PgSourceConfig::parse(
        &format!("host=127.0.0.1 port=1 user=postgres password={PASSWORD} connect_timeout=5"),
        AnalyticsSchema::new("analytics").unwrap(),
    )
    .unwrap();
    let Err(e) = PgAnalyticsSource::connect(cfg) else {
        panic!("connected to port 1");
    };
    assert!(matches!(e, PgSourceError::Connect(_)), "{e:?}");
    assert!(
        e.to_string()
            .starts_with("cannot connect to the PostgreSQL analytics source: "),
        "{e}"
    );
    assert_no_password(&e);

    // An unparsable or empty conninfo is a configuration error, before any connection.
    for bad in ["", "   ", "host=x port=notanumber"] {
        let Err(e) = PgSourceConfig::parse(bad, AnalyticsSchema::new("analytics").unwrap()) else {
            panic!("{bad:?} parsed");
        };
        assert!(matches!(e, PgSourceError::Config(_)), "{e:?}");
    }
}
