//! The InService (and PTO) step of the store (docs/lifecycle.md §7, docs/rules.md §13): both rows of a
//! (visit, event) pair, sticky flags, statuses, `CONFLICTID`s, and no effect on regular rows.

use std::collections::HashMap;

use chrono::NaiveDateTime;
use conflict_core::admit::admit;
use conflict_core::inservice::{admit_events, pair_events, synthetic_id, Event, EventKind};
use conflict_core::{Exclusions, Visit, Warnings};
use conflict_io::details::{SourcedEvent, Value, VisitDetails};
use conflict_io::run::{ConflictStore, EventCounts, EventInput};
use conflict_io::store::PgStore;

use super::batch::{at, d, details_for, flags, run, set, text, ts, u, visit, World, DAY, SSN};

/// The in-service id of the fixture event.
const EVENT_ID: i64 = 12345;
const RUN1: &str = "2025-06-15 02:00:00";
const RUN2: &str = "2025-06-16 02:00:00";

/// One visit (provider 1, worked 09:00–11:00, a location from the patient address) and one
/// in-service event of the same SSN at provider 2, 10:00–12:00.
struct Fixture {
    kind: EventKind,
    visits: Vec<Visit>,
    details: HashMap<String, VisitDetails>,
    events: Vec<SourcedEvent>,
}

impl Fixture {
    fn new(kind: EventKind) -> Fixture {
        let mut v = visit(1, 1);
        v.visit_start = Some(at("09:00"));
        v.visit_end = Some(at("11:00"));
        v.address_lat = Some(40.75);
        v.address_lon = Some(-73.99);
        let details = HashMap::from([(v.visit_id.clone(), details_for(&v))]);
        let event = Event {
            kind,
            source_id: EVENT_ID,
            environment: "env1".into(),
            caregiver_id: Some("cg-2".into()),
            ssn: Some(format!(" {SSN} ")),
            provider_id: u(1002),
            start: Some(at("10:00")),
            end: Some(at("12:00")),
        };
        let mut ed = VisitDetails::empty();
        set(&mut ed, "ProviderID", Value::Uuid(u(1002)));
        set(
            &mut ed,
            "ProviderName",
            Value::Text("Training Agency".into()),
        );
        set(&mut ed, "AgencyPhone", Value::Text("555-0199".into()));
        set(&mut ed, "AideName", Value::Text("Pat Doe".into()));
        set(&mut ed, "AppVisitID", Value::I64(EVENT_ID));
        Fixture {
            kind,
            visits: vec![v],
            details,
            events: vec![SourcedEvent { event, details: ed }],
        }
    }

    fn event_id(&self) -> String {
        synthetic_id(self.kind, EVENT_ID)
    }

    fn try_apply(
        &self,
        store: &PgStore,
        run_ts: &str,
        dry_run: bool,
    ) -> Result<EventCounts, conflict_io::store::StoreError> {
        let r = run(run_ts);
        let ex = Exclusions::default();
        let admission = admit(&self.visits, &r.window, &ex).expect("no duplicate visits");
        let raw: Vec<Event> = self.events.iter().map(|e| e.event.clone()).collect();
        let mut warnings = Warnings::default();
        let admitted_events = admit_events(&raw, &r.window, &ex, &mut warnings);
        let pairs = pair_events(&self.visits, &admission, self.kind, &raw, &admitted_events);
        assert_eq!(pairs.len(), 2, "both orders of the one pair");
        let input = EventInput {
            kind: self.kind,
            visits: &self.visits,
            admission: &admission,
            events: &self.events,
            admitted_events: &admitted_events,
            pairs: &pairs,
            details: &self.details,
        };
        store.apply_events(&r, &input, dry_run)
    }

    fn apply(&self, store: &PgStore, run_ts: &str) -> EventCounts {
        self.try_apply(store, run_ts, false)
            .unwrap_or_else(|e| panic!("apply_events: {e}"))
    }
}

