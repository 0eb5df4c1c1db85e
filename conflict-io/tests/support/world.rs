//! A deterministic "analytics world": every dimension and fact row the analytics source reads
//! (docs/tables.md §9), generated from a seed with the untidy data the warehouse really holds.
//!
//! The world is plain data. [`super::load`] writes it into a PostgreSQL analytics schema and
//! [`super::expected`] derives from the same structs, by following docs/tables.md §9 literally, what
//! the source must return — so a test compares the ODBC result with an independent model instead
//! of with hand-written literals.
//!
//! What it contains, and why:
//!
//! * providers: active, inactive, demo, and `"Is Active"`/`"Is Demo"` NULL (only active ∧
//!   non-demo providers admit visits); states as codes, full names, blank and NULL.
//! * caregivers: one record per (person, agency), so one SSN works at several agencies; SSNs
//!   exact, padded with every character of the docs/rules.md §1 trim set, with a vertical tab (not
//!   trimmed), blank, NULL; sometimes two records of one person at the same agency (same
//!   provider never pairs); placeholder SSNs (the core, not the source, drops those).
//! * offices (some inactive or with NULL state), patients, and patient addresses with several
//!   primary GPS addresses per patient whose `"Application Created UTC Timestamp"` differ, tie,
//!   or are NULL, plus non-primary and non-GPS types (including lower-case `gps`, since `LIKE`
//!   is case-sensitive) that must be ignored; latitudes/longitudes as `real`.
//! * payers (active, inactive, demo, without name), contracts (active/inactive), service codes,
//!   users.
//! * visits covering the window edges, overnight and NULL times, schedule-only and half-started
//!   visits, GPS strings of all kinds, NULL and dangling foreign keys, `"Billed"` spellings,
//!   every ContractType case, microsecond timestamps, non-ASCII text at full column length.
//!   Each person works most days for one agency; a share of days adds a visit at a second
//!   agency, so both pairs and single-agency groups exist.
//! * in-service events and PTO absences (docs/rules.md §13) of a third of the people, with NULL
//!   times, window edges by the start's UTC date, repeated ids across environments, and
//!   dangling caregivers, offices and global caregiver ids.

use chrono::{Days, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta};
use conflict_core::Window;

use super::rng::Rng;

#[derive(Debug, Clone)]
pub struct Provider {
    pub id: String,
    pub app_id: Option<i64>,
    pub name: Option<String>,
    pub state: Option<String>,
    pub tax_number: Option<String>,
    pub phone: Option<String>,
    pub active: Option<bool>,
    pub demo: Option<bool>,
}

impl Provider {
    /// docs/tables.md §9: only these providers' visits take part.
    pub fn admits(&self) -> bool {
        self.active == Some(true) && self.demo == Some(false)
    }
}

