//! Embeds the whole run (`conflict_io::run::run_job`) with adapters of its own: visits come
//! from a vector and conflicts are kept in memory. Nothing here touches ODBC or PostgreSQL;
//! the two port traits (`VisitSource`, `ConflictStore`) and the core's planner are all an
//! embedder needs. Run with `cargo run -p conflict-examples --example embed_run`.
//!
//! The store below is deliberately small: one process, no retries, no InService rows. It
//! shows the division of labour of the real store: read the facts, ask
//! `conflict_core::plan::Planner` what to do (docs/lifecycle.md §3–§6), carry the plan out.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::AtomicBool;
use std::sync::Mutex;

use chrono::{NaiveDate, NaiveDateTime};
use conflict_core::inservice::EventKind;
use conflict_core::plan::{DetectedRow, NewPair, Planner, RowFacts, RowKind, StoredRow};
use conflict_core::{Exclusions, SpeedBands, Visit, Warnings, Window};
use conflict_io::details::{SourcedEvent, VisitDetails};
use conflict_io::run::{
    run_job, BatchInput, BatchSpec, ConflictStore, EventCounts, EventInput, JobOptions, Key, Mode,
    Outcome, Reference, RunInfo, RunParams, Silent, Start, VisitSource, WriteCounts,
};
use conflict_io::scope::{BatchScope, Scope};

/// The error of both adapters: in memory nothing fails, but the traits ask for a type.
#[derive(Debug)]
struct Never;
impl std::fmt::Display for Never {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("cannot happen")
    }
}
impl std::error::Error for Never {}

fn trimmed_ssn(v: &Visit) -> String {
    v.ssn.as_deref().unwrap_or("").trim().to_string()
}

/// Visits from memory.
struct VecSource(Vec<Visit>);

impl VecSource {
    fn in_window<'a>(&'a self, w: &'a Window) -> impl Iterator<Item = &'a Visit> + 'a {
        self.0.iter().filter(move |v| w.contains(v.visit_date))
    }
}

impl VisitSource for VecSource {
    type Error = Never;
    fn visits(&mut self, scope: &BatchScope, _ex: &Exclusions) -> Result<Vec<Visit>, Never> {
        Ok(self
            .in_window(&scope.window)
            .filter(|v| match &scope.scope {
                Scope::Window => true,
                Scope::SsnPrefix(p) => trimmed_ssn(v).starts_with(p.as_str()),
                Scope::Keys(keys) => keys.contains(&(v.visit_date, trimmed_ssn(v))),
            })
            .cloned()
            .collect())
    }
    fn details(&mut self, ids: &[&str]) -> Result<HashMap<String, VisitDetails>, Never> {
        Ok(ids
            .iter()
            .map(|id| (id.to_string(), VisitDetails::empty()))
            .collect())
    }
    fn ssn_prefixes(&mut self, w: &Window, len: usize) -> Result<Vec<(String, u64)>, Never> {
        let mut out: BTreeMap<String, u64> = BTreeMap::new();
        for v in self.in_window(w) {
            *out.entry(trimmed_ssn(v).chars().take(len).collect())
                .or_default() += 1;
        }
        Ok(out.into_iter().collect())
    }
    fn delta_keys(&mut self, since: NaiveDateTime, w: &Window) -> Result<Vec<Key>, Never> {
        Ok(self
            .in_window(w)
            .filter(|v| v.updated_at.is_some_and(|u| u >= since))
            .map(|v| (v.visit_date, trimmed_ssn(v)))
            .collect())
    }
    fn events(
        &mut self,
        _kind: EventKind,
        _w: &Window,
        _ex: &Exclusions,
    ) -> Result<Vec<SourcedEvent>, Never> {
        Ok(Vec::new())
    }
    fn visits_near_events(
        &mut self,
        w: &Window,
        spans: &[conflict_core::inservice::EventSpan],
        _ex: &Exclusions,
    ) -> Result<Vec<Visit>, Never> {
        Ok(self
            .in_window(w)
            .filter(|v| spans.iter().any(|s| s.ssn == trimmed_ssn(v)))
            .cloned()
            .collect())
    }
}

/// One stored conflict row: the control columns the planner reads, plus its key's date and SSN
/// (for the batch scope).
struct Row {
    stored: StoredRow,
    date: NaiveDate,
    ssn: String,
}

#[derive(Default)]
struct State {
    runs: Vec<RunInfo>,
    /// (run, batch key) → (batch, done).
    ledger: BTreeMap<(i64, String), (BatchSpec, bool)>,
    rows: Vec<Row>,
    next_conflict: i64,
}

/// Conflicts in memory, for one process.
#[derive(Default)]
struct MemoryStore(Mutex<State>);

impl ConflictStore for MemoryStore {
    type Error = Never;
    type Lock = ();

