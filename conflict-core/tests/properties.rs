//! Property tests: the fast path of `conflict_core::detect` against the naive reference
//! implementation in `reference/`, on random visit sets built to hit the edge cases of
//! docs/rules.md (dense groups, NULLs everywhere, equal and touching times, overnight and reversed
//! intervals, half-started visits, odd GPS strings, state spellings, blank and placeholder
//! SSNs, window edges, duplicate records).

mod reference;

use std::collections::HashMap;

use chrono::{Datelike, Days, Duration, NaiveDate, NaiveDateTime};
use conflict_core::options::{Direction, DistanceGap, EtaMiles, MinuteDiff, ZipCheck};
use conflict_core::stats::WARNING_EXAMPLES;
use conflict_core::{
    detect, Decimal, DetectConfig, DetectError, DetectedPair, Exclusions, GeoParams, Metrics,
    Profile, RuleOptions, SpeedBand, SpeedBands, Visit, WarningKind, Window,
};
use proptest::prelude::*;
use proptest::sample::{select, Index};
use proptest::test_runner::TestCaseError;

// ---------------------------------------------------------------------------------------------
// Value pools

const SSNS_COMMON: &[&str] = &[
    "100000001",
    "100000001",
    "100000001",
    " 100000001 ",
    "100000001\t",
    "\r\n100000001\x0C",
    "100000002",
    "\t100000002 ",
    "100000003",
];

const SSNS_ODD: &[Option<&str>] = &[
    None,
    Some(""),
    Some("   "),
    Some("\t\n"),
    Some("\u{0B}100000001"), // vertical tab is not trimmed: a different SSN
    Some("100000001\u{A0}"), // nor is a no-break space
    Some("100-00-0001"),     // digits equal "100000001", text does not
    Some("000000000"),
    Some("000-00-0000"),
    Some(" 999999999 "),
    Some("999-99-9999"),
    Some("000 00 0000"),
    Some("0000000000"), // ten zeros: not a placeholder
    Some("N/A"),        // no digits: a placeholder only when the set holds ""
];

const PROVIDERS: &[&str] = &["prov-a", "prov-b", "prov-c", "PROV-A"];

const GPS: &[&str] = &[
    // valid
    "40.750000,-73.990000",
    "\"40.750000\",\"-73.990000\"",
    "  40.822400 , -73.990000 ",
    "40.7862,-73.99",
    "40.8947,-73.99",
    "40.9294,-73.99",
    "40.967,-73.99",
    "41.04,-73.99",
    "40.76,-73.98",
    "+40.75,-73.99",
    "40.75\t,\r-73.99",
    "40.,-74.",
    ".5,+5.",
    "-.5,5",
    "0,0",
    "-0,0",
    "0,180",
    "-90,180",
    "90.0,-180.0",
    "-90,0",
    "40.750000000000000000000001,-73.99",
    // no GPS
    "",
    "  ",
    ",",
    " , ",
    "\"\"",
    "\",\"",
    "\"\" , \"\"",
    // unparsable
    "N/A",
    "40.75,",
    ",-73.99",
    "40.75,-73.99,0",
    "1e1,2",
    "inf,2",
    "nan,nan",
    "40.75;-73.99",
    "\u{0B}40.75,-73.99",
    "40.75\u{A0},-73.99",
    "4 0.75,-73.99",
    "-,5",
    "+.,5",
    ".,5",
    "0x10,5",
    "40.75.1,-73",
    "\u{661},\u{662}",
    "++1,2",
    // out of range
    "91.000000,-73.990000",
    "10,-180.0001",
    "-90.5,0",
    "1000000000000000000000000000000000000000000000,0",
    "0,999",
];

const ADDRESSES: &[(Option<f64>, Option<f64>)] = &[
    (Some(40.967), Some(-73.99)),
    (Some(40.75), Some(-73.99)),
    (Some(40.8224), Some(-73.99)),
    (Some(95.0), Some(-73.99)),
    (Some(40.0), Some(181.0)),
    (Some(-90.0), Some(180.0)),
    (Some(40.75), None),
    (None, Some(-73.99)),
];

const ZIPS: &[Option<&str>] = &[
    None,
    None,
    Some("10001"),
    Some(" 10001 "),
    Some("10002"),
    Some(""),
    Some("  "),
];

const STATES: &[Option<&str>] = &[
    None,
    None,
    None,
    Some("NY"),
    Some("ny"),
    Some(" new york "),
    Some("New York"),
    Some("NEW  YORK"),
    Some("NJ"),
    Some(" nj "),
    Some("PA"),
    Some("Pennsylvania"),
    Some("MS"),
    Some("mississippi"),
    Some("LI"),
    Some("Long Island"),
    Some(""),
    Some("  "),
];