#[derive(Debug, Clone)]
pub struct Caregiver {
    pub id: String,
    pub app_id: Option<i64>,
    pub code: Option<String>,
    pub first: Option<String>,
    pub last: Option<String>,
    pub full: Option<String>,
    pub ssn: Option<String>,
    pub status: Option<String>,
    /// Links PTO absences to caregiver records (provisional, docs/rules.md §13); shared by the
    /// records of one person.
    pub global_id: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Office {
    pub id: String,
    pub app_id: Option<i64>,
    pub name: Option<String>,
    pub active: Option<bool>,
}

#[derive(Debug, Clone)]
pub struct Patient {
    pub id: String,
    pub app_id: Option<i64>,
    pub first: Option<String>,
    pub last: Option<String>,
    pub name: Option<String>,
    pub admission: Option<String>,
    pub medicaid: Option<String>,
    pub status: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Address {
    pub id: String,
    pub app_id: Option<i64>,
    pub patient_id: Option<String>,
    pub app_patient_id: Option<i64>,
    pub kind: Option<String>,
    pub primary: Option<bool>,
    pub line1: Option<String>,
    pub line2: Option<String>,
    pub city: Option<String>,
    pub county: Option<String>,
    pub state: Option<String>,
    pub zip: Option<String>,
    pub lat: Option<f32>,
    pub lon: Option<f32>,
    /// UTC instant.
    pub created: Option<NaiveDateTime>,
}

#[derive(Debug, Clone)]
pub struct Payer {
    pub id: String,
    pub app_id: Option<i64>,
    pub name: Option<String>,
    pub state: Option<String>,
    pub active: Option<bool>,
    pub demo: Option<bool>,
}

#[derive(Debug, Clone)]
pub struct Contract {
    pub id: String,
    pub app_id: Option<i64>,
    pub name: Option<String>,
    pub active: Option<bool>,
}

#[derive(Debug, Clone)]
pub struct ServiceCode {
    pub id: String,
    pub app_id: Option<i64>,
    pub code: Option<String>,
}

#[derive(Debug, Clone)]
pub struct User {
    pub id: String,
    pub fullname: Option<String>,
}

/// One row of `factvisitcallperformance_cr`. Every timestamp is a UTC instant (the column is
/// `timestamptz`).
#[derive(Debug, Clone, Default)]
pub struct FactVisit {
    pub id: String,
    pub app_id: Option<i64>,
    pub date: Option<NaiveDate>,
    pub sch_start: Option<NaiveDateTime>,
    pub sch_end: Option<NaiveDateTime>,
    pub visit_start: Option<NaiveDateTime>,
    pub visit_end: Option<NaiveDateTime>,
    pub call_in: Option<NaiveDateTime>,
    pub call_out: Option<NaiveDateTime>,
    pub call_in_gps: Option<String>,
    pub call_out_gps: Option<String>,
    pub device: Option<String>,
    pub caregiver_id: Option<String>,
    pub app_caregiver_id: Option<i64>,
    pub provider_id: Option<String>,
    pub app_provider_id: Option<i64>,
    pub office_id: Option<String>,
    pub app_office_id: Option<i64>,
    pub patient_id: Option<String>,
    pub app_patient_id: Option<i64>,
    pub provider_patient_id: Option<String>,
    pub app_provider_patient_id: Option<i64>,
    pub payer_patient_id: Option<String>,
    pub app_payer_patient_id: Option<i64>,
    pub payer_id: Option<String>,
    pub app_payer_id: Option<i64>,
    pub contract_id: Option<String>,
    pub app_contract_id: Option<i64>,
    pub service_code_id: Option<String>,
    pub bill_type: Option<String>,
    pub billed: Option<String>,
    pub billed_hours: Option<f32>,
    pub billed_rate: Option<f32>,
    pub total_billed: Option<f32>,
    pub rate_non_billed: Option<f32>,
    pub invoice_date: Option<NaiveDate>,
    pub is_missed: Option<bool>,
    pub missed_reason: Option<String>,
    pub updated_user_id: Option<String>,
    pub updated_at: Option<NaiveDateTime>,
}

/// One row of `factcaregiverinservice`; times are UTC instants.
#[derive(Debug, Clone)]
pub struct InService {
    pub app_id: i64,
    pub environment: String,
    pub caregiver_id: Option<String>,
    pub provider_id: Option<String>,
    pub office_id: Option<String>,
    pub start: Option<NaiveDateTime>,
    pub end: Option<NaiveDateTime>,
}

/// One row of `factcaregiverabsence`; times are UTC instants.
#[derive(Debug, Clone)]
pub struct Absence {
    pub id: i64,
    pub global_caregiver_id: Option<String>,
    pub provider_id: Option<String>,
    pub start: Option<NaiveDateTime>,
    pub end: Option<NaiveDateTime>,
}

/// One person behind an SSN: the caregiver records (one per agency, sometimes two) that carry
/// it. Kept so tests can pick SSNs and providers with known properties.
#[derive(Debug, Clone)]
pub struct Person {
    /// The trimmed SSN every record of the person shares (may be blank for the blank-SSN
    /// people).
    pub ssn: String,
    /// Indexes into [`World::caregivers`], each paired with the index of its provider.
    pub records: Vec<(usize, usize)>,
}

#[derive(Debug, Clone)]
pub struct WorldConfig {
    pub seed: u64,
    pub as_of: NaiveDate,
    /// Regular people (distinct, non-blank SSNs).
    pub people: usize,
    /// Total number of regular visits (the hand-made edge cases come on top).
    pub visits: usize,
    /// Share of a person's working days that carry a visit at a second agency.
    pub second_agency_share: f64,
    /// Add the hand-made edge cases (window edges, dangling keys, blank SSNs, long text).
    pub edge_cases: bool,
}

impl WorldConfig {
    /// The size the integration tests use: big enough for every random case to occur many
    /// times, small enough to load in well under a second.
    pub fn test(seed: u64) -> Self {
        WorldConfig {
            seed,
            as_of: NaiveDate::from_ymd_opt(2025, 6, 15).unwrap(),
            people: 240,
            visits: 12_000,
            second_agency_share: 0.12,
            edge_cases: true,
        }
    }

    /// the old system's batch 6: 1,284 SSNs and 638,216 fetched visits.
    pub fn batch6(seed: u64) -> Self {
        WorldConfig {
            seed,
            as_of: NaiveDate::from_ymd_opt(2025, 6, 15).unwrap(),
            people: 1_284,
            visits: 638_216,
            second_agency_share: 0.03,
            edge_cases: true,
        }
    }

