//! Deterministic synthetic home-care visits for demos, tests and benchmarks.
//!
//! [`generate`] turns a [`SynthConfig`] into a `Vec<Visit>` that looks like a batch of the
//! analytics visit fact: caregivers (one SSN each) working for one to four agencies, one to
//! three visits on most working days, spread over the two-year + 45-day window around `as_of`
//! (plus a few days outside it), schedules of 2–12 hours, actual times near the schedule with
//! jitter and seconds, overnight visits, schedule-only future visits, missed and half-started
//! visits, and GPS strings around a few metro areas with the messiness real data has (quoted,
//! padded, `,`, blank, `N/A`, three parts, out-of-range latitude). A small share of working days
//! carries a deliberate conflict — the same schedule billed by a second agency, an overlapping
//! visit, or a visit too far away to reach in time — so that detection finds a realistic number
//! of pairs (about two per hundred visits with the defaults, like production's 14,236 pairs in
//! 638,216 visits).
//!
//! Everything is a pure function of the configuration: the same config gives the same visits,
//! on every machine and with any number of threads. The agency pool and the SSNs come from one
//! ChaCha8 stream of `seed`; each caregiver then draws from its own stream (stream = SSN index),
//! so caregivers are generated in parallel. Visit, provider and caregiver ids are canonical
//! lower-case version-4 uuids drawn from those streams, so the data also fits database mode.
//!
//! ```
//! use conflict_synth::{generate, SynthConfig};
//! let cfg = SynthConfig::new(10, 50, 7, "2025-06-15".parse().unwrap());
//! let visits = generate(&cfg);
//! assert_eq!(visits.len(), cfg.total_visits());
//! assert_eq!(visits, generate(&cfg));
//! ```

use std::collections::HashSet;
use std::fmt::Write as _;
use std::ops::RangeInclusive;

use chrono::{NaiveDate, NaiveDateTime, TimeDelta};
use conflict_core::{SpeedBands, Visit, Window};
use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};
use rayon::prelude::*;

/// How visit, provider and caregiver ids are written. The style changes only the ids: the same
/// seed gives the same visits in both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IdStyle {
    /// Canonical lower-case version-4 uuids drawn from the RNG (database mode needs uuids).
    #[default]
    Uuid,
    /// Readable ids for CSV files: visits `v0000001`, `v0000002`, … in generation order,
    /// providers `p0001`, …, caregiver records `c000001`, ….
    Sequential,
}

/// What to generate. Build one with [`SynthConfig::new`] or [`SynthConfig::large_batch`] and
/// adjust the public fields.
#[derive(Debug, Clone, PartialEq)]
pub struct SynthConfig {
    /// Number of caregivers (distinct SSNs).
    pub ssns: usize,
    /// Mean visits per SSN; the total is exactly `ssns × visits_per_ssn` (see
    /// [`SynthConfig::total_visits`]), individual caregivers vary by up to ±50 %.
    pub visits_per_ssn: usize,
    pub seed: u64,
    /// Centre of the date window; visits after it are schedule-only.
    pub as_of: NaiveDate,
    /// Agencies one caregiver works for; smaller counts are more likely (weights halve with
    /// each step). Clamped to at least 1.
    pub providers_per_ssn: RangeInclusive<usize>,
    /// Size of the agency pool; 0 picks `max(12, ssns / 4)`.
    pub providers: usize,
    /// Probability that a working day with two or more visits of a multi-agency caregiver
    /// carries a deliberate conflict. The default gives about 2.2 detected pairs per 100
    /// visits; naturally tight gaps add a few more.
    pub conflict_rate: f64,
    /// Days generated before and after the window, whose visits are not admitted.
    pub outside_days: u32,
    /// Scales the probability of every kind of messy text (GPS junk, SSN formatting, state
    /// spellings, placeholder SSNs). 0.0 gives clean data; 1.0 is the default.
    pub messiness: f64,
    pub id_style: IdStyle,
}

impl SynthConfig {
    /// `ssns` caregivers with `visits_per_ssn` visits each on average, default realism.
    pub fn new(ssns: usize, visits_per_ssn: usize, seed: u64, as_of: NaiveDate) -> Self {
        SynthConfig {
            ssns,
            visits_per_ssn,
            seed,
            as_of,
            providers_per_ssn: 1..=4,
            providers: 0,
            conflict_rate: 0.09,
            outside_days: 3,
            messiness: 1.0,
            id_style: IdStyle::Uuid,
        }
    }

    /// The old system's representative large batch: 1,284 SSNs and
    /// 638,148 visits (497 per SSN; production had 638,216).
    pub fn large_batch(seed: u64, as_of: NaiveDate) -> Self {
        SynthConfig::new(1284, 497, seed, as_of)
    }

    /// Exact number of visits [`generate`] returns.
    pub fn total_visits(&self) -> usize {
        self.ssns * self.visits_per_ssn
    }

    fn provider_pool(&self) -> usize {
        if self.providers > 0 {
            self.providers
        } else {
            (self.ssns / 4).max(12)
        }
    }
}

/// The default speed bands of docs/file-formats.md §4 (what detection on synthetic data uses).
pub fn default_bands() -> SpeedBands {
    SpeedBands::defaults()
}

// ---------------------------------------------------------------------------------------------
// Geography

