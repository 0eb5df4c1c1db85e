//! A compact, columnar-ish visit table for large files (file mode).
//!
//! A `Vec<Visit>` costs about 680 bytes per visit (ten heap strings); this table keeps one
//! fixed-size row per visit (dates and numbers inline, texts as `u32` handles) and every text
//! once in a single buffer. Texts with few distinct values (SSNs, providers, zips, states,
//! caregivers) are interned; visit ids and GPS strings, nearly all distinct, are appended.
//! Readers fill a [`VisitTableBuilder`] per chunk of input in parallel and [`VisitTable::append`]
//! the chunks in input order.

use std::collections::HashMap;
use std::hash::BuildHasherDefault;

use chrono::{NaiveDate, NaiveDateTime};

use crate::intern::FastHasher;
use crate::model::Visit;
use crate::rows::{VisitRef, VisitRows};

/// Handle of an absent text.
const NONE: u32 = u32::MAX;

// Positions of the text handles in a row.
const VISIT_ID: usize = 0;
const SSN: usize = 1;
const PROVIDER: usize = 2;
const CALL_OUT: usize = 3;
const CALL_IN: usize = 4;
const ZIP: usize = 5;
const P_STATE: usize = 6;
const PA_STATE: usize = 7;
const PROVIDER_STATE: usize = 8;
const CAREGIVER: usize = 9;

// Bits of `Row::present`.
const HAS_APP_ID: u8 = 1;
const HAS_LAT: u8 = 2;
const HAS_LON: u8 = 4;
const HAS_MISSED: u8 = 8;
const MISSED: u8 = 16;

/// One visit: everything but the texts inline.
#[derive(Debug, Clone, Copy)]
struct Row {
    /// `sch_start, sch_end, visit_start, visit_end, updated_at`.
    times: [Option<NaiveDateTime>; 5],
    app_visit_id: i64,
    lat: f64,
    lon: f64,
    text: [u32; 10],
    visit_date: NaiveDate,
    present: u8,
}

/// The table is full: more than `u32::MAX` texts. Callers fall back to owned visits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("too many texts for a compact visit table")]
pub struct TableFull;

/// Visits in compact form; read them through [`VisitRows`].
#[derive(Debug, Clone, Default)]
pub struct VisitTable {
    rows: Vec<Row>,
    /// Every text, back to back.
    text: String,
    /// Start of each text in `text`; a text ends where the next starts.
    starts: Vec<u64>,
}

impl VisitTable {
    /// The table of `visits` (tests, and callers that already hold owned visits).
    pub fn from_visits<R: VisitRows + ?Sized>(visits: &R) -> Result<VisitTable, TableFull> {
        let mut b = VisitTableBuilder::with_capacity(visits.len());
        for i in 0..visits.len() {
            b.push(&visits.get(i))?;
        }
        Ok(b.finish())
    }

    /// Appends `other`'s visits after this table's (input order of chunks read in parallel).
    pub fn append(&mut self, other: VisitTable) -> Result<(), TableFull> {
        let base = u32::try_from(self.starts.len()).map_err(|_| TableFull)?;
        if u32::try_from(self.starts.len() + other.starts.len()).is_err() {
            return Err(TableFull);
        }
        let offset = self.text.len() as u64;
        self.text.push_str(&other.text);
        self.starts.extend(other.starts.iter().map(|s| s + offset));
        self.rows.extend(other.rows.iter().map(|r| {
            let mut r = *r;
            for h in r.text.iter_mut().filter(|h| **h != NONE) {
                *h += base;
            }
            r
        }));
        Ok(())
    }

    /// Reserves room for `additional` more visits like the ones already held (a reader that
    /// knows the file size avoids growing the largest buffers by doubling, which briefly holds
    /// both copies and leaves up to half of the last one unused).
    pub fn reserve(&mut self, additional: usize) {
        let n = self.rows.len().max(1);
        let texts = self.starts.len().div_ceil(n) * additional;
        let bytes = self.text.len().div_ceil(n) * additional;
        self.rows.reserve_exact(additional);
        self.starts.reserve_exact(texts);
        self.text.reserve_exact(bytes);
    }

