//! The part of the data a batch covers: shared by the analytics source and the conflict store.

use chrono::NaiveDate;
use conflict_core::Window;

/// Which visits (and stored rows) a batch reads. Keys are (visit date, trimmed SSN).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Every visit of the window.
    Window,
    /// Visits of the window whose trimmed SSN starts with this text.
    SsnPrefix(String),
    /// Exactly these (visit date, trimmed SSN) keys (dates outside the window are ignored).
    Keys(Vec<(NaiveDate, String)>),
}

/// A scope inside a date window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchScope {
    /// The run's date window.
    pub window: Window,
    /// The keys inside it.
    pub scope: Scope,
}
