//! visits.csv into a compact [`VisitTable`], in parallel chunks (file mode's fast path).
//!
//! The file is read in blocks; each block is cut at line ends into one chunk per worker and the
//! chunks are parsed in parallel (`visit_chunk`). A cut inside a quoted field that spans lines
//! is noticed, not guessed around: a chunk that starts on a record boundary must end exactly
//! after a record, so when every chunk does, every cut was a boundary. When anything is not
//! plainly well formed (a cut inside a record, a bad cell, a ragged record, one id for two
//! different records), the file is read again by the strict reader of `visits.rs`, which finds
//! and words every problem as before (file, line, column); the fast path never has to.

use std::io::Read;
use std::path::Path;

use conflict_core::{VisitRows, VisitTable};
use rayon::prelude::*;

use super::problems::{CsvError, Problems};
use super::reader::{column_positions, open, UnknownColumns};
use super::visit_chunk::{count_newlines, parse_chunk, Chunk, GiveUp, Layout};
use super::visits::{read_visits_from, REQUIRED, VISIT_COLUMNS};

/// Visits read into a compact table, with the line each started on.
#[derive(Debug, Clone, Default)]
pub struct CsvVisitTable {
    /// The visits, in file order.
    pub visits: VisitTable,
    /// The file line of each visit, for messages.
    pub lines: Vec<u64>,
    /// Header names the reader does not know (ignored).
    pub unknown_columns: Vec<String>,
}

/// Bytes read per block; each block is split among the workers.
const BLOCK: usize = 16 << 20;

/// Reads `visits.csv` (docs/file-formats.md §2) into a [`VisitTable`]: the same visits, lines,
/// unknown columns and errors as [`super::read_visits`], in less time and memory.
pub fn read_visit_table(path: &Path) -> Result<CsvVisitTable, CsvError> {
    let io = |error| CsvError::Io {
        path: path.to_path_buf(),
        error,
    };
    let mut file = open(path)?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    match read_fast(&mut file, size, BLOCK).map_err(io)? {
        Some(t) => Ok(t),
        None => strict(path),
    }
}

/// [`read_visit_table`] of bytes already in memory; `path` only labels messages.
pub fn read_visit_table_from_bytes(input: &[u8], path: &Path) -> Result<CsvVisitTable, CsvError> {
    let io = |error| CsvError::Io {
        path: path.to_path_buf(),
        error,
    };
    if let Some(t) = read_fast(&mut &input[..], input.len() as u64, BLOCK).map_err(io)? {
        return Ok(t);
    }
    into_table(read_visits_from(input, path)?, path)
}

/// The strict reader over the whole file, its visits moved into a table.
fn strict(path: &Path) -> Result<CsvVisitTable, CsvError> {
    let file = open(path)?;
    let read = read_visits_from(std::io::BufReader::with_capacity(1 << 20, file), path)?;
    into_table(read, path)
}

/// The strict reader's visits moved into a table.
fn into_table(read: super::CsvVisits, path: &Path) -> Result<CsvVisitTable, CsvError> {
    // Only a table of more than 4 billion texts can fail here; the strict reader would have
    // run out of memory long before.
    let visits = VisitTable::from_visits(&read.visits).map_err(|e| CsvError::Io {
        path: path.to_path_buf(),
        error: std::io::Error::other(e),
    })?;
    Ok(CsvVisitTable {
        visits,
        lines: read.lines,
        unknown_columns: read.unknown_columns,
    })
}

