//! The batch's detected pairs as two temporary tables: their written values go to the server
//! once, by binary COPY, and every later statement of the batch (the comparison with the
//! stored rows, the update, the insert) joins them instead of sending values again. Each
//! visit's values are sent once, in the side table [`SIDES`]; the pair table [`PAIRS`] names
//! a pair's two side rows and holds its own values (see [`super::pair_columns`]).

use postgres::types::{ToSql, Type};
use postgres::GenericClient;

use super::batch_plan::MatchedRow;
use super::cell::{Cell, SqlType};
use super::config::SchemaNames;
use super::copy_binary::BinaryCopy;
use super::cvm_row::{Column, CvmLayout, PairRow};
use super::error::StoreError;
use super::stored_rows::{from_row, select_list};
use super::uuid_param::UuidParam;

/// Temporary table of the detected pairs: `idx` (position in the batch), the pair key, `s1`
/// and `s2` (V1's and V2's row in [`SIDES`]) and the pair's own values, named like their CVM
/// columns.
pub(crate) const PAIRS: &str = "conflicts_tmp_batch_pairs";

/// Temporary table of the visits of the detected pairs: `sidx` and one column per side value
/// ([`super::pair_columns::PairColumns::side`]), named like the first CVM column holding it.
pub(crate) const SIDES: &str = "conflicts_tmp_batch_sides";

/// Rows up to this size stay inline (the largest `toast_tuple_target`). A side row is a
/// kilobyte or two of short values; with the default target (about 2 kB) PostgreSQL would
/// move dozens of them per row into the TOAST table, one TOAST row each, which made loading
/// and reading the values many times slower than the rest of the batch.
const INLINE_ROWS: u32 = 8160;

/// Above this many rows a temporary table is analysed after loading: a join with
/// conflictvisitmaps must know whether it joins a handful of rows or thousands.
const ANALYZE_FROM_ROWS: usize = 1000;

/// The joins that bring a pair's two side rows next to the pair table `p`, as `v1` and `v2`:
/// every column expression of [`super::pair_columns::PairColumns::exprs`] needs them.
pub(crate) fn side_joins() -> String {
    format!("JOIN {SIDES} v1 ON v1.sidx = p.s1 JOIN {SIDES} v2 ON v2.sidx = p.s2")
}

/// One row of [`PAIRS`].
#[derive(Debug, Clone)]
pub(crate) struct PairLink {
    pub visit_id: UuidParam,
    pub con_visit_id: UuidParam,
    /// The rows of V1 and V2 in [`SIDES`].
    pub sides: [i32; 2],
    /// The pair's own values, aligned with `PairColumns::pair`.
    pub cells: Vec<Cell>,
}

impl PairLink {
    fn empty() -> PairLink {
        PairLink {
            visit_id: UuidParam::NIL,
            con_visit_id: UuidParam::NIL,
            sides: [0, 0],
            cells: Vec::new(),
        }
    }
}

/// Where the rows of [`SIDES`] and [`PAIRS`] come from: built rows, or rows built one by one
/// as they are copied. Sides are asked for first, each once and in order; then pairs.
pub(crate) trait PairSource {
    /// How many side rows there are.
    fn sides(&self) -> usize;
    /// Side row `s`, into `cells` (aligned with `PairColumns::side`).
    fn side(&mut self, s: usize, cells: &mut Vec<Cell>) -> Result<(), StoreError>;
    /// How many pairs there are.
    fn pairs(&self) -> usize;
    /// Pair `i`, into `link`; its side indices are below [`PairSource::sides`].
    fn pair(&mut self, i: usize, link: &mut PairLink) -> Result<(), StoreError>;
}

/// Built wide rows (the InService step): each row's two sides are rows `2i` and `2i + 1` of
/// [`SIDES`], taken out of its cells.
struct WideRows<'a> {
    layout: &'a CvmLayout,
    rows: &'a [PairRow],
}

