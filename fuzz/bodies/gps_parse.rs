//! Arbitrary bytes as a GPS string (docs/rules.md §4.1): never panics, and a valid location is
//! always finite and in range.
//!
//! The body of the `gps_parse` fuzz target, shared (by `#[path]`) with the corpus test of
//! conflict-io so that its assertions also run on stable Rust.

use conflict_core::gps::{parse_gps, Gps};
use conflict_core::WarningKind;

/// Checks one input; panics when a property does not hold.
pub fn check(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let got = parse_gps(Some(&text));
    match got {
        Gps::Valid(loc) => {
            assert!(
                loc.lat.is_finite() && loc.lon.is_finite(),
                "{text:?} -> {loc:?}"
            );
            assert!(
                loc.lat.abs() <= 90.0 && loc.lon.abs() <= 180.0,
                "{text:?} -> {loc:?}"
            );
            // Exactly two comma-separated parts after the quotes are removed.
            assert_eq!(text.matches(',').count(), 1, "{text:?}");
        }
        Gps::Invalid(kind) => {
            assert!(
                matches!(
                    kind,
                    WarningKind::GpsUnparsable | WarningKind::GpsOutOfRange
                ),
                "{text:?} -> {kind:?}"
            );
        }
        Gps::None => {
            // Silent only for blank input or a lone comma between blanks (steps 3 and 5).
            let cleaned: String = text.chars().filter(|&c| c != '"').collect();
            let blank = |s: &str| s.trim_matches(|c: char| c.is_ascii_whitespace()).is_empty();
            let parts: Vec<&str> = cleaned.split(',').collect();
            assert!(
                blank(&cleaned) || (parts.len() == 2 && parts.iter().all(|p| blank(p))),
                "{text:?} gave no GPS"
            );
        }
    }
    // Quotes never matter.
    let unquoted: String = text.chars().filter(|&c| c != '"').collect();
    assert_eq!(parse_gps(Some(&unquoted)), got, "{text:?}");
}
