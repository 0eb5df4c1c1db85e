//! In-service events (and PTO absences) of the window, read natively with the ODBC source's
//! statement, decoded to the same [`SourcedEvent`]s.

use conflict_core::inservice::{Event, EventKind};
use conflict_core::{Exclusions, Window};

use super::decode::Cells;
use super::error::PgSourceError;
use super::{window_params, PgAnalyticsSource};
use crate::analytics::event_details;
use crate::details::SourcedEvent;

/// Column names of the events query, for messages.
const EVENT_COLUMNS: [&str; 20] = [
    "event id",
    "Environment",
    "Caregiver Id",
    "SSN",
    "Provider Id",
    "start",
    "end",
    "Office Id",
    "Application Office Id",
    "Office Name",
    "Application Provider Id",
    "Provider Name",
    "Federal Tax Number",
    "Phone Number 1",
    "Application Caregiver Id",
    "Caregiver Code",
    "Caregiver Fullname",
    "Caregiver Firstname",
    "Caregiver Lastname",
    "Status",
];

impl PgAnalyticsSource {
    /// Events of the window (joins and filters of docs/rules.md §13 pushed down).
    pub fn events(
        &mut self,
        kind: EventKind,
        window: &Window,
        ex: &Exclusions,
    ) -> Result<Vec<SourcedEvent>, PgSourceError> {
        let excluding = self.ensure_exclusions(ex)?;
        let params = window_params(window);
        let sql = self.sql().events(kind, excluding);
        let what = "reading in-service events";
        let mut out = Vec::new();
        self.fetch(what, &sql, &params, |row, number| {
            let c = Cells {
                row,
                what,
                names: &EVENT_COLUMNS,
                number,
            };
            out.push(sourced_event(kind, &c)?);
            Ok(())
        })?;
        Ok(out)
    }
}

fn sourced_event(kind: EventKind, c: &Cells<'_>) -> Result<SourcedEvent, PgSourceError> {
    let source_id = c.i64(0)?.ok_or_else(|| PgSourceError::Column {
        what: c.what,
        column: EVENT_COLUMNS[0].to_string(),
        row: c.number,
        reason: "a value is required (found NULL)".into(),
    })?;
    let event = Event {
        kind,
        source_id,
        environment: c.string(1)?.unwrap_or_default(),
        caregiver_id: c.string(2)?,
        ssn: c.string(3)?,
        provider_id: c.required(4)?,
        start: c.timestamp(5)?,
        end: c.timestamp(6)?,
    };
    let details = event_details(source_id, &event.provider_id, |i| c.string(i), |i| c.i64(i))?;
    Ok(SourcedEvent { event, details })
}