impl PairSource for WideRows<'_> {
    fn sides(&self) -> usize {
        self.rows.len() * 2
    }

    fn side(&mut self, s: usize, cells: &mut Vec<Cell>) -> Result<(), StoreError> {
        let row = &self.rows[s / 2];
        cells.clear();
        cells.extend(
            self.layout.split.of_side[s % 2]
                .iter()
                .map(|cols| cols.first().map_or(Cell::Null, |&i| row.cells[i].clone())),
        );
        Ok(())
    }

    fn pairs(&self) -> usize {
        self.rows.len()
    }

    fn pair(&mut self, i: usize, link: &mut PairLink) -> Result<(), StoreError> {
        let row = &self.rows[i];
        link.visit_id = row.visit_id;
        link.con_visit_id = row.con_visit_id;
        // `sides()` is checked to fit an int4 before any pair is asked for.
        link.sides = [(2 * i) as i32, (2 * i + 1) as i32];
        link.cells.clear();
        link.cells
            .extend(self.layout.split.pair.iter().map(|&j| row.cells[j].clone()));
        Ok(())
    }
}

/// Creates [`SIDES`] and [`PAIRS`] (dropped at commit) and copies `rows` into them.
pub(crate) fn load_pairs<C: GenericClient>(
    client: &mut C,
    layout: &CvmLayout,
    rows: &[PairRow],
) -> Result<(), StoreError> {
    copy_pairs(client, layout, WideRows { layout, rows })
}

/// `n` as an int4 row number, checked before anything is sent.
fn int4_count(n: usize, what: &str) -> Result<i32, StoreError> {
    i32::try_from(n).map_err(|_| StoreError::InvalidValue {
        column: "idx".into(),
        visit_id: String::new(),
        reason: format!("more than 2^31 {what} in one batch"),
    })
}

/// `"name" type, …` of `columns` as a temporary table declares them.
fn declare<'a>(columns: impl Iterator<Item = &'a Column>) -> String {
    columns
        .map(|c| format!(", \"{}\" {}", c.name, c.temp_type()))
        .collect()
}

/// `, "name", …` of `columns`.
fn column_list<'a>(columns: impl Iterator<Item = &'a Column>) -> String {
    columns.map(|c| format!(", \"{}\"", c.name)).collect()
}

/// Starts `COPY table (leading…, columns…) FROM STDIN BINARY`; `leading` is the column list
/// and the types of the fields before the layout's `columns`. Returns the writer and the
/// number of fields a row has.
fn start_copy<'c, 'l, C: GenericClient>(
    client: &'c mut C,
    table: &str,
    leading: (&str, &[Type]),
    columns: impl Iterator<Item = &'l Column> + Clone,
    action: &'static str,
) -> Result<(BinaryCopy<'c>, usize), StoreError> {
    let mut types = leading.1.to_vec();
    types.extend(columns.clone().map(|c| c.ty.pg_type()));
    let sink = client
        .copy_in(&format!(
            "COPY {table} ({}{}) FROM STDIN BINARY",
            leading.0,
            column_list(columns)
        ))
        .map_err(|e| StoreError::db(action, Some(table), e))?;
    Ok((BinaryCopy::new(sink, &types, table, action), types.len()))
}

