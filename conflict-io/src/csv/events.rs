//! inservice.csv (file mode extension, see README): in-service events, and the InService pairs
//! written next to conflicts.csv.

use std::io::{Read, Write};
use std::path::Path;

use conflict_core::inservice::{AdmittedEvent, Event, EventKind, EventPair, Side};
use conflict_core::VisitRows;

use super::atomic::write_atomically;
use super::fields::{format_timestamp, parse_i64, parse_timestamp};
use super::problems::{CsvError, Problems};
use super::reader::{
    check_width, column_positions, csv_reader, line_of, open, UnknownColumns, Width,
};

const REQUIRED: [&str; 6] = [
    "inservice_id",
    "ssn",
    "provider_id",
    "start",
    "end",
    "caregiver_id",
];
const OPTIONAL: [&str; 1] = ["environment"];

/// The header of the in-service output file (docs/file-formats.md §7).
pub const INSERVICE_HEADER: &str = "visit_id,con_visit_id,ssn,visit_date,provider_id,con_provider_id,InServiceFlag,InserviceStartDate,InserviceEndDate,ConInserviceStartDate,ConInserviceEndDate";

/// Reads an in-service events file (docs/file-formats.md §7).
pub fn read_events(path: &Path) -> Result<Vec<Event>, CsvError> {
    let file = open(path)?;
    read_events_from(file, path)
}

/// [`read_events`] from any reader; `path` names the input in messages.
pub fn read_events_from(input: impl Read, path: &Path) -> Result<Vec<Event>, CsvError> {
    let (mut rdr, lines) = csv_reader(input);
    let mut problems = Problems::default();
    let mut records = rdr.records();
    let header = match records.next() {
        Some(Ok(h)) => h,
        Some(Err(e)) => {
            problems.push(1, None, e);
            return problems.into_result(path).map(|_| Vec::new());
        }
        None => {
            problems.push(1, None, "the file is empty; a header row is required");
            return problems.into_result(path).map(|_| Vec::new());
        }
    };
    let known: Vec<&'static str> = REQUIRED.iter().chain(OPTIONAL.iter()).copied().collect();
    let pos = column_positions(
        header.iter().map(Some),
        &known,
        &REQUIRED,
        UnknownColumns::Ignore,
        &mut problems,
    );
    if !problems.is_empty() {
        return problems.into_result(path).map(|_| Vec::new());
    }
    let mut out = Vec::new();
    for rec in records {
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                problems.push(line_of(e.position(), &lines), None, e);
                continue;
            }
        };
        let line = line_of(rec.position(), &lines);
        if !check_width(
            line,
            header.len(),
            rec.len(),
            Width::LikeHeader,
            &mut problems,
        ) {
            continue;
        }
        let cell = |c: &str| pos.get(c).map(|&i| &rec[i]).filter(|s| !s.is_empty());
        let trimmed = |c: &str| {
            cell(c)
                .map(conflict_core::model::trim)
                .filter(|s| !s.is_empty())
        };
        let before = problems.count();
        let id = match trimmed("inservice_id").map(parse_i64) {
            Some(Ok(v)) => Some(v),
            Some(Err(e)) => {
                problems.push(line, Some("inservice_id"), e);
                None
            }
            None => {
                problems.push(line, Some("inservice_id"), "a value is required");
                None
            }
        };
        let provider = trimmed("provider_id").map(String::from);
        if provider.is_none() {
            problems.push(line, Some("provider_id"), "a value is required");
        }
        let mut ts = |c: &'static str| match trimmed(c).map(parse_timestamp) {
            Some(Ok(t)) => Some(t),
            Some(Err(e)) => {
                problems.push(line, Some(c), e);
                None
            }
            None => None,
        };
        let (start, end) = (ts("start"), ts("end"));
        if problems.count() != before {
            continue;
        }
        out.push(Event {
            kind: EventKind::InService,
            source_id: id.unwrap_or_default(),
            environment: cell("environment").unwrap_or("").to_string(),
            caregiver_id: trimmed("caregiver_id").map(String::from),
            ssn: cell("ssn").map(String::from),
            provider_id: provider.unwrap_or_default(),
            start,
            end,
        });
    }
    problems.into_result(path).map(|_| out)
}

/// Writes the InService rows (both orders of each pair), sorted by (visit_id, con_visit_id).
pub fn write_inservice<R: VisitRows + ?Sized>(
    path: &Path,
    visits: &R,
    events: &[Event],
    admitted: &[AdmittedEvent],
    pairs: &[EventPair],
) -> Result<(), CsvError> {
    let mut rows: Vec<[String; 11]> = pairs
        .iter()
        .map(|p| {
            let v = visits.get(p.visit);
            let e = &admitted[p.event];
            let src = &events[e.index];
            let (s, en) = (format_timestamp(&e.start), format_timestamp(&e.end));
            match p.side {
                Side::VisitFirst => [
                    v.visit_id.to_string(),
                    e.visit_id.clone(),
                    e.ssn.clone(),
                    v.visit_date.to_string(),
                    v.provider_id.to_string(),
                    src.provider_id.clone(),
                    "Y".into(),
                    String::new(),
                    String::new(),
                    s,
                    en,
                ],
                Side::EventFirst => [
                    e.visit_id.clone(),
                    v.visit_id.to_string(),
                    e.ssn.clone(),
                    e.visit_date.to_string(),
                    src.provider_id.clone(),
                    v.provider_id.to_string(),
                    "Y".into(),
                    s,
                    en,
                    String::new(),
                    String::new(),
                ],
            }
        })
        .collect();
    rows.sort_by(|a, b| {
        (a[0].as_bytes(), a[1].as_bytes()).cmp(&(b[0].as_bytes(), b[1].as_bytes()))
    });
    write_atomically(path, |w: &mut dyn Write| {
        let mut out = csv::WriterBuilder::new()
            .terminator(csv::Terminator::Any(b'\n'))
            .from_writer(w);
        out.write_record(INSERVICE_HEADER.split(','))?;
        for r in &rows {
            out.write_record(r)?;
        }
        out.flush()
    })
}
