//! Updating a matched row (docs/lifecycle.md §4): sticky flags, the StatusFlag table and whether the
//! row is rewritten at all.

use super::row::StoredRow;

const Y: &str = "Y";
const N: &str = "N";

/// The value a sticky rule flag gets on update (§4.1): the computed flag when the stored value
/// is exactly `'N'`; otherwise (`'Y'`, NULL, anything else) the stored value, unchanged.
pub fn sticky_flag(stored: Option<&str>, computed: bool) -> Option<&str> {
    match stored {
        Some("N") => Some(if computed { Y } else { N }),
        other => other,
    }
}

/// [`sticky_flag`] for the seven flags.
pub fn sticky_flags<'a>(
    stored: &[Option<&'a str>; 7],
    computed: &[bool; 7],
) -> [Option<&'a str>; 7] {
    std::array::from_fn(|i| sticky_flag(stored[i], computed[i]))
}

/// True when the sticky flags differ from the stored ones (only an `'N'` that became `'Y'`).
pub fn flags_changed(stored: &[Option<&str>; 7], computed: &[bool; 7]) -> bool {
    sticky_flags(stored, computed) != *stored
}

/// The StatusFlag of a re-detected row (§4.2).
///
/// | stored | content unchanged | content changed |
/// |---|---|---|
/// | `W`, `I` | unchanged | unchanged |
/// | `N` | `N` | `U` |
/// | `U`, `R`, `D`, NULL, other | `U` | `U` |
pub fn next_status(stored: Option<&str>, content_changed: bool) -> Option<&str> {
    match stored {
        Some("W" | "I") => stored,
        Some("N") if !content_changed => Some("N"),
        _ => Some("U"),
    }
}

/// What happens to one matched regular (or adopted orphan) row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdatePlan {
    /// New `StatusFlag`.
    pub status: Option<String>,
    /// New values of the seven flags.
    pub flags: [Option<String>; 7],
    /// The row is written (then `UpdateFlag` and `ResolveDate` become NULL and `UpdatedDate`
    /// the run timestamp); otherwise it is not touched at all and counts as `unchanged`.
    pub rewrite: bool,
}

/// Plans the update of `row` for a re-detected pair (§4.1–§4.3).
///
/// `other_content_changed`: whether any written column other than the flags and the control
/// columns (metrics, business columns, `SSN`, `VisitDate`, app ids) differs from the stored
/// value after the write conversions; the caller compares those. `adopting`: the row is an
/// orphan that gets a `CONFLICTID` now, which is itself a change.
pub fn plan_update(
    row: &StoredRow,
    computed: &[bool; 7],
    other_content_changed: bool,
    adopting: bool,
) -> UpdatePlan {
    let stored_flags = row.flag_refs();
    let flags = sticky_flags(&stored_flags, computed);
    let content_changed = other_content_changed || flags != stored_flags;
    let status = next_status(row.status.as_deref(), content_changed);
    // §4.3: rewritten when any written value differs, including the control columns that an
    // update always clears. The CONFLICTID an adoption writes is not "content" (§4.1 does not
    // list it), so it does not move the status, but it is a written value that differs.
    let rewrite = content_changed
        || adopting
        || status != row.status.as_deref()
        || row.update_flag.is_some()
        || row.resolve_date.is_some();
    UpdatePlan {
        status: status.map(str::to_string),
        flags: flags.map(|f| f.map(str::to_string)),
        rewrite,
    }
}

#[cfg(test)]
mod tests {
    use super::super::row::fixtures::row;
    use super::*;

    const NONE: [bool; 7] = [false; 7];

    fn with_flag(i: usize) -> [bool; 7] {
        let mut f = NONE;
        f[i] = true;
        f
    }

    #[test]
    fn only_a_stored_n_takes_the_computed_flag() {
        assert_eq!(sticky_flag(Some("N"), true), Some("Y"));
        assert_eq!(sticky_flag(Some("N"), false), Some("N"));
        assert_eq!(sticky_flag(Some("Y"), false), Some("Y"));
        assert_eq!(sticky_flag(None, true), None);
        assert_eq!(sticky_flag(Some("n"), true), Some("n"));
        assert_eq!(sticky_flag(Some("X"), true), Some("X"));
    }

