//! The stored CVM row as the planning rules see it: only the control columns.

use chrono::NaiveDateTime;

/// Row kinds of docs/tables.md §2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RowKind {
    /// `CONFLICTID` set, all eight InService/PTO dates NULL.
    Regular,
    /// The eight dates NULL and `CONFLICTID` NULL (left by the previous system).
    Orphan,
    /// An in-service start/end date of either side is set.
    InService,
    /// A PTO date of either side is set.
    Pto,
}

impl RowKind {
    /// Classifies a row. `inservice_dates` tells whether any of `InserviceStartDate`,
    /// `InserviceEndDate`, `ConInserviceStartDate`, `ConInserviceEndDate` is set;
    /// `pto_dates` the same for the four PTO dates. A row with both kinds of dates (which no
    /// run creates) counts as InService: either way it is not regular and is left alone.
    pub fn classify(conflict_id: Option<i64>, inservice_dates: bool, pto_dates: bool) -> Self {
        match (inservice_dates, pto_dates, conflict_id) {
            (true, _, _) => RowKind::InService,
            (false, true, _) => RowKind::Pto,
            (false, false, Some(_)) => RowKind::Regular,
            (false, false, None) => RowKind::Orphan,
        }
    }

    /// Regular and orphan rows are the ones a detected pair updates (docs/lifecycle.md §3).
    pub fn is_updatable(self) -> bool {
        matches!(self, RowKind::Regular | RowKind::Orphan)
    }
}

/// The control columns of one stored CVM row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRow {
    /// `"ID"`.
    pub id: i64,
    /// `"VisitID"` (canonical lower-case uuid text in database mode).
    pub visit_id: String,
    /// `"ConVisitID"`.
    pub con_visit_id: String,
    /// `"CONFLICTID"`.
    pub conflict_id: Option<i64>,
    /// The row's kind, from its dates and `CONFLICTID`.
    pub kind: RowKind,
    /// `"StatusFlag"` as stored (any text, or NULL).
    pub status: Option<String>,
    /// `"UpdateFlag"`.
    pub update_flag: Option<i16>,
    /// `"ResolveDate"`.
    pub resolve_date: Option<NaiveDateTime>,
    /// The seven rule flags as stored, in `FLAG_NAMES` order.
    pub flags: [Option<String>; 7],
}

impl StoredRow {
    /// The pair key (`VisitID`, `ConVisitID`).
    pub fn key(&self) -> (&str, &str) {
        (&self.visit_id, &self.con_visit_id)
    }

    /// The stored flags as borrowed text.
    pub fn flag_refs(&self) -> [Option<&str>; 7] {
        std::array::from_fn(|i| self.flags[i].as_deref())
    }
}

#[cfg(test)]
pub(crate) mod fixtures {
    use super::*;

    /// A regular row with all flags 'N' and status 'N'.
    pub fn row(id: i64, v1: &str, v2: &str) -> StoredRow {
        StoredRow {
            id,
            visit_id: v1.into(),
            con_visit_id: v2.into(),
            conflict_id: Some(100 + id),
            kind: RowKind::Regular,
            status: Some("N".into()),
            update_flag: None,
            resolve_date: None,
            flags: std::array::from_fn(|_| Some("N".into())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_follow_docs_tables() {
        assert_eq!(RowKind::classify(Some(1), false, false), RowKind::Regular);
        assert_eq!(RowKind::classify(None, false, false), RowKind::Orphan);
        assert_eq!(RowKind::classify(Some(1), true, false), RowKind::InService);
        assert_eq!(RowKind::classify(None, true, false), RowKind::InService);
        assert_eq!(RowKind::classify(Some(1), false, true), RowKind::Pto);
        assert_eq!(RowKind::classify(None, true, true), RowKind::InService);
        assert!(RowKind::Regular.is_updatable() && RowKind::Orphan.is_updatable());
        assert!(!RowKind::InService.is_updatable() && !RowKind::Pto.is_updatable());
    }
}