    fn try_lock(&self) -> Result<Option<()>, Never> {
        Ok(Some(()))
    }
    fn begin_run(&self, p: &RunParams) -> Result<(RunInfo, Warnings), Never> {
        let mut s = self.0.lock().expect("not poisoned");
        let as_of = p.as_of.expect("the example always sets as_of");
        let window =
            Window::around(as_of, p.lookback_years, p.lookforward_days).expect("valid window");
        let run = RunInfo {
            run_id: s.runs.len() as i64 + 1,
            mode: p.mode,
            run_ts: as_of.and_hms_opt(2, 0, 0).expect("valid time"),
            as_of,
            window,
            since: None,
        };
        s.runs.push(run.clone());
        Ok((run, Warnings::default()))
    }
    fn resumable_run(&self) -> Result<Option<RunInfo>, Never> {
        Ok(None)
    }
    fn open_run(&self, id: i64) -> Result<Option<RunInfo>, Never> {
        let s = self.0.lock().expect("not poisoned");
        Ok(s.runs.iter().find(|r| r.run_id == id).cloned())
    }
    fn reference(&self) -> Result<Reference, Never> {
        Ok(Reference {
            extra_distance_per: 1.0,
            bands: SpeedBands::defaults(),
            exclusions: Exclusions::default(),
            warnings: Warnings::default(),
        })
    }
    fn stored_prefixes(&self, w: &Window, len: usize) -> Result<Vec<(String, u64)>, Never> {
        // Keys that only stored rows still have must get a batch too, or they never go stale.
        let s = self.0.lock().expect("not poisoned");
        let mut out: BTreeMap<String, u64> = BTreeMap::new();
        for r in s.rows.iter().filter(|r| w.contains(r.date)) {
            *out.entry(r.ssn.chars().take(len).collect()).or_default() += 1;
        }
        Ok(out.into_iter().collect())
    }
    fn reset_claims(&self, _run_id: i64) -> Result<(), Never> {
        Ok(())
    }
    fn add_batches(&self, run_id: i64, batches: &[BatchSpec]) -> Result<(), Never> {
        let mut s = self.0.lock().expect("not poisoned");
        for b in batches {
            s.ledger
                .entry((run_id, b.key.clone()))
                .or_insert((b.clone(), false));
        }
        Ok(())
    }
    fn claim_batch(&self, run_id: i64, _w: &str) -> Result<Option<BatchSpec>, Never> {
        // One process: a batch is handed out once and is done when applied.
        let mut s = self.0.lock().expect("not poisoned");
        let next = s
            .ledger
            .iter_mut()
            .find(|((r, _), (_, done))| *r == run_id && !*done);
        Ok(next.map(|(_, (b, done))| {
            *done = true;
            b.clone()
        }))
    }
    fn batch_progress(&self, run_id: i64) -> Result<(u64, u64), Never> {
        let s = self.0.lock().expect("not poisoned");
        let of_run = s.ledger.iter().filter(|((r, _), _)| *r == run_id);
        let (done, total) = of_run.fold((0, 0), |(d, t), (_, (_, done))| (d + *done as u64, t + 1));
        Ok((done, total))
    }
    fn apply_batch(
        &self,
        run: &RunInfo,
        batch: &BatchSpec,
        input: &BatchInput<'_>,
        dry_run: bool,
    ) -> Result<WriteCounts, Never> {
        let mut s = self.0.lock().expect("not poisoned");
        // 1. Facts: the detected pairs, the stored rows with their keys, the scope's rows.
        let pairs: Vec<DetectedRow> = input
            .pairs
            .iter()
            .map(|p| {
                let (v1, v2) = (&input.visits[p.v1], &input.visits[p.v2]);
                DetectedRow {
                    visit_id: v1.visit_id.clone(),
                    con_visit_id: v2.visit_id.clone(),
                    new: NewPair {
                        flags: p.flags.to_array(),
                        v1_missed: v1.is_missed,
                        v2_missed: v2.is_missed,
                        visit_date: v1.visit_date,
                    },
                }
            })
            .collect();
        let index: HashMap<(&str, &str), usize> = pairs
            .iter()
            .enumerate()
            .map(|(i, p)| ((p.visit_id.as_str(), p.con_visit_id.as_str()), i))
            .collect();
        // This store keeps no metrics or business columns, so nothing but flags can change.
        let facts: Vec<RowFacts> = s
            .rows
            .iter()
            .filter_map(|r| {
                let &pair = index.get(&r.stored.key())?;
                Some(RowFacts {
                    pair,
                    row: r.stored.clone(),
                    content_changed: false,
                    kind_flag: None,
                    payload: (),
                })
            })
            .collect();
        let in_scope = |r: &Row| {
            run.window.contains(r.date)
                && match &batch.scope {
                    Scope::Window => true,
                    Scope::SsnPrefix(p) => r.ssn.starts_with(p.as_str()),
                    Scope::Keys(keys) => keys.contains(&(r.date, r.ssn.clone())),
                }
        };
        let scope_rows: Vec<StoredRow> = s
            .rows
            .iter()
            .filter(|r| in_scope(r))
            .map(|r| r.stored.clone())
            .collect();
        // 2. The core decides.
        let plan = Planner {
            kind: RowKind::Regular,
            as_of: run.as_of,
            options: input.options,
        }
        .plan(&pairs, facts, &scope_rows);
        let counts = WriteCounts {
            updated: plan.updates.len() as u64,
            unchanged: plan.unchanged,
            adopted: plan.adopted(),
            inserted: plan.inserts.len() as u64,
            not_inserted_by_switch: plan.not_inserted_by_switch,
            resolved: plan.stale.len() as u64,
            conflicts_created: 0,
            warnings: plan.warnings.clone(),
        };
        if dry_run {
            return Ok(counts);
        }
        // 3. Carry it out. (One new conflict per inserted row keeps the example short; the
        // real store reuses the primary visit's CONFLICTID, docs/lifecycle.md §5.2.)
        for u in &plan.updates {
            if let Some(r) = s.rows.iter_mut().find(|r| r.stored.id == u.row.id) {
                r.stored.status = u.plan.status.clone();
                r.stored.flags = u.plan.flags.clone();
            }
        }
        for i in &plan.inserts {
            s.next_conflict += 1;
            let v1 = &input.visits[input.pairs[i.pair].v1];
            let stored = StoredRow {
                id: s.rows.len() as i64 + 1,
                visit_id: i.visit_id.clone(),
                con_visit_id: i.con_visit_id.clone(),
                conflict_id: Some(s.next_conflict),
                kind: RowKind::Regular,
                status: Some("N".into()),
                update_flag: None,
                resolve_date: None,
                flags: i.flags.map(|f| Some(if f { "Y" } else { "N" }.to_string())),
            };
            let (date, ssn) = (v1.visit_date, trimmed_ssn(v1));
            s.rows.push(Row { stored, date, ssn });
        }
        for id in &plan.stale {
            if let Some(r) = s.rows.iter_mut().find(|r| r.stored.id == *id) {
                r.stored.status = Some("R".into());
                r.stored.resolve_date = Some(run.run_ts);
            }
        }
        Ok(counts)
    }
    fn apply_events(
        &self,
        _run: &RunInfo,
        _input: &EventInput<'_>,
        _dry_run: bool,
    ) -> Result<EventCounts, Never> {
        Ok(EventCounts::default())
    }
    fn release_batch(&self, run_id: i64, key: &str, _error: Option<&str>) -> Result<(), Never> {
        let mut s = self.0.lock().expect("not poisoned");
        if let Some((_, done)) = s.ledger.get_mut(&(run_id, key.to_string())) {
            *done = false;
        }
        Ok(())
    }
    fn finish_run(
        &self,
        run: &RunInfo,
        outcome: Outcome,
        _r: &serde_json::Value,
    ) -> Result<(), Never> {
        println!("run {} finished: {}", run.run_id, outcome.as_str());
        Ok(())
    }
    fn is_transient(_e: &Never) -> bool {
        false
    }
}

