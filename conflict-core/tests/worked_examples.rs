//! The worked examples of docs/rules.md §14 as unit tests against `detect`.
//!
//! The visits are built in Rust from the table of §14.1 and the expected rows are the tables of
//! §14.2 and §14.3, transcribed below; the CSV vectors are deliberately not read here (the CLI
//! tests compare those byte for byte).

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
use conflict_core::{
    detect, DetectConfig, DetectReport, DetectedPair, DropReason, GeoParams, LocationSource,
    Profile, RuleOptions, Visit, WarningKind,
};

// ---------------------------------------------------------------------------------------------
// Building the visits of §14.1

const AS_OF: &str = "2025-06-15";
const VISIT_DATE: &str = "2025-06-10";

const P0: &str = "40.750000,-73.990000";
const P2_5: &str = "40.786200,-73.990000";
const P5: &str = "40.822400,-73.990000";
const P10: &str = "40.894700,-73.990000";
const P12_4: &str = "40.929400,-73.990000";
const P15: &str = "40.967000,-73.990000";
const P20: &str = "41.040000,-73.990000";

fn date(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

/// A visit under construction. Times are "HH:MM" or "HH:MM:SS" on the visit date.
struct V(Visit);

/// Visit `id` of provider `prov-<provider>` with the given raw SSN on 2025-06-10.
fn visit(id: &str, provider: char, ssn: &str) -> V {
    V(Visit::new(
        id,
        ssn,
        format!("prov-{provider}"),
        date(VISIT_DATE),
    ))
}

impl V {
    fn at(&self, hhmm: &str) -> NaiveDateTime {
        let fmt = if hhmm.len() == 5 { "%H:%M" } else { "%H:%M:%S" };
        let t = NaiveTime::parse_from_str(hhmm, fmt).unwrap();
        self.0.visit_date.and_time(t)
    }

    fn on(mut self, d: &str) -> Self {
        self.0.visit_date = date(d);
        self
    }

    fn sch(mut self, start: &str, end: &str) -> Self {
        self.0.sch_start = Some(self.at(start));
        self.0.sch_end = Some(self.at(end));
        self
    }

    fn act(mut self, start: &str, end: &str) -> Self {
        self.0.visit_start = Some(self.at(start));
        self.0.visit_end = Some(self.at(end));
        self
    }

    /// Completed visit whose schedule equals its actual interval (E07–E17, E21).
    fn worked(self, start: &str, end: &str) -> Self {
        self.sch(start, end).act(start, end)
    }

    fn act_start(mut self, start: &str) -> Self {
        self.0.visit_start = Some(self.at(start));
        self
    }

    fn out(mut self, gps: &str) -> Self {
        self.0.call_out_gps = Some(gps.into());
        self
    }

    fn call_in(mut self, gps: &str) -> Self {
        self.0.call_in_gps = Some(gps.into());
        self
    }

    fn addr(mut self, lat: f64, lon: f64) -> Self {
        self.0.address_lat = Some(lat);
        self.0.address_lon = Some(lon);
        self
    }

    fn p_state(mut self, s: &str) -> Self {
        self.0.p_state = Some(s.into());
        self
    }

    fn pa_state(mut self, s: &str) -> Self {
        self.0.pa_state = Some(s.into());
        self
    }

    fn provider_state(mut self, s: &str) -> Self {
        self.0.provider_state = Some(s.into());
        self
    }

    fn zip(mut self, z: &str) -> Self {
        self.0.p_zip = Some(z.into());
        self
    }
}

/// SSN `1000000nn` of example `n`. E20 already uses `…20` and `…21` (its second pair), so E21
/// takes `…22`; any SSN of its own works, it only must not join E20's visits.
fn ssn_of(n: u32) -> String {
    format!("1000000{:02}", if n == 21 { 22 } else { n })
}

/// Two completed visits a (prov-a, P0) and b (prov-b, `b_at`) of example `n`.
fn travel(n: u32, a: (&str, &str), b: (&str, &str), b_at: &str) -> Vec<V> {
    let ssn = ssn_of(n);
    vec![
        visit(&format!("e{n:02}-a"), 'a', &ssn)
            .worked(a.0, a.1)
            .out(P0),
        visit(&format!("e{n:02}-b"), 'b', &ssn)
            .worked(b.0, b.1)
            .out(b_at),
    ]
}

/// All 55 visits of §14.1.
fn examples() -> Vec<Visit> {
    // E01: rule 1; a and c share a provider and never pair.
    let mut v: Vec<V> = vec![
        visit("e01-a", 'a', "100000001").sch("09:00", "11:00"),
        visit("e01-b", 'b', "100000001").sch("09:00", "11:00"),
        visit("e01-c", 'a', "100000001").sch("09:00", "11:00"),
    ];
    // E02: rule 4, overlap by one minute.
    v.push(visit("e02-a", 'a', "100000002").sch("09:00", "11:00"));
    v.push(visit("e02-b", 'b', "100000002").sch("10:59", "12:00"));
    // E03: touching schedules.
    v.push(visit("e03-a", 'a', "100000003").sch("09:00", "11:00"));
    v.push(visit("e03-b", 'b', "100000003").sch("11:00", "13:00"));
    // E04: rule 3, schedule-only vs completed.
    v.push(visit("e04-a", 'a', "100000004").sch("09:00", "11:00"));
    v.push(
        visit("e04-b", 'b', "100000004")
            .sch("08:30", "10:30")
            .act("09:00", "11:00"),
    );
    // E05: rule 6.
    v.push(visit("e05-a", 'a', "100000005").sch("09:00", "11:00"));
    v.push(
        visit("e05-b", 'b', "100000005")
            .sch("10:00", "12:00")
            .act("10:00", "12:00"),
    );
    // E06: one actual time missing.
    v.push(
        visit("e06-a", 'a', "100000006")
            .sch("09:00", "11:00")
            .act_start("09:05"),
    );
    v.push(visit("e06-b", 'b', "100000006").sch("09:00", "11:00"));
    // E07: rule 2, D = 0.00.
    v.push(
        visit("e07-a", 'a', "100000007")
            .worked("09:00", "11:00")
            .out(P0),
    );
    v.push(
        visit("e07-b", 'b', "100000007")
            .worked("09:00", "11:00")
            .out(P0),
    );
    // E08–E16: travel between two completed visits.
    v.extend(travel(8, ("08:00", "09:00"), ("09:20", "10:30"), P15));
    v.extend(travel(9, ("08:00", "09:00"), ("09:30", "10:30"), P15));
    v.extend(travel(10, ("09:00", "10:00"), ("09:30", "10:30"), P2_5));
    v.extend(travel(11, ("08:00", "09:00"), ("09:23", "10:00"), P10));
    v.extend(travel(12, ("08:00", "09:00"), ("09:24", "10:00"), P10));
    v.extend(travel(13, ("08:00", "09:00"), ("09:00", "10:00"), P5));
    v.extend(travel(14, ("08:00", "09:30"), ("09:00", "10:00"), P20));
    v.extend(travel(15, ("08:00", "09:00"), ("09:27", "10:30"), P15));
    v.extend(travel(16, ("08:00", "09:00"), ("09:21", "10:00"), P12_4));
    // E17: GPS parsing and fall-through.
    v.push(
        visit("e17-a", 'a', "100000017")
            .worked("08:00", "09:00")
            .out("\"40.750000\",\"-73.990000\""),
    );
    v.push(
        visit("e17-b", 'b', "100000017")
            .worked("09:05", "10:00")
            .out(",")
            .call_in("  40.822400 , -73.990000 "),
    );
    v.push(
        visit("e17-c", 'c', "100000017")
            .worked("08:30", "09:30")
            .out("N/A")
            .call_in("91.000000,-73.990000"),
    );
    v.push(
        visit("e17-d", 'd', "100000017")
            .worked("07:00", "07:50")
            .out("40.75,-73.99,0")
            .addr(40.967, -73.99),
    );
    // E18: trimming; blank SSN never pairs.
    v.push(visit("e18-a", 'a', " 100000018 ").sch("09:00", "11:00"));
    v.push(visit("e18-b", 'b', "100000018").sch("09:00", "11:00"));
    v.push(visit("e18-c", 'c', "   ").sch("09:00", "11:00"));
    v.push(visit("e18-d", 'd', "").sch("09:00", "11:00"));
    // E19: window ends (as_of 2025-06-15: 2023-06-15 … 2025-07-30).
    for (ids, d) in [
        (("e19-a", "e19-b"), "2023-06-14"),
        (("e19-c", "e19-d"), "2023-06-15"),
        (("e19-e", "e19-f"), "2025-07-30"),
        (("e19-g", "e19-h"), "2025-07-31"),
    ] {
        v.push(visit(ids.0, 'a', "100000019").on(d).sch("09:00", "11:00"));
        v.push(visit(ids.1, 'b', "100000019").on(d).sch("09:00", "11:00"));
    }
    // E20: cross-state filter.
    v.push(
        visit("e20-a", 'a', "100000020")
            .sch("09:00", "11:00")
            .p_state("NJ"),
    );
    v.push(
        visit("e20-b", 'b', "100000020")
            .sch("09:00", "11:00")
            .p_state("NY"),
    );
    v.push(
        visit("e20-c", 'c', "100000021")
            .sch("09:00", "11:00")
            .p_state(" new york "),
    );
    v.push(
        visit("e20-d", 'd', "100000021")
            .sch("09:00", "11:00")
            .pa_state("NY")
            .provider_state("PA"),
    );
    // E21: DATEDIFF counts minute boundaries.
    v.extend(travel(
        21,
        ("08:00:00", "09:00:59"),
        ("09:12:00", "10:00:00"),
        P5,
    ));
    v.into_iter().map(|b| b.0).collect()
}

// ---------------------------------------------------------------------------------------------
// Expected rows of §14.2 and §14.3

/// §14.2 (X = 1.0): V1 → V2 | current flags | MD | ETA | classic flags | MD | ETA | D | mph.
/// `—` in a flags column: the row is not emitted in that profile.
const ROWS_X1: &str = "
e01-a → e01-b | YNNNNNN | NULL | NULL | YNNNNNN | 0 | NULL | NULL | NULL
e01-b → e01-a | YNNNNNN | NULL | NULL | YNNNNNN | 0 | NULL | NULL | NULL
e01-b → e01-c | YNNNNNN | NULL | NULL | YNNNNNN | 0 | NULL | NULL | NULL
e01-c → e01-b | YNNNNNN | NULL | NULL | YNNNNNN | 0 | NULL | NULL | NULL
e02-a → e02-b | NNNYNNN | NULL | NULL | NNNYNNN | 0 | NULL | NULL | NULL
e02-b → e02-a | NNNYNNN | NULL | NULL | NNNYNNN | 0 | NULL | NULL | NULL
e04-a → e04-b | NNYNNNN | NULL | NULL | NNYNNNN | 0 | NULL | NULL | NULL
e04-b → e04-a | — | | | NNYNNNN | 0 | NULL | NULL | NULL
e05-a → e05-b | NNNNNYN | NULL | NULL | NNNNNYN | 0 | NULL | NULL | NULL
e05-b → e05-a | — | | | NNNNNYN | 0 | NULL | NULL | NULL
e07-a → e07-b | NYNNNNN | 120 | 0.00 | NYNNNNN | 0 | 0.00 | 0.00 | 10
e07-b → e07-a | NYNNNNN | 120 | 0.00 | NYNNNNN | 0 | 0.00 | 0.00 | 10
e08-a → e08-b | NNNNNNY | 20 | 25.71 | NNNNNNY | 20 | 25.71 | 15.00 | 35
e08-b → e08-a | — | | | NNNNNNY | 20 | 25.71 | 15.00 | 35
e10-a → e10-b | NNNNYNN | 30 | NULL | NNNNYNN | 0 | NULL | 2.50 | NULL
e10-b → e10-a | NNNNYNN | 90 | NULL | NNNNYNN | 0 | NULL | 2.50 | NULL
e11-a → e11-b | NNNNNNY | 23 | 24.00 | NNNNNNY | 23 | 24.00 | 10.00 | 25
e11-b → e11-a | — | | | NNNNNNY | 23 | 24.00 | 10.00 | 25
e13-a → e13-b | NNNNNNY | 0 | 12.00 | — | | | 5.00 | 25
e14-a → e14-b | NNNNYNY | 30 | 34.35 | NNNNYNN | 0 | 34.29 | 20.04 | 35
e14-b → e14-a | NNNNYNN | 120 | 34.35 | NNNNYNN | 0 | 34.29 | 20.04 | 35
e16-a → e16-b | NNNNNNY | 21 | 21.26 | — | | | 12.40 | 35
e17-a → e17-b | NNNNNNY | 5 | 12.00 | NNNNNNY | 5 | 12.00 | 5.00 | 25
e17-a → e17-c | NNNNYNN | 30 | NULL | NNNNYNN | 0 | NULL | NULL | NULL
e17-a → e17-d | — | | | NNNNNNY | 10 | 25.71 | 15.00 | 35
e17-b → e17-a | — | | | NNNNNNY | 5 | 12.00 | 5.00 | 25
e17-b → e17-c | NNNNYNN | 90 | NULL | NNNNYNN | 0 | NULL | NULL | NULL
e17-c → e17-a | NNNNYNN | 90 | NULL | NNNNYNN | 0 | NULL | NULL | NULL
e17-c → e17-b | NNNNYNN | 25 | NULL | NNNNYNN | 0 | NULL | NULL | NULL
e17-d → e17-a | NNNNNNY | 10 | 25.71 | NNNNNNY | 10 | 25.71 | 15.00 | 35
e18-a → e18-b | YNNNNNN | NULL | NULL | YNNNNNN | 0 | NULL | NULL | NULL
e18-b → e18-a | YNNNNNN | NULL | NULL | YNNNNNN | 0 | NULL | NULL | NULL
e19-c → e19-d | YNNNNNN | NULL | NULL | YNNNNNN | 0 | NULL | NULL | NULL
e19-d → e19-c | YNNNNNN | NULL | NULL | YNNNNNN | 0 | NULL | NULL | NULL
e19-e → e19-f | YNNNNNN | NULL | NULL | YNNNNNN | 0 | NULL | NULL | NULL
e19-f → e19-e | YNNNNNN | NULL | NULL | YNNNNNN | 0 | NULL | NULL | NULL
e20-c → e20-d | YNNNNNN | NULL | NULL | YNNNNNN | 0 | NULL | NULL | NULL
e20-d → e20-c | YNNNNNN | NULL | NULL | YNNNNNN | 0 | NULL | NULL | NULL
";

/// §14.3 (X = 1.1): the rows whose D is not NULL (`e07-a ↔ e07-b (each)` written out); every
/// row with a NULL D is as in §14.2.
const ROWS_X1_1: &str = "
e07-a → e07-b | NYNNNNN | 120 | 0.00 | NYNNNNN | 0 | 0.00 | 0.00 | 10
e07-b → e07-a | NYNNNNN | 120 | 0.00 | NYNNNNN | 0 | 0.00 | 0.00 | 10
e08-a → e08-b | NNNNNNY | 20 | 28.29 | NNNNNNY | 20 | 27.43 | 16.50 | 35
e08-b → e08-a | — | | | NNNNNNY | 20 | 27.43 | 16.50 | 35
e10-a → e10-b | NNNNYNN | 30 | NULL | NNNNYNN | 0 | NULL | 2.75 | NULL
e10-b → e10-a | NNNNYNN | 90 | NULL | NNNNYNN | 0 | NULL | 2.75 | NULL
e13-a → e13-b | NNNNNNY | 0 | 13.20 | — | | | 5.50 | 25
e14-a → e14-b | NNNNYNY | 30 | 37.80 | NNNNYNN | 0 | 37.71 | 22.05 | 35
e14-b → e14-a | NNNNYNN | 120 | 37.80 | NNNNYNN | 0 | 37.71 | 22.05 | 35
e15-a → e15-b | NNNNNNY | 27 | 28.29 | NNNNNNY | 27 | 27.43 | 16.50 | 35
e15-b → e15-a | — | | | NNNNNNY | 27 | 27.43 | 16.50 | 35
e16-a → e16-b | NNNNNNY | 21 | 23.38 | NNNNNNY | 21 | 24.00 | 13.64 | 35
e16-b → e16-a | — | | | NNNNNNY | 21 | 24.00 | 13.64 | 35
e17-a → e17-b | NNNNNNY | 5 | 13.20 | NNNNNNY | 5 | 14.40 | 5.50 | 25
e17-a → e17-d | — | | | NNNNNNY | 10 | 27.43 | 16.50 | 35
e17-b → e17-a | — | | | NNNNNNY | 5 | 14.40 | 5.50 | 25
e17-d → e17-a | NNNNNNY | 10 | 28.29 | NNNNNNY | 10 | 27.43 | 16.50 | 35
e21-a → e21-b | NNNNNNY | 12 | 13.20 | NNNNNNY | 12 | 14.40 | 5.50 | 25
e21-b → e21-a | — | | | NNNNNNY | 12 | 14.40 | 5.50 | 25
";

/// One output row in the units of the tables: flags as `Y`/`N`, two-decimal texts.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Row {
    v1: String,
    v2: String,
    flags: String,
    md: Option<i64>,
    eta: Option<String>,
    d: Option<String>,
    mph: Option<String>,
}