const MPH: &[&str] = &[
    "0", "10", "12.5", "25", "35", "0.5", "7.25", "60", "100.125", "3", "0.001", "24", "35.0",
];

const AS_OF: &[&str] = &["2025-06-15", "2024-02-29", "2026-03-01", "2024-12-31"];

// ---------------------------------------------------------------------------------------------
// Raw (shrinkable) descriptions of visits

/// Minutes from the visit date's midnight (may be negative or past 24 h), seconds, micros.
type RawTime = (i64, u32, u32);

#[derive(Debug, Clone)]
enum RawEnd {
    After(i64),
    At(RawTime),
}

#[derive(Debug, Clone)]
enum RawSpan {
    Both(RawTime, RawEnd),
    Neither,
    StartOnly(RawTime),
    EndOnly(RawTime),
}

#[derive(Debug, Clone)]
enum RawActual {
    Unstarted,
    AsScheduled,
    Own(RawSpan),
}

#[derive(Debug, Clone)]
struct RawVisit {
    ssn: Option<&'static str>,
    provider: &'static str,
    date_slot: u8,
    sch: RawSpan,
    act: RawActual,
    call_out: Option<&'static str>,
    call_in: Option<&'static str>,
    address: (Option<f64>, Option<f64>),
    zip: Option<&'static str>,
    states: [Option<&'static str>; 3],
    is_missed: Option<bool>,
    caregiver: Option<&'static str>,
}

fn raw_time() -> impl Strategy<Value = RawTime> {
    let minute = prop_oneof![
        8 => select(vec![420i64, 480, 510, 540, 570, 600, 630, 660, 720]),
        1 => select(vec![0i64, 1439, 1440, 1500, -30]),
        1 => -120i64..2000,
    ];
    let second = prop_oneof![10 => Just(0u32), 1 => select(vec![1u32, 30, 59]), 1 => 0u32..60];
    let micro = prop_oneof![20 => Just(0u32), 1 => select(vec![1u32, 500_000, 999_999])];
    (minute, second, micro)
}

fn raw_span() -> impl Strategy<Value = RawSpan> {
    let end = prop_oneof![
        6 => select(vec![0i64, 30, 60, 90, 120]).prop_map(RawEnd::After),
        1 => select(vec![900i64, 1440, -30, -120]).prop_map(RawEnd::After),
        2 => raw_time().prop_map(RawEnd::At),
    ];
    // A few whole-hour spans recur often so that equal and touching intervals are common.
    let common = select(vec![
        (540i64, 120i64),
        (540, 60),
        (600, 60),
        (660, 60),
        (480, 60),
    ])
    .prop_map(|(start, len)| RawSpan::Both((start, 0, 0), RawEnd::After(len)));
    prop_oneof![
        6 => common,
        8 => (raw_time(), end).prop_map(|(s, e)| RawSpan::Both(s, e)),
        2 => Just(RawSpan::Neither),
        1 => raw_time().prop_map(RawSpan::StartOnly),
        1 => raw_time().prop_map(RawSpan::EndOnly),
    ]
}

fn raw_actual() -> impl Strategy<Value = RawActual> {
    prop_oneof![
        3 => Just(RawActual::Unstarted),
        2 => Just(RawActual::AsScheduled),
        4 => raw_span().prop_map(RawActual::Own),
    ]
}

fn opt_of<T: Clone + std::fmt::Debug + 'static>(
    pool: &'static [T],
    none_weight: u32,
) -> impl Strategy<Value = Option<T>> {
    prop_oneof![none_weight => Just(None), 3 => select(pool).prop_map(Some)]
}

fn raw_visit() -> impl Strategy<Value = RawVisit> {
    let ssn = prop_oneof![
        8 => select(SSNS_COMMON).prop_map(Some),
        1 => select(SSNS_ODD),
    ];
    let date_slot = prop_oneof![8 => Just(0u8), 2 => Just(1u8), 2 => 2u8..6];
    let address = prop_oneof![4 => Just((None, None)), 1 => select(ADDRESSES)];
    let states = (select(STATES), select(STATES), select(STATES)).prop_map(|(a, b, c)| [a, b, c]);
    let extra = (
        proptest::option::of(any::<bool>()),
        proptest::option::of(select(vec!["cg-1", "cg-2"])),
    );
    (
        ssn,
        select(PROVIDERS),
        date_slot,
        raw_span(),
        raw_actual(),
        opt_of(GPS, 2),
        opt_of(GPS, 2),
        address,
        select(ZIPS),
        states,
        extra,
    )
        .prop_map(
            |(
                ssn,
                provider,
                date_slot,
                sch,
                act,
                call_out,
                call_in,
                address,
                zip,
                states,
                extra,
            )| {
                RawVisit {
                    ssn,
                    provider,
                    date_slot,
                    sch,
                    act,
                    call_out,
                    call_in,
                    address,
                    zip,
                    states,
                    is_missed: extra.0,
                    caregiver: extra.1,
                }
            },
        )
}