struct Metro {
    lat: f64,
    lon: f64,
    /// Radius, in miles, inside which caregivers live.
    radius_mi: f64,
    weight: u32,
    state: State,
    zips: (u32, u32),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Ny,
    Nj,
    Pa,
}

impl State {
    fn code(self) -> &'static str {
        match self {
            State::Ny => "NY",
            State::Nj => "NJ",
            State::Pa => "PA",
        }
    }

    fn name(self) -> &'static str {
        match self {
            State::Ny => "New York",
            State::Nj => "New Jersey",
            State::Pa => "Pennsylvania",
        }
    }
}

const NYC: usize = 0;
const NEWARK: usize = 6;

const METROS: [Metro; 8] = [
    // New York City
    Metro {
        lat: 40.7128,
        lon: -74.0060,
        radius_mi: 10.0,
        weight: 52,
        state: State::Ny,
        zips: (10001, 11697),
    },
    // Long Island
    Metro {
        lat: 40.7891,
        lon: -73.1350,
        radius_mi: 14.0,
        weight: 10,
        state: State::Ny,
        zips: (11701, 11980),
    },
    // Buffalo
    Metro {
        lat: 42.8864,
        lon: -78.8784,
        radius_mi: 9.0,
        weight: 10,
        state: State::Ny,
        zips: (14201, 14228),
    },
    // Rochester
    Metro {
        lat: 43.1566,
        lon: -77.6088,
        radius_mi: 8.0,
        weight: 6,
        state: State::Ny,
        zips: (14604, 14627),
    },
    // Albany
    Metro {
        lat: 42.6526,
        lon: -73.7562,
        radius_mi: 8.0,
        weight: 5,
        state: State::Ny,
        zips: (12201, 12260),
    },
    // Syracuse
    Metro {
        lat: 43.0481,
        lon: -76.1474,
        radius_mi: 7.0,
        weight: 4,
        state: State::Ny,
        zips: (13201, 13290),
    },
    // Newark
    Metro {
        lat: 40.7357,
        lon: -74.1724,
        radius_mi: 7.0,
        weight: 8,
        state: State::Nj,
        zips: (7101, 7199),
    },
    // Philadelphia
    Metro {
        lat: 39.9526,
        lon: -75.1652,
        radius_mi: 9.0,
        weight: 5,
        state: State::Pa,
        zips: (19102, 19154),
    },
];

const MILES_PER_DEG_LAT: f64 = 69.05;

#[derive(Debug, Clone, Copy)]
struct Point {
    lat: f64,
    lon: f64,
}

impl Point {
    /// A point uniformly distributed in the disc of `radius_mi` miles around `self`.
    fn scatter(self, rng: &mut ChaCha8Rng, radius_mi: f64) -> Point {
        let r = radius_mi * rng.random::<f64>().sqrt();
        self.offset(r, rng.random_range(0.0..std::f64::consts::TAU))
    }

    fn offset(self, miles: f64, bearing: f64) -> Point {
        let dlat = miles * bearing.cos() / MILES_PER_DEG_LAT;
        let dlon = miles * bearing.sin() / (MILES_PER_DEG_LAT * self.lat.to_radians().cos());
        Point {
            lat: self.lat + dlat,
            lon: self.lon + dlon,
        }
    }

    /// Squared equirectangular distance; only used to rank patients by distance.
    fn dist2(self, o: Point) -> f64 {
        let dy = self.lat - o.lat;
        let dx = (self.lon - o.lon) * self.lat.to_radians().cos();
        dx * dx + dy * dy
    }
}

// ---------------------------------------------------------------------------------------------
// Small random helpers

fn weighted(rng: &mut ChaCha8Rng, weights: &[u32]) -> usize {
    let total: u32 = weights.iter().sum();
    let mut x = rng.random_range(0..total);
    for (i, &w) in weights.iter().enumerate() {
        if x < w {
            return i;
        }
        x -= w;
    }
    weights.len() - 1
}

/// Roughly bell-shaped in `[-1, 1]` (sum of two uniforms).
fn tri(rng: &mut ChaCha8Rng) -> f64 {
    rng.random::<f64>() + rng.random::<f64>() - 1.0
}

fn chance(rng: &mut ChaCha8Rng, p: f64) -> bool {
    p > 0.0 && rng.random::<f64>() < p
}

fn uuid(rng: &mut ChaCha8Rng) -> String {
    let mut b = rng.random::<u128>().to_be_bytes();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(36);
    for (i, byte) in b.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            s.push('-');
        }
        s.push(HEX[(byte >> 4) as usize] as char);
        s.push(HEX[(byte & 15) as usize] as char);
    }
    s
}

/// Decimal text of `v` with `decimals` digits (no float formatting, which is slow).
fn push_coord(s: &mut String, v: f64, decimals: u32) {
    let scale = 10i64.pow(decimals);
    let scaled = (v * scale as f64).round() as i64;
    if scaled < 0 {
        s.push('-');
    }
    let a = scaled.unsigned_abs();
    let (int, frac) = (a / scale as u64, a % scale as u64);
    let _ = write!(s, "{int}.{frac:0w$}", w = decimals as usize);
}

// ---------------------------------------------------------------------------------------------
// The population: agencies, caregiver records, patients

struct Agency {
    id: String,
    metro: usize,
    state: Option<String>,
}

struct Patient {
    at: Point,
    zip: Option<String>,
    p_state: Option<String>,
    pa_state: Option<String>,
    address: Option<(f64, f64)>,
}

