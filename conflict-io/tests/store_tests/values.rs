//! The values of an inserted row (docs/tables.md §5.3, §10; docs/lifecycle.md §5.1) and the columns an
//! update never writes (§4.1).

use chrono::NaiveDateTime;
use conflict_io::details::Value;

use super::batch::{at, d, flags, numbers, set, text, ts, u, visit, Batch, World, DAY};

/// E08 of docs/rules.md §14: a (08:00–09:00 at P0) → b (09:20–10:30 at P15) is a distance conflict
/// under `current`; the reverse pair is not emitted.
fn e08() -> Batch {
    let mut a = visit(1, 1);
    a.ssn = Some(" 123456789\t".into());
    (a.sch_start, a.sch_end) = (Some(at("08:00")), Some(at("09:00")));
    (a.visit_start, a.visit_end) = (a.sch_start, a.sch_end);
    a.call_out_gps = Some("40.750000,-73.990000".into());
    let mut b = visit(2, 2);
    (b.sch_start, b.sch_end) = (Some(at("09:20")), Some(at("10:30")));
    (b.visit_start, b.visit_end) = (b.sch_start, b.sch_end);
    b.call_out_gps = Some("40.967000,-73.990000".into());
    b.is_missed = None;
    Batch::new(vec![a, b])
}

#[test]
fn an_inserted_row_carries_both_visits_the_metrics_and_the_control_values() {
    let mut w = World::new();
    let (a, b) = (u(1), u(2));
    let counts = e08().apply(&w.store, "2025-06-15 02:00:00");
    assert_eq!(numbers(&counts), [0, 0, 0, 1, 0, 0, 1]);
    assert!(w.rows(&b, &a).is_empty(), "reverse pair not detected");
    let r = w.row(&a, &b);
    let f32_of = |c: &str| r.get::<_, Option<f32>>(c);
    let i32_of = |c: &str| r.get::<_, Option<i32>>(c);
    let ts_of = |c: &str| r.get::<_, Option<NaiveDateTime>>(c);
    let uuid_of =
        |c: &str| -> Option<String> { r.get::<_, Option<uuid::Uuid>>(c).map(|u| u.to_string()) };

    // Pair key and context.
    assert_eq!(text(&r, "SSN").as_deref(), Some("123456789"), "trimmed");
    assert_eq!(r.get::<_, chrono::NaiveDate>("VisitDate"), d(DAY));
    assert_eq!(r.get::<_, Option<i64>>("AppVisitID"), Some(1));
    assert_eq!(r.get::<_, Option<i64>>("ConAppVisitID"), Some(2));
    // Business columns of both sides.
    assert_eq!(uuid_of("ProviderID"), Some(u(1001)));
    assert_eq!(uuid_of("ConProviderID"), Some(u(1002)));
    assert_eq!(text(&r, "ProviderName").as_deref(), Some("Agency 001001"));
    assert_eq!(
        text(&r, "ConProviderName").as_deref(),
        Some("Agency 001002")
    );
    assert_eq!(text(&r, "AgencyPhone").as_deref(), Some("555-0100"));
    assert_eq!(text(&r, "AgencyContact"), None);
    assert_eq!(text(&r, "ConAgencyContact"), None);
    assert_eq!(text(&r, "P_PStatus").as_deref(), Some("Active"));
    assert_eq!(text(&r, "ContractType").as_deref(), Some("Payer"));
    assert_eq!(f32_of("BilledHours"), Some(1.1f32));
    // Derived from the visits.
    assert_eq!(ts_of("SchStartTime"), Some(at("08:00")));
    assert_eq!(ts_of("VisitEndTime"), Some(at("09:00")));
    assert_eq!(ts_of("ConVisitStartTime"), Some(at("09:20")));
    assert_eq!(ts_of("LastUpdatedDate"), Some(ts("2025-06-09 08:00:00")));
    assert_eq!(r.get::<_, Option<bool>>("IsMissed"), Some(false));
    assert_eq!(r.get::<_, Option<bool>>("ConIsMissed"), None);
    assert_eq!(text(&r, "AideSSN").as_deref(), Some("123456789"));
    assert_eq!(text(&r, "ConAideSSN").as_deref(), Some("123456789"));
    assert_eq!(f32_of("PLatitude"), Some(40.75f32));
    assert_eq!(f32_of("PLongitude"), Some(-73.99f32));
    assert_eq!(f32_of("ConPLatitude"), Some(40.967f32));
    // The un-prefixed patient block: ids only.
    assert_eq!(uuid_of("PatientID"), Some(u(5000)));
    assert_eq!(r.get::<_, Option<i64>>("AppPatientID"), Some(5000));
    assert_eq!(text(&r, "PName"), None);
    // Metrics: MD 20, D 15.00, mph 35, ETA 25.71 → 26 whole minutes.
    assert_eq!(i32_of("MinuteDiffBetweenSch"), Some(20));
    assert_eq!(f32_of("DistanceMilesFromLatLng"), Some(15.0f32));
    assert_eq!(f32_of("AverageMilesPerHour"), Some(35.0f32));
    assert_eq!(i32_of("ETATravelMinutes"), Some(26));
    // Flags and control columns.
    assert_eq!(flags(&r), "NNNNNNY");
    assert_eq!(text(&r, "StatusFlag").as_deref(), Some("N"));
    assert_eq!(ts_of("CreatedDate"), Some(ts("2025-06-15 02:00:00")));
    assert_eq!(text(&r, "InServiceFlag").as_deref(), Some("N"));
    assert_eq!(text(&r, "PTOFlag").as_deref(), Some("N"));
    for c in [
        "UpdatedDate",
        "ResolveDate",
        "InserviceStartDate",
        "ConPTOEndDate",
    ] {
        assert_eq!(ts_of(c), None, "{c}");
    }
    assert_eq!(r.get::<_, Option<i16>>("UpdateFlag"), None);
    assert_eq!(r.get::<_, Option<i64>>("GroupID"), None);
    let conflict_id: i64 = r.get("CONFLICTID");
    let conflicts = w.conflicts();
    let parent =
        w.t.client
            .query_one(
                &format!(
                "SELECT \"StatusFlag\", \"CreatedDate\" FROM {conflicts} WHERE \"CONFLICTID\" = $1"
            ),
                &[&conflict_id],
            )
            .unwrap();
    assert_eq!(parent.get::<_, Option<String>>(0).as_deref(), Some("U"));
    assert_eq!(
        parent.get::<_, Option<NaiveDateTime>>(1),
        Some(ts("2025-06-15 02:00:00"))
    );
}

