//! The written values of a CVM row for a detected pair (docs/tables.md §5.3, §10).
//!
//! [`CvmLayout`] lists, once per store, every column the writer fills from a pair: where its
//! value comes from ([`Source`]), its SQL type (read from the DDL script, so the two cannot
//! drift), whether an update writes it or only an insert ([`Written`]), and the declared
//! `varchar` length found by the start-up check. A batch's pair is built as its two visits'
//! side values ([`CvmLayout::build_side`], once per visit) and its own values
//! ([`CvmLayout::build_pair_values`]); [`CvmLayout::build_sides`] builds one pair as a whole
//! [`PairRow`] of cells aligned with that list. Either way every write conversion is already
//! applied (truncation, float4, int4, uuid bytes): the unchanged-row comparison of
//! docs/lifecycle.md §4.3 then compares exactly what would be stored. Where the values are
//! kept on the server is [`super::pair_columns`].
//!
//! Not in the layout: the pair key (`VisitID`, `ConVisitID`, carried separately), the flags
//! and the control columns (decided by `conflict_core::plan`), and `AgencyContact` /
//! `ConAgencyContact`, which are always NULL on insert and never written by an update.

use conflict_core::{Metrics, Visit, Warnings};

use super::cell::{truncate_chars, Cell, SqlType};
use super::ddl::conflict_tables;
use super::error::StoreError;
use super::pair_columns::PairColumns;
use super::schema::SchemaInfo;
use super::uuid_param::UuidParam;
use crate::details::{Value, VisitDetails, DETAIL_COLUMNS};
use crate::run::BatchInput;

/// The table the layout describes.
pub(crate) const CVM: &str = "conflictvisitmaps";

/// Warning of a metric that does not fit its int4 column (written as NULL).
pub const METRIC_OUT_OF_RANGE: &str = "metric_out_of_range";
/// Prefix of the per-column warning of a value cut to its `varchar(n)`:
/// `truncated_value.<column>`.
pub const TRUNCATED_VALUE: &str = "truncated_value";

/// Business columns of a side that an update never writes (docs/lifecycle.md §4.1): filled on
/// insert, then left to other jobs. `AgencyContact` is not in the layout at all.
const NEVER_UPDATED: [&str; 3] = ["AgencyPhone", "P_PStatus", "PA_PStatus"];

/// The un-prefixed patient block beyond its two ids: always NULL (docs/tables.md §5.3).
const NULL_PATIENT_BLOCK: [&str; 14] = [
    "PAdmissionID",
    "PName",
    "PFName",
    "PLName",
    "PMedicaidNumber",
    "PStatus",
    "PAddressID",
    "PAppAddressID",
    "PAddressL1",
    "PAddressL2",
    "PCity",
    "PAddressState",
    "PZipCode",
    "PCounty",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    V1,
    V2,
}

impl Side {
    /// V1 columns carry the plain name, V2 columns `Con` + name.
    fn column(self, name: &str) -> String {
        match self {
            Side::V1 => name.to_string(),
            Side::V2 => format!("Con{name}"),
        }
    }
}

/// Where a column's value comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    /// The pair's trimmed SSN.
    Ssn,
    /// V1's visit date.
    VisitDate,
    AppVisitId(Side),
    /// Index into [`DETAIL_COLUMNS`].
    Detail(Side, usize),
    SchStart(Side),
    SchEnd(Side),
    VisitStart(Side),
    VisitEnd(Side),
    IsMissed(Side),
    LastUpdated(Side),
    /// The side's trimmed SSN.
    AideSsn(Side),
    Latitude(Side),
    Longitude(Side),
    AlwaysNull,
    MinuteDiff,
    Distance,
    Mph,
    Eta,
}

/// A value one visit gives a pair row, whichever side of the pair the visit is on: the side
/// columns of a pair are the same values of its two visits (docs/tables.md §5.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Field {
    /// The visit's trimmed SSN (`SSN` of V1, `AideSSN` / `ConAideSSN`).
    Ssn,
    VisitDate,
    AppVisitId,
    /// Index into [`DETAIL_COLUMNS`].
    Detail(usize),
    SchStart,
    SchEnd,
    VisitStart,
    VisitEnd,
    IsMissed,
    LastUpdated,
    Latitude,
    Longitude,
}