fn null_or(s: &str) -> Option<String> {
    (s != "NULL").then(|| s.to_string())
}

/// Parses one of the tables above into the rows of `profile`.
fn parse_table(table: &str, profile: Profile) -> Vec<Row> {
    let mut rows = Vec::new();
    for line in table.lines().filter(|l| !l.trim().is_empty()) {
        let cols: Vec<&str> = line.split('|').map(str::trim).collect();
        assert_eq!(cols.len(), 9, "{line}");
        let (v1, v2) = cols[0].split_once(" → ").expect(line);
        let (flags, md, eta) = match profile {
            Profile::Current => (cols[1], cols[2], cols[3]),
            Profile::Classic => (cols[4], cols[5], cols[6]),
        };
        if flags == "—" {
            continue;
        }
        rows.push(Row {
            v1: v1.to_string(),
            v2: v2.to_string(),
            flags: flags.to_string(),
            md: null_or(md).map(|m| m.parse().unwrap()),
            eta: null_or(eta),
            d: null_or(cols[7]),
            mph: null_or(cols[8]),
        });
    }
    rows
}

/// The rows §14 expects for `profile` at X = `x` (1.0 or 1.1).
fn expected(profile: Profile, x: f64) -> Vec<Row> {
    let mut rows = parse_table(ROWS_X1, profile);
    if x != 1.0 {
        assert_eq!(x, 1.1);
        rows.retain(|r| r.d.is_none());
        rows.extend(parse_table(ROWS_X1_1, profile));
    }
    rows.sort();
    rows
}

