//! A small arbitrary batch of visits and arbitrary rule options through `detect`: it never
//! panics, every emitted pair satisfies docs/rules.md §5/§11, and the pairs do not depend on the
//! order of the input.
//!
//! The body of the `detect_visits` fuzz target, shared (by `#[path]`) with the corpus test of
//! conflict-io so that its assertions also run on stable Rust.

use std::collections::{BTreeMap, HashSet};

use arbitrary::{Arbitrary, Unstructured};
use chrono::{NaiveDate, NaiveDateTime, NaiveTime, TimeDelta};
use conflict_core::options::{Direction, DistanceGap, EtaMiles, MinuteDiff, ZipCheck};
use conflict_core::{
    detect, Decimal, DetectConfig, DetectError, DetectedPair, GeoParams, Metrics, Profile,
    RuleOptions, SpeedBand, SpeedBands, Visit,
};

const SSNS: &[&str] = &[
    "100000001",
    " 100000001 ",
    "100000001\t",
    "100000002",
    "100-00-0002",
    "",
    "   ",
    "000-00-0000",
    "999999999",
];
const GPS: &[&str] = &[
    "40.75,-73.99",
    "\"40.750000\",\"-73.990000\"",
    "  40.8224 , -73.99 ",
    "40.9670,-73.9900",
    "41.04,-73.99",
    ",",
    "",
    "N/A",
    "91,-73.99",
    "40.75,-73.99,0",
    "0,0",
    "-90,180",
    "1e1,2",
];
const STATES: &[&str] = &[
    "NY",
    " new york ",
    "NJ",
    "pa",
    "Pennsylvania",
    "Long Island",
    "MS",
    "",
    "  ",
];
const ZIPS: &[&str] = &["10001", "10002", " 10001 ", ""];

#[derive(Arbitrary, Debug)]
enum Text {
    Null,
    Pool(u8),
    Raw(String),
}

impl Text {
    fn get(&self, pool: &[&str]) -> Option<String> {
        match self {
            Text::Null => None,
            Text::Pool(i) => Some(pool[*i as usize % pool.len()].to_string()),
            Text::Raw(s) => Some(s.clone()),
        }
    }
}

#[derive(Arbitrary, Debug)]
enum Day {
    /// One of a few days, so that visits share a date.
    Near(u8),
    /// The window's edges and just outside them.
    Edge(u8),
    Any(i32),
}

#[derive(Arbitrary, Debug)]
struct Time {
    /// Seconds from the visit date's midnight; may be negative or days away.
    secs: i32,
    micros: Option<u32>,
}

#[derive(Arbitrary, Debug)]
struct FuzzVisit {
    id: u8,
    ssn: Text,
    provider: u8,
    day: Day,
    sch_start: Option<Time>,
    sch_end: Option<Time>,
    visit_start: Option<Time>,
    visit_end: Option<Time>,
    call_out: Text,
    call_in: Text,
    address: Option<(f64, f64)>,
    zip: Text,
    p_state: Text,
    pa_state: Text,
    provider_state: Text,
    is_missed: Option<bool>,
}

#[derive(Arbitrary, Debug)]
struct Switches {
    both_ways: bool,
    positive_either_way: bool,
    min_positive: bool,
    whole_miles: bool,
    zip: bool,
    cross_state: bool,
}

#[derive(Arbitrary, Debug)]
struct Input {
    as_of: i16,
    classic: bool,
    switches: Option<Switches>,
    extra_distance_per: Option<f64>,
    bands: Option<Vec<(u16, u16, i32, u8)>>,
    excluded_providers: Vec<u8>,
    excluded_ssns: Vec<Text>,
    no_placeholders: bool,
    visits: Vec<FuzzVisit>,
}

fn timestamp(day: NaiveDate, t: &Option<Time>) -> Option<NaiveDateTime> {
    let t = t.as_ref()?;
    let mut ts = day
        .and_time(NaiveTime::MIN)
        .checked_add_signed(TimeDelta::seconds(t.secs as i64))?;
    if let Some(us) = t.micros {
        ts = ts.checked_add_signed(TimeDelta::microseconds((us % 1_000_000) as i64))?;
    }
    Some(ts)
}

