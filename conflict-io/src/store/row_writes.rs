//! The set-based writes of a batch to conflictvisitmaps: each planned set goes to a temporary
//! table by binary COPY and is applied by one statement joined with the pair table
//! ([`super::pair_table::PAIRS`]). Every statement reports its affected-row count, which is
//! what the run counts.

use chrono::NaiveDateTime;
use conflict_core::plan::stale::RESOLVED_STATUS;
use conflict_core::FLAG_NAMES;
use postgres::types::{ToSql, Type};
use postgres::GenericClient;

use super::batch_plan::{PlannedInsert, PlannedUpdate};
use super::cell::{Cell, SqlType};
use super::config::SchemaNames;
use super::copy_binary::BinaryCopy;
use super::cvm_row::CvmLayout;
use super::error::StoreError;
use super::pair_table::{analyze_if_large, differs, side_joins, PAIRS};
use super::stored_rows::REGULAR;

const UPDATES: &str = "conflicts_tmp_batch_updates";
const INSERTS: &str = "conflicts_tmp_batch_inserts";
const STALE: &str = "conflicts_tmp_batch_stale";

/// `f0 text, f1 text, …` for the seven flags with the given column prefix.
fn flag_columns(prefix: &str) -> String {
    (0..FLAG_NAMES.len())
        .map(|i| format!("{prefix}{i} text"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn flag_cell(f: &Option<String>) -> Cell {
    f.as_ref().map_or(Cell::Null, |s| Cell::Text(s.clone()))
}

fn yn(f: bool) -> Cell {
    Cell::Text(if f { "Y" } else { "N" }.to_string())
}

/// Creates `table` (dropped at commit) and copies `rows` of `types` into it; a large table is
/// then analysed on its `join_columns`, the only statistics its statements need.
fn copy_rows<C: GenericClient>(
    client: &mut C,
    table: &str,
    join_columns: &str,
    definition: &str,
    types: &[Type],
    rows: &[Vec<Cell>],
) -> Result<(), StoreError> {
    client
        .batch_execute(&format!(
            "CREATE TEMP TABLE {table} ({definition}) ON COMMIT DROP"
        ))
        .map_err(|e| StoreError::db("create a temporary table", Some(table), e))?;
    let err = |e| StoreError::db("copy planned rows", Some(table), e);
    let sink = client
        .copy_in(&format!("COPY {table} FROM STDIN BINARY"))
        .map_err(err)?;
    let mut writer = BinaryCopy::new(sink, types, table, "copy planned rows");
    let mut values: Vec<&(dyn ToSql + Sync)> = Vec::with_capacity(types.len());
    for row in rows {
        values.clear();
        values.extend(row.iter().map(|c| c as &(dyn ToSql + Sync)));
        writer.write(&values)?;
    }
    writer.finish()?;
    analyze_if_large(client, &format!("{table} ({join_columns})"), rows.len())
}

/// Rewrites the planned rows (docs/lifecycle.md §4): the updated columns that differ take the pair
/// table's value (the others are written back as stored), sticky flags and status from the plan, `UpdateFlag`/`ResolveDate` NULL, `UpdatedDate` =
/// `run_ts`; an adopted orphan also gets its `CONFLICTID`.
///
/// The statement only touches a row whose status, flags and `CONFLICTID` are still what the
/// plan was made from: a person may mark a row `W` or `I` while the batch runs, and that
/// decision must win. Fewer affected rows than planned is therefore a concurrent change, and
/// the whole batch is rolled back (and retried: [`StoreError::ConcurrentChange`] is transient).
pub(crate) fn update_rows<C: GenericClient>(
    client: &mut C,
    names: &SchemaNames,
    layout: &CvmLayout,
    updates: &[PlannedUpdate],
    conflict_ids: &std::collections::BTreeMap<String, i64>,
    run_ts: NaiveDateTime,
) -> Result<u64, StoreError> {
    update_rows_with(
        client,
        names,
        layout,
        updates,
        conflict_ids,
        run_ts,
        &ExtraColumns::default(),
    )
}

/// Further columns an update or an insert writes beyond the batch writer's own, with values
/// from a table joined to the pair table (the InService step: its dates and flags).
#[derive(Debug, Default)]
pub(crate) struct ExtraColumns {
    /// Appended to the statement's `FROM` (e.g. `JOIN t e ON e.idx = p.idx`).
    pub join: String,
    /// (column, SQL expression). In an update `c` is the stored row; in an insert an entry
    /// replaces the default value of a control column of the same name.
    pub columns: Vec<(&'static str, String)>,
}

/// [`update_rows`] that also writes `extra`.
pub(crate) fn update_rows_with<C: GenericClient>(
    client: &mut C,
    names: &SchemaNames,
    layout: &CvmLayout,
    updates: &[PlannedUpdate],
    conflict_ids: &std::collections::BTreeMap<String, i64>,
    run_ts: NaiveDateTime,
    extra: &ExtraColumns,
) -> Result<u64, StoreError> {
    if updates.is_empty() {
        return Ok(0);
    }
    let cvm = names.conflict_table("conflictvisitmaps");
    let definition = format!(
        "idx int4, row_id int8, conflict_id int8, status text, {}, \
         o_status text, o_conflict_id int8, {}",
        flag_columns("f"),
        flag_columns("o")
    );
    let mut types = vec![Type::INT4, Type::INT8, Type::INT8, Type::TEXT];
    types.extend([Type::TEXT; 7]);
    types.extend([Type::TEXT, Type::INT8]);
    types.extend([Type::TEXT; 7]);
    let rows = updates
        .iter()
        .map(|u| {
            let adopted = if u.adopt {
                let id = conflict_ids.get(&u.row.visit_id).copied().ok_or_else(|| {
                    StoreError::InvalidValue {
                        column: "CONFLICTID".into(),
                        visit_id: u.row.visit_id.clone(),
                        reason: "no conflict id was planned for an adopted orphan".into(),
                    }
                })?;
                Cell::I64(id)
            } else {
                Cell::Null
            };
            let mut row = vec![
                Cell::I32(u.pair as i32),
                Cell::I64(u.row.id),
                adopted,
                u.plan.status.clone().map_or(Cell::Null, Cell::Text),
            ];
            row.extend(u.plan.flags.iter().map(flag_cell));
            row.push(u.row.status.clone().map_or(Cell::Null, Cell::Text));
            row.push(u.row.conflict_id.map_or(Cell::Null, Cell::I64));
            row.extend(u.row.flags.iter().map(flag_cell));
            Ok(row)
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    copy_rows(client, UPDATES, "idx, row_id", &definition, &types, &rows)?;

    // A column whose value did not change is written back as it is stored: an unchanged
    // value that PostgreSQL keeps out of line (TOAST) then keeps its stored copy, where
    // writing the equal new value would store a fresh copy and delete the old one. The
    // comparison is the one `read_matched` made, repeated here on the server rather than
    // sent to the client and back as one flag per column.
    let mut set: Vec<String> = layout
        .updated_columns()
        .map(|(c, new)| match c.ty {
            SqlType::Text => format!(
                "\"{0}\" = CASE WHEN {1} THEN {new} ELSE c.\"{0}\" END",
                c.name,
                differs(c, new)
            ),
            _ => format!("\"{}\" = {new}", c.name),
        })
        .collect();
    set.extend(
        FLAG_NAMES
            .iter()
            .enumerate()
            .map(|(i, f)| format!("\"{f}\" = u.f{i}")),
    );
    set.push("\"StatusFlag\" = u.status".into());
    set.push("\"UpdateFlag\" = NULL".into());
    set.push("\"ResolveDate\" = NULL".into());
    set.push("\"UpdatedDate\" = $1".into());
    set.push("\"CONFLICTID\" = COALESCE(u.conflict_id, c.\"CONFLICTID\")".into());
    set.extend(extra.columns.iter().map(|(c, v)| format!("\"{c}\" = {v}")));
    let guard: Vec<String> = FLAG_NAMES
        .iter()
        .enumerate()
        .map(|(i, f)| format!("c.\"{f}\" IS NOT DISTINCT FROM u.o{i}"))
        .collect();
    let sql = format!(
        "UPDATE {cvm} c SET {} FROM {UPDATES} u JOIN {PAIRS} p ON p.idx = u.idx {} {} \
         WHERE c.\"ID\" = u.row_id AND c.\"StatusFlag\" IS NOT DISTINCT FROM u.o_status \
         AND c.\"CONFLICTID\" IS NOT DISTINCT FROM u.o_conflict_id AND {}",
        set.join(", "),
        side_joins(),
        extra.join,
        guard.join(" AND ")
    );
    let affected = client
        .execute(&sql, &[&run_ts])
        .map_err(|e| StoreError::db("update the re-detected rows", Some(&cvm), e))?;
    let expected = updates.len() as u64;
    if affected != expected {
        return Err(StoreError::ConcurrentChange {
            action: "update the re-detected rows",
            table: cvm,
            expected,
            affected,
        });
    }
    Ok(affected)
}

/// Inserts the new rows (docs/lifecycle.md §5.1) in (`VisitID`, `ConVisitID`) order, so that the
/// identity `"ID"`s follow that order.
pub(crate) fn insert_rows<C: GenericClient>(
    client: &mut C,
    names: &SchemaNames,
    layout: &CvmLayout,
    inserts: &[PlannedInsert],
    conflict_ids: &std::collections::BTreeMap<String, i64>,
    run_ts: NaiveDateTime,
) -> Result<u64, StoreError> {
    insert_rows_with(
        client,
        names,
        layout,
        inserts,
        conflict_ids,
        run_ts,
        &ExtraColumns::default(),
    )
}

/// [`insert_rows`] that also writes `extra`.
pub(crate) fn insert_rows_with<C: GenericClient>(
    client: &mut C,
    names: &SchemaNames,
    layout: &CvmLayout,
    inserts: &[PlannedInsert],
    conflict_ids: &std::collections::BTreeMap<String, i64>,
    run_ts: NaiveDateTime,
    extra: &ExtraColumns,
) -> Result<u64, StoreError> {
    if inserts.is_empty() {
        return Ok(0);
    }
    let cvm = names.conflict_table("conflictvisitmaps");
    let definition = format!("idx int4, conflict_id int8, {}", flag_columns("f"));
    let mut types = vec![Type::INT4, Type::INT8];
    types.extend([Type::TEXT; 7]);
    let rows =
        inserts
            .iter()
            .map(|i| {
                let id = conflict_ids.get(&i.visit_id).copied().ok_or_else(|| {
                    StoreError::InvalidValue {
                        column: "CONFLICTID".into(),
                        visit_id: i.visit_id.clone(),
                        reason: "no conflict id was planned for a new row".into(),
                    }
                })?;
                let mut row = vec![Cell::I32(i.pair as i32), Cell::I64(id)];
                row.extend(i.flags.iter().map(|&f| yn(f)));
                Ok(row)
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
    copy_rows(client, INSERTS, "idx", &definition, &types, &rows)?;

    let mut columns: Vec<String> = vec!["\"VisitID\"".into(), "\"ConVisitID\"".into()];
    let mut values: Vec<String> = vec!["p.\"VisitID\"".into(), "p.\"ConVisitID\"".into()];
    for (c, new) in layout.columns.iter().zip(&layout.split.exprs) {
        columns.push(format!("\"{}\"", c.name));
        values.push(new.clone());
    }
    for (i, f) in FLAG_NAMES.iter().enumerate() {
        columns.push(format!("\"{f}\""));
        values.push(format!("n.f{i}"));
    }
    let control = [
        ("CONFLICTID", "n.conflict_id"),
        ("StatusFlag", "'N'"),
        ("CreatedDate", "$1"),
        ("InServiceFlag", "'N'"),
        ("PTOFlag", "'N'"),
    ];
    for (c, v) in control {
        if extra.columns.iter().any(|(e, _)| *e == c) {
            continue;
        }
        columns.push(format!("\"{c}\""));
        values.push(v.to_string());
    }
    for (c, v) in &extra.columns {
        columns.push(format!("\"{c}\""));
        values.push(v.clone());
    }
    let sql = format!(
        "INSERT INTO {cvm} ({}) SELECT {} FROM {INSERTS} n JOIN {PAIRS} p ON p.idx = n.idx {} {} \
         ORDER BY p.\"VisitID\", p.\"ConVisitID\"",
        columns.join(", "),
        values.join(", "),
        side_joins(),
        extra.join
    );
    client
        .execute(&sql, &[&run_ts])
        .map_err(|e| StoreError::db("insert the new rows", Some(&cvm), e))
}

/// Resolves the stale rows (docs/lifecycle.md §6): `StatusFlag 'R'`, `ResolveDate` kept or set to
/// `run_ts`, `UpdatedDate = run_ts`. The statement re-checks that each row is still regular
/// and open, so a row a person closed meanwhile is left alone; the count is what was resolved.
pub(crate) fn resolve_stale<C: GenericClient>(
    client: &mut C,
    names: &SchemaNames,
    ids: &[i64],
    run_ts: NaiveDateTime,
) -> Result<u64, StoreError> {
    if ids.is_empty() {
        return Ok(0);
    }
    let cvm = names.conflict_table("conflictvisitmaps");
    let rows: Vec<Vec<Cell>> = ids.iter().map(|&id| vec![Cell::I64(id)]).collect();
    copy_rows(client, STALE, "id", "id int8", &[Type::INT8], &rows)?;
    let sql = format!(
        "UPDATE {cvm} c SET \"StatusFlag\" = '{RESOLVED_STATUS}', \
         \"ResolveDate\" = COALESCE(c.\"ResolveDate\", $1), \"UpdatedDate\" = $1 \
         FROM {STALE} s WHERE c.\"ID\" = s.id AND {REGULAR} \
         AND (c.\"StatusFlag\" IS NULL OR c.\"StatusFlag\" NOT IN ('R', 'W', 'I', 'D'))"
    );
    client
        .execute(&sql, &[&run_ts])
        .map_err(|e| StoreError::db("resolve the stale rows", Some(&cvm), e))
}