// ---------------------------------------------------------------------------------------------
// Running detect

fn config(profile: Profile, x: f64) -> DetectConfig {
    let mut cfg = DetectConfig::new(date(AS_OF)).unwrap();
    cfg.options = RuleOptions::profile(profile);
    cfg.geo = GeoParams::default().with_extra_distance_per(x).unwrap();
    cfg
}

fn two_decimals(h: i64) -> String {
    assert!(h >= 0);
    format!("{}.{:02}", h / 100, h % 100)
}

fn run(visits: &[Visit], cfg: &DetectConfig) -> (Vec<Row>, DetectReport) {
    let mut pairs: Vec<DetectedPair> = Vec::new();
    let report = detect(visits, cfg, &mut pairs).unwrap();
    let mut rows: Vec<Row> = pairs
        .iter()
        .map(|p| Row {
            v1: visits[p.v1].visit_id.clone(),
            v2: visits[p.v2].visit_id.clone(),
            flags: p.flags.iter().map(|f| if f { 'Y' } else { 'N' }).collect(),
            md: p.metrics.minute_diff,
            eta: p.metrics.eta_h.map(two_decimals),
            d: p.metrics.distance_h.map(two_decimals),
            mph: p.metrics.mph.map(|m| m.to_string()),
        })
        .collect();
    rows.sort();
    (rows, report)
}

