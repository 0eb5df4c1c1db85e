//! What the analytics source must return for a [`World`], derived from the world's structs by
//! following docs/tables.md §9 and §9.1 literally — independently of the SQL the source sends.
//!
//! * [`Expected::visits`]: the base visits of `Scope::Window` without pre-filter: the inner joins
//!   of §3 (caregiver with trimmed non-blank SSN; active, non-demo provider), the window on
//!   `"Visit Date"` and the exclusions (docs/rules.md §3 items 1–4). The placeholder check (4a) is the
//!   core's job: such visits are delivered.
//! * [`prefilter`]: only the (date, trimmed SSN) groups with two or more distinct providers.
//! * [`Expected::details`]: the business columns of one visit, column by column.

use std::collections::{HashMap, HashSet};

use chrono::NaiveTime;
use conflict_core::inservice::{Event, EventKind};
use conflict_core::model::trim;
use conflict_core::{Exclusions, Visit, Window};
use conflict_io::details::{SourcedEvent, Value, VisitDetails, DETAIL_COLUMNS};

use super::world::{
    Address, Caregiver, Contract, FactVisit, Office, Patient, Payer, Provider, ServiceCode, User,
    World,
};

/// Lookup tables over a world.
pub struct Expected<'w> {
    world: &'w World,
    providers: HashMap<&'w str, &'w Provider>,
    caregivers: HashMap<&'w str, &'w Caregiver>,
    offices: HashMap<&'w str, &'w Office>,
    patients: HashMap<&'w str, &'w Patient>,
    payers: HashMap<&'w str, &'w Payer>,
    contracts: HashMap<&'w str, &'w Contract>,
    service_codes: HashMap<&'w str, &'w ServiceCode>,
    users: HashMap<&'w str, &'w User>,
    facts: HashMap<&'w str, &'w FactVisit>,
    /// The latest primary GPS address of each patient id.
    latest: HashMap<&'w str, &'w Address>,
}

fn index<'w, T>(items: &'w [T], id: impl Fn(&'w T) -> &'w str) -> HashMap<&'w str, &'w T> {
    items.iter().map(|x| (id(x), x)).collect()
}

impl<'w> Expected<'w> {
    pub fn new(world: &'w World) -> Self {
        Expected {
            world,
            providers: index(&world.providers, |x| &x.id),
            caregivers: index(&world.caregivers, |x| &x.id),
            offices: index(&world.offices, |x| &x.id),
            patients: index(&world.patients, |x| &x.id),
            payers: index(&world.payers, |x| &x.id),
            contracts: index(&world.contracts, |x| &x.id),
            service_codes: index(&world.service_codes, |x| &x.id),
            users: index(&world.users, |x| &x.id),
            facts: index(&world.visits, |x| &x.id),
            latest: latest_addresses(&world.addresses),
        }
    }

    /// Caregiver and provider of a fact row when the inner joins of docs/tables.md §9 keep it.
    fn joined(&self, f: &'w FactVisit) -> Option<(&'w Caregiver, &'w Provider)> {
        let c = self.caregivers.get(f.caregiver_id.as_deref()?)?;
        let ssn = c.ssn.as_deref()?;
        if trim(ssn).is_empty() {
            return None;
        }
        let p = self.providers.get(f.provider_id.as_deref()?)?;
        p.admits().then_some((*c, *p))
    }

    /// The base visits of `Scope::Window`, pre-filter off, in fact-table order.
    pub fn visits(&self, window: &Window, ex: &Exclusions) -> Vec<Visit> {
        let excluded: HashSet<String> = ex.providers.iter().map(|p| p.to_lowercase()).collect();
        self.world
            .visits
            .iter()
            .filter_map(|f| {
                let (c, p) = self.joined(f)?;
                let date = f.date?;
                let ssn = trim(c.ssn.as_deref()?);
                let admitted =
                    window.contains(date) && !excluded.contains(&p.id) && !ex.ssns.contains(ssn);
                admitted.then(|| self.visit(f, c, p))
            })
            .collect()
    }

