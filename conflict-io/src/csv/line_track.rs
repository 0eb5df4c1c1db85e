//! Correct line numbers for records read by the `csv` crate.
//!
//! `csv::Position::line` of a record is the line where the reader *started* looking for it,
//! which is not where the record is when terminators come before it: a CRLF file reports each
//! record one line early (the reader stops after the `\r` and counts the `\n` only on the next
//! read, BurntSushi/rust-csv#395), and blank lines before a record are not counted at all. A
//! file's messages (docs/file-formats.md: `FILE:LINE: column NAME: reason`) must name the record's
//! real line, so the input is read through [`LineTracker`], which remembers where each run of
//! line terminators ends and on which line the content after it starts.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io::Read;
use std::rc::Rc;

/// A run of `\r`/`\n` bytes: `[start, end)` in the input, and the line of the byte at `end`.
#[derive(Debug, Clone, Copy)]
struct Run {
    start: u64,
    end: u64,
    line_after: u64,
}

#[derive(Debug, Default)]
struct Runs {
    /// Closed runs not yet passed by the records asked about (record offsets only grow).
    closed: VecDeque<Run>,
}

/// The lines of the runs seen by a [`LineTracker`]; cheap to clone, shared with it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Lines(Rc<RefCell<Runs>>);

impl Lines {
    /// The real line of a record whose `csv` position is (`byte`, `line`).
    pub(crate) fn of(&self, byte: u64, line: u64) -> u64 {
        let mut runs = self.0.borrow_mut();
        while runs.closed.front().is_some_and(|r| r.end <= byte) {
            runs.closed.pop_front();
        }
        match runs.closed.front() {
            // The reader started inside the terminators before the record: the record starts
            // where they end.
            Some(r) if r.start <= byte => r.line_after,
            _ => line,
        }
    }
}

/// Passes bytes through unchanged while recording the runs of line terminators.
pub(crate) struct LineTracker<R> {
    inner: R,
    offset: u64,
    /// 1 + the number of `\n` before `offset` (`csv` counts lines by `\n` only).
    line: u64,
    /// Start of the run being read, if the last byte was a terminator.
    open: Option<u64>,
    lines: Lines,
}

impl<R: Read> LineTracker<R> {
    pub(crate) fn new(inner: R) -> (LineTracker<R>, Lines) {
        let lines = Lines::default();
        let tracker = LineTracker {
            inner,
            offset: 0,
            line: 1,
            open: None,
            lines: lines.clone(),
        };
        (tracker, lines)
    }
}

impl<R: Read> Read for LineTracker<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let mut runs = self.lines.0.borrow_mut();
        for &b in &buf[..n] {
            match (b, self.open) {
                (b'\r' | b'\n', None) => self.open = Some(self.offset),
                (b'\r' | b'\n', Some(_)) => {}
                (_, Some(start)) => {
                    runs.closed.push_back(Run {
                        start,
                        end: self.offset,
                        line_after: self.line,
                    });
                    self.open = None;
                }
                (_, None) => {}
            }
            if b == b'\n' {
                self.line += 1;
            }
            self.offset += 1;
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The line of every record, as the visits reader computes it.
    fn record_lines(text: &str) -> Vec<u64> {
        let (input, lines) = LineTracker::new(text.as_bytes());
        let mut rdr = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(input);
        let mut record = csv::ByteRecord::new();
        let mut out = Vec::new();
        while rdr.read_byte_record(&mut record).unwrap() {
            let p = record.position().unwrap();
            out.push(lines.of(p.byte(), p.line()));
        }
        out
    }

    #[test]
    fn lf_crlf_and_blank_lines_give_the_physical_line_of_each_record() {
        assert_eq!(record_lines("h\na\nb\n"), [1, 2, 3]);
        assert_eq!(record_lines("h\r\na\r\nb\r\n"), [1, 2, 3]);
        assert_eq!(record_lines("h\na\r\nb\r\n"), [1, 2, 3]);
        assert_eq!(record_lines("h\n\n\na\r\n\r\nb"), [1, 4, 6]);
        assert_eq!(record_lines("\n\nh\na"), [3, 4]);
        // A quoted cell spanning lines: the next record is after it.
        assert_eq!(record_lines("h\n\"x\r\ny\",1\r\nb\r\n"), [1, 2, 4]);
    }

    #[test]
    fn runs_split_across_reads_are_joined() {
        /// Hands out one byte per read, the worst case for a run split between reads.
        struct OneByte<'a>(&'a [u8]);
        impl Read for OneByte<'_> {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                match self.0.split_first() {
                    Some((&b, rest)) if !buf.is_empty() => {
                        buf[0] = b;
                        self.0 = rest;
                        Ok(1)
                    }
                    _ => Ok(0),
                }
            }
        }
        let (input, lines) = LineTracker::new(OneByte(b"h\r\n\r\na\r\nb"));
        let mut rdr = csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(input);
        let got: Vec<u64> = rdr
            .byte_records()
            .map(|r| {
                let p = r.unwrap().position().unwrap().clone();
                lines.of(p.byte(), p.line())
            })
            .collect();
        assert_eq!(got, [1, 3, 4]);
    }
}
