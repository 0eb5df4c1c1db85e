//! A naive reference implementation of docs/rules.md, written straight from the spec text and
//! independently of the fast path.
//!
//! It uses only the plain data types of `conflict_core` (`Visit`, `Decimal`, `SpeedBand`,
//! `DetectConfig`, `RuleOptions` and its enums, `Metrics` as the output record); every rule,
//! metric, parser and filter is re-derived here. Speed is irrelevant: admitted visits are
//! compared by an O(n²) all-pairs loop, times are compared as `chrono::NaiveDateTime`, decimal
//! arithmetic is done on integers.

use std::collections::HashMap;

use chrono::{Datelike, NaiveDateTime, Timelike};
use conflict_core::options::{Direction, DistanceGap, EtaMiles, MinuteDiff, ZipCheck};
use conflict_core::{Decimal, DetectConfig, Metrics, SpeedBand, Visit};

/// One detected ordered pair: input index of V1, of V2, the seven flags and the metrics.
pub type RefPair = (usize, usize, [bool; 7], Metrics);

/// Everything the reference computes for one input.
#[derive(Debug, Clone, Default)]
pub struct RefOutput {
    /// Detected pairs sorted by (V1 index, V2 index).
    pub pairs: Vec<RefPair>,
    pub candidates: u64,
    pub dropped_cross_state: u64,
    pub admitted: u64,
    /// outside_window, blank_ssn, excluded_provider, excluded_ssn, placeholder_ssn.
    pub dropped: [u64; 5],
    /// Every warning raised, in the order of a sequential pass: (kind, visit id).
    pub warnings: Vec<(&'static str, Option<String>)>,
}

impl RefOutput {
    pub fn warning_count(&self, kind: &str) -> u64 {
        self.warnings.iter().filter(|(k, _)| *k == kind).count() as u64
    }

    /// Visit ids of the warnings of `kind`, in order.
    pub fn warning_ids(&self, kind: &str) -> Vec<String> {
        self.warnings
            .iter()
            .filter(|(k, _)| *k == kind)
            .filter_map(|(_, id)| id.clone())
            .collect()
    }

