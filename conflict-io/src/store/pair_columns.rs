//! Where the written values of a batch's pairs are kept on the server: each visit's values
//! once, not once per pair and side.
//!
//! Most columns of a CVM row are one of its two visits' values (docs/tables.md §5.3): the
//! plain-named columns V1's, the `Con` columns V2's, the same value whichever side the visit
//! is on. A visit is in several pairs (each pair of a key is written in both orders, and a
//! visit often conflicts with more than one other visit), so a batch's 12,000 pair rows of
//! about 200 fields hold only a few thousand visits' values. The writer therefore loads two
//! temporary tables ([`super::pair_table`]):
//!
//! - the *side table*: one row per visit of the batch's pairs, one column per distinct
//!   [`Field`] and written type ([`PairColumns::side`]);
//! - the *pair table*: one row per pair: its key, the side-table rows of V1 and V2, and the
//!   pair's own values (the metrics, [`PairColumns::pair`]).
//!
//! Every statement reads a column's value through [`PairColumns::expr`] (`v1."SchStartTime"`,
//! `v2."SchStartTime"`, `p."AverageMilesPerHour"`, `NULL::varchar(50)`). Sending each visit
//! once cut the server's COPY work about fourfold on the store-write benchmark (wide pair rows
//! 190–210 ms against 40 + 7 ms for the two tables, server-side COPY of the same rows).
//!
//! A side column is shared by a V1 and a V2 column only when both are declared with the same
//! type and length; a legacy schema whose `X` and `ConX` differ in length gets two side
//! columns, each cut to its own length.

use super::cvm_row::{Column, Field, Side, TRUNCATED_VALUE};

/// A column of the side table: the [`Field`] it holds, converted and cut as the layout
/// column `column` (the first column of that field and type) is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SideColumn {
    pub field: Field,
    /// Index into the layout's columns; also names the side column.
    pub column: usize,
}

/// Where one layout column's value is kept (while the split is made).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Place {
    /// Column `k` of the side table, in the row of this side's visit.
    Side(Side, usize),
    /// Column `j` of the pair table's own values.
    Pair(usize),
    /// Always NULL: not sent at all.
    Null,
}

/// The split of a layout into side and pair columns; see the module documentation.
#[derive(Debug, Clone)]
pub(crate) struct PairColumns {
    /// The side table's value columns, in order.
    pub side: Vec<SideColumn>,
    /// The pair table's value columns: indices into the layout's columns, in order.
    pub pair: Vec<usize>,
    /// Per layout column, the SQL expression of its written value (aliases `p`, `v1`, `v2`).
    pub exprs: Vec<String>,
    /// Per side (V1, V2) and side column: the layout columns of that side holding it, in
    /// layout order (to take a side's values out of a wide row, and to name the columns whose
    /// value was cut).
    pub of_side: [Vec<Vec<usize>>; 2],
    /// Per layout column, the name of its warning for a value cut to the column's length.
    pub cut_warnings: Vec<String>,
}

impl PairColumns {
    /// The split of `columns` (a layout's, in order).
    pub(crate) fn new(columns: &[Column]) -> PairColumns {
        let mut side: Vec<SideColumn> = Vec::new();
        let mut pair = Vec::new();
        let mut place = Vec::with_capacity(columns.len());
        for (i, col) in columns.iter().enumerate() {
            let p = match col.source.side_field() {
                Some((s, field)) => {
                    let same = |sc: &SideColumn| {
                        sc.field == field && columns[sc.column].temp_type() == col.temp_type()
                    };
                    let k = match side.iter().position(same) {
                        Some(k) => k,
                        None => {
                            side.push(SideColumn { field, column: i });
                            side.len() - 1
                        }
                    };
                    Place::Side(s, k)
                }
                None if col.source == super::cvm_row::Source::AlwaysNull => Place::Null,
                None => {
                    pair.push(i);
                    Place::Pair(pair.len() - 1)
                }
            };
            place.push(p);
        }
        let mut of_side = [vec![Vec::new(); side.len()], vec![Vec::new(); side.len()]];
        for (i, p) in place.iter().enumerate() {
            if let Place::Side(s, k) = *p {
                of_side[s as usize][k].push(i);
            }
        }
        let exprs = place
            .iter()
            .zip(columns)
            .map(|(p, col)| match *p {
                Place::Side(s, k) => {
                    let alias = match s {
                        Side::V1 => "v1",
                        Side::V2 => "v2",
                    };
                    format!("{alias}.\"{}\"", columns[side[k].column].name)
                }
                Place::Pair(_) => format!("p.\"{}\"", col.name),
                Place::Null => format!("NULL::{}", col.temp_type()),
            })
            .collect();
        let cut_warnings = columns
            .iter()
            .map(|c| format!("{TRUNCATED_VALUE}.{}", c.name))
            .collect();
        PairColumns {
            side,
            pair,
            exprs,
            of_side,
            cut_warnings,
        }
    }
}