fn raw_band() -> impl Strategy<Value = SpeedBand> {
    let from = prop_oneof![3 => 0i64..30, 1 => Just(0i64)];
    let len = prop_oneof![4 => 0i64..25, 1 => Just(20_000i64)];
    (from, len, select(MPH)).prop_map(|(from, len, mph)| {
        SpeedBand::new(from, from + len, Decimal::parse_plain(mph).unwrap()).unwrap()
    })
}

fn bands() -> impl Strategy<Value = Vec<SpeedBand>> {
    prop_oneof![
        3 => Just(SpeedBands::defaults().as_slice().to_vec()),
        1 => Just(Vec::new()),
        4 => proptest::collection::vec(raw_band(), 1..5),
    ]
}

fn extra_distance_per() -> impl Strategy<Value = f64> {
    prop_oneof![
        2 => select(vec![1.0f64, 1.1, 0.5, 2.0, 1.25]),
        2 => (50u32..=200).prop_map(|k| k as f64 / 100.0),
        1 => 0.5f64..=2.0,
    ]
}

fn direction() -> impl Strategy<Value = Direction> {
    select(vec![Direction::OneWay, Direction::BothWays])
}

fn random_options() -> impl Strategy<Value = RuleOptions> {
    let any_switches = (
        direction(),
        select(vec![
            DistanceGap::AbsEndToStart,
            DistanceGap::PositiveEitherWay,
        ]),
        select(vec![
            MinuteDiff::AbsEndToStart,
            MinuteDiff::MinPositiveOrZero,
        ]),
        select(vec![EtaMiles::TwoDecimals, EtaMiles::WholeMiles]),
        select(vec![ZipCheck::Off, ZipCheck::ProviderPatientZip]),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(d, g, m, e, z, cs, nm, so)| RuleOptions {
            rules_3_6_direction: d,
            distance_gap: g,
            minute_diff: m,
            eta_miles: e,
            zip_check: z,
            cross_state_filter: cs,
            insert_requires_not_missed: nm,
            insert_schedule_only_from_as_of: so,
        });
    prop_oneof![
        1 => Just(RuleOptions::profile(Profile::Current)),
        1 => Just(RuleOptions::profile(Profile::Classic)),
        3 => any_switches,
    ]
}

/// Options under which every rule, metric and filter is symmetric in V1/V2.
fn symmetric_options() -> impl Strategy<Value = RuleOptions> {
    random_options().prop_map(|mut o| {
        o.rules_3_6_direction = Direction::BothWays;
        o.distance_gap = DistanceGap::PositiveEitherWay;
        o.minute_diff = MinuteDiff::MinPositiveOrZero;
        o
    })
}

#[derive(Debug, Clone)]
struct RawExclusions {
    providers: Vec<&'static str>,
    ssns: Vec<&'static str>,
    placeholders: u8,
}

fn raw_exclusions() -> impl Strategy<Value = RawExclusions> {
    let providers = prop_oneof![
        4 => Just(Vec::new()),
        1 => proptest::collection::vec(select(vec!["prov-c", "PROV-A", "prov-z"]), 1..3),
    ];
    let ssns = prop_oneof![
        4 => Just(Vec::new()),
        1 => proptest::collection::vec(
            select(vec![
                "100000003",
                " 100000002 ",
                "100000001",
                "",
                "   ",
                "100-00-0001",
            ]),
            1..3
        ),
    ];
    let placeholders = prop_oneof![6 => Just(0u8), 1 => 1u8..5];
    (providers, ssns, placeholders).prop_map(|(providers, ssns, placeholders)| RawExclusions {
        providers,
        ssns,
        placeholders,
    })
}

