//! Grouping by (SSN, visit date), parallel pairing inside each group, and the sink that
//! receives detected pairs (docs/rules.md §5, §11).
//!
//! Layout: the admitted visits are sorted by key and their times and coordinates are held in
//! `ndarray` matrices (one row per visit). A group is then a contiguous row range, so the pair
//! loop reads two small, cache-resident slices instead of chasing `Visit` structs (strings,
//! options) through the heap. Everything else (ids, states) stays in plain vectors, which are
//! clearer for per-visit values that are not numbers.

use ndarray::{Array2, ArrayView1};
use rayon::prelude::*;

use crate::admit::Admission;
use crate::flags::RuleFlags;
use crate::geo::{haversine_rad, miles};
use crate::intern::{merge_locals, FastMap, Local};
use crate::metrics::{metrics_and_distance_flag, Metrics};
use crate::model::{non_blank, Visit};
use crate::options::{DetectConfig, ZipCheck};
use crate::rows::VisitRows;
use crate::rules::{time_flags, Times, NULL_TS};
use crate::states::StateFinals;
use crate::stats::PairStats;

/// One detected ordered pair. `v1`/`v2` index the input visit slice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DetectedPair {
    /// Index of V1 in the visit slice.
    pub v1: usize,
    /// Index of V2 in the visit slice.
    pub v2: usize,
    /// The rules the pair meets.
    pub flags: RuleFlags,
    /// The four metrics of the pair.
    pub metrics: Metrics,
}

/// Receives detected pairs, in deterministic order (by SSN, visit date, then input order of
/// V1 and V2). Returning an error stops detection.
pub trait PairSink {
    /// What the sink may fail with; detection stops and returns it.
    type Error;
    /// Receives one detected pair (in key order).
    fn accept(&mut self, pair: &DetectedPair) -> Result<(), Self::Error>;
}

impl PairSink for Vec<DetectedPair> {
    type Error = std::convert::Infallible;
    fn accept(&mut self, pair: &DetectedPair) -> Result<(), Self::Error> {
        self.push(*pair);
        Ok(())
    }
}

/// Adapts a closure into a sink.
pub struct FnSink<F>(pub F);

impl<F, E> PairSink for FnSink<F>
where
    F: FnMut(&DetectedPair) -> Result<(), E>,
{
    type Error = E;
    fn accept(&mut self, pair: &DetectedPair) -> Result<(), E> {
        (self.0)(pair)
    }
}

fn micros(t: Option<chrono::NaiveDateTime>) -> i64 {
    // Sub-microsecond digits are dropped: timestamps have microsecond precision (docs/rules.md §1).
    t.map_or(NULL_TS, |t| t.and_utc().timestamp_micros())
}

/// Rows handled by one parallel task of [`Batch::build`].
const BUILD_CHUNK: usize = 16_384;

/// The raw state texts a visit's final states depend on (p, pa, provider).
type RawStates<'v> = (Option<&'v str>, Option<&'v str>, Option<&'v str>);

/// Admitted visits in key order, columnar.
pub struct Batch {
    /// Input index of each row.
    index: Vec<usize>,
    /// Row ranges of the (SSN, date) groups.
    groups: Vec<(u32, u32)>,
    provider: Vec<u32>,
    /// `[sch_start, sch_end, visit_start, visit_end]` in microseconds, `NULL_TS` for NULL.
    times: Array2<i64>,
    /// `[lat_rad, cos(lat), lon_rad]`, NaN when the visit has no location.
    coords: Array2<f64>,
    /// Interned final states `(p, pa)`, 0 = NULL.
    states: Vec<(u32, u32)>,
    /// Interned trimmed `P_PZipCode`, 0 = blank.
    zip: Vec<u32>,
}

