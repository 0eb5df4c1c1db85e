//! Base visits (the narrow query), planning reads (SSN prefixes, delta keys) and the visits
//! near in-service events: the ODBC source's statements and parameters, read natively.

use chrono::NaiveDateTime;
use conflict_core::inservice::EventSpan;
use conflict_core::{Exclusions, Visit, Window};

use super::decode::Cells;
use super::error::PgSourceError;
use super::params::TextParam;
use super::{window_params, PgAnalyticsSource};
use crate::analytics::{scope_filter, span_rows, ScopeFilter, NARROW_COLUMNS};
use crate::run::Key;
use crate::scope::BatchScope;

impl PgAnalyticsSource {
    /// Base visits of `scope` (docs/tables.md §9 joins and filters, window and exclusions pushed
    /// down; with the pre-filter, only (SSN, date) groups holding two or more providers).
    pub fn visits(
        &mut self,
        scope: &BatchScope,
        ex: &Exclusions,
    ) -> Result<Vec<Visit>, PgSourceError> {
        let (filter, prefix) = scope_filter(&scope.scope, |rows| {
            let table = self.sql().keys_table();
            self.load_temp_table(table, rows)
        })?;
        let prefilter = self.cfg.prefilter;
        self.visits_filtered(&scope.window, filter, prefix, ex, prefilter)
    }

    /// The narrow query for a filter whose temporary table (if any) is loaded.
    fn visits_filtered(
        &mut self,
        window: &Window,
        filter: ScopeFilter,
        prefix: Option<String>,
        ex: &Exclusions,
        prefilter: bool,
    ) -> Result<Vec<Visit>, PgSourceError> {
        let excluding = self.ensure_exclusions(ex)?;
        self.window = Some(*window);
        let mut params = Vec::new();
        if let Some(p) = prefix {
            params.push(TextParam(p.chars().count().to_string()));
            params.push(TextParam(p));
        }
        params.extend(window_params(window));
        let query = self.sql().narrow(filter, prefilter, excluding);
        let what = "reading base visits";
        let mut out = Vec::new();
        self.fetch(what, &query, &params, |row, number| {
            let cells = Cells {
                row,
                what,
                names: &NARROW_COLUMNS,
                number,
            };
            out.push(narrow_visit(&cells)?);
            Ok(())
        })?;
        Ok(out)
    }

    /// The visits of the window that meet one of `spans`, as the ODBC source reads them
    /// (`AnalyticsSource::visits_near_events`).
    pub fn visits_near_events(
        &mut self,
        window: &Window,
        spans: &[EventSpan],
        ex: &Exclusions,
    ) -> Result<Vec<Visit>, PgSourceError> {
        if spans.is_empty() {
            return Ok(Vec::new());
        }
        let table = self.sql().events_table();
        self.load_temp_table(table, span_rows(spans))?;
        self.visits_filtered(window, ScopeFilter::Events, None, ex, false)
    }

    /// Visit counts per prefix of the trimmed SSN over the window (no exclusions: planning
    /// only needs a superset of the keys that hold data).
    pub fn ssn_prefixes(
        &mut self,
        window: &Window,
        len: usize,
    ) -> Result<Vec<(String, u64)>, PgSourceError> {
        let mut params = window_params(window);
        params.push(TextParam(len.max(1).to_string()));
        let query = self.sql().prefixes();
        let what = "counting visits per SSN prefix";
        let mut out = Vec::new();
        self.fetch(what, &query, &params, |row, number| {
            let c = Cells {
                row,
                what,
                names: &["prefix", "count"],
                number,
            };
            out.push((
                c.string(0)?.unwrap_or_default(),
                c.i64(1)?.unwrap_or(0) as u64,
            ));
            Ok(())
        })?;
        Ok(out)
    }

    /// Delta keys of docs/lifecycle.md §2.
    pub fn delta_keys(
        &mut self,
        since: NaiveDateTime,
        window: &Window,
    ) -> Result<Vec<Key>, PgSourceError> {
        let params = vec![
            TextParam(since.format("%Y-%m-%d %H:%M:%S%.6f").to_string()),
            TextParam(window.from.to_string()),
            TextParam(window.to.to_string()),
        ];
        let query = self.sql().delta_keys();
        let what = "reading delta keys";
        let mut out = Vec::new();
        self.fetch(what, &query, &params, |row, number| {
            let c = Cells {
                row,
                what,
                names: &["Visit Date", "SSN"],
                number,
            };
            if let (Some(d), Some(s)) = (c.date(0)?, c.string(1)?) {
                out.push((d, s));
            }
            Ok(())
        })?;
        Ok(out)
    }
}

/// One row of the narrow query, columns in [`NARROW_COLUMNS`] order.
fn narrow_visit(c: &Cells<'_>) -> Result<Visit, PgSourceError> {
    Ok(Visit {
        visit_id: c.required(0)?,
        app_visit_id: c.i64(1)?,
        ssn: c.string(2)?,
        provider_id: c.required(3)?,
        visit_date: c.required_date(4)?,
        sch_start: c.timestamp(5)?,
        sch_end: c.timestamp(6)?,
        visit_start: c.timestamp(7)?,
        visit_end: c.timestamp(8)?,
        call_out_gps: c.string(9)?,
        call_in_gps: c.string(10)?,
        address_lat: c.f64_text(11)?,
        address_lon: c.f64_text(12)?,
        p_zip: c.string(13)?,
        p_state: c.string(14)?,
        pa_state: c.string(15)?,
        provider_state: c.string(16)?,
        is_missed: c.bool(17)?,
        updated_at: c.timestamp(18)?,
        caregiver_id: c.string(19)?,
    })
}
