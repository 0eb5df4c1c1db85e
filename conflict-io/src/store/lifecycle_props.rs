//! The run guarantees of docs/lifecycle.md §8 as property tests of the batch planner: random stored
//! states (status, flags, CONFLICTID, row kinds, duplicate keys) crossed with random
//! detections, planned by [`plan_rows`] (stale resolution included), then applied
//! to an in-memory table the way the writer applies a plan. Each guarantee is checked on the
//! table before and after, as §8 states it, not by re-running the planner's rules.
//!
//! Kept apart from `batch_plan.rs` so that it can follow the planner if it moves to
//! `conflict_core::plan`: it only needs `plan_rows`' inputs and outputs.

use std::collections::{BTreeMap, HashSet};

use chrono::NaiveDate;
use conflict_core::plan::{RowKind, StoredRow};
use conflict_core::{DetectedPair, Metrics, Profile, RuleOptions, Visit};
use proptest::prelude::*;

use super::batch_plan::{plan_rows, MatchedRow, PairKey};

/// Visit ids: few, so keys collide with stored rows often.
const IDS: [&str; 4] = ["a", "b", "c", "d"];
/// Stored statuses: every one of §8's table, NULL, and texts the tool does not know.
const STATUSES: [Option<&str>; 9] = [
    Some("N"),
    Some("U"),
    Some("R"),
    Some("D"),
    Some("W"),
    Some("I"),
    None,
    Some("x"),
    Some("n"),
];
const FLAGS: [Option<&str>; 5] = [Some("N"), Some("Y"), None, Some("y"), Some("?")];