impl Batch {
    /// Groups the admitted visits by key into columns. Public, with [`pair_batch`], so that
    /// benchmarks can time grouping and pairing apart; `detect` is the API.
    pub fn build<R: VisitRows + ?Sized>(visits: &R, admission: &Admission) -> Batch {
        let adm = &admission.admitted;
        // Pass 1, over the admitted visits in parallel chunks: SSN ids and visit dates.
        let chunks: Vec<(Local<&str>, Vec<i32>)> = adm
            .par_chunks(BUILD_CHUNK)
            .map(|chunk| {
                let mut ssns = Local::with_capacity(chunk.len());
                let mut days = Vec::with_capacity(chunk.len());
                for a in chunk {
                    ssns.push(Some(&*a.ssn));
                    days.push(visits.get(a.index).visit_date.to_epoch_days());
                }
                (ssns, days)
            })
            .collect();
        let mut days = Vec::with_capacity(adm.len());
        let mut ssn_locals = Vec::with_capacity(chunks.len());
        for (ssns, d) in chunks {
            ssn_locals.push(ssns);
            days.extend(d);
        }
        let (ssn_of, ssn_texts) = merge_locals(ssn_locals, adm.len());
        // Order SSNs by their text so the output order does not depend on the input order.
        let mut by_text: Vec<(&str, u32)> = ssn_texts.into_iter().zip(1..).collect();
        by_text.par_sort_unstable();
        let mut rank = vec![0u32; by_text.len() + 1];
        for (r, (_, id)) in by_text.iter().enumerate() {
            rank[*id as usize] = r as u32;
        }
        drop(by_text);
        let mut order: Vec<(u64, u32)> = ssn_of
            .par_iter()
            .zip(days.par_iter())
            .enumerate()
            .map(|(k, (&ssn, &day))| {
                let key =
                    ((rank[ssn as usize] as u64) << 32) | (day as i64 - i32::MIN as i64) as u64;
                (key, k as u32)
            })
            .collect();
        drop((ssn_of, days));
        // Every (key, position) is distinct, so any correct sort gives the same order.
        order.par_sort_unstable();

        let n = order.len();
        let mut groups = Vec::new();
        let mut start = 0usize;
        for i in 1..=n {
            if i == n || order[i].0 != order[start].0 {
                if n > 0 {
                    groups.push((start as u32, i as u32));
                }
                start = i;
            }
        }

        // Pass 2, over the rows in key order in parallel chunks, reading each visit once:
        // times, coordinates, and locally interned provider, zip and raw state texts.
        let mut index = vec![0usize; n];
        let mut times = Array2::from_elem((n, 4), NULL_TS);
        let mut coords = Array2::from_elem((n, 3), f64::NAN);
        type Interned<'v> = (Local<&'v str>, Local<&'v str>, Local<RawStates<'v>>);
        let locals: Vec<Interned<'_>> = order
            .par_chunks(BUILD_CHUNK)
            .zip(index.par_chunks_mut(BUILD_CHUNK))
            .zip(
                times
                    .as_slice_mut()
                    .expect("standard layout")
                    .par_chunks_mut(4 * BUILD_CHUNK),
            )
            .zip(
                coords
                    .as_slice_mut()
                    .expect("standard layout")
                    .par_chunks_mut(3 * BUILD_CHUNK),
            )
            .map(|(((rows, index), times), coords)| {
                let mut provider = Local::with_capacity(rows.len());
                let mut zip = Local::with_capacity(rows.len());
                let mut states = Local::with_capacity(rows.len());
                for (r, &(_, k)) in rows.iter().enumerate() {
                    let a = &adm[k as usize];
                    let v = visits.get(a.index);
                    index[r] = a.index;
                    times[4 * r..4 * r + 4].copy_from_slice(&[
                        micros(v.sch_start),
                        micros(v.sch_end),
                        micros(v.visit_start),
                        micros(v.visit_end),
                    ]);
                    if let Some((loc, _)) = a.location {
                        let phi = loc.lat.to_radians();
                        coords[3 * r..3 * r + 3].copy_from_slice(&[
                            phi,
                            phi.cos(),
                            loc.lon.to_radians(),
                        ]);
                    }
                    provider.push(Some(v.provider_id));
                    zip.push(non_blank(v.p_zip));
                    states.push(Some((v.p_state, v.pa_state, v.provider_state)));
                }
                (provider, zip, states)
            })
            .collect();
        let mut provider_locals = Vec::with_capacity(locals.len());
        let mut zip_locals = Vec::with_capacity(locals.len());
        let mut state_locals = Vec::with_capacity(locals.len());
        for (p, z, st) in locals {
            provider_locals.push(p);
            zip_locals.push(z);
            state_locals.push(st);
        }
        let (provider, _) = merge_locals(provider_locals, n);
        let (zip, _) = merge_locals(zip_locals, n);
        // Final states depend only on the three raw state texts, and a batch has few distinct
        // triples: each is normalised once and its finals interned.
        let (triple_of, triples) = merge_locals(state_locals, n);
        let mut final_ids: FastMap<String, u32> = FastMap::default();
        let mut final_id = |s: Option<String>| match s {
            None => 0,
            Some(s) => {
                let next = final_ids.len() as u32 + 1;
                *final_ids.entry(s).or_insert(next)
            }
        };
        let mut finals_of_triple = vec![(0, 0)];
        for &(p, pa, prov) in &triples {
            let f = StateFinals::of(&Visit {
                p_state: p.map(String::from),
                pa_state: pa.map(String::from),
                provider_state: prov.map(String::from),
                ..Visit::default()
            });
            finals_of_triple.push((final_id(f.p), final_id(f.pa)));
        }
        let states = triple_of
            .par_iter()
            .map(|&t| finals_of_triple[t as usize])
            .collect();
        Batch {
            index,
            groups,
            provider,
            times,
            coords,
            states,
            zip,
        }
    }

    /// Number of admitted visits in the batch.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// No admitted visit.
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    fn miles(&self, i: usize, j: usize, cfg: &DetectConfig) -> Option<f64> {
        let (a, b): (ArrayView1<f64>, ArrayView1<f64>) = (self.coords.row(i), self.coords.row(j));
        if a[0].is_nan() || b[0].is_nan() {
            return None;
        }
        let d = haversine_rad(a[0], a[1], a[2], b[0], b[1], b[2], cfg.geo.earth_radius_m());
        Some(miles(d, &cfg.geo))
    }

    fn keep_states(&self, i: usize, j: usize) -> bool {
        let ((p1, pa1), (p2, pa2)) = (self.states[i], self.states[j]);
        if (p1 == 0 && pa1 == 0) || (p2 == 0 && pa2 == 0) {
            return true;
        }
        let eq = |x: u32, y: u32| x != 0 && x == y;
        eq(p1, p2) || eq(p1, pa2) || eq(pa1, p2) || eq(pa1, pa2)
    }

    /// Evaluates the ordered pair of rows (i, j), which share a key and differ in provider.
    fn evaluate(
        &self,
        i: usize,
        j: usize,
        cfg: &DetectConfig,
        stats: &mut PairStats,
    ) -> Option<DetectedPair> {
        let t1 = Times::from_row(self.times.row(i).as_slice().expect("row-major"));
        let t2 = Times::from_row(self.times.row(j).as_slice().expect("row-major"));
        let opts = &cfg.options;
        let six = time_flags(&t1, &t2, opts.rules_3_6_direction);
        let zip_ok = match opts.zip_check {
            ZipCheck::Off => true,
            ZipCheck::ProviderPatientZip => {
                let (z1, z2) = (self.zip[i], self.zip[j]);
                z1 == 0 || z2 == 0 || z1 != z2
            }
        };
        let (metrics, dist) =
            metrics_and_distance_flag(&t1, &t2, self.miles(i, j, cfg), zip_ok, opts, &cfg.bands);
        let flags = RuleFlags::from_array([six[0], six[1], six[2], six[3], six[4], six[5], dist]);
        if !flags.any() {
            return None;
        }
        if opts.cross_state_filter && !self.keep_states(i, j) {
            stats.pairs_dropped_cross_state += 1;
            return None;
        }
        stats.pairs_detected += 1;
        for (c, f) in stats.per_flag.iter_mut().zip(flags.iter()) {
            *c += f as u64;
        }
        Some(DetectedPair {
            v1: self.index[i],
            v2: self.index[j],
            flags,
            metrics,
        })
    }

    fn pair_group(
        &self,
        (start, end): (u32, u32),
        cfg: &DetectConfig,
        out: &mut Vec<DetectedPair>,
        stats: &mut PairStats,
    ) {
        let (start, end) = (start as usize, end as usize);
        for i in start..end {
            for j in start..end {
                if self.provider[i] == self.provider[j] {
                    continue;
                }
                stats.candidates += 1;
                if let Some(p) = self.evaluate(i, j, cfg, stats) {
                    out.push(p);
                }
            }
        }
    }
}

