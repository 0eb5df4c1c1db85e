//! conflicts.csv (docs/file-formats.md §5).

use std::io::Write;
use std::path::Path;

use conflict_core::{DetectReport, DetectedPair, VisitRows};

use super::atomic::write_atomically;
use super::problems::CsvError;

/// The header of `conflicts.csv` (docs/file-formats.md §5).
pub const CONFLICTS_HEADER: &str = "visit_id,con_visit_id,ssn,visit_date,provider_id,con_provider_id,SameSchTimeFlag,SameVisitTimeFlag,SchAndVisitTimeSameFlag,SchOverAnotherSchTimeFlag,VisitTimeOverAnotherVisitTimeFlag,SchTimeOverVisitTimeFlag,DistanceFlag,MinuteDiffBetweenSch,DistanceMilesFromLatLng,AverageMilesPerHour,ETATravelMinutes";

/// Sorts `pairs` by (visit_id, con_visit_id) bytes and writes them atomically to `path`.
pub fn write_conflicts<R: VisitRows + ?Sized>(
    path: &Path,
    visits: &R,
    report: &DetectReport,
    pairs: &mut [DetectedPair],
) -> Result<(), CsvError> {
    write_atomically(path, |w| write_conflicts_to(w, visits, report, pairs))
}

/// As [`write_conflicts`], to any writer. Each row is formatted into one reused buffer (no
/// string per field); the text is what the `csv` crate writes with `QuoteStyle::Necessary`.
pub fn write_conflicts_to<R: VisitRows + ?Sized>(
    w: &mut dyn Write,
    visits: &R,
    report: &DetectReport,
    pairs: &mut [DetectedPair],
) -> std::io::Result<()> {
    pairs.sort_unstable_by(|a, b| {
        let key = |p: &DetectedPair| {
            (
                visits.visit_id(p.v1).as_bytes(),
                visits.visit_id(p.v2).as_bytes(),
            )
        };
        key(a).cmp(&key(b))
    });
    let mut row: Vec<u8> = Vec::with_capacity(256);
    row.extend_from_slice(CONFLICTS_HEADER.as_bytes());
    row.push(b'\n');
    w.write_all(&row)?;
    for p in pairs.iter() {
        row.clear();
        let (a, b) = (visits.get(p.v1), visits.get(p.v2));
        let m = &p.metrics;
        field(&mut row, a.visit_id);
        row.push(b',');
        field(&mut row, b.visit_id);
        row.push(b',');
        field(&mut row, report.ssn(p.v1).unwrap_or_default());
        write!(row, ",{},", a.visit_date)?;
        field(&mut row, a.provider_id);
        row.push(b',');
        field(&mut row, b.provider_id);
        for f in p.flags.iter() {
            row.extend_from_slice(if f { b",Y" } else { b",N" });
        }
        row.push(b',');
        if let Some(x) = m.minute_diff {
            write!(row, "{x}")?;
        }
        row.push(b',');
        if let Some(h) = m.distance_h {
            hundredths(&mut row, h);
        }
        row.push(b',');
        if let Some(x) = &m.mph {
            write!(row, "{x}")?;
        }
        row.push(b',');
        if let Some(h) = m.eta_h {
            hundredths(&mut row, h);
        }
        row.push(b'\n');
        w.write_all(&row)?;
    }
    w.flush()
}

/// Appends a text field, quoted exactly when the `csv` crate's `QuoteStyle::Necessary` quotes
/// it (a comma, a quote, CR or LF inside), with inner quotes doubled.
fn field(out: &mut Vec<u8>, s: &str) {
    let b = s.as_bytes();
    if !b.iter().any(|c| matches!(c, b',' | b'"' | b'\r' | b'\n')) {
        out.extend_from_slice(b);
        return;
    }
    out.push(b'"');
    for &c in b {
        if c == b'"' {
            out.push(b'"');
        }
        out.push(c);
    }
    out.push(b'"');
}

/// [`format_hundredths`] into a buffer.
fn hundredths(out: &mut Vec<u8>, h: i64) {
    let a = h.unsigned_abs();
    // Writing into a Vec cannot fail.
    let _ = write!(
        out,
        "{}{}.{:02}",
        if h < 0 { "-" } else { "" },
        a / 100,
        a % 100
    );
}

/// Integer hundredths as a two-decimal text (`1500` → `15.00`).
#[cfg(test)]
fn format_hundredths(h: i64) -> String {
    let sign = if h < 0 { "-" } else { "" };
    let a = h.unsigned_abs();
    format!("{sign}{}.{:02}", a / 100, a % 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hundredths_format() {
        assert_eq!(format_hundredths(0), "0.00");
        assert_eq!(format_hundredths(5), "0.05");
        assert_eq!(format_hundredths(2571), "25.71");
        assert_eq!(format_hundredths(-5), "-0.05");
    }

    /// The buffer writer against the `csv` crate with the settings the writer used before
    /// (the reference for the bytes of every field).
    #[test]
    fn fields_are_quoted_as_the_csv_crate_quotes_them() {
        for s in [
            "plain",
            "a,b",
            "say \"hi\"",
            "two\nlines",
            "cr\rx",
            "",
            " pad ",
            "é",
        ] {
            let mut mine = Vec::new();
            field(&mut mine, s);
            mine.extend_from_slice(b",x\n");
            let mut theirs = csv::WriterBuilder::new()
                .terminator(csv::Terminator::Any(b'\n'))
                .quote_style(csv::QuoteStyle::Necessary)
                .from_writer(Vec::new());
            theirs.write_record([s, "x"]).unwrap();
            assert_eq!(mine, theirs.into_inner().unwrap(), "{s:?}");
        }
        for h in [0, 5, -5, 2571, -123456, i64::MIN, i64::MAX] {
            let mut b = Vec::new();
            hundredths(&mut b, h);
            assert_eq!(String::from_utf8(b).unwrap(), format_hundredths(h));
        }
    }
}
