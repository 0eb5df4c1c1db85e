//! InService and PTO rows (docs/lifecycle.md §7, docs/rules.md §13): every (visit, event) pair of the
//! window, written in one transaction without stale resolution.
//!
//! The rows are built and written with the batch writer's machinery: each pair becomes a
//! [`PairRow`] (the event side is a `Visit` that carries only the event's synthetic id, app id
//! and date, with the event's payload), goes to the pair table, and is matched, planned and
//! written like a regular pair, with three differences:
//!
//! * only rows of the step's own kind (InService, resp. PTO) match a key; a key held only by
//!   rows of another kind is left alone (warning `key_held_by_other_kind`: the pair key is
//!   unique in the table);
//! * the seven rule flags are computed `'N'` and the metrics NULL; the kind's flag
//!   (`InServiceFlag` / `PTOFlag`) is sticky — only a stored `'N'` becomes `'Y'`;
//! * the event's start and end go to the date columns of the row's side (VisitFirst: the
//!   `Con` columns; EventFirst: the plain ones), joined from a temporary table of the pairs'
//!   event dates; a changed date or kind flag is a content change of docs/lifecycle.md §4.2.
//!
//! Existing `CONFLICTID`s are kept (also NULL); new rows get theirs by §5.2.

use std::collections::HashMap;

use chrono::{NaiveDate, NaiveDateTime, SubsecRound};
use conflict_core::inservice::{EventKind, Side};
use conflict_core::plan::{DetectedRow, NewPair, Planner, RowKind};
use conflict_core::{Metrics, RuleOptions, Visit, Warnings};
use postgres::binary_copy::BinaryCopyInWriter;
use postgres::types::{ToSql, Type};
use postgres::{Client, GenericClient};

use super::batch_plan::{MatchedRow, PairKey, RowPlan};
use super::change_capture;
use super::config::SchemaNames;
use super::cvm_row::{CvmLayout, PairRow, SideInput};
use super::error::StoreError;
use super::pair_table::{self, analyze_if_large};
use super::row_writes::{self, ExtraColumns};
use super::writer;
use crate::details::VisitDetails;
use crate::run::{Change, ChangeSink, DigestUpdate, EventCounts, EventInput, RunInfo, WriteCounts};

/// Temporary table of the pairs' event dates: `idx` (as in [`super::pair_table::PAIRS`]), the row's side and the
/// event's start and end.
const EVENT_DATES: &str = "conflicts_tmp_event_dates";