/// One caregiver record: the person at one agency.
struct Record {
    agency: usize,
    caregiver_id: String,
    ssn_text: String,
    patients: Vec<Patient>,
}

fn state_text(rng: &mut ChaCha8Rng, st: State, mess: f64) -> Option<String> {
    let u = rng.random::<f64>();
    let m = mess;
    let s = if u < 0.04 {
        return None;
    } else if u < 0.04 + 0.04 * m {
        st.name().to_string()
    } else if u < 0.04 + 0.06 * m {
        st.code().to_lowercase()
    } else if u < 0.04 + 0.07 * m {
        format!(" {} ", st.code())
    } else {
        st.code().to_string()
    };
    Some(s)
}

fn make_agencies(rng: &mut ChaCha8Rng, n: usize, mess: f64, ids: IdStyle) -> Vec<Agency> {
    let weights: Vec<u32> = METROS.iter().map(|m| m.weight).collect();
    (0..n)
        .map(|i| {
            let metro = weighted(rng, &weights);
            let st = METROS[metro].state;
            let state = match rng.random_range(0..100) {
                0..=9 => None,
                10..=14 if mess > 0.0 => Some(st.name().to_string()),
                _ => Some(st.code().to_string()),
            };
            let drawn = uuid(rng);
            let id = match ids {
                IdStyle::Uuid => drawn,
                IdStyle::Sequential => format!("p{:04}", i + 1),
            };
            Agency { id, metro, state }
        })
        .collect()
}

/// Nine digits, area 001–899 without 666, group and serial not zero; unique in the batch.
fn make_ssns(rng: &mut ChaCha8Rng, n: usize) -> Vec<u32> {
    let mut seen = HashSet::with_capacity(n);
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let area = rng.random_range(1..900u32);
        if area == 666 {
            continue;
        }
        let ssn = area * 1_000_000
            + rng.random_range(1..100u32) * 10_000
            + rng.random_range(1..10_000u32);
        if seen.insert(ssn) {
            out.push(ssn);
        }
    }
    out
}

fn ssn_text(rng: &mut ChaCha8Rng, ssn: u32, mess: f64) -> String {
    let plain = format!("{ssn:09}");
    let u = rng.random::<f64>();
    if u < 0.002 * mess {
        // An agency that did not know the number.
        return if rng.random_bool(0.5) {
            "000000000"
        } else {
            "999999999"
        }
        .to_string();
    }
    if u < 0.003 * mess {
        return "   ".to_string();
    }
    if u < 0.018 * mess {
        return format!("{}-{}-{}", &plain[..3], &plain[3..5], &plain[5..]);
    }
    if u < 0.045 * mess {
        return match rng.random_range(0..3) {
            0 => format!(" {plain}"),
            1 => format!("{plain} "),
            _ => format!("  {plain}\t"),
        };
    }
    plain
}

fn make_patient(rng: &mut ChaCha8Rng, home: Point, metro: usize, mess: f64) -> Patient {
    let (at, st, zips) = if metro == NYC && chance(rng, 0.05) {
        // New York caregivers sometimes cross the river.
        let m = &METROS[NEWARK];
        (
            Point {
                lat: m.lat,
                lon: m.lon,
            }
            .scatter(rng, m.radius_mi),
            m.state,
            m.zips,
        )
    } else {
        let m = &METROS[metro];
        let far = chance(rng, 0.12);
        let r = if far {
            rng.random_range(4.0..12.0)
        } else {
            rng.random_range(0.2..3.5)
        };
        let at = home.offset(r, rng.random_range(0.0..std::f64::consts::TAU));
        (at, m.state, m.zips)
    };
    let zip = match rng.random_range(0..100) {
        0..=5 => None,
        6..=9 => Some(format!(
            "{:05}-{:04}",
            rng.random_range(zips.0..=zips.1),
            rng.random_range(1..10_000)
        )),
        _ => Some(format!("{:05}", rng.random_range(zips.0..=zips.1))),
    };
    let p_state = state_text(rng, st, mess);
    let pa_state = match rng.random_range(0..100) {
        0..=39 => None,
        40..=43 => Some(if st == State::Ny { "NJ" } else { "NY" }.to_string()),
        _ => state_text(rng, st, mess),
    };
    let address = match rng.random_range(0..1000) {
        0..=119 => None,
        // A typo in the address table: latitude without its decimal point.
        120..=122 if mess > 0.0 => Some((at.lat * 10.0, at.lon)),
        _ => Some((at.lat, at.lon)),
    };
    Patient {
        at,
        zip,
        p_state,
        pa_state,
        address,
    }
}

// ---------------------------------------------------------------------------------------------
// Visits

/// A caregiver's visit before it becomes a `Visit`: seconds from the visit date's midnight.
#[derive(Debug, Clone, Copy)]
struct Plan {
    rec: usize,
    patient: usize,
    sch: (i64, i64),
    act: Option<(i64, i64)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Completed,
    /// No schedule, only actual times (an unscheduled visit).
    Unscheduled,
    ScheduleOnly,
    Missed,
    /// `visit_start` only.
    HalfStarted,
    /// `visit_end` only.
    HalfEnded,
}

