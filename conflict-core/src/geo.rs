//! Great-circle distance, exact rounding and the decimal ETA (docs/rules.md §1, §8.1, §8.3).

use crate::decimal::Decimal;
use crate::options::GeoParams;

/// Haversine distance in metres between two points given in degrees.
pub fn great_circle_m(lat1: f64, lon1: f64, lat2: f64, lon2: f64, radius_m: f64) -> f64 {
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    haversine_rad(
        p1,
        p1.cos(),
        lon1.to_radians(),
        p2,
        p2.cos(),
        lon2.to_radians(),
        radius_m,
    )
}

/// Haversine on pre-converted radians and cosines (the batch keeps them per visit so the
/// pair loop does not recompute them; the arithmetic is the same as [`great_circle_m`]).
#[inline]
pub fn haversine_rad(
    phi1: f64,
    cos1: f64,
    lam1: f64,
    phi2: f64,
    cos2: f64,
    lam2: f64,
    radius_m: f64,
) -> f64 {
    let s_phi = ((phi2 - phi1) / 2.0).sin();
    let s_lam = ((lam2 - lam1) / 2.0).sin();
    let h = s_phi * s_phi + cos1 * cos2 * s_lam * s_lam;
    2.0 * radius_m * h.sqrt().min(1.0).asin()
}

/// Unrounded miles `m = dist_m / metres_per_mile × X`, in that order.
#[inline]
pub fn miles(dist_m: f64, geo: &GeoParams) -> f64 {
    dist_m / geo.metres_per_mile() * geo.extra_distance_per()
}

/// `round2(m)` as integer hundredths (`f64::round` is half away from zero).
#[inline]
pub fn hundredths(m: f64) -> i64 {
    (m * 100.0).round() as i64
}

/// Whole miles `rha(m)` as hundredths (the `classic` ETA input).
#[inline]
pub fn whole_miles_hundredths(m: f64) -> i64 {
    (m.round() as i64).saturating_mul(100)
}

/// Integer division rounding half away from zero; `den > 0`.
#[inline]
pub fn div_rha(num: i128, den: i128) -> i128 {
    debug_assert!(den > 0);
    let q = num / den;
    let r = num % den;
    if 2 * r.abs() >= den {
        q + num.signum()
    } else {
        q
    }
}

/// `ETA_h = rha(D_h × 60 × 10^k / M)` for `mph = M / 10^k`; NULL when mph is 0.
pub fn eta_hundredths(distance_h: i64, mph: Decimal) -> Option<i64> {
    if mph.mantissa() <= 0 {
        return None;
    }
    let num = distance_h as i128 * 60 * 10i128.pow(mph.scale());
    i64::try_from(div_rha(num, mph.mantissa() as i128)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances_of_the_worked_examples() {
        let geo = GeoParams::default();
        let m = |lat: f64| {
            miles(
                great_circle_m(40.75, -73.99, lat, -73.99, geo.earth_radius_m()),
                &geo,
            )
        };
        for (lat, want) in [
            (40.7862, 2.501717),
            (40.8224, 5.003433),
            (40.8947, 9.999955),
            (40.9294, 12.398010),
            (40.967, 14.996478),
            (41.04, 20.041376),
        ] {
            assert!((m(lat) - want).abs() < 5e-7, "{lat}: {} vs {want}", m(lat));
        }
        assert_eq!(hundredths(m(40.8947)), 1000);
    }

    #[test]
    fn eta_rounds_half_away_from_zero_exactly() {
        let mph = |s| Decimal::parse_plain(s).unwrap();
        assert_eq!(eta_hundredths(5, mph("24")), Some(13)); // 0.125 -> 0.13
        assert_eq!(eta_hundredths(1500, mph("35")), Some(2571));
        assert_eq!(eta_hundredths(1240, mph("35")), Some(2126));
        assert_eq!(eta_hundredths(1200, mph("35")), Some(2057));
        assert_eq!(eta_hundredths(100, mph("12.5")), Some(480));
        assert_eq!(eta_hundredths(100, mph("0")), None);
    }

    #[test]
    fn div_rha_on_negative_numbers() {
        assert_eq!(div_rha(-5, 2), -3);
        assert_eq!(div_rha(5, 2), 3);
        assert_eq!(div_rha(-4, 3), -1);
    }
}