/// Reads until `buf` holds at least `want` bytes or the input ends; true at the end.
fn fill(input: &mut impl Read, buf: &mut Vec<u8>, want: usize) -> std::io::Result<bool> {
    while buf.len() < want {
        let n = buf.len();
        buf.resize(want, 0);
        let got = loop {
            match input.read(&mut buf[n..]) {
                Ok(k) => break k,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    buf.truncate(n);
                    return Err(e);
                }
            }
        };
        buf.truncate(n + got);
        if got == 0 {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The fast path; `Ok(None)` when the strict reader must decide. `block` is a parameter so that
/// tests can cut small inputs into many blocks and chunks.
pub(crate) fn read_fast(
    input: &mut impl Read,
    size: u64,
    block: usize,
) -> std::io::Result<Option<CsvVisitTable>> {
    let mut buf = Vec::with_capacity(block + (block >> 2));
    let mut eof = fill(input, &mut buf, block)?;
    // The header: the first record, read on until it ends.
    let (layout, unknown_columns, header_end) = loop {
        match header(&buf, eof) {
            Header::Complete(h) => break *h,
            Header::Incomplete if !eof => {
                let want = buf.len() + block;
                eof = fill(input, &mut buf, want)?;
            }
            Header::Incomplete | Header::Refused => return Ok(None),
        }
    };
    let mut out = CsvVisitTable {
        unknown_columns,
        ..CsvVisitTable::default()
    };
    // Lines before the first data byte: 1 + the `\n`s before it.
    let mut line_base = 1 + count_newlines(&buf[..header_end]);
    buf.drain(..header_end);
    let mut bytes_done = header_end as u64;
    let workers = rayon::current_num_threads().max(1);
    let mut reserved = false;
    loop {
        // Cut after the last line end (the tail waits for the next block), unless at the end.
        let limit = if eof {
            buf.len()
        } else {
            match memchr::memrchr(b'\n', &buf) {
                Some(i) => i + 1,
                None => {
                    // One line longer than a block: read more.
                    let want = buf.len() + block;
                    eof = fill(input, &mut buf, want)?;
                    continue;
                }
            }
        };
        let cuts = cuts(&buf[..limit], workers * 2);
        let chunks: Vec<Result<Chunk, GiveUp>> = cuts
            .par_windows(2)
            .map(|w| {
                let last = w[1] == limit;
                parse_chunk(&buf[w[0]..w[1]], eof && last, &layout)
            })
            .collect();
        for chunk in chunks {
            let Ok(chunk) = chunk else { return Ok(None) };
            out.lines.extend(chunk.lines.iter().map(|l| line_base + l));
            line_base += chunk.newlines;
            if out.visits.append(chunk.table).is_err() {
                return Ok(None);
            }
        }
        bytes_done += limit as u64;
        if eof {
            break;
        }
        if !reserved && !out.visits.is_empty() && bytes_done < size {
            // Once, after the first block: room for the rest of the file at its density, so
            // that the table is not moved (and briefly held twice) by doubling.
            reserved = true;
            let per_byte = out.visits.len() as f64 / bytes_done as f64;
            let want = (per_byte * size as f64 * 1.03) as usize + 1024;
            out.visits.reserve(want.saturating_sub(out.visits.len()));
        }
        buf.drain(..limit);
        let want = block;
        eof = fill(input, &mut buf, want)?;
    }
    if has_conflicting_ids(&out.visits) {
        return Ok(None);
    }
    Ok(Some(out))
}

/// Record boundaries candidates: `0`, about `parts - 1` positions just after a `\n`, and the
/// end. The chunk parser checks that each really is a boundary.
fn cuts(b: &[u8], parts: usize) -> Vec<usize> {
    let mut cuts = vec![0];
    let step = b.len() / parts.max(1);
    for k in 1..parts {
        let from = (k * step).max(*cuts.last().unwrap_or(&0));
        match memchr::memchr(b'\n', &b[from..]) {
            Some(i) if from + i + 1 < b.len() => {
                if from + i + 1 > *cuts.last().unwrap_or(&0) {
                    cuts.push(from + i + 1);
                }
            }
            _ => break,
        }
    }
    cuts.push(b.len());
    cuts.dedup();
    cuts
}

/// What the first record of a block says.
enum Header {
    /// The layout, the unknown columns, and the offset after the header.
    Complete(Box<(Layout, Vec<String>, usize)>),
    /// The header does not end within the block.
    Incomplete,
    /// The header has a problem (the strict reader words it).
    Refused,
}

/// The header at the start of `buf`.
fn header(buf: &[u8], eof: bool) -> Header {
    use csv_core::ReadRecordResult as R;
    let mut rdr = csv_core::Reader::new();
    // Grown as needed: a header is small, a block is large.
    let (mut out, mut ends) = (vec![0u8; 4096], vec![0usize; 64]);
    let (mut nin, mut nout, mut nend) = (0, 0, 0);
    loop {
        let (res, i, o, e) = rdr.read_record(&buf[nin..], &mut out[nout..], &mut ends[nend..]);
        nin += i;
        nout += o;
        nend += e;
        match res {
            R::Record => break,
            R::OutputFull => out.resize(out.len() * 2, 0),
            R::OutputEndsFull => ends.resize(ends.len() * 2, 0),
            // The end of the file ends the header; the reader completes it when told.
            R::InputEmpty if eof && nin == buf.len() => {
                let (r, _, _, e) = rdr.read_record(&[], &mut out[nout..], &mut ends[nend..]);
                nend += e;
                if !matches!(r, R::Record) {
                    return Header::Incomplete;
                }
                break;
            }
            R::InputEmpty | R::End => return Header::Incomplete,
        }
    }
    let mut names = Vec::with_capacity(nend);
    let mut start = 0;
    for &end in &ends[..nend] {
        names.push(std::str::from_utf8(&out[start..end]).ok());
        start = end;
    }
    let mut problems = Problems::default();
    let mut unknown = Vec::new();
    let pos = column_positions(
        names.iter().copied(),
        &VISIT_COLUMNS,
        &[],
        UnknownColumns::Collect(&mut unknown),
        &mut problems,
    );
    // Required columns: the strict reader's list; a missing one is its message to give.
    if !problems.is_empty() || REQUIRED.iter().any(|c| !pos.contains_key(c)) {
        return Header::Refused;
    }
    let mut layout = Layout {
        pos: [None; 20],
        width: nend,
    };
    for (k, name) in VISIT_COLUMNS.iter().enumerate() {
        layout.pos[k] = pos.get(name).copied();
    }
    Header::Complete(Box::new((layout, unknown, nin)))
}

/// True when two different records share a visit id (the strict reader reports each);
/// identical repeats are kept, as the strict reader keeps them (the core collapses them).
/// The repeats are found as admission finds them.
fn has_conflicting_ids(t: &VisitTable) -> bool {
    conflict_core::admit::repeated_ids(t)
        .into_iter()
        .any(|(i, first)| t.get(i) != t.get(first))
}

#[cfg(test)]
#[path = "visit_table_tests.rs"]
mod tests;