    #[test]
    fn flags_change_only_from_n_to_y() {
        let stored = [
            Some("N"),
            Some("Y"),
            None,
            Some("N"),
            Some("N"),
            Some("N"),
            Some("N"),
        ];
        assert!(!flags_changed(&stored, &with_flag(1)));
        assert!(!flags_changed(&stored, &with_flag(2)));
        assert!(flags_changed(&stored, &with_flag(0)));
        assert!(!flags_changed(&stored, &NONE));
    }

    #[test]
    fn status_table_of_section_4_2() {
        for changed in [false, true] {
            assert_eq!(next_status(Some("W"), changed), Some("W"));
            assert_eq!(next_status(Some("I"), changed), Some("I"));
            for s in [Some("U"), Some("R"), Some("D"), None, Some("zz")] {
                assert_eq!(next_status(s, changed), Some("U"), "{s:?}");
            }
        }
        assert_eq!(next_status(Some("N"), false), Some("N"));
        assert_eq!(next_status(Some("N"), true), Some("U"));
    }

    #[test]
    fn an_unchanged_new_row_is_not_rewritten() {
        let r = row(1, "a", "b");
        let p = plan_update(&r, &NONE, false, false);
        assert!(!p.rewrite);
        assert_eq!(p.status.as_deref(), Some("N"));
    }

    #[test]
    fn a_flag_turning_y_is_a_content_change() {
        let r = row(1, "a", "b");
        let p = plan_update(&r, &with_flag(6), false, false);
        assert!(p.rewrite);
        assert_eq!(p.status.as_deref(), Some("U"));
        assert_eq!(p.flags[6].as_deref(), Some("Y"));
        assert_eq!(p.flags[0].as_deref(), Some("N"));
    }

    #[test]
    fn a_stored_y_is_kept_and_is_no_change() {
        let mut r = row(1, "a", "b");
        r.flags[2] = Some("Y".into());
        let p = plan_update(&r, &NONE, false, false);
        assert_eq!(p.flags[2].as_deref(), Some("Y"));
        assert!(!p.rewrite);
    }

    #[test]
    fn control_columns_alone_force_a_rewrite() {
        let mut r = row(1, "a", "b");
        r.update_flag = Some(1);
        assert!(plan_update(&r, &NONE, false, false).rewrite);

        let mut r = row(1, "a", "b");
        r.resolve_date = Some(
            chrono::NaiveDate::from_ymd_opt(2025, 1, 1)
                .unwrap()
                .and_hms_opt(0, 0, 0)
                .unwrap(),
        );
        assert!(plan_update(&r, &NONE, false, false).rewrite);

        // A resolved row found again becomes U, which is a rewrite.
        let mut r = row(1, "a", "b");
        r.status = Some("R".into());
        let p = plan_update(&r, &NONE, false, false);
        assert!(p.rewrite);
        assert_eq!(p.status.as_deref(), Some("U"));
    }

    #[test]
    fn an_unchanged_u_row_stays_untouched() {
        let mut r = row(1, "a", "b");
        r.status = Some("U".into());
        assert!(!plan_update(&r, &NONE, false, false).rewrite);
    }

    #[test]
    fn whitelisted_rows_keep_their_status_but_take_new_content() {
        let mut r = row(1, "a", "b");
        r.status = Some("W".into());
        let p = plan_update(&r, &NONE, true, false);
        assert!(p.rewrite);
        assert_eq!(p.status.as_deref(), Some("W"));
        assert!(!plan_update(&r, &NONE, false, false).rewrite);
    }

    #[test]
    fn adopting_an_orphan_rewrites_it_without_counting_as_content() {
        let mut r = row(1, "a", "b");
        r.conflict_id = None;
        let p = plan_update(&r, &NONE, false, true);
        assert!(p.rewrite);
        assert_eq!(p.status.as_deref(), Some("N"));
        let p = plan_update(&r, &NONE, true, true);
        assert_eq!(p.status.as_deref(), Some("U"));
    }
}
