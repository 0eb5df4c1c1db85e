//! In-service events (and PTO absences) of the window, and the visits that may meet them
//! (docs/rules.md §13, docs/tables.md §9): the same pushdown discipline as the visits.

use conflict_core::inservice::{Event, EventKind, EventSpan};
use conflict_core::{Exclusions, Visit, Window};

use super::cells::{Col, Rows};
use super::dialect::{id_text, text};
use super::error::AnalyticsError;
use super::sql::{Excluding, ScopeFilter};
use super::{window_params, AnalyticsSource};
use crate::details::{SourcedEvent, Value, VisitDetails};

const EVENT_COLUMNS: [Col; 20] = [
    Col::i64("event id"),
    Col::text("Environment", 50),
    Col::text("Caregiver Id", 36),
    Col::text("SSN", 50),
    Col::text("Provider Id", 36),
    Col::timestamp("start"),
    Col::timestamp("end"),
    Col::text("Office Id", 36),
    Col::i64("Application Office Id"),
    Col::text("Office Name", 100),
    Col::i64("Application Provider Id"),
    Col::text("Provider Name", 200),
    Col::text("Federal Tax Number", 100),
    Col::text("Phone Number 1", 30),
    Col::i64("Application Caregiver Id"),
    Col::text("Caregiver Code", 50),
    Col::text("Caregiver Fullname", 101),
    Col::text("Caregiver Firstname", 50),
    Col::text("Caregiver Lastname", 50),
    Col::text("Status", 50),
];

impl AnalyticsSource {
    /// In-service events (or absences) of the window. Parameters: window from, window to; the
    /// exclusion tables must be loaded.
    pub(super) fn events_sql(&self, kind: EventKind, ex: Excluding) -> String {
        self.sql().events(kind, ex)
    }

    /// Events of the window (joins and filters of docs/rules.md §13 pushed down).
    pub fn events(
        &mut self,
        kind: EventKind,
        window: &Window,
        ex: &Exclusions,
    ) -> Result<Vec<SourcedEvent>, AnalyticsError> {
        let excluding = self.ensure_exclusions(ex)?;
        let params = window_params(window);
        let sql = self.events_sql(kind, excluding);
        let mut out = Vec::new();
        let fetch_rows = self.cfg.fetch_rows;
        self.fetch(
            "reading in-service events",
            &sql,
            &params,
            &EVENT_COLUMNS,
            fetch_rows,
            |rows| {
                for r in 0..rows.len() {
                    out.push(sourced_event(kind, rows, r)?);
                }
                Ok(())
            },
        )?;
        Ok(out)
    }

    /// The visits of the window that meet one of `spans` (see [`span_rows`]), without the
    /// candidate pre-filter: in-service pairs do not need a second provider on the same date.
    pub fn visits_near_events(
        &mut self,
        window: &Window,
        spans: &[EventSpan],
        ex: &Exclusions,
    ) -> Result<Vec<Visit>, AnalyticsError> {
        if spans.is_empty() {
            return Ok(Vec::new());
        }
        let table = self.sql().events_table();
        self.load_temp_table(table, span_rows(spans))?;
        self.visits_filtered(window, ScopeFilter::Events, None, ex, false)
    }
}

/// How far each event's span is widened on either side before the warehouse compares it with
/// visit times. Pairing compares the visit's interval with the event's inclusively (PTO: on
/// whole dates, which a day on each side covers), and the warehouse's timestamps may carry more
/// precision than the client keeps: a superset is harmless, as detection decides.
const SPAN_MARGIN: chrono::TimeDelta = chrono::TimeDelta::days(1);

/// The rows of [`super::sql::EVENTS_TABLE`] for `spans`: trimmed SSN, widened start and end as
/// text timestamps (both sources load the same values).
pub fn span_rows(spans: &[EventSpan]) -> impl Iterator<Item = Vec<String>> + '_ {
    let text = |t: chrono::NaiveDateTime| t.format("%Y-%m-%d %H:%M:%S%.6f").to_string();
    spans.iter().map(move |s| {
        vec![
            s.ssn.clone(),
            text(s.start - SPAN_MARGIN),
            text(s.end + SPAN_MARGIN),
        ]
    })
}

