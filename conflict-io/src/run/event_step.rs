//! The InService (or PTO) step of the owner, after the regular batches: events of the whole
//! window, the visits of their caregivers, pairing, and one write (docs/lifecycle.md §7). An
//! incremental run re-derives only the caregivers whose events or visits changed (§7.1,
//! [`super::event_scope`]).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;

use conflict_core::inservice::{detect_events, event_spans, EventDetection, EventKind};

use conflict_core::Visit;

use super::event_scope::{plan_event_scope, EventScope};
use super::job::{duplicate_ids, source_err, store_err, JobError};
use super::ports::{ConflictStore, EventInput, Mode, VisitSource};
use super::report::RunReport;
use super::totals::IoCounts;
use super::workers::Ctx;
use crate::details::{SourcedEvent, VisitDetails};

/// Runs the step for `kind` and adds its counters to `report`. `delta_ssns` are the trimmed
/// SSNs of the delta keys of an incremental run when this process planned it (`None`: a full
/// run, or a resumed incremental run, which asks the source for its delta keys again).
/// `open` is a source connection to use instead of opening one; the step leaves its own
/// connection there for the next step.
pub(super) fn event_step<St, S, F>(
    ctx: &Ctx<'_, St, F>,
    kind: EventKind,
    delta_ssns: Option<&HashSet<String>>,
    open: &mut Option<S>,
    report: &mut RunReport,
) -> Result<(), JobError>
where
    St: ConflictStore,
    S: VisitSource,
    F: Fn() -> Result<S, S::Error> + Sync,
{
    let mut source = match open.take() {
        Some(s) => s,
        None => (ctx.job.make_source)().map_err(source_err)?,
    };
    let read = read_event_step(ctx, kind, delta_ssns, &mut source)?;
    *open = Some(source);
    match read {
        Some(read) => write_event_step(ctx, read, report),
        // Interrupted while reading: nothing was written.
        None => Ok(()),
    }
}

/// What the reading half of a step found: everything its write needs, and the counters of its
/// reads. It owns its data, so that a full run can read while the batches run
/// ([`super::job`]) and write after them.
pub(super) struct EventRead {
    /// In-service or PTO.
    pub(super) kind: EventKind,
    events: Vec<SourcedEvent>,
    visits: Vec<Visit>,
    detection: EventDetection,
    details: HashMap<String, VisitDetails>,
    scope: EventScope,
    io: IoCounts,
}

/// The observer's phase (and the query tag) of the step of `kind`.
pub(super) fn phase_name(kind: EventKind) -> &'static str {
    match kind {
        EventKind::InService => "inservice",
        EventKind::Pto => "pto",
    }
}