fn status(rng: &mut ChaCha8Rng, future: bool) -> Status {
    if future {
        return Status::ScheduleOnly;
    }
    match rng.random_range(0..1000) {
        0..=19 => Status::Missed,
        20..=49 => Status::ScheduleOnly,
        50..=54 => Status::HalfStarted,
        55..=56 => Status::HalfEnded,
        57..=61 => Status::Unscheduled,
        _ => Status::Completed,
    }
}

const MIN: i64 = 60;
const HOUR: i64 = 3600;
/// No day visit starts later than this (night shifts are planned separately).
const LATEST_START: i64 = 23 * HOUR;

/// Actual times near a schedule: a few minutes early or late, with seconds.
fn actual_near(rng: &mut ChaCha8Rng, sch: (i64, i64)) -> (i64, i64) {
    let start = sch.0 + (tri(rng) * 7.0 * MIN as f64) as i64;
    let end = sch.1 + (tri(rng) * 8.0 * MIN as f64) as i64;
    (start, end.max(start + 10 * MIN))
}

struct Gen<'a> {
    cfg: &'a SynthConfig,
    rng: ChaCha8Rng,
    records: Vec<Record>,
    agencies: &'a [Agency],
    window: Window,
}

impl Gen<'_> {
    fn duration(&mut self, long_ok: bool) -> i64 {
        const LONG: [i64; 11] = [2, 3, 4, 4, 4, 5, 6, 8, 8, 10, 12];
        const SHORT: [i64; 8] = [2, 2, 3, 3, 4, 4, 5, 6];
        let h = if long_ok {
            LONG[self.rng.random_range(0..LONG.len())]
        } else {
            SHORT[self.rng.random_range(0..SHORT.len())]
        };
        let half = if h < 12 && chance(&mut self.rng, 0.2) {
            30 * MIN
        } else {
            0
        };
        h * HOUR + half
    }

    fn other_record(&mut self, rec: usize) -> usize {
        let n = self.records.len();
        (rec + self.rng.random_range(1..n)) % n
    }

    fn pick_patient(&mut self, rec: usize) -> usize {
        self.rng.random_range(0..self.records[rec].patients.len())
    }

    /// Plans the `k` visits of one working day.
    /// Plans up to `k` visits of one working day; fewer when the day is full (a visit must
    /// start on its visit date), unless `all` is set.
    fn plan_day(&mut self, k: usize, all: bool) -> Vec<Plan> {
        let multi = self.records.len() > 1;
        let inject = multi && k >= 2 && chance(&mut self.rng, self.cfg.conflict_rate);
        let inject_at = if inject {
            self.rng.random_range(1..k)
        } else {
            usize::MAX
        };
        let mut plans: Vec<Plan> = Vec::with_capacity(k);
        // Start of the first visit on a 15-minute grid (some on 5 minutes).
        let grid = if chance(&mut self.rng, 0.15) {
            5 * MIN
        } else {
            15 * MIN
        };
        // Busy days start early: room for k − 1 more visits of up to 6 h plus travel.
        let room =
            (LATEST_START - 6 * HOUR - (k as i64 - 1) * (8 * HOUR + 30 * MIN)).clamp(0, 5 * HOUR);
        let mut next_start = 6 * HOUR + self.rng.random_range(0..=(room / grid)) * grid;
        for i in 0..k {
            if i > 0 && next_start > LATEST_START {
                if !all {
                    break;
                }
                next_start = LATEST_START;
            }
            let p = if i == inject_at {
                self.conflicting(plans[i - 1])
            } else {
                let rec = match plans.last() {
                    Some(prev) if multi && chance(&mut self.rng, 0.45) => {
                        self.other_record(prev.rec)
                    }
                    Some(prev) => prev.rec,
                    // The first record is the caregiver's main agency.
                    None if multi && chance(&mut self.rng, 0.45) => {
                        self.rng.random_range(1..self.records.len())
                    }
                    None => 0,
                };
                let patient = self.pick_patient(rec);
                let sch = if k == 1 && chance(&mut self.rng, 0.07) {
                    // Night shift, ending the next day.
                    let s = 19 * HOUR + self.rng.random_range(0..8) * 30 * MIN;
                    (s, s + self.rng.random_range(8..=12) * HOUR)
                } else {
                    let d = self.duration(k == 1);
                    (next_start, next_start + d)
                };
                Plan {
                    rec,
                    patient,
                    sch,
                    act: None,
                }
            };
            // Travel time between visits: mostly half an hour or more, sometimes tight.
            let gap = if chance(&mut self.rng, 0.1) {
                self.rng.random_range(3..=5) * 5 * MIN
            } else {
                self.rng.random_range(6..=30) * 5 * MIN
            };
            next_start = next_start.max(p.sch.1 + gap);
            plans.push(p);
        }
        plans
    }

    /// A visit at another agency that conflicts with `prev`.
    fn conflicting(&mut self, prev: Plan) -> Plan {
        let rec = self.other_record(prev.rec);
        let mut kind = self.rng.random_range(0..100);
        if kind >= 45 && prev.sch.0 + 30 * MIN > LATEST_START.min(prev.sch.1) {
            // No room for a later start on this date: bill the same schedule instead.
            kind = 0;
        }
        let (sch, patient) = if kind < 45 {
            // The same schedule billed by a second agency.
            (prev.sch, self.pick_patient(rec))
        } else if kind < 85 {
            // Starts while the previous visit is still going on.
            let len = prev.sch.1 - prev.sch.0;
            let into =
                (len as f64 * self.rng.random_range(0.2..0.9)) as i64 / (15 * MIN) * (15 * MIN);
            let s = (prev.sch.0 + into.max(15 * MIN)).min(LATEST_START);
            ((s, s + self.duration(false)), self.pick_patient(rec))
        } else {
            // Right after it, at the patient farthest away.
            let from = self.records[prev.rec].patients[prev.patient].at;
            let patients = &self.records[rec].patients;
            let far = (0..patients.len())
                .max_by(|&a, &b| {
                    from.dist2(patients[a].at)
                        .total_cmp(&from.dist2(patients[b].at))
                })
                .unwrap_or(0);
            let s = (prev.sch.1 + self.rng.random_range(0..=2) * 5 * MIN).min(LATEST_START);
            ((s, s + self.duration(false)), far)
        };
        // Marker for "copy the actual times of prev when both end up completed".
        let copy = kind < 45 && chance(&mut self.rng, 0.35);
        Plan {
            rec,
            patient,
            sch,
            act: copy.then_some((i64::MIN, i64::MIN)),
        }
    }

    fn gps(&mut self, at: Point, missing: f64) -> Option<String> {
        let rng = &mut self.rng;
        if chance(rng, missing) {
            return None;
        }
        let m = self.cfg.messiness;
        // A phone's fix: tens of metres around the patient.
        let lat = at.lat + tri(rng) * 0.0008;
        let lon = at.lon + tri(rng) * 0.0008;
        let decimals = match rng.random_range(0..10) {
            0 => 4,
            1 | 2 => 5,
            _ => 6,
        };
        let mut s = String::with_capacity(24);
        let u = rng.random::<f64>();
        let junk = |s: &str| Some(s.to_string());
        let mut cut = 0.0;
        let mut band = |p: f64| {
            cut += p * m;
            u < cut
        };
        if band(0.05) {
            s.push('"');
            push_coord(&mut s, lat, decimals);
            s.push_str("\",\"");
            push_coord(&mut s, lon, decimals);
            s.push('"');
        } else if band(0.03) {
            s.push(' ');
            push_coord(&mut s, lat, decimals);
            s.push_str(" , ");
            push_coord(&mut s, lon, decimals);
            s.push(' ');
        } else if band(0.012) {
            return junk("");
        } else if band(0.01) {
            return junk(",");
        } else if band(0.008) {
            return junk(if u < cut - 0.004 * m { "N/A" } else { "null" });
        } else if band(0.005) {
            push_coord(&mut s, lat, decimals);
            s.push(',');
            push_coord(&mut s, lon, decimals);
            s.push_str(",0");
        } else if band(0.004) {
            // Decimal point lost: latitude out of range.
            push_coord(&mut s, lat * 10.0, decimals);
            s.push(',');
            push_coord(&mut s, lon, decimals);
        } else if band(0.001) {
            return junk("0.0,0.0");
        } else {
            push_coord(&mut s, lat, decimals);
            s.push(',');
            push_coord(&mut s, lon, decimals);
        }
        Some(s)
    }

    /// An actual time; some devices report milliseconds (never on a copied record).
    fn timestamp(&mut self, midnight: NaiveDateTime, secs: i64, exact: bool) -> NaiveDateTime {
        let t = midnight + TimeDelta::seconds(secs);
        if !exact && chance(&mut self.rng, 0.05) {
            t + TimeDelta::microseconds(self.rng.random_range(0..1000) * 1000)
        } else {
            t
        }
    }

    /// Turns the plans of one day into visits.
    fn emit(
        &mut self,
        day: NaiveDate,
        plans: &mut [Plan],
        next_id: &mut u64,
        out: &mut Vec<Visit>,
    ) {
        let future = day > self.cfg.as_of;
        let midnight = day.and_time(chrono::NaiveTime::MIN);
        let mut prev_act: Option<(i64, i64)> = None;
        for p in plans.iter_mut() {
            let st = status(&mut self.rng, future);
            let wants_copy = p.act.is_some();
            let act = match st {
                Status::Completed
                | Status::Unscheduled
                | Status::HalfStarted
                | Status::HalfEnded => {
                    match (wants_copy, prev_act) {
                        (true, Some(a)) => a,
                        // Entered by hand as scheduled (no EVV clock-in).
                        _ if chance(&mut self.rng, 0.08) => p.sch,
                        _ => actual_near(&mut self.rng, p.sch),
                    }
                }
                _ => (0, 0),
            };
            p.act = None;
            let has_act = !matches!(st, Status::ScheduleOnly | Status::Missed);
            if has_act {
                p.act = Some(act);
            }
            prev_act = p.act.filter(|_| st == Status::Completed);

            let sch_start =
                (st != Status::Unscheduled).then(|| midnight + TimeDelta::seconds(p.sch.0));
            let sch_end =
                (st != Status::Unscheduled).then(|| midnight + TimeDelta::seconds(p.sch.1));
            let copied = wants_copy && prev_act.is_some();
            let visit_start = matches!(
                st,
                Status::Completed | Status::Unscheduled | Status::HalfStarted
            )
            .then(|| self.timestamp(midnight, act.0, copied));
            let visit_end = matches!(
                st,
                Status::Completed | Status::Unscheduled | Status::HalfEnded
            )
            .then(|| self.timestamp(midnight, act.1, copied));

            let at = self.records[p.rec].patients[p.patient].at;
            let (call_out_gps, call_in_gps) = match st {
                Status::Completed | Status::Unscheduled => (self.gps(at, 0.07), self.gps(at, 0.10)),
                Status::HalfStarted => (self.gps(at, 0.07), None),
                Status::HalfEnded => (None, self.gps(at, 0.10)),
                _ => (None, None),
            };

            let last = visit_end.or(sch_end).unwrap_or(midnight);
            let as_of_end = self.cfg.as_of.and_time(chrono::NaiveTime::MIN) + TimeDelta::hours(23);
            let updated_at = if future {
                as_of_end - TimeDelta::minutes(self.rng.random_range(60..60 * 24 * 30))
            } else if chance(&mut self.rng, 0.01) {
                // A correction weeks later.
                (last + TimeDelta::hours(self.rng.random_range(24..24 * 60))).min(as_of_end)
            } else {
                (last + TimeDelta::minutes(self.rng.random_range(5..60 * 72))).min(as_of_end)
            };
            let is_missed = if chance(&mut self.rng, 0.02) {
                None
            } else {
                Some(st == Status::Missed)
            };

            // Drawn in both styles, so the style changes only the ids, never the data.
            let drawn = uuid(&mut self.rng);
            let visit_id = match self.cfg.id_style {
                IdStyle::Uuid => drawn,
                IdStyle::Sequential => format!("v{:07}", *next_id + 1),
            };
            let rec = &self.records[p.rec];
            let patient = &rec.patients[p.patient];
            let agency = &self.agencies[rec.agency];
            out.push(Visit {
                visit_id,
                app_visit_id: Some(40_000_000_000 + *next_id as i64),
                ssn: Some(rec.ssn_text.clone()),
                provider_id: agency.id.clone(),
                visit_date: day,
                sch_start,
                sch_end,
                visit_start,
                visit_end,
                call_out_gps,
                call_in_gps,
                address_lat: patient.address.map(|a| a.0),
                address_lon: patient.address.map(|a| a.1),
                p_zip: patient.zip.clone(),
                p_state: patient.p_state.clone(),
                pa_state: patient.pa_state.clone(),
                provider_state: agency.state.clone(),
                is_missed,
                updated_at: Some(updated_at),
                caregiver_id: Some(rec.caregiver_id.clone()),
            });
            *next_id += 1;
        }
    }

    /// All visits of one caregiver: `n` visits over the window and its margins.
    fn caregiver(&mut self, n: usize, mut next_id: u64, out: &mut Vec<Visit>) {
        let margin = TimeDelta::days(self.cfg.outside_days as i64);
        let first = self.window.from - margin;
        let span = (self.window.to + margin - first).num_days() as usize + 1;
        let mut remaining = n;
        for idx in 0..span {
            if remaining == 0 {
                break;
            }
            let days_left = span - idx;
            let k = if days_left == 1 {
                remaining
            } else {
                // Visits per calendar day still needed; working days carry 1.75 on average.
                let rate = remaining as f64 / days_left as f64;
                let p_work = (rate / 1.75).min(0.97);
                if !chance(&mut self.rng, p_work) {
                    continue;
                }
                let base = [1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3]
                    [self.rng.random_range(0..20)];
                let extra = (rate / p_work - 1.75).max(0.0);
                let extra = extra.floor() as usize + chance(&mut self.rng, extra.fract()) as usize;
                (base + extra).min(remaining)
            };
            let day = first + TimeDelta::days(idx as i64);
            let mut plans = self.plan_day(k, days_left == 1);
            remaining -= plans.len();
            self.emit(day, &mut plans, &mut next_id, out);
        }
    }
}