    /// The default window around `as_of` (2 years back, 45 days forward).
    pub fn window(&self) -> Window {
        Window::default_around(self.as_of).expect("valid window")
    }
}

#[derive(Debug, Clone, Default)]
pub struct World {
    pub providers: Vec<Provider>,
    pub caregivers: Vec<Caregiver>,
    pub offices: Vec<Office>,
    /// Offices of each provider (indexes into `offices`), aligned with `providers`.
    pub provider_offices: Vec<Vec<usize>>,
    pub patients: Vec<Patient>,
    pub addresses: Vec<Address>,
    pub payers: Vec<Payer>,
    pub contracts: Vec<Contract>,
    pub service_codes: Vec<ServiceCode>,
    pub users: Vec<User>,
    pub visits: Vec<FactVisit>,
    pub people: Vec<Person>,
    pub inservice: Vec<InService>,
    pub absences: Vec<Absence>,
}

/// Provider states as agencies type them: codes, full names, odd case, blank, NULL.
const STATES: &[Option<&str>] = &[
    Some("NY"),
    Some("New York"),
    Some("NJ"),
    Some("new jersey "),
    Some("PA"),
    Some(""),
    Some("   "),
    None,
];

const FIRST_NAMES: &[&str] = &[
    "Maria",
    "James",
    "José",
    "Zoë",
    "Łukasz",
    "Nguyễn",
    "Aisha",
    "O’Neil",
    "Wei",
    "Ana-María",
];
const LAST_NAMES: &[&str] = &[
    "Smith",
    "García",
    "Müller",
    "O’Brien",
    "Wójcik",
    "Văn An",
    "Okafor",
    "Chen",
    "D'Angelo",
    "Ñúñez",
];

/// The trim set of docs/rules.md §1 plus the vertical tab, which is *not* in it.
const PADDINGS: &[(&str, &str)] = &[
    (" ", ""),
    ("", " "),
    ("  ", "\t"),
    ("\t", "\n"),
    ("\r", "\x0c"),
    (" \t\n\x0c\r", " \r\n"),
];

impl World {
    pub fn generate(cfg: &WorldConfig) -> World {
        let mut root = Rng::new(cfg.seed);
        let mut w = World::default();
        let window = cfg.window();
        w.dimensions(&mut root.fork(1), cfg);
        w.regular_people(&mut root.fork(2), cfg, window);
        if cfg.edge_cases {
            w.edge_cases(&mut root.fork(3), window);
        }
        w.events(&mut root.fork(4), window);
        w
    }

    // ---------------------------------------------------------------------------------------
    // Dimensions

    fn dimensions(&mut self, rng: &mut Rng, cfg: &WorldConfig) {
        let n_providers = (cfg.people / 25).max(12);
        for i in 0..n_providers {
            // The first four are the ones that must not admit visits; the rest are ordinary.
            let (active, demo) = match i {
                0 => (Some(false), Some(false)),
                1 => (Some(true), Some(true)),
                2 => (None, Some(false)),
                3 => (Some(true), None),
                _ => (Some(true), Some(false)),
            };
            let name = match i % 7 {
                // Longer than the CVM column (100) but within the source's 200.
                5 => Some(format!(
                    "Agência de Saúde Domiciliar nº {i} — {}",
                    "ção".repeat(50)
                )),
                4 => None,
                _ => Some(format!("Home Care Agency {i}")),
            };
            self.providers.push(Provider {
                id: rng.uuid(),
                app_id: Some(1000 + i as i64),
                name,
                state: STATES[i % STATES.len()].map(String::from),
                tax_number: (i % 5 != 4)
                    .then(|| format!("{:02}-{:07}", i % 99, rng.below(9_999_999))),
                phone: (i % 6 != 5).then(|| format!("+1 (212) 555-{:04}", rng.below(10_000))),
                active,
                demo,
            });
            let mut offices = Vec::new();
            for k in 0..2 {
                let idx = self.offices.len();
                self.offices.push(Office {
                    id: rng.uuid(),
                    app_id: Some(50_000 + idx as i64),
                    name: (idx % 9 != 8).then(|| format!("Office {k} of agency {i}")),
                    active: match idx % 5 {
                        3 => Some(false),
                        4 if idx % 10 == 4 => None,
                        _ => Some(true),
                    },
                });
                offices.push(idx);
            }
            self.provider_offices.push(offices);
        }

        let n_patients = (cfg.people * 2).max(60);
        for i in 0..n_patients {
            let first = *rng.pick(FIRST_NAMES);
            let last = *rng.pick(LAST_NAMES);
            let id = rng.uuid();
            let app_id = Some(7_000_000 + i as i64);
            self.patients.push(Patient {
                id: id.clone(),
                app_id,
                first: Some(first.to_string()),
                last: (i % 13 != 12).then(|| last.to_string()),
                name: Some(format!("{last}, {first}")),
                admission: (i % 4 != 3).then(|| format!("ADM-{i:06}")),
                medicaid: (i % 3 != 2).then(|| format!("MC{:08}", rng.below(100_000_000))),
                status: Some(["Active", "Discharged", "On Hold"][i % 3].to_string()),
            });
            self.patient_addresses(rng, i, &id, app_id);
        }

        for i in 0..10 {
            let (active, demo) = match i {
                0 => (Some(false), Some(false)),
                1 => (Some(true), Some(true)),
                2 => (None, Some(false)),
                _ => (Some(true), Some(false)),
            };
            self.payers.push(Payer {
                id: rng.uuid(),
                app_id: Some(300 + i),
                // A joined payer without a name falls back to the contract name (COALESCE).
                name: (i != 3).then(|| format!("Payer {i} Medicaid Managed Long Term Care")),
                state: match i % 4 {
                    0 => Some("NY".into()),
                    1 => Some("New York State Department of Health".into()),
                    2 => None,
                    _ => Some("NJ".into()),
                },
                active,
                demo,
            });
        }
        for i in 0..8 {
            self.contracts.push(Contract {
                id: rng.uuid(),
                app_id: Some(900 + i),
                name: (i != 5).then(|| format!("Contract {i} – “Community First” Choice")),
                active: match i {
                    0 => Some(false),
                    1 => None,
                    _ => Some(true),
                },
            });
        }
        for i in 0..12 {
            self.service_codes.push(ServiceCode {
                id: rng.uuid(),
                app_id: (i != 4).then_some(i as i64 * 11),
                code: (i != 7).then(|| format!("T{:04}", 1000 + i)),
            });
        }
        for i in 0..10 {
            self.users.push(User {
                id: rng.uuid(),
                fullname: (i != 6).then(|| format!("{} {}", FIRST_NAMES[i], LAST_NAMES[9 - i])),
            });
        }
    }

