//! The InService step of a run over the real source and store: the rows of docs/lifecycle.md §7
//! for exactly the pairs docs/rules.md §13 defines, and a second run that changes nothing.

use std::collections::BTreeSet;
use std::sync::atomic::AtomicBool;

use conflict_core::admit::admit;
use conflict_core::inservice::{admit_events, pair_events, synthetic_id, Event, EventKind, Side};
use conflict_core::model::trim;
use conflict_core::{Exclusions, Warnings};
use conflict_io::run::{Mode, Silent, Start};

use super::harness::{job, params, run, Loaded};

/// (VisitID, ConVisitID) of every InService row docs/rules.md §13 asks for, from the world itself.
fn expected_rows(loaded: &Loaded) -> BTreeSet<(String, String)> {
    let w = &loaded.world;
    let window = loaded.cfg.window();
    let ex = Exclusions::default();
    let events: Vec<Event> = w
        .inservice
        .iter()
        .filter_map(|e| {
            let c = w
                .caregivers
                .iter()
                .find(|c| Some(&c.id) == e.caregiver_id.as_ref())?;
            let p = w
                .providers
                .iter()
                .find(|p| Some(&p.id) == e.provider_id.as_ref())?;
            let ssn = c.ssn.as_deref().map(trim).filter(|s| !s.is_empty())?;
            p.admits().then(|| Event {
                kind: EventKind::InService,
                source_id: e.app_id,
                environment: e.environment.clone(),
                caregiver_id: e.caregiver_id.clone(),
                ssn: Some(ssn.to_string()),
                provider_id: p.id.clone(),
                start: e.start,
                end: e.end,
            })
        })
        .collect();
    let mut warnings = Warnings::default();
    let admitted = admit_events(&events, &window, &ex, &mut warnings);
    let visits = loaded.expected_visits();
    let admission = admit(&visits, &window, &ex).unwrap();
    pair_events(
        &visits,
        &admission,
        EventKind::InService,
        &events,
        &admitted,
    )
    .into_iter()
    .map(|p| {
        let (v, e) = (
            visits[p.visit].visit_id.clone(),
            admitted[p.event].visit_id.clone(),
        );
        match p.side {
            Side::VisitFirst => (v, e),
            Side::EventFirst => (e, v),
        }
    })
    .collect()
}

both_sources! {
fn a_run_with_inservice_writes_its_rows_once() {
    let loaded = Loaded::new(91);
    let want = expected_rows(&loaded);
    assert!(!want.is_empty(), "the world must hold in-service conflicts");
    let mut schema = loaded.conflict_schema("ins");
    let mut p = params(Mode::Full, loaded.cfg.as_of);
    p.inservice = true;
    let first = run(
        &loaded,
        &schema,
        Start::New(p.clone()),
        &p,
        &job(2, 1),
        &AtomicBool::new(false),
        &Silent,
    );
    let r = &first.report.inservice;
    assert_eq!(r.inservice_pairs as usize, want.len());
    assert_eq!(r.inservice_inserted as usize, want.len());

    let cvm = schema.t("conflictvisitmaps");
    let stored: BTreeSet<(String, String)> = schema
        .client
        .query(
            &format!(
                "SELECT \"VisitID\"::text, \"ConVisitID\"::text FROM {cvm} WHERE \"InServiceFlag\" = 'Y' \
                 AND \"CONFLICTID\" IS NOT NULL AND \"StatusFlag\" = 'N' AND \"DistanceFlag\" = 'N' \
                 AND (\"InserviceStartDate\" IS NOT NULL OR \"ConInserviceStartDate\" IS NOT NULL)"
            ),
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(stored, want);
    // The event side carries the synthetic id of docs/rules.md §13.
    let some_event = loaded
        .world
        .inservice
        .iter()
        .map(|e| synthetic_id(EventKind::InService, e.app_id));
    assert!(some_event
        .into_iter()
        .any(|id| want.iter().any(|(a, b)| *a == id || *b == id)));

    let before = schema.snapshot();
    let second = run(
        &loaded,
        &schema,
        Start::New(p.clone()),
        &p,
        &job(2, 1),
        &AtomicBool::new(false),
        &Silent,
    );
    let r = &second.report.inservice;
    assert_eq!((r.inservice_inserted, r.inservice_updated), (0, 0));
    assert_eq!(r.inservice_unchanged as usize, want.len());
    assert_eq!(before, schema.snapshot());
}
}
