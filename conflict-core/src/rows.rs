//! Read-only access to a batch of visits, whatever holds them.
//!
//! Detection reads visits through [`VisitRows`] so that one implementation serves two layouts:
//! the owned [`Visit`] records the database sources build, and the compact
//! [`VisitTable`](crate::table::VisitTable) file mode fills without a `String` per field. The
//! functions are generic over the trait (no `dyn`): each layout gets its own inlined hot loops.

use chrono::{NaiveDate, NaiveDateTime};

use crate::model::Visit;

/// One visit, borrowed: the fields of [`Visit`] with `&str` for the texts. Equality is field
/// by field, exactly [`Visit`]'s (admission compares records with the same id with it).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VisitRef<'a> {
    /// See [`Visit::visit_id`].
    pub visit_id: &'a str,
    /// See [`Visit::app_visit_id`].
    pub app_visit_id: Option<i64>,
    /// See [`Visit::ssn`].
    pub ssn: Option<&'a str>,
    /// See [`Visit::provider_id`].
    pub provider_id: &'a str,
    /// See [`Visit::visit_date`].
    pub visit_date: NaiveDate,
    /// See [`Visit::sch_start`].
    pub sch_start: Option<NaiveDateTime>,
    /// See [`Visit::sch_end`].
    pub sch_end: Option<NaiveDateTime>,
    /// See [`Visit::visit_start`].
    pub visit_start: Option<NaiveDateTime>,
    /// See [`Visit::visit_end`].
    pub visit_end: Option<NaiveDateTime>,
    /// See [`Visit::call_out_gps`].
    pub call_out_gps: Option<&'a str>,
    /// See [`Visit::call_in_gps`].
    pub call_in_gps: Option<&'a str>,
    /// See [`Visit::address_lat`].
    pub address_lat: Option<f64>,
    /// See [`Visit::address_lon`].
    pub address_lon: Option<f64>,
    /// See [`Visit::p_zip`].
    pub p_zip: Option<&'a str>,
    /// See [`Visit::p_state`].
    pub p_state: Option<&'a str>,
    /// See [`Visit::pa_state`].
    pub pa_state: Option<&'a str>,
    /// See [`Visit::provider_state`].
    pub provider_state: Option<&'a str>,
    /// See [`Visit::is_missed`].
    pub is_missed: Option<bool>,
    /// See [`Visit::updated_at`].
    pub updated_at: Option<NaiveDateTime>,
    /// See [`Visit::caregiver_id`].
    pub caregiver_id: Option<&'a str>,
}

impl Visit {
    /// The visit as a [`VisitRef`].
    #[inline]
    pub fn as_row(&self) -> VisitRef<'_> {
        VisitRef {
            visit_id: &self.visit_id,
            app_visit_id: self.app_visit_id,
            ssn: self.ssn.as_deref(),
            provider_id: &self.provider_id,
            visit_date: self.visit_date,
            sch_start: self.sch_start,
            sch_end: self.sch_end,
            visit_start: self.visit_start,
            visit_end: self.visit_end,
            call_out_gps: self.call_out_gps.as_deref(),
            call_in_gps: self.call_in_gps.as_deref(),
            address_lat: self.address_lat,
            address_lon: self.address_lon,
            p_zip: self.p_zip.as_deref(),
            p_state: self.p_state.as_deref(),
            pa_state: self.pa_state.as_deref(),
            provider_state: self.provider_state.as_deref(),
            is_missed: self.is_missed,
            updated_at: self.updated_at,
            caregiver_id: self.caregiver_id.as_deref(),
        }
    }
}

impl VisitRef<'_> {
    /// An owned copy (tests and messages; the hot paths never need one).
    pub fn to_visit(&self) -> Visit {
        let s = |t: Option<&str>| t.map(String::from);
        Visit {
            visit_id: self.visit_id.to_string(),
            app_visit_id: self.app_visit_id,
            ssn: s(self.ssn),
            provider_id: self.provider_id.to_string(),
            visit_date: self.visit_date,
            sch_start: self.sch_start,
            sch_end: self.sch_end,
            visit_start: self.visit_start,
            visit_end: self.visit_end,
            call_out_gps: s(self.call_out_gps),
            call_in_gps: s(self.call_in_gps),
            address_lat: self.address_lat,
            address_lon: self.address_lon,
            p_zip: s(self.p_zip),
            p_state: s(self.p_state),
            pa_state: s(self.pa_state),
            provider_state: s(self.provider_state),
            is_missed: self.is_missed,
            updated_at: self.updated_at,
            caregiver_id: s(self.caregiver_id),
        }
    }
}

/// A batch of visits detection can read by input position. `Sync` because admission and
/// grouping read it from several threads.
pub trait VisitRows: Sync {
    /// How many visits.
    fn len(&self) -> usize;

    /// The visit at input position `i` (`i < len()`).
    fn get(&self, i: usize) -> VisitRef<'_>;

    /// No visit at all.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The id of the visit at `i`; layouts that can answer without building the whole
    /// [`VisitRef`] override it (sorting the output reads ids many times).
    #[inline]
    fn visit_id(&self, i: usize) -> &str {
        self.get(i).visit_id
    }
}

impl VisitRows for [Visit] {
    #[inline]
    fn len(&self) -> usize {
        <[Visit]>::len(self)
    }
    #[inline]
    fn get(&self, i: usize) -> VisitRef<'_> {
        self[i].as_row()
    }
    #[inline]
    fn visit_id(&self, i: usize) -> &str {
        &self[i].visit_id
    }
}

// Callers hold visits as vectors and arrays; generic functions do not coerce them to slices.
impl VisitRows for Vec<Visit> {
    #[inline]
    fn len(&self) -> usize {
        self.as_slice().len()
    }
    #[inline]
    fn get(&self, i: usize) -> VisitRef<'_> {
        self[i].as_row()
    }
    #[inline]
    fn visit_id(&self, i: usize) -> &str {
        &self[i].visit_id
    }
}

impl<const N: usize> VisitRows for [Visit; N] {
    #[inline]
    fn len(&self) -> usize {
        N
    }
    #[inline]
    fn get(&self, i: usize) -> VisitRef<'_> {
        self[i].as_row()
    }
    #[inline]
    fn visit_id(&self, i: usize) -> &str {
        &self[i].visit_id
    }
}

impl<T: VisitRows + ?Sized> VisitRows for &T {
    #[inline]
    fn len(&self) -> usize {
        (**self).len()
    }
    #[inline]
    fn get(&self, i: usize) -> VisitRef<'_> {
        (**self).get(i)
    }
    #[inline]
    fn visit_id(&self, i: usize) -> &str {
        (**self).visit_id(i)
    }
}
