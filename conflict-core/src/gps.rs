//! GPS strings and the location priority (docs/rules.md §4).

use crate::decimal::split_plain;
use crate::model::{trim, Location, LocationSource, Visit};
use crate::rows::VisitRef;
use crate::stats::WarningKind;

/// Outcome of parsing one GPS string (docs/rules.md §4.1).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Gps {
    /// NULL, blank or `,`: silently no location.
    None,
    /// A string that is not a location; the kind says why (a counted warning).
    Invalid(WarningKind),
    /// A valid location.
    Valid(Location),
}

/// Parses a GPS string as docs/rules.md §4 says: `lat,lon` in degrees, with the listed tolerances.
pub fn parse_gps(raw: Option<&str>) -> Gps {
    let Some(raw) = raw else { return Gps::None };
    // Most strings hold no quote: borrow them instead of copying (the hot path of admission).
    let cleaned: std::borrow::Cow<str> = if raw.contains('"') {
        raw.replace('"', "").into()
    } else {
        raw.into()
    };
    if trim(&cleaned).is_empty() {
        return Gps::None;
    }
    let mut parts = cleaned.split(',');
    let (Some(a), Some(b), None) = (parts.next(), parts.next(), parts.next()) else {
        return Gps::Invalid(WarningKind::GpsUnparsable);
    };
    let (a, b) = (trim(a), trim(b));
    match (a.is_empty(), b.is_empty()) {
        (true, true) => return Gps::None,
        (true, false) | (false, true) => return Gps::Invalid(WarningKind::GpsUnparsable),
        _ => {}
    }
    let (Some(lat), Some(lon)) = (parse_plain_f64(a), parse_plain_f64(b)) else {
        return Gps::Invalid(WarningKind::GpsUnparsable);
    };
    match checked_location(lat, lon) {
        Some(loc) => Gps::Valid(loc),
        None => Gps::Invalid(WarningKind::GpsOutOfRange),
    }
}

/// Plain decimal (no exponent, no inf/nan) parsed as f64.
pub fn parse_plain_f64(s: &str) -> Option<f64> {
    split_plain(s)?;
    s.parse().ok()
}

fn checked_location(lat: f64, lon: f64) -> Option<Location> {
    (lat.abs() <= 90.0 && lon.abs() <= 180.0).then_some(Location { lat, lon })
}

/// Resolves a visit's location by priority, reporting each warning raised on the way.
pub fn resolve_location(
    v: &Visit,
    warn: impl FnMut(WarningKind),
) -> Option<(Location, LocationSource)> {
    resolve_location_of(&v.as_row(), warn)
}

/// [`resolve_location`] of a borrowed visit.
#[inline]
pub fn resolve_location_of(
    v: &VisitRef<'_>,
    mut warn: impl FnMut(WarningKind),
) -> Option<(Location, LocationSource)> {
    for (raw, source) in [
        (v.call_out_gps, LocationSource::CallOut),
        (v.call_in_gps, LocationSource::CallIn),
    ] {
        match parse_gps(raw) {
            Gps::Valid(loc) => return Some((loc, source)),
            Gps::Invalid(kind) => warn(kind),
            Gps::None => {}
        }
    }
    let (lat, lon) = (v.address_lat?, v.address_lon?);
    match checked_location(lat, lon) {
        Some(loc) => Some((loc, LocationSource::Address)),
        None => {
            warn(WarningKind::AddressOutOfRange);
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loc(lat: f64, lon: f64) -> Gps {
        Gps::Valid(Location { lat, lon })
    }

    #[test]
    fn parsing_steps_of_rules_md() {
        use WarningKind::*;
        let cases: &[(Option<&str>, Gps)] = &[
            (None, Gps::None),
            (Some(""), Gps::None),
            (Some("\"\""), Gps::None),
            (Some(" , "), Gps::None),
            (Some(","), Gps::None),
            (Some("\"40.75\",\"-73.99\""), loc(40.75, -73.99)),
            (Some("  40.8224 , -73.99 "), loc(40.8224, -73.99)),
            (Some("40.75,-73.99,0"), Gps::Invalid(GpsUnparsable)),
            (Some("N/A"), Gps::Invalid(GpsUnparsable)),
            (Some("40.75,"), Gps::Invalid(GpsUnparsable)),
            (Some("1e1,2"), Gps::Invalid(GpsUnparsable)),
            (Some("inf,2"), Gps::Invalid(GpsUnparsable)),
            (Some(".5,+5."), loc(0.5, 5.0)),
            (Some("91.0,-73.99"), Gps::Invalid(GpsOutOfRange)),
            (Some("-90,180"), loc(-90.0, 180.0)),
            (Some("0,0"), loc(0.0, 0.0)),
            (Some("10,-180.0001"), Gps::Invalid(GpsOutOfRange)),
        ];
        for (input, want) in cases {
            assert_eq!(parse_gps(*input), *want, "{input:?}");
        }
    }

    #[test]
    fn priority_falls_through_and_counts_each_invalid_source() {
        let mut v = Visit {
            call_out_gps: Some("40.75,-73.99,0".into()),
            call_in_gps: Some("N/A".into()),
            address_lat: Some(40.967),
            address_lon: Some(-73.99),
            ..Visit::default()
        };
        let mut warnings = vec![];
        let got = resolve_location(&v, |k| warnings.push(k));
        assert_eq!(got.unwrap().1, LocationSource::Address);
        assert_eq!(warnings.len(), 2);

        v.address_lat = Some(95.0);
        warnings.clear();
        assert!(resolve_location(&v, |k| warnings.push(k)).is_none());
        assert_eq!(warnings.last(), Some(&WarningKind::AddressOutOfRange));

        v.call_out_gps = Some("1,2".into());
        warnings.clear();
        assert_eq!(
            resolve_location(&v, |k| warnings.push(k)).unwrap().1,
            LocationSource::CallOut
        );
        assert!(warnings.is_empty(), "later sources are not examined");
    }
}
