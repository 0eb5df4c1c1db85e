//! A full run with non-default settings — X = 1.5, custom speed bands, an excluded provider and
//! an excluded SSN, the `classic` profile — stores exactly the rows an independent model
//! expects, with their flags, their four metrics and their business columns.
//!
//! The model: the analytics tests' model of what the warehouse query returns
//! (`support::expected`: visits after the exclusions, and each visit's business columns),
//! paired by the naive reference implementation of docs/rules.md written from the spec text
//! (`conflict-core/tests/reference`), with the column conversions of schema.md §5 (metric
//! types, ETA rounded half away from zero to whole minutes). Nothing comes from
//! `conflict_core::detect` or from the store's own conversions.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::AtomicBool;

use chrono::NaiveDateTime;
use conflict_core::{
    Decimal, DetectConfig, Exclusions, GeoParams, Profile, RuleOptions, SpeedBand, SpeedBands,
};
use conflict_io::details::{Kind, Value as Detail, DETAIL_COLUMNS};
use conflict_io::run::{Mode, Outcome, Silent, Start};
use serde_json::Value;

use super::harness::{job, params, run, Loaded};
use crate::support::expected::Expected;

#[allow(dead_code)]
#[path = "../../../conflict-core/tests/reference/mod.rs"]
mod reference;

/// The speed bands of this test (miles, mph), none of them a default band.
const BANDS: [(i64, i64, i64, u32); 4] = [
    (0, 1, 8, 0),
    (2, 5, 175, 1),
    (6, 20, 31, 0),
    (21, 10_000, 55, 0),
];

const X: f64 = 1.5;

fn flags_text(f: &[bool; 7]) -> String {
    f.iter().map(|&b| if b { 'Y' } else { 'N' }).collect()
}

/// A timestamp of `to_jsonb` (ISO 8601 without zone).
fn ts(v: &Value) -> Option<NaiveDateTime> {
    v.as_str().map(|s| {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
            .unwrap_or_else(|e| panic!("{s}: {e}"))
    })
}

/// `real` as stored: the value rounded to float4.
fn real(v: &Value) -> Option<f32> {
    v.as_f64().map(|x| x as f32)
}

/// Rounds hundredths half away from zero to whole units (schema.md §5, `ETATravelMinutes`).
fn rha_hundredths(h: i64) -> i64 {
    let q = h.abs() / 100 + i64::from(h.abs() % 100 >= 50);
    q * h.signum()
}

/// Whether a stored column value equals the model's payload value, after the varchar
/// truncation of the column (`max_chars`).
fn same_detail(stored: &Value, expected: &Detail, max_chars: Option<usize>) -> bool {
    match expected {
        Detail::Null => stored.is_null(),
        Detail::Uuid(u) => stored.as_str() == Some(u.to_lowercase().as_str()),
        Detail::I64(n) => stored.as_i64() == Some(*n),
        Detail::Text(t) => {
            let t: String = match max_chars {
                Some(n) => t.chars().take(n).collect(),
                None => t.clone(),
            };
            stored.as_str() == Some(t.as_str())
        }
        Detail::Timestamp(t) => ts(stored) == Some(*t),
        Detail::F32(x) => real(stored) == Some(*x),
        Detail::Bool(b) => stored.as_bool() == Some(*b),
    }
}

