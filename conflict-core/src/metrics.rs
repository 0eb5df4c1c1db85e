//! The four metrics and the DistanceFlag (docs/rules.md §8–§9).

use crate::bands::SpeedBands;
use crate::decimal::Decimal;
use crate::geo::{eta_hundredths, hundredths, whole_miles_hundredths};
use crate::options::{DistanceGap, EtaMiles, MinuteDiff, RuleOptions};
use crate::rules::{datediff_min, Times};

/// Metrics of one ordered pair. Two-decimal values are integer hundredths.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Metrics {
    /// `MinuteDiff`: minutes between the two visits (docs/rules.md §8.4).
    pub minute_diff: Option<i64>,
    /// `DistanceMilesFromLatLng`, whole miles (docs/rules.md §8.1).
    pub distance_h: Option<i64>,
    /// `AverageMilesPerHour` of the band the distance falls in (docs/rules.md §8.2).
    pub mph: Option<Decimal>,
    /// `ETATravleMinutes`: minutes the distance takes at that speed (docs/rules.md §8.3).
    pub eta_h: Option<i64>,
}

/// Computes the metrics and DistanceFlag of (V1, V2). `miles` is the unrounded `m` when both
/// visits have a location; `zip_ok` is the zip part of gate G.
pub fn metrics_and_distance_flag(
    v1: &Times,
    v2: &Times,
    miles: Option<f64>,
    zip_ok: bool,
    opts: &RuleOptions,
    bands: &SpeedBands,
) -> (Metrics, bool) {
    let g12 = datediff_min(v1.act.1, v2.act.0);
    let g21 = datediff_min(v2.act.1, v1.act.0);
    let minute_diff = match opts.minute_diff {
        MinuteDiff::AbsEndToStart => g12.map(i64::abs),
        MinuteDiff::MinPositiveOrZero => Some(min_positive_or_zero(g12, g21)),
    };
    let distance_h = miles.map(hundredths);
    let mph = distance_h.and_then(|d| bands.lookup(d));
    let eta_h = match (miles, distance_h, mph) {
        (Some(m), Some(d), Some(mph)) => {
            let miles_h = match opts.eta_miles {
                EtaMiles::TwoDecimals => d,
                EtaMiles::WholeMiles => whole_miles_hundredths(m),
            };
            eta_hundredths(miles_h, mph)
        }
        _ => None,
    };
    let gate = v1.completed() && v2.completed() && zip_ok;
    let flag = match (gate, eta_h) {
        (true, Some(eta)) => match opts.distance_gap {
            DistanceGap::AbsEndToStart => g12.is_some_and(|g| eta > g.abs() * 100),
            DistanceGap::PositiveEitherWay => {
                g12.is_some_and(|g| g > 0 && eta > g * 100)
                    || g21.is_some_and(|g| g > 0 && eta > g * 100)
            }
        },
        _ => false,
    };
    let m = Metrics {
        minute_diff,
        distance_h,
        mph,
        eta_h,
    };
    (m, flag)
}

fn min_positive_or_zero(g12: Option<i64>, g21: Option<i64>) -> i64 {
    match (g12.filter(|&g| g > 0), g21.filter(|&g| g > 0)) {
        (Some(a), Some(b)) => a.min(b),
        (Some(a), None) => a,
        (None, Some(b)) => b,
        (None, None) => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classic_minute_diff_table() {
        assert_eq!(min_positive_or_zero(Some(20), Some(5)), 5);
        assert_eq!(min_positive_or_zero(Some(20), Some(-5)), 20);
        assert_eq!(min_positive_or_zero(Some(0), Some(7)), 7);
        assert_eq!(min_positive_or_zero(Some(0), Some(-120)), 0);
        assert_eq!(min_positive_or_zero(None, None), 0);
    }
}