/// Groups processed by one rayon task; small enough to balance two cores, large enough to
/// keep task overhead negligible.
const GROUPS_PER_TASK: usize = 2048;
/// Tasks whose results are buffered before they are handed to the sink in order; bounds the
/// memory held for pairs not yet delivered.
const TASKS_PER_ROUND: usize = 64;

/// Pairs every group of `batch` and hands detected pairs to `sink` in deterministic order.
pub fn pair_batch<S: PairSink>(
    batch: &Batch,
    cfg: &DetectConfig,
    sink: &mut S,
) -> Result<PairStats, S::Error> {
    let mut total = PairStats {
        keys: batch.groups.len() as u64,
        ..PairStats::default()
    };
    for round in batch.groups.chunks(GROUPS_PER_TASK * TASKS_PER_ROUND) {
        let results: Vec<(Vec<DetectedPair>, PairStats)> = round
            .par_chunks(GROUPS_PER_TASK)
            .map(|groups| {
                let mut out = Vec::new();
                let mut stats = PairStats::default();
                for &g in groups {
                    batch.pair_group(g, cfg, &mut out, &mut stats);
                }
                (out, stats)
            })
            .collect();
        for (pairs, stats) in results {
            total.merge(&stats);
            for p in &pairs {
                sink.accept(p)?;
            }
        }
    }
    Ok(total)
}