/// Creates [`SIDES`] and [`PAIRS`] (dropped at commit) and copies the rows of `source` into
/// them, each built just before it is encoded: the client builds the next megabyte while the
/// server stores the previous one.
pub(crate) fn copy_pairs<C: GenericClient>(
    client: &mut C,
    layout: &CvmLayout,
    mut source: impl PairSource,
) -> Result<(), StoreError> {
    let (sides, pairs) = (source.sides(), source.pairs());
    let last_side = int4_count(sides, "pair sides")?;
    let last_pair = int4_count(pairs, "pairs")?;
    let split = &layout.split;
    let side_cols = || split.side.iter().map(|sc| &layout.columns[sc.column]);
    let pair_cols = || split.pair.iter().map(|&i| &layout.columns[i]);
    client
        .batch_execute(&format!(
            "CREATE TEMP TABLE {SIDES} (sidx int4 PRIMARY KEY{}) \
             WITH (toast_tuple_target = {INLINE_ROWS}) ON COMMIT DROP; \
             CREATE TEMP TABLE {PAIRS} (idx int4 PRIMARY KEY, \"VisitID\" uuid NOT NULL, \
             \"ConVisitID\" uuid NOT NULL, s1 int4 NOT NULL, s2 int4 NOT NULL{}) ON COMMIT DROP",
            declare(side_cols()),
            declare(pair_cols()),
        ))
        .map_err(|e| StoreError::db("create the temporary pair tables", Some(PAIRS), e))?;

    let action = "copy the visits of the detected pairs";
    let (mut writer, width) =
        start_copy(client, SIDES, ("sidx", &[Type::INT4]), side_cols(), action)?;
    let mut cells = Vec::new();
    for (s, sidx) in (0..last_side).enumerate() {
        source.side(s, &mut cells)?;
        let mut values: Vec<&(dyn ToSql + Sync)> = Vec::with_capacity(width);
        values.push(&sidx);
        values.extend(cells.iter().map(|c| c as &(dyn ToSql + Sync)));
        writer.write(&values)?;
    }
    writer.finish()?;

    let key = [Type::INT4, Type::UUID, Type::UUID, Type::INT4, Type::INT4];
    let (mut writer, width) = start_copy(
        client,
        PAIRS,
        ("idx, \"VisitID\", \"ConVisitID\", s1, s2", &key),
        pair_cols(),
        "copy the detected pairs",
    )?;
    let mut link = PairLink::empty();
    for (i, idx) in (0..last_pair).enumerate() {
        source.pair(i, &mut link)?;
        if link.sides.iter().any(|&s| s < 0 || s >= last_side) {
            return Err(StoreError::InvalidValue {
                column: "s1, s2".into(),
                visit_id: link.visit_id.to_string(),
                reason: format!("pair {i} names a side row that was not copied"),
            });
        }
        let mut values: Vec<&(dyn ToSql + Sync)> = Vec::with_capacity(width);
        values.push(&idx);
        values.push(&link.visit_id);
        values.push(&link.con_visit_id);
        values.push(&link.sides[0]);
        values.push(&link.sides[1]);
        values.extend(link.cells.iter().map(|c| c as &(dyn ToSql + Sync)));
        writer.write(&values)?;
    }
    writer.finish()?;
    // Statistics of the join columns are all the planner needs; the value columns would
    // only make ANALYZE slower.
    analyze_if_large(client, &format!("{SIDES} (sidx)"), sides)?;
    analyze_if_large(
        client,
        &format!("{PAIRS} (idx, \"VisitID\", \"ConVisitID\", s1, s2)"),
        pairs,
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
/// (microseconds for timestamps, exact text for varchar); NULL equals NULL. `new` is the SQL
/// expression of the written value ([`super::pair_columns::PairColumns::exprs`]).
pub(crate) fn differs(column: &Column, new: &str) -> String {
    let name = &column.name;
    match column.ty {
        SqlType::Real => {
            format!("float4send(c.\"{name}\") IS DISTINCT FROM float4send({new})")
        }
        _ => format!("c.\"{name}\" IS DISTINCT FROM {new}"),
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
    let changed: Vec<String> = layout
        .updated_columns()
        .map(|(c, new)| differs(c, new))
        .collect();
    // Driven by the pair table, one index lookup per pair, whatever the statistics of
    // conflictvisitmaps say: the `LATERAL` subquery with `OFFSET 0` is not flattened into a
    // join the planner may reorder. With stale statistics (a table that grew since its last
    // ANALYZE, as in a first run) the planner otherwise hashed the whole table per batch,
    // believing it held one row (run_bench: 0.1 → 1.6 s per batch as the table grew).
    let changed = if changed.is_empty() {
        "false".to_string()
    } else {
        changed.join(" OR ")
    };
    let sql = format!(
        "SELECT {}, p.idx, ({changed}) FROM {PAIRS} p {} CROSS JOIN LATERAL \
         (SELECT * FROM {cvm} c WHERE c.\"VisitID\" = p.\"VisitID\" \
          AND c.\"ConVisitID\" = p.\"ConVisitID\" OFFSET 0) c",
        select_list(),
        side_joins(),
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
                row: control.into_stored(),
                changed: vec![r.get(19)],
            }
        })
        .collect())
}