    fn warn(&mut self, kind: &'static str, visit: Option<&Visit>) {
        self.warnings
            .push((kind, visit.map(|v| v.visit_id.clone())));
    }
}

// ---------------------------------------------------------------------------------------------
// §1 conventions

/// docs/rules.md §1: the five ASCII whitespace characters, nothing else (not U+000B, not U+00A0).
fn trim(s: &str) -> &str {
    const WS: [char; 5] = [' ', '\t', '\n', '\u{0C}', '\r'];
    let mut t = s;
    while let Some(c) = t.chars().next() {
        if WS.contains(&c) {
            t = &t[c.len_utf8()..];
        } else {
            break;
        }
    }
    while let Some(c) = t.chars().last() {
        if WS.contains(&c) {
            t = &t[..t.len() - c.len_utf8()];
        } else {
            break;
        }
    }
    t
}

/// `None` for NULL or blank, otherwise the trimmed text.
fn not_blank(s: &Option<String>) -> Option<String> {
    let s = s.as_ref()?;
    let t = trim(s);
    if t.is_empty() {
        None
    } else {
        Some(t.to_string())
    }
}

/// rha on a non-negative rational `num / den` (den > 0): floor(num/den + 1/2).
fn rha_ratio(num: i128, den: i128) -> i128 {
    assert!(num >= 0 && den > 0);
    (2 * num + den) / (2 * den)
}

// ---------------------------------------------------------------------------------------------
// §4 location

enum Gps {
    Absent,
    Unparsable,
    OutOfRange,
    Valid(f64, f64),
}

/// `[+-]?(digits[.digits*] | .digits)`, parsed as f64 via a canonical text form.
fn plain_number(s: &str) -> Option<f64> {
    let (sign, body) = if let Some(rest) = s.strip_prefix('+') {
        ("", rest)
    } else if let Some(rest) = s.strip_prefix('-') {
        ("-", rest)
    } else {
        ("", s)
    };
    let (int, frac, has_point) = match body.split_once('.') {
        Some((i, f)) => (i, f, true),
        None => (body, "", false),
    };
    let digits_only = |x: &str| x.chars().all(|c| c.is_ascii_digit());
    if !digits_only(int) || !digits_only(frac) {
        return None;
    }
    let ok = if int.is_empty() {
        has_point && !frac.is_empty()
    } else {
        true
    };
    if !ok {
        return None;
    }
    let canonical = format!(
        "{sign}{}.{}",
        if int.is_empty() { "0" } else { int },
        if frac.is_empty() { "0" } else { frac }
    );
    Some(
        canonical
            .parse::<f64>()
            .expect("canonical decimal text parses"),
    )
}

/// docs/rules.md §4.1 steps 1–7.
fn parse_gps(raw: &Option<String>) -> Gps {
    let Some(raw) = raw else {
        return Gps::Absent;
    };
    let without_quotes: String = raw.chars().filter(|c| *c != '"').collect();
    if trim(&without_quotes).is_empty() {
        return Gps::Absent;
    }
    let parts: Vec<&str> = without_quotes.split(',').collect();
    if parts.len() != 2 {
        return Gps::Unparsable;
    }
    let (a, b) = (trim(parts[0]), trim(parts[1]));
    if a.is_empty() && b.is_empty() {
        return Gps::Absent;
    }
    if a.is_empty() || b.is_empty() {
        return Gps::Unparsable;
    }
    let (Some(lat), Some(lon)) = (plain_number(a), plain_number(b)) else {
        return Gps::Unparsable;
    };
    if lat.abs() > 90.0 || lon.abs() > 180.0 {
        return Gps::OutOfRange;
    }
    Gps::Valid(lat, lon)
}

/// docs/rules.md §4.2, counting warnings into `out`.
fn locate(v: &Visit, out: &mut RefOutput) -> Option<(f64, f64)> {
    for source in [&v.call_out_gps, &v.call_in_gps] {
        match parse_gps(source) {
            Gps::Valid(lat, lon) => return Some((lat, lon)),
            Gps::Unparsable => out.warn("gps_unparsable", Some(v)),
            Gps::OutOfRange => out.warn("gps_out_of_range", Some(v)),
            Gps::Absent => {}
        }
    }
    match (v.address_lat, v.address_lon) {
        (Some(lat), Some(lon)) => {
            if lat.abs() > 90.0 || lon.abs() > 180.0 {
                out.warn("address_out_of_range", Some(v));
                None
            } else {
                Some((lat, lon))
            }
        }
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------
// §6 building blocks

type Span = (Option<NaiveDateTime>, Option<NaiveDateTime>);

fn sch(v: &Visit) -> Span {
    (v.sch_start, v.sch_end)
}

fn act(v: &Visit) -> Span {
    (v.visit_start, v.visit_end)
}

fn unstarted(v: &Visit) -> bool {
    v.visit_start.is_none() && v.visit_end.is_none()
}

fn completed(v: &Visit) -> bool {
    v.visit_start.is_some() && v.visit_end.is_some()
}

fn same(i: Span, j: Span) -> bool {
    match (i, j) {
        ((Some(a), Some(b)), (Some(c), Some(d))) => a == c && b == d,
        _ => false,
    }
}

fn overlap(i: Span, j: Span) -> bool {
    match (i, j) {
        ((Some(i_start), Some(i_end)), (Some(j_start), Some(j_end))) => {
            i_start < j_end && i_end > j_start
        }
        _ => false,
    }
}

/// Whole minutes since 0001-01-01 00:00, seconds and fractions dropped.
fn minute_floor(t: NaiveDateTime) -> i64 {
    let days = t.date().num_days_from_ce() as i64;
    days * 24 * 60 + t.hour() as i64 * 60 + t.minute() as i64
}

fn datediff_min(a: Option<NaiveDateTime>, b: Option<NaiveDateTime>) -> Option<i64> {
    Some(minute_floor(b?) - minute_floor(a?))
}

// ---------------------------------------------------------------------------------------------
// §8.1 distance

fn great_circle_m(p: (f64, f64), q: (f64, f64), radius: f64) -> f64 {
    let phi1 = p.0.to_radians();
    let phi2 = q.0.to_radians();
    let half_dphi = (phi2 - phi1) / 2.0;
    let half_dlam = (q.1.to_radians() - p.1.to_radians()) / 2.0;
    let h = half_dphi.sin() * half_dphi.sin()
        + phi1.cos() * phi2.cos() * half_dlam.sin() * half_dlam.sin();
    2.0 * radius * h.sqrt().min(1.0).asin()
}

// ---------------------------------------------------------------------------------------------
// §10 cross-state filter

fn norm_state(s: &Option<String>) -> Option<String> {
    let u = not_blank(s)?.to_uppercase();
    Some(match u.as_str() {
        "MISSISSIPPI" => "MS".to_string(),
        "NEW YORK" => "NY".to_string(),
        "PENNSYLVANIA" => "PA".to_string(),
        "LONG ISLAND" => "LI".to_string(),
        _ => u,
    })
}

fn finals(v: &Visit) -> (Option<String>, Option<String>) {
    let p = norm_state(&v.p_state);
    let pa = norm_state(&v.pa_state);
    if p.is_none() && pa.is_none() {
        let prov = not_blank(&v.provider_state).map(|s| s.to_uppercase());
        return (prov.clone(), prov);
    }
    (p, pa)
}

fn keep(v1: &Visit, v2: &Visit) -> bool {
    let (p1, pa1) = finals(v1);
    let (p2, pa2) = finals(v2);
    if (p1.is_none() && pa1.is_none()) || (p2.is_none() && pa2.is_none()) {
        return true;
    }
    let eq = |x: &Option<String>, y: &Option<String>| match (x, y) {
        (Some(x), Some(y)) => x == y,
        _ => false,
    };
    eq(&p1, &p2) || eq(&p1, &pa2) || eq(&pa1, &p2) || eq(&pa1, &pa2)
}

// ---------------------------------------------------------------------------------------------
// The whole detection

struct Admitted<'a> {
    index: usize,
    visit: &'a Visit,
    ssn: String,
    location: Option<(f64, f64)>,
}

/// Runs the reference detection. `Err` when two different records share a `visit_id`.
pub fn detect(visits: &[Visit], cfg: &DetectConfig) -> Result<RefOutput, String> {
    let mut out = RefOutput::default();

    // Duplicate records: each later record is compared with the first one of its id.
    let mut skip = vec![false; visits.len()];
    let mut first_of_id: HashMap<&str, usize> = HashMap::new();
    for i in 0..visits.len() {
        let first = *first_of_id.entry(visits[i].visit_id.as_str()).or_insert(i);
        if first != i {
            if visits[first] == visits[i] {
                out.warn("duplicate_visit", Some(&visits[i]));
                skip[i] = true;
            } else {
                return Err(format!("visit id {:?} has two records", visits[i].visit_id));
            }
        }
    }

    // §3 admission.
    let mut admitted: Vec<Admitted> = Vec::new();
    for (index, v) in visits.iter().enumerate() {
        if skip[index] {
            continue;
        }
        if v.visit_date < cfg.window.from || v.visit_date > cfg.window.to {
            out.dropped[0] += 1;
            continue;
        }
        let Some(ssn) = not_blank(&v.ssn) else {
            out.dropped[1] += 1;
            continue;
        };
        if cfg.exclusions.providers.iter().any(|p| *p == v.provider_id) {
            out.dropped[2] += 1;
            continue;
        }
        if cfg
            .exclusions
            .ssns
            .iter()
            .map(|e| trim(e))
            .any(|e| !e.is_empty() && e == ssn)
        {
            out.dropped[3] += 1;
            continue;
        }
        let digits: String = ssn.chars().filter(|c| c.is_ascii_digit()).collect();
        if cfg.exclusions.placeholder_ssns.iter().any(|p| *p == digits) {
            out.dropped[4] += 1;
            continue;
        }
        let location = locate(v, &mut out);
        admitted.push(Admitted {
            index,
            visit: v,
            ssn,
            location,
        });
    }
    out.admitted = admitted.len() as u64;

    // docs/file-formats.md §3: no bands, or bands that share a mile value, are noted once.
    let given = cfg.bands.as_slice();
    if given.is_empty() {
        out.warn("mph_empty", None);
    } else if (0..given.len())
        .any(|i| (0..i).any(|j| given[i].from <= given[j].to && given[j].from <= given[i].to))
    {
        out.warn("mph_bands_overlap", None);
    }

    // §8.2 bands: by From, then To, then the given order.
    let mut bands: Vec<(usize, SpeedBand)> =
        cfg.bands.as_slice().iter().copied().enumerate().collect();
    bands.sort_by(|(i, a), (j, b)| (a.from, a.to, i).cmp(&(b.from, b.to, j)));

    let opts = &cfg.options;
    for a in &admitted {
        for b in &admitted {
            let (v1, v2) = (a.visit, b.visit);
            // §5 pairing.
            if a.index == b.index
                || v1.visit_date != v2.visit_date
                || a.ssn != b.ssn
                || v1.provider_id == v2.provider_id
            {
                continue;
            }
            out.candidates += 1;

            // §7 rules 1–6.
            let (u1, c1, u2, c2) = (unstarted(v1), completed(v1), unstarted(v2), completed(v2));
            let (s1, a1, s2, a2) = (sch(v1), act(v1), sch(v2), act(v2));
            let both_ways = opts.rules_3_6_direction == Direction::BothWays;
            let rule1 = u1 && u2 && same(s1, s2);
            let rule2 = c1 && c2 && same(a1, a2);
            let mut rule3 = u1 && c2 && same(s1, a2);
            if both_ways {
                rule3 = rule3 || (c1 && u2 && same(a1, s2));
            }
            let rule4 = u1 && u2 && overlap(s1, s2) && !same(s1, s2);
            let rule5 = c1 && c2 && overlap(a1, a2) && !same(a1, a2);
            let mut rule6 = u1 && c2 && overlap(s1, a2) && !same(s1, a2);
            if both_ways {
                rule6 = rule6 || (c1 && u2 && overlap(a1, s2) && !same(a1, s2));
            }

            // §8.4 MinuteDiffBetweenSch.
            let g12 = datediff_min(v1.visit_end, v2.visit_start);
            let g21 = datediff_min(v2.visit_end, v1.visit_start);
            let minute_diff = match opts.minute_diff {
                MinuteDiff::AbsEndToStart => g12.map(|g| g.abs()),
                MinuteDiff::MinPositiveOrZero => {
                    let p12 = g12.filter(|g| *g > 0);
                    let p21 = g21.filter(|g| *g > 0);
                    Some(match (p12, p21) {
                        (Some(x), Some(y)) => x.min(y),
                        (Some(x), None) => x,
                        (None, Some(y)) => y,
                        (None, None) => 0,
                    })
                }
            };

            // §8.1–8.3 distance, band, ETA.
            let mut miles = None;
            let mut distance_h = None;
            let mut mph = None;
            let mut eta_h = None;
            if let (Some(p), Some(q)) = (a.location, b.location) {
                let m = great_circle_m(p, q, cfg.geo.earth_radius_m()) / cfg.geo.metres_per_mile()
                    * cfg.geo.extra_distance_per();
                let d_h = (m * 100.0).round() as i64;
                miles = Some(m);
                distance_h = Some(d_h);
                mph = bands
                    .iter()
                    .find(|(_, band)| band.from * 100 <= d_h && d_h <= band.to * 100)
                    .map(|(_, band)| band.mph);
                if let Some(speed) = mph {
                    eta_h = eta(d_h, m, speed, opts.eta_miles);
                }
            }

            // §9 DistanceFlag.
            let zip_ok = match opts.zip_check {
                ZipCheck::Off => true,
                ZipCheck::ProviderPatientZip => {
                    match (not_blank(&v1.p_zip), not_blank(&v2.p_zip)) {
                        (Some(z1), Some(z2)) => z1 != z2,
                        _ => true,
                    }
                }
            };
            let gate = miles.is_some() && c1 && c2 && zip_ok && mph.is_some() && eta_h.is_some();
            let rule7 = gate && {
                let eta = eta_h.unwrap();
                match opts.distance_gap {
                    DistanceGap::AbsEndToStart => {
                        let m = g12.unwrap().abs();
                        m >= 0 && eta > m * 100
                    }
                    DistanceGap::PositiveEitherWay => {
                        let g12 = g12.unwrap();
                        let g21 = g21.unwrap();
                        (g12 > 0 && eta > g12 * 100) || (g21 > 0 && eta > g21 * 100)
                    }
                }
            };

            // §11 emission, §10 filter.
            let flags = [rule1, rule2, rule3, rule4, rule5, rule6, rule7];
            if !flags.iter().any(|f| *f) {
                continue;
            }
            if opts.cross_state_filter && !keep(v1, v2) {
                out.dropped_cross_state += 1;
                continue;
            }
            out.pairs.push((
                a.index,
                b.index,
                flags,
                Metrics {
                    minute_diff,
                    distance_h,
                    mph,
                    eta_h,
                },
            ));
        }
    }
    out.pairs.sort_by_key(|p| (p.0, p.1));
    Ok(out)
}

/// §8.3: `round2(miles × 60 / mph)` exactly; NULL when mph is 0.
fn eta(distance_h: i64, m: f64, mph: Decimal, eta_miles: EtaMiles) -> Option<i64> {
    if mph.is_zero() {
        return None;
    }
    // Miles in hundredths: the 2-decimal D, or rha(m) whole miles.
    let miles_h: i128 = match eta_miles {
        EtaMiles::TwoDecimals => distance_h as i128,
        EtaMiles::WholeMiles => m.round() as i128 * 100,
    };
    // ETA in hundredths = miles_h / 100 × 60 / (M / 10^k) × 100 = miles_h × 60 × 10^k / M.
    let num = miles_h * 60 * 10i128.pow(mph.scale());
    Some(rha_ratio(num, mph.mantissa() as i128) as i64)
}
