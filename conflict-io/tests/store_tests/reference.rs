//! Reference data (docs/tables.md §2): X, speed bands, exclusions.

use conflict_core::{Decimal, WarningKind, Warnings};
use conflict_io::store::testing::reference::{
    self, read_exclusions, read_extra_distance_per, read_speed_bands,
};
use conflict_io::store::{self, StoreError};

use super::support::TestSchemas;

fn x_of(t: &mut TestSchemas) -> (Result<f64, StoreError>, Warnings) {
    let mut w = Warnings::default();
    let x = read_extra_distance_per(&mut t.client, &t.names, &mut w);
    (x, w)
}

#[test]
fn empty_settings_give_the_default_x_with_a_warning() {
    let mut t = TestSchemas::initialised();
    let (x, w) = x_of(&mut t);
    assert_eq!(x.unwrap(), 1.0);
    assert_eq!(w.count_named(reference::SETTINGS_MISSING), 1);
    assert_eq!(w.count_named(reference::SETTINGS_MULTIPLE_ROWS), 0);
}

#[test]
fn a_null_x_gives_the_default_with_a_warning() {
    let mut t = TestSchemas::initialised();
    let settings = t.table("settings");
    t.exec(&format!(
        "INSERT INTO {settings} (\"ID\", \"ExtraDistancePer\") VALUES (0, NULL)"
    ));
    let (x, w) = x_of(&mut t);
    assert_eq!(x.unwrap(), 1.0);
    assert_eq!(w.count_named(reference::SETTINGS_MISSING), 1);
}

#[test]
fn the_row_with_the_lowest_id_wins_and_extra_rows_warn() {
    let mut t = TestSchemas::initialised();
    let settings = t.table("settings");
    t.exec(&format!(
        "INSERT INTO {settings} (\"ID\", \"ExtraDistancePer\") VALUES (5, 1.3), (2, 1.2), (9, NULL)"
    ));
    let (x, w) = x_of(&mut t);
    assert_eq!(x.unwrap(), 1.2);
    assert_eq!(w.count_named(reference::SETTINGS_MULTIPLE_ROWS), 1);
    assert_eq!(w.count_named(reference::SETTINGS_MISSING), 0);
}

#[test]
fn x_is_read_through_its_decimal_text() {
    let mut t = TestSchemas::initialised();
    let settings = t.table("settings");
    t.exec(&format!(
        "INSERT INTO {settings} (\"ID\", \"ExtraDistancePer\") VALUES (0, 1.1)"
    ));
    let (x, w) = x_of(&mut t);
    let x = x.unwrap();
    // Exactly the decimal 1.1, not the widened float4 1.100000023841858.
    assert_eq!(x, 1.1);
    assert_ne!(x, 1.1f32 as f64);
    assert!(w.is_empty());
}

#[test]
fn unusable_x_values_are_configuration_errors() {
    for bad in ["0", "-1.5", "'NaN'", "'Infinity'", "'-Infinity'"] {
        let mut t = TestSchemas::initialised();
        let settings = t.table("settings");
        t.exec(&format!(
            "INSERT INTO {settings} (\"ID\", \"ExtraDistancePer\") VALUES (0, {bad})"
        ));
        match x_of(&mut t).0 {
            Err(StoreError::InvalidSetting { column, value, .. }) => {
                assert_eq!(column, "ExtraDistancePer");
                assert_eq!(value.to_lowercase(), bad.trim_matches('\'').to_lowercase());
            }
            other => panic!("{bad}: expected InvalidSetting, got {other:?}"),
        }
    }
}

#[test]
fn bands_are_ordered_by_from_to_and_id() {
    let mut t = TestSchemas::initialised();
    let mph = t.table("mph");
    t.exec(&format!(
        "INSERT INTO {mph} (\"ID\", \"TYPE\", \"From\", \"To\", \"AverageMilesPerHour\") VALUES \
           (1, 'x', 26, 100, 50), (2, NULL, 3, 10, 25.5), (7, 'y', 0, 2, 30), (3, 'z', 0, 2, 20), \
           (4, NULL, 11, 25, 12.3)"
    ));
    let mut w = Warnings::default();
    let bands = read_speed_bands(&mut t.client, &t.names, &mut w).unwrap();
    assert_eq!(
        bands.describe(),
        "0-2:20 0-2:30 3-10:25.5 11-25:12.3 26-100:50"
    );
    // Same (From, To): the lower ID comes first and wins the lookup.
    assert_eq!(bands.lookup(150), Some(Decimal::from_int(20)));
    // 12.3 in a real is read as exactly 12.3.
    assert_eq!(
        bands.lookup(1500),
        Some(Decimal::parse_plain("12.3").unwrap())
    );
    assert_eq!(w.count(WarningKind::MphBandsOverlap), 1);
    assert_eq!(w.count(WarningKind::MphBandInvalid), 0);
    assert_eq!(w.count(WarningKind::MphEmpty), 0);
}

