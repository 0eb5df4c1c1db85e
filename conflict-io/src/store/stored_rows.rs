//! Reading stored conflictvisitmaps rows (control columns only): the regular rows of a batch
//! scope (the stale scope of docs/lifecycle.md §2), rows by pair key over the whole table (§3),
//! the smallest `CONFLICTID` per primary visit (§5.2) and which conflicts already exist.

use std::collections::{HashMap, HashSet};

use chrono::{NaiveDate, NaiveDateTime};
use conflict_core::plan::{RowKind, StoredRow};
use conflict_core::stats::FLAG_NAMES;
use conflict_core::Window;
use postgres::{GenericClient, Row};

use super::config::SchemaNames;
use super::error::StoreError;
#[cfg(feature = "test-support")]
use super::key_tables::PAIR_KEYS;
use super::key_tables::{self, SCOPE_KEYS, VISIT_IDS};
use super::uuid_param::UuidParam;
use crate::scope::{BatchScope, Scope};

/// The ASCII whitespace that docs/rules.md §1 trims, as a PostgreSQL escape string for `btrim`.
pub(crate) const TRIM_CHARS: &str = r"E' \t\n\f\r'";

/// The control columns of one CVM row. `conflict_core::plan::RowKind::classify(conflict_id,
/// inservice_dates, pto_dates)` gives its kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CvmControlRow {
    /// `"ID"`.
    pub id: i64,
    /// Canonical lower-case uuid text; empty when NULL.
    pub visit_id: String,
    /// `"ConVisitID"` as canonical text; empty when NULL.
    pub con_visit_id: String,
    /// Trimmed `"SSN"`.
    pub ssn: Option<String>,
    /// `"VisitDate"`.
    pub visit_date: Option<NaiveDate>,
    /// `"CONFLICTID"`.
    pub conflict_id: Option<i64>,
    /// `"StatusFlag"`.
    pub status: Option<String>,
    /// `"UpdateFlag"`.
    pub update_flag: Option<i16>,
    /// `"ResolveDate"`.
    pub resolve_date: Option<NaiveDateTime>,
    /// The seven rule flags as stored, in `FLAG_NAMES` order.
    pub flags: [Option<String>; 7],
    /// Any of the four in-service dates is set.
    pub inservice_dates: bool,
    /// Any of the four PTO dates is set.
    pub pto_dates: bool,
}

/// The control columns of `c`, in the order [`from_row`] reads them (18 columns).
impl CvmControlRow {
    /// The row as the planning rules of `conflict_core::plan` see it.
    pub fn to_stored(&self) -> StoredRow {
        self.clone().into_stored()
    }

    /// [`CvmControlRow::to_stored`] without copying the texts (a batch reads some 24,000 rows).
    pub fn into_stored(self) -> StoredRow {
        StoredRow {
            id: self.id,
            kind: RowKind::classify(self.conflict_id, self.inservice_dates, self.pto_dates),
            visit_id: self.visit_id,
            con_visit_id: self.con_visit_id,
            conflict_id: self.conflict_id,
            status: self.status,
            update_flag: self.update_flag,
            resolve_date: self.resolve_date,
            flags: self.flags,
        }
    }
}

pub(crate) fn select_list() -> String {
    let flags: Vec<String> = FLAG_NAMES.iter().map(|f| format!("c.\"{f}\"")).collect();
    format!(
        "c.\"ID\", COALESCE(c.\"VisitID\"::text, ''), COALESCE(c.\"ConVisitID\"::text, ''), \
         btrim(c.\"SSN\", {TRIM_CHARS}), c.\"VisitDate\", c.\"CONFLICTID\", c.\"StatusFlag\", \
         c.\"UpdateFlag\", c.\"ResolveDate\", {}, \
         (c.\"InserviceStartDate\" IS NOT NULL OR c.\"InserviceEndDate\" IS NOT NULL \
          OR c.\"ConInserviceStartDate\" IS NOT NULL OR c.\"ConInserviceEndDate\" IS NOT NULL), \
         (c.\"PTOStartDate\" IS NOT NULL OR c.\"PTOEndDate\" IS NOT NULL \
          OR c.\"ConPTOStartDate\" IS NOT NULL OR c.\"ConPTOEndDate\" IS NOT NULL)",
        flags.join(", ")
    )
}

/// The predicate of a regular row, written exactly as the partial index `cvm_date_ssn_regular`
/// so that the planner can use it.
pub(crate) const REGULAR: &str = "c.\"CONFLICTID\" IS NOT NULL \
    AND c.\"InserviceStartDate\" IS NULL AND c.\"InserviceEndDate\" IS NULL \
    AND c.\"ConInserviceStartDate\" IS NULL AND c.\"ConInserviceEndDate\" IS NULL \
    AND c.\"PTOStartDate\" IS NULL AND c.\"PTOEndDate\" IS NULL \
    AND c.\"ConPTOStartDate\" IS NULL AND c.\"ConPTOEndDate\" IS NULL";

