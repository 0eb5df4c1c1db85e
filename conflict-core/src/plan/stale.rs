//! Stale resolution (docs/lifecycle.md §6).

use std::collections::HashSet;

use chrono::NaiveDateTime;

use super::row::{RowKind, StoredRow};

/// Statuses a run never resolves: already resolved, or decided by a person / another job.
const NOT_RESOLVABLE: [&str; 4] = ["R", "W", "I", "D"];

/// True when `row`, taken from the stale scope, is resolved: it is regular, its status is not
/// `R`, `W`, `I` or `D` (NULL is not in the set), and its key was not detected by this run. A
/// stored `'Y'` flag does not make a pair detected; pairs suppressed by an insert-only switch
/// do count as detected.
pub fn is_stale(row: &StoredRow, detected: &HashSet<(&str, &str)>) -> bool {
    row.kind == RowKind::Regular
        && !row
            .status
            .as_deref()
            .is_some_and(|s| NOT_RESOLVABLE.contains(&s))
        && !detected.contains(&row.key())
}

/// The stale rows among the rows of the stale scope.
pub fn stale_rows<'a>(
    scope_rows: &'a [StoredRow],
    detected: &HashSet<(&str, &str)>,
) -> Vec<&'a StoredRow> {
    scope_rows
        .iter()
        .filter(|r| is_stale(r, detected))
        .collect()
}

/// Values a stale row gets: `StatusFlag 'R'`, `ResolveDate = COALESCE(ResolveDate, run_ts)`,
/// `UpdatedDate = run_ts`. Nothing else changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resolution {
    /// New `ResolveDate` (an existing one is kept).
    pub resolve_date: NaiveDateTime,
    /// New `UpdatedDate`.
    pub updated_date: NaiveDateTime,
}

/// The status of a resolved row.
pub const RESOLVED_STATUS: &str = "R";

/// The values a stale row gets at `run_ts`.
pub fn resolution(row: &StoredRow, run_ts: NaiveDateTime) -> Resolution {
    Resolution {
        resolve_date: row.resolve_date.unwrap_or(run_ts),
        updated_date: run_ts,
    }
}

#[cfg(test)]
mod tests {
    use super::super::row::fixtures::row;
    use super::*;

    fn ts(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap()
    }

    #[test]
    fn only_undetected_regular_open_rows_are_stale() {
        let detected = HashSet::from([("a", "b")]);
        let mut rows = Vec::new();
        for (i, status) in [
            Some("N"),
            Some("U"),
            None,
            Some("zz"),
            Some("R"),
            Some("W"),
            Some("I"),
            Some("D"),
        ]
        .into_iter()
        .enumerate()
        {
            let mut r = row(i as i64, "x", &format!("y{i}"));
            r.status = status.map(str::to_string);
            rows.push(r);
        }
        let stale: Vec<i64> = stale_rows(&rows, &detected).iter().map(|r| r.id).collect();
        assert_eq!(
            stale,
            [0, 1, 2, 3],
            "N, U, NULL and unknown statuses resolve"
        );
    }

    #[test]
    fn detected_keys_and_other_kinds_are_never_stale() {
        let detected = HashSet::from([("a", "b")]);
        assert!(!is_stale(&row(1, "a", "b"), &detected));
        // The reverse pair is a different key.
        assert!(is_stale(&row(2, "b", "a"), &detected));
        for kind in [RowKind::Orphan, RowKind::InService, RowKind::Pto] {
            let mut r = row(3, "c", "d");
            r.kind = kind;
            assert!(!is_stale(&r, &detected), "{kind:?}");
        }
    }

    #[test]
    fn a_stored_y_flag_does_not_keep_a_row_alive() {
        let mut r = row(1, "c", "d");
        r.flags[0] = Some("Y".into());
        assert!(is_stale(&r, &HashSet::new()));
    }

    #[test]
    fn an_existing_resolve_date_is_kept() {
        let run = ts("2025-06-15 10:00:00");
        let mut r = row(1, "c", "d");
        assert_eq!(resolution(&r, run).resolve_date, run);
        r.resolve_date = Some(ts("2025-01-01 00:00:00"));
        let res = resolution(&r, run);
        assert_eq!(res.resolve_date, ts("2025-01-01 00:00:00"));
        assert_eq!(res.updated_date, run);
    }
}
