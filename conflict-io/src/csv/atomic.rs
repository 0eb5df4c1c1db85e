//! Output files are written to a temporary name in the target directory and renamed on
//! success, so a failed run never leaves a partial file (docs/file-formats.md §5).

use std::io::{BufWriter, Write};
use std::path::Path;

use super::problems::CsvError;

/// A temporary file in the directory of `path` (so that the final rename stays on one file
/// system), named so that a leftover is recognisably the tool's.
pub(super) fn temp_file_next_to(path: &Path) -> std::io::Result<tempfile::NamedTempFile> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    tempfile::Builder::new()
        .prefix(".conflicts-")
        .suffix(".tmp")
        .tempfile_in(dir)
}

/// Writes `path` through `fill` into a temporary file and renames it into place on success.
pub fn write_atomically(
    path: &Path,
    fill: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<(), CsvError> {
    let io = |source| CsvError::Io {
        path: path.to_path_buf(),
        error: source,
    };
    let tmp = temp_file_next_to(path).map_err(io)?;
    {
        let mut w = BufWriter::new(tmp.as_file());
        fill(&mut w).map_err(io)?;
        w.flush().map_err(io)?;
    }
    tmp.as_file().sync_all().map_err(io)?;
    tmp.persist(path).map_err(|e| io(e.error))?;
    Ok(())
}
