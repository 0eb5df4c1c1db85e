//! Configuration of `conflicts run`: a TOML file, environment variables and flags, in
//! increasing precedence. Connection strings (secrets) come from flags, the environment or the
//! file and are never printed.

use std::path::Path;

use anyhow::Context;
use conflict_core::{Profile, RuleOptions};
use serde::Deserialize;

/// The `[rules]` table: overrides of single switches of docs/rules.md §12.
#[derive(Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RulesFile {
    pub rules_3_6_direction: Option<String>,
    pub distance_gap: Option<String>,
    pub minute_diff: Option<String>,
    pub eta_miles: Option<String>,
    pub zip_check: Option<String>,
    pub cross_state_filter: Option<bool>,
    pub insert_requires_not_missed: Option<bool>,
    pub insert_schedule_only_from_as_of: Option<bool>,
}

/// Every key the configuration file may hold (all optional).
#[derive(Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// PostgreSQL conninfo of the conflict database.
    pub pg: Option<String>,
    /// ODBC connection string of the analytics warehouse.
    pub odbc: Option<String>,
    /// PostgreSQL conninfo of analytics tables copied into PostgreSQL (read natively instead
    /// of through ODBC; exclusive with `odbc`).
    pub analytics_pg: Option<String>,
    pub conflict_schema: Option<String>,
    pub analytics_schema: Option<String>,
    /// `snowflake` or `postgres`; default: from the driver's DBMS name.
    pub analytics_dialect: Option<String>,
    /// Snowflake: schema of the temporary tables (default: the session's current schema).
    pub scratch_schema: Option<String>,
    pub profile: Option<String>,
    pub workers: Option<usize>,
    pub prefix_len: Option<usize>,
    pub keys_per_batch: Option<usize>,
    pub max_visits_per_batch: Option<u64>,
    pub lookback_hours: Option<u32>,
    pub lookback_years: Option<u32>,
    pub lookforward_days: Option<u32>,
    pub fetch_rows: Option<usize>,
    pub prefilter: Option<bool>,
    pub inservice: Option<bool>,
    pub pto: Option<bool>,
    pub rules: Option<RulesFile>,
}

impl FileConfig {
    pub fn load(path: &Path) -> anyhow::Result<FileConfig> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read configuration file {}", path.display()))?;
        Self::parse(&text).with_context(|| format!("configuration file {}", path.display()))
    }

    pub fn parse(text: &str) -> anyhow::Result<FileConfig> {
        // toml's messages quote the offending line; make sure a secret never appears there.
        toml::from_str(text).map_err(|e| {
            let msg = e.message().to_string();
            let at = e
                .span()
                .map(|s| {
                    let line = text[..s.start].matches('\n').count() + 1;
                    format!(" (line {line})")
                })
                .unwrap_or_default();
            anyhow::anyhow!("{msg}{at}")
        })
    }
}

/// Applies the `[rules]` overrides to the profile's preset.
pub fn rule_options(profile: Profile, rules: Option<&RulesFile>) -> anyhow::Result<RuleOptions> {
    let mut o = RuleOptions::profile(profile);
    let Some(r) = rules else { return Ok(o) };
    // One parser for the file and the command line: the core's `FromStr` of each switch.
    fn parse<T: std::str::FromStr<Err = String>>(key: &str, v: &str) -> anyhow::Result<T> {
        v.parse()
            .map_err(|e| anyhow::anyhow!("rules.{key} = {v:?}: {e}"))
    }
    if let Some(v) = &r.rules_3_6_direction {
        o.rules_3_6_direction = parse("rules_3_6_direction", v)?;
    }
    if let Some(v) = &r.distance_gap {
        o.distance_gap = parse("distance_gap", v)?;
    }
    if let Some(v) = &r.minute_diff {
        o.minute_diff = parse("minute_diff", v)?;
    }
    if let Some(v) = &r.eta_miles {
        o.eta_miles = parse("eta_miles", v)?;
    }
    if let Some(v) = &r.zip_check {
        o.zip_check = parse("zip_check", v)?;
    }
    if let Some(v) = r.cross_state_filter {
        o.cross_state_filter = v;
    }
    if let Some(v) = r.insert_requires_not_missed {
        o.insert_requires_not_missed = v;
    }
    if let Some(v) = r.insert_schedule_only_from_as_of {
        o.insert_schedule_only_from_as_of = v;
    }
    Ok(o)
}

/// `36h`, `2d` or a plain number of hours.
pub fn parse_lookback(s: &str) -> Result<u32, String> {
    let s = s.trim();
    let (num, unit) = match s.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => (&s[..i], &s[i..]),
        None => (s, "h"),
    };
    let n: u32 = num
        .parse()
        .map_err(|_| format!("expected a duration such as 36h or 2d, found {s:?}"))?;
    match unit {
        "h" => Ok(n),
        "d" => n
            .checked_mul(24)
            .ok_or_else(|| "look-back too large".to_string()),
        _ => Err(format!("unknown unit {unit:?} in {s:?} (use h or d)")),
    }
}

/// `YYYY-MM-DDTHH:MM:SS` or with a space, optional fraction, optional `Z` (docs/lifecycle.md §0).
pub fn parse_since(s: &str) -> Result<chrono::NaiveDateTime, String> {
    let t = s.trim().trim_end_matches('Z');
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"] {
        if let Ok(ts) = chrono::NaiveDateTime::parse_from_str(t, fmt) {
            return Ok(ts);
        }
    }
    Err(format!(
        "expected a UTC timestamp YYYY-MM-DDTHH:MM:SS[.ffffff][Z], found {s:?}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use conflict_core::options::{EtaMiles, ZipCheck};

    #[test]
    fn file_keys_and_rules_overrides() {
        let f = FileConfig::parse(
            "conflict_schema = \"conflict_dev\"\nworkers = 4\n[rules]\nzip_check = \"provider_patient_zip\"\ncross_state_filter = false\n",
        )
        .unwrap();
        assert_eq!(f.conflict_schema.as_deref(), Some("conflict_dev"));
        let o = rule_options(Profile::Classic, f.rules.as_ref()).unwrap();
        assert_eq!(o.zip_check, ZipCheck::ProviderPatientZip);
        assert!(!o.cross_state_filter);
        assert_eq!(o.eta_miles, EtaMiles::WholeMiles, "profile preset kept");
    }

    #[test]
    fn unknown_keys_and_bad_values_are_errors_that_do_not_echo_secrets() {
        let err = FileConfig::parse("pg = \"password=hunter2\"\nworkerz = 3\n").unwrap_err();
        let msg = format!("{err:#}");
        assert!(msg.contains("workerz") && msg.contains("line 2"), "{msg}");
        assert!(!msg.contains("hunter2"), "{msg}");
        let bad = RulesFile {
            eta_miles: Some("furlongs".into()),
            ..RulesFile::default()
        };
        assert!(rule_options(Profile::Current, Some(&bad)).is_err());
    }

    #[test]
    fn lookback_and_since() {
        assert_eq!(parse_lookback("36h"), Ok(36));
        assert_eq!(parse_lookback("2d"), Ok(48));
        assert_eq!(parse_lookback("60"), Ok(60));
        assert!(parse_lookback("3w").is_err());
        assert_eq!(
            parse_since("2025-06-10T01:02:03.5Z").unwrap().to_string(),
            "2025-06-10 01:02:03.500"
        );
        assert!(parse_since("2025-06-10").is_err());
    }
}
