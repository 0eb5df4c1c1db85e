//! Strict cell syntax of docs/file-formats.md §2.

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};

/// `YYYY-MM-DD`.
pub fn parse_date(s: &str) -> Result<NaiveDate, String> {
    let b = s.as_bytes();
    let shape_ok = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    if !shape_ok {
        return Err(format!("expected a date YYYY-MM-DD, found {s:?}"));
    }
    let n = |r: std::ops::Range<usize>| s[r].parse::<u32>().unwrap_or(0);
    NaiveDate::from_ymd_opt(n(0..4) as i32, n(5..7), n(8..10))
        .ok_or_else(|| format!("{s:?} is not a calendar date"))
}

/// `YYYY-MM-DD HH:MM:SS` with `T` allowed for the space and an optional 1–9 digit fraction.
/// No zone suffix.
pub fn parse_timestamp(s: &str) -> Result<NaiveDateTime, String> {
    let expected = || format!("expected a timestamp YYYY-MM-DD HH:MM:SS[.ffffff], found {s:?}");
    if s.len() < 19 || !s.is_char_boundary(10) || !s.is_char_boundary(19) {
        return Err(expected());
    }
    let (date, rest) = s.split_at(10);
    let date = parse_date(date).map_err(|_| expected())?;
    let b = rest.as_bytes();
    if !(b[0] == b' ' || b[0] == b'T') {
        return Err(expected());
    }
    let hms = &rest[1..9];
    let hb = hms.as_bytes();
    let shape_ok = hb[2] == b':'
        && hb[5] == b':'
        && hb
            .iter()
            .enumerate()
            .all(|(i, c)| i == 2 || i == 5 || c.is_ascii_digit());
    if !shape_ok {
        return Err(expected());
    }
    let n = |r: std::ops::Range<usize>| hms[r].parse::<u32>().unwrap_or(99);
    let frac = &rest[9..];
    let nanos = if frac.is_empty() {
        0
    } else {
        let digits = frac.strip_prefix('.').ok_or_else(|| {
            if frac.ends_with('Z') || frac.contains(['+', '-']) {
                format!("{s:?} has a time zone suffix; timestamps are naive (UTC wall clock)")
            } else {
                expected()
            }
        })?;
        if digits.is_empty() || digits.len() > 9 || !digits.bytes().all(|c| c.is_ascii_digit()) {
            return Err(if digits.contains(['Z', '+', '-']) {
                format!("{s:?} has a time zone suffix; timestamps are naive (UTC wall clock)")
            } else {
                expected()
            });
        }
        format!("{digits:0<9}")
            .parse::<u32>()
            .map_err(|_| expected())?
    };
    let time = NaiveTime::from_hms_nano_opt(n(0..2), n(3..5), n(6..8), nanos)
        .ok_or_else(|| format!("{s:?} is not a valid time of day"))?;
    Ok(date.and_time(time))
}

pub fn parse_bool(s: &str) -> Result<bool, String> {
    match s.to_ascii_lowercase().as_str() {
        "true" | "t" | "1" => Ok(true),
        "false" | "f" | "0" => Ok(false),
        _ => Err(format!("expected true or false, found {s:?}")),
    }
}

pub fn parse_i64(s: &str) -> Result<i64, String> {
    s.parse()
        .map_err(|_| format!("expected a 64-bit integer, found {s:?}"))
}

pub fn parse_coordinate(s: &str) -> Result<f64, String> {
    conflict_core::gps::parse_plain_f64(s)
        .ok_or_else(|| format!("expected a plain decimal such as -73.99, found {s:?}"))
}

/// Timestamp in the canonical output form (fraction only when present).
pub fn format_timestamp(t: &NaiveDateTime) -> String {
    let base = t.format("%Y-%m-%d %H:%M:%S").to_string();
    let nanos = t.and_utc().timestamp_subsec_nanos();
    if nanos == 0 {
        base
    } else {
        let f = format!("{nanos:09}");
        format!("{base}.{}", f.trim_end_matches('0'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps() {
        let ok = |s: &str| parse_timestamp(s).unwrap();
        assert_eq!(
            format_timestamp(&ok("2025-06-10 09:00:00")),
            "2025-06-10 09:00:00"
        );
        assert_eq!(
            format_timestamp(&ok("2025-06-10T09:00:00.5")),
            "2025-06-10 09:00:00.5"
        );
        assert_eq!(
            format_timestamp(&ok("2025-06-10 09:00:00.123456789")),
            "2025-06-10 09:00:00.123456789"
        );
        for bad in [
            "2025-06-10",
            "2025-06-10 9:00:00",
            "2025-06-10 09:00:00Z",
            "2025-06-10 09:00:00+02:00",
            "2025-06-10 09:00:00.",
            "2025-06-10 09:00:00.1234567890",
            "2025-02-30 09:00:00",
            "2025-06-10 24:00:00",
            "2025-06-10x09:00:00",
            "2025-06-10 09:00:0é",
        ] {
            assert!(parse_timestamp(bad).is_err(), "{bad}");
        }
        assert!(parse_timestamp("2025-06-10 09:00:00Z")
            .unwrap_err()
            .contains("zone"));
    }

    #[test]
    fn dates_and_bools() {
        assert!(parse_date("2025-6-10").is_err());
        assert!(parse_date("2025-13-01").is_err());
        assert_eq!(parse_date("2024-02-29").unwrap().to_string(), "2024-02-29");
        for (s, b) in [("TRUE", true), ("f", false), ("1", true), ("0", false)] {
            assert_eq!(parse_bool(s).unwrap(), b);
        }
        assert!(parse_bool("yes").is_err());
    }
}
