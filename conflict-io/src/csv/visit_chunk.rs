//! Parsing one chunk of visits.csv straight into a [`VisitTableBuilder`]: `csv-core` splits the
//! bytes into fields in place (no record allocation), each cell is parsed as the strict reader
//! of `visits.rs` parses it, and texts go into the table's buffer.
//!
//! This parser only has to be right about *well-formed* chunks. Anything it is unsure of (a
//! problem in a cell, a ragged record, a chunk that does not end on a record boundary) makes it
//! give up, and the caller reads the whole file with the strict reader, whose messages the
//! tests pin byte for byte.

use chrono::{NaiveDate, NaiveDateTime};
use conflict_core::model::trim;
use conflict_core::{VisitRef, VisitTable, VisitTableBuilder};
use csv_core::ReadRecordResult;

use super::fields::{parse_coordinate, parse_date, parse_i64, parse_timestamp};

/// Where each known column of [`super::visits::VISIT_COLUMNS`] is in a record (same order).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Layout {
    /// Field position of each known column, `None` when the header lacks it.
    pub(crate) pos: [Option<usize>; 20],
    /// Fields of the header: every record must have as many.
    pub(crate) width: usize,
}

// Indexes into `Layout::pos`, in `VISIT_COLUMNS` order.
const VISIT_ID: usize = 0;
const APP_VISIT_ID: usize = 1;
const SSN: usize = 2;
const PROVIDER_ID: usize = 3;
const VISIT_DATE: usize = 4;
const SCH_START: usize = 5;
const SCH_END: usize = 6;
const VISIT_START: usize = 7;
const VISIT_END: usize = 8;
const CALL_OUT: usize = 9;
const CALL_IN: usize = 10;
const LAT: usize = 11;
const LON: usize = 12;
const ZIP: usize = 13;
const P_STATE: usize = 14;
const PA_STATE: usize = 15;
const PROVIDER_STATE: usize = 16;
const IS_MISSED: usize = 17;
const UPDATED_AT: usize = 18;
const CAREGIVER: usize = 19;

/// The visits of one chunk, with where they start.
pub(crate) struct Chunk {
    /// The chunk's visits, in order.
    pub(crate) table: VisitTable,
    /// For each visit, the `\n` count between the chunk's start and the record's first byte.
    pub(crate) lines: Vec<u64>,
    /// `\n` bytes in the whole chunk.
    pub(crate) newlines: u64,
}

/// Why the fast parser gave up on a chunk.
#[derive(Debug)]
pub(crate) struct GiveUp;

/// `\n` bytes in `b`.
pub(crate) fn count_newlines(b: &[u8]) -> u64 {
    memchr::memchr_iter(b'\n', b).count() as u64
}

/// Parses `input`, which starts at a record boundary. `at_eof`: the chunk ends the file (a last
/// record without terminator is complete); otherwise it must end exactly after a record.
pub(crate) fn parse_chunk(input: &[u8], at_eof: bool, layout: &Layout) -> Result<Chunk, GiveUp> {
    let mut rdr = csv_core::Reader::new();
    // Room for one record's fields; grown when a record is larger.
    let mut out = vec![0u8; 4096];
    let mut ends = vec![0usize; layout.width.max(1) + 1];
    let mut builder = VisitTableBuilder::with_capacity(input.len() / 200 + 16);
    let mut lines = Vec::with_capacity(input.len() / 200 + 16);
    let mut pos = 0usize;
    let mut newlines = 0u64;
    loop {
        // The record's line is that of its first byte: terminators before it (blank lines)
        // are skipped, as the reader skips them.
        let mut start = pos;
        while start < input.len() && matches!(input[start], b'\r' | b'\n') {
            start += 1;
        }
        newlines += count_newlines(&input[pos..start]);
        if start == input.len() {
            break;
        }
        let (mut nout, mut nend) = (0usize, 0usize);
        let mut at = pos;
        let done = loop {
            let (res, nin, o, e) =
                rdr.read_record(&input[at..], &mut out[nout..], &mut ends[nend..]);
            at += nin;
            nout += o;
            nend += e;
            match res {
                ReadRecordResult::Record => break true,
                ReadRecordResult::OutputFull => {
                    let n = out.len();
                    out.resize(n * 2, 0);
                }
                ReadRecordResult::OutputEndsFull => {
                    let n = ends.len();
                    ends.resize(n * 2, 0);
                }
                ReadRecordResult::InputEmpty if at == input.len() && at_eof => {
                    // Tell the reader the input ended: it completes a last unterminated record.
                    let (res, _, o, e) = rdr.read_record(&[], &mut out[nout..], &mut ends[nend..]);
                    nout += o;
                    nend += e;
                    break matches!(res, ReadRecordResult::Record);
                }
                // The chunk ended inside a record (a quoted field spanning the split).
                ReadRecordResult::InputEmpty | ReadRecordResult::End => break false,
            }
        };
        if !done {
            return Err(GiveUp);
        }
        lines.push(newlines);
        newlines += count_newlines(&input[start..at]);
        pos = at;
        if nend != layout.width {
            return Err(GiveUp);
        }
        let v = visit(&out[..nout], &ends[..nend], layout)?;
        builder.push(&v).map_err(|_| GiveUp)?;
    }
    Ok(Chunk {
        table: builder.finish(),
        lines,
        newlines,
    })
}

