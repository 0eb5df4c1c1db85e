//! The whole job (`run_job`) against a real store: an in-memory visit source, two SSN-prefix
//! batches, parallel workers; runs are idempotent and resolve what disappears.

use std::collections::HashMap;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use chrono::NaiveDateTime;
use conflict_core::model::trim;
use conflict_core::{Exclusions, Visit, Window};
use conflict_io::details::VisitDetails;
use conflict_io::run::{
    run_job, JobOptions, Key, Mode, Outcome, RunParams, Silent, Start, VisitSource,
};
use conflict_io::scope::{BatchScope, Scope};

use super::batch::{d, details_for, ts, visit, World, AS_OF};

#[derive(Clone)]
struct MemSource {
    visits: Vec<Visit>,
}

fn ssn_of(v: &Visit) -> &str {
    trim(v.ssn.as_deref().unwrap_or(""))
}

impl VisitSource for MemSource {
    type Error = std::convert::Infallible;

    fn visits(&mut self, scope: &BatchScope, _ex: &Exclusions) -> Result<Vec<Visit>, Self::Error> {
        Ok(self
            .visits
            .iter()
            .filter(|v| scope.window.contains(v.visit_date))
            .filter(|v| match &scope.scope {
                Scope::Window => true,
                Scope::SsnPrefix(p) => ssn_of(v).starts_with(p.as_str()),
                Scope::Keys(k) => k.contains(&(v.visit_date, ssn_of(v).to_string())),
            })
            .cloned()
            .collect())
    }

    fn details(&mut self, ids: &[&str]) -> Result<HashMap<String, VisitDetails>, Self::Error> {
        Ok(self
            .visits
            .iter()
            .filter(|v| ids.contains(&v.visit_id.as_str()))
            .map(|v| (v.visit_id.clone(), details_for(v)))
            .collect())
    }

    fn ssn_prefixes(
        &mut self,
        window: &Window,
        len: usize,
    ) -> Result<Vec<(String, u64)>, Self::Error> {
        let mut m: HashMap<String, u64> = HashMap::new();
        for v in &self.visits {
            let s = ssn_of(v);
            if window.contains(v.visit_date) && !s.is_empty() {
                *m.entry(s.chars().take(len).collect()).or_default() += 1;
            }
        }
        Ok(m.into_iter().collect())
    }

    fn events(
        &mut self,
        _kind: conflict_core::inservice::EventKind,
        _window: &Window,
        _ex: &Exclusions,
    ) -> Result<Vec<conflict_io::details::SourcedEvent>, Self::Error> {
        Ok(Vec::new())
    }

    fn visits_near_events(
        &mut self,
        window: &Window,
        spans: &[conflict_core::inservice::EventSpan],
        _ex: &Exclusions,
    ) -> Result<Vec<Visit>, Self::Error> {
        Ok(self
            .visits
            .iter()
            .filter(|v| window.contains(v.visit_date) && spans.iter().any(|s| s.ssn == ssn_of(v)))
            .cloned()
            .collect())
    }

    fn delta_keys(
        &mut self,
        since: NaiveDateTime,
        window: &Window,
    ) -> Result<Vec<Key>, Self::Error> {
        Ok(self
            .visits
            .iter()
            .filter(|v| v.updated_at.is_some_and(|u| u >= since) && window.contains(v.visit_date))
            .filter(|v| !ssn_of(v).is_empty())
            .map(|v| (v.visit_date, ssn_of(v).to_string()))
            .collect())
    }
}

fn params(mode: Mode, since: Option<NaiveDateTime>) -> RunParams {
    RunParams {
        since,
        inservice: false,
        ..RunParams::new(mode, Some(d(AS_OF)))
    }
}

fn run(w: &World, source: &MemSource, p: RunParams) -> conflict_io::run::JobResult {
    let opts = JobOptions {
        workers: 2,
        prefix_len: Some(1),
        poll: Duration::from_millis(10),
        ..JobOptions::default()
    };
    run_job(
        &w.store,
        || Ok::<_, std::convert::Infallible>(source.clone()),
        Start::New(p.clone()),
        &p,
        &opts,
        &AtomicBool::new(false),
        &Silent,
    )
    .unwrap_or_else(|e| panic!("run_job: {e}"))
}

/// Three visits at three providers for each of two SSNs (prefixes 1 and 2): 12 pairs.
fn visits() -> Vec<Visit> {
    let mut out = Vec::new();
    for (k, ssn) in [(0, "123456789"), (10, "223456789")] {
        for p in 1..=3 {
            let mut v = visit(k + p, p);
            v.ssn = Some(ssn.into());
            out.push(v);
        }
    }
    out
}

#[test]
fn full_runs_insert_then_change_nothing_then_resolve_what_disappeared() {
    let mut w = World::new();
    let mut source = MemSource { visits: visits() };

    let first = run(&w, &source, params(Mode::Full, None));
    assert_eq!(first.outcome, Outcome::Succeeded);
    let wr = &first.report.writes;
    assert_eq!((wr.inserted, wr.conflicts_created, wr.updated), (12, 6, 0));
    assert_eq!(first.report.timing.batches, 2);
    let cvm = w.snapshot("conflictvisitmaps", "\"ID\"");

    let second = run(&w, &source, params(Mode::Full, None));
    let wr = &second.report.writes;
    assert_eq!(
        (
            wr.updated,
            wr.unchanged,
            wr.inserted,
            wr.resolved,
            wr.adopted,
            wr.conflicts_created
        ),
        (0, 12, 0, 0, 0, 0)
    );
    assert_eq!(w.snapshot("conflictvisitmaps", "\"ID\""), cvm);

    // One visit of the second SSN is gone: its four rows are resolved.
    source.visits.retain(|v| v.visit_id != super::batch::u(13));
    let third = run(&w, &source, params(Mode::Full, None));
    let wr = &third.report.writes;
    assert_eq!((wr.unchanged, wr.resolved), (8, 4));

    let sql = format!(
        "SELECT count(*) FILTER (WHERE \"Status\" = 'succeeded'), count(*) FROM {}",
        w.t.table("detection_runs")
    );
    let r = w.t.client.query_one(&sql, &[]).unwrap();
    assert_eq!((r.get::<_, i64>(0), r.get::<_, i64>(1)), (3, 3));
}

#[test]
fn an_incremental_run_touches_only_the_keys_of_changed_visits() {
    let w = World::new();
    let mut source = MemSource { visits: visits() };
    run(&w, &source, params(Mode::Full, None));

    // Visit 1 (SSN 1…) changes after the watermark: only its key is re-paired.
    let since = ts("2025-06-14 00:00:00");
    source.visits[0].updated_at = Some(ts("2025-06-14 12:00:00"));
    source.visits[0].sch_start = Some(ts("2025-06-10 10:00:00"));
    let inc = run(&w, &source, params(Mode::Incremental, Some(since)));
    assert_eq!(inc.outcome, Outcome::Succeeded);
    let wr = &inc.report.writes;
    // Visit 1 vs 2 and 3: four rows change (rule 1 → rule 4), (2, 3) and (3, 2) unchanged.
    assert_eq!(
        (wr.updated, wr.unchanged, wr.inserted, wr.resolved),
        (4, 2, 0, 0)
    );
    assert_eq!(inc.report.timing.batches, 1);
}