/// Two agencies booking the same caregiver (SSN `123456789`) at overlapping times.
fn visits(with_second_day: bool) -> Vec<Visit> {
    let mut out = Vec::new();
    let days: &[u32] = if with_second_day { &[10, 11] } else { &[10] };
    for &d in days {
        let day = NaiveDate::from_ymd_opt(2025, 6, d).expect("valid date");
        for (agency, start) in [("agency-1", 9), ("agency-2", 10)] {
            let mut v = Visit::new(format!("{agency}-{d}"), "123456789", agency, day);
            v.sch_start = day.and_hms_opt(start, 0, 0);
            v.sch_end = day.and_hms_opt(start + 2, 0, 0);
            out.push(v);
        }
    }
    out
}

fn main() {
    let store = MemoryStore::default();
    let params = RunParams {
        inservice: false,
        ..RunParams::new(Mode::Full, NaiveDate::from_ymd_opt(2025, 6, 15))
    };
    let opts = JobOptions {
        workers: 1,
        ..JobOptions::default()
    };
    let cancel = AtomicBool::new(false);
    // Night 1 sees both days; by night 2 the second day's visits were cancelled.
    for (night, data) in [(1, visits(true)), (2, visits(false))] {
        let make_source = || Ok::<_, Never>(VecSource(data.clone()));
        let result = run_job(
            &store,
            make_source,
            Start::New(params.clone()),
            &params,
            &opts,
            &cancel,
            &Silent,
        )
        .expect("an in-memory run cannot fail");
        let w = &result.report.writes;
        println!(
            "night {night}: {} inserted, {} unchanged, {} resolved",
            w.inserted, w.unchanged, w.resolved
        );
    }
}