#[derive(Debug, Clone)]
struct RawCase {
    as_of: &'static str,
    window: Option<(u32, u32)>,
    visits: Vec<RawVisit>,
    duplicates: Vec<Index>,
    conflicting_duplicate: Option<Index>,
    swaps: Vec<(Index, Index)>,
    exclusions: RawExclusions,
    options: RuleOptions,
    x: f64,
    metres_per_mile: f64,
    bands: Vec<SpeedBand>,
}

fn raw_case(options: impl Strategy<Value = RuleOptions>) -> impl Strategy<Value = RawCase> {
    let window = prop_oneof![3 => Just(None), 1 => (0u32..4, 0u32..60).prop_map(Some)];
    let conflicting = prop_oneof![30 => Just(None), 1 => any::<Index>().prop_map(Some)];
    (
        (select(AS_OF), window),
        proptest::collection::vec(raw_visit(), 0..40),
        proptest::collection::vec(any::<Index>(), 0..4),
        conflicting,
        proptest::collection::vec(any::<(Index, Index)>(), 0..20),
        raw_exclusions(),
        options,
        extra_distance_per(),
        select(vec![1609.0f64, 1609.344]),
        bands(),
    )
        .prop_map(
            |(
                (as_of, window),
                visits,
                duplicates,
                conflicting_duplicate,
                swaps,
                exclusions,
                options,
                x,
                metres_per_mile,
                bands,
            )| RawCase {
                as_of,
                window,
                visits,
                duplicates,
                conflicting_duplicate,
                swaps,
                exclusions,
                options,
                x,
                metres_per_mile,
                bands,
            },
        )
}

// ---------------------------------------------------------------------------------------------
// Building the real inputs

struct Case {
    visits: Vec<Visit>,
    cfg: DetectConfig,
}

fn at(day: NaiveDate, (minutes, seconds, micros): RawTime) -> NaiveDateTime {
    day.and_hms_opt(0, 0, 0).unwrap()
        + Duration::minutes(minutes)
        + Duration::seconds(seconds as i64)
        + Duration::microseconds(micros as i64)
}

fn span(day: NaiveDate, s: &RawSpan) -> (Option<NaiveDateTime>, Option<NaiveDateTime>) {
    match s {
        RawSpan::Neither => (None, None),
        RawSpan::StartOnly(t) => (Some(at(day, *t)), None),
        RawSpan::EndOnly(t) => (None, Some(at(day, *t))),
        RawSpan::Both(t, RawEnd::After(m)) => {
            let start = at(day, *t);
            (Some(start), Some(start + Duration::minutes(*m)))
        }
        RawSpan::Both(t, RawEnd::At(e)) => (Some(at(day, *t)), Some(at(day, *e))),
    }
}

fn build(raw: &RawCase) -> Case {
    let as_of: NaiveDate = raw.as_of.parse().unwrap();
    let mut cfg = DetectConfig::new(as_of).unwrap();
    if let Some((years, days)) = raw.window {
        cfg.window = Window::around(as_of, years, days).unwrap();
    }
    let dense = as_of - Days::new(5);
    let slot_date = |slot: u8| match slot {
        0 => dense,
        1 => as_of,
        2 => cfg.window.from - Days::new(1),
        3 => cfg.window.from,
        4 => cfg.window.to,
        _ => cfg.window.to + Days::new(1),
    };

    let mut visits: Vec<Visit> = raw
        .visits
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let day = slot_date(r.date_slot);
            let (sch_start, sch_end) = span(day, &r.sch);
            let (visit_start, visit_end) = match &r.act {
                RawActual::Unstarted => (None, None),
                RawActual::AsScheduled => (sch_start, sch_end),
                RawActual::Own(s) => span(day, s),
            };
            Visit {
                visit_id: format!("v{i:02}"),
                app_visit_id: Some(i as i64),
                ssn: r.ssn.map(String::from),
                provider_id: r.provider.to_string(),
                visit_date: day,
                sch_start,
                sch_end,
                visit_start,
                visit_end,
                call_out_gps: r.call_out.map(String::from),
                call_in_gps: r.call_in.map(String::from),
                address_lat: r.address.0,
                address_lon: r.address.1,
                p_zip: r.zip.map(String::from),
                p_state: r.states[0].map(String::from),
                pa_state: r.states[1].map(String::from),
                provider_state: r.states[2].map(String::from),
                is_missed: r.is_missed,
                updated_at: None,
                caregiver_id: r.caregiver.map(String::from),
            }
        })
        .collect();
    if !visits.is_empty() {
        for d in &raw.duplicates {
            let copy = d.get(&visits).clone();
            visits.push(copy);
        }
        if let Some(d) = &raw.conflicting_duplicate {
            let mut copy = d.get(&visits).clone();
            copy.is_missed = Some(!copy.is_missed.unwrap_or(false));
            visits.push(copy);
        }
        for (a, b) in &raw.swaps {
            let (a, b) = (a.index(visits.len()), b.index(visits.len()));
            visits.swap(a, b);
        }
    }

    let mut ex = Exclusions {
        providers: raw
            .exclusions
            .providers
            .iter()
            .map(|p| p.to_string())
            .collect(),
        placeholder_ssns: match raw.exclusions.placeholders {
            0 => Exclusions::default().placeholder_ssns,
            1 => Default::default(),
            2 => ["100000002".to_string()].into_iter().collect(),
            3 => ["000000000".to_string()].into_iter().collect(),
            _ => ["abc".to_string(), "".to_string()].into_iter().collect(),
        },
        ..Exclusions::default()
    };
    ex.add_ssns(raw.exclusions.ssns.iter().copied());
    cfg.exclusions = ex;
    cfg.options = raw.options;
    cfg.geo = GeoParams::default()
        .with_metres_per_mile(raw.metres_per_mile)
        .unwrap()
        .with_extra_distance_per(raw.x)
        .unwrap();
    cfg.bands = SpeedBands::new(raw.bands.clone());
    Case { visits, cfg }
}