/// Compares row by row, naming every missing, unexpected or different row.
fn assert_rows(got: &[Row], want: &[Row], what: &str) {
    let key = |r: &Row| (r.v1.clone(), r.v2.clone());
    let mut problems = Vec::new();
    for w in want {
        match got.iter().find(|g| key(g) == key(w)) {
            None => problems.push(format!("missing   {w:?}")),
            Some(g) if g != w => problems.push(format!("different {g:?}\n   wanted {w:?}")),
            Some(_) => {}
        }
    }
    for g in got {
        if !want.iter().any(|w| key(w) == key(g)) {
            problems.push(format!("unexpected {g:?}"));
        }
    }
    assert!(problems.is_empty(), "{what}:\n{}", problems.join("\n"));
    assert_eq!(got.len(), want.len(), "{what}: row count");
}

const RUNS: [(Profile, f64); 4] = [
    (Profile::Current, 1.0),
    (Profile::Classic, 1.0),
    (Profile::Current, 1.1),
    (Profile::Classic, 1.1),
];

/// Runs one example on its own in all four configurations and checks its rows.
fn check_example(n: u32) {
    let prefix = format!("e{n:02}-");
    let visits: Vec<Visit> = examples()
        .into_iter()
        .filter(|v| v.visit_id.starts_with(&prefix))
        .collect();
    assert!(visits.len() >= 2, "{prefix}");
    for (profile, x) in RUNS {
        let (got, _) = run(&visits, &config(profile, x));
        let want: Vec<Row> = expected(profile, x)
            .into_iter()
            .filter(|r| r.v1.starts_with(&prefix))
            .collect();
        assert_rows(&got, &want, &format!("E{n:02} {profile} X={x}"));
    }
}