    /// 0–5 addresses per patient. The winner of docs/tables.md §9 is made ambiguous on purpose:
    /// several primary GPS addresses, equal timestamps (tie → smallest id), NULL timestamps,
    /// and decoys that would win if `"Primary Address"` or the case-sensitive `LIKE '%GPS%'`
    /// were ignored.
    fn patient_addresses(&mut self, rng: &mut Rng, i: usize, pid: &str, app_pid: Option<i64>) {
        let n = rng.below(6);
        let base = NaiveDate::from_ymd_opt(2019, 1, 1)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap();
        // A shared timestamp so that ties between primary GPS addresses happen often.
        let tie = base + TimeDelta::days(rng.range(0, 2000));
        for k in 0..n {
            let kind = match rng.weighted(&[6, 2, 1, 1, 1, 1]) {
                0 => Some("GPS"),
                1 => Some("Home GPS Verified"),
                2 => Some("gps"),
                3 => Some("Mailing"),
                4 => Some("Billing"),
                _ => None,
            };
            let primary = match rng.weighted(&[7, 2, 1]) {
                0 => Some(true),
                1 => Some(false),
                _ => None,
            };
            let created = match rng.weighted(&[5, 3, 2]) {
                0 => Some(
                    base + TimeDelta::seconds(rng.range(0, 200_000_000))
                        + TimeDelta::microseconds(rng.range(0, 1) * rng.range(0, 999_999)),
                ),
                1 => Some(tie),
                _ => None,
            };
            let (lat, lon) = coordinates(rng);
            let line1 = if i % 41 == 7 && k == 0 {
                // Full column length (500 characters) with multi-byte text.
                Some(
                    "Rua São João, apartamento nº 12 – "
                        .repeat(20)
                        .chars()
                        .take(500)
                        .collect(),
                )
            } else {
                Some(format!(
                    "{} {} Street",
                    rng.range(1, 9999),
                    LAST_NAMES[k % LAST_NAMES.len()]
                ))
            };
            self.addresses.push(Address {
                id: rng.uuid(),
                app_id: (k != 3).then(|| 90_000_000 + rng.range(0, 9_999_999)),
                patient_id: Some(pid.to_string()),
                app_patient_id: app_pid,
                kind: kind.map(String::from),
                primary,
                line1,
                line2: rng.chance(0.3).then(|| format!("Apt {}", rng.range(1, 40))),
                city: Some(
                    ["New York", "Brooklyn", "Newark", "Yonkers", "Jersey City"][k % 5].into(),
                ),
                county: rng.chance(0.8).then(|| "Kings".to_string()),
                state: STATES[rng.below(STATES.len())].map(String::from),
                zip: match rng.weighted(&[6, 1, 1, 1]) {
                    0 => Some(format!("{:05}", rng.range(10001, 11697))),
                    1 => Some(format!(
                        "{:05}-{:04}",
                        rng.range(7001, 8999),
                        rng.below(10_000)
                    )),
                    2 => Some(String::new()),
                    _ => None,
                },
                lat,
                lon,
                created,
            });
        }
    }

    // ---------------------------------------------------------------------------------------
    // People and their visits

    /// The admitting providers (active, non-demo), by index.
    pub fn admitting_providers(&self) -> Vec<usize> {
        (0..self.providers.len())
            .filter(|&i| self.providers[i].admits())
            .collect()
    }

    fn new_caregiver(&mut self, rng: &mut Rng, ssn: Option<String>) -> usize {
        let first = *rng.pick(FIRST_NAMES);
        let last = *rng.pick(LAST_NAMES);
        let idx = self.caregivers.len();
        self.caregivers.push(Caregiver {
            id: rng.uuid(),
            app_id: Some(4_000_000_000 + idx as i64),
            code: (idx % 11 != 10).then(|| format!("CG{idx:06}")),
            first: (idx % 19 != 18).then(|| first.to_string()),
            last: (idx % 23 != 22).then(|| last.to_string()),
            full: (idx % 17 != 16).then(|| format!("{first} {last}")),
            ssn,
            status: (idx % 13 != 12)
                .then(|| ["Active", "Terminated", "Inactive", "On Leave"][idx % 4].to_string()),
            global_id: None,
        });
        idx
    }

