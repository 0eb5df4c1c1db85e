//! The batch's detected pairs as a temporary table: their written values go to the server once,
//! by binary COPY, and every later statement of the batch (the comparison with the stored rows,
//! the update, the insert) joins it instead of sending values again.

use postgres::types::{ToSql, Type};
use postgres::GenericClient;

use super::batch_plan::MatchedRow;
use super::cell::SqlType;
use super::config::SchemaNames;
use super::copy_binary::BinaryCopy;
use super::cvm_row::{Column, CvmLayout, PairRow};
use super::error::StoreError;
use super::stored_rows::{from_row, select_list};

/// Temporary table of the detected pairs: `idx` (position in the batch), the pair key and one
/// column per layout column, named like its CVM column.
pub(crate) const PAIRS: &str = "conflicts_tmp_batch_pairs";

/// Rows up to this size stay inline (the largest `toast_tuple_target`). A pair row is a few
/// kilobytes of short values; with the default target (about 2 kB) PostgreSQL would move
/// dozens of them per row into the TOAST table, one TOAST row each, which made loading and
/// reading the pairs many times slower than the rest of the batch.
const INLINE_ROWS: u32 = 8160;

/// Above this many rows a temporary table is analysed after loading: a join with
/// conflictvisitmaps must know whether it joins a handful of rows or thousands.
const ANALYZE_FROM_ROWS: usize = 1000;

/// Where the rows of [`PAIRS`] come from: built ones, or built one by one as they are copied.
pub(crate) trait PairSource {
    /// How many rows there are.
    fn count(&self) -> usize;
    /// Row `i` (in order, each once); `buf` is a scratch row the source may build into.
    fn row<'r>(&'r mut self, i: usize, buf: &'r mut PairRow) -> Result<&'r PairRow, StoreError>;
}

impl PairSource for &[PairRow] {
    fn count(&self) -> usize {
        self.len()
    }

    fn row<'r>(&'r mut self, i: usize, _: &'r mut PairRow) -> Result<&'r PairRow, StoreError> {
        Ok(&self[i])
    }
}

/// Creates [`PAIRS`] (dropped at commit) and copies `rows` into it.
pub(crate) fn load_pairs<C: GenericClient>(
    client: &mut C,
    layout: &CvmLayout,
    rows: &[PairRow],
) -> Result<(), StoreError> {
    copy_pairs(client, layout, rows)
}

/// Creates [`PAIRS`] (dropped at commit) and copies the rows of `source` into it, each built
/// just before it is encoded: the client builds the next megabyte while the server stores the
/// previous one.
pub(crate) fn copy_pairs<C: GenericClient>(
    client: &mut C,
    layout: &CvmLayout,
    mut source: impl PairSource,
) -> Result<(), StoreError> {
    let count = source.count();
    // Checked before anything is sent: `idx` is an int4.
    let last = i32::try_from(count).map_err(|_| StoreError::InvalidValue {
        column: "idx".into(),
        visit_id: String::new(),
        reason: "more than 2^31 pairs in one batch".into(),
    })?;
    let columns: Vec<String> = layout
        .columns
        .iter()
        .map(|c| format!("\"{}\" {}", c.name, c.temp_type()))
        .collect();
    client
        .batch_execute(&format!(
            "CREATE TEMP TABLE {PAIRS} (idx int4 PRIMARY KEY, \"VisitID\" uuid NOT NULL, \
             \"ConVisitID\" uuid NOT NULL, {}) WITH (toast_tuple_target = {INLINE_ROWS}) \
             ON COMMIT DROP",
            columns.join(", ")
        ))
        .map_err(|e| StoreError::db("create the temporary pair table", Some(PAIRS), e))?;

    let names: Vec<String> = layout
        .columns
        .iter()
        .map(|c| format!("\"{}\"", c.name))
        .collect();
    let mut types = vec![Type::INT4, Type::UUID, Type::UUID];
    types.extend(layout.columns.iter().map(|c| c.ty.pg_type()));
    let sink = client
        .copy_in(&format!(
            "COPY {PAIRS} (idx, \"VisitID\", \"ConVisitID\", {}) FROM STDIN BINARY",
            names.join(", ")
        ))
        .map_err(|e| StoreError::db("copy the detected pairs", Some(PAIRS), e))?;
    let mut writer = BinaryCopy::new(sink, &types, PAIRS, "copy the detected pairs");
    let mut buf = PairRow::empty();
    for (i, idx) in (0..last).enumerate() {
        let row = source.row(i, &mut buf)?;
        let mut values: Vec<&(dyn ToSql + Sync)> = Vec::with_capacity(types.len());
        values.push(&idx);
        values.push(&row.visit_id);
        values.push(&row.con_visit_id);
        values.extend(row.cells.iter().map(|c| c as &(dyn ToSql + Sync)));
        writer.write(&values)?;
    }
    writer.finish()?;
    // Statistics of the join columns are all the planner needs; the value columns would
    // only make ANALYZE slower.
    analyze_if_large(
        client,
        &format!("{PAIRS} (idx, \"VisitID\", \"ConVisitID\")"),
        count,
    )
}

