//! visits.csv (docs/file-formats.md §2): strict reader and a writer for generated data.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::Path;

use conflict_core::Visit;

use super::atomic::write_atomically;
use super::fields::{
    format_timestamp, parse_bool, parse_coordinate, parse_date, parse_i64, parse_timestamp,
};
use super::problems::{CsvError, Problems};
use super::reader::{
    check_width, column_positions, csv_reader, line_of, open, UnknownColumns, Width,
};

/// Every column file mode knows, in the order the writer emits them. `caregiver_id` is an
/// extension of docs/file-formats.md (used by InService in file mode); it is optional.
pub const VISIT_COLUMNS: [&str; 20] = [
    "visit_id",
    "app_visit_id",
    "ssn",
    "provider_id",
    "visit_date",
    "sch_start",
    "sch_end",
    "visit_start",
    "visit_end",
    "call_out_gps",
    "call_in_gps",
    "address_latitude",
    "address_longitude",
    "patient_zip",
    "patient_state",
    "payer_patient_state",
    "provider_state",
    "is_missed",
    "updated_at",
    "caregiver_id",
];

/// Columns a visits file must have; the fast table reader refuses a header lacking one so the
/// strict reader gives its message.
pub(super) const REQUIRED: [&str; 8] = [
    "visit_id",
    "ssn",
    "provider_id",
    "visit_date",
    "sch_start",
    "sch_end",
    "visit_start",
    "visit_end",
];

/// Visits read from a file, with the line each started on.
#[derive(Debug, Clone, Default)]
pub struct CsvVisits {
    /// The visits, in file order.
    pub visits: Vec<Visit>,
    /// The file line of each visit, for messages.
    pub lines: Vec<u64>,
    /// Header names the reader does not know (ignored).
    pub unknown_columns: Vec<String>,
}

/// Reads `visits.csv` (docs/file-formats.md §2); every malformed cell is reported.
pub fn read_visits(path: &Path) -> Result<CsvVisits, CsvError> {
    let file = open(path)?;
    read_visits_from(std::io::BufReader::with_capacity(1 << 20, file), path)
}

/// Reads visits from any reader; `path` only labels messages.
pub fn read_visits_from(input: impl Read, path: &Path) -> Result<CsvVisits, CsvError> {
    let (mut rdr, lines) = csv_reader(input);
    let mut problems = Problems::default();
    let mut out = CsvVisits::default();
    let mut record = csv::ByteRecord::new();
    let io_err = |e: csv::Error, line: u64, problems: &mut Problems| -> Option<CsvError> {
        if e.is_io_error() {
            if let csv::ErrorKind::Io(source) = e.into_kind() {
                return Some(CsvError::Io {
                    path: path.to_path_buf(),
                    error: source,
                });
            }
            None
        } else {
            problems.push(line, None, e);
            None
        }
    };

    let header = match rdr.read_byte_record(&mut record) {
        Ok(true) => record.clone(),
        Ok(false) => {
            problems.push(1, None, "the file is empty; a header row is required");
            return problems.into_result(path).map(|_| out);
        }
        Err(e) => {
            if let Some(err) = io_err(e, 1, &mut problems) {
                return Err(err);
            }
            return problems.into_result(path).map(|_| out);
        }
    };
    let Some(cols) = Columns::from_header(&header, &mut problems, &mut out.unknown_columns) else {
        return problems.into_result(path).map(|_| out);
    };

    let mut seen: HashMap<String, usize> = HashMap::new();
    loop {
        match rdr.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                if let Some(err) = io_err(e, line, &mut problems) {
                    return Err(err);
                }
                continue;
            }
        }
        let line = line_of(record.position(), &lines);
        if !check_width(
            line,
            header.len(),
            record.len(),
            Width::LikeHeader,
            &mut problems,
        ) {
            continue;
        }
        let Some(v) = cols.visit(&record, line, &mut problems) else {
            continue;
        };
        match seen.get(&v.visit_id) {
            // Identical repeats are kept: the core collapses them and counts `duplicate_visit`.
            Some(&k) if out.visits[k] == v => {
                out.visits.push(v);
                out.lines.push(line);
            }
            Some(&k) => problems.push(
                line,
                Some("visit_id"),
                format!(
                    "visit id {:?} is already used by a different record on line {}",
                    v.visit_id, out.lines[k]
                ),
            ),
            None => {
                seen.insert(v.visit_id.clone(), out.visits.len());
                out.visits.push(v);
                out.lines.push(line);
            }
        }
    }
    problems.into_result(path).map(|_| out)
}

/// Column positions resolved from the header.
struct Columns {
    pos: HashMap<&'static str, usize>,
}

impl Columns {
    fn from_header(
        header: &csv::ByteRecord,
        problems: &mut Problems,
        unknown: &mut Vec<String>,
    ) -> Option<Columns> {
        let pos = column_positions(
            header.iter().map(|raw| std::str::from_utf8(raw).ok()),
            &VISIT_COLUMNS,
            &REQUIRED,
            UnknownColumns::Collect(unknown),
            problems,
        );
        problems.is_empty().then_some(Columns { pos })
    }