/// Keeps the unused helper honest: `keep` on finals and on interned ids must agree.
#[cfg(test)]
mod tests {
    use super::*;
    use crate::admit::admit;
    use crate::states::keep;
    use chrono::NaiveDate;
    use std::collections::HashMap;

    /// The parallel build against plain sequential rules, on a batch that spans many chunks.
    #[test]
    fn parallel_build_equals_a_sequential_build() {
        let d0: NaiveDate = "2024-01-01".parse().unwrap();
        let states = [
            None,
            Some("NY"),
            Some(" new york "),
            Some("NJ"),
            Some(""),
            Some("pa"),
        ];
        let mut visits = Vec::new();
        for i in 0..3 * BUILD_CHUNK + 501 {
            let ssn = format!("{}", 100 + (i * 31) % 97);
            let date = d0 + chrono::TimeDelta::days(((i * 7) % 40) as i64);
            let mut v = Visit::new(format!("v{i}"), ssn, format!("p{}", i % 5), date);
            v.sch_start = date.and_hms_opt((i % 20) as u32, 0, 0);
            v.visit_end = date.and_hms_opt(23, (i % 60) as u32, 1);
            v.p_zip = Some(["10001", " 10001", "", "10002"][i % 4].to_string());
            v.p_state = states[i % 6].map(String::from);
            v.pa_state = states[(i / 6) % 6].map(String::from);
            v.provider_state = states[(i / 36) % 6].map(String::from);
            if i % 3 == 0 {
                v.call_out_gps = Some(format!("40.{},-73.9", i % 1000));
            }
            visits.push(v);
        }
        let cfg = DetectConfig::new("2024-02-01".parse().unwrap()).unwrap();
        let adm = admit(&visits, &cfg.window, &cfg.exclusions).unwrap();
        let b = Batch::build(&visits, &adm);

        let mut want: Vec<(&str, NaiveDate, usize)> = adm
            .admitted
            .iter()
            .map(|a| (&*a.ssn, visits[a.index].visit_date, a.index))
            .collect();
        want.sort();
        let index: Vec<usize> = want.iter().map(|w| w.2).collect();
        assert_eq!(b.index, index);
        let mut groups = Vec::new();
        let mut start = 0;
        for r in 1..=want.len() {
            if r == want.len() || (want[r].0, want[r].1) != (want[start].0, want[start].1) {
                groups.push((start as u32, r as u32));
                start = r;
            }
        }
        assert_eq!(b.groups, groups);
        // Interned ids: equal exactly when the values are equal; 0 exactly for NULL.
        fn same_partition<T: Eq + std::hash::Hash + Clone + std::fmt::Debug>(
            ids: &[u32],
            vals: &[Option<T>],
        ) {
            let mut by_val = HashMap::new();
            let mut by_id = HashMap::new();
            for (id, v) in ids.iter().zip(vals) {
                assert_eq!(*id == 0, v.is_none(), "{v:?}");
                assert_eq!(*by_val.entry(v.clone()).or_insert(*id), *id, "{v:?}");
                assert_eq!(by_id.entry(*id).or_insert(v.clone()), v, "{id}");
            }
        }
        let rows: Vec<&Visit> = index.iter().map(|&i| &visits[i]).collect();
        let prov: Vec<Option<&str>> = rows.iter().map(|v| Some(v.provider_id.as_str())).collect();
        same_partition(&b.provider, &prov);
        let zip: Vec<Option<&str>> = rows.iter().map(|v| non_blank(v.p_zip.as_deref())).collect();
        same_partition(&b.zip, &zip);
        let finals: Vec<StateFinals> = rows.iter().map(|v| StateFinals::of(v)).collect();
        let p: Vec<u32> = b.states.iter().map(|s| s.0).collect();
        let pa: Vec<u32> = b.states.iter().map(|s| s.1).collect();
        let all_ids: Vec<u32> = p.iter().chain(&pa).copied().collect();
        let all_vals: Vec<Option<String>> = finals
            .iter()
            .map(|f| f.p.clone())
            .chain(finals.iter().map(|f| f.pa.clone()))
            .collect();
        same_partition(&all_ids, &all_vals);
        for (r, v) in rows.iter().enumerate() {
            let t = b.times.row(r);
            assert_eq!(t[0], micros(v.sch_start));
            assert_eq!(t[3], micros(v.visit_end));
            assert_eq!(t[1], NULL_TS);
            let c = b.coords.row(r);
            assert_eq!(c[0].is_nan(), v.call_out_gps.is_none());
        }
    }