impl Source {
    /// The side and the visit's value a column holds; `None` for the pair's own values (the
    /// metrics) and the always-NULL columns.
    pub(crate) fn side_field(self) -> Option<(Side, Field)> {
        use Source::*;
        Some(match self {
            Ssn => (Side::V1, Field::Ssn),
            VisitDate => (Side::V1, Field::VisitDate),
            AideSsn(s) => (s, Field::Ssn),
            AppVisitId(s) => (s, Field::AppVisitId),
            Detail(s, i) => (s, Field::Detail(i)),
            SchStart(s) => (s, Field::SchStart),
            SchEnd(s) => (s, Field::SchEnd),
            VisitStart(s) => (s, Field::VisitStart),
            VisitEnd(s) => (s, Field::VisitEnd),
            IsMissed(s) => (s, Field::IsMissed),
            LastUpdated(s) => (s, Field::LastUpdated),
            Latitude(s) => (s, Field::Latitude),
            Longitude(s) => (s, Field::Longitude),
            AlwaysNull | MinuteDiff | Distance | Mph | Eta => return None,
        })
    }
}

/// Which writes fill a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Written {
    /// Inserts and updates; part of the *content* of docs/lifecycle.md §4.2.
    Always,
    /// Inserts only (the "never written by an update" list of §4.1).
    InsertOnly,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Column {
    pub name: String,
    pub ty: SqlType,
    pub source: Source,
    pub written: Written,
    /// Declared `varchar(n)` length; `None` for other types and unbounded text.
    pub max_chars: Option<usize>,
}

/// The columns the writer fills from a pair, in a fixed order.
#[derive(Debug, Clone)]
pub(crate) struct CvmLayout {
    pub columns: Vec<Column>,
    /// Where each column's value is kept in the temporary tables of a batch's pairs.
    pub split: PairColumns,
}

/// The written values of one pair, aligned with [`CvmLayout::columns`].
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PairRow {
    pub visit_id: UuidParam,
    pub con_visit_id: UuidParam,
    pub cells: Vec<Cell>,
}

impl CvmLayout {
    /// The layout with the `varchar` lengths of the connected schema.
    pub(crate) fn new(info: &SchemaInfo) -> CvmLayout {
        let tables = conflict_tables();
        let cvm = tables
            .iter()
            .find(|t| t.name == CVM)
            .expect("the DDL script defines conflictvisitmaps");
        let mut columns = Vec::new();
        let mut push = |name: String, source: Source, written: Written| {
            let declared = cvm
                .column_type(&name)
                .unwrap_or_else(|| panic!("column {name} is not in the DDL script"));
            let ty = SqlType::from_declared(declared)
                .unwrap_or_else(|| panic!("column {name} has unexpected type {declared}"));
            let max_chars = info
                .varchar_len(CVM, &name)
                .and_then(|n| usize::try_from(n).ok());
            columns.push(Column {
                name,
                ty,
                source,
                written,
                max_chars,
            });
        };
        use Source::*;
        push("SSN".into(), Ssn, Written::Always);
        push("VisitDate".into(), VisitDate, Written::Always);
        push("AppVisitID".into(), AppVisitId(Side::V1), Written::Always);
        push(
            "ConAppVisitID".into(),
            AppVisitId(Side::V2),
            Written::Always,
        );
        for side in [Side::V1, Side::V2] {
            for (i, d) in DETAIL_COLUMNS.iter().enumerate() {
                // The app visit id comes with the visit itself (above).
                if d.cvm == "AppVisitID" {
                    continue;
                }
                let written = if NEVER_UPDATED.contains(&d.cvm) {
                    Written::InsertOnly
                } else {
                    Written::Always
                };
                push(side.column(d.cvm), Detail(side, i), written);
            }
            let derived = [
                ("SchStartTime", SchStart(side)),
                ("SchEndTime", SchEnd(side)),
                ("VisitStartTime", VisitStart(side)),
                ("VisitEndTime", VisitEnd(side)),
                ("IsMissed", IsMissed(side)),
                ("LastUpdatedDate", LastUpdated(side)),
                ("AideSSN", AideSsn(side)),
                ("PLatitude", Latitude(side)),
                ("PLongitude", Longitude(side)),
            ];
            for (name, source) in derived {
                push(side.column(name), source, Written::Always);
            }
            for name in NULL_PATIENT_BLOCK {
                push(side.column(name), AlwaysNull, Written::Always);
            }
        }
        push("MinuteDiffBetweenSch".into(), MinuteDiff, Written::Always);
        push("DistanceMilesFromLatLng".into(), Distance, Written::Always);
        push("AverageMilesPerHour".into(), Mph, Written::Always);
        push("ETATravelMinutes".into(), Eta, Written::Always);
        let split = PairColumns::new(&columns);
        CvmLayout { columns, split }
    }

