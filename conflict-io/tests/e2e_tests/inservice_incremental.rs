//! The InService step of incremental runs (docs/lifecycle.md §7.1) over the real source and
//! store: with nothing changed it reads no visits and writes nothing; after an event changes,
//! an event is added or a visit of an event's caregiver changes, it leaves exactly the rows a
//! full run on the changed data leaves; without bookkeeping it does the full step.

use std::sync::atomic::AtomicBool;

use conflict_io::run::{JobResult, Mode, Outcome, RunParams, Silent, Start};

use super::harness::{job, params, run, since, ConflictSchema, Loaded};

const DIGESTS: &str = "detection_event_digests";

fn with_inservice(mode: Mode, loaded: &Loaded) -> RunParams {
    let mut p = params(mode, loaded.cfg.as_of);
    p.inservice = true;
    p
}

fn go(loaded: &Loaded, schema: &ConflictSchema, p: &RunParams) -> JobResult {
    let r = run(
        loaded,
        schema,
        Start::New(p.clone()),
        p,
        &job(2, 1),
        &AtomicBool::new(false),
        &Silent,
    );
    assert_eq!(
        r.outcome,
        if p.dry_run {
            Outcome::DryRun
        } else {
            Outcome::Succeeded
        }
    );
    r
}

/// An incremental run whose watermark lies after every change made by the tests.
fn noop(loaded: &Loaded) -> RunParams {
    let mut p = with_inservice(Mode::Incremental, loaded);
    p.since = Some(since("2031-01-01 00:00:00"));
    p
}