    /// The raw cell of `name`: `None` when the column is absent or the cell is empty.
    fn cell<'r>(
        &self,
        rec: &'r csv::ByteRecord,
        name: &'static str,
        line: u64,
        problems: &mut Problems,
    ) -> Option<&'r str> {
        let i = *self.pos.get(name)?;
        match std::str::from_utf8(&rec[i]) {
            Ok("") => None,
            Ok(s) => Some(s),
            Err(_) => {
                problems.push(line, Some(name), "the value is not valid UTF-8");
                None
            }
        }
    }

    /// A typed cell: trimmed, blank is NULL, otherwise parsed or recorded as a problem.
    fn typed<T>(
        &self,
        rec: &csv::ByteRecord,
        name: &'static str,
        line: u64,
        problems: &mut Problems,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<T> {
        let raw = conflict_core::model::trim(self.cell(rec, name, line, problems)?);
        if raw.is_empty() {
            return None;
        }
        parse(raw)
            .map_err(|reason| problems.push(line, Some(name), reason))
            .ok()
    }

    fn required<T>(
        &self,
        rec: &csv::ByteRecord,
        name: &'static str,
        line: u64,
        problems: &mut Problems,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<T> {
        let before = problems.count();
        let v = self.typed(rec, name, line, problems, parse);
        if v.is_none() && problems.count() == before {
            problems.push(line, Some(name), "a value is required");
        }
        v
    }

    fn text(
        &self,
        rec: &csv::ByteRecord,
        name: &'static str,
        line: u64,
        problems: &mut Problems,
    ) -> Option<String> {
        self.cell(rec, name, line, problems).map(String::from)
    }

    fn visit(&self, rec: &csv::ByteRecord, line: u64, problems: &mut Problems) -> Option<Visit> {
        let before = problems.count();
        let p = problems;
        let id = |s: &str| Ok(s.to_string());
        let visit_id = self.required(rec, "visit_id", line, p, id);
        let provider_id = self.required(rec, "provider_id", line, p, id);
        let visit_date = self.required(rec, "visit_date", line, p, parse_date);
        let sch_start = self.typed(rec, "sch_start", line, p, parse_timestamp);
        let sch_end = self.typed(rec, "sch_end", line, p, parse_timestamp);
        let visit_start = self.typed(rec, "visit_start", line, p, parse_timestamp);
        let visit_end = self.typed(rec, "visit_end", line, p, parse_timestamp);
        let updated_at = self.typed(rec, "updated_at", line, p, parse_timestamp);
        let app_visit_id = self.typed(rec, "app_visit_id", line, p, parse_i64);
        let address_lat = self.typed(rec, "address_latitude", line, p, parse_coordinate);
        let address_lon = self.typed(rec, "address_longitude", line, p, parse_coordinate);
        let is_missed = self.typed(rec, "is_missed", line, p, parse_bool);
        let caregiver_id = self.typed(rec, "caregiver_id", line, p, id);
        let visit = Visit {
            visit_id: visit_id?,
            app_visit_id,
            ssn: self.text(rec, "ssn", line, p),
            provider_id: provider_id?,
            visit_date: visit_date?,
            sch_start,
            sch_end,
            visit_start,
            visit_end,
            call_out_gps: self.text(rec, "call_out_gps", line, p),
            call_in_gps: self.text(rec, "call_in_gps", line, p),
            address_lat,
            address_lon,
            p_zip: self.text(rec, "patient_zip", line, p),
            p_state: self.text(rec, "patient_state", line, p),
            pa_state: self.text(rec, "payer_patient_state", line, p),
            provider_state: self.text(rec, "provider_state", line, p),
            is_missed,
            updated_at,
            caregiver_id,
        };
        (p.count() == before).then_some(visit)
    }
}

/// Writes visits with every column of [`VISIT_COLUMNS`] (atomically).
pub fn write_visits(path: &Path, visits: &[Visit]) -> Result<(), CsvError> {
    write_atomically(path, |w| write_visits_to(w, visits))
}

fn write_visits_to(w: &mut dyn Write, visits: &[Visit]) -> std::io::Result<()> {
    let mut out = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(w);
    out.write_record(VISIT_COLUMNS)?;
    let ts =
        |t: &Option<chrono::NaiveDateTime>| t.as_ref().map(format_timestamp).unwrap_or_default();
    let s = |t: &Option<String>| t.clone().unwrap_or_default();
    let num = |t: Option<f64>| t.map(|x| x.to_string()).unwrap_or_default();
    for v in visits {
        out.write_record([
            v.visit_id.clone(),
            v.app_visit_id.map(|x| x.to_string()).unwrap_or_default(),
            s(&v.ssn),
            v.provider_id.clone(),
            v.visit_date.to_string(),
            ts(&v.sch_start),
            ts(&v.sch_end),
            ts(&v.visit_start),
            ts(&v.visit_end),
            s(&v.call_out_gps),
            s(&v.call_in_gps),
            num(v.address_lat),
            num(v.address_lon),
            s(&v.p_zip),
            s(&v.p_state),
            s(&v.pa_state),
            s(&v.provider_state),
            v.is_missed.map(|b| b.to_string()).unwrap_or_default(),
            ts(&v.updated_at),
            s(&v.caregiver_id),
        ])?;
    }
    out.flush()
}