both_sources! {
fn non_default_settings_store_the_rows_of_an_independent_model() {
    let loaded = Loaded::new(5);
    let mut s = loaded.conflict_schema("model");
    let model = Expected::new(&loaded.world);
    let window = loaded.cfg.window();

    // Exclude the provider and the SSN of two visits that pair with the default settings, so
    // that the exclusions remove pairs the model would otherwise expect.
    let all = model.visits(&window, &Exclusions::default());
    let default_pairs =
        reference::detect(&all, &DetectConfig::new(loaded.cfg.as_of).unwrap()).unwrap();
    assert!(default_pairs.pairs.len() > 20, "the world has pairs");
    let excluded_provider = all[default_pairs.pairs[0].1].provider_id.clone();
    let excluded_ssn = all[default_pairs.pairs[default_pairs.pairs.len() / 2].0]
        .ssn
        .clone()
        .unwrap()
        .trim()
        .to_string();
    let bands_sql: Vec<String> = BANDS
        .iter()
        .map(|&(from, to, m, scale)| format!("({from}, {to}, {})", Decimal::from_parts(m, scale)))
        .collect();
    s.exec(&format!(
        "UPDATE {settings} SET \"ExtraDistancePer\" = {X};
         DELETE FROM {mph};
         INSERT INTO {mph} (\"From\", \"To\", \"AverageMilesPerHour\") VALUES {bands};
         INSERT INTO {agency} (\"ProviderID\") VALUES ('{excluded_provider}');
         INSERT INTO {ssn} (\"SSN\") VALUES ('  {excluded_ssn} ');",
        settings = s.t("settings"),
        mph = s.t("mph"),
        agency = s.t("excluded_agency"),
        ssn = s.t("excluded_ssn"),
        bands = bands_sql.join(", "),
    ));

    let mut p = params(Mode::Full, loaded.cfg.as_of);
    p.profile = Profile::Classic;
    p.options = RuleOptions::profile(Profile::Classic);
    let r = run(
        &loaded,
        &s,
        Start::New(p.clone()),
        &p,
        &job(2, 1),
        &AtomicBool::new(false),
        &Silent,
    );
    assert_eq!(r.outcome, Outcome::Succeeded);

    // The model's rows.
    let mut ex = Exclusions::default();
    ex.providers.insert(excluded_provider.clone());
    ex.add_ssns([excluded_ssn.as_str()]);
    let visits = model.visits(&window, &ex);
    let mut cfg = DetectConfig::new(loaded.cfg.as_of).unwrap();
    cfg.options = RuleOptions::profile(Profile::Classic);
    cfg.geo = GeoParams::default().with_extra_distance_per(X).unwrap();
    cfg.bands = SpeedBands::new(
        BANDS
            .iter()
            .map(|&(from, to, m, scale)| {
                SpeedBand::new(from, to, Decimal::from_parts(m, scale)).unwrap()
            })
            .collect(),
    );
    cfg.exclusions = ex;
    let expected = reference::detect(&visits, &cfg).unwrap();
    assert!(
        expected.pairs.len() < default_pairs.pairs.len(),
        "the exclusions remove pairs"
    );
    assert!(
        expected.pairs.iter().any(|p| p.3.distance_h.is_some()),
        "some pairs have a distance, so X and the bands matter"
    );

    // The stored rows.
    let cvm = s.t("conflictvisitmaps");
    let lengths: HashMap<String, usize> = s
        .client
        .query(
            "SELECT column_name::text, character_maximum_length FROM information_schema.columns \
             WHERE table_schema = $1 AND table_name = 'conflictvisitmaps' \
             AND character_maximum_length IS NOT NULL",
            &[&s.names.conflict.as_str()],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get::<_, i32>(1) as usize))
        .collect();
    let stored: BTreeMap<(String, String), Value> = s
        .client
        .query(
            &format!(
                "SELECT \"VisitID\"::text, \"ConVisitID\"::text, to_jsonb(c) FROM {cvm} c \
                 WHERE \"InServiceFlag\" IS DISTINCT FROM 'Y' AND \"PTOFlag\" IS DISTINCT FROM 'Y'"
            ),
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| ((r.get(0), r.get(1)), r.get(2)))
        .collect();
    let expected_keys: BTreeSet<(String, String)> = expected
        .pairs
        .iter()
        .map(|p| (visits[p.0].visit_id.clone(), visits[p.1].visit_id.clone()))
        .collect();
    let stored_keys: BTreeSet<(String, String)> = stored.keys().cloned().collect();
    assert_eq!(
        stored_keys.difference(&expected_keys).collect::<Vec<_>>(),
        Vec::<&(String, String)>::new(),
        "stored but not expected"
    );
    assert_eq!(
        expected_keys.difference(&stored_keys).collect::<Vec<_>>(),
        Vec::<&(String, String)>::new(),
        "expected but not stored"
    );

    let mut compared_details = 0;
    for (i1, i2, flags, m) in &expected.pairs {
        let (v1, v2) = (&visits[*i1], &visits[*i2]);
        let row = &stored[&(v1.visit_id.clone(), v2.visit_id.clone())];
        let at = format!("({}, {})", v1.visit_id, v2.visit_id);
        let stored_flags: String = [
            "SameSchTimeFlag",
            "SameVisitTimeFlag",
            "SchAndVisitTimeSameFlag",
            "SchOverAnotherSchTimeFlag",
            "VisitTimeOverAnotherVisitTimeFlag",
            "SchTimeOverVisitTimeFlag",
            "DistanceFlag",
        ]
        .iter()
        .map(|f| row[*f].as_str().unwrap_or("-").to_string())
        .collect();
        assert_eq!(stored_flags, flags_text(flags), "flags of {at}");
        assert_eq!(row["StatusFlag"], "N", "{at}");
        // The metrics, converted as schema.md §5 says.
        assert_eq!(
            row["MinuteDiffBetweenSch"].as_i64(),
            m.minute_diff,
            "minute diff of {at}"
        );
        assert_eq!(
            real(&row["DistanceMilesFromLatLng"]),
            m.distance_h.map(|h| (h as f64 / 100.0) as f32),
            "distance of {at}"
        );
        assert_eq!(
            real(&row["AverageMilesPerHour"]),
            m.mph.map(|d| d.to_f64() as f32),
            "mph of {at}"
        );
        assert_eq!(
            row["ETATravelMinutes"].as_i64(),
            m.eta_h.map(rha_hundredths),
            "ETA of {at}"
        );
        // The pair's own columns, from the model's visits.
        assert_eq!(row["SSN"], v1.ssn.as_deref().unwrap().trim(), "{at}");
        assert_eq!(row["VisitDate"], v1.visit_date.to_string(), "{at}");
        for (col, want) in [
            ("SchStartTime", v1.sch_start),
            ("SchEndTime", v1.sch_end),
            ("VisitStartTime", v1.visit_start),
            ("VisitEndTime", v1.visit_end),
            ("ConSchStartTime", v2.sch_start),
            ("ConSchEndTime", v2.sch_end),
            ("ConVisitStartTime", v2.visit_start),
            ("ConVisitEndTime", v2.visit_end),
        ] {
            assert_eq!(ts(&row[col]), want, "{col} of {at}");
        }
        // Every business column of both visits, from the model of the warehouse's payload.
        for (side, v) in [("", v1), ("Con", v2)] {
            let fact = model.fact(&v.visit_id).expect("a visit of the world");
            let details = model.details(fact);
            for c in DETAIL_COLUMNS {
                let name = format!("{side}{}", c.cvm);
                let want = details.get(c.cvm).unwrap();
                let max = matches!(c.kind, Kind::Text)
                    .then(|| lengths.get(&name).copied())
                    .flatten();
                assert!(
                    same_detail(&row[name.as_str()], want, max),
                    "{name} of {at}: stored {}, expected {want:?}",
                    row[name.as_str()]
                );
                compared_details += 1;
            }
        }
    }
    assert!(compared_details > 0);
}
}