// ---------------------------------------------------------------------------------------------
// Checks

type Row = (usize, usize, [bool; 7], Metrics);

fn rows(pairs: &[DetectedPair]) -> Vec<Row> {
    let mut rows: Vec<Row> = pairs
        .iter()
        .map(|p| (p.v1, p.v2, p.flags.to_array(), p.metrics))
        .collect();
    rows.sort_by_key(|r| (r.0, r.1));
    rows
}

fn describe_row(visits: &[Visit], r: &Row) -> String {
    let flags: String = r.2.iter().map(|f| if *f { 'Y' } else { 'N' }).collect();
    format!(
        "{} -> {} {flags} {:?}",
        visits[r.0].visit_id, visits[r.1].visit_id, r.3
    )
}

/// The rows present on one side only, for a readable failure message.
fn diff(visits: &[Visit], fast: &[Row], reference: &[Row]) -> String {
    let mut out = String::new();
    for r in fast.iter().filter(|r| !reference.contains(r)) {
        out += &format!("  fast only:      {}\n", describe_row(visits, r));
    }
    for r in reference.iter().filter(|r| !fast.contains(r)) {
        out += &format!("  reference only: {}\n", describe_row(visits, r));
    }
    out
}

/// Runs both implementations and returns the fast path's rows.
fn check_against_reference(case: &Case) -> Result<Vec<Row>, TestCaseError> {
    let mut fast = Vec::new();
    let report = detect(&case.visits, &case.cfg, &mut fast);
    let reference = reference::detect(&case.visits, &case.cfg);
    let (report, reference) = match (report, reference) {
        (Ok(report), Ok(reference)) => (report, reference),
        (Err(DetectError::DuplicateIds(_)), Err(_)) => return Ok(Vec::new()),
        (fast, reference) => {
            return Err(TestCaseError::fail(format!(
                "fast {:?} vs reference {:?}",
                fast.map(|_| ()),
                reference.map(|_| ())
            )))
        }
    };
    let fast = rows(&fast);
    prop_assert!(
        fast == reference.pairs,
        "detected pairs differ:\n{}",
        diff(&case.visits, &fast, &reference.pairs)
    );
    let stats = report.admit_stats();
    prop_assert_eq!(report.pairs.candidates, reference.candidates, "candidates");
    prop_assert_eq!(
        report.pairs.pairs_dropped_cross_state,
        reference.dropped_cross_state,
        "cross-state dropped"
    );
    prop_assert_eq!(report.pairs.pairs_detected, reference.pairs.len() as u64);
    prop_assert_eq!(stats.visits_read, case.visits.len() as u64);
    prop_assert_eq!(stats.visits_admitted, reference.admitted, "admitted");
    prop_assert_eq!(stats.dropped, reference.dropped, "drop reasons");
    // Every warning kind with its count and its first distinct examples (visit ids, in input
    // order).
    let w = report.warnings();
    for kind in [
        WarningKind::DuplicateVisit,
        WarningKind::GpsUnparsable,
        WarningKind::GpsOutOfRange,
        WarningKind::AddressOutOfRange,
        WarningKind::MphEmpty,
        WarningKind::MphBandsOverlap,
    ] {
        prop_assert_eq!(
            w.count(kind),
            reference.warning_count(kind.as_str()),
            "{}",
            kind
        );
    }
    for (kind, count, examples) in w.iter() {
        prop_assert_eq!(count, reference.warning_count(kind), "{}", kind);
        // A sequential pass over the reference's warnings: the first distinct ids, in order.
        let mut first: Vec<String> = Vec::new();
        for id in reference.warning_ids(kind) {
            if first.len() < WARNING_EXAMPLES && !first.contains(&id) {
                first.push(id);
            }
        }
        prop_assert_eq!(examples, &first[..], "examples of {}", kind);
    }
    Ok(fast)
}

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        // Failures found here are turned into named regression tests below instead.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config(512))]

    /// (a) + (b): same pairs, flags, metrics and counters as the reference, for every switch.
    #[test]
    fn fast_path_equals_reference(raw in raw_case(random_options())) {
        let case = build(&raw);
        check_against_reference(&case)?;
    }
}