#[cfg(test)]
impl PairColumns {
    /// Where layout column `i` is kept, found again from the split.
    fn place(&self, i: usize) -> Place {
        for (s, side) in [Side::V1, Side::V2].into_iter().enumerate() {
            if let Some(k) = self.of_side[s].iter().position(|cols| cols.contains(&i)) {
                return Place::Side(side, k);
            }
        }
        match self.pair.iter().position(|&j| j == i) {
            Some(j) => Place::Pair(j),
            None => Place::Null,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::cvm_row::{CvmLayout, Source};
    use super::super::schema::SchemaInfo;
    use super::*;

    /// On the shipped schema every `ConX` column shares the side column of `X`: the side table
    /// has one column per visit value, about half the pair row.
    #[test]
    fn v1_and_v2_columns_of_one_value_share_a_side_column() {
        let layout = CvmLayout::new(&SchemaInfo::default());
        let split = &layout.split;
        let name = |i: usize| layout.columns[i].name.as_str();
        let find = |n: &str| layout.columns.iter().position(|c| c.name == n).unwrap();
        for (a, b) in [
            ("SchStartTime", "ConSchStartTime"),
            ("AideSSN", "ConAideSSN"),
            ("AppVisitID", "ConAppVisitID"),
            ("PLatitude", "ConPLatitude"),
        ] {
            let (Place::Side(Side::V1, k1), Place::Side(Side::V2, k2)) =
                (split.place(find(a)), split.place(find(b)))
            else {
                panic!("{a} / {b} are not side columns");
            };
            assert_eq!(k1, k2, "{a} / {b}");
            assert_eq!(
                split.exprs[find(b)],
                format!("v2.\"{}\"", name(split.side[k1].column))
            );
        }
        let sides = layout
            .columns
            .iter()
            .filter(|c| c.source.side_field().is_some())
            .count();
        assert!(
            split.side.len() * 2 <= sides + 2,
            "{} of {sides}",
            split.side.len()
        );
        // The metrics are the pair's own; the patient block is never sent.
        assert_eq!(split.pair.len(), 4);
        assert_eq!(split.place(find("PName")), Place::Null);
        assert!(split.exprs[find("PName")].starts_with("NULL::varchar"));
        assert_eq!(
            split.exprs[find("AverageMilesPerHour")],
            "p.\"AverageMilesPerHour\""
        );
        assert_eq!(layout.columns[split.pair[0]].source, Source::MinuteDiff);
    }

    /// A legacy schema that declares `ConX` shorter than `X` keeps two side columns, so each
    /// column is cut to its own length.
    #[test]
    fn columns_of_different_lengths_get_their_own_side_column() {
        let base = CvmLayout::new(&SchemaInfo::default());
        let mut columns = base.columns.clone();
        let con = columns
            .iter()
            .position(|c| c.name == "ConProviderName")
            .unwrap();
        let plain = columns
            .iter()
            .position(|c| c.name == "ProviderName")
            .unwrap();
        columns[con].max_chars = Some(7);
        columns[plain].max_chars = Some(50);
        let split = PairColumns::new(&columns);
        assert_eq!(split.side.len(), base.split.side.len() + 1);
        let (Place::Side(_, k1), Place::Side(_, k2)) = (split.place(plain), split.place(con))
        else {
            panic!("not side columns");
        };
        assert_ne!(k1, k2);
        assert_eq!(split.side[k2].column, con);
        assert_eq!(split.of_side[1][k2], [con]);
        assert!(split.of_side[0][k2].is_empty());
        // V1's trimmed SSN fills both `SSN` and `AideSSN` on the shipped schema.
        let (Place::Side(Side::V1, k), Some(aide)) = (
            base.split
                .place(columns.iter().position(|c| c.name == "SSN").unwrap()),
            columns.iter().position(|c| c.name == "AideSSN"),
        ) else {
            panic!("SSN is not a V1 side column");
        };
        assert!(base.split.of_side[0][k].contains(&aide));
    }
}