/// The reading half of the step: events, the caregivers to re-derive, the visits that meet
/// their events, pairing and the paired visits' business columns. Reads only (the warehouse
/// and, for an incremental run, the store's event digests). `None` when the run was
/// interrupted (Ctrl-C) meanwhile: it stops between its queries, so that an interrupted run
/// does not wait for reads whose result it will not write.
pub(super) fn read_event_step<St, S, F>(
    ctx: &Ctx<'_, St, F>,
    kind: EventKind,
    delta_ssns: Option<&HashSet<String>>,
    source: &mut S,
) -> Result<Option<EventRead>, JobError>
where
    St: ConflictStore,
    S: VisitSource,
    F: Fn() -> Result<S, S::Error> + Sync,
{
    let (run, cfg) = (ctx.run, ctx.cfg);
    let tag = phase_name(kind);
    // A handed-on connection already reported what it sent before (planning, an earlier step):
    // only this step's statements and rows are added below.
    let io_before = source.io();
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
    // Which caregivers to re-derive: all (a full run), or those whose visits or events
    // changed since the last committed step (an incremental run).
    let (stored, changed) = match run.mode {
        Mode::Full => (HashMap::new(), None),
        Mode::Incremental => {
            let changed = match delta_ssns {
                Some(d) => d.clone(),
                None => resumed_delta_ssns(source, run)?,
            };
            let stored = ctx.job.store.event_digests(kind).map_err(store_err)?;
            (stored, Some(changed))
        }
    };
    let scope = plan_event_scope(kind, &events, &cfg.exclusions, &stored, changed.as_ref());
    if !scope.full {
        events = scope.events.iter().map(|&i| events[i].clone()).collect();
    }
    let interrupted = || ctx.job.cancel.load(Ordering::SeqCst);
    if interrupted() {
        return Ok(None);
    }
    let raw: Vec<_> = events.iter().map(|e| e.event.clone()).collect();
    // Only the visits that can meet an event that takes part: those of its caregiver (SSN)
    // whose interval meets its span. Most of a caregiver's visits are nowhere near a training.
    let spans = event_spans(&raw, &run.window, &cfg.exclusions);
    let visits = if spans.is_empty() {
        Vec::new()
    } else {
        source
            .visits_near_events(&run.window, &spans, &cfg.exclusions)
            .map_err(source_err)?
    };
    if interrupted() {
        return Ok(None);
    }
    let detection = detect_events(&visits, &raw, kind, &run.window, &cfg.exclusions)
        .map_err(|d| duplicate_ids(&d))?;
    let mut ids: Vec<&str> = detection
        .pairs
        .iter()
        .map(|p| visits[p.visit].visit_id.as_str())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let details = if ids.is_empty() {
        HashMap::new()
    } else {
        source.details(&ids).map_err(source_err)?
    };
    let io = source.io().since(&io_before);
    Ok(Some(EventRead {
        kind,
        events,
        visits,
        detection,
        details,
        scope,
        io,
    }))
}

/// The writing half of the step: one transaction with the rows and the digests, and the
/// step's counters (reads included) added to `report`.
pub(super) fn write_event_step<St, F>(
    ctx: &Ctx<'_, St, F>,
    read: EventRead,
    report: &mut RunReport,
) -> Result<(), JobError>
where
    St: ConflictStore,
{
    let EventRead {
        kind,
        events,
        visits,
        detection:
            EventDetection {
                admitted_events,
                admission,
                pairs,
                warnings,
            },
        details,
        scope,
        io,
    } = read;
    let r = &mut report.inservice;
    let (rederived, skipped, read) = match kind {
        EventKind::InService => (
            &mut r.inservice_ssns_rederived,
            &mut r.inservice_ssns_skipped,
            &mut r.inservice_visits_read,
        ),
        EventKind::Pto => (
            &mut r.pto_ssns_rederived,
            &mut r.pto_ssns_skipped,
            &mut r.pto_visits_read,
        ),
    };
    *rederived += scope.ssns_rederived;
    *skipped += scope.ssns_skipped;
    *read += visits.len() as u64;
    report.add_warnings(&warnings);
    report.io.add(&io);
    if pairs.is_empty() && scope.update.is_empty() {
        // Nothing to write and nothing to record: no transaction at all.
        return Ok(());
    }
    let input = EventInput {
        kind,
        visits: &visits,
        admission: &admission,
        events: &events,
        admitted_events: &admitted_events,
        pairs: &pairs,
        details: &details,
    };
    let run = ctx.run;
    let counts = ctx
        .job
        .store
        .apply_events_with_digests(run, &input, &scope.update, ctx.job.params.dry_run)
        .map_err(store_err)?;
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

/// The trimmed SSNs of the delta keys, asked again: a resumed run did not plan its batches in
/// this process. The source's answer covers at least the keys the run planned (the watermark
/// is the run's), so nothing the batches re-detected is missed.
fn resumed_delta_ssns<S: VisitSource>(
    source: &mut S,
    run: &super::ports::RunInfo,
) -> Result<HashSet<String>, JobError> {
    let since = run
        .since
        .ok_or_else(|| JobError::Store("incremental run without a watermark".to_string().into()))?;
    let keys = source.delta_keys(since, &run.window).map_err(source_err)?;
    Ok(keys.into_iter().map(|(_, ssn)| ssn).collect())
}