proptest! {
    #![proptest_config(config(256))]

    /// The compact table of file mode is only another layout: detection over it gives the
    /// pairs, admission and counters of detection over the same visits as `Vec<Visit>` (which
    /// the property above checks against the reference).
    #[test]
    fn compact_table_detects_as_owned_visits(raw in raw_case(random_options())) {
        let case = build(&raw);
        let table = conflict_core::VisitTable::from_visits(&case.visits).unwrap();
        prop_assert_eq!(table.to_visits(), case.visits.clone());
        let (mut owned, mut compact) = (Vec::new(), Vec::new());
        let a = detect(&case.visits, &case.cfg, &mut owned);
        let b = detect(&table, &case.cfg, &mut compact);
        match (a, b) {
            (Ok(a), Ok(b)) => {
                prop_assert_eq!(rows(&owned), rows(&compact));
                prop_assert_eq!(&a.admission.admitted, &b.admission.admitted);
                prop_assert_eq!(a.admit_stats(), b.admit_stats());
                prop_assert_eq!(&a.pairs, &b.pairs);
            }
            (Err(DetectError::DuplicateIds(a)), Err(DetectError::DuplicateIds(b))) => {
                prop_assert_eq!(a, b);
            }
            (a, b) => {
                return Err(TestCaseError::fail(format!(
                    "owned {:?} vs compact {:?}",
                    a.map(|_| ()),
                    b.map(|_| ())
                )))
            }
        }
    }
}

proptest! {
    #![proptest_config(config(256))]

    /// (c): with symmetric switches the detected set is closed under swapping V1 and V2.
    #[test]
    fn symmetric_options_give_mirrored_rows(raw in raw_case(symmetric_options())) {
        let case = build(&raw);
        let fast = check_against_reference(&case)?;
        let by_key: HashMap<(usize, usize), ([bool; 7], Metrics)> =
            fast.iter().map(|r| ((r.0, r.1), (r.2, r.3))).collect();
        for r in &fast {
            let mirror = by_key.get(&(r.1, r.0));
            prop_assert_eq!(
                mirror,
                Some(&(r.2, r.3)),
                "no identical mirror of {}",
                describe_row(&case.visits, r)
            );
        }
    }

    /// The window of docs/rules.md §3, computed naively: same month and day, 29 Feb → 28 Feb.
    #[test]
    fn window_matches_naive_year_subtraction(
        days in 0u64..40_000, years in 0u32..5, forward in 0u32..100,
    ) {
        let as_of = NaiveDate::from_ymd_opt(1990, 1, 1).unwrap() + Days::new(days);
        let w = Window::around(as_of, years, forward).unwrap();
        let (y, m, d) = (as_of.year() - years as i32, as_of.month(), as_of.day());
        let from = NaiveDate::from_ymd_opt(y, m, d)
            .unwrap_or_else(|| NaiveDate::from_ymd_opt(y, m, d - 1).unwrap());
        prop_assert_eq!(w.from, from);
        prop_assert_eq!(w.to, as_of + Duration::days(forward as i64));
    }

    /// Band lookup order: by From, then To, then input order (the reference relies on
    /// `as_slice` keeping input order among equal bounds).
    #[test]
    fn bands_keep_input_order_among_equal_bounds(
        raw in proptest::collection::vec(raw_band(), 0..8),
    ) {
        let mut want: Vec<(usize, SpeedBand)> = raw.iter().copied().enumerate().collect();
        want.sort_by(|(i, a), (j, b)| (a.from, a.to, i).cmp(&(b.from, b.to, j)));
        let want: Vec<SpeedBand> = want.into_iter().map(|(_, b)| b).collect();
        let got = SpeedBands::new(raw);
        prop_assert_eq!(got.as_slice(), &want[..]);
    }
}