    #[test]
    fn interned_state_comparison_matches_keep() {
        let d: NaiveDate = "2025-06-10".parse().unwrap();
        let states = [None, Some("NY"), Some(" new york "), Some("NJ"), Some("pa")];
        let mut visits = Vec::new();
        for (i, p) in states.iter().enumerate() {
            for (j, pa) in states.iter().enumerate() {
                let mut v = Visit::new(format!("v{i}{j}"), "1", format!("p{i}{j}"), d);
                v.p_state = p.map(String::from);
                v.pa_state = pa.map(String::from);
                v.provider_state = Some(if i % 2 == 0 { "NY" } else { "NJ" }.into());
                visits.push(v);
            }
        }
        let cfg = DetectConfig::new("2025-06-15".parse().unwrap()).unwrap();
        let adm = admit(&visits, &cfg.window, &cfg.exclusions).unwrap();
        let batch = Batch::build(&visits, &adm);
        for i in 0..batch.len() {
            for j in 0..batch.len() {
                let (a, b) = (&visits[batch.index[i]], &visits[batch.index[j]]);
                assert_eq!(
                    batch.keep_states(i, j),
                    keep(&StateFinals::of(a), &StateFinals::of(b)),
                    "{} {}",
                    a.visit_id,
                    b.visit_id
                );
            }
        }
    }
}