    fn regular_people(&mut self, rng: &mut Rng, cfg: &WorldConfig, window: Window) {
        let admitting = self.admitting_providers();
        let non_admitting: Vec<usize> = (0..self.providers.len())
            .filter(|&i| !self.providers[i].admits())
            .collect();
        for p in 0..cfg.people {
            // Unique by the last six digits; the first three spread the people over ~40 SSN
            // prefixes like production batches.
            let ssn = format!("{:03}{:06}", 100 + (p * 37) % 40 * 17, p);
            let agencies = 1 + rng.weighted(&[50, 30, 15, 5]);
            let mut records = Vec::new();
            let mut used = Vec::new();
            for _ in 0..agencies {
                // One person in 25 also works for an agency that does not admit visits.
                let provider = if rng.chance(0.04) {
                    *rng.pick(&non_admitting)
                } else {
                    *rng.pick(&admitting)
                };
                if used.contains(&provider) {
                    continue;
                }
                used.push(provider);
                let raw = if rng.chance(0.3) {
                    let (l, r) = *rng.pick(PADDINGS);
                    format!("{l}{ssn}{r}")
                } else {
                    ssn.clone()
                };
                let c = self.new_caregiver(rng, Some(raw));
                records.push((c, provider));
                // Two caregiver records of one person at the same agency: still one provider.
                if rng.chance(0.08) {
                    let c2 = self.new_caregiver(rng, Some(format!(" {ssn}")));
                    records.push((c2, provider));
                }
            }
            // The records of one person share a global caregiver id (sometimes none).
            let global = rng.chance(0.9).then(|| rng.uuid());
            for &(c, _) in &records {
                self.caregivers[c].global_id = global.clone();
            }
            self.people.push(Person { ssn, records });
        }

        // Visits: an exact total, spread over the people with ±50 % variation.
        let mean = cfg.visits as f64 / cfg.people.max(1) as f64;
        let mut quotas: Vec<usize> = (0..cfg.people)
            .map(|_| (mean * (0.5 + rng.unit())).round() as usize)
            .collect();
        let mut total: usize = quotas.iter().sum();
        while total != cfg.visits && cfg.people > 0 {
            let i = rng.below(cfg.people);
            if total < cfg.visits {
                quotas[i] += 1;
                total += 1;
            } else if quotas[i] > 0 {
                quotas[i] -= 1;
                total -= 1;
            }
        }
        // A few days on either side of the window, so the date filter has work to do.
        let first = window.from - Days::new(4);
        let span = (window.to - first).num_days() + 5;
        for (p, &quota) in quotas.iter().enumerate() {
            let records = self.people[p].records.clone();
            let mut made = 0;
            while made < quota {
                let date = first + Days::new(rng.range(0, span - 1) as u64);
                let (c, prov) = *rng.pick(&records);
                self.push_random_visit(rng, c, prov, date);
                made += 1;
                if made < quota && records.len() > 1 && rng.chance(cfg.second_agency_share) {
                    let others: Vec<_> = records.iter().filter(|r| r.1 != prov).collect();
                    if let Some(&&(c2, prov2)) = others.get(rng.below(others.len().max(1))) {
                        self.push_random_visit(rng, c2, prov2, date);
                        made += 1;
                    }
                } else if made < quota && rng.chance(0.1) {
                    // A split shift at the same agency: two visits, still one provider.
                    self.push_random_visit(rng, c, prov, date);
                    made += 1;
                }
            }
        }
    }

    fn push_random_visit(
        &mut self,
        rng: &mut Rng,
        caregiver: usize,
        provider: usize,
        date: NaiveDate,
    ) {
        let v = self.random_visit(rng, caregiver, provider, date);
        self.visits.push(v);
    }