// ---------------------------------------------------------------------------------------------
// Fixed cases

#[test]
fn reference_agrees_on_a_dense_hand_made_group() {
    // Every visit pairs with every other: one SSN, one date, four providers.
    let day: NaiveDate = "2025-06-10".parse().unwrap();
    let t = |h: u32, m: u32| day.and_hms_opt(h, m, 0).unwrap();
    let mut visits = Vec::new();
    for (k, (prov, s, e, act)) in [
        ("prov-a", t(9, 0), t(11, 0), false),
        ("prov-b", t(9, 0), t(11, 0), true),
        ("prov-c", t(10, 59), t(12, 0), false),
        ("prov-d", t(11, 0), t(13, 0), true),
    ]
    .into_iter()
    .enumerate()
    {
        let mut v = Visit::new(format!("x{k}"), "123456789", prov, day);
        v.sch_start = Some(s);
        v.sch_end = Some(e);
        if act {
            v.visit_start = Some(s);
            v.visit_end = Some(e);
            v.call_out_gps = Some(format!("40.{k}5,-73.99"));
        }
        visits.push(v);
    }
    for profile in [Profile::Current, Profile::Classic] {
        let mut cfg = DetectConfig::new("2025-06-15".parse().unwrap()).unwrap();
        cfg.options = RuleOptions::profile(profile);
        let case = Case {
            visits: visits.clone(),
            cfg,
        };
        let fast = check_against_reference(&case).unwrap();
        assert!(!fast.is_empty());
    }
}

/// Guards against vacuous properties: the generator must reach every rule, metric branch,
/// filter, drop reason and warning kind within the number of cases the properties run.
#[test]
fn generator_reaches_every_branch() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let strategy = raw_case(random_options());
    let mut hits: std::collections::BTreeMap<&str, u64> = Default::default();
    let mut hit = |name: &'static str, cond: bool| *hits.entry(name).or_default() += cond as u64;
    for _ in 0..512 {
        let raw = strategy.new_tree(&mut runner).unwrap().current();
        let case = build(&raw);
        let Ok(out) = reference::detect(&case.visits, &case.cfg) else {
            hit("duplicate id error", true);
            continue;
        };
        hit("cross-state dropped", out.dropped_cross_state > 0);
        for (k, name) in [
            "outside_window",
            "blank_ssn",
            "excluded_provider",
            "excluded_ssn",
            "placeholder_ssn",
        ]
        .into_iter()
        .enumerate()
        {
            hit(name, out.dropped[k] > 0);
        }
        for kind in [
            "duplicate_visit",
            "gps_unparsable",
            "gps_out_of_range",
            "address_out_of_range",
            "mph_empty",
            "mph_bands_overlap",
        ] {
            hit(kind, out.warning_count(kind) > 0);
        }
        let both = case.cfg.options.rules_3_6_direction == Direction::BothWays;
        for (v1, _, flags, m) in &out.pairs {
            let completed1 = case.visits[*v1].visit_start.is_some();
            for (k, name) in [
                "rule 1", "rule 2", "rule 3", "rule 4", "rule 5", "rule 6", "rule 7",
            ]
            .into_iter()
            .enumerate()
            {
                hit(name, flags[k]);
            }
            hit("rule 3 reverse direction", both && flags[2] && completed1);
            hit("rule 6 reverse direction", both && flags[5] && completed1);
            hit("D without band", m.distance_h.is_some() && m.mph.is_none());
            hit("mph 0", m.mph.is_some_and(|s| s.is_zero()));
            hit(
                "fractional mph with ETA",
                m.mph.is_some_and(|s| s.scale() > 0) && m.eta_h.is_some(),
            );
            hit("D = 0", m.distance_h == Some(0));
            hit("D > 100 miles", m.distance_h.is_some_and(|d| d > 10_000));
            hit("MD NULL", m.minute_diff.is_none());
            hit("MD 0", m.minute_diff == Some(0));
            hit(
                "ETA but no DistanceFlag",
                m.eta_h.is_some() && !flags[6] && m.minute_diff.is_some(),
            );
        }
    }
    eprintln!("{hits:#?}");
    let missing: Vec<_> = hits.iter().filter(|(_, n)| **n == 0).collect();
    assert!(missing.is_empty(), "never reached: {missing:?}");
}

