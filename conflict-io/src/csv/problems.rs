//! Errors of file mode: each names the file, the line, the column and what was expected.

use std::fmt;
use std::path::PathBuf;

/// At most this many problems are reported (docs/file-formats.md §2).
pub const MAX_REPORTED: usize = 20;

/// One bad cell, record or header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// 1-based line of the file (the header is line 1).
    pub line: u64,
    /// The column, when the problem is in one cell.
    pub column: Option<String>,
    /// What is wrong, in words.
    pub reason: String,
}

/// Why a CSV file could not be read or written: one message per cause, naming the file.
#[derive(Debug, thiserror::Error)]
pub enum CsvError {
    /// The file could not be opened, read or written.
    // `error`, not `source`: the message shows it, and a `source()` would print it again.
    #[error("{}: {error}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        error: std::io::Error,
    },
    /// The input is malformed; `problems` holds the first [`MAX_REPORTED`] of `total`.
    #[error("{}", render(path, problems, *total))]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The first problems, in file order.
        problems: Vec<Problem>,
        /// How many problems there are in all.
        total: usize,
    },
}

fn render(path: &std::path::Path, problems: &[Problem], total: usize) -> String {
    let mut s = String::new();
    for (i, p) in problems.iter().enumerate() {
        if i > 0 {
            s.push('\n');
        }
        s.push_str(&format!("{}:{}: ", path.display(), p.line));
        if let Some(c) = &p.column {
            s.push_str(&format!("column {c}: "));
        }
        s.push_str(&p.reason);
    }
    if total > problems.len() {
        s.push_str(&format!(
            "\n{}: {} more problem(s) not shown",
            path.display(),
            total - problems.len()
        ));
    }
    s
}

/// Collects problems, keeping the first [`MAX_REPORTED`] and counting the rest.
#[derive(Debug, Default)]
pub(crate) struct Problems {
    kept: Vec<Problem>,
    total: usize,
}

impl Problems {
    pub fn push(&mut self, line: u64, column: Option<&str>, reason: impl fmt::Display) {
        self.total += 1;
        if self.kept.len() < MAX_REPORTED {
            self.kept.push(Problem {
                line,
                column: column.map(String::from),
                reason: reason.to_string(),
            });
        }
    }

    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    pub fn count(&self) -> usize {
        self.total
    }

    pub fn into_result(self, path: &std::path::Path) -> Result<(), CsvError> {
        if self.total == 0 {
            return Ok(());
        }
        Err(CsvError::Invalid {
            path: path.to_path_buf(),
            problems: self.kept,
            total: self.total,
        })
    }
}