    fn visit(&self, f: &FactVisit, c: &Caregiver, p: &Provider) -> Visit {
        let ppa = self.address(&f.provider_patient_id);
        let apa = self.address(&f.payer_patient_id);
        Visit {
            visit_id: f.id.clone(),
            app_visit_id: f.app_id,
            ssn: c.ssn.clone(),
            provider_id: p.id.clone(),
            visit_date: f.date.expect("joined visits have a date"),
            sch_start: f.sch_start,
            sch_end: f.sch_end,
            visit_start: f.visit_start,
            visit_end: f.visit_end,
            call_out_gps: f.call_out_gps.clone(),
            call_in_gps: f.call_in_gps.clone(),
            address_lat: ppa.and_then(|a| a.lat).map(real_as_decimal),
            address_lon: ppa.and_then(|a| a.lon).map(real_as_decimal),
            p_zip: ppa.and_then(|a| a.zip.clone()),
            p_state: ppa.and_then(|a| a.state.clone()),
            pa_state: apa.and_then(|a| a.state.clone()),
            provider_state: p.state.clone(),
            is_missed: f.is_missed,
            updated_at: f.updated_at,
            caregiver_id: f.caregiver_id.clone(),
        }
    }

    fn address(&self, patient_id: &Option<String>) -> Option<&'w Address> {
        self.latest.get(patient_id.as_deref()?).copied()
    }

    /// The fact row of a visit id.
    pub fn fact(&self, visit_id: &str) -> Option<&'w FactVisit> {
        self.facts.get(visit_id).copied()
    }

    /// The business columns of `f` (docs/tables.md §9.1), aligned with `DETAIL_COLUMNS`.
    pub fn details(&self, f: &FactVisit) -> VisitDetails {
        let c = f
            .caregiver_id
            .as_deref()
            .and_then(|id| self.caregivers.get(id));
        let pr = f
            .provider_id
            .as_deref()
            .and_then(|id| self.providers.get(id));
        // Left joins with their conditions: an inactive office, an inactive or demo payer and an
        // inactive contract join as if absent.
        let office = f
            .office_id
            .as_deref()
            .and_then(|id| self.offices.get(id))
            .filter(|o| o.active == Some(true));
        let payer = f
            .payer_id
            .as_deref()
            .and_then(|id| self.payers.get(id))
            .filter(|p| p.active == Some(true) && p.demo == Some(false));
        let contract = f
            .contract_id
            .as_deref()
            .and_then(|id| self.contracts.get(id))
            .filter(|k| k.active == Some(true));
        let service = f
            .service_code_id
            .as_deref()
            .and_then(|id| self.service_codes.get(id));
        let user = f
            .updated_user_id
            .as_deref()
            .and_then(|id| self.users.get(id));
        let pp = f
            .provider_patient_id
            .as_deref()
            .and_then(|id| self.patients.get(id));
        let ap = f
            .payer_patient_id
            .as_deref()
            .and_then(|id| self.patients.get(id));
        let ppa = self.address(&f.provider_patient_id);
        let apa = self.address(&f.payer_patient_id);

        let values = DETAIL_COLUMNS
            .iter()
            .map(|col| {
                let name = col.cvm;
                let block = |rest: &str,
                             pid: &Option<String>,
                             app_pid: Option<i64>,
                             pat: Option<&&Patient>,
                             addr: Option<&Address>| {
                    match rest {
                        "PatientID" => uuid(pid),
                        "AppPatientID" => int(app_pid),
                        "PAdmissionID" => text(pat.and_then(|p| p.admission.as_ref())),
                        "PName" => text(pat.and_then(|p| p.name.as_ref())),
                        "PFName" => text(pat.and_then(|p| p.first.as_ref())),
                        "PLName" => text(pat.and_then(|p| p.last.as_ref())),
                        "PMedicaidNumber" => text(pat.and_then(|p| p.medicaid.as_ref())),
                        "PStatus" => text(pat.and_then(|p| p.status.as_ref())),
                        "PAddressID" => addr.map_or(Value::Null, |a| Value::Uuid(a.id.clone())),
                        "PAppAddressID" => int(addr.and_then(|a| a.app_id)),
                        "PAddressL1" => text(addr.and_then(|a| a.line1.as_ref())),
                        "PAddressL2" => text(addr.and_then(|a| a.line2.as_ref())),
                        "PCity" => text(addr.and_then(|a| a.city.as_ref())),
                        "PAddressState" => text(addr.and_then(|a| a.state.as_ref())),
                        "PZipCode" => text(addr.and_then(|a| a.zip.as_ref())),
                        "PCounty" => text(addr.and_then(|a| a.county.as_ref())),
                        other => panic!("the expected model has no column {other}"),
                    }
                };
                if let Some(rest) = name.strip_prefix("P_") {
                    return block(
                        rest,
                        &f.provider_patient_id,
                        f.app_provider_patient_id,
                        pp,
                        ppa,
                    );
                }
                if let Some(rest) = name.strip_prefix("PA_") {
                    return block(rest, &f.payer_patient_id, f.app_payer_patient_id, ap, apa);
                }
                match name {
                    "AppVisitID" => int(f.app_id),
                    "ProviderID" => uuid(&f.provider_id),
                    "AppProviderID" => int(f.app_provider_id),
                    "ProviderName" => text(pr.and_then(|p| p.name.as_ref())),
                    "FederalTaxNumber" => text(pr.and_then(|p| p.tax_number.as_ref())),
                    "AgencyPhone" => text(pr.and_then(|p| p.phone.as_ref())),
                    "EVVStartTime" => ts(f.call_in),
                    "EVVEndTime" => ts(f.call_out),
                    "CaregiverID" => uuid(&f.caregiver_id),
                    "AppCaregiverID" => int(f.app_caregiver_id),
                    "AideCode" => text(c.and_then(|c| c.code.as_ref())),
                    "AideName" => text(c.and_then(|c| c.full.as_ref())),
                    "AideFName" => text(c.and_then(|c| c.first.as_ref())),
                    "AideLName" => text(c.and_then(|c| c.last.as_ref())),
                    "AideStatus" => text(c.and_then(|c| c.status.as_ref())),
                    "OfficeID" => uuid(&f.office_id),
                    "AppOfficeID" => int(f.app_office_id),
                    "Office" => text(office.and_then(|o| o.name.as_ref())),
                    "PatientID" => uuid(&f.patient_id),
                    "AppPatientID" => int(f.app_patient_id),
                    "PayerID" => uuid(&f.payer_id),
                    "AppPayerID" => int(f.app_payer_id),
                    // "PY name, else K name".
                    "Contract" => text(
                        payer
                            .and_then(|p| p.name.as_ref())
                            .or_else(|| contract.and_then(|k| k.name.as_ref())),
                    ),
                    "PayerState" => text(payer.and_then(|p| p.state.as_ref())),
                    "ContractType" => contract_type(f.app_payer_id, f.app_contract_id),
                    "Billed" => text(f.billed.as_ref()),
                    "BilledDate" => ts(f.invoice_date.map(|d| d.and_time(NaiveTime::MIN))),
                    "BilledHours" => real(f.billed_hours),
                    "BilledRate" => real(f.billed_rate),
                    "TotalBilledAmount" => real(f.total_billed),
                    "BillRateNonBilled" => real(f.rate_non_billed),
                    // Exactly `yes`, case-sensitive; `Yes` and NULL take the non-billed rate.
                    "BillRateBoth" => real(if f.billed.as_deref() == Some("yes") {
                        f.billed_rate
                    } else {
                        f.rate_non_billed
                    }),
                    "RateType" => text(f.bill_type.as_ref()),
                    "ServiceCodeID" => uuid(&f.service_code_id),
                    "AppServiceCodeID" => int(service.and_then(|s| s.app_id)),
                    "ServiceCode" => text(service.and_then(|s| s.code.as_ref())),
                    "MissedVisitReason" => text(f.missed_reason.as_ref()),
                    "EVVType" => text(f.device.as_ref()),
                    "LastUpdatedBy" => text(user.and_then(|u| u.fullname.as_ref())),
                    other => panic!("the expected model has no column {other}"),
                }
            })
            .collect();
        VisitDetails { values }
    }
}