/// The reference takes parameters from the config as plain data, so the defaults themselves
/// are checked here against docs/rules.md §3, §8.1, §12 and docs/file-formats.md §4.
#[test]
fn config_defaults_are_the_spec_defaults() {
    let cfg = DetectConfig::new("2025-06-15".parse().unwrap()).unwrap();
    assert_eq!(cfg.options, RuleOptions::profile(Profile::Current));
    let classic = RuleOptions::profile(Profile::Classic);
    assert_eq!(
        (
            classic.rules_3_6_direction,
            classic.distance_gap,
            classic.minute_diff,
            classic.eta_miles
        ),
        (
            Direction::BothWays,
            DistanceGap::PositiveEitherWay,
            MinuteDiff::MinPositiveOrZero,
            EtaMiles::WholeMiles
        )
    );
    for o in [cfg.options, classic] {
        assert_eq!(o.zip_check, ZipCheck::Off);
        assert!(o.cross_state_filter);
        assert!(!o.insert_requires_not_missed && !o.insert_schedule_only_from_as_of);
    }
    let current = cfg.options;
    assert_eq!(
        (
            current.rules_3_6_direction,
            current.distance_gap,
            current.minute_diff,
            current.eta_miles
        ),
        (
            Direction::OneWay,
            DistanceGap::AbsEndToStart,
            MinuteDiff::AbsEndToStart,
            EtaMiles::TwoDecimals
        )
    );
    assert_eq!(cfg.geo.earth_radius_m(), 6_371_008.8);
    assert_eq!(cfg.geo.metres_per_mile(), 1609.0);
    assert_eq!(cfg.geo.extra_distance_per(), 1.0);
    let d = |s: &str| s.parse::<NaiveDate>().unwrap();
    assert_eq!(
        (cfg.window.from, cfg.window.to),
        (d("2023-06-15"), d("2025-07-30"))
    );
    assert!(cfg.exclusions.providers.is_empty() && cfg.exclusions.ssns.is_empty());
    let mut placeholders: Vec<&str> = cfg
        .exclusions
        .placeholder_ssns
        .iter()
        .map(String::as_str)
        .collect();
    placeholders.sort_unstable();
    assert_eq!(placeholders, ["000000000", "999999999"]);
    let bands: Vec<(i64, i64, String)> = cfg
        .bands
        .as_slice()
        .iter()
        .map(|b| (b.from, b.to, b.mph.to_string()))
        .collect();
    let want: Vec<(i64, i64, String)> = [
        (0, 2, "10"),
        (3, 10, "25"),
        (11, 25, "35"),
        (26, 100, "50"),
        (101, 10_000, "60"),
    ]
    .into_iter()
    .map(|(f, t, m)| (f, t, m.to_string()))
    .collect();
    assert_eq!(bands, want);
}

/// One input larger than the fast path's parallel admission chunks (8192 visits), so chunk
/// boundaries, merged counters and merged warnings are compared with the reference too.
/// SSNs are spread so that groups stay small, and most visits far from the chunk boundary are
/// put outside the window, so that the O(n²) reference stays quick.
#[test]
fn large_input_matches_reference() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let mut raw = raw_case(random_options())
        .new_tree(&mut runner)
        .unwrap()
        .current();
    let pool = proptest::collection::vec(raw_visit(), 500)
        .new_tree(&mut runner)
        .unwrap()
        .current();
    raw.visits = pool.iter().cycle().take(9_000).cloned().collect();
    raw.duplicates = (0..50)
        .map(|_| any::<Index>().new_tree(&mut runner).unwrap().current())
        .collect();
    raw.conflicting_duplicate = None;
    let mut case = build(&raw);
    let before_window = case.cfg.window.from - Days::new(1);
    for (i, v) in case.visits.iter_mut().enumerate() {
        if !(7_700..8_700).contains(&i) && i % 20 != 0 {
            v.visit_date = before_window;
        }
        if v.ssn.as_deref().is_some_and(|s| s.contains("10000000")) {
            v.ssn = Some(format!(" 2{:08} ", i % 300));
        }
    }
    // Duplicates must stay identical to their originals after the SSN change.
    let mut first: HashMap<String, Visit> = HashMap::new();
    for v in case.visits.iter_mut() {
        match first.get(&v.visit_id) {
            Some(f) => *v = f.clone(),
            None => {
                first.insert(v.visit_id.clone(), v.clone());
            }
        }
    }
    let fast = check_against_reference(&case).unwrap();
    assert!(fast.len() > 100, "{} pairs", fast.len());
}
