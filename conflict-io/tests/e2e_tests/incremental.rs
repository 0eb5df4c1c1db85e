//! An incremental run after changes in the warehouse leaves the same state as a full run on
//! the changed data.

use std::sync::atomic::AtomicBool;

use conflict_io::run::{Mode, Outcome, Silent, Start};

use super::harness::{job, params, run, run_full, since, Loaded};

both_sources! {
fn an_incremental_run_equals_a_full_run_on_the_changed_data() {
    let mut loaded = Loaded::new(77);
    let expected = loaded.expected_pairs();
    let mut incremental = loaded.conflict_schema("inc");
    let mut full = loaded.conflict_schema("full");
    run_full(&loaded, &incremental);
    run_full(&loaded, &full);
    assert_eq!(incremental.snapshot(), full.snapshot());

    // Change the warehouse: move some paired visits by five hours (ending some conflicts and
    // starting others), and hand one visit to an inactive provider. All of them are marked
    // updated far in the future, after the watermark used below.
    let fact = format!("{}.factvisitcallperformance_cr", loaded.db.schema());
    let provider = format!("{}.dimprovider", loaded.db.schema());
    let mut v1s: Vec<&String> = expected.keys().map(|k| &k.0).collect();
    v1s.dedup();
    let moved: Vec<String> = v1s
        .iter()
        .step_by(3)
        .take(25)
        .map(|s| format!("'{s}'"))
        .collect();
    let inactive = v1s[1];
    loaded.db.exec(&format!(
        "UPDATE {fact} SET \"Scheduled Start Time\" = \"Scheduled Start Time\" + interval '5 hours', \
         \"Scheduled End Time\" = \"Scheduled End Time\" + interval '5 hours', \
         \"Visit Start Time\" = \"Visit Start Time\" + interval '5 hours', \
         \"Visit End Time\" = \"Visit End Time\" + interval '5 hours', \
         \"Visit Updated Timestamp\" = '2030-01-01 00:00:00+00' WHERE \"Visit Id\" IN ({});
         UPDATE {fact} SET \"Provider Id\" = (SELECT \"Provider Id\" FROM {provider} WHERE NOT \"Is Active\" LIMIT 1), \
         \"Visit Updated Timestamp\" = '2030-01-01 00:00:00+00' WHERE \"Visit Id\" = '{inactive}';",
        moved.join(", ")
    ));

    let mut p = params(Mode::Incremental, loaded.cfg.as_of);
    p.since = Some(since("2029-12-31 00:00:00"));
    let inc = run(
        &loaded,
        &incremental,
        Start::New(p.clone()),
        &p,
        &job(2, 1),
        &AtomicBool::new(false),
        &Silent,
    );
    assert_eq!(inc.outcome, Outcome::Succeeded);
    assert!(
        inc.report.input.keys > 0 && inc.report.input.keys <= 27,
        "only the delta keys: {}",
        inc.report.input.keys
    );
    assert!(
        inc.report.writes.resolved > 0,
        "the inactive provider's pairs are resolved"
    );
    let f = run_full(&loaded, &full);
    assert_eq!(f.outcome, Outcome::Succeeded);
    assert_eq!(incremental.snapshot(), full.snapshot());

    // Without changes since the watermark, an incremental run has nothing to do.
    let mut p = params(Mode::Incremental, loaded.cfg.as_of);
    p.since = Some(since("2031-01-01 00:00:00"));
    let idle = run(
        &loaded,
        &incremental,
        Start::New(p.clone()),
        &p,
        &job(2, 1),
        &AtomicBool::new(false),
        &Silent,
    );
    assert_eq!(idle.report.input.keys, 0);
    assert_eq!(
        idle.report.writes.inserted + idle.report.writes.updated + idle.report.writes.resolved,
        0
    );
}
}