/// (updated, unchanged, inserted, conflicts_created).
fn numbers(c: &EventCounts) -> [u64; 4] {
    [c.updated, c.unchanged, c.inserted, c.conflicts_created]
}

fn tstamp(row: &postgres::Row, column: &str) -> Option<NaiveDateTime> {
    row.get(column)
}

fn conflict_id(row: &postgres::Row) -> Option<i64> {
    row.get("CONFLICTID")
}

#[test]
fn both_rows_of_a_pair_are_inserted() {
    let mut w = World::new();
    let f = Fixture::new(EventKind::InService);
    let (v, e) = (u(1), f.event_id());
    let counts = f.apply(&w.store, RUN1);
    assert_eq!(numbers(&counts), [0, 0, 2, 2]);

    let ve = w.row(&v, &e);
    assert_eq!(text(&ve, "InServiceFlag").as_deref(), Some("Y"));
    assert_eq!(text(&ve, "PTOFlag").as_deref(), Some("N"));
    assert_eq!(text(&ve, "StatusFlag").as_deref(), Some("N"));
    assert_eq!(flags(&ve), "NNNNNNN");
    assert_eq!(tstamp(&ve, "CreatedDate"), Some(ts(RUN1)));
    assert_eq!(tstamp(&ve, "UpdatedDate"), None);
    assert_eq!(tstamp(&ve, "ConInserviceStartDate"), Some(at("10:00")));
    assert_eq!(tstamp(&ve, "ConInserviceEndDate"), Some(at("12:00")));
    assert_eq!(tstamp(&ve, "InserviceStartDate"), None);
    assert_eq!(tstamp(&ve, "InserviceEndDate"), None);
    assert_eq!(ve.get::<_, Option<i64>>("AppVisitID"), Some(1));
    assert_eq!(ve.get::<_, Option<i64>>("ConAppVisitID"), Some(EVENT_ID));
    assert_eq!(text(&ve, "SSN").as_deref(), Some(SSN));
    assert_eq!(text(&ve, "ConAideSSN").as_deref(), Some(SSN));
    assert_eq!(
        ve.get::<_, Option<chrono::NaiveDate>>("VisitDate"),
        Some(d(DAY))
    );
    assert_eq!(
        text(&ve, "ConProviderName").as_deref(),
        Some("Training Agency")
    );
    assert_eq!(text(&ve, "ConAgencyPhone").as_deref(), Some("555-0199"));
    assert_eq!(text(&ve, "AgencyPhone").as_deref(), Some("555-0100"));
    assert_eq!(ve.get::<_, Option<f32>>("PLatitude"), Some(40.75f32));
    assert_eq!(ve.get::<_, Option<f32>>("ConPLatitude"), None);
    assert_eq!(tstamp(&ve, "ConSchStartTime"), None);
    assert_eq!(tstamp(&ve, "SchStartTime"), Some(at("09:00")));
    assert_eq!(ve.get::<_, Option<f32>>("DistanceMilesFromLatLng"), None);
    assert_eq!(ve.get::<_, Option<i32>>("ETATravelMinutes"), None);

    let ev = w.row(&e, &v);
    assert_eq!(tstamp(&ev, "InserviceStartDate"), Some(at("10:00")));
    assert_eq!(tstamp(&ev, "InserviceEndDate"), Some(at("12:00")));
    assert_eq!(tstamp(&ev, "ConInserviceStartDate"), None);
    assert_eq!(ev.get::<_, Option<i64>>("AppVisitID"), Some(EVENT_ID));
    assert_eq!(ev.get::<_, Option<i64>>("ConAppVisitID"), Some(1));
    assert_eq!(
        ev.get::<_, Option<chrono::NaiveDate>>("VisitDate"),
        Some(d(DAY))
    );
    assert_eq!(
        text(&ev, "ProviderName").as_deref(),
        Some("Training Agency")
    );
    assert_eq!(text(&ev, "AideSSN").as_deref(), Some(SSN));
    assert_eq!(ev.get::<_, Option<f32>>("ConPLatitude"), Some(40.75f32));
    assert_eq!(text(&ev, "InServiceFlag").as_deref(), Some("Y"));

    // One conflict per primary visit, both new.
    let (c1, c2) = (conflict_id(&ve).unwrap(), conflict_id(&ev).unwrap());
    assert_ne!(c1, c2);
    assert_eq!(w.count("conflicts"), 2);
}