    /// Builds the written values of a pair given side by side rather than as a detected pair
    /// of a batch (the InService step: a visit and an event dressed as a visit). Same
    /// conversions and warnings as a batch's pairs get ([`CvmLayout::build_side`],
    /// [`CvmLayout::build_pair_values`]).
    pub(crate) fn build_sides(
        &self,
        v1: SideInput<'_>,
        v2: SideInput<'_>,
        metrics: &Metrics,
        warnings: &mut Warnings,
    ) -> Result<PairRow, StoreError> {
        let sides = [SideData::from_input(v1)?, SideData::from_input(v2)?];
        self.build_from(&sides, metrics, warnings)
    }

    fn build_from(
        &self,
        sides: &[SideData<'_>; 2],
        metrics: &Metrics,
        warnings: &mut Warnings,
    ) -> Result<PairRow, StoreError> {
        let example = sides[0].visit.visit_id.as_str();
        let mut cells = Vec::with_capacity(self.columns.len());
        for col in &self.columns {
            let mut cell = value_of(col, sides, metrics, warnings, example)?;
            if let (Cell::Text(text), Some(max)) = (&mut cell, col.max_chars) {
                if truncate_chars(text, max) {
                    warnings.add_named(&format!("{TRUNCATED_VALUE}.{}", col.name), Some(example));
                }
            }
            cells.push(cell);
        }
        Ok(PairRow {
            visit_id: sides[0].id,
            con_visit_id: sides[1].id,
            cells,
        })
    }

    /// The columns an update writes (the content of docs/lifecycle.md §4.2), in layout order,
    /// each with the SQL expression of its written value over the pair tables
    /// ([`PairColumns::exprs`]).
    pub(crate) fn updated_columns(&self) -> impl Iterator<Item = (&Column, &str)> {
        self.columns
            .iter()
            .zip(&self.split.exprs)
            .filter(|(c, _)| c.written == Written::Always)
            .map(|(c, e)| (c, e.as_str()))
    }

    /// Builds the side values of one visit of a batch (`index` into `input.visits`) into
    /// `cells`, aligned with [`PairColumns::side`], with the conversions of a wide row
    /// ([`CvmLayout::build_sides`]). The side columns that had to be cut are listed in `cut`
    /// (the caller counts their warnings per pair, as a wide row would). Returns the visit's id.
    pub(crate) fn build_side(
        &self,
        input: &BatchInput<'_>,
        index: usize,
        cells: &mut Vec<Cell>,
        cut: &mut Vec<u16>,
    ) -> Result<UuidParam, StoreError> {
        let side = SideData::new(input, index)?;
        cut.clear();
        // `cells` holds the previous side's values: a text goes into the text buffer already
        // there instead of a fresh allocation per value (some 100 texts a visit).
        cells.resize(self.split.side.len(), Cell::Null);
        for ((k, sc), cell) in self.split.side.iter().enumerate().zip(cells.iter_mut()) {
            let col = &self.columns[sc.column];
            side_value(sc.field, col, &side, cell)?;
            if let (Cell::Text(text), Some(max)) = (cell, col.max_chars) {
                if truncate_chars(text, max) {
                    cut.push(k as u16);
                }
            }
        }
        Ok(side.id)
    }

    /// The pair's own values (the metrics) into `cells`, aligned with [`PairColumns::pair`],
    /// and the warnings a wide row of the pair would have counted: one per cut side value of
    /// a column (`cut` of each side, from [`CvmLayout::build_side`]) and per metric out of
    /// range, with V1's visit id as example.
    pub(crate) fn build_pair_values(
        &self,
        metrics: &Metrics,
        cut: [&[u16]; 2],
        example: &str,
        warnings: &mut Warnings,
        cells: &mut Vec<Cell>,
    ) {
        for (side, cut) in cut.iter().enumerate() {
            for &k in *cut {
                for &i in &self.split.of_side[side][usize::from(k)] {
                    warnings.add_named(&self.split.cut_warnings[i], Some(example));
                }
            }
        }
        cells.clear();
        for &i in &self.split.pair {
            cells.push(pair_value(&self.columns[i], metrics, warnings, example));
        }
    }
}

impl Column {
    /// The column's type as the writer's temporary tables declare it: the stored type,
    /// including a `varchar`'s length. With the same length on both sides, an update can
    /// keep a stored value by writing the column back to itself without a length coercion,
    /// which would detoast it and store a fresh copy (see `row_writes::update_rows`).
    pub(crate) fn temp_type(&self) -> String {
        match (self.ty, self.max_chars) {
            (SqlType::Text, Some(n)) => format!("varchar({n})"),
            (SqlType::Text, None) => "varchar".to_string(),
            (ty, _) => ty.sql().to_string(),
        }
    }
}

/// One side of a pair as a caller hands it to [`CvmLayout::build_sides`]: the visit (for an
/// event, a `Visit` carrying only its synthetic id, app id and date), its payload, its trimmed
/// SSN and its resolved location.
pub(crate) struct SideInput<'a> {
    pub visit: &'a Visit,
    pub details: &'a VisitDetails,
    pub ssn: &'a str,
    pub location: Option<conflict_core::Location>,
}