impl super::sql::Sql<'_> {
    /// The events query of `kind` (see [`AnalyticsSource::events`]).
    pub fn events(&self, kind: EventKind, ex: Excluding) -> String {
        let d = self.dialect;
        let s = self.schema;
        let ssn = self.ssn_trimmed();
        let (table, id, env, join_cg, start, end, office) = match kind {
            EventKind::InService => (
                "factcaregiverinservice",
                "E.\"Application Caregiver Inservice Id\"",
                text("E.\"Environment\"", 50),
                "C.\"Caregiver Id\" = E.\"Caregiver Id\"",
                "E.\"Inservice start date\"",
                "E.\"Inservice end date\"",
                true,
            ),
            // The absence → caregiver link through the global id is provisional (docs/rules.md §13).
            EventKind::Pto => (
                "factcaregiverabsence",
                "E.\"Caregiver Vacation Id\"",
                "CAST('' AS VARCHAR(50))".to_string(),
                "C.\"Global Caregiver Id\" = E.\"Global Caregiver Id\"",
                "E.\"Start Date\"",
                "E.\"End Date\"",
                false,
            ),
        };
        let (office_cols, office_join) = if office {
            (
                format!(
                    "{}, O.\"Application Office Id\", {}",
                    id_text("E.\"Office Id\""),
                    text("O.\"Office Name\"", 100)
                ),
                format!(
                    " LEFT JOIN {} O ON O.\"Office Id\" = E.\"Office Id\" AND O.\"Is Active\" = TRUE",
                    s.table("dimoffice")
                ),
            )
        } else {
            (
                "CAST(NULL AS VARCHAR(36)), CAST(NULL AS BIGINT), CAST(NULL AS VARCHAR(100))"
                    .to_string(),
                String::new(),
            )
        };
        let mut wh = vec![
            format!("{start} IS NOT NULL"),
            format!("{end} IS NOT NULL"),
            // The UTC date of the zoned start, not its date in the session's or account's zone.
            format!(
                "{} BETWEEN CAST(? AS DATE) AND CAST(? AS DATE)",
                d.utc_date(start)
            ),
            format!("{ssn} <> ''"),
        ];
        wh.extend(self.not_excluded(ex, "E.\"Provider Id\"", &ssn));
        format!(
            "SELECT {id}, {env}, {cg}, {ssn_raw}, {pid}, {st}, {en}, {office_cols}, \
             PR.\"Application Provider Id\", {pname}, {tax}, {phone}, \
             C.\"Application Caregiver Id\", {code}, {full}, {first}, {last}, {status} \
             FROM {t} E JOIN {c} C ON {join_cg} \
             JOIN {p} PR ON PR.\"Provider Id\" = E.\"Provider Id\" AND PR.\"Is Active\" = TRUE \
             AND PR.\"Is Demo\" = FALSE{office_join} WHERE {wh}",
            cg = id_text("C.\"Caregiver Id\""),
            ssn_raw = text("C.\"SSN\"", 50),
            pid = id_text("E.\"Provider Id\""),
            st = d.utc(start),
            en = d.utc(end),
            pname = text("PR.\"Provider Name\"", 200),
            tax = text("PR.\"Federal Tax Number\"", 100),
            phone = text("PR.\"Phone Number 1\"", 30),
            code = text("C.\"Caregiver Code\"", 50),
            full = text("C.\"Caregiver Fullname\"", 101),
            first = text("C.\"Caregiver Firstname\"", 50),
            last = text("C.\"Caregiver Lastname\"", 50),
            status = text("C.\"Status\"", 50),
            t = s.table(table),
            c = s.table("dimcaregiver"),
            p = s.table("dimprovider"),
            wh = wh.join(" AND "),
        )
    }
}

fn sourced_event(
    kind: EventKind,
    rows: &Rows<'_>,
    r: usize,
) -> Result<SourcedEvent, AnalyticsError> {
    let source_id = rows.i64(0, r)?.ok_or_else(|| AnalyticsError::Column {
        what: rows.what,
        column: "event id",
        row: rows.offset + r + 1,
        reason: "a value is required (found NULL)".into(),
    })?;
    let event = Event {
        kind,
        source_id,
        environment: rows.string(1, r)?.unwrap_or_default(),
        caregiver_id: rows.string(2, r)?,
        ssn: rows.string(3, r)?,
        provider_id: rows.required(4, r)?,
        start: rows.timestamp(5, r)?,
        end: rows.timestamp(6, r)?,
    };
    let details = event_details(
        source_id,
        &event.provider_id,
        |c| rows.string(c, r),
        |c| rows.i64(c, r),
    )?;
    Ok(SourcedEvent { event, details })
}

/// The payload of an event's side of a CVM row from the columns of the events statement
/// (docs/tables.md §9). Both the ODBC and the native source run that statement, so they share
/// this assembly; each passes its own typed cell readers (column index in, value out).
pub(crate) fn event_details<E>(
    source_id: i64,
    provider_id: &str,
    string: impl Fn(usize) -> Result<Option<String>, E>,
    int: impl Fn(usize) -> Result<Option<i64>, E>,
) -> Result<VisitDetails, E> {
    let mut d = VisitDetails::empty();
    let text = |c: usize| -> Result<Value, E> { Ok(string(c)?.map_or(Value::Null, Value::Text)) };
    let uuid = |c: usize| -> Result<Value, E> { Ok(string(c)?.map_or(Value::Null, Value::Uuid)) };
    let int = |c: usize| -> Result<Value, E> { Ok(int(c)?.map_or(Value::Null, Value::I64)) };
    d.set("AppVisitID", Value::I64(source_id));
    d.set("ProviderID", Value::Uuid(provider_id.to_string()));
    d.set("CaregiverID", uuid(2)?);
    d.set("OfficeID", uuid(7)?);
    d.set("AppOfficeID", int(8)?);
    d.set("Office", text(9)?);
    d.set("AppProviderID", int(10)?);
    d.set("ProviderName", text(11)?);
    d.set("FederalTaxNumber", text(12)?);
    d.set("AgencyPhone", text(13)?);
    d.set("AppCaregiverID", int(14)?);
    d.set("AideCode", text(15)?);
    d.set("AideName", text(16)?);
    d.set("AideFName", text(17)?);
    d.set("AideLName", text(18)?);
    d.set("AideStatus", text(19)?);
    Ok(d)
}