/// Analyses a freshly loaded temporary table of `rows` rows when it is large: without
/// statistics the planner guesses its size and may, for example, scan a wide table once per
/// row of another instead of hashing it.
pub(crate) fn analyze_if_large<C: GenericClient>(
    client: &mut C,
    table: &str,
    rows: usize,
) -> Result<(), StoreError> {
    if rows >= ANALYZE_FROM_ROWS {
        client
            .batch_execute(&format!("ANALYZE {table}"))
            .map_err(|e| StoreError::db("analyse a temporary table", Some(table), e))?;
    }
    Ok(())
}

/// `stored` differs from `new` for one column, on the stored type: a `real` by its bit
/// pattern (`=` on float4 would equate 0 and −0), everything else by its own equality
/// (microseconds for timestamps, exact text for varchar); NULL equals NULL.
pub(crate) fn differs(column: &Column) -> String {
    let name = &column.name;
    match column.ty {
        SqlType::Real => {
            format!("float4send(c.\"{name}\") IS DISTINCT FROM float4send(p.\"{name}\")")
        }
        _ => format!("c.\"{name}\" IS DISTINCT FROM p.\"{name}\""),
    }
}

/// Every CVM row, of any kind and anywhere in the table, whose (`VisitID`, `ConVisitID`) is
/// the key of a loaded pair (docs/lifecycle.md §3), with whether any of the updated columns
/// differs from the pair's values (a one-element `changed`). One flag, not one per column: the
/// update compares again column by column on the server, so a per-column array (about 1.3 kB
/// a row in the binary protocol) would only travel to the client and back.
pub(crate) fn read_matched<C: GenericClient>(
    client: &mut C,
    names: &SchemaNames,
    layout: &CvmLayout,
) -> Result<Vec<MatchedRow>, StoreError> {
    let cvm = names.conflict_table("conflictvisitmaps");
    let changed: Vec<String> = layout.updated_columns().map(differs).collect();
    // Driven by the pair table, one index lookup per pair, whatever the statistics of
    // conflictvisitmaps say: the `LATERAL` subquery with `OFFSET 0` is not flattened into a
    // join the planner may reorder. With stale statistics (a table that grew since its last
    // ANALYZE, as in a first run) the planner otherwise hashed the whole table per batch,
    // believing it held one row (run_bench: 0.1 → 1.6 s per batch as the table grew).
    let sql = format!(
        "SELECT {}, p.idx, ({}) FROM {PAIRS} p CROSS JOIN LATERAL \
         (SELECT * FROM {cvm} c WHERE c.\"VisitID\" = p.\"VisitID\" \
          AND c.\"ConVisitID\" = p.\"ConVisitID\" OFFSET 0) c",
        select_list(),
        if changed.is_empty() {
            "false".to_string()
        } else {
            changed.join(" OR ")
        }
    );
    let rows = client
        .query(&sql, &[])
        .map_err(|e| StoreError::db("read the stored rows of the detected pairs", Some(&cvm), e))?;
    Ok(rows
        .iter()
        .map(|r| {
            let control = from_row(r);
            let idx: i32 = r.get(18);
            MatchedRow {
                idx: idx as usize,
                row: control.to_stored(),
                changed: vec![r.get(19)],
            }
        })
        .collect())
}