/// What one side of a pair contributes.
struct SideData<'a> {
    visit: &'a Visit,
    id: UuidParam,
    details: &'a VisitDetails,
    ssn: &'a str,
    location: Option<conflict_core::Location>,
}

impl<'a> SideData<'a> {
    fn new(input: &'a BatchInput<'_>, index: usize) -> Result<Self, StoreError> {
        let visit = &input.visits[index];
        let id = UuidParam::parse(&visit.visit_id)?;
        let details =
            input
                .details
                .get(&visit.visit_id)
                .ok_or_else(|| StoreError::MissingDetails {
                    visit_id: visit.visit_id.clone(),
                })?;
        if details.values.len() != DETAIL_COLUMNS.len() {
            return Err(StoreError::InvalidValue {
                column: "(payload)".into(),
                visit_id: visit.visit_id.clone(),
                reason: format!(
                    "{} payload values for {} payload columns",
                    details.values.len(),
                    DETAIL_COLUMNS.len()
                ),
            });
        }
        // Only admitted visits pair, and every admitted visit has a trimmed SSN.
        let ssn = input
            .report
            .ssn(index)
            .ok_or_else(|| StoreError::InvalidValue {
                column: "SSN".into(),
                visit_id: visit.visit_id.clone(),
                reason: "the visit of a detected pair is not admitted".into(),
            })?;
        Ok(SideData {
            visit,
            id,
            details,
            ssn,
            location: input.report.location(index).map(|(l, _)| l),
        })
    }
}

impl<'a> SideData<'a> {
    fn from_input(side: SideInput<'a>) -> Result<Self, StoreError> {
        let id = UuidParam::parse(&side.visit.visit_id)?;
        if side.details.values.len() != DETAIL_COLUMNS.len() {
            return Err(StoreError::InvalidValue {
                column: "(payload)".into(),
                visit_id: side.visit.visit_id.clone(),
                reason: format!(
                    "{} payload values for {} payload columns",
                    side.details.values.len(),
                    DETAIL_COLUMNS.len()
                ),
            });
        }
        Ok(SideData {
            visit: side.visit,
            id,
            details: side.details,
            ssn: side.ssn,
            location: side.location,
        })
    }
}