/// The cells of one record, as `visits.rs` reads them. The record is checked for UTF-8 once:
/// its fields are cut at ASCII delimiters with ASCII quotes removed, so each field of a valid
/// record is valid, and a record that is not valid is left to the strict reader.
struct Cells<'r> {
    data: &'r str,
    ends: &'r [usize],
    layout: &'r Layout,
}

impl<'r> Cells<'r> {
    /// The raw cell: `None` when the column is absent or the cell empty.
    #[inline]
    fn raw(&self, col: usize) -> Result<Option<&'r str>, GiveUp> {
        let Some(i) = self.layout.pos[col] else {
            return Ok(None);
        };
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        let s = self.data.get(start..self.ends[i]).ok_or(GiveUp)?;
        Ok((!s.is_empty()).then_some(s))
    }

    /// A typed cell: trimmed, blank is NULL.
    #[inline]
    fn typed<T>(
        &self,
        col: usize,
        parse: impl FnOnce(&'r str) -> Result<T, String>,
    ) -> Result<Option<T>, GiveUp> {
        match self.raw(col)?.map(trim) {
            None | Some("") => Ok(None),
            Some(s) => parse(s).map(Some).map_err(|_| GiveUp),
        }
    }

    #[inline]
    fn required<T>(
        &self,
        col: usize,
        parse: impl FnOnce(&'r str) -> Result<T, String>,
    ) -> Result<T, GiveUp> {
        self.typed(col, parse)?.ok_or(GiveUp)
    }

    #[inline]
    fn ts(&self, col: usize) -> Result<Option<NaiveDateTime>, GiveUp> {
        self.typed(col, parse_timestamp)
    }
}

/// `parse_bool` of `fields.rs` without its lower-cased copy (one allocation per visit).
fn parse_bool(s: &str) -> Result<bool, String> {
    let is = |words: [&str; 3]| words.iter().any(|w| s.eq_ignore_ascii_case(w));
    if is(["true", "t", "1"]) {
        Ok(true)
    } else if is(["false", "f", "0"]) {
        Ok(false)
    } else {
        Err(String::new())
    }
}

fn visit<'r>(
    data: &'r [u8],
    ends: &'r [usize],
    layout: &'r Layout,
) -> Result<VisitRef<'r>, GiveUp> {
    let data = std::str::from_utf8(data).map_err(|_| GiveUp)?;
    let c = Cells { data, ends, layout };
    let id = |s: &'r str| Ok::<&'r str, String>(s);
    let date: NaiveDate = c.required(VISIT_DATE, parse_date)?;
    Ok(VisitRef {
        visit_id: c.required(VISIT_ID, id)?,
        app_visit_id: c.typed(APP_VISIT_ID, parse_i64)?,
        ssn: c.raw(SSN)?,
        provider_id: c.required(PROVIDER_ID, id)?,
        visit_date: date,
        sch_start: c.ts(SCH_START)?,
        sch_end: c.ts(SCH_END)?,
        visit_start: c.ts(VISIT_START)?,
        visit_end: c.ts(VISIT_END)?,
        call_out_gps: c.raw(CALL_OUT)?,
        call_in_gps: c.raw(CALL_IN)?,
        address_lat: c.typed(LAT, parse_coordinate)?,
        address_lon: c.typed(LON, parse_coordinate)?,
        p_zip: c.raw(ZIP)?,
        p_state: c.raw(P_STATE)?,
        pa_state: c.raw(PA_STATE)?,
        provider_state: c.raw(PROVIDER_STATE)?,
        is_missed: c.typed(IS_MISSED, parse_bool)?,
        updated_at: c.ts(UPDATED_AT)?,
        caregiver_id: c.typed(CAREGIVER, id)?,
    })
}