impl Expected<'_> {
    /// Events of docs/rules.md §13 as the source delivers them (before the core's de-duplication of
    /// synthetic ids): caregiver with trimmed non-blank SSN (in-service: by `"Caregiver Id"`;
    /// PTO: every caregiver record with the absence's `"Global Caregiver Id"`), active non-demo
    /// provider, start and end non-NULL, UTC date of the start in the window, provider and SSN
    /// not excluded; office fields only from an active office (in-service only).
    pub fn events(&self, kind: EventKind, window: &Window, ex: &Exclusions) -> Vec<SourcedEvent> {
        let excluded: HashSet<String> = ex.providers.iter().map(|p| p.to_lowercase()).collect();
        // (id, environment, caregivers, provider id, office id, start, end)
        type Row<'a> = (
            i64,
            &'a str,
            Vec<&'a Caregiver>,
            &'a Option<String>,
            &'a Option<String>,
            Option<chrono::NaiveDateTime>,
            Option<chrono::NaiveDateTime>,
        );
        let rows: Vec<Row<'_>> = match kind {
            EventKind::InService => self
                .world
                .inservice
                .iter()
                .map(|e| {
                    let c = e
                        .caregiver_id
                        .as_deref()
                        .and_then(|id| self.caregivers.get(id))
                        .map(|c| vec![*c])
                        .unwrap_or_default();
                    let env = e.environment.as_str();
                    (
                        e.app_id,
                        env,
                        c,
                        &e.provider_id,
                        &e.office_id,
                        e.start,
                        e.end,
                    )
                })
                .collect(),
            EventKind::Pto => self
                .world
                .absences
                .iter()
                .map(|a| {
                    let cs = self
                        .world
                        .caregivers
                        .iter()
                        .filter(|c| c.global_id.is_some() && c.global_id == a.global_caregiver_id)
                        .collect();
                    (a.id, "", cs, &a.provider_id, &NO_ID, a.start, a.end)
                })
                .collect(),
        };
        let mut out = Vec::new();
        for (id, env, caregivers, provider_id, office_id, start, end) in rows {
            let Some(p) = provider_id.as_deref().and_then(|p| self.providers.get(p)) else {
                continue;
            };
            let (Some(s), Some(e)) = (start, end) else {
                continue;
            };
            if !p.admits() || !window.contains(s.date()) || excluded.contains(&p.id) {
                continue;
            }
            let office = office_id
                .as_deref()
                .and_then(|o| self.offices.get(o))
                .filter(|o| o.active == Some(true));
            for c in caregivers {
                let ssn = trim(c.ssn.as_deref().unwrap_or(""));
                if ssn.is_empty() || ex.ssns.contains(ssn) {
                    continue;
                }
                let mut d = VisitDetails::empty();
                d.set("AppVisitID", Value::I64(id));
                d.set("ProviderID", Value::Uuid(p.id.clone()));
                d.set("CaregiverID", Value::Uuid(c.id.clone()));
                d.set("OfficeID", uuid(office_id));
                d.set("AppOfficeID", int(office.and_then(|o| o.app_id)));
                d.set("Office", text(office.and_then(|o| o.name.as_ref())));
                d.set("AppProviderID", int(p.app_id));
                d.set("ProviderName", text(p.name.as_ref()));
                d.set("FederalTaxNumber", text(p.tax_number.as_ref()));
                d.set("AgencyPhone", text(p.phone.as_ref()));
                d.set("AppCaregiverID", int(c.app_id));
                d.set("AideCode", text(c.code.as_ref()));
                d.set("AideName", text(c.full.as_ref()));
                d.set("AideFName", text(c.first.as_ref()));
                d.set("AideLName", text(c.last.as_ref()));
                d.set("AideStatus", text(c.status.as_ref()));
                out.push(SourcedEvent {
                    event: Event {
                        kind,
                        source_id: id,
                        environment: env.to_string(),
                        caregiver_id: Some(c.id.clone()),
                        ssn: c.ssn.clone(),
                        provider_id: p.id.clone(),
                        start: Some(s),
                        end: Some(e),
                    },
                    details: d,
                });
            }
        }
        out
    }
}