/// The bookkeeping as (kind, SSN, digest), in key order.
fn digests(schema: &mut ConflictSchema) -> Vec<(String, String, Vec<u8>)> {
    let t = schema.t(DIGESTS);
    schema
        .client
        .query(
            &format!("SELECT \"Kind\", \"SSN\", \"Digest\" FROM {t} ORDER BY 1, 2"),
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect()
}

both_sources! {
fn an_incremental_run_with_nothing_changed_reads_no_visits_for_the_step() {
    let loaded = Loaded::new(91);
    let mut schema = loaded.conflict_schema("isn");
    let full = go(&loaded, &schema, &with_inservice(Mode::Full, &loaded));
    let f = &full.report.inservice;
    assert!(
        f.inservice_pairs > 0,
        "the world must hold in-service conflicts"
    );
    assert!(f.inservice_ssns_rederived > 0 && f.inservice_visits_read > 0);
    assert_eq!(f.inservice_ssns_skipped, 0);
    // One digest per SSN with events, all of in-service kind.
    let recorded = digests(&mut schema);
    assert_eq!(recorded.len() as u64, f.inservice_ssns_rederived);
    assert!(recorded
        .iter()
        .all(|(k, _, d)| k == "inservice" && d.len() == 16));

    let before = schema.snapshot();
    let idle = go(&loaded, &schema, &noop(&loaded));
    let r = &idle.report.inservice;
    assert_eq!(r.inservice_visits_read, 0);
    assert_eq!(r.inservice_ssns_rederived, 0);
    assert_eq!(r.inservice_ssns_skipped, f.inservice_ssns_rederived);
    assert_eq!(
        (r.inservice_pairs, r.inservice_inserted, r.inservice_updated),
        (0, 0, 0)
    );
    assert_eq!(idle.report.input.visits_read, 0);
    assert_eq!(schema.snapshot(), before);
    assert_eq!(digests(&mut schema), recorded);

    // No bookkeeping (the first run after an upgrade): the incremental step is the full one,
    // and it records the bookkeeping again.
    let t = schema.t(DIGESTS);
    schema.exec(&format!("DELETE FROM {t}"));
    let upgraded = go(&loaded, &schema, &noop(&loaded));
    let r = &upgraded.report.inservice;
    assert_eq!(r.inservice_ssns_rederived, f.inservice_ssns_rederived);
    assert_eq!(r.inservice_ssns_skipped, 0);
    assert_eq!(r.inservice_visits_read, f.inservice_visits_read);
    assert_eq!(r.inservice_pairs, f.inservice_pairs);
    assert_eq!(r.inservice_unchanged, f.inservice_pairs);
    assert_eq!(schema.snapshot(), before);
    assert_eq!(digests(&mut schema), recorded);
}
}

both_sources! {
fn an_incremental_step_after_event_and_visit_changes_equals_a_full_run() {
    let mut loaded = Loaded::new(91);
    let mut inc = loaded.conflict_schema("isi");
    let mut full = loaded.conflict_schema("isf");
    let first = go(&loaded, &inc, &with_inservice(Mode::Full, &loaded));
    go(&loaded, &full, &with_inservice(Mode::Full, &loaded));
    assert_eq!(inc.snapshot(), full.snapshot());

    // Two in-service ids with conflicts (the event side's AppVisitID is the in-service id)
    // and a visit paired with the second.
    let cvm = inc.t("conflictvisitmaps");
    let ids: Vec<i64> = inc
        .client
        .query(
            &format!(
                "SELECT DISTINCT \"AppVisitID\" FROM {cvm} WHERE \"InserviceStartDate\" IS NOT NULL \
                 ORDER BY 1 LIMIT 2"
            ),
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        ids.len(),
        2,
        "the world must hold two in-service ids with conflicts"
    );
    let visit: String = inc
        .client
        .query_one(
            &format!(
                "SELECT \"ConVisitID\"::text FROM {cvm} WHERE \"AppVisitID\" = $1 \
                 AND \"InserviceStartDate\" IS NOT NULL ORDER BY 1 LIMIT 1"
            ),
            &[&ids[1]],
        )
        .unwrap()
        .get(0);
    let a = loaded.db.schema();
    let events = format!("{a}.factcaregiverinservice");
    let fact = format!("{a}.factvisitcallperformance_cr");

    // 1. Events only (they carry no timestamp; no visit changed): the first event ends two
    // hours later, and a copy of the second, half an hour later, is a new event.
    loaded.db.exec(&format!(
        "UPDATE {events} SET \"Inservice end date\" = \"Inservice end date\" + interval '2 hours' \
         WHERE \"Application Caregiver Inservice Id\" = {one};
         INSERT INTO {events} SELECT 990001, \"Environment\", \"Caregiver Id\", \"Provider Id\", \
         \"Office Id\", \"Inservice start date\" + interval '30 minutes', \
         \"Inservice end date\" + interval '30 minutes' FROM {events} \
         WHERE \"Application Caregiver Inservice Id\" = {two};",
        one = ids[0],
        two = ids[1],
    ));
    // A dry run changes nothing, the bookkeeping included.
    let (rows, recorded) = (inc.snapshot(), digests(&mut inc));
    let mut dry = noop(&loaded);
    dry.dry_run = true;
    go(&loaded, &inc, &dry);
    assert_eq!(inc.snapshot(), rows);
    assert_eq!(digests(&mut inc), recorded);

    let step = go(&loaded, &inc, &noop(&loaded));
    let r = &step.report.inservice;
    assert!(
        (1..=4).contains(&r.inservice_ssns_rederived),
        "only the changed caregivers (and twins): {}",
        r.inservice_ssns_rederived
    );
    assert!(r.inservice_ssns_skipped > 0);
    assert!(r.inservice_visits_read < first.report.inservice.inservice_visits_read);
    assert!(
        r.inservice_updated + r.inservice_inserted > 0,
        "the events changed rows"
    );
    // The reference: a full run on the changed data, on the schema that saw the same history.
    go(&loaded, &full, &with_inservice(Mode::Full, &loaded));
    assert_eq!(inc.snapshot(), full.snapshot());
    assert_eq!(digests(&mut inc), digests(&mut full));

    // 2. A visit of the second event's caregiver ends an hour later (updated after the
    // watermark); the events are as the last step saw them.
    loaded.db.exec(&format!(
        "UPDATE {fact} SET \"Visit End Time\" = \"Visit End Time\" + interval '1 hour', \
         \"Visit Updated Timestamp\" = '2030-01-01 00:00:00+00' WHERE \"Visit Id\" = '{visit}';"
    ));
    let mut p = with_inservice(Mode::Incremental, &loaded);
    p.since = Some(since("2029-12-31 00:00:00"));
    let step = go(&loaded, &inc, &p);
    let r = &step.report.inservice;
    assert!(
        (1..=2).contains(&r.inservice_ssns_rederived),
        "only the visit's caregiver (and twins): {}",
        r.inservice_ssns_rederived
    );
    assert!(
        r.inservice_updated > 0,
        "the visit's in-service rows changed"
    );
    go(&loaded, &full, &with_inservice(Mode::Full, &loaded));
    assert_eq!(inc.snapshot(), full.snapshot());
    assert_eq!(digests(&mut inc), digests(&mut full));
}
}