fn config(input: &Input) -> Option<DetectConfig> {
    let base: NaiveDate = "2025-06-15".parse().unwrap();
    let as_of = base.checked_add_signed(TimeDelta::days(input.as_of as i64))?;
    let mut cfg = DetectConfig::new(as_of).ok()?;
    let profile = if input.classic {
        Profile::Classic
    } else {
        Profile::Current
    };
    cfg.options = RuleOptions::profile(profile);
    if let Some(s) = &input.switches {
        let o = &mut cfg.options;
        o.rules_3_6_direction = if s.both_ways {
            Direction::BothWays
        } else {
            Direction::OneWay
        };
        o.distance_gap = if s.positive_either_way {
            DistanceGap::PositiveEitherWay
        } else {
            DistanceGap::AbsEndToStart
        };
        o.minute_diff = if s.min_positive {
            MinuteDiff::MinPositiveOrZero
        } else {
            MinuteDiff::AbsEndToStart
        };
        o.eta_miles = if s.whole_miles {
            EtaMiles::WholeMiles
        } else {
            EtaMiles::TwoDecimals
        };
        o.zip_check = if s.zip {
            ZipCheck::ProviderPatientZip
        } else {
            ZipCheck::Off
        };
        o.cross_state_filter = s.cross_state;
    }
    if let Some(x) = input.extra_distance_per {
        cfg.geo = GeoParams::default()
            .with_extra_distance_per(x)
            .unwrap_or_default();
    }
    if let Some(bands) = &input.bands {
        let bands = bands
            .iter()
            .take(8)
            .filter_map(|&(from, to, m, scale)| {
                SpeedBand::new(
                    from as i64,
                    to as i64,
                    Decimal::from_parts(m as i64, scale as u32 % 4),
                )
                .ok()
            })
            .collect();
        cfg.bands = SpeedBands::new(bands);
    }
    for p in input.excluded_providers.iter().take(4) {
        cfg.exclusions.providers.insert(format!("p{}", p % 5));
    }
    let ssns: Vec<String> = input
        .excluded_ssns
        .iter()
        .take(4)
        .filter_map(|t| t.get(SSNS))
        .collect();
    cfg.exclusions.add_ssns(ssns.iter().map(String::as_str));
    if input.no_placeholders {
        cfg.exclusions.placeholder_ssns.clear();
    }
    Some(cfg)
}

fn visit(f: &FuzzVisit, cfg: &DetectConfig) -> Option<Visit> {
    let (from, to) = (cfg.window.from, cfg.window.to);
    let day = match f.day {
        Day::Near(d) => from + TimeDelta::days(400 + (d % 3) as i64),
        Day::Edge(d) => match d % 4 {
            0 => from,
            1 => from.pred_opt()?,
            2 => to,
            _ => to.succ_opt()?,
        },
        Day::Any(d) => NaiveDate::from_num_days_from_ce_opt(d)?,
    };
    Some(Visit {
        visit_id: format!("v{}", f.id % 24),
        app_visit_id: None,
        ssn: f.ssn.get(SSNS),
        provider_id: format!("p{}", f.provider % 5),
        visit_date: day,
        sch_start: timestamp(day, &f.sch_start),
        sch_end: timestamp(day, &f.sch_end),
        visit_start: timestamp(day, &f.visit_start),
        visit_end: timestamp(day, &f.visit_end),
        call_out_gps: f.call_out.get(GPS),
        call_in_gps: f.call_in.get(GPS),
        address_lat: f.address.map(|a| a.0),
        address_lon: f.address.map(|a| a.1),
        p_zip: f.zip.get(ZIPS),
        p_state: f.p_state.get(STATES),
        pa_state: f.pa_state.get(STATES),
        provider_state: f.provider_state.get(STATES),
        is_missed: f.is_missed,
        updated_at: None,
        caregiver_id: None,
    })
}

fn trim(s: &str) -> &str {
    s.trim_matches(|c: char| c.is_ascii_whitespace())
}

type Keyed = BTreeMap<(String, String), ([bool; 7], Metrics)>;

