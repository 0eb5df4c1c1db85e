//! conflicts.csv (docs/file-formats.md §5).

use std::io::Write;
use std::path::Path;

use conflict_core::{DetectReport, DetectedPair, Visit};

use super::atomic::write_atomically;
use super::problems::CsvError;

/// The header of `conflicts.csv` (docs/file-formats.md §5).
pub const CONFLICTS_HEADER: &str = "visit_id,con_visit_id,ssn,visit_date,provider_id,con_provider_id,SameSchTimeFlag,SameVisitTimeFlag,SchAndVisitTimeSameFlag,SchOverAnotherSchTimeFlag,VisitTimeOverAnotherVisitTimeFlag,SchTimeOverVisitTimeFlag,DistanceFlag,MinuteDiffBetweenSch,DistanceMilesFromLatLng,AverageMilesPerHour,ETATravelMinutes";

/// Sorts `pairs` by (visit_id, con_visit_id) bytes and writes them atomically to `path`.
pub fn write_conflicts(
    path: &Path,
    visits: &[Visit],
    report: &DetectReport,
    pairs: &mut [DetectedPair],
) -> Result<(), CsvError> {
    write_atomically(path, |w| write_conflicts_to(w, visits, report, pairs))
}

/// As [`write_conflicts`], to any writer.
pub fn write_conflicts_to(
    w: &mut dyn Write,
    visits: &[Visit],
    report: &DetectReport,
    pairs: &mut [DetectedPair],
) -> std::io::Result<()> {
    pairs.sort_unstable_by(|a, b| {
        let key = |p: &DetectedPair| {
            (
                visits[p.v1].visit_id.as_bytes(),
                visits[p.v2].visit_id.as_bytes(),
            )
        };
        key(a).cmp(&key(b))
    });
    let mut out = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .quote_style(csv::QuoteStyle::Necessary)
        .from_writer(w);
    out.write_record(CONFLICTS_HEADER.split(','))?;
    let yn = |b: bool| if b { "Y" } else { "N" };
    let two = |h: Option<i64>| h.map(format_hundredths).unwrap_or_default();
    for p in pairs.iter() {
        let (a, b) = (&visits[p.v1], &visits[p.v2]);
        let m = &p.metrics;
        let mut rec: Vec<String> = vec![
            a.visit_id.clone(),
            b.visit_id.clone(),
            report.ssn(p.v1).unwrap_or_default().to_string(),
            a.visit_date.to_string(),
            a.provider_id.clone(),
            b.provider_id.clone(),
        ];
        rec.extend(p.flags.iter().map(|f| yn(f).to_string()));
        rec.push(m.minute_diff.map(|x| x.to_string()).unwrap_or_default());
        rec.push(two(m.distance_h));
        rec.push(m.mph.map(|x| x.to_string()).unwrap_or_default());
        rec.push(two(m.eta_h));
        out.write_record(&rec)?;
    }
    out.flush()
}

/// Integer hundredths as a two-decimal text (`1500` → `15.00`).
pub fn format_hundredths(h: i64) -> String {
    let sign = if h < 0 { "-" } else { "" };
    let a = h.unsigned_abs();
    format!("{sign}{}.{:02}", a / 100, a % 100)
}

#[cfg(test)]
mod tests {
    use super::format_hundredths;

    #[test]
    fn hundredths_format() {
        assert_eq!(format_hundredths(0), "0.00");
        assert_eq!(format_hundredths(5), "0.05");
        assert_eq!(format_hundredths(2571), "25.71");
        assert_eq!(format_hundredths(-5), "-0.05");
    }
}