#[test]
fn a_second_run_on_the_same_data_rewrites_nothing() {
    let mut w = World::new();
    let f = Fixture::new(EventKind::InService);
    f.apply(&w.store, RUN1);
    let cvm = w.snapshot("conflictvisitmaps", "\"ID\"");
    let conflicts = w.snapshot("conflicts", "\"CONFLICTID\"");
    let counts = f.apply(&w.store, RUN2);
    assert_eq!(numbers(&counts), [0, 2, 0, 0]);
    assert_eq!(w.snapshot("conflictvisitmaps", "\"ID\""), cvm);
    assert_eq!(w.snapshot("conflicts", "\"CONFLICTID\""), conflicts);
}

#[test]
fn a_stored_null_inservice_flag_is_kept_and_an_n_becomes_y() {
    let mut w = World::new();
    let f = Fixture::new(EventKind::InService);
    let (v, e) = (u(1), f.event_id());
    f.apply(&w.store, RUN1);
    let cvm = w.cvm();
    w.exec(&format!(
        "UPDATE {cvm} SET \"InServiceFlag\" = NULL, \"SameSchTimeFlag\" = 'Y' \
         WHERE \"VisitID\" = '{v}'"
    ));
    w.exec(&format!(
        "UPDATE {cvm} SET \"InServiceFlag\" = 'N', \"SameSchTimeFlag\" = NULL \
         WHERE \"VisitID\" = '{e}'"
    ));
    let counts = f.apply(&w.store, RUN2);
    assert_eq!(numbers(&counts), [1, 1, 0, 0]);

    let ve = w.row(&v, &e);
    assert_eq!(text(&ve, "InServiceFlag"), None);
    assert_eq!(
        text(&ve, "SameSchTimeFlag").as_deref(),
        Some("Y"),
        "sticky Y"
    );
    assert_eq!(text(&ve, "StatusFlag").as_deref(), Some("N"));
    assert_eq!(tstamp(&ve, "UpdatedDate"), None, "not rewritten");

    let ev = w.row(&e, &v);
    assert_eq!(text(&ev, "InServiceFlag").as_deref(), Some("Y"));
    assert_eq!(text(&ev, "SameSchTimeFlag"), None, "sticky NULL");
    assert_eq!(text(&ev, "StatusFlag").as_deref(), Some("U"));
    assert_eq!(tstamp(&ev, "UpdatedDate"), Some(ts(RUN2)));
    assert_eq!(tstamp(&ev, "CreatedDate"), Some(ts(RUN1)));
}