#[test]
fn invalid_bands_are_skipped_with_a_warning_each() {
    let mut t = TestSchemas::initialised();
    let mph = t.table("mph");
    t.exec(&format!(
        "INSERT INTO {mph} (\"ID\", \"From\", \"To\", \"AverageMilesPerHour\") VALUES \
           (10, NULL, 2, 10), (11, 0, NULL, 10), (12, 0, 2, NULL), (13, 5, 3, 10), \
           (14, 0, 2, -1), (15, 0, 2, 'NaN'), (16, -3, 2, 10), (17, 3, 10, 25), (18, 11, 25, 35)"
    ));
    let mut w = Warnings::default();
    let bands = read_speed_bands(&mut t.client, &t.names, &mut w).unwrap();
    assert_eq!(bands.describe(), "3-10:25 11-25:35");
    assert_eq!(w.count(WarningKind::MphBandInvalid), 7);
    let examples: Vec<&[String]> = w
        .iter()
        .filter(|(k, _, _)| *k == "mph_band_invalid")
        .map(|(_, _, ex)| ex)
        .collect();
    assert_eq!(examples[0].len(), 3, "first few band ids kept as examples");
    assert!(examples[0].iter().all(|e| e.starts_with("mph.ID=")));
    assert_eq!(w.count(WarningKind::MphBandsOverlap), 0);
    assert_eq!(w.count(WarningKind::MphEmpty), 0);
}

#[test]
fn no_valid_band_warns_mph_empty() {
    let mut t = TestSchemas::initialised();
    let mut w = Warnings::default();
    let bands = read_speed_bands(&mut t.client, &t.names, &mut w).unwrap();
    assert!(bands.is_empty());
    assert_eq!(w.count(WarningKind::MphEmpty), 1);

    let mph = t.table("mph");
    t.exec(&format!(
        "INSERT INTO {mph} (\"From\", \"To\", \"AverageMilesPerHour\") VALUES (4, 1, 10)"
    ));
    let mut w = Warnings::default();
    assert!(read_speed_bands(&mut t.client, &t.names, &mut w)
        .unwrap()
        .is_empty());
    assert_eq!(w.count(WarningKind::MphEmpty), 1);
    assert_eq!(w.count(WarningKind::MphBandInvalid), 1);
}

#[test]
fn exclusions_are_canonical_trimmed_and_skip_blanks() {
    let mut t = TestSchemas::initialised();
    let (agency, ssn) = (t.table("excluded_agency"), t.table("excluded_ssn"));
    t.exec(&format!(
        "INSERT INTO {agency} (\"AgencyName\", \"ProviderID\") VALUES \
           ('A', 'AB5E2C9A-1F0B-4C4D-9E8F-0123456789AB'), ('B', NULL), \
           ('C', '{{00000000-0000-4000-8000-00000000000c}}'); \
         INSERT INTO {ssn} (\"SSN\") VALUES (' 123456789 '), (''), ('   '), (NULL), \
           (E'\\t987654321\\n'), ('123456789');"
    ));
    let ex = read_exclusions(&mut t.client, &t.names).unwrap();
    let mut providers: Vec<&str> = ex.providers.iter().map(String::as_str).collect();
    providers.sort();
    assert_eq!(
        providers,
        [
            "00000000-0000-4000-8000-00000000000c",
            "ab5e2c9a-1f0b-4c4d-9e8f-0123456789ab"
        ]
    );
    let mut ssns: Vec<&str> = ex.ssns.iter().map(String::as_str).collect();
    ssns.sort();
    assert_eq!(ssns, ["123456789", "987654321"]);
    // The placeholder SSNs of docs/rules.md §3 stay in force.
    assert!(ex.placeholder_ssns.contains("000000000"));
}

#[test]
fn load_reference_reads_all_three_in_one_call() {
    let mut t = TestSchemas::initialised();
    let (settings, mph, ssn) = (t.table("settings"), t.table("mph"), t.table("excluded_ssn"));
    t.exec(&format!(
        "INSERT INTO {settings} (\"ID\", \"ExtraDistancePer\") VALUES (0, 1.1); \
         INSERT INTO {mph} (\"From\", \"To\", \"AverageMilesPerHour\") VALUES (0, 2, 10); \
         INSERT INTO {ssn} (\"SSN\") VALUES ('111223333');"
    ));
    let mut tx = t.client.transaction().unwrap();
    let r = store::load_reference(&mut tx, &t.names).unwrap();
    tx.commit().unwrap();
    assert_eq!(r.extra_distance_per, 1.1);
    assert_eq!(r.bands.describe(), "0-2:10");
    assert!(r.exclusions.ssns.contains("111223333"));
    assert!(r.warnings.is_empty());
}
