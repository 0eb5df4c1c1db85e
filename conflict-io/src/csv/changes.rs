//! The changes file of shadow mode (`conflicts run --changes-out FILE`): one CSV line per
//! conflict row the run changes or would change.
//!
//! Lines are streamed: each batch's lines are written as soon as the batch is settled, so
//! memory holds at most one batch. Like every output of the tool the file is written under a
//! temporary name in the target directory and renamed by [`CsvChangeSink::finish`]; a run that
//! fails or is interrupted calls [`CsvChangeSink::discard`] (or just drops the sink), and the
//! target is left as it was: a partial file could be mistaken for the whole run.

use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use tempfile::NamedTempFile;

use super::problems::CsvError;
use crate::run::{Change, ChangeAction, ChangeSink};

/// Columns of the changes file.
pub const CHANGES_HEADER: [&str; 7] = [
    "action",
    "ID",
    "VisitID",
    "ConVisitID",
    "columns",
    "old",
    "new",
];

/// Lines written so far, per action.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChangeCounts {
    /// `insert` lines.
    pub inserted: u64,
    /// `update` lines.
    pub updated: u64,
    /// `resolve` lines.
    pub resolved: u64,
}

struct Open {
    writer: csv::Writer<BufWriter<NamedTempFile>>,
    counts: ChangeCounts,
}

/// A [`ChangeSink`] writing the changes file; workers share it, writes are serialised by a
/// mutex (a batch's lines stay together).
pub struct CsvChangeSink {
    path: PathBuf,
    open: Mutex<Option<Open>>,
}

impl CsvChangeSink {
    /// Creates the temporary file next to `path` and writes the header, so an unwritable
    /// target fails before the run starts.
    pub fn create(path: &Path) -> Result<CsvChangeSink, CsvError> {
        let io = |error| CsvError::Io {
            path: path.to_path_buf(),
            error,
        };
        let tmp = super::atomic::temp_file_next_to(path)
            // tempfile appends the random temporary name to the OS error; the user named
            // `path`, so only the OS's reason is kept.
            .map_err(|e| io(os_reason(e)))?;
        let mut writer = csv::Writer::from_writer(BufWriter::new(tmp));
        writer
            .write_record(CHANGES_HEADER)
            .map_err(|e| io(e.into()))?;
        Ok(CsvChangeSink {
            path: path.to_path_buf(),
            open: Mutex::new(Some(Open {
                writer,
                counts: ChangeCounts::default(),
            })),
        })
    }

    /// The target path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Lines written so far, per action.
    pub fn counts(&self) -> ChangeCounts {
        match self.open.lock() {
            Ok(g) => g.as_ref().map(|o| o.counts).unwrap_or_default(),
            Err(_) => ChangeCounts::default(),
        }
    }

    /// Flushes, syncs and renames the file to its target. After this the sink takes no more
    /// lines.
    pub fn finish(&self) -> Result<ChangeCounts, CsvError> {
        let io = |error| CsvError::Io {
            path: self.path.clone(),
            error,
        };
        let open = self
            .open
            .lock()
            .map_err(|_| io(std::io::Error::other("a writer thread panicked")))?
            .take()
            .ok_or_else(|| io(std::io::Error::other("the changes file was already closed")))?;
        let buffered = open.writer.into_inner().map_err(|e| io(e.into_error()))?;
        let tmp = buffered.into_inner().map_err(|e| io(e.into_error()))?;
        tmp.as_file().sync_all().map_err(io)?;
        tmp.persist(&self.path).map_err(|e| io(e.error))?;
        Ok(open.counts)
    }

    /// Drops the temporary file; the target is not touched.
    pub fn discard(&self) {
        if let Ok(mut g) = self.open.lock() {
            g.take();
        }
    }
}

/// tempfile's error without the ` at path "…"` it appends (the random temporary name means
/// nothing to the user, who named the target).
fn os_reason(e: std::io::Error) -> std::io::Error {
    let text = e.to_string();
    match text.rsplit_once(" at path ") {
        Some((reason, _)) => std::io::Error::new(e.kind(), reason.to_string()),
        None => e,
    }
}

impl ChangeSink for CsvChangeSink {
    fn write(&self, changes: &[Change]) -> std::io::Result<()> {
        let mut guard = self
            .open
            .lock()
            .map_err(|_| std::io::Error::other("a writer thread panicked"))?;
        let open = guard
            .as_mut()
            .ok_or_else(|| std::io::Error::other("the changes file is closed"))?;
        for c in changes {
            let id = c.id.map(|i| i.to_string()).unwrap_or_default();
            open.writer.write_record([
                c.action.as_str(),
                &id,
                &c.visit_id,
                &c.con_visit_id,
                &c.columns.join(";"),
                &c.old,
                &c.new,
            ])?;
            match c.action {
                ChangeAction::Insert => open.counts.inserted += 1,
                ChangeAction::Update => open.counts.updated += 1,
                ChangeAction::Resolve => open.counts.resolved += 1,
            }
        }
        // Each batch reaches the file as a whole; a crash loses at most the buffer.
        open.writer.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(action: ChangeAction, id: Option<i64>) -> Change {
        Change {
            action,
            id,
            visit_id: "v1".into(),
            con_visit_id: "v2".into(),
            columns: vec!["StatusFlag".into(), "UpdatedDate".into()],
            old: r#"{"StatusFlag":"N","UpdatedDate":null}"#.into(),
            new: r#"{"StatusFlag":"R","UpdatedDate":"2026-01-02T03:04:05"}"#.into(),
        }
    }

    #[test]
    fn the_file_appears_only_when_finished_with_header_and_quoted_json() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("changes.csv");
        let sink = CsvChangeSink::create(&path).unwrap();
        sink.write(&[change(ChangeAction::Resolve, Some(7))])
            .unwrap();
        sink.write(&[change(ChangeAction::Insert, None)]).unwrap();
        assert!(!path.exists(), "no file before finish");
        let counts = sink.finish().unwrap();
        assert_eq!(
            counts,
            ChangeCounts {
                inserted: 1,
                updated: 0,
                resolved: 1
            }
        );
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "action,ID,VisitID,ConVisitID,columns,old,new");
        assert_eq!(
            lines[1],
            r#"resolve,7,v1,v2,StatusFlag;UpdatedDate,"{""StatusFlag"":""N"",""UpdatedDate"":null}","{""StatusFlag"":""R"",""UpdatedDate"":""2026-01-02T03:04:05""}""#
        );
        assert!(lines[2].starts_with("insert,,v1,v2,"));
        assert_eq!(lines.len(), 3);
        assert!(sink.write(&[]).is_err(), "closed after finish");
    }

    #[test]
    fn a_discarded_sink_leaves_the_target_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("changes.csv");
        std::fs::write(&path, "previous\n").unwrap();
        let sink = CsvChangeSink::create(&path).unwrap();
        sink.write(&[change(ChangeAction::Update, Some(1))])
            .unwrap();
        sink.discard();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "previous\n");
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "temporary file removed"
        );
    }

    #[test]
    fn an_unwritable_target_fails_at_creation() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("no-such-dir").join("changes.csv");
        assert!(matches!(
            CsvChangeSink::create(&path),
            Err(CsvError::Io { .. })
        ));
    }
}