fn run(visits: &[Visit], cfg: &DetectConfig) -> Option<Keyed> {
    let mut pairs: Vec<DetectedPair> = Vec::new();
    let report = match detect(visits, cfg, &mut pairs) {
        Ok(r) => r,
        Err(DetectError::DuplicateIds(d)) => {
            assert!(!d.is_empty());
            for dup in &d {
                let (a, b) = (&visits[dup.first], &visits[dup.second]);
                assert!(dup.first < dup.second);
                assert_eq!(a.visit_id, b.visit_id);
                assert_ne!(a, b, "identical duplicates are collapsed, not errors");
            }
            return None;
        }
        Err(DetectError::Sink(e)) => match e {},
    };
    assert_eq!(report.pairs.pairs_detected, pairs.len() as u64);
    let first_of: BTreeMap<&str, usize> = visits
        .iter()
        .enumerate()
        .rev()
        .map(|(i, v)| (v.visit_id.as_str(), i))
        .collect();
    let mut seen = HashSet::new();
    let mut keyed = Keyed::new();
    for p in &pairs {
        let (a, b) = (&visits[p.v1], &visits[p.v2]);
        assert_ne!(p.v1, p.v2);
        assert_eq!(
            first_of[a.visit_id.as_str()],
            p.v1,
            "only the first record of an id pairs"
        );
        assert_eq!(
            first_of[b.visit_id.as_str()],
            p.v2,
            "only the first record of an id pairs"
        );
        assert_ne!(a.provider_id, b.provider_id, "{p:?}");
        assert_eq!(a.visit_date, b.visit_date, "{p:?}");
        assert!(cfg.window.contains(a.visit_date));
        let (s1, s2) = (
            trim(a.ssn.as_deref().unwrap()),
            trim(b.ssn.as_deref().unwrap()),
        );
        assert!(!s1.is_empty());
        assert_eq!(s1, s2, "{p:?}");
        assert_eq!(report.ssn(p.v1), Some(s1));
        assert!(!cfg.exclusions.ssns.contains(s1));
        assert!(!cfg.exclusions.providers.contains(&a.provider_id));
        assert!(!cfg.exclusions.providers.contains(&b.provider_id));
        assert!(p.flags.any(), "{p:?}");
        let located = report.location(p.v1).is_some() && report.location(p.v2).is_some();
        assert_eq!(p.metrics.distance_h.is_some(), located, "{p:?}");
        assert!(p.metrics.mph.is_none() || p.metrics.distance_h.is_some());
        assert!(p.metrics.eta_h.is_none() || p.metrics.mph.is_some());
        if p.flags[conflict_core::Rule::Distance] {
            assert!(p.metrics.eta_h.is_some(), "{p:?}");
        }
        assert!(seen.insert((p.v1, p.v2)), "pair emitted twice: {p:?}");
        keyed.insert(
            (a.visit_id.clone(), b.visit_id.clone()),
            (p.flags.to_array(), p.metrics),
        );
    }
    Some(keyed)
}

/// Checks one input, decoded from bytes as `cargo fuzz` decodes a typed target's input (so a
/// fuzzer's corpus file means the same here); panics when a property does not hold. Returns
/// the number of pairs detected, `None` when the bytes decode to nothing that is run (too many
/// visits, an invalid configuration, duplicate ids), so a corpus test can see what it covers.
pub fn check(data: &[u8]) -> Option<usize> {
    let input = Input::arbitrary_take_rest(Unstructured::new(data)).ok()?;
    check_input(input)
}

fn check_input(input: Input) -> Option<usize> {
    if input.visits.len() > 48 {
        return None;
    }
    let cfg = config(&input)?;
    let visits = input
        .visits
        .iter()
        .map(|f| visit(f, &cfg))
        .collect::<Option<Vec<_>>>()?;
    let forward = run(&visits, &cfg);
    let reversed: Vec<Visit> = visits.iter().rev().cloned().collect();
    let backward = run(&reversed, &cfg);
    assert_eq!(forward.is_some(), backward.is_some());
    assert_eq!(forward, backward, "pairs depend on the input order");
    forward.map(|pairs| pairs.len())
}
