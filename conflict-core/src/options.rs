//! Rule switches, the two named profiles, numeric parameters and the date window (docs/rules.md §3,
//! §12).

use std::collections::HashSet;
use std::fmt;
use std::str::FromStr;

use chrono::{Months, NaiveDate};

use crate::bands::SpeedBands;

/// The two rule profiles of docs/rules.md §12: the switches' defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Profile {
    /// The current system's behaviour (the default).
    #[default]
    Current,
    /// The older system's behaviour, for comparisons.
    Classic,
}

impl Profile {
    /// The profile's name as the command line and configuration spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Profile::Current => "current",
            Profile::Classic => "classic",
        }
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Profile {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "current" => Ok(Profile::Current),
            "classic" => Ok(Profile::Classic),
            _ => Err(format!(
                "unknown profile {s:?} (expected current or classic)"
            )),
        }
    }
}

/// Rules 3 and 6: only (schedule-only V1, completed V2), or both directions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// From V1 to V2 only.
    OneWay,
    /// In both directions.
    BothWays,
}

/// Which gap the DistanceFlag compares the ETA with (docs/rules.md §9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DistanceGap {
    /// Absolute gap between one visit's end and the other's start.
    AbsEndToStart,
    /// The positive gap in either order.
    PositiveEitherWay,
}

/// How `MinuteDiffBetweenSch` is reported (docs/rules.md §8.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MinuteDiff {
    /// Absolute difference of end and start.
    AbsEndToStart,
    /// The smaller positive difference, else zero.
    MinPositiveOrZero,
}

/// Which miles the ETA is computed from (docs/rules.md §8.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EtaMiles {
    /// Distance rounded to two decimals for the travel time.
    TwoDecimals,
    /// Distance in whole miles for the travel time.
    WholeMiles,
}

/// The optional ZIP comparison of docs/rules.md §12.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ZipCheck {
    /// No ZIP check.
    Off,
    /// Provider and patient ZIP codes must match.
    ProviderPatientZip,
}

/// Names of a switch's values: `as_str` (the configuration file's snake_case spelling),
/// `Display`, and `FromStr`, which also takes the command line's kebab-case spelling. One
/// parser for both, so the two cannot drift apart.
macro_rules! option_names {
    ($ty:ident { $($variant:ident => $name:literal $(| $alias:literal)*),+ $(,)? }) => {
        impl $ty {
            /// The value's name as the configuration file spells it.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($ty::$variant => $name,)+
                }
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $ty {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s.replace('-', "_").as_str() {
                    $($name $(| $alias)* => Ok($ty::$variant),)+
                    _ => Err(format!(
                        "expected {}",
                        [$($name),+].join(" or ")
                    )),
                }
            }
        }
    };
}

option_names!(Direction { OneWay => "one_way", BothWays => "both_ways" });
option_names!(DistanceGap {
    AbsEndToStart => "abs_end_to_start",
    PositiveEitherWay => "positive_either_way",
});
// The command line's `--minute-diff` shares its value names with `--distance-gap`, so
// `positive_either_way` is accepted for the classic variant as well.
option_names!(MinuteDiff {
    AbsEndToStart => "abs_end_to_start",
    MinPositiveOrZero => "min_positive_or_zero" | "positive_either_way",
});
option_names!(EtaMiles { TwoDecimals => "two_decimals", WholeMiles => "whole_miles" });
option_names!(ZipCheck { Off => "off", ProviderPatientZip => "provider_patient_zip" });

/// Every switch of docs/rules.md §12. A profile is only a preset of these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RuleOptions {
    /// Direction of rules 3 and 6.
    pub rules_3_6_direction: Direction,
    /// How the distance rule measures the gap between visits.
    pub distance_gap: DistanceGap,
    /// How `MinuteDiff` is computed.
    pub minute_diff: MinuteDiff,
    /// Which distance the travel time uses.
    pub eta_miles: EtaMiles,
    /// The optional ZIP check.
    pub zip_check: ZipCheck,
    /// Drop pairs whose states cannot match (docs/rules.md §10).
    pub cross_state_filter: bool,
    /// Insert-only (docs/lifecycle.md §5): never changes detection.
    pub insert_requires_not_missed: bool,
    /// Insert-only (docs/lifecycle.md §5): never changes detection.
    pub insert_schedule_only_from_as_of: bool,
}

impl RuleOptions {
    /// The switches of a profile.
    pub fn profile(profile: Profile) -> Self {
        match profile {
            Profile::Current => RuleOptions {
                rules_3_6_direction: Direction::OneWay,
                distance_gap: DistanceGap::AbsEndToStart,
                minute_diff: MinuteDiff::AbsEndToStart,
                eta_miles: EtaMiles::TwoDecimals,
                zip_check: ZipCheck::Off,
                cross_state_filter: true,
                insert_requires_not_missed: false,
                insert_schedule_only_from_as_of: false,
            },
            Profile::Classic => RuleOptions {
                rules_3_6_direction: Direction::BothWays,
                distance_gap: DistanceGap::PositiveEitherWay,
                minute_diff: MinuteDiff::MinPositiveOrZero,
                eta_miles: EtaMiles::WholeMiles,
                ..RuleOptions::profile(Profile::Current)
            },
        }
    }
}

