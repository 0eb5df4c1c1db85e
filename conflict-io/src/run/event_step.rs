//! The InService (or PTO) step of the owner, after the regular batches: events of the whole
//! window, the visits of their caregivers, pairing, and one write (docs/lifecycle.md §7).

use conflict_core::inservice::{detect_events, event_ssns, EventDetection, EventKind};

use super::job::{duplicate_ids, source_err, store_err, JobError};
use super::ports::{ConflictStore, EventInput, VisitSource};
use super::report::RunReport;
use super::workers::Ctx;

/// Runs the step for `kind` and adds its counters to `report`.
pub(super) fn event_step<St, S, F>(
    ctx: &Ctx<'_, St, F>,
    kind: EventKind,
    report: &mut RunReport,
) -> Result<(), JobError>
where
    St: ConflictStore,
    S: VisitSource,
    F: Fn() -> Result<S, S::Error> + Sync,
{
    let (run, cfg) = (ctx.run, ctx.cfg);
    let mut source = (ctx.job.make_source)().map_err(source_err)?;
    let tag = match kind {
        EventKind::InService => "inservice",
        EventKind::Pto => "pto",
    };
    source.begin_batch(run.run_id, tag).map_err(source_err)?;
    let mut events = source
        .events(kind, &run.window, &cfg.exclusions)
        .map_err(source_err)?;
    // The warehouse returns events in no fixed order; detection and its warning examples
    // follow input order, and a run's report must not depend on the fetch (a resumed run
    // reports what an uninterrupted one does).
    events.sort_by(|a, b| {
        (a.event.source_id, &a.event.environment).cmp(&(b.event.source_id, &b.event.environment))
    });
    let raw: Vec<_> = events.iter().map(|e| e.event.clone()).collect();
    // Only the caregivers of events that take part: their visits are all the step reads.
    let ssns = event_ssns(&raw, &run.window, &cfg.exclusions);
    let visits = source
        .visits_of_ssns(&run.window, &ssns, &cfg.exclusions)
        .map_err(source_err)?;
    let EventDetection {
        admitted_events,
        admission,
        pairs,
        warnings,
    } = detect_events(&visits, &raw, kind, &run.window, &cfg.exclusions)
        .map_err(|d| duplicate_ids(&d))?;
    let mut ids: Vec<&str> = pairs
        .iter()
        .map(|p| visits[p.visit].visit_id.as_str())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let details = source.details(&ids).map_err(source_err)?;
    let input = EventInput {
        kind,
        visits: &visits,
        admission: &admission,
        events: &events,
        admitted_events: &admitted_events,
        pairs: &pairs,
        details: &details,
    };
    let counts = ctx
        .job
        .store
        .apply_events(run, &input, ctx.job.params.dry_run)
        .map_err(store_err)?;
    report.io.add(&source.io());
    report.add_warnings(&warnings);
    report.add_warnings(&counts.warnings);
    report.writes.conflicts_created += counts.conflicts_created;
    let r = &mut report.inservice;
    let (ev, pa, up, un, ins) = match kind {
        EventKind::InService => (
            &mut r.inservice_events,
            &mut r.inservice_pairs,
            &mut r.inservice_updated,
            &mut r.inservice_unchanged,
            &mut r.inservice_inserted,
        ),
        EventKind::Pto => (
            &mut r.pto_events,
            &mut r.pto_pairs,
            &mut r.pto_updated,
            &mut r.pto_unchanged,
            &mut r.pto_inserted,
        ),
    };
    *ev += admitted_events.len() as u64;
    *pa += pairs.len() as u64;
    *up += counts.updated;
    *un += counts.unchanged;
    *ins += counts.inserted;
    Ok(())
}