pub(crate) fn from_row(r: &Row) -> CvmControlRow {
    CvmControlRow {
        id: r.get(0),
        visit_id: r.get(1),
        con_visit_id: r.get(2),
        ssn: r.get(3),
        visit_date: r.get(4),
        conflict_id: r.get(5),
        status: r.get(6),
        update_flag: r.get(7),
        resolve_date: r.get(8),
        flags: std::array::from_fn(|i| r.get(9 + i)),
        inservice_dates: r.get(16),
        pto_dates: r.get(17),
    }
}

/// The regular CVM rows of a batch scope with `VisitDate` inside the window, ordered by
/// `"ID"`: every row of the window, those whose trimmed SSN starts with a prefix, or those of
/// an explicit (date, trimmed SSN) key set (loaded through a temporary table).
pub fn read_scope_rows<C: GenericClient>(
    client: &mut C,
    names: &SchemaNames,
    scope: &BatchScope,
) -> Result<Vec<CvmControlRow>, StoreError> {
    let cvm = names.conflict_table("conflictvisitmaps");
    let (from, to) = (scope.window.from, scope.window.to);
    let base = format!("SELECT {} FROM {cvm} c", select_list());
    let window = "c.\"VisitDate\" BETWEEN $1 AND $2";
    let err = |e| StoreError::db("read the regular rows of the scope", Some(&cvm), e);
    let rows = match &scope.scope {
        Scope::Window => client
            .query(
                &format!("{base} WHERE {REGULAR} AND {window} ORDER BY c.\"ID\""),
                &[&from, &to],
            )
            .map_err(err)?,
        Scope::SsnPrefix(prefix) => {
            // The byte-order range that holds every string starting with the prefix, so that
            // the index `cvm_trimmed_ssn_regular` bounds the read; `starts_with` stays the
            // exact test. Sorted here, not by `ORDER BY`: with statistics older than the
            // table's growth (a first run) the planner walked the whole primary key in "ID"
            // order to skip a sort of what it believed was one row.
            let trimmed = format!("(btrim(c.\"SSN\", {TRIM_CHARS}) COLLATE \"C\")");
            let exact = format!(
                "{base} WHERE {REGULAR} AND {window} AND {trimmed} >= $3 \
                 AND starts_with(btrim(c.\"SSN\", {TRIM_CHARS}), $3)"
            );
            let mut rows: Vec<CvmControlRow> = match prefix_upper_bound(prefix) {
                Some(upper) => client.query(
                    &format!("{exact} AND {trimmed} < $4"),
                    &[&from, &to, prefix, &upper],
                ),
                None => client.query(&exact, &[&from, &to, prefix]),
            }
            .map_err(err)?
            .iter()
            .map(from_row)
            .collect();
            rows.sort_unstable_by_key(|r| r.id);
            return Ok(rows);
        }
        Scope::Keys(keys) => {
            let mut tx = client.transaction().map_err(err)?;
            key_tables::load_scope_keys(&mut tx, keys)?;
            let rows = tx
                .query(
                    &format!(
                        "{base} JOIN {SCOPE_KEYS} k ON c.\"VisitDate\" = k.visit_date \
                         AND btrim(c.\"SSN\", {TRIM_CHARS}) = k.ssn \
                         WHERE {REGULAR} AND {window} ORDER BY c.\"ID\""
                    ),
                    &[&from, &to],
                )
                .map_err(err)?;
            tx.commit().map_err(err)?;
            rows
        }
    };
    Ok(rows.iter().map(from_row).collect())
}