impl Default for RuleOptions {
    fn default() -> Self {
        RuleOptions::profile(Profile::Current)
    }
}

/// Numeric parameters of the distance metric (docs/rules.md §8.1, §12).
///
/// The fields are private so that every value passes its check: a zero or NaN divisor or
/// factor would silently turn every distance into infinity or NaN. Start from
/// [`GeoParams::default`] and change a value with the `with_…` methods.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GeoParams {
    earth_radius_m: f64,
    metres_per_mile: f64,
    extra_distance_per: f64,
}

/// A parameter out of its allowed range.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ParamError {
    /// `ExtraDistancePer` not finite or not > 0.
    #[error("ExtraDistancePer must be finite and greater than 0, found {0}")]
    ExtraDistancePer(f64),
    /// Metres per mile that are not finite or not > 0.
    #[error("metres per mile must be finite and greater than 0, found {0}")]
    MetresPerMile(f64),
    #[error("the date window of as-of {as_of} minus {years} years is out of range")]
    /// The window's first day would be before the earliest representable date.
    Window {
        /// The as-of date.
        as_of: NaiveDate,
        /// The lookback in years.
        years: u32,
    },
}

impl Default for GeoParams {
    fn default() -> Self {
        GeoParams {
            earth_radius_m: 6_371_008.8,
            metres_per_mile: 1609.0,
            extra_distance_per: 1.0,
        }
    }
}

impl GeoParams {
    /// Sets `ExtraDistancePer` (X, from `settings`), which must be finite and > 0.
    pub fn with_extra_distance_per(mut self, x: f64) -> Result<Self, ParamError> {
        if !x.is_finite() || x <= 0.0 {
            return Err(ParamError::ExtraDistancePer(x));
        }
        self.extra_distance_per = x;
        Ok(self)
    }

    /// Sets the metres per mile of the distance conversion, which must be finite and > 0.
    pub fn with_metres_per_mile(mut self, m: f64) -> Result<Self, ParamError> {
        if !m.is_finite() || m <= 0.0 {
            return Err(ParamError::MetresPerMile(m));
        }
        self.metres_per_mile = m;
        Ok(self)
    }

    /// Mean earth radius in metres of the great-circle distance.
    pub fn earth_radius_m(&self) -> f64 {
        self.earth_radius_m
    }

    /// Metres per mile of the distance conversion.
    pub fn metres_per_mile(&self) -> f64 {
        self.metres_per_mile
    }

    /// `ExtraDistancePer` (X), the factor every distance is multiplied by.
    pub fn extra_distance_per(&self) -> f64 {
        self.extra_distance_per
    }
}

/// The inclusive date window `[as_of − lookback_years, as_of + lookforward_days]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// First day, inclusive.
    pub from: NaiveDate,
    /// Last day, inclusive.
    pub to: NaiveDate,
}

impl Window {
    /// Years before the as-of date (docs/lifecycle.md §2).
    pub const DEFAULT_LOOKBACK_YEARS: u32 = 2;
    /// Days after the as-of date.
    pub const DEFAULT_LOOKFORWARD_DAYS: u32 = 45;

    /// Subtracting years keeps month and day; 29 February becomes 28 February (chrono clamps
    /// to the last day of the month, which is exactly that).
    pub fn around(
        as_of: NaiveDate,
        lookback_years: u32,
        lookforward_days: u32,
    ) -> Result<Self, ParamError> {
        let err = ParamError::Window {
            as_of,
            years: lookback_years,
        };
        let from = as_of
            .checked_sub_months(Months::new(lookback_years.saturating_mul(12)))
            .ok_or(err.clone())?;
        let to = as_of
            .checked_add_days(chrono::Days::new(lookforward_days as u64))
            .ok_or(err)?;
        Ok(Window { from, to })
    }

    /// The default window around `as_of`.
    pub fn default_around(as_of: NaiveDate) -> Result<Self, ParamError> {
        Window::around(
            as_of,
            Self::DEFAULT_LOOKBACK_YEARS,
            Self::DEFAULT_LOOKFORWARD_DAYS,
        )
    }

    /// `d` lies in the window, bounds included.
    pub fn contains(&self, d: NaiveDate) -> bool {
        self.from <= d && d <= self.to
    }
}

/// Exclusion lists and the placeholder-SSN set (docs/rules.md §3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exclusions {
    /// Excluded provider ids.
    pub providers: HashSet<String>,
    /// Trimmed, non-blank SSNs.
    pub ssns: HashSet<String>,
    /// Digit-only forms; empty disables the check.
    pub placeholder_ssns: HashSet<String>,
}