    /// Owned copies of all visits (tests).
    pub fn to_visits(&self) -> Vec<Visit> {
        (0..self.len()).map(|i| self.get(i).to_visit()).collect()
    }

    #[inline]
    fn text(&self, h: u32) -> Option<&str> {
        if h == NONE {
            return None;
        }
        let h = h as usize;
        let start = self.starts[h] as usize;
        let end = self
            .starts
            .get(h + 1)
            .map_or(self.text.len(), |&e| e as usize);
        Some(&self.text[start..end])
    }
}

impl VisitRows for VisitTable {
    #[inline]
    fn len(&self) -> usize {
        self.rows.len()
    }

    #[inline]
    fn get(&self, i: usize) -> VisitRef<'_> {
        let r = &self.rows[i];
        let t = |k: usize| self.text(r.text[k]);
        let flag = |bit: u8| r.present & bit != 0;
        VisitRef {
            visit_id: t(VISIT_ID).unwrap_or_default(),
            app_visit_id: flag(HAS_APP_ID).then_some(r.app_visit_id),
            ssn: t(SSN),
            provider_id: t(PROVIDER).unwrap_or_default(),
            visit_date: r.visit_date,
            sch_start: r.times[0],
            sch_end: r.times[1],
            visit_start: r.times[2],
            visit_end: r.times[3],
            call_out_gps: t(CALL_OUT),
            call_in_gps: t(CALL_IN),
            address_lat: flag(HAS_LAT).then_some(r.lat),
            address_lon: flag(HAS_LON).then_some(r.lon),
            p_zip: t(ZIP),
            p_state: t(P_STATE),
            pa_state: t(PA_STATE),
            provider_state: t(PROVIDER_STATE),
            is_missed: flag(HAS_MISSED).then_some(flag(MISSED)),
            updated_at: r.times[4],
            caregiver_id: t(CAREGIVER),
        }
    }

    #[inline]
    fn visit_id(&self, i: usize) -> &str {
        self.text(self.rows[i].text[VISIT_ID]).unwrap_or_default()
    }
}

type Interned = HashMap<String, u32, BuildHasherDefault<FastHasher>>;

/// Fills a [`VisitTable`] one visit at a time, interning the texts with few distinct values.
#[derive(Debug, Default)]
pub struct VisitTableBuilder {
    table: VisitTable,
    interned: Interned,
    /// The last handle of each interned field: neighbouring visits mostly share SSN, provider
    /// and states (files come grouped), and comparing with the last text is cheaper than
    /// hashing.
    last: [Option<u32>; 10],
}

impl VisitTableBuilder {
    /// A builder with room for `visits` rows.
    pub fn with_capacity(visits: usize) -> Self {
        let mut b = VisitTableBuilder::default();
        b.table.rows.reserve(visits);
        b
    }

    /// How many visits so far.
    pub fn len(&self) -> usize {
        self.table.rows.len()
    }

    /// No visit yet.
    pub fn is_empty(&self) -> bool {
        self.table.rows.is_empty()
    }

    fn append_text(&mut self, s: &str) -> Result<u32, TableFull> {
        let h = u32::try_from(self.table.starts.len())
            .ok()
            .filter(|&h| h != NONE)
            .ok_or(TableFull)?;
        self.table.starts.push(self.table.text.len() as u64);
        self.table.text.push_str(s);
        Ok(h)
    }

    fn appended(&mut self, s: Option<&str>) -> Result<u32, TableFull> {
        s.map_or(Ok(NONE), |s| self.append_text(s))
    }

