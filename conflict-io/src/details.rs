//! The business payload of a visit: every CVM column a side of a pair carries beyond what the
//! rules read (docs/tables.md §9.1, §5.3). Fetched only for visits that ended up in a detected pair.

use chrono::NaiveDateTime;

/// A typed cell of the payload.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// SQL NULL.
    Null,
    /// Canonical lower-case uuid text.
    Uuid(String),
    /// A 64-bit integer.
    I64(i64),
    /// Text.
    Text(String),
    /// A timestamp without time zone (UTC wall clock).
    Timestamp(NaiveDateTime),
    /// A `real`, copied bit-exact from the source.
    F32(f32),
    /// A boolean.
    Bool(bool),
}

/// SQL type of a payload column in the conflict schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `uuid`.
    Uuid,
    /// `int8` (or a smaller integer).
    I64,
    /// `varchar(n)` of the CVM column; values are read up to the source's length.
    Text,
    /// `timestamp`.
    Timestamp,
    /// `real`.
    F32,
    /// `bool`.
    Bool,
}

/// One payload column: its V1 name in `conflictvisitmaps` (V2 is `Con` + name) and type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DetailColumn {
    /// The V1 column name in `conflictvisitmaps`.
    pub cvm: &'static str,
    /// The column's SQL type.
    pub kind: Kind,
}

macro_rules! columns {
    ($($name:literal : $kind:ident),* $(,)?) => {
        &[$(DetailColumn { cvm: $name, kind: Kind::$kind }),*]
    };
}

/// Payload columns in a fixed order. Columns derived from the base visit itself (`VisitID`,
/// `SSN`, `VisitDate`, the four schedule/actual times, `IsMissed`, `LastUpdatedDate`,
/// `AideSSN`), the resolved location (`PLatitude`, `PLongitude`) and the always-NULL ones
/// (`AgencyContact`, the un-prefixed patient block beyond its ids) are not part of it.
pub const DETAIL_COLUMNS: &[DetailColumn] = columns![
    "AppVisitID": I64,
    "ProviderID": Uuid, "AppProviderID": I64, "ProviderName": Text, "FederalTaxNumber": Text,
    "AgencyPhone": Text,
    "EVVStartTime": Timestamp, "EVVEndTime": Timestamp,
    "CaregiverID": Uuid, "AppCaregiverID": I64, "AideCode": Text, "AideName": Text,
    "AideFName": Text, "AideLName": Text, "AideStatus": Text,
    "OfficeID": Uuid, "AppOfficeID": I64, "Office": Text,
    "PatientID": Uuid, "AppPatientID": I64,
    "P_PatientID": Uuid, "P_AppPatientID": I64, "P_PAdmissionID": Text, "P_PName": Text,
    "P_PFName": Text, "P_PLName": Text, "P_PMedicaidNumber": Text, "P_PStatus": Text,
    "P_PAddressID": Uuid, "P_PAppAddressID": I64, "P_PAddressL1": Text, "P_PAddressL2": Text,
    "P_PCity": Text, "P_PAddressState": Text, "P_PZipCode": Text, "P_PCounty": Text,
    "PA_PatientID": Uuid, "PA_AppPatientID": I64, "PA_PAdmissionID": Text, "PA_PName": Text,
    "PA_PFName": Text, "PA_PLName": Text, "PA_PMedicaidNumber": Text, "PA_PStatus": Text,
    "PA_PAddressID": Uuid, "PA_PAppAddressID": I64, "PA_PAddressL1": Text, "PA_PAddressL2": Text,
    "PA_PCity": Text, "PA_PAddressState": Text, "PA_PZipCode": Text, "PA_PCounty": Text,
    "PayerID": Uuid, "AppPayerID": I64, "Contract": Text, "PayerState": Text,
    "ContractType": Text,
    "Billed": Text, "BilledDate": Timestamp, "BilledHours": F32, "BilledRate": F32,
    "TotalBilledAmount": F32, "BillRateNonBilled": F32, "BillRateBoth": F32, "RateType": Text,
    "ServiceCodeID": Uuid, "AppServiceCodeID": I64, "ServiceCode": Text,
    "MissedVisitReason": Text, "EVVType": Text,
    "LastUpdatedBy": Text,
];

/// An in-service event (or PTO absence) with the columns its side of a CVM row carries:
/// provider, caregiver and office fields, `AppVisitID` = the event's own id (docs/tables.md §9).
#[derive(Debug, Clone, PartialEq)]
pub struct SourcedEvent {
    /// The event as the core pairs it.
    pub event: conflict_core::inservice::Event,
    /// The payload of the event's side of a row.
    pub details: VisitDetails,
}

/// Payload values of one visit, aligned with [`DETAIL_COLUMNS`].
#[derive(Debug, Clone, PartialEq)]
pub struct VisitDetails {
    /// One value per [`DETAIL_COLUMNS`] entry.
    pub values: Vec<Value>,
}

impl VisitDetails {
    /// All NULL; used for visits without any analytics payload (file mode, tests).
    pub fn empty() -> Self {
        VisitDetails {
            values: vec![Value::Null; DETAIL_COLUMNS.len()],
        }
    }

    /// Sets one payload column by its V1 name; unknown names are a programming error.
    pub fn set(&mut self, cvm: &str, value: Value) {
        let i = DETAIL_COLUMNS
            .iter()
            .position(|c| c.cvm == cvm)
            .unwrap_or_else(|| panic!("{cvm} is not a payload column"));
        self.values[i] = value;
    }

    /// The value of one payload column by its V1 name; `None` for an unknown name.
    pub fn get(&self, cvm: &str) -> Option<&Value> {
        DETAIL_COLUMNS
            .iter()
            .position(|c| c.cvm == cvm)
            .map(|i| &self.values[i])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_names_are_unique() {
        let mut names: Vec<_> = DETAIL_COLUMNS.iter().map(|c| c.cvm).collect();
        names.sort_unstable();
        let n = names.len();
        names.dedup();
        assert_eq!(names.len(), n);
    }
}
