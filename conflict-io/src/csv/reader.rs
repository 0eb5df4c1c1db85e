//! What the three CSV readers (visits, speed bands, in-service events) share: opening the file,
//! reading through [`LineTracker`] so that messages name a record's real line, the header (a
//! byte-order mark, blanks around names, duplicate, unknown and missing columns) and the field
//! count of each record. Each reader keeps only the parsing of its own cells.

use std::collections::HashMap;
use std::fs::File;
use std::io::Read;
use std::path::Path;

use super::line_track::{LineTracker, Lines};
use super::problems::{CsvError, Problems};

/// Opens `path`; a failure is a [`CsvError::Io`] naming the file.
pub(crate) fn open(path: &Path) -> Result<File, CsvError> {
    File::open(path).map_err(|error| CsvError::Io {
        path: path.to_path_buf(),
        error,
    })
}

/// A `csv` reader over `input` (no header handling, ragged rows allowed: the readers report
/// both themselves) and the true lines of its records.
pub(crate) fn csv_reader<R: Read>(input: R) -> (csv::Reader<LineTracker<R>>, Lines) {
    let (input, lines) = LineTracker::new(input);
    let reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(input);
    (reader, lines)
}

/// The line of a record read by a reader of [`csv_reader`].
pub(crate) fn line_of(position: Option<&csv::Position>, lines: &Lines) -> u64 {
    position.map_or(0, |p| lines.of(p.byte(), p.line()))
}

/// What a header name that is not a known column means.
pub(crate) enum UnknownColumns<'a> {
    /// Ignored, and collected so that the caller can mention them.
    Collect(&'a mut Vec<String>),
    /// Ignored silently (optional extension columns of other tools).
    Ignore,
    /// A problem of the header, with this reason.
    Refuse(&'static str),
}

/// The position of every known column of `header`; duplicate, unknown (per `unknown`) and
/// missing required columns are reported on line 1. `names` yields `None` for a name that is
/// not UTF-8.
pub(crate) fn column_positions<'n>(
    names: impl IntoIterator<Item = Option<&'n str>>,
    known: &[&'static str],
    required: &[&'static str],
    mut unknown: UnknownColumns<'_>,
    problems: &mut Problems,
) -> HashMap<&'static str, usize> {
    let mut pos = HashMap::new();
    for (i, name) in names.into_iter().enumerate() {
        let Some(name) = name else {
            problems.push(
                1,
                None,
                format!("header field {} is not valid UTF-8", i + 1),
            );
            continue;
        };
        // A byte-order mark is not part of the first name.
        let name = conflict_core::model::trim(name.trim_start_matches('\u{feff}'));
        match known.iter().find(|c| **c == name) {
            Some(c) => {
                if pos.insert(*c, i).is_some() {
                    problems.push(1, Some(c), "the column appears twice in the header");
                }
            }
            None => match &mut unknown {
                UnknownColumns::Collect(list) => list.push(name.to_string()),
                UnknownColumns::Ignore => {}
                UnknownColumns::Refuse(reason) => problems.push(1, Some(name), reason),
            },
        }
    }
    for c in required {
        if !pos.contains_key(c) {
            problems.push(1, Some(c), "required column is missing from the header");
        }
    }
    pos
}

/// How a record with the wrong number of fields is described (the messages predate this
/// module and tests compare them byte for byte).
#[derive(Clone, Copy)]
pub(crate) enum Width {
    /// `expected N fields, found M`.
    Plain,
    /// `expected N fields like the header, found M`.
    LikeHeader,
}

/// True when a record of `found` fields matches a header of `expected`; otherwise reports it.
pub(crate) fn check_width(
    line: u64,
    expected: usize,
    found: usize,
    style: Width,
    problems: &mut Problems,
) -> bool {
    if expected == found {
        return true;
    }
    let message = match style {
        Width::Plain => format!("expected {expected} fields, found {found}"),
        Width::LikeHeader => format!("expected {expected} fields like the header, found {found}"),
    };
    problems.push(line, None, message);
    false
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::super::problems::{CsvError, Problem};
    use super::super::{read_bands_from, read_events_from, read_visits_from};

    fn problems(e: CsvError) -> Vec<(u64, Option<String>, String)> {
        match e {
            CsvError::Invalid { problems, .. } => problems
                .into_iter()
                .map(
                    |Problem {
                         line,
                         column,
                         reason,
                     }| (line, column, reason),
                )
                .collect(),
            CsvError::Io { error, .. } => panic!("unexpected I/O error {error}"),
        }
    }

    /// docs/file-formats.md: messages name the record's real line. In a CRLF file with a blank line
    /// the short record of this input is on line 4 of the file (counted by hand).
    #[test]
    fn every_reader_names_the_real_line_of_a_short_record() {
        let bands = "\u{feff}from,to,average_mph\r\n0,10,20\r\n\r\n5,x\r\n";
        let err = read_bands_from(bands.as_bytes(), Path::new("mph.csv")).unwrap_err();
        assert_eq!(
            problems(err),
            [(4, None, "expected 3 fields, found 2".to_string())]
        );
        let events = "inservice_id,ssn,provider_id,start,end,caregiver_id\r\n\r\n\r\n1,2\r\n";
        let err = read_events_from(events.as_bytes(), Path::new("e.csv")).unwrap_err();
        assert_eq!(
            problems(err),
            [(
                4,
                None,
                "expected 6 fields like the header, found 2".to_string()
            )]
        );
        let visits = "visit_id,ssn,provider_id,visit_date,sch_start,sch_end,visit_start,\
                      visit_end\r\n\r\n\r\nv1,1\r\n";
        let err = read_visits_from(visits.as_bytes(), Path::new("v.csv")).unwrap_err();
        assert_eq!(
            problems(err),
            [(
                4,
                None,
                "expected 8 fields like the header, found 2".to_string()
            )]
        );
    }

    /// The header rules of the three files: a byte-order mark and blanks around names are not
    /// part of them; a repeated column and a missing required one are problems of line 1;
    /// unknown names are refused by mph.csv only.
    #[test]
    fn header_problems_are_reported_on_line_one() {
        let bands = "\u{feff} from ,to,to,speed\n";
        let err = read_bands_from(bands.as_bytes(), Path::new("mph.csv")).unwrap_err();
        let expect = |c: &str, r: &str| (1, Some(c.to_string()), r.to_string());
        assert_eq!(
            problems(err),
            [
                expect("to", "the column appears twice in the header"),
                expect("speed", "unknown column (expected from, to, average_mph)"),
                expect("average_mph", "required column is missing from the header"),
            ]
        );
        let events = "\u{feff}inservice_id,ssn,provider_id,start,end,extra\n";
        let err = read_events_from(events.as_bytes(), Path::new("e.csv")).unwrap_err();
        assert_eq!(
            problems(err),
            [expect(
                "caregiver_id",
                "required column is missing from the header"
            )]
        );
    }
}
