//! Grouping by (SSN, visit date), parallel pairing inside each group, and the sink that
//! receives detected pairs (rules.md §5, §11).
//!
//! Layout: the admitted visits are sorted by key and their times and coordinates are held in
//! `ndarray` matrices (one row per visit). A group is then a contiguous row range, so the pair
//! loop reads two small, cache-resident slices instead of chasing `Visit` structs (strings,
//! options) through the heap. Everything else (ids, states) stays in plain vectors, which are
//! clearer for per-visit values that are not numbers.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use ndarray::{Array2, ArrayView1};
use rayon::prelude::*;

use crate::admit::Admission;
use crate::geo::{haversine_rad, miles};
use crate::metrics::{metrics_and_distance_flag, Metrics};
use crate::model::{non_blank, Visit};
use crate::options::{DetectConfig, ZipCheck};
use crate::rules::{time_flags, Times, NULL_TS};
use crate::states::StateFinals;
use crate::stats::PairStats;

/// One detected ordered pair. `v1`/`v2` index the input visit slice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DetectedPair {
    pub v1: usize,
    pub v2: usize,
    /// The seven rule flags in CVM order.
    pub flags: [bool; 7],
    pub metrics: Metrics,
}

/// Receives detected pairs, in deterministic order (by SSN, visit date, then input order of
/// V1 and V2). Returning an error stops detection.
pub trait PairSink {
    type Error;
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
    // Sub-microsecond digits are dropped: timestamps have microsecond precision (rules.md §1).
    t.map_or(NULL_TS, |t| t.and_utc().timestamp_micros())
}

/// A fast multiplicative hasher for the short keys of admission and grouping (visit ids,
/// SSNs, provider ids, states, zips). std's SipHash guards against hash flooding by untrusted
/// keys; these keys come from the operator's own files and database, and SipHash was the
/// largest single cost of grouping a large batch.
#[derive(Default, Clone, Copy)]
pub(crate) struct FastHasher(u64);

const FAST_K: u64 = 0x517c_c1b7_2722_0a95;

impl FastHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(FAST_K);
    }
}

impl Hasher for FastHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.add(u64::from_le_bytes(c.try_into().expect("8 bytes")));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut buf = [0u8; 8];
            buf[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(buf));
        }
    }

    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(i as u64);
    }

    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.add(i as u64);
    }

    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }

    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        // Fold the well-mixed high bits into the low bits the table indexes with.
        let h = self.0;
        (h ^ (h >> 32)).wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ (h >> 29)
    }
}

/// A `HashMap` with [`FastHasher`].
pub(crate) type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FastHasher>>;

/// Interns optional strings to small integers; 0 stands for NULL.
#[derive(Default)]
struct Interner<'a>(FastMap<&'a str, u32>);

impl<'a> Interner<'a> {
    fn id(&mut self, s: Option<&'a str>) -> u32 {
        match s {
            None => 0,
            Some(s) => {
                let next = self.0.len() as u32 + 1;
                *self.0.entry(s).or_insert(next)
            }
        }
    }
}

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
    pub fn build(visits: &[Visit], admission: &Admission) -> Batch {
        let adm = &admission.admitted;
        // Order SSNs by their text so the output order does not depend on the input order.
        let mut ssn_ids: FastMap<&str, u32> = FastMap::default();
        let ssn_of: Vec<u32> = adm
            .iter()
            .map(|a| {
                let n = ssn_ids.len() as u32;
                *ssn_ids.entry(a.ssn.as_str()).or_insert(n)
            })
            .collect();
        let mut by_text: Vec<(&str, u32)> = ssn_ids.iter().map(|(s, &i)| (*s, i)).collect();
        by_text.sort_unstable();
        drop(ssn_ids);
        let mut rank = vec![0u32; by_text.len()];
        for (r, (_, id)) in by_text.iter().enumerate() {
            rank[*id as usize] = r as u32;
        }
        let mut order: Vec<(u64, u32)> = adm
            .iter()
            .zip(&ssn_of)
            .enumerate()
            .map(|(k, (a, &ssn))| {
                let days = visits[a.index].visit_date.to_epoch_days() as i64;
                let key = ((rank[ssn as usize] as u64) << 32) | (days - i32::MIN as i64) as u64;
                (key, k as u32)
            })
            .collect();
        drop(ssn_of);
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

        let mut index = Vec::with_capacity(n);
        let mut provider = Vec::with_capacity(n);
        let mut times = Array2::from_elem((n, 4), NULL_TS);
        let mut coords = Array2::from_elem((n, 3), f64::NAN);
        let mut states = Vec::with_capacity(n);
        let mut zip = Vec::with_capacity(n);
        let (mut prov_ids, mut zip_ids) = (Interner::default(), Interner::default());
        // Final states depend only on the three raw state texts, and a batch has few distinct
        // triples: each is normalised once and its finals interned (ids are only compared for
        // equality, and 0 stays NULL).
        type RawStates<'v> = (Option<&'v str>, Option<&'v str>, Option<&'v str>);
        let mut finals_of: FastMap<RawStates<'_>, (u32, u32)> = FastMap::default();
        let mut final_ids: FastMap<String, u32> = FastMap::default();
        let mut final_id = |s: Option<String>| match s {
            None => 0,
            Some(s) => {
                let next = final_ids.len() as u32 + 1;
                *final_ids.entry(s).or_insert(next)
            }
        };
        for (row, &(_, k)) in order.iter().enumerate() {
            let a = &adm[k as usize];
            let v = &visits[a.index];
            index.push(a.index);
            provider.push(prov_ids.id(Some(v.provider_id.as_str())));
            let mut t = times.row_mut(row);
            t[0] = micros(v.sch_start);
            t[1] = micros(v.sch_end);
            t[2] = micros(v.visit_start);
            t[3] = micros(v.visit_end);
            if let Some((loc, _)) = a.location {
                let mut c = coords.row_mut(row);
                let phi = loc.lat.to_radians();
                c[0] = phi;
                c[1] = phi.cos();
                c[2] = loc.lon.to_radians();
            }
            zip.push(zip_ids.id(non_blank(v.p_zip.as_deref())));
            let raw = (
                v.p_state.as_deref(),
                v.pa_state.as_deref(),
                v.provider_state.as_deref(),
            );
            let ids = *finals_of.entry(raw).or_insert_with(|| {
                let f = StateFinals::of(v);
                (final_id(f.p), final_id(f.pa))
            });
            states.push(ids);
        }
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

    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    pub fn group_count(&self) -> usize {
        self.groups.len()
    }

    fn miles(&self, i: usize, j: usize, cfg: &DetectConfig) -> Option<f64> {
        let (a, b): (ArrayView1<f64>, ArrayView1<f64>) = (self.coords.row(i), self.coords.row(j));
        if a[0].is_nan() || b[0].is_nan() {
            return None;
        }
        let d = haversine_rad(a[0], a[1], a[2], b[0], b[1], b[2], cfg.geo.earth_radius_m);
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
        let flags = [six[0], six[1], six[2], six[3], six[4], six[5], dist];
        if !flags.contains(&true) {
            return None;
        }
        if opts.cross_state_filter && !self.keep_states(i, j) {
            stats.pairs_dropped_cross_state += 1;
            return None;
        }
        stats.pairs_detected += 1;
        for (c, f) in stats.per_flag.iter_mut().zip(flags) {
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
