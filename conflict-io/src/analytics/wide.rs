//! Select expressions of the business columns, one per `DETAIL_COLUMNS` entry (docs/tables.md §9.1).

use super::dialect::{id_text, real_text, text, Dialect};
use crate::details::{Kind, DETAIL_COLUMNS};

/// The analytics expression for a CVM payload column. Text lengths are the source columns'.
fn source(cvm: &str, d: Dialect) -> String {
    let id = |c: &str| id_text(c);
    let t = |c: &str, n| text(c, n);
    let addr_block = |prefix: &str, pat: &str, addr: &str, pid: &str, app_pid: &str| {
        let e = match prefix {
            "PatientID" => id(pid),
            "AppPatientID" => app_pid.to_string(),
            "PAdmissionID" => t(&format!("{pat}.\"Admission Id\""), 500),
            "PName" => t(&format!("{pat}.\"Patient Name\""), 201),
            "PFName" => t(&format!("{pat}.\"Patient Firstname\""), 100),
            "PLName" => t(&format!("{pat}.\"Patient Lastname\""), 100),
            "PMedicaidNumber" => t(&format!("{pat}.\"Medicaid Number\""), 100),
            "PStatus" => t(&format!("{pat}.\"Status\""), 50),
            "PAddressID" => id(&format!("{addr}.\"Patient Address Id\"")),
            "PAppAddressID" => format!("{addr}.\"Application Patient Address Id\""),
            "PAddressL1" => t(&format!("{addr}.\"Address Line 1\""), 500),
            "PAddressL2" => t(&format!("{addr}.\"Address Line 2\""), 100),
            "PCity" => t(&format!("{addr}.\"City\""), 255),
            "PAddressState" => t(&format!("{addr}.\"Address State\""), 100),
            "PZipCode" => t(&format!("{addr}.\"Zip Code\""), 100),
            "PCounty" => t(&format!("{addr}.\"County\""), 100),
            other => unreachable!("no address-block column {other}"),
        };
        Some(e)
    };
    let block = if let Some(rest) = cvm.strip_prefix("P_") {
        addr_block(
            rest,
            "PP",
            "PPA",
            "F.\"Provider Patient Id\"",
            "F.\"Application Provider Patient Id\"",
        )
    } else if let Some(rest) = cvm.strip_prefix("PA_") {
        addr_block(
            rest,
            "AP",
            "APA",
            "F.\"Payer Patient Id\"",
            "F.\"Application Payer Patient Id\"",
        )
    } else {
        None
    };
    if let Some(e) = block {
        return e;
    }
    match cvm {
        "AppVisitID" => "F.\"Application Visit Id\"".into(),
        "ProviderID" => id("F.\"Provider Id\""),
        "AppProviderID" => "F.\"Application Provider Id\"".into(),
        "ProviderName" => t("PR.\"Provider Name\"", 200),
        "FederalTaxNumber" => t("PR.\"Federal Tax Number\"", 100),
        "AgencyPhone" => t("PR.\"Phone Number 1\"", 30),
        "EVVStartTime" => d.utc("F.\"Call In Time\""),
        "EVVEndTime" => d.utc("F.\"Call Out Time\""),
        "CaregiverID" => id("F.\"Caregiver Id\""),
        "AppCaregiverID" => "F.\"Application Caregiver Id\"".into(),
        "AideCode" => t("C.\"Caregiver Code\"", 50),
        "AideName" => t("C.\"Caregiver Fullname\"", 101),
        "AideFName" => t("C.\"Caregiver Firstname\"", 50),
        "AideLName" => t("C.\"Caregiver Lastname\"", 50),
        "AideStatus" => t("C.\"Status\"", 50),
        "OfficeID" => id("F.\"Office Id\""),
        "AppOfficeID" => "F.\"Application Office Id\"".into(),
        "Office" => t("O.\"Office Name\"", 100),
        "PatientID" => id("F.\"Patient Id\""),
        "AppPatientID" => "F.\"Application Patient Id\"".into(),
        "PayerID" => id("F.\"Payer Id\""),
        "AppPayerID" => "F.\"Application Payer Id\"".into(),
        "Contract" => t("COALESCE(PY.\"Payer Name\", K.\"Contract Name\")", 250),
        "PayerState" => t("PY.\"Payer State\"", 100),
        "ContractType" => "CASE WHEN F.\"Application Payer Id\" = 0 AND \
             F.\"Application Contract Id\" <> 0 THEN 'Internal' \
             WHEN F.\"Application Payer Id\" <> 0 AND F.\"Application Contract Id\" <> 0 \
             THEN 'UPR' WHEN F.\"Application Payer Id\" <> 0 AND \
             F.\"Application Contract Id\" = 0 THEN 'Payer' END"
            .into(),
        "Billed" => t("F.\"Billed\"", 3),
        "BilledDate" => format!("CAST(F.\"Invoice Date\" AS {})", d.timestamp_type()),
        "BilledHours" => real_text("F.\"Billed Hours\""),
        "BilledRate" => real_text("F.\"Billed Rate\""),
        "TotalBilledAmount" => real_text("F.\"Total Billed Amount\""),
        "BillRateNonBilled" => real_text("F.\"Bill Rate Non-Billed\""),
        "BillRateBoth" => real_text(
            "CASE WHEN F.\"Billed\" = 'yes' THEN F.\"Billed Rate\" \
             ELSE F.\"Bill Rate Non-Billed\" END",
        ),
        "RateType" => t("F.\"Bill Type\"", 50),
        "ServiceCodeID" => id("F.\"Service Code Id\""),
        "AppServiceCodeID" => "S.\"Application Service Code Id\"".into(),
        "ServiceCode" => t("S.\"Service Code\"", 50),
        "MissedVisitReason" => t("F.\"Missed Visit Reason\"", 500),
        "EVVType" => t("F.\"Call Out Device Type\"", 100),
        "LastUpdatedBy" => t("U.\"User Fullname\"", 200),
        other => unreachable!("no analytics source for CVM column {other}"),
    }
}

pub fn select_list(d: Dialect) -> Vec<String> {
    DETAIL_COLUMNS.iter().map(|c| source(c.cvm, d)).collect()
}

/// Longest value of a text column in characters (the CAST bound), or in ASCII bytes for ids
/// (36) and reals (32).
pub fn max_len(cvm: &str, kind: Kind) -> usize {
    match kind {
        Kind::Uuid => 36,
        Kind::F32 => 32,
        Kind::Text => match cvm {
            "Contract" => 250,
            "P_PAdmissionID" | "PA_PAdmissionID" | "P_PAddressL1" | "PA_PAddressL1"
            | "MissedVisitReason" => 500,
            "P_PCity" | "PA_PCity" => 255,
            "P_PName" | "PA_PName" => 201,
            "ProviderName" | "LastUpdatedBy" => 200,
            _ => 101,
        },
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_detail_column_has_a_source() {
        for d in [Dialect::Postgres, Dialect::Snowflake] {
            assert_eq!(select_list(d).len(), DETAIL_COLUMNS.len());
        }
    }
}