/// Generates `cfg.total_visits()` visits, caregiver by caregiver, each caregiver's visits in
/// date order.
pub fn generate(cfg: &SynthConfig) -> Vec<Visit> {
    let window = Window::default_around(cfg.as_of).expect("as_of is a representable date");
    let mut master = ChaCha8Rng::seed_from_u64(cfg.seed);
    master.set_stream(u64::MAX);
    let agencies = make_agencies(
        &mut master,
        cfg.provider_pool(),
        cfg.messiness.max(0.0),
        cfg.id_style,
    );
    let ssns = make_ssns(&mut master, cfg.ssns);

    // Per-SSN counts vary by up to ±50 % in pairs, so the total stays exact.
    let n = cfg.visits_per_ssn;
    let mut counts = vec![n; cfg.ssns];
    for pair in counts.chunks_mut(2) {
        if let [a, b] = pair {
            let d = master.random_range(0..=n / 2);
            *a += d;
            *b -= d;
        }
    }

    let lo = (*cfg.providers_per_ssn.start()).max(1);
    let hi = (*cfg.providers_per_ssn.end()).max(lo);
    let count_weights: Vec<u32> = (lo..=hi).map(|k| 1u32 << (hi - k).min(16)).collect();
    let by_metro: Vec<Vec<usize>> = (0..METROS.len())
        .map(|m| {
            (0..agencies.len())
                .filter(|&a| agencies[a].metro == m)
                .collect()
        })
        .collect();

    let pop = Population {
        cfg,
        agencies: &agencies,
        by_metro: &by_metro,
        count_weights: &count_weights,
        lo,
        window,
    };
    // Caregivers are independent (each has its own stream), so they are generated in
    // parallel, a few dozen at a time to bound the memory held outside `out`.
    let mut first_ids = Vec::with_capacity(cfg.ssns);
    let mut next_id = 0u64;
    for &c in &counts {
        first_ids.push(next_id);
        next_id += c as u64;
    }
    let mut out = Vec::with_capacity(cfg.total_visits());
    let all: Vec<usize> = (0..cfg.ssns).collect();
    for batch in all.chunks(64) {
        let parts: Vec<Vec<Visit>> = batch
            .par_iter()
            .map(|&i| pop.caregiver(i, ssns[i], counts[i], first_ids[i]))
            .collect();
        for part in parts {
            out.extend(part);
        }
    }
    out
}