/// A NULL id, for rows that have no such column.
static NO_ID: Option<String> = None;

/// Sorts events by (id, environment, caregiver), the order both sides are compared in.
pub fn sorted_events(mut events: Vec<SourcedEvent>) -> Vec<SourcedEvent> {
    events.sort_by(|a, b| {
        let key = |e: &SourcedEvent| {
            (
                e.event.source_id,
                e.event.environment.clone(),
                e.event.caregiver_id.clone(),
            )
        };
        key(a).cmp(&key(b))
    });
    events
}

/// docs/tables.md §9.1 ContractType from the application payer id `p` and contract id `c`.
fn contract_type(p: Option<i64>, c: Option<i64>) -> Value {
    let t = match (p, c) {
        (Some(0), Some(c)) if c != 0 => "Internal",
        (Some(p), Some(c)) if p != 0 && c != 0 => "UPR",
        (Some(p), Some(0)) if p != 0 => "Payer",
        _ => return Value::Null,
    };
    Value::Text(t.into())
}

fn uuid(v: &Option<String>) -> Value {
    v.as_ref()
        .map_or(Value::Null, |s| Value::Uuid(s.to_lowercase()))
}

fn int(v: Option<i64>) -> Value {
    v.map_or(Value::Null, Value::I64)
}

fn text(v: Option<&String>) -> Value {
    v.map_or(Value::Null, |s| Value::Text(s.clone()))
}