    fn random_visit(
        &self,
        rng: &mut Rng,
        caregiver: usize,
        provider: usize,
        date: NaiveDate,
    ) -> FactVisit {
        let cg = &self.caregivers[caregiver];
        let pr = &self.providers[provider];
        let n = self.visits.len() as i64;
        let midnight = date.and_time(NaiveTime::MIN);
        // Times are UTC instants; a US evening visit crosses the UTC date line, so a visit's
        // times need not fall on its visit date.
        let start = midnight + TimeDelta::minutes(rng.range(5 * 60, 26 * 60) / 15 * 15);
        let hours = rng.range(1, 12);
        let (sch_start, sch_end) = match rng.weighted(&[80, 6, 3, 3]) {
            0 => (Some(start), Some(start + TimeDelta::hours(hours))),
            // Overnight: 22:00 → 06:00 next day.
            1 => (
                Some(midnight + TimeDelta::hours(22)),
                Some(midnight + TimeDelta::hours(30)),
            ),
            2 => (None, None),
            _ => (Some(start), None),
        };
        let jitter = |rng: &mut Rng| {
            TimeDelta::seconds(rng.range(-900, 900))
                + TimeDelta::microseconds(rng.range(0, 1) * rng.range(0, 999_999))
        };
        let (visit_start, visit_end) = match rng.weighted(&[78, 8, 4, 2, 2]) {
            0 => {
                let s = sch_start.unwrap_or(start) + jitter(rng);
                (Some(s), Some(s + TimeDelta::hours(hours) + jitter(rng)))
            }
            // Schedule only (future or not yet worked).
            1 => (None, None),
            // Half-started.
            2 => (Some(sch_start.unwrap_or(start) + jitter(rng)), None),
            3 => (None, Some(start + TimeDelta::hours(hours))),
            // End before start: used as given.
            _ => (Some(start + TimeDelta::hours(2)), Some(start)),
        };
        let call_in = visit_start
            .filter(|_| rng.chance(0.9))
            .map(|t| t - TimeDelta::seconds(rng.range(0, 120)));
        let call_out = visit_end
            .filter(|_| rng.chance(0.9))
            .map(|t| t + TimeDelta::seconds(rng.range(0, 120)));
        let office_id = match rng.weighted(&[90, 5, 5]) {
            0 => Some(
                self.offices[*rng.pick(&self.provider_offices[provider])]
                    .id
                    .clone(),
            ),
            1 => None,
            _ => Some(rng.uuid()), // dangling
        };
        let patient = |rng: &mut Rng, w: &World| match rng.weighted(&[88, 6, 6]) {
            0 => {
                let p = &w.patients[rng.below(w.patients.len())];
                (Some(p.id.clone()), p.app_id)
            }
            1 => (None, None),
            _ => (Some(rng.uuid()), Some(rng.range(1, 1 << 40))),
        };
        let (patient_id, app_patient_id) = patient(rng, self);
        let (pp_id, app_pp_id) = patient(rng, self);
        // The payer-side patient is usually the provider-side one.
        let (ap_id, app_ap_id) = if rng.chance(0.7) {
            (pp_id.clone(), app_pp_id)
        } else {
            patient(rng, self)
        };
        let (payer_id, app_payer_id, contract_id, app_contract_id) = self.payer_contract(rng);
        let billed = match rng.weighted(&[5, 2, 2, 2, 1]) {
            0 => Some("yes"),
            1 => Some("Yes"),
            2 => Some("no"),
            3 => None,
            _ => Some("YES"),
        };
        let real = |rng: &mut Rng, lo: f64, hi: f64| {
            rng.chance(0.9)
                .then(|| ((lo + (hi - lo) * rng.unit()) * 100.0).round() as f32 / 100.0)
        };
        let is_missed = match rng.weighted(&[85, 10, 5]) {
            0 => Some(false),
            1 => Some(true),
            _ => None,
        };
        let missed_reason = match (is_missed, rng.below(4)) {
            (Some(true), 0) => Some("Patient refused – “not today”".to_string()),
            (Some(true), 1) => Some(
                // Free text at the full 500 characters of the column, with multi-byte quotes.
                "Caregiver’s note: patient’s daughter cancelled "
                    .repeat(12)
                    .chars()
                    .take(500)
                    .collect(),
            ),
            (Some(true), _) => Some("Hospitalized".to_string()),
            _ => None,
        };
        let updated_user_id = match rng.weighted(&[85, 10, 5]) {
            0 => Some(self.users[rng.below(self.users.len())].id.clone()),
            1 => None,
            _ => Some(rng.uuid()),
        };
        FactVisit {
            id: rng.uuid(),
            app_id: (n % 997 != 500).then_some(if n % 3 == 0 {
                9_000_000_000_000 + n
            } else {
                1 + n
            }),
            date: Some(date),
            sch_start,
            sch_end,
            visit_start,
            visit_end,
            call_in,
            call_out,
            call_in_gps: gps(rng),
            call_out_gps: gps(rng),
            device: [Some("Mobile"), Some("IVR"), Some("Telephony"), None][rng.below(4)]
                .map(String::from),
            caregiver_id: Some(cg.id.clone()),
            app_caregiver_id: cg.app_id,
            provider_id: Some(pr.id.clone()),
            app_provider_id: pr.app_id,
            office_id,
            app_office_id: Some(rng.range(1, 99_999)),
            patient_id,
            app_patient_id,
            provider_patient_id: pp_id,
            app_provider_patient_id: app_pp_id,
            payer_patient_id: ap_id,
            app_payer_patient_id: app_ap_id,
            payer_id,
            app_payer_id,
            contract_id,
            app_contract_id,
            service_code_id: match rng.weighted(&[90, 5, 5]) {
                0 => Some(
                    self.service_codes[rng.below(self.service_codes.len())]
                        .id
                        .clone(),
                ),
                1 => None,
                _ => Some(rng.uuid()),
            },
            bill_type: [Some("Hourly"), Some("Daily"), Some("Visit"), None][rng.below(4)]
                .map(String::from),
            billed: billed.map(String::from),
            billed_hours: real(rng, 0.25, 12.0),
            billed_rate: real(rng, 15.0, 45.0),
            total_billed: real(rng, 10.0, 600.0),
            rate_non_billed: real(rng, 15.0, 45.0),
            invoice_date: rng
                .chance(0.6)
                .then(|| date + Days::new(rng.range(0, 40) as u64)),
            is_missed,
            missed_reason,
            updated_user_id,
            updated_at: rng.chance(0.95).then(|| {
                midnight
                    + TimeDelta::seconds(rng.range(0, 40 * 86_400))
                    + TimeDelta::microseconds(rng.range(0, 999_999))
            }),
        }
    }

    /// Payer and contract keys with every ContractType case: application payer/contract ids
    /// 0, non-0 and NULL in all combinations; payer and contract ids known, dangling or NULL.
    fn payer_contract(
        &self,
        rng: &mut Rng,
    ) -> (Option<String>, Option<i64>, Option<String>, Option<i64>) {
        let app = |rng: &mut Rng| match rng.weighted(&[4, 5, 1]) {
            0 => Some(0),
            1 => Some(rng.range(1, 5000)),
            _ => None,
        };
        let payer_id = match rng.weighted(&[80, 10, 10]) {
            0 => Some(self.payers[rng.below(self.payers.len())].id.clone()),
            1 => None,
            _ => Some(rng.uuid()),
        };
        let contract_id = match rng.weighted(&[80, 10, 10]) {
            0 => Some(self.contracts[rng.below(self.contracts.len())].id.clone()),
            1 => None,
            _ => Some(rng.uuid()),
        };
        (payer_id, app(rng), contract_id, app(rng))
    }