impl Default for Exclusions {
    fn default() -> Self {
        Exclusions {
            providers: HashSet::new(),
            ssns: HashSet::new(),
            placeholder_ssns: ["000000000", "999999999"]
                .into_iter()
                .map(String::from)
                .collect(),
        }
    }
}

impl Exclusions {
    /// Adds excluded SSNs, trimming each and ignoring blank entries.
    pub fn add_ssns<'a>(&mut self, ssns: impl IntoIterator<Item = &'a str>) {
        for s in ssns {
            let t = crate::model::trim(s);
            if !t.is_empty() {
                self.ssns.insert(t.to_string());
            }
        }
    }
}

/// Everything detection needs besides the visits.
#[derive(Debug, Clone)]
pub struct DetectConfig {
    /// The rule switches.
    pub options: RuleOptions,
    /// Distance parameters.
    pub geo: GeoParams,
    /// Speed bands.
    pub bands: SpeedBands,
    /// The date window of admission.
    pub window: Window,
    /// Excluded providers and SSNs.
    pub exclusions: Exclusions,
}

impl DetectConfig {
    /// Profile `current`, default bands, X = 1.0 and the default window around `as_of`.
    pub fn new(as_of: NaiveDate) -> Result<Self, ParamError> {
        Ok(DetectConfig {
            options: RuleOptions::default(),
            geo: GeoParams::default(),
            bands: SpeedBands::defaults(),
            window: Window::default_around(as_of)?,
            exclusions: Exclusions::default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn window_example_of_rules_md() {
        let w = Window::default_around(d("2025-06-15")).unwrap();
        assert_eq!((w.from, w.to), (d("2023-06-15"), d("2025-07-30")));
        assert!(w.contains(d("2023-06-15")) && w.contains(d("2025-07-30")));
        assert!(!w.contains(d("2023-06-14")) && !w.contains(d("2025-07-31")));
    }

    #[test]
    fn leap_day_becomes_28_february() {
        let w = Window::around(d("2024-02-29"), 2, 0).unwrap();
        assert_eq!(w.from, d("2022-02-28"));
    }

    #[test]
    fn extra_distance_per_must_be_positive_and_finite() {
        for x in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            assert!(GeoParams::default().with_extra_distance_per(x).is_err());
        }
        assert_eq!(
            GeoParams::default()
                .with_extra_distance_per(1.1)
                .unwrap()
                .extra_distance_per(),
            1.1
        );
    }

    #[test]
    fn switch_values_parse_in_both_spellings_and_print_as_the_config_file_writes_them() {
        // docs/lifecycle.md §0 (configuration file) and docs/file-formats.md §1 (command line).
        assert_eq!("one_way".parse(), Ok(Direction::OneWay));
        assert_eq!("both-ways".parse(), Ok(Direction::BothWays));
        assert_eq!("abs-end-to-start".parse(), Ok(DistanceGap::AbsEndToStart));
        assert_eq!(
            "positive-either-way".parse(),
            Ok(MinuteDiff::MinPositiveOrZero)
        );
        assert_eq!(
            "min_positive_or_zero".parse(),
            Ok(MinuteDiff::MinPositiveOrZero)
        );
        assert_eq!("whole-miles".parse(), Ok(EtaMiles::WholeMiles));
        assert_eq!(
            "provider-patient-zip".parse(),
            Ok(ZipCheck::ProviderPatientZip)
        );
        assert_eq!(EtaMiles::TwoDecimals.to_string(), "two_decimals");
        assert_eq!(
            "furlongs".parse::<EtaMiles>(),
            Err("expected two_decimals or whole_miles".to_string())
        );
        assert!("positive_either_way".parse::<DistanceGap>().is_ok());
        assert!("min_positive_or_zero".parse::<DistanceGap>().is_err());
    }

    #[test]
    fn metres_per_mile_must_be_positive_and_finite() {
        for m in [0.0, -1609.0, f64::NAN, f64::NEG_INFINITY] {
            assert!(matches!(
                GeoParams::default().with_metres_per_mile(m),
                Err(ParamError::MetresPerMile(_))
            ));
        }
        // docs/rules.md §8.1: the mile is 1609 m by default; the exact value can be chosen.
        assert_eq!(GeoParams::default().metres_per_mile(), 1609.0);
        let exact = GeoParams::default().with_metres_per_mile(1609.344).unwrap();
        assert_eq!(exact.metres_per_mile(), 1609.344);
    }

    #[test]
    fn classic_differs_from_current_in_four_switches_only() {
        let (c, k) = (
            RuleOptions::profile(Profile::Current),
            RuleOptions::profile(Profile::Classic),
        );
        assert_eq!(c.zip_check, k.zip_check);
        assert_eq!(c.cross_state_filter, k.cross_state_filter);
        assert_ne!(c.rules_3_6_direction, k.rules_3_6_direction);
        assert_ne!(c.distance_gap, k.distance_gap);
        assert_ne!(c.minute_diff, k.minute_diff);
        assert_ne!(c.eta_miles, k.eta_miles);
    }
}