#[test]
fn changed_event_times_update_the_rows_and_a_w_status_is_kept() {
    let mut w = World::new();
    let mut f = Fixture::new(EventKind::InService);
    let (v, e) = (u(1), f.event_id());
    f.apply(&w.store, RUN1);
    let before = conflict_id(&w.row(&v, &e));
    let cvm = w.cvm();
    w.exec(&format!(
        "UPDATE {cvm} SET \"StatusFlag\" = 'W', \"UpdateFlag\" = 1, \
         \"ResolveDate\" = '2025-06-15 05:00:00' WHERE \"VisitID\" = '{v}'"
    ));
    f.events[0].event.end = Some(at("13:30"));
    set(
        &mut f.events[0].details,
        "ProviderName",
        Value::Text("Renamed Agency".into()),
    );
    let counts = f.apply(&w.store, RUN2);
    assert_eq!(numbers(&counts), [2, 0, 0, 0]);

    let ve = w.row(&v, &e);
    assert_eq!(text(&ve, "StatusFlag").as_deref(), Some("W"));
    assert_eq!(tstamp(&ve, "ConInserviceEndDate"), Some(at("13:30")));
    assert_eq!(tstamp(&ve, "InserviceEndDate"), None);
    assert_eq!(
        text(&ve, "ConProviderName").as_deref(),
        Some("Renamed Agency")
    );
    assert_eq!(ve.get::<_, Option<i16>>("UpdateFlag"), None);
    assert_eq!(tstamp(&ve, "ResolveDate"), None);
    assert_eq!(tstamp(&ve, "UpdatedDate"), Some(ts(RUN2)));
    assert_eq!(conflict_id(&ve), before, "CONFLICTID kept");

    let ev = w.row(&e, &v);
    assert_eq!(text(&ev, "StatusFlag").as_deref(), Some("U"));
    assert_eq!(tstamp(&ev, "InserviceEndDate"), Some(at("13:30")));
    assert_eq!(tstamp(&ev, "ConInserviceEndDate"), None);
    assert_eq!(text(&ev, "ProviderName").as_deref(), Some("Renamed Agency"));
}

#[test]
fn regular_rows_of_the_visit_are_untouched_and_lend_their_conflict_id() {
    let mut w = World::new();
    let f = Fixture::new(EventKind::InService);
    let (v, e) = (u(1), f.event_id());
    w.seed_conflict(10, "U");
    w.seed_conflict(7, "U");
    // Regular rows with VisitID = the visit: their smallest CONFLICTID (7) is reused.
    w.seed(&v, &u(2), Some(10), &[("StatusFlag", "'N'")]);
    w.seed(&v, &u(3), Some(7), &[("StatusFlag", "'U'")]);
    let before = w.snapshot("conflictvisitmaps", "\"ID\"");
    let counts = f.apply(&w.store, RUN1);
    assert_eq!(numbers(&counts), [0, 0, 2, 1]);
    let after = w.snapshot("conflictvisitmaps", "\"ID\"");
    assert_eq!(after[..2], before[..], "regular rows untouched");
    assert_eq!(conflict_id(&w.row(&v, &e)), Some(7));
    let new = conflict_id(&w.row(&e, &v)).unwrap();
    assert!(new != 7 && new != 10);
    assert_eq!(w.count("conflicts"), 3);
}

#[test]
fn a_null_conflict_id_of_an_inservice_row_is_kept() {
    let mut w = World::new();
    let f = Fixture::new(EventKind::InService);
    let (v, e) = (u(1), f.event_id());
    // An InService row left by the previous system without a CONFLICTID.
    w.seed(
        &v,
        &e,
        None,
        &[
            ("ConInserviceStartDate", "'2025-06-10 10:00:00'"),
            ("ConInserviceEndDate", "'2025-06-10 11:00:00'"),
            ("InServiceFlag", "'Y'"),
            ("StatusFlag", "'N'"),
        ],
    );
    let counts = f.apply(&w.store, RUN1);
    // (v, e) updated (end time and business columns), (e, v) inserted under a new conflict.
    assert_eq!(numbers(&counts), [1, 0, 1, 1]);
    let ve = w.row(&v, &e);
    assert_eq!(conflict_id(&ve), None);
    assert_eq!(tstamp(&ve, "ConInserviceEndDate"), Some(at("12:00")));
    assert_eq!(text(&ve, "StatusFlag").as_deref(), Some("U"));
    assert_eq!(
        text(&ve, "ConProviderName").as_deref(),
        Some("Training Agency")
    );
    assert!(conflict_id(&w.row(&e, &v)).is_some());
}