    // ---------------------------------------------------------------------------------------
    // Hand-made edge cases

    fn edge_cases(&mut self, rng: &mut Rng, window: Window) {
        let admitting = self.admitting_providers();
        let (pa, pb) = (admitting[0], admitting[1]);

        // Window edges: one person at two agencies, one visit each on from−1, from, to, to+1.
        // Inside the window both survive the pre-filter; outside neither is fetched.
        let edge_ssn = "555000111".to_string();
        let ca = self.new_caregiver(rng, Some(edge_ssn.clone()));
        let cb = self.new_caregiver(rng, Some(format!("\t{edge_ssn} ")));
        for date in [
            window.from - Days::new(1),
            window.from,
            window.to,
            window.to + Days::new(1),
        ] {
            self.push_random_visit(rng, ca, pa, date);
            self.push_random_visit(rng, cb, pb, date);
        }
        self.people.push(Person {
            ssn: edge_ssn,
            records: vec![(ca, pa), (cb, pb)],
        });

        let mid = window.from + Days::new(200);
        // Blank and NULL SSNs at two agencies on one day: never fetched, never grouped.
        for raw in [None, Some(""), Some("   "), Some("\t\r\n\x0c ")] {
            let c1 = self.new_caregiver(rng, raw.map(String::from));
            let c2 = self.new_caregiver(rng, raw.map(String::from));
            self.push_random_visit(rng, c1, pa, mid);
            self.push_random_visit(rng, c2, pb, mid);
        }
        // A vertical tab is not whitespace for docs/rules.md §1: this SSN is not blank.
        let vt = self.new_caregiver(rng, Some("\x0b".into()));
        let vt2 = self.new_caregiver(rng, Some("\x0b".into()));
        self.push_random_visit(rng, vt, pa, mid);
        self.push_random_visit(rng, vt2, pb, mid);
        // Placeholder SSNs are fetched (the core drops them, docs/rules.md §3 4a).
        let z1 = self.new_caregiver(rng, Some("000-00-0000".into()));
        let z2 = self.new_caregiver(rng, Some("000000000".into()));
        self.push_random_visit(rng, z1, pa, mid);
        self.push_random_visit(rng, z2, pb, mid);

        // Dangling and NULL keys on the inner joins: never fetched.
        let ok = self.new_caregiver(rng, Some("555000222".into()));
        let mut v = self.random_visit(rng, ok, pa, mid);
        v.caregiver_id = None;
        self.visits.push(v);
        let mut v = self.random_visit(rng, ok, pa, mid);
        v.caregiver_id = Some(rng.uuid());
        self.visits.push(v);
        let mut v = self.random_visit(rng, ok, pa, mid);
        v.provider_id = None;
        self.visits.push(v);
        let mut v = self.random_visit(rng, ok, pa, mid);
        v.provider_id = Some(rng.uuid());
        self.visits.push(v);
        // No visit date: outside every window.
        let mut v = self.random_visit(rng, ok, pb, mid);
        v.date = None;
        self.visits.push(v);
        // A visit with (almost) everything NULL except the keys the joins need.
        let mut v = self.random_visit(rng, ok, pb, mid);
        let keep = (
            v.id.clone(),
            v.caregiver_id.clone(),
            v.provider_id.clone(),
            v.date,
        );
        v = FactVisit {
            id: keep.0,
            caregiver_id: keep.1,
            provider_id: keep.2,
            date: keep.3,
            ..FactVisit::default()
        };
        self.visits.push(v);
        // GPS strings at the full 100 characters of the column, multi-byte included.
        let mut v = self.random_visit(rng, ok, pb, mid);
        v.call_out_gps = Some(format!("{:<97}°,1", "40.712776"));
        v.call_in_gps = Some("“40.7”,“-74.0”".repeat(8).chars().take(100).collect());
        self.visits.push(v);
        self.people.push(Person {
            ssn: "555000222".into(),
            records: vec![(ok, pa), (ok, pb)],
        });
    }
}

impl World {
    /// In-service events and PTO absences of about a third of the people (docs/rules.md §13), with
    /// what the filters must handle: events at non-admitting providers, NULL start or end,
    /// starts just inside and outside the window (by their UTC date), offices active, inactive,
    /// NULL or dangling, the same in-service id in two environments, dangling caregivers and
    /// global ids.
    fn events(&mut self, rng: &mut Rng, window: Window) {
        let people = self.people.clone();
        let first = window.from.and_time(NaiveTime::MIN);
        let span = (window.to - window.from).num_seconds();
        let mut next_id = 70_000i64;
        for (p, person) in people.iter().enumerate() {
            if person.records.is_empty() || p % 3 != 0 {
                continue;
            }
            for _ in 0..1 + rng.below(3) {
                let (c, prov) = *rng.pick(&person.records);
                let start = match rng.weighted(&[80, 5, 5, 5, 5]) {
                    0 => Some(
                        first
                            + TimeDelta::seconds(rng.range(0, span))
                            + TimeDelta::microseconds(rng.range(0, 999_999)),
                    ),
                    // The last microsecond before the window, and the first and last instants
                    // of the window's days.
                    1 => Some(first - TimeDelta::microseconds(1)),
                    2 => Some(first),
                    3 => Some(window.to.and_hms_micro_opt(23, 59, 59, 999_999).unwrap()),
                    _ => None,
                };
                let end = match rng.weighted(&[90, 5, 5]) {
                    0 => start.map(|s| s + TimeDelta::minutes(rng.range(30, 480))),
                    1 => None,
                    _ => Some(first + TimeDelta::days(3)),
                };
                let office_id = match rng.weighted(&[80, 10, 10]) {
                    0 => Some(
                        self.offices[*rng.pick(&self.provider_offices[prov])]
                            .id
                            .clone(),
                    ),
                    1 => None,
                    _ => Some(rng.uuid()),
                };
                let caregiver_id = match rng.weighted(&[94, 3, 3]) {
                    0 => Some(self.caregivers[c].id.clone()),
                    1 => None,
                    _ => Some(rng.uuid()),
                };
                next_id += 1;
                let event = InService {
                    app_id: next_id,
                    environment: "prod".into(),
                    caregiver_id,
                    provider_id: Some(self.providers[prov].id.clone()),
                    office_id,
                    start,
                    end,
                };
                // The same in-service id in a second environment, at another of the person's
                // agencies.
                if rng.chance(0.1) {
                    let (_, prov2) = *rng.pick(&person.records);
                    let mut twin = event.clone();
                    twin.environment = "legacy".into();
                    twin.provider_id = Some(self.providers[prov2].id.clone());
                    self.inservice.push(twin);
                }
                self.inservice.push(event);
            }
            if p % 2 == 0 {
                let (c, prov) = *rng.pick(&person.records);
                let day =
                    window.from - Days::new(3) + Days::new(rng.range(0, span / 86_400 + 6) as u64);
                let start = day.and_time(NaiveTime::MIN);
                next_id += 1;
                self.absences.push(Absence {
                    id: next_id,
                    global_caregiver_id: match rng.weighted(&[90, 5, 5]) {
                        0 => self.caregivers[c].global_id.clone(),
                        1 => None,
                        _ => Some(rng.uuid()),
                    },
                    provider_id: Some(self.providers[prov].id.clone()),
                    start: rng.chance(0.95).then_some(start),
                    end: rng
                        .chance(0.95)
                        .then(|| start + TimeDelta::days(rng.range(1, 10)) - TimeDelta::seconds(1)),
                });
            }
        }
        // Events of caregivers with blank SSNs never take part.
        let admitting = self.admitting_providers();
        for (c, caregiver) in self.caregivers.iter().enumerate() {
            if caregiver
                .ssn
                .as_deref()
                .is_some_and(|s| !conflict_core::model::trim(s).is_empty())
            {
                continue;
            }
            next_id += 1;
            let start = first + TimeDelta::days(10 + c as i64 % 50);
            self.inservice.push(InService {
                app_id: next_id,
                environment: "prod".into(),
                caregiver_id: Some(caregiver.id.clone()),
                provider_id: Some(self.providers[admitting[0]].id.clone()),
                office_id: None,
                start: Some(start),
                end: Some(start + TimeDelta::hours(2)),
            });
        }
    }
}

/// A GPS string of one of the kinds docs/rules.md §4.1 distinguishes; realistic coordinates most of
/// the time.
fn gps(rng: &mut Rng) -> Option<String> {
    const ODD: &[Option<&str>] = &[
        None,
        Some(""),
        Some(","),
        Some(" , "),
        Some("\"40.7128\",\"-74.0060\""),
        Some("\"40.7128,-74.0060\""),
        Some(" 40.7128 , -74.0060 "),
        Some("N/A"),
        Some("1,2,3"),
        Some("91.0,0"),
        Some("0,0"),
        Some("90,180"),
        Some("-90,-180"),
        Some("+40.5,-73.25"),
        Some(".5,-.5"),
        Some("4e1,-7e1"),
        Some("40.7128,"),
        Some(",-74.0060"),
        Some("nan,inf"),
        Some("40.7128;-74.0060"),
        Some("   "),
        Some("\"\""),
        Some("40.7°N,74.0°W"),
        Some("−40.7,74.0"),
        Some("4O.7128,-74.0060"),
    ];
    match rng.weighted(&[60, 15, 25]) {
        0 => Some(format!(
            "{:.6},{:.6}",
            40.5 + rng.unit() * 0.5,
            -74.3 + rng.unit() * 0.6
        )),
        1 => None,
        _ => rng.pick(ODD).map(String::from),
    }
}

/// Address coordinates as `real`s: mostly around New York, sometimes NULL, out of range, or
/// values whose float4 text differs from their widened double.
fn coordinates(rng: &mut Rng) -> (Option<f32>, Option<f32>) {
    match rng.weighted(&[80, 5, 3, 3, 3, 2, 2, 2]) {
        0 => (
            Some((40.5 + rng.unit() * 0.5) as f32),
            Some((-74.3 + rng.unit() * 0.6) as f32),
        ),
        1 => (None, None),
        2 => (Some(40.7128), None),
        3 => (None, Some(-74.006)),
        4 => (Some(95.5), Some(-74.0)),
        5 => (Some(0.0), Some(0.0)),
        // Printed with an exponent by PostgreSQL ("1e-07"), without one by Rust.
        6 => (Some(1e-7), Some(-2.5e-8)),
        _ => (Some(90.0), Some(-180.0)),
    }
}
