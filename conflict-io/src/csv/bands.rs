//! mph.csv (docs/file-formats.md §3).

use std::io::Read;
use std::path::Path;

use conflict_core::{Decimal, SpeedBand, SpeedBands};

use super::problems::{CsvError, Problems};
use super::reader::{
    check_width, column_positions, csv_reader, line_of, open, UnknownColumns, Width,
};

const COLUMNS: [&str; 3] = ["from", "to", "average_mph"];

/// Reads `mph.csv` (docs/file-formats.md §3).
pub fn read_bands(path: &Path) -> Result<SpeedBands, CsvError> {
    let file = open(path)?;
    read_bands_from(file, path)
}

/// [`read_bands`] from any reader; `path` names the input in messages.
pub fn read_bands_from(input: impl Read, path: &Path) -> Result<SpeedBands, CsvError> {
    let (mut rdr, lines) = csv_reader(input);
    let mut problems = Problems::default();
    let mut rows = rdr.records();
    let header = match rows.next() {
        Some(Ok(h)) => h,
        Some(Err(e)) => {
            problems.push(1, None, e);
            return problems.into_result(path).map(|_| SpeedBands::default());
        }
        None => {
            problems.push(
                1,
                None,
                "the file is empty; header from,to,average_mph is required",
            );
            return problems.into_result(path).map(|_| SpeedBands::default());
        }
    };
    let pos = column_positions(
        header.iter().map(Some),
        &COLUMNS,
        &COLUMNS,
        UnknownColumns::Refuse("unknown column (expected from, to, average_mph)"),
        &mut problems,
    );
    if !problems.is_empty() {
        return problems.into_result(path).map(|_| SpeedBands::default());
    }
    let mut bands = Vec::new();
    for row in rows {
        let row = match row {
            Ok(r) => r,
            Err(e) => {
                problems.push(line_of(e.position(), &lines), None, e);
                continue;
            }
        };
        let line = line_of(row.position(), &lines);
        if !check_width(line, header.len(), row.len(), Width::Plain, &mut problems) {
            continue;
        }
        let cell = |c: &str| conflict_core::model::trim(&row[pos[c]]);
        let bound = |c: &str, problems: &mut Problems| match cell(c).parse::<i64>() {
            Ok(v) if v >= 0 => Some(v),
            _ => {
                problems.push(
                    line,
                    Some(c),
                    format!("expected a non-negative integer, found {:?}", cell(c)),
                );
                None
            }
        };
        let from = bound("from", &mut problems);
        let to = bound("to", &mut problems);
        let mph = match Decimal::parse_plain(cell("average_mph")) {
            Ok(d) if !d.is_negative() => Some(d),
            Ok(_) => {
                problems.push(line, Some("average_mph"), "must not be negative");
                None
            }
            Err(e) => {
                problems.push(line, Some("average_mph"), e);
                None
            }
        };
        if let (Some(from), Some(to), Some(mph)) = (from, to, mph) {
            match SpeedBand::new(from, to, mph) {
                Ok(b) => bands.push(b),
                Err(e) => problems.push(line, Some("from"), e),
            }
        }
    }
    problems.into_result(path).map(|_| SpeedBands::new(bands))
}

/// Writes `from,to,average_mph` rows (atomically).
pub fn write_bands(path: &Path, bands: &SpeedBands) -> Result<(), CsvError> {
    super::atomic::write_atomically(path, |w| {
        let mut out = csv::WriterBuilder::new()
            .terminator(csv::Terminator::Any(b'\n'))
            .from_writer(w);
        out.write_record(COLUMNS)?;
        for b in bands.as_slice() {
            out.write_record([b.from.to_string(), b.to.to_string(), b.mph.to_string()])?;
        }
        out.flush()
    })
}