macro_rules! example_tests {
    ($($name:ident = $n:expr),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                check_example($n);
            }
        )*
    };
}

example_tests! {
    e01_same_schedule_and_same_provider = 1,
    e02_schedules_overlap_by_one_minute = 2,
    e03_touching_schedules = 3,
    e04_schedule_only_same_as_actual = 4,
    e05_schedule_over_actual = 5,
    e06_half_started_visit = 6,
    e07_same_actual_times = 7,
    e08_distance_gap_20 = 8,
    e09_distance_gap_30 = 9,
    e10_no_speed_band = 10,
    e11_band_boundary_inclusive = 11,
    e12_eta_equal_to_gap = 12,
    e13_gap_zero = 13,
    e14_negative_gap = 14,
    e15_sensitive_to_x = 15,
    e16_whole_mile_eta = 16,
    e17_gps_parsing = 17,
    e18_ssn_trimming = 18,
    e19_window_ends = 19,
    e20_cross_state = 20,
    e21_datediff_boundaries = 21,
}

// ---------------------------------------------------------------------------------------------
// The whole data set at once

#[test]
fn all_examples_row_by_row_and_totals() {
    let visits = examples();
    assert_eq!(visits.len(), 55);
    for ((profile, x), total) in RUNS.into_iter().zip([32, 36, 33, 40]) {
        let want = expected(profile, x);
        assert_eq!(want.len(), total, "transcribed table {profile} X={x}");
        let (got, report) = run(&visits, &config(profile, x));
        assert_rows(&got, &want, &format!("{profile} X={x}"));
        assert_eq!(got.len(), total);
        assert_eq!(report.pairs.pairs_detected, total as u64);

        // docs/file-formats.md §6: the summary counts of all four runs.
        let stats = report.admit_stats();
        assert_eq!(stats.visits_read, 55);
        assert_eq!(stats.visits_admitted, 49);
        assert_eq!(stats.dropped(DropReason::OutsideWindow), 4);
        assert_eq!(stats.dropped(DropReason::BlankSsn), 2);
        assert_eq!(stats.dropped(DropReason::ExcludedProvider), 0);
        assert_eq!(stats.dropped(DropReason::ExcludedSsn), 0);
        assert_eq!(stats.dropped(DropReason::PlaceholderSsn), 0);
        assert_eq!(report.pairs.candidates, 58);
        assert_eq!(report.pairs.pairs_dropped_cross_state, 2);
        let w = report.warnings();
        assert_eq!(w.count(WarningKind::GpsUnparsable), 2);
        assert_eq!(w.count(WarningKind::GpsOutOfRange), 1);
        assert_eq!(w.count(WarningKind::AddressOutOfRange), 0);
        assert_eq!(w.iter().count(), 2, "no other warning kinds");
    }
}