#[test]
fn a_key_held_by_a_regular_row_is_left_alone() {
    let mut w = World::new();
    let f = Fixture::new(EventKind::InService);
    let (v, e) = (u(1), f.event_id());
    w.seed_conflict(10, "U");
    w.seed(&v, &e, Some(10), &[("StatusFlag", "'N'")]);
    let before = w.snapshot("conflictvisitmaps", "\"ID\"");
    let counts = f.apply(&w.store, RUN1);
    assert_eq!(numbers(&counts), [0, 0, 1, 1]);
    assert_eq!(counts.warnings.count_named("key_held_by_other_kind"), 1);
    let after = w.snapshot("conflictvisitmaps", "\"ID\"");
    assert_eq!(after[0], before[0]);
    assert_eq!(w.rows(&v, &e).len(), 1);
}

#[test]
fn a_missing_parent_of_a_kept_conflict_id_is_added() {
    let mut w = World::new();
    let f = Fixture::new(EventKind::InService);
    let (v, e) = (u(1), f.event_id());
    w.seed(
        &v,
        &e,
        Some(42),
        &[
            ("ConInserviceStartDate", "'2025-06-10 10:00:00'"),
            ("ConInserviceEndDate", "'2025-06-10 11:00:00'"),
            ("InServiceFlag", "'N'"),
            ("StatusFlag", "'U'"),
        ],
    );
    let counts = f.apply(&w.store, RUN1);
    assert_eq!(numbers(&counts), [1, 0, 1, 1]);
    assert_eq!(counts.warnings.count_named("missing_parent_conflict"), 1);
    assert_eq!(text(&w.row(&v, &e), "InServiceFlag").as_deref(), Some("Y"));
    assert_eq!(w.count("conflicts"), 2);
}

#[test]
fn a_dry_run_writes_nothing() {
    let mut w = World::new();
    let f = Fixture::new(EventKind::InService);
    let counts = f
        .try_apply(&w.store, RUN1, true)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(numbers(&counts), [0, 0, 2, 2]);
    assert_eq!(w.count("conflictvisitmaps"), 0);
    assert_eq!(w.count("conflicts"), 0);

    f.apply(&w.store, RUN1);
    let cvm = w.snapshot("conflictvisitmaps", "\"ID\"");
    w.exec(&format!("UPDATE {} SET \"InServiceFlag\" = 'N'", w.cvm()));
    let flagged = w.snapshot("conflictvisitmaps", "\"ID\"");
    assert_ne!(flagged, cvm);
    let counts = f
        .try_apply(&w.store, RUN2, true)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(numbers(&counts), [2, 0, 0, 0]);
    assert_eq!(w.snapshot("conflictvisitmaps", "\"ID\""), flagged);
}

#[test]
fn pto_rows_use_the_pto_flag_and_dates_and_ignore_inservice_rows() {
    let mut w = World::new();
    let f = Fixture::new(EventKind::Pto);
    let (v, e) = (u(1), f.event_id());
    let counts = f.apply(&w.store, RUN1);
    assert_eq!(numbers(&counts), [0, 0, 2, 2]);
    let ve = w.row(&v, &e);
    assert_eq!(text(&ve, "PTOFlag").as_deref(), Some("Y"));
    assert_eq!(text(&ve, "InServiceFlag").as_deref(), Some("N"));
    assert_eq!(tstamp(&ve, "ConPTOStartDate"), Some(at("10:00")));
    assert_eq!(tstamp(&ve, "ConInserviceStartDate"), None);
    let ev = w.row(&e, &v);
    assert_eq!(tstamp(&ev, "PTOEndDate"), Some(at("12:00")));
    let counts = f.apply(&w.store, RUN2);
    assert_eq!(numbers(&counts), [0, 2, 0, 0]);

    // The InService step does not match PTO rows (the synthetic ids differ anyway).
    let g = Fixture::new(EventKind::InService);
    let counts = g.apply(&w.store, RUN2);
    assert_eq!(numbers(&counts), [0, 0, 2, 1]);
    assert_eq!(conflict_id(&w.row(&v, &g.event_id())), conflict_id(&ve));
}