#[test]
fn an_update_never_writes_the_agency_contact_phone_and_patient_status_columns() {
    let mut w = World::new();
    let (a, b) = (u(1), u(2));
    let mut batch = e08();
    batch.apply(&w.store, "2025-06-15 02:00:00");
    let cvm = w.cvm();
    w.exec(&format!(
        "UPDATE {cvm} SET \"AgencyContact\" = 'Ann', \"GroupID\" = 7"
    ));

    // Only never-written columns differ: the row is unchanged.
    set(
        batch.detail(1),
        "AgencyPhone",
        Value::Text("555-0199".into()),
    );
    set(
        batch.detail(2),
        "P_PStatus",
        Value::Text("Discharged".into()),
    );
    let counts = batch.apply(&w.store, "2025-06-16 02:00:00");
    assert_eq!(numbers(&counts), [0, 1, 0, 0, 0, 0, 0]);

    // A written column differs as well (and the always-NULL block holds an old value):
    // rewritten, but the never-written columns keep their stored values.
    set(batch.detail(1), "Office", Value::Text("Downtown".into()));
    w.exec(&format!("UPDATE {cvm} SET \"PName\" = 'Old Name'"));
    let counts = batch.apply(&w.store, "2025-06-17 02:00:00");
    assert_eq!(numbers(&counts), [1, 0, 0, 0, 0, 0, 0]);
    let r = w.row(&a, &b);
    assert_eq!(text(&r, "Office").as_deref(), Some("Downtown"));
    assert_eq!(text(&r, "PName"), None);
    assert_eq!(text(&r, "AgencyPhone").as_deref(), Some("555-0100"));
    assert_eq!(text(&r, "ConP_PStatus").as_deref(), Some("Active"));
    assert_eq!(text(&r, "AgencyContact").as_deref(), Some("Ann"));
    assert_eq!(r.get::<_, Option<i64>>("GroupID"), Some(7));
    assert_eq!(text(&r, "StatusFlag").as_deref(), Some("U"));
}