#[test]
fn e17_warnings_and_location_sources() {
    let visits: Vec<Visit> = examples()
        .into_iter()
        .filter(|v| v.visit_id.starts_with("e17-"))
        .collect();
    let (_, report) = run(&visits, &config(Profile::Current, 1.0));
    let w = report.warnings();
    assert_eq!(w.count(WarningKind::GpsUnparsable), 2);
    assert_eq!(w.count(WarningKind::GpsOutOfRange), 1);
    let source = |id: &str| {
        let i = visits.iter().position(|v| v.visit_id == id).unwrap();
        report.location(i).map(|(loc, src)| (src, loc.lat, loc.lon))
    };
    assert_eq!(
        source("e17-a"),
        Some((LocationSource::CallOut, 40.75, -73.99))
    );
    assert_eq!(
        source("e17-b"),
        Some((LocationSource::CallIn, 40.8224, -73.99))
    );
    assert_eq!(source("e17-c"), None);
    assert_eq!(
        source("e17-d"),
        Some((LocationSource::Address, 40.967, -73.99))
    );
}

#[test]
fn e18_output_ssn_is_trimmed() {
    let visits: Vec<Visit> = examples()
        .into_iter()
        .filter(|v| v.visit_id.starts_with("e18-"))
        .collect();
    let (_, report) = run(&visits, &config(Profile::Current, 1.0));
    assert_eq!(report.ssn(0), Some("100000018"));
    assert_eq!(report.ssn(1), Some("100000018"));
    assert_eq!(report.ssn(2), None);
    assert_eq!(report.ssn(3), None);
    assert_eq!(report.admit_stats().dropped(DropReason::BlankSsn), 2);
}