fn value_of(
    col: &Column,
    sides: &[SideData<'_>; 2],
    metrics: &Metrics,
    warnings: &mut Warnings,
    example: &str,
) -> Result<Cell, StoreError> {
    Ok(match col.source.side_field() {
        Some((s, field)) => {
            let mut cell = Cell::Null;
            side_value(field, col, &sides[s as usize], &mut cell)?;
            cell
        }
        None => pair_value(col, metrics, warnings, example),
    })
}

/// Sets `cell` to the value a visit gives a side column. A text is copied into the text
/// buffer `cell` already holds, if it holds one (a side row is built over the previous one).
fn side_value(
    field: Field,
    col: &Column,
    side: &SideData<'_>,
    cell: &mut Cell,
) -> Result<(), StoreError> {
    let ts = |t: Option<chrono::NaiveDateTime>| t.map_or(Cell::Null, Cell::Timestamp);
    let visit = side.visit;
    *cell = match field {
        Field::Ssn => {
            set_text(cell, side.ssn);
            return Ok(());
        }
        Field::Detail(i) => return detail_cell(&side.details.values[i], col, side, cell),
        Field::VisitDate => Cell::Date(visit.visit_date),
        Field::AppVisitId => visit.app_visit_id.map_or(Cell::Null, Cell::I64),
        Field::SchStart => ts(visit.sch_start),
        Field::SchEnd => ts(visit.sch_end),
        Field::VisitStart => ts(visit.visit_start),
        Field::VisitEnd => ts(visit.visit_end),
        Field::IsMissed => visit.is_missed.map_or(Cell::Null, Cell::Bool),
        Field::LastUpdated => ts(visit.updated_at),
        // `as` rounds an f64 to the nearest f32: the nearest float4 of docs/tables.md §10.
        Field::Latitude => side
            .location
            .map_or(Cell::Null, |l| Cell::F32(l.lat as f32)),
        Field::Longitude => side
            .location
            .map_or(Cell::Null, |l| Cell::F32(l.lon as f32)),
    };
    Ok(())
}

/// Sets `cell` to `text`, in its own text buffer when it has one.
fn set_text(cell: &mut Cell, text: &str) {
    match cell {
        Cell::Text(buf) => {
            buf.clear();
            buf.push_str(text);
        }
        _ => *cell = Cell::Text(text.to_string()),
    }
}

/// The value of a column that is not a side's: a metric of the pair, or always NULL.
fn pair_value(col: &Column, metrics: &Metrics, warnings: &mut Warnings, example: &str) -> Cell {
    let mut int4 = |v: Option<i64>| match v.map(i32::try_from) {
        None => Cell::Null,
        Some(Ok(v)) => Cell::I32(v),
        Some(Err(_)) => {
            warnings.add_named(METRIC_OUT_OF_RANGE, Some(example));
            Cell::Null
        }
    };
    match col.source {
        Source::MinuteDiff => int4(metrics.minute_diff),
        Source::Distance => metrics.distance_h.map_or(Cell::Null, |d| {
            decimal_f32(conflict_core::Decimal::from_parts(d, 2))
        }),
        Source::Mph => metrics.mph.map_or(Cell::Null, decimal_f32),
        Source::Eta => int4(metrics.eta_h.map(round_hundredths)),
        _ => Cell::Null,
    }
}

/// The float4 nearest to an exact decimal: parsing its decimal text as f32 rounds once,
/// where going through f64 could round twice.
fn decimal_f32(d: conflict_core::Decimal) -> Cell {
    d.to_string().parse::<f32>().map_or(Cell::Null, Cell::F32)
}

/// rha(h / 100) for a value held in hundredths: 12.50 → 13, −2.50 → −3 (docs/rules.md §1).
fn round_hundredths(h: i64) -> i64 {
    let (q, r) = (h / 100, h % 100);
    if r.abs() >= 50 {
        q + h.signum()
    } else {
        q
    }
}

/// Sets `cell` to a payload value converted to `col`'s type (see [`side_value`]).
fn detail_cell(
    value: &Value,
    col: &Column,
    side: &SideData<'_>,
    cell: &mut Cell,
) -> Result<(), StoreError> {
    let mismatch = |what: &str| StoreError::InvalidValue {
        column: col.name.clone(),
        visit_id: side.visit.visit_id.clone(),
        reason: format!("a {what} value for a {} column", col.ty.sql()),
    };
    *cell = match (value, col.ty) {
        (Value::Null, _) => Cell::Null,
        (Value::Uuid(s), SqlType::Uuid) => {
            Cell::Uuid(UuidParam::parse(s).map_err(|_| StoreError::InvalidValue {
                column: col.name.clone(),
                visit_id: side.visit.visit_id.clone(),
                reason: "not a uuid".into(),
            })?)
        }
        (Value::I64(v), SqlType::Int8) => Cell::I64(*v),
        (Value::Text(s), SqlType::Text) => {
            set_text(cell, s);
            return Ok(());
        }
        (Value::Timestamp(t), SqlType::Timestamp) => Cell::Timestamp(*t),
        (Value::F32(f), SqlType::Real) => Cell::F32(*f),
        (Value::Bool(b), SqlType::Bool) => Cell::Bool(*b),
        (Value::Uuid(_), _) => return Err(mismatch("uuid")),
        (Value::I64(_), _) => return Err(mismatch("integer")),
        (Value::Text(_), _) => return Err(mismatch("text")),
        (Value::Timestamp(_), _) => return Err(mismatch("timestamp")),
        (Value::F32(_), _) => return Err(mismatch("real")),
        (Value::Bool(_), _) => return Err(mismatch("boolean")),
    };
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eta_minutes_round_half_away_from_zero() {
        assert_eq!(round_hundredths(1250), 13);
        assert_eq!(round_hundredths(1249), 12);
        assert_eq!(round_hundredths(2400), 24);
        assert_eq!(round_hundredths(0), 0);
        assert_eq!(round_hundredths(-250), -3);
        assert_eq!(round_hundredths(-249), -2);
    }

    #[test]
    fn decimals_become_the_nearest_float4() {
        let d = conflict_core::Decimal::from_parts(1240, 2);
        assert_eq!(decimal_f32(d), Cell::F32(12.4f32));
        let d = conflict_core::Decimal::from_parts(11, 1);
        assert_eq!(decimal_f32(d), Cell::F32(1.1f32));
    }

    /// Every CVM column is either filled from the pair, decided by the plan (key, flags,
    /// control), or deliberately left alone.
    #[test]
    fn the_layout_covers_every_column_of_the_table() {
        let layout = CvmLayout::new(&SchemaInfo::default());
        let planned = [
            "ID",
            "CONFLICTID",
            "GroupID",
            "TempGroupID",
            "StatusFlag",
            "UpdateFlag",
            "UpdatedDate",
            "ResolveDate",
            "ResolvedBy",
            "CreatedDate",
            "VisitID",
            "ConVisitID",
            "InServiceFlag",
            "PTOFlag",
            "InserviceStartDate",
            "InserviceEndDate",
            "ConInserviceStartDate",
            "ConInserviceEndDate",
            "PTOStartDate",
            "PTOEndDate",
            "ConPTOStartDate",
            "ConPTOEndDate",
            "AgencyContact",
            "ConAgencyContact",
        ];
        let tables = conflict_tables();
        let cvm = tables.iter().find(|t| t.name == CVM).unwrap();
        for (name, _) in &cvm.columns {
            let in_layout = layout.columns.iter().filter(|c| &c.name == name).count();
            let is_flag = conflict_core::FLAG_NAMES.contains(&name.as_str());
            let elsewhere = usize::from(planned.contains(&name.as_str()) || is_flag);
            assert_eq!(in_layout + elsewhere, 1, "{name}");
        }
        assert_eq!(
            layout.columns.len() + planned.len() + 7,
            cvm.columns.len(),
            "no column twice"
        );
    }

    #[test]
    fn never_updated_columns_are_insert_only() {
        let layout = CvmLayout::new(&SchemaInfo::default());
        let insert_only: Vec<&str> = layout
            .columns
            .iter()
            .filter(|c| c.written == Written::InsertOnly)
            .map(|c| c.name.as_str())
            .collect();
        assert_eq!(
            insert_only,
            [
                "AgencyPhone",
                "P_PStatus",
                "PA_PStatus",
                "ConAgencyPhone",
                "ConP_PStatus",
                "ConPA_PStatus"
            ]
        );
    }
}