/// The columns one kind of event row writes.
struct KindColumns {
    row_kind: RowKind,
    /// `InServiceFlag` or `PTOFlag`: `'Y'` on insert, sticky on update.
    flag: &'static str,
    /// The other kind's flag, `'N'` on insert and never updated.
    other_flag: &'static str,
    /// Start and end columns of an EventFirst row (event → visit).
    event_first: [&'static str; 2],
    /// Start and end columns of a VisitFirst row (visit → event).
    visit_first: [&'static str; 2],
}

fn kind_columns(kind: EventKind) -> KindColumns {
    match kind {
        EventKind::InService => KindColumns {
            row_kind: RowKind::InService,
            flag: "InServiceFlag",
            other_flag: "PTOFlag",
            event_first: ["InserviceStartDate", "InserviceEndDate"],
            visit_first: ["ConInserviceStartDate", "ConInserviceEndDate"],
        },
        EventKind::Pto => KindColumns {
            row_kind: RowKind::Pto,
            flag: "PTOFlag",
            other_flag: "InServiceFlag",
            event_first: ["PTOStartDate", "PTOEndDate"],
            visit_first: ["ConPTOStartDate", "ConPTOEndDate"],
        },
    }
}

/// The event side of one pair: its dates as they are stored (timestamps keep microseconds).
#[derive(Debug, Clone, Copy)]
struct EventDates {
    event_first: bool,
    start: NaiveDateTime,
    end: NaiveDateTime,
}

/// Writes the InService (or PTO) rows of `input`; see the module documentation. Like the
/// batch writer it gets the connection, names, layout and change sink it needs, so that it
/// does not call back into the store that calls it. `digests`, when given, is the event
/// bookkeeping, recorded in the same transaction (never by a dry run).
// The step's inputs are separate borrows of the store's parts; a struct would only rename them.
#[allow(clippy::too_many_arguments)]
pub(crate) fn apply_events(
    client: &mut Client,
    names: &SchemaNames,
    layout: &CvmLayout,
    run: &RunInfo,
    input: &EventInput<'_>,
    digests: Option<&DigestUpdate>,
    dry_run: bool,
    changes: Option<&dyn ChangeSink>,
) -> Result<EventCounts, StoreError> {
    let mut warnings = Warnings::default();
    // Building the values is pure and may fail on bad input: do it before opening anything.
    let (rows, dates) = build_rows(layout, input, &mut warnings)?;

    let mut tx = client
        .transaction()
        .map_err(|e| StoreError::db("begin the InService transaction", None, e))?;
    let (mut counts, lines) = write_events(
        &mut tx,
        names,
        layout,
        run,
        input.kind,
        &rows,
        &dates,
        changes.is_some(),
    )?;
    counts.warnings.merge(&warnings);
    if let (Some(digests), false) = (digests, dry_run) {
        // The bookkeeping commits with the rows it describes (docs/lifecycle.md §7.1).
        super::event_digests::write(&mut tx, names, input.kind, run.run_id, digests)?;
    }
    if dry_run {
        tx.rollback()
            .map_err(|e| StoreError::db("roll back the dry-run InService step", None, e))?;
    } else {
        tx.commit()
            .map_err(|e| StoreError::db("commit the InService step", None, e))?;
    }
    // Shadow mode: the lines go out only once the transaction is settled.
    if let (Some(sink), Some(lines)) = (changes, lines) {
        sink.write(&lines)
            .map_err(|source| StoreError::ChangesOut { source })?;
    }
    Ok(counts)
}

/// The written values and event dates of every pair, in `input.pairs` order.
fn build_rows(
    layout: &CvmLayout,
    input: &EventInput<'_>,
    warnings: &mut Warnings,
) -> Result<(Vec<PairRow>, Vec<EventDates>), StoreError> {
    let admitted = &input.admission.admitted;
    // Each admitted event dressed as a visit: synthetic id, app id = event id, date(start).
    let event_visits: Vec<Visit> = input
        .admitted_events
        .iter()
        .map(|ae| {
            let src = &input.events[ae.index];
            let mut v = Visit::new(
                ae.visit_id.clone(),
                ae.ssn.clone(),
                src.event.provider_id.clone(),
                ae.visit_date,
            );
            v.app_visit_id = Some(src.event.source_id);
            v.caregiver_id = src.event.caregiver_id.clone();
            v
        })
        .collect();
    let metrics = Metrics::default();
    let mut rows = Vec::with_capacity(input.pairs.len());
    let mut dates = Vec::with_capacity(input.pairs.len());
    for pair in input.pairs {
        let visit = &input.visits[pair.visit];
        let adm = admitted
            .binary_search_by_key(&pair.visit, |a| a.index)
            .map(|k| &admitted[k])
            .map_err(|_| StoreError::InvalidValue {
                column: "SSN".into(),
                visit_id: visit.visit_id.clone(),
                reason: "the visit of an InService pair is not admitted".into(),
            })?;
        let details: &VisitDetails =
            input
                .details
                .get(&visit.visit_id)
                .ok_or_else(|| StoreError::MissingDetails {
                    visit_id: visit.visit_id.clone(),
                })?;
        let ae = &input.admitted_events[pair.event];
        let visit_side = SideInput {
            visit,
            details,
            ssn: &adm.ssn,
            location: adm.location.map(|(l, _)| l),
        };
        let event_side = SideInput {
            visit: &event_visits[pair.event],
            details: &input.events[ae.index].details,
            ssn: &ae.ssn,
            location: None,
        };
        let event_first = pair.side == Side::EventFirst;
        let row = if event_first {
            layout.build_sides(event_side, visit_side, &metrics, warnings)?
        } else {
            layout.build_sides(visit_side, event_side, &metrics, warnings)?
        };
        rows.push(row);
        // PostgreSQL keeps microseconds; the binary protocol truncates finer parts.
        dates.push(EventDates {
            event_first,
            start: ae.start.trunc_subsecs(6),
            end: ae.end.trunc_subsecs(6),
        });
    }
    Ok((rows, dates))
}

/// The writes of the step; with `capture`, also the changed rows (shadow mode).
#[allow(clippy::too_many_arguments)]
fn write_events<C: GenericClient>(
    tx: &mut C,
    names: &SchemaNames,
    layout: &CvmLayout,
    run: &RunInfo,
    kind: EventKind,
    rows: &[PairRow],
    dates: &[EventDates],
    capture: bool,
) -> Result<(EventCounts, Option<Vec<Change>>), StoreError> {
    let mut counts = EventCounts::default();
    if rows.is_empty() {
        return Ok((counts, capture.then(Vec::new)));
    }
    let cols = kind_columns(kind);
    let keys: Vec<PairKey> = rows
        .iter()
        .map(|r| PairKey {
            visit_id: r.visit_id.to_string(),
            con_visit_id: r.con_visit_id.to_string(),
        })
        .collect();
    pair_table::load_pairs(tx, layout, rows)?;
    load_event_dates(tx, dates)?;
    let matched = pair_table::read_matched(tx, names, layout)?;
    let own: Vec<i64> = matched
        .iter()
        .filter(|m| m.row.kind == cols.row_kind)
        .map(|m| m.row.id)
        .collect();
    let stored = read_event_columns(tx, names, &cols, &own)?;
    let plan = plan_events(&keys, dates, matched, &stored, &cols);

    let mut wc = WriteCounts::default();
    let conflict_ids = writer::conflict_ids(tx, names, &plan, run, &mut wc)?;
    let capture = if capture {
        let updated: Vec<i64> = plan.updates.iter().map(|u| u.row.id).collect();
        Some(change_capture::begin(tx, names, &updated, &[])?)
    } else {
        None
    };
    let extra_update = update_columns(&cols);
    counts.updated = row_writes::update_rows_with(
        tx,
        names,
        layout,
        &plan.updates,
        &conflict_ids,
        run.run_ts,
        &extra_update,
    )?;
    counts.unchanged = plan.unchanged;
    counts.inserted = row_writes::insert_rows_with(
        tx,
        names,
        layout,
        &plan.inserts,
        &conflict_ids,
        run.run_ts,
        &insert_columns(&cols),
    )?;
    writer::repair_parents(tx, names, &plan, &conflict_ids, run, &mut wc)?;
    counts.conflicts_created = wc.conflicts_created;
    counts.warnings.merge(&plan.warnings);
    counts.warnings.merge(&wc.warnings);
    let lines = match capture {
        None => None,
        Some(capture) => {
            let inserted: Vec<i32> = plan.inserts.iter().map(|i| i.pair as i32).collect();
            let lines = capture.collect(tx, names, &inserted)?;
            change_capture::check_counts(&lines, counts.updated, counts.inserted, 0)?;
            Some(lines)
        }
    };
    Ok((counts, lines))
}

/// Creates [`EVENT_DATES`] (dropped at commit) with one row per pair.
fn load_event_dates<C: GenericClient>(
    client: &mut C,
    dates: &[EventDates],
) -> Result<(), StoreError> {
    client
        .batch_execute(&format!(
            "CREATE TEMP TABLE {EVENT_DATES} (idx int4 PRIMARY KEY, event_first bool NOT NULL, \
             start_at timestamp NOT NULL, end_at timestamp NOT NULL) ON COMMIT DROP"
        ))
        .map_err(|e| StoreError::db("create a temporary table", Some(EVENT_DATES), e))?;
    let err = |e| StoreError::db("copy the event dates", Some(EVENT_DATES), e);
    let sink = client
        .copy_in(&format!(
            "COPY {EVENT_DATES} (idx, event_first, start_at, end_at) FROM STDIN BINARY"
        ))
        .map_err(err)?;
    let types = [Type::INT4, Type::BOOL, Type::TIMESTAMP, Type::TIMESTAMP];
    let mut writer = BinaryCopyInWriter::new(sink, &types);
    for (i, d) in dates.iter().enumerate() {
        let idx = i32::try_from(i).map_err(|_| StoreError::InvalidValue {
            column: "idx".into(),
            visit_id: String::new(),
            reason: "more than 2^31 InService pairs".into(),
        })?;
        let values: [&(dyn ToSql + Sync); 4] = [&idx, &d.event_first, &d.start, &d.end];
        writer.write(&values).map_err(err)?;
    }
    writer.finish().map_err(err)?;
    analyze_if_large(client, &format!("{EVENT_DATES} (idx)"), dates.len())
}

/// The stored kind flag and the four date columns of the kind, by `"ID"`.
#[derive(Debug, Clone)]
struct StoredEventColumns {
    flag: Option<String>,
    /// Start and end of the EventFirst columns, then of the VisitFirst columns.
    event_first: [Option<NaiveDateTime>; 2],
    visit_first: [Option<NaiveDateTime>; 2],
}

fn read_event_columns<C: GenericClient>(
    client: &mut C,
    names: &SchemaNames,
    cols: &KindColumns,
    ids: &[i64],
) -> Result<HashMap<i64, StoredEventColumns>, StoreError> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let cvm = names.conflict_table("conflictvisitmaps");
    let [es, ee] = cols.event_first;
    let [vs, ve] = cols.visit_first;
    let sql = format!(
        "SELECT \"ID\", \"{}\", \"{es}\", \"{ee}\", \"{vs}\", \"{ve}\" FROM {cvm} \
         WHERE \"ID\" = ANY($1)",
        cols.flag
    );
    let rows = client
        .query(&sql, &[&ids])
        .map_err(|e| StoreError::db("read the stored event columns", Some(&cvm), e))?;
    Ok(rows
        .iter()
        .map(|r| {
            (
                r.get(0),
                StoredEventColumns {
                    flag: r.get(1),
                    event_first: [r.get(2), r.get(3)],
                    visit_first: [r.get(4), r.get(5)],
                },
            )
        })
        .collect())
}

/// The facts of the step for the core's planner (docs/lifecycle.md §7 and §4): the keys, and
/// for each stored row whether its business columns or its side's event dates differ, and its
/// stored kind flag. Rows of other kinds carry no event facts; the planner leaves them alone.
fn plan_events(
    keys: &[PairKey],
    dates: &[EventDates],
    matched: Vec<MatchedRow>,
    stored: &HashMap<i64, StoredEventColumns>,
    cols: &KindColumns,
) -> RowPlan {
    let detected: Vec<DetectedRow> = keys
        .iter()
        .zip(dates)
        .map(|(key, d)| DetectedRow {
            visit_id: key.visit_id.clone(),
            con_visit_id: key.con_visit_id.clone(),
            new: NewPair {
                flags: [false; 7],
                v1_missed: None,
                v2_missed: None,
                visit_date: d.start.date(),
            },
        })
        .collect();
    let facts = matched
        .into_iter()
        .map(|m| {
            let d = dates[m.idx];
            let new = [Some(d.start), Some(d.end)];
            let (dates_changed, kind_flag) = match stored.get(&m.row.id) {
                Some(s) => {
                    let side = if d.event_first {
                        s.event_first
                    } else {
                        s.visit_first
                    };
                    (side != new, s.flag.clone())
                }
                // Not read (another kind, or gone): nothing to compare, so a change.
                None => (true, None),
            };
            m.into_facts(dates_changed, kind_flag)
        })
        .collect();
    // The as-of date and options only matter for the insert-only switches, which the event
    // steps do not apply.
    let options = RuleOptions::default();
    Planner {
        kind: cols.row_kind,
        as_of: NaiveDate::MIN,
        options: &options,
    }
    .plan(&detected, facts, &[])
}

/// The join of the event dates to the pair table (`p`), as `e`.
fn dates_join() -> String {
    format!("JOIN {EVENT_DATES} e ON e.idx = p.idx")
}

/// Update: the date columns of the row's side take the event's; the other side's keep their
/// value; the kind flag is sticky ('N' → 'Y').
fn update_columns(cols: &KindColumns) -> ExtraColumns {
    let mut columns = Vec::new();
    for (name, value) in cols.event_first.iter().zip(["e.start_at", "e.end_at"]) {
        columns.push((
            *name,
            format!("CASE WHEN e.event_first THEN {value} ELSE c.\"{name}\" END"),
        ));
    }
    for (name, value) in cols.visit_first.iter().zip(["e.start_at", "e.end_at"]) {
        columns.push((
            *name,
            format!("CASE WHEN e.event_first THEN c.\"{name}\" ELSE {value} END"),
        ));
    }
    let flag = cols.flag;
    columns.push((
        flag,
        format!("CASE WHEN c.\"{flag}\" = 'N' THEN 'Y' ELSE c.\"{flag}\" END"),
    ));
    ExtraColumns {
        join: dates_join(),
        columns,
    }
}

/// Insert: the kind flag 'Y', the other 'N', the dates of the row's side set.
fn insert_columns(cols: &KindColumns) -> ExtraColumns {
    let mut columns = vec![
        (cols.flag, "'Y'".to_string()),
        (cols.other_flag, "'N'".into()),
    ];
    for (name, value) in cols.event_first.iter().zip(["e.start_at", "e.end_at"]) {
        columns.push((*name, format!("CASE WHEN e.event_first THEN {value} END")));
    }
    for (name, value) in cols.visit_first.iter().zip(["e.start_at", "e.end_at"]) {
        columns.push((
            *name,
            format!("CASE WHEN e.event_first THEN NULL ELSE {value} END"),
        ));
    }
    ExtraColumns {
        join: dates_join(),
        columns,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_columns_replace_the_kind_flags_and_set_the_dates() {
        let x = insert_columns(&kind_columns(EventKind::Pto));
        let names: Vec<&str> = x.columns.iter().map(|(c, _)| *c).collect();
        assert_eq!(
            names,
            [
                "PTOFlag",
                "InServiceFlag",
                "PTOStartDate",
                "PTOEndDate",
                "ConPTOStartDate",
                "ConPTOEndDate"
            ]
        );
        assert_eq!(x.columns[0].1, "'Y'");
        assert_eq!(x.columns[1].1, "'N'");
    }
}