    fn interned(&mut self, field: usize, s: Option<&str>) -> Result<u32, TableFull> {
        let Some(s) = s else { return Ok(NONE) };
        if let Some(h) = self.last[field] {
            if self.table.text(h) == Some(s) {
                return Ok(h);
            }
        }
        let h = match self.interned.get(s) {
            Some(&h) => h,
            None => {
                let h = self.append_text(s)?;
                self.interned.insert(s.to_string(), h);
                h
            }
        };
        self.last[field] = Some(h);
        Ok(h)
    }

    /// Appends one visit.
    pub fn push(&mut self, v: &VisitRef<'_>) -> Result<(), TableFull> {
        let text = [
            self.appended(Some(v.visit_id))?,
            self.interned(SSN, v.ssn)?,
            self.interned(PROVIDER, Some(v.provider_id))?,
            self.appended(v.call_out_gps)?,
            self.appended(v.call_in_gps)?,
            self.interned(ZIP, v.p_zip)?,
            self.interned(P_STATE, v.p_state)?,
            self.interned(PA_STATE, v.pa_state)?,
            self.interned(PROVIDER_STATE, v.provider_state)?,
            self.interned(CAREGIVER, v.caregiver_id)?,
        ];
        let bit = |on: bool, b: u8| if on { b } else { 0 };
        self.table.rows.push(Row {
            times: [
                v.sch_start,
                v.sch_end,
                v.visit_start,
                v.visit_end,
                v.updated_at,
            ],
            app_visit_id: v.app_visit_id.unwrap_or(0),
            lat: v.address_lat.unwrap_or(0.0),
            lon: v.address_lon.unwrap_or(0.0),
            text,
            visit_date: v.visit_date,
            present: bit(v.app_visit_id.is_some(), HAS_APP_ID)
                | bit(v.address_lat.is_some(), HAS_LAT)
                | bit(v.address_lon.is_some(), HAS_LON)
                | bit(v.is_missed.is_some(), HAS_MISSED)
                | bit(v.is_missed == Some(true), MISSED),
        });
        Ok(())
    }

    /// The table (the interning map is dropped).
    pub fn finish(self) -> VisitTable {
        self.table
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn visits() -> Vec<Visit> {
        let day: NaiveDate = "2025-06-10".parse().unwrap();
        let mut a = Visit::new("a", " 123 ", "p1", day);
        a.sch_start = day.and_hms_opt(9, 0, 0);
        a.updated_at = day.and_hms_nano_opt(1, 2, 3, 5);
        a.call_out_gps = Some("40.1,-73.2".into());
        a.address_lat = Some(-0.0);
        a.is_missed = Some(false);
        a.caregiver_id = Some("cg".into());
        let mut b = Visit::new("b", " 123 ", "p2", day);
        b.ssn = None;
        b.app_visit_id = Some(-7);
        b.p_state = Some("".into());
        b.address_lon = Some(f64::MAX);
        b.is_missed = Some(true);
        let mut c = Visit::new("", "9", "p1", day);
        c.provider_state = Some("NY".into());
        c.p_zip = Some(" 10001".into());
        vec![a, b, c]
    }

    #[test]
    fn every_field_reads_back_as_it_was_pushed() {
        let v = visits();
        let t = VisitTable::from_visits(&v).unwrap();
        assert_eq!(t.len(), 3);
        assert_eq!(t.to_visits(), v);
        assert_eq!(t.visit_id(1), "b");
    }

    #[test]
    fn appended_tables_keep_input_order_and_texts() {
        let v = visits();
        let mut t = VisitTable::from_visits(&v[..1]).unwrap();
        t.append(VisitTable::from_visits(&v[1..]).unwrap()).unwrap();
        t.append(VisitTable::default()).unwrap();
        t.append(VisitTable::from_visits(&v).unwrap()).unwrap();
        let want: Vec<Visit> = v.iter().chain(&v).cloned().collect();
        assert_eq!(t.to_visits(), want);
    }
}
