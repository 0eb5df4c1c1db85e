//! The typed base visit record (docs/rules.md §2).

use chrono::{NaiveDate, NaiveDateTime};

/// One base visit as the sources deliver it. Text fields are kept raw: trimming, parsing of
/// GPS strings and state normalisation are rules of the core, not of the adapters.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Visit {
    /// Non-blank id; a canonical lower-case uuid in database mode.
    pub visit_id: String,
    /// `AppVisitID`: the source application's numeric id, when known.
    pub app_visit_id: Option<i64>,
    /// Raw SSN; the core trims it.
    pub ssn: Option<String>,
    /// The provider (agency) the visit belongs to.
    pub provider_id: String,
    /// The visit's date: the pairing key with the SSN.
    pub visit_date: NaiveDate,
    /// Scheduled start.
    pub sch_start: Option<NaiveDateTime>,
    /// Scheduled end.
    pub sch_end: Option<NaiveDateTime>,
    /// Actual start (call in).
    pub visit_start: Option<NaiveDateTime>,
    /// Actual end (call out).
    pub visit_end: Option<NaiveDateTime>,
    /// GPS string of the call out, raw (docs/rules.md §4).
    pub call_out_gps: Option<String>,
    /// GPS string of the call in, raw.
    pub call_in_gps: Option<String>,
    /// Latitude of the patient's address, the last location source.
    pub address_lat: Option<f64>,
    /// Longitude of the patient's address.
    pub address_lon: Option<f64>,
    /// `P_PZipCode`, read only by the zip switch.
    pub p_zip: Option<String>,
    /// The patient's state, raw (cross-state filter, docs/rules.md §10).
    pub p_state: Option<String>,
    /// The patient address's state, raw.
    pub pa_state: Option<String>,
    /// The provider's state, raw.
    pub provider_state: Option<String>,
    /// Whether the visit was missed; NULL is unknown (insert-only switch, docs/rules.md §12).
    pub is_missed: Option<bool>,
    /// Last change in the source (incremental runs, docs/lifecycle.md §2).
    pub updated_at: Option<NaiveDateTime>,
    /// The caregiver's id at the provider (in-service checks).
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
    /// Latitude in degrees.
    pub lat: f64,
    /// Longitude in degrees.
    pub lon: f64,
}

/// Which source yielded a visit's location.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LocationSource {
    /// The call-out GPS string.
    CallOut,
    /// The call-in GPS string.
    CallIn,
    /// The patient's address coordinates.
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