// ---------------------------------------------------------------------------------------------
// §14.4 zip switch

fn e08_with_zips(z1: Option<&str>, z2: Option<&str>) -> Vec<Visit> {
    let mut visits: Vec<Visit> = travel(8, ("08:00", "09:00"), ("09:20", "10:30"), P15)
        .into_iter()
        .zip([z1, z2])
        .map(|(v, z)| match z {
            Some(z) => v.zip(z).0,
            None => v.0,
        })
        .collect();
    visits.sort_by(|a, b| a.visit_id.cmp(&b.visit_id));
    visits
}

#[test]
fn zip_switch_same_zip_blocks_the_distance_flag() {
    for profile in [Profile::Current, Profile::Classic] {
        let mut cfg = config(profile, 1.0);
        cfg.options.zip_check = conflict_core::options::ZipCheck::ProviderPatientZip;
        let (got, report) = run(&e08_with_zips(Some("10001"), Some("10001")), &cfg);
        assert_rows(&got, &[], &format!("E08 same zip {profile}"));
        assert_eq!(report.pairs.candidates, 2);
    }
}

#[test]
fn zip_switch_different_or_blank_zip_keeps_the_rows() {
    let zip_pairs = [
        (Some("10001"), Some("10002")),
        (Some("10001"), None),
        (None, Some("10001")),
        (Some("  "), Some("10001")),
        (None, None),
    ];
    for (z1, z2) in zip_pairs {
        for profile in [Profile::Current, Profile::Classic] {
            let want: Vec<Row> = expected(profile, 1.0)
                .into_iter()
                .filter(|r| r.v1.starts_with("e08-"))
                .collect();
            let mut cfg = config(profile, 1.0);
            cfg.options.zip_check = conflict_core::options::ZipCheck::ProviderPatientZip;
            let (got, _) = run(&e08_with_zips(z1, z2), &cfg);
            assert_rows(&got, &want, &format!("E08 zips {z1:?}/{z2:?} {profile}"));
            // With the switch off, equal zips change nothing either.
            let (got, _) = run(
                &e08_with_zips(Some("10001"), Some("10001")),
                &config(profile, 1.0),
            );
            assert_rows(&got, &want, &format!("E08 zip switch off {profile}"));
        }
    }
}
