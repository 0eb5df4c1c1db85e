//! Matching a detected pair against the stored rows with its key (docs/lifecycle.md §3).

use super::row::StoredRow;

/// What a detected pair does, given every stored row with its (`VisitID`, `ConVisitID`) key
/// (looked up over the whole table, not only the scope).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PairMatch<'a> {
    /// Update each of these regular and orphan rows; the orphans among them are first adopted
    /// (given a `CONFLICTID` by §5.2, counted `adopted`).
    Update {
        /// The rows to update, in the order given.
        rows: Vec<&'a StoredRow>,
        /// More than one row carries the key: warning `duplicate_cvm_key`.
        duplicate: bool,
    },
    /// No row: insert (subject to the insert-only switches).
    Insert,
    /// Only InService or PTO rows carry the key: leave them, warning `key_held_by_other_kind`.
    HeldByOtherKind,
}

/// Matches a detected pair against every stored row with its key (§3).
pub fn match_pair<'a>(rows_with_key: &[&'a StoredRow]) -> PairMatch<'a> {
    let rows: Vec<&StoredRow> = rows_with_key
        .iter()
        .copied()
        .filter(|r| r.kind.is_updatable())
        .collect();
    if !rows.is_empty() {
        let duplicate = rows.len() > 1;
        PairMatch::Update { rows, duplicate }
    } else if rows_with_key.is_empty() {
        PairMatch::Insert
    } else {
        PairMatch::HeldByOtherKind
    }
}

impl PairMatch<'_> {
    /// Rows of this match that must be adopted first.
    pub fn orphans(&self) -> impl Iterator<Item = &StoredRow> {
        let rows: &[&StoredRow] = match self {
            PairMatch::Update { rows, .. } => rows,
            _ => &[],
        };
        rows.iter()
            .copied()
            .filter(|r| r.kind == super::row::RowKind::Orphan)
    }
}

#[cfg(test)]
mod tests {
    use super::super::row::fixtures::row;
    use super::super::row::RowKind;
    use super::*;

    #[test]
    fn no_row_means_insert() {
        assert_eq!(match_pair(&[]), PairMatch::Insert);
    }

    #[test]
    fn regular_and_orphan_rows_are_updated_orphans_adopted() {
        let regular = row(1, "a", "b");
        let mut orphan = row(2, "a", "b");
        orphan.kind = RowKind::Orphan;
        orphan.conflict_id = None;
        let m = match_pair(&[&regular, &orphan]);
        assert_eq!(
            m,
            PairMatch::Update {
                rows: vec![&regular, &orphan],
                duplicate: true
            }
        );
        assert_eq!(m.orphans().map(|r| r.id).collect::<Vec<_>>(), [2]);

        let m = match_pair(&[&regular]);
        assert_eq!(
            m,
            PairMatch::Update {
                rows: vec![&regular],
                duplicate: false
            }
        );
        assert_eq!(m.orphans().count(), 0);
    }

    #[test]
    fn inservice_and_pto_rows_are_left_alone() {
        let mut ins = row(1, "a", "b");
        ins.kind = RowKind::InService;
        let mut pto = row(2, "a", "b");
        pto.kind = RowKind::Pto;
        assert_eq!(match_pair(&[&ins, &pto]), PairMatch::HeldByOtherKind);
        // Next to a regular row they are simply not part of the update.
        let regular = row(3, "a", "b");
        assert_eq!(
            match_pair(&[&ins, &regular]),
            PairMatch::Update {
                rows: vec![&regular],
                duplicate: false
            }
        );
    }
}
