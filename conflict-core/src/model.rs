//! The typed base visit record (docs/rules.md §2).

use chrono::{NaiveDate, NaiveDateTime};

/// One base visit as the sources deliver it. Text fields are kept raw: trimming, parsing of
/// GPS strings and state normalisation are rules of the core, not of the adapters.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Visit {
    /// Non-blank id; a canonical lower-case uuid in database mode.
    pub visit_id: String,
    pub app_visit_id: Option<i64>,
    /// Raw SSN; the core trims it.
    pub ssn: Option<String>,
    pub provider_id: String,
    pub visit_date: NaiveDate,
    pub sch_start: Option<NaiveDateTime>,
    pub sch_end: Option<NaiveDateTime>,
    pub visit_start: Option<NaiveDateTime>,
    pub visit_end: Option<NaiveDateTime>,
    pub call_out_gps: Option<String>,
    pub call_in_gps: Option<String>,
    pub address_lat: Option<f64>,
    pub address_lon: Option<f64>,
    /// `P_PZipCode`, read only by the zip switch.
    pub p_zip: Option<String>,
    pub p_state: Option<String>,
    pub pa_state: Option<String>,
    pub provider_state: Option<String>,
    pub is_missed: Option<bool>,
    pub updated_at: Option<NaiveDateTime>,
    pub caregiver_id: Option<String>,
}

impl Visit {
    /// A visit with only the required fields set; handy for builders and tests.
    pub fn new(
        visit_id: impl Into<String>,
        ssn: impl Into<String>,
        provider_id: impl Into<String>,
        visit_date: NaiveDate,
    ) -> Self {
        Visit {
            visit_id: visit_id.into(),
            ssn: Some(ssn.into()),
            provider_id: provider_id.into(),
            visit_date,
            ..Visit::default()
        }
    }
}

/// A resolved visit location in degrees (docs/rules.md §4).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Location {
    pub lat: f64,
    pub lon: f64,
}

/// Which source yielded a visit's location.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LocationSource {
    CallOut,
    CallIn,
    Address,
}

/// The ASCII whitespace of docs/rules.md §1 (`char::is_ascii_whitespace` is exactly that set).
pub fn trim(s: &str) -> &str {
    s.trim_matches(|c: char| c.is_ascii_whitespace())
}

/// `trim`, and `None` when the result is blank.
pub fn non_blank(s: Option<&str>) -> Option<&str> {
    s.map(trim).filter(|t| !t.is_empty())
}
