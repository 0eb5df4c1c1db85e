//! Reading the reference tables of the conflict schema (docs/tables.md §2): X from `settings`, the
//! speed bands from `mph`, and the exclusion lists.
//!
//! `real` values that feed computations are read as their shortest decimal text (`::text`) and
//! parsed exactly, never by widening the float4: `1.1` stored in a `real` must come back as the
//! decimal 1.1, not 1.100000023841858 (docs/rules.md §8.3).

use conflict_core::{Decimal, Exclusions, GeoParams, SpeedBand, SpeedBands, WarningKind, Warnings};
use postgres::GenericClient;

use super::config::SchemaNames;
use super::error::StoreError;
use crate::run::Reference;

/// Warning kinds of this module that the core does not define.
/// `settings` has no row, or a NULL `ExtraDistancePer`: X is 1.0.
pub const SETTINGS_MISSING: &str = "settings_missing";
/// `settings` has more than one row: the lowest `"ID"` wins.
pub const SETTINGS_MULTIPLE_ROWS: &str = "settings_multiple_rows";

/// X when `settings` has no row or a NULL `ExtraDistancePer`.
pub const DEFAULT_EXTRA_DISTANCE_PER: f64 = 1.0;

/// Reads X, the speed bands and the exclusions. Run it inside one transaction when the three
/// must come from the same snapshot.
pub fn load_reference<C: GenericClient>(
    client: &mut C,
    names: &SchemaNames,
) -> Result<Reference, StoreError> {
    let mut warnings = Warnings::default();
    let extra_distance_per = read_extra_distance_per(client, names, &mut warnings)?;
    let bands = read_speed_bands(client, names, &mut warnings)?;
    let exclusions = read_exclusions(client, names)?;
    Ok(Reference {
        extra_distance_per,
        bands,
        exclusions,
        warnings,
    })
}

/// X = `"ExtraDistancePer"` of the row with the lowest `"ID"`. No row or NULL → 1.0 with
/// warning `settings_missing`; more than one row → warning `settings_multiple_rows`; a value
/// that is not finite or not > 0 is a configuration error.
pub fn read_extra_distance_per<C: GenericClient>(
    client: &mut C,
    names: &SchemaNames,
    warnings: &mut Warnings,
) -> Result<f64, StoreError> {
    let table = names.conflict_table("settings");
    let sql = format!(
        "SELECT \"ExtraDistancePer\"::text, count(*) OVER () FROM {table} ORDER BY \"ID\" LIMIT 1"
    );
    let row = client
        .query_opt(&sql, &[])
        .map_err(|e| StoreError::db("read ExtraDistancePer", Some(&table), e))?;
    let Some(row) = row else {
        warnings.add_named(SETTINGS_MISSING, None);
        return Ok(DEFAULT_EXTRA_DISTANCE_PER);
    };
    let text: Option<String> = row.get(0);
    let rows: i64 = row.get(1);
    if rows > 1 {
        warnings.add_named(SETTINGS_MULTIPLE_ROWS, None);
    }
    let Some(text) = text else {
        warnings.add_named(SETTINGS_MISSING, None);
        return Ok(DEFAULT_EXTRA_DISTANCE_PER);
    };
    let invalid = |reason: String| StoreError::InvalidSetting {
        table: table.clone(),
        column: "ExtraDistancePer",
        value: text.clone(),
        reason,
    };
    // A decimal (or exponent) text is parsed exactly; anything else that PostgreSQL prints for
    // a real (NaN, Infinity) or a value beyond 18 digits is taken as f64 so that the range
    // check below names the problem.
    let x = match Decimal::parse_scientific(&text) {
        Ok(d) => d.to_f64(),
        Err(_) => text
            .parse::<f64>()
            .map_err(|_| invalid("not a number".into()))?,
    };
    GeoParams::default()
        .with_extra_distance_per(x)
        .map(|g| g.extra_distance_per())
        .map_err(|e| invalid(e.to_string()))
}

/// All `mph` rows ordered by `"From"`, `"To"`, `"ID"`. Rows with a NULL field, `From > To`, a
/// negative bound or a negative (or unreadable) mph are skipped with `mph_band_invalid` (the
/// band's `"ID"` as example); overlapping bands give `mph_bands_overlap` once; no valid band
/// gives `mph_empty`. `"TYPE"` is ignored.
pub fn read_speed_bands<C: GenericClient>(
    client: &mut C,
    names: &SchemaNames,
    warnings: &mut Warnings,
) -> Result<SpeedBands, StoreError> {
    let table = names.conflict_table("mph");
    let sql = format!(
        "SELECT \"ID\", \"From\", \"To\", \"AverageMilesPerHour\"::text FROM {table} \
         ORDER BY \"From\", \"To\", \"ID\""
    );
    let rows = client
        .query(&sql, &[])
        .map_err(|e| StoreError::db("read speed bands", Some(&table), e))?;
    let mut bands = Vec::with_capacity(rows.len());
    for row in rows {
        let id: i64 = row.get(0);
        let from: Option<i64> = row.get(1);
        let to: Option<i64> = row.get(2);
        let mph: Option<String> = row.get(3);
        match band(from, to, mph.as_deref()) {
            Some(b) => bands.push(b),
            None => warnings.add(WarningKind::MphBandInvalid, Some(&format!("mph.ID={id}"))),
        }
    }
    // Rows arrive in (From, To, ID) order and `SpeedBands::new` sorts stably by (from, to),
    // so the ID breaks ties as docs/tables.md §2 requires.
    let bands = SpeedBands::new(bands);
    if bands.is_empty() {
        warnings.add(WarningKind::MphEmpty, None);
    } else if bands.overlapping() {
        warnings.add(WarningKind::MphBandsOverlap, None);
    }
    Ok(bands)
}

fn band(from: Option<i64>, to: Option<i64>, mph: Option<&str>) -> Option<SpeedBand> {
    // NaN / Infinity / overlong texts do not parse as decimals: such a band is invalid too.
    let mph = Decimal::parse_scientific(mph?).ok()?;
    // SpeedBand::new refuses From > To, negative bounds and negative mph.
    SpeedBand::new(from?, to?, mph).ok()
}

/// Excluded providers (non-NULL `"ProviderID"`, canonical lower-case uuid text) and excluded
/// SSNs (trimmed, blank entries ignored), on top of the default placeholder SSNs.
pub fn read_exclusions<C: GenericClient>(
    client: &mut C,
    names: &SchemaNames,
) -> Result<Exclusions, StoreError> {
    let mut exclusions = Exclusions::default();

    let agency = names.conflict_table("excluded_agency");
    // uuid::text is PostgreSQL's canonical form: lower case with hyphens, as visit ids are.
    let sql = format!(
        "SELECT DISTINCT \"ProviderID\"::text FROM {agency} WHERE \"ProviderID\" IS NOT NULL"
    );
    let rows = client
        .query(&sql, &[])
        .map_err(|e| StoreError::db("read excluded providers", Some(&agency), e))?;
    exclusions
        .providers
        .extend(rows.into_iter().map(|r| r.get::<_, String>(0)));

    let ssn = names.conflict_table("excluded_ssn");
    let sql = format!("SELECT \"SSN\" FROM {ssn} WHERE \"SSN\" IS NOT NULL");
    let rows = client
        .query(&sql, &[])
        .map_err(|e| StoreError::db("read excluded SSNs", Some(&ssn), e))?;
    let ssns: Vec<String> = rows.into_iter().map(|r| r.get(0)).collect();
    exclusions.add_ssns(ssns.iter().map(String::as_str));
    Ok(exclusions)
}
