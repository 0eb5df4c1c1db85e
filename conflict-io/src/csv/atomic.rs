//! Output files are written to a temporary name in the target directory and renamed on
//! success, so a failed run never leaves a partial file (docs/file-formats.md §5).

use std::io::{BufWriter, Write};
use std::path::Path;

use super::problems::CsvError;

pub fn write_atomically(
    path: &Path,
    fill: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<(), CsvError> {
    let io = |source| CsvError::Io {
        path: path.to_path_buf(),
        error: source,
    };
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let tmp = tempfile::Builder::new()
        .prefix(".conflicts-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(io)?;
    {
        let mut w = BufWriter::new(tmp.as_file());
        fill(&mut w).map_err(io)?;
        w.flush().map_err(io)?;
    }
    tmp.as_file().sync_all().map_err(io)?;
    tmp.persist(path).map_err(|e| io(e.error))?;
    Ok(())
}