/// What every caregiver draws from: the agency pool and the configuration.
struct Population<'a> {
    cfg: &'a SynthConfig,
    agencies: &'a [Agency],
    by_metro: &'a [Vec<usize>],
    count_weights: &'a [u32],
    lo: usize,
    window: Window,
}

impl Population<'_> {
    /// The `count` visits of caregiver `i`, from stream `i` of the seed.
    fn caregiver(&self, i: usize, ssn: u32, count: usize, first_id: u64) -> Vec<Visit> {
        let (cfg, agencies) = (self.cfg, self.agencies);
        let mess = cfg.messiness.max(0.0);
        let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
        rng.set_stream(i as u64);
        let metro_weights: Vec<u32> = METROS.iter().map(|m| m.weight).collect();
        let metro = weighted(&mut rng, &metro_weights);
        let m = &METROS[metro];
        let home = Point {
            lat: m.lat,
            lon: m.lon,
        }
        .scatter(&mut rng, m.radius_mi);
        let n_agencies = (self.lo + weighted(&mut rng, self.count_weights)).min(agencies.len());
        let mut chosen: Vec<usize> = Vec::with_capacity(n_agencies);
        while chosen.len() < n_agencies {
            let local = &self.by_metro[metro];
            let a = if !local.is_empty() && chance(&mut rng, 0.85) {
                local[rng.random_range(0..local.len())]
            } else {
                rng.random_range(0..agencies.len())
            };
            if !chosen.contains(&a) {
                chosen.push(a);
            }
        }
        let records = chosen
            .into_iter()
            .enumerate()
            .map(|(k, agency)| {
                let drawn = uuid(&mut rng);
                let caregiver_id = match cfg.id_style {
                    IdStyle::Uuid => drawn,
                    IdStyle::Sequential => format!("c{:06}-{}", i + 1, k + 1),
                };
                let ssn_text = ssn_text(&mut rng, ssn, mess);
                let patients = (0..rng.random_range(2..=8))
                    .map(|_| make_patient(&mut rng, home, metro, mess))
                    .collect();
                Record {
                    agency,
                    caregiver_id,
                    ssn_text,
                    patients,
                }
            })
            .collect();
        let mut g = Gen {
            cfg,
            rng,
            records,
            agencies,
            window: self.window,
        };
        let mut out = Vec::with_capacity(count);
        g.caregiver(count, first_id, &mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use conflict_core::{detect, DetectConfig, DetectedPair};

    fn as_of() -> NaiveDate {
        "2025-06-15".parse().unwrap()
    }

    #[test]
    fn same_seed_same_data_other_seed_other_data() {
        let cfg = SynthConfig::new(12, 80, 42, as_of());
        let a = generate(&cfg);
        assert_eq!(a, generate(&cfg));
        let b = generate(&SynthConfig { seed: 43, ..cfg });
        assert_ne!(a, b);
    }

    #[test]
    fn counts_are_exact() {
        for (ssns, per) in [(0, 10), (1, 0), (1, 1), (3, 7), (25, 120)] {
            let cfg = SynthConfig::new(ssns, per, 1, as_of());
            assert_eq!(generate(&cfg).len(), ssns * per, "{ssns} x {per}");
        }
    }

    #[test]
    fn ids_are_unique_canonical_uuids() {
        let visits = generate(&SynthConfig::new(30, 150, 9, as_of()));
        let ids: HashSet<&str> = visits.iter().map(|v| v.visit_id.as_str()).collect();
        assert_eq!(ids.len(), visits.len());
        let is_uuid = |s: &str| {
            s.len() == 36
                && s.char_indices().all(|(i, c)| {
                    if matches!(i, 8 | 13 | 18 | 23) {
                        c == '-'
                    } else {
                        c.is_ascii_digit() || ('a'..='f').contains(&c)
                    }
                })
                && s.as_bytes()[14] == b'4'
        };
        for v in &visits {
            assert!(is_uuid(&v.visit_id), "{}", v.visit_id);
            assert!(is_uuid(&v.provider_id), "{}", v.provider_id);
            assert!(is_uuid(v.caregiver_id.as_deref().unwrap()));
        }
        let apps: HashSet<i64> = visits.iter().map(|v| v.app_visit_id.unwrap()).collect();
        assert_eq!(apps.len(), visits.len());
    }

    #[test]
    fn sequential_ids() {
        let cfg = SynthConfig {
            id_style: IdStyle::Sequential,
            ..SynthConfig::new(2, 5, 1, as_of())
        };
        let visits = generate(&cfg);
        assert_eq!(visits[0].visit_id, "v0000001");
        assert_eq!(visits[9].visit_id, "v0000010");
        assert!(visits
            .iter()
            .all(|v| v.provider_id.starts_with('p') && v.provider_id.len() == 5));
        assert!(visits
            .iter()
            .all(|v| v.caregiver_id.as_deref().unwrap().starts_with('c')));
        // Only the ids differ from the uuid style.
        let uuids = generate(&SynthConfig {
            id_style: IdStyle::Uuid,
            ..cfg
        });
        let strip = |v: &Visit| Visit {
            visit_id: String::new(),
            provider_id: String::new(),
            caregiver_id: None,
            ..v.clone()
        };
        assert!(visits.iter().zip(&uuids).all(|(a, b)| strip(a) == strip(b)));
    }

    #[test]
    fn shape_is_realistic() {
        let cfg = SynthConfig::new(60, 300, 5, as_of());
        let visits = generate(&cfg);
        let window = Window::default_around(cfg.as_of).unwrap();
        let n = visits.len() as f64;
        let share = |f: &dyn Fn(&Visit) -> bool| visits.iter().filter(|v| f(v)).count() as f64 / n;
        let outside = share(&|v| !window.contains(v.visit_date));
        assert!(outside > 0.0 && outside < 0.03, "outside {outside}");
        // Future visits are schedule-only.
        assert!(visits.iter().filter(|v| v.visit_date > cfg.as_of).all(|v| v
            .visit_start
            .is_none()
            && v.visit_end.is_none()
            && v.sch_start.is_some()));
        let overnight = share(&|v| v.sch_end.is_some_and(|e| e.date() > v.visit_date));
        assert!(
            overnight > 0.01 && overnight < 0.15,
            "overnight {overnight}"
        );
        assert!(share(&|v| v.is_missed == Some(true)) > 0.005);
        assert!(share(&|v| v.visit_start.is_some() && v.visit_end.is_none()) > 0.001);
        let completed = share(&|v| v.visit_start.is_some() && v.visit_end.is_some());
        assert!(completed > 0.8, "completed {completed}");
        for v in &visits {
            if let (Some(s), Some(e)) = (v.sch_start, v.sch_end) {
                assert_eq!(s.date(), v.visit_date);
                let h = (e - s).num_minutes();
                assert!((120..=12 * 60).contains(&h), "schedule of {h} min");
            }
        }
        let with_seconds = share(&|v| {
            v.visit_start
                .is_some_and(|t| t.and_utc().timestamp() % 60 != 0)
        });
        assert!(with_seconds > 0.5);
        let parsable = share(&|v| {
            matches!(
                conflict_core::gps::parse_gps(v.call_out_gps.as_deref()),
                conflict_core::gps::Gps::Valid(_)
            )
        });
        assert!(parsable > 0.6, "parsable {parsable}");
        let ny = share(&|v| v.p_state.as_deref() == Some("NY"));
        assert!(ny > 0.5, "NY {ny}");
        let mut providers: Vec<_> = visits
            .iter()
            .filter(|v| v.ssn.as_deref().is_some_and(|s| s.trim().len() == 9))
            .map(|v| (v.ssn.as_deref().unwrap().trim(), v.provider_id.as_str()))
            .collect();
        providers.sort_unstable();
        providers.dedup();
        assert!(providers.len() > 80, "caregivers work for several agencies");
    }

    #[test]
    fn busy_caregivers_still_start_every_visit_on_its_date() {
        for (ssns, per) in [(4, 2500), (3, 6000)] {
            let visits = generate(&SynthConfig::new(ssns, per, 2, as_of()));
            assert_eq!(visits.len(), ssns * per);
            for v in &visits {
                if let Some(s) = v.sch_start {
                    assert_eq!(s.date(), v.visit_date, "{v:?}");
                }
            }
        }
    }

    #[test]
    fn clean_data_has_no_messy_text() {
        let cfg = SynthConfig {
            messiness: 0.0,
            ..SynthConfig::new(20, 100, 3, as_of())
        };
        for v in generate(&cfg) {
            let ssn = v.ssn.unwrap();
            assert!(
                ssn.len() == 9 && ssn.bytes().all(|b| b.is_ascii_digit()),
                "{ssn}"
            );
            for g in [v.call_out_gps, v.call_in_gps].into_iter().flatten() {
                assert!(
                    matches!(
                        conflict_core::gps::parse_gps(Some(&g)),
                        conflict_core::gps::Gps::Valid(_)
                    ),
                    "{g}"
                );
            }
        }
    }

    #[test]
    fn detection_finds_a_realistic_share_of_pairs() {
        let cfg = SynthConfig::new(80, 250, 11, as_of());
        let visits = generate(&cfg);
        let dc = DetectConfig::new(cfg.as_of).unwrap();
        let mut pairs: Vec<DetectedPair> = Vec::new();
        let report = detect(&visits, &dc, &mut pairs).unwrap();
        let rate = pairs.len() as f64 / visits.len() as f64;
        assert!(
            (0.01..0.04).contains(&rate),
            "{} pairs in {} visits",
            pairs.len(),
            visits.len()
        );
        for rule in conflict_core::Rule::ALL {
            assert!(
                pairs.iter().any(|p| p.flags[rule]),
                "rule {rule:?} never fires"
            );
        }
        let w = report.warnings();
        use conflict_core::WarningKind::*;
        for kind in [GpsUnparsable, GpsOutOfRange] {
            assert!(w.count(kind) > 0, "{kind:?}");
        }
        assert!(report.admit_stats().dropped.iter().sum::<u64>() > 0);
        assert!(report.pairs.pairs_dropped_cross_state > 0);
    }
}