/// The smallest string above every string that starts with `prefix` in byte (code point)
/// order: the prefix with its last incrementable character incremented and the rest cut.
/// `None` when there is none (an empty prefix, or only `char::MAX`): then only the lower
/// bound applies.
pub(crate) fn prefix_upper_bound(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        // The next scalar value, skipping the surrogate gap that `char` cannot hold.
        let next = match last {
            '\u{D7FF}' => Some('\u{E000}'),
            c => char::from_u32(u32::from(c) + 1),
        };
        if let Some(next) = next {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

/// Every CVM row (any kind, any date) whose (`VisitID`, `ConVisitID`) is one of `keys`,
/// ordered by `"ID"` (docs/lifecycle.md §3 looks over the whole table). The batch writer
/// reads them joined to its pair table instead; tests use this to look at rows by key.
#[cfg(feature = "test-support")]
pub fn read_rows_by_pair_keys<C: GenericClient>(
    client: &mut C,
    names: &SchemaNames,
    keys: &[(&str, &str)],
) -> Result<Vec<CvmControlRow>, StoreError> {
    let params = keys
        .iter()
        .map(|(a, b)| Ok((UuidParam::parse(a)?, UuidParam::parse(b)?)))
        .collect::<Result<Vec<_>, StoreError>>()?;
    let cvm = names.conflict_table("conflictvisitmaps");
    let err = |e| StoreError::db("read rows by pair key", Some(&cvm), e);
    let mut tx = client.transaction().map_err(err)?;
    key_tables::load_pair_keys(&mut tx, &params)?;
    let rows = tx
        .query(
            &format!(
                "SELECT {} FROM {cvm} c JOIN {PAIR_KEYS} k \
                 ON c.\"VisitID\" = k.visit_id AND c.\"ConVisitID\" = k.con_visit_id \
                 ORDER BY c.\"ID\"",
                select_list()
            ),
            &[],
        )
        .map_err(err)?;
    tx.commit().map_err(err)?;
    Ok(rows.iter().map(from_row).collect())
}

/// The smallest non-NULL `CONFLICTID` over all CVM rows of each given primary visit
/// (docs/lifecycle.md §5.2 step 1). Visits without one are absent from the map.
pub fn smallest_conflict_ids<C: GenericClient>(
    client: &mut C,
    names: &SchemaNames,
    visit_ids: &[&str],
) -> Result<HashMap<String, i64>, StoreError> {
    let params = visit_ids
        .iter()
        .map(|v| UuidParam::parse(v))
        .collect::<Result<Vec<_>, _>>()?;
    let cvm = names.conflict_table("conflictvisitmaps");
    let err = |e| StoreError::db("read conflict ids of primary visits", Some(&cvm), e);
    let mut tx = client.transaction().map_err(err)?;
    key_tables::load_visit_ids(&mut tx, &params)?;
    let rows = tx
        .query(
            &format!(
                "SELECT c.\"VisitID\"::text, min(c.\"CONFLICTID\") FROM {cvm} c \
                 JOIN {VISIT_IDS} k ON c.\"VisitID\" = k.visit_id \
                 WHERE c.\"CONFLICTID\" IS NOT NULL GROUP BY c.\"VisitID\""
            ),
            &[],
        )
        .map_err(err)?;
    tx.commit().map_err(err)?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// Which of `ids` have a row in `conflicts`.
pub fn existing_conflicts<C: GenericClient>(
    client: &mut C,
    names: &SchemaNames,
    ids: &[i64],
) -> Result<HashSet<i64>, StoreError> {
    let conflicts = names.conflict_table("conflicts");
    // An int8[] parameter is one value however long the list: no statement-size limit.
    let rows = client
        .query(
            &format!(
                "SELECT \"CONFLICTID\" FROM {conflicts} WHERE \"CONFLICTID\" = ANY($1::int8[])"
            ),
            &[&ids],
        )
        .map_err(|e| StoreError::db("read existing conflicts", Some(&conflicts), e))?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// Prefixes of length `len` of the trimmed, non-blank SSNs of the regular rows with
/// `VisitDate` in the window, with row counts: a full run must also visit the prefixes that
/// only stored rows have, so that their stale rows are resolved.
pub fn stored_prefixes<C: GenericClient>(
    client: &mut C,
    names: &SchemaNames,
    window: &Window,
    len: usize,
) -> Result<Vec<(String, u64)>, StoreError> {
    let cvm = names.conflict_table("conflictvisitmaps");
    let len = i32::try_from(len).unwrap_or(i32::MAX);
    let rows = client
        .query(
            &format!(
                "SELECT left(s.ssn, $3), count(*) FROM \
                 (SELECT btrim(c.\"SSN\", {TRIM_CHARS}) AS ssn FROM {cvm} c \
                  WHERE {REGULAR} AND c.\"VisitDate\" BETWEEN $1 AND $2) s \
                 WHERE s.ssn <> '' GROUP BY 1 ORDER BY 1"
            ),
            &[&window.from, &window.to, &len],
        )
        .map_err(|e| StoreError::db("read the SSN prefixes of stored rows", Some(&cvm), e))?;
    Ok(rows
        .iter()
        .map(|r| (r.get(0), u64::try_from(r.get::<_, i64>(1)).unwrap_or(0)))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::prefix_upper_bound;

    #[test]
    fn the_upper_bound_increments_the_last_character_that_can_be() {
        assert_eq!(prefix_upper_bound("123").as_deref(), Some("124"));
        assert_eq!(prefix_upper_bound("129").as_deref(), Some("12:"));
        assert_eq!(prefix_upper_bound("1\u{10FFFF}").as_deref(), Some("2"));
        assert_eq!(
            prefix_upper_bound("a\u{D7FF}").as_deref(),
            Some("a\u{E000}")
        );
    }

    #[test]
    fn without_an_incrementable_character_there_is_no_upper_bound() {
        assert_eq!(prefix_upper_bound(""), None);
        assert_eq!(prefix_upper_bound("\u{10FFFF}\u{10FFFF}"), None);
    }
}