/// One stored row as generated: key indexes, kind, status, flags, CONFLICTID.
#[derive(Debug, Clone)]
struct Row {
    v1: usize,
    v2: usize,
    kind: RowKind,
    status: Option<&'static str>,
    flags: [Option<&'static str>; 7],
    conflict_id: Option<i64>,
    update_flag: Option<i16>,
}

fn row() -> impl Strategy<Value = Row> {
    (
        0..IDS.len(),
        0..IDS.len(),
        prop::sample::select(vec![
            RowKind::Regular,
            RowKind::Regular,
            RowKind::Orphan,
            RowKind::InService,
            RowKind::Pto,
        ]),
        prop::sample::select(STATUSES.to_vec()),
        prop::array::uniform7(prop::sample::select(FLAGS.to_vec())),
        1..5i64,
        prop::option::of(0..3i16),
    )
        .prop_filter("a pair of two visits", |t| t.0 != t.1)
        .prop_map(|(v1, v2, kind, status, flags, id, update_flag)| Row {
            v1,
            v2,
            kind,
            status,
            flags,
            // Orphans have no CONFLICTID; other rows may (InService rows always do in practice).
            conflict_id: (kind != RowKind::Orphan).then_some(id),
            update_flag,
        })
}

/// A detection: per key, its flags (at least one set, as detect emits) and whether the written
/// content of its stored rows differs.
type Detections = BTreeMap<(usize, usize), ([bool; 7], bool)>;

fn detections() -> impl Strategy<Value = Detections> {
    prop::collection::btree_map(
        (0..IDS.len(), 0..IDS.len()).prop_filter("two visits", |(a, b)| a != b),
        (
            prop::array::uniform7(any::<bool>()).prop_filter("a flag set", |f| f.contains(&true)),
            any::<bool>(),
        ),
        0..8,
    )
}

/// The in-memory table after a run: what the writer does with the plan (updates rewrite status
/// and flags and adopt orphans, inserts add rows with status `N`, stale rows become `R`).
#[derive(Debug, Clone, PartialEq)]
struct After {
    status: Option<String>,
    flags: [Option<String>; 7],
    conflict_id: Option<i64>,
    key: (String, String),
}

fn stored(rows: &[Row]) -> Vec<StoredRow> {
    rows.iter()
        .enumerate()
        .map(|(i, r)| StoredRow {
            id: i as i64 + 1,
            visit_id: IDS[r.v1].into(),
            con_visit_id: IDS[r.v2].into(),
            conflict_id: r.conflict_id,
            kind: r.kind,
            status: r.status.map(str::to_string),
            update_flag: r.update_flag,
            resolve_date: None,
            flags: r.flags.map(|f| f.map(str::to_string)),
        })
        .collect()
}

/// Plans and applies one run; returns the stored rows as they were and the table after.
fn run(rows: &[Row], detected: &Detections, options: &RuleOptions) -> (Vec<StoredRow>, Vec<After>) {
    let day: NaiveDate = "2025-06-10".parse().unwrap();
    let visits: Vec<Visit> = IDS
        .iter()
        .map(|id| {
            let mut v = Visit::new(*id, "123456789", format!("p-{id}"), day);
            v.is_missed = Some(false);
            v
        })
        .collect();
    let pairs: Vec<DetectedPair> = detected
        .iter()
        .map(|(&(v1, v2), &(flags, _))| DetectedPair {
            v1,
            v2,
            flags: flags.into(),
            metrics: Metrics::default(),
        })
        .collect();
    let keys: Vec<PairKey> = pairs
        .iter()
        .map(|p| PairKey {
            visit_id: IDS[p.v1].into(),
            con_visit_id: IDS[p.v2].into(),
        })
        .collect();
    let before = stored(rows);
    // Every stored row with a detected key, whatever its kind, as the store's read returns.
    let matched: Vec<MatchedRow> = before
        .iter()
        .filter_map(|r| {
            let idx = keys
                .iter()
                .position(|k| (k.visit_id.as_str(), k.con_visit_id.as_str()) == r.key())?;
            let changed = detected[&(pairs[idx].v1, pairs[idx].v2)].1;
            Some(MatchedRow {
                idx,
                row: r.clone(),
                changed: vec![changed],
            })
        })
        .collect();
    // The stale scope is every stored row (a full run over one key).
    let plan = plan_rows(&visits, &pairs, &keys, matched, &before, day, options);

    let mut after: Vec<After> = before
        .iter()
        .map(|r| After {
            status: r.status.clone(),
            flags: r.flags.clone(),
            conflict_id: r.conflict_id,
            key: (r.visit_id.clone(), r.con_visit_id.clone()),
        })
        .collect();
    let mut next_id = 1000;
    for u in &plan.updates {
        let a = &mut after[(u.row.id - 1) as usize];
        a.status = u.plan.status.clone();
        a.flags = u.plan.flags.clone();
        if u.adopt {
            next_id += 1;
            a.conflict_id = Some(next_id);
        }
    }
    // Stale resolution, decided by the planner over the scope (here: every stored row).
    for id in &plan.stale {
        after[(id - 1) as usize].status = Some("R".into());
    }
    for i in &plan.inserts {
        next_id += 1;
        after.push(After {
            status: Some("N".into()),
            flags: i.flags.map(|f| Some(if f { "Y" } else { "N" }.to_string())),
            conflict_id: Some(next_id),
            key: (i.visit_id.clone(), i.con_visit_id.clone()),
        });
    }
    (before, after)
}

fn options() -> impl Strategy<Value = RuleOptions> {
    prop::sample::select(vec![
        RuleOptions::profile(Profile::Current),
        RuleOptions::profile(Profile::Classic),
    ])
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn every_run_keeps_the_guarantees_of_lifecycle_section_8(
        rows in prop::collection::vec(row(), 0..10),
        detected in detections(),
        options in options(),
    ) {
        let (before, after) = run(&rows, &detected, &options);
        for (b, a) in before.iter().zip(&after) {
            let was = b.status.as_deref();
            // 1. A W or I status is never changed.
            if matches!(was, Some("W" | "I")) {
                prop_assert_eq!(a.status.as_deref(), was, "row {}", b.id);
            }
            // 2. A stored Y or NULL rule flag is never changed.
            for (f, (old, new)) in b.flags.iter().zip(&a.flags).enumerate() {
                if matches!(old.as_deref(), Some("Y") | None) {
                    prop_assert_eq!(old, new, "row {} flag {}", b.id, f);
                }
            }
            // 3. A non-NULL CONFLICTID is never changed.
            if b.conflict_id.is_some() {
                prop_assert_eq!(a.conflict_id, b.conflict_id, "row {}", b.id);
            }
            // 4. Only N, U, NULL or an unknown status becomes R; D is never produced.
            if a.status.as_deref() == Some("R") && was != Some("R") {
                prop_assert!(!matches!(was, Some("W" | "I" | "D")), "row {} was {:?}", b.id, was);
            }
            if a.status.as_deref() == Some("D") {
                prop_assert_eq!(was, Some("D"), "row {}", b.id);
            }
            // Rows of other kinds are never touched by the regular planner.
            if matches!(b.kind, RowKind::InService | RowKind::Pto) {
                prop_assert_eq!(a.status.as_deref(), was);
                prop_assert_eq!(&a.flags, &b.flags.clone());
            }
        }
        // 5. At most one row per key is created — and only for a key no row held before — and
        // no row is deleted.
        prop_assert!(after.len() >= before.len());
        let held: HashSet<(String, String)> =
            before.iter().map(|r| (r.visit_id.clone(), r.con_visit_id.clone())).collect();
        let mut created = HashSet::new();
        for a in &after[before.len()..] {
            prop_assert!(!held.contains(&a.key), "a row created for a held key {:?}", a.key);
            prop_assert!(created.insert(a.key.clone()), "two rows created for {:?}", a.key);
            prop_assert_eq!(a.status.as_deref(), Some("N"));
        }
        // Every detected key ends with at least one row unless an insert-only switch held it
        // back (classic) or only another kind's row holds it.
        for &(v1, v2) in detected.keys() {
            let key = (IDS[v1].to_string(), IDS[v2].to_string());
            let has = after.iter().any(|a| a.key == key);
            prop_assert!(has || options == RuleOptions::profile(Profile::Classic), "{key:?} has no row");
        }
    }
}