fn ts(v: Option<chrono::NaiveDateTime>) -> Value {
    v.map_or(Value::Null, Value::Timestamp)
}

fn real(v: Option<f32>) -> Value {
    v.map_or(Value::Null, Value::F32)
}

/// A `real` read through its shortest decimal text (docs/tables.md §1), never widened: 40.7128f32
/// becomes 40.7128, not 40.71279907226562.
pub fn real_as_decimal(x: f32) -> f64 {
    format!("{x}")
        .parse::<f64>()
        .expect("Rust prints finite f32 as a decimal")
}

/// docs/tables.md §9: per patient, among addresses with `"Primary Address" = true` and an
/// `"Address Type"` containing `GPS` (case-sensitive), the greatest `"Application Created UTC
/// Timestamp"` (a NULL timestamp loses to any value), ties broken by the smallest
/// `"Patient Address Id"` — uuids compare like their canonical lower-case text.
fn latest_addresses(addresses: &[Address]) -> HashMap<&str, &Address> {
    let mut best: HashMap<&str, &Address> = HashMap::new();
    for a in addresses {
        let eligible =
            a.primary == Some(true) && a.kind.as_deref().is_some_and(|k| k.contains("GPS"));
        let Some(pid) = a.patient_id.as_deref().filter(|_| eligible) else {
            continue;
        };
        let better = match best.get(pid) {
            None => true,
            Some(cur) => match (a.created, cur.created) {
                (Some(x), Some(y)) if x != y => x > y,
                (Some(_), None) => true,
                (None, Some(_)) => false,
                _ => a.id < cur.id,
            },
        };
        if better {
            best.insert(pid, a);
        }
    }
    best
}

/// The pre-filter: keeps the visits of (visit date, trimmed SSN) groups with visits of two or
/// more distinct providers.
pub fn prefilter(visits: &[Visit]) -> Vec<Visit> {
    let mut providers: HashMap<(chrono::NaiveDate, &str), HashSet<&str>> = HashMap::new();
    for v in visits {
        let ssn = trim(v.ssn.as_deref().unwrap_or(""));
        providers
            .entry((v.visit_date, ssn))
            .or_default()
            .insert(&v.provider_id);
    }
    visits
        .iter()
        .filter(|v| providers[&(v.visit_date, trim(v.ssn.as_deref().unwrap_or("")))].len() >= 2)
        .cloned()
        .collect()
}

/// Sorts by visit id, the order both sides are compared in.
pub fn sorted(mut visits: Vec<Visit>) -> Vec<Visit> {
    visits.sort_by(|a, b| a.visit_id.cmp(&b.visit_id));
    visits
}

/// Asserts that two visit lists (any order) are equal, naming the first differing visit field
/// by field instead of dumping thousands of records.
pub fn assert_same_visits(what: &str, actual: Vec<Visit>, expected: Vec<Visit>) {
    let actual = sorted(actual);
    let expected = sorted(expected);
    let a_ids: HashSet<&str> = actual.iter().map(|v| v.visit_id.as_str()).collect();
    let e_ids: HashSet<&str> = expected.iter().map(|v| v.visit_id.as_str()).collect();
    let missing: Vec<_> = expected
        .iter()
        .filter(|v| !a_ids.contains(v.visit_id.as_str()))
        .collect();
    let extra: Vec<_> = actual
        .iter()
        .filter(|v| !e_ids.contains(v.visit_id.as_str()))
        .collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{what}: {} visits missing (first: {:#?}), {} unexpected (first: {:#?})",
        missing.len(),
        missing.first(),
        extra.len(),
        extra.first()
    );
    assert_eq!(actual.len(), expected.len(), "{what}: duplicate visit ids");
    for (a, e) in actual.iter().zip(&expected) {
        if a != e {
            panic!("{what}: visit {} differs\n{}", e.visit_id, visit_diff(a, e));
        }
    }
}

/// The differing fields of two visits, one per line.
pub fn visit_diff(a: &Visit, e: &Visit) -> String {
    let fa = format!("{a:#?}");
    let fe = format!("{e:#?}");
    let mut out = String::new();
    for (la, le) in fa.lines().zip(fe.lines()) {
        if la != le {
            out += &format!("  actual:   {}\n  expected: {}\n", la.trim(), le.trim());
        }
    }
    out
}
