//! Shadow mode: every conflict row a run changes (or, in a dry run, would change), handed to a
//! [`ChangeSink`] as the run goes. Teams replacing the old job compare these lines with what the
//! old job did before they let the tool write.
//!
//! The store produces the lines from the same row sets it counts (planned updates, inserts, the
//! stale rows it resolved), so per action the number of lines equals the run's counters. A
//! batch hands its lines to the sink only after its transaction committed (or, in a dry run,
//! after its data was rolled back and its ledger entry committed): lines of a batch that fails
//! or is retried never reach the sink twice or at all.

/// What happened to one conflict row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ChangeAction {
    /// A new row (regular, InService or PTO).
    Insert,
    /// A stored row rewritten because it was detected again (docs/lifecycle.md §4, §7).
    Update,
    /// A stale regular row set to `R` (docs/lifecycle.md §6).
    Resolve,
}

impl ChangeAction {
    /// The word used in the `action` column of the changes file.
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeAction::Insert => "insert",
            ChangeAction::Update => "update",
            ChangeAction::Resolve => "resolve",
        }
    }
}

/// One changed conflict row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// What happens to the row.
    pub action: ChangeAction,
    /// conflictvisitmaps `"ID"`; `None` for an insert (a dry run never assigns one for good).
    pub id: Option<i64>,
    /// The row's `VisitID`.
    pub visit_id: String,
    /// The row's `ConVisitID`.
    pub con_visit_id: String,
    /// The columns whose value changes, in table column order. For an insert: every column it
    /// sets to a non-NULL value, except `"ID"`.
    pub columns: Vec<String>,
    /// A JSON object of `columns` with the stored values (`{}` for an insert: there was no
    /// row). Values are PostgreSQL's `to_jsonb` form: text and timestamps as strings, numbers
    /// as numbers, NULL as `null`.
    pub old: String,
    /// A JSON object of `columns` with the values after the change.
    pub new: String,
}

/// Where a run's changes go. Shared by every worker of a process, so implementations
/// serialise writes themselves (e.g. behind a `Mutex`).
pub trait ChangeSink: Send + Sync {
    /// Takes the lines of one committed batch (or of the InService/PTO step). A failure ends
    /// the run: the file would otherwise silently miss lines.
    fn write(&self, changes: &[Change]) -> std::io::Result<()>;
}
