//! Writes a [`World`] into a fresh analytics schema of the test server.
//!
//! The schema is created by the crate's own `init_analytics_schema` (so the tests read the
//! same DDL as everything else) under a unique name, `analytics_t_<random>`, and dropped when
//! the [`AnalyticsDb`] goes out of scope. Rows travel by binary `COPY`, encoded here: it is the
//! fastest path into PostgreSQL (hundreds of thousands of visits per second), and the binary
//! format carries `real`s bit-exact and `timestamptz` as UTC instants, so no text conversion
//! can blur what the tests later compare.

use std::io::Write;
use std::time::{Duration, Instant};

use chrono::{Datelike, NaiveDate, NaiveDateTime};
use conflict_io::analytics::{AnalyticsConfig, AnalyticsSchema, ConnectionString, Dialect};
use conflict_io::store::{init_analytics_schema, SchemaNames};
use postgres::Client;

use super::env;
use super::world::World;

/// One cell of a binary COPY row.
#[derive(Debug, Clone, Copy)]
pub enum Cell<'a> {
    Null,
    Uuid(&'a str),
    I64(i64),
    Text(&'a str),
    Date(NaiveDate),
    /// A `timestamptz` given as its UTC instant.
    Tz(NaiveDateTime),
    Real(f32),
    Bool(bool),
}

/// 2000-01-01, PostgreSQL's epoch, as days from 0001-01-01 and as Unix microseconds.
const PG_EPOCH_DAYS_FROM_CE: i32 = 730_120;
const PG_EPOCH_UNIX_MICROS: i64 = 946_684_800_000_000;

fn hex_digit(b: u8, s: &str) -> u8 {
    match b {
        b'0'..=b'9' => b - b'0',
        b'a'..=b'f' => b - b'a' + 10,
        b'A'..=b'F' => b - b'A' + 10,
        _ => panic!("not a uuid: {s:?}"),
    }
}

/// The 16 bytes of a hyphenated uuid. A plain index loop: it runs for every id of every row and
/// the tests are built without optimisation, where iterator adapters cost tenfold.
fn uuid_bytes(s: &str) -> [u8; 16] {
    let b = s.as_bytes();
    let mut out = [0u8; 16];
    let mut n = 0;
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'-' {
            i += 1;
            continue;
        }
        assert!(n < 16 && i + 1 < b.len(), "not a uuid: {s:?}");
        out[n] = hex_digit(b[i], s) << 4 | hex_digit(b[i + 1], s);
        n += 1;
        i += 2;
    }
    assert!(n == 16, "not a uuid: {s:?}");
    out
}

/// A binary COPY stream (PostgreSQL's `FORMAT binary`): header, tuples, trailer.
struct CopyBuf {
    buf: Vec<u8>,
    columns: usize,
}

impl CopyBuf {
    fn new(columns: usize) -> Self {
        let mut buf = Vec::with_capacity(1 << 20);
        buf.extend_from_slice(b"PGCOPY\n\xff\r\n\0");
        buf.extend_from_slice(&0i32.to_be_bytes()); // flags
        buf.extend_from_slice(&0i32.to_be_bytes()); // header extension length
        CopyBuf { buf, columns }
    }

    fn field(&mut self, bytes: &[u8]) {
        self.buf
            .extend_from_slice(&(bytes.len() as i32).to_be_bytes());
        self.buf.extend_from_slice(bytes);
    }

    fn row(&mut self, cells: &[Cell<'_>]) {
        assert_eq!(cells.len(), self.columns, "row width");
        self.buf
            .extend_from_slice(&(self.columns as i16).to_be_bytes());
        for cell in cells {
            match *cell {
                Cell::Null => self.buf.extend_from_slice(&(-1i32).to_be_bytes()),
                Cell::Uuid(s) => self.field(&uuid_bytes(s)),
                Cell::I64(v) => self.field(&v.to_be_bytes()),
                Cell::Text(s) => self.field(s.as_bytes()),
                Cell::Date(d) => {
                    let days = d.num_days_from_ce() - PG_EPOCH_DAYS_FROM_CE;
                    self.field(&days.to_be_bytes())
                }
                Cell::Tz(t) => {
                    let micros = t.and_utc().timestamp_micros() - PG_EPOCH_UNIX_MICROS;
                    self.field(&micros.to_be_bytes())
                }
                Cell::Real(x) => self.field(&x.to_bits().to_be_bytes()),
                Cell::Bool(b) => self.field(&[b as u8]),
            }
        }
    }

    fn finish(mut self) -> Vec<u8> {
        self.buf.extend_from_slice(&(-1i16).to_be_bytes());
        self.buf
    }
}

fn uuid(v: &Option<String>) -> Cell<'_> {
    v.as_deref().map_or(Cell::Null, Cell::Uuid)
}
fn int(v: Option<i64>) -> Cell<'static> {
    v.map_or(Cell::Null, Cell::I64)
}
fn text(v: &Option<String>) -> Cell<'_> {
    v.as_deref().map_or(Cell::Null, Cell::Text)
}
fn date(v: Option<NaiveDate>) -> Cell<'static> {
    v.map_or(Cell::Null, Cell::Date)
}
fn tz(v: Option<NaiveDateTime>) -> Cell<'static> {
    v.map_or(Cell::Null, Cell::Tz)
}
fn real(v: Option<f32>) -> Cell<'static> {
    v.map_or(Cell::Null, Cell::Real)
}
fn boolean(v: Option<bool>) -> Cell<'static> {
    v.map_or(Cell::Null, Cell::Bool)
}

/// A fresh analytics schema on the test server, dropped on drop (also when a test panics).
pub struct AnalyticsDb {
    pub client: Client,
    pub names: SchemaNames,
    /// Leave the schema in place on drop (benchmark runs that reuse a loaded world).
    pub keep: bool,
}

/// Rows and time of a load.
#[derive(Debug, Clone, Copy)]
pub struct LoadStats {
    pub visits: usize,
    pub rows: usize,
    pub elapsed: Duration,
}

impl AnalyticsDb {
    /// Creates `analytics_t_<random>` with the tables of schema.sql.
    pub fn create() -> Self {
        let suffix = env::random_suffix();
        let names = SchemaNames::new(
            &format!("conflict_t_{suffix}"),
            &format!("analytics_t_{suffix}"),
        )
        .expect("valid test schema names");
        let mut client = env::pg_client();
        init_analytics_schema(&mut client, &names).expect("create the analytics schema");
        AnalyticsDb {
            client,
            names,
            keep: false,
        }
    }

    /// An analytics schema loaded earlier and kept; it is kept again on drop.
    pub fn existing(schema: &str) -> Self {
        AnalyticsDb {
            client: env::pg_client(),
            names: SchemaNames::new("conflict_unused", schema).expect("valid schema name"),
            keep: true,
        }
    }

    /// The (unquoted, lower-case) analytics schema name.
    pub fn schema(&self) -> String {
        self.names.analytics.sql()
    }

    /// A source configuration for this schema over psqlODBC.
    pub fn config(&self, prefilter: bool) -> AnalyticsConfig {
        let mut cfg = AnalyticsConfig::new(
            ConnectionString::new(env::odbc_connection_string("")),
            AnalyticsSchema::new(&self.schema()).expect("valid schema name"),
            Dialect::Postgres,
        );
        cfg.prefilter = prefilter;
        cfg
    }

    /// A configuration of the native PostgreSQL source for this schema (the test server).
    pub fn native_config(&self, prefilter: bool) -> conflict_io::analytics_pg::PgSourceConfig {
        conflict_io::analytics_pg::PgSourceConfig {
            conn: env::conninfo(),
            schema: AnalyticsSchema::new(&self.schema()).expect("valid schema name"),
            prefilter,
        }
    }

    pub fn exec(&mut self, sql: &str) {
        self.client
            .batch_execute(sql)
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    /// Copies `rows` into `table` (`columns` quoted in the statement).
    fn copy<T>(
        &mut self,
        table: &str,
        columns: &[&str],
        rows: &[T],
        cells: impl Fn(&T) -> Vec<Cell<'_>>,
    ) -> usize {
        let cols: Vec<String> = columns.iter().map(|c| format!("\"{c}\"")).collect();
        let sql = format!(
            "COPY {}.{table} ({}) FROM STDIN (FORMAT binary)",
            self.schema(),
            cols.join(", ")
        );
        let mut writer = self
            .client
            .copy_in(&sql)
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        // Stream in chunks of a few megabytes instead of one buffer of the whole table.
        let mut buf = CopyBuf::new(columns.len());
        let mut first = true;
        for row in rows {
            buf.row(&cells(row));
            if buf.buf.len() > 4 << 20 {
                let mut bytes = std::mem::replace(&mut buf, CopyBuf::new(columns.len())).buf;
                if !first {
                    // Only the first chunk carries the header; later ones are bare tuples.
                    bytes.drain(..19);
                }
                first = false;
                writer.write_all(&bytes).expect("COPY data");
            }
        }
        let mut bytes = buf.finish();
        if !first {
            bytes.drain(..19);
        }
        writer.write_all(&bytes).expect("COPY data");
        writer
            .finish()
            .unwrap_or_else(|e| panic!("COPY into {table}: {e}")) as usize
    }

    /// Loads every table of the world and refreshes planner statistics.
    pub fn load(&mut self, w: &World) -> LoadStats {
        let t0 = Instant::now();
        let mut rows = 0;
        rows += self.copy(
            "dimprovider",
            &[
                "Provider Id",
                "Application Provider Id",
                "Provider Name",
                "Address State",
                "Federal Tax Number",
                "Phone Number 1",
                "Is Active",
                "Is Demo",
            ],
            &w.providers,
            |p| {
                vec![
                    Cell::Uuid(&p.id),
                    int(p.app_id),
                    text(&p.name),
                    text(&p.state),
                    text(&p.tax_number),
                    text(&p.phone),
                    boolean(p.active),
                    boolean(p.demo),
                ]
            },
        );
        rows += self.copy(
            "dimcaregiver",
            &[
                "Caregiver Id",
                "Application Caregiver Id",
                "Caregiver Code",
                "Caregiver Firstname",
                "Caregiver Lastname",
                "Caregiver Fullname",
                "SSN",
                "Status",
                "Global Caregiver Id",
            ],
            &w.caregivers,
            |c| {
                vec![
                    Cell::Uuid(&c.id),
                    int(c.app_id),
                    text(&c.code),
                    text(&c.first),
                    text(&c.last),
                    text(&c.full),
                    text(&c.ssn),
                    text(&c.status),
                    uuid(&c.global_id),
                ]
            },
        );
        rows += self.copy(
            "dimoffice",
            &[
                "Office Id",
                "Application Office Id",
                "Office Name",
                "Is Active",
            ],
            &w.offices,
            |o| {
                vec![
                    Cell::Uuid(&o.id),
                    int(o.app_id),
                    text(&o.name),
                    boolean(o.active),
                ]
            },
        );
        rows += self.copy(
            "dimpatient",
            &[
                "Patient Id",
                "Application Patient Id",
                "Patient Firstname",
                "Patient Lastname",
                "Patient Name",
                "Admission Id",
                "Medicaid Number",
                "Status",
            ],
            &w.patients,
            |p| {
                vec![
                    Cell::Uuid(&p.id),
                    int(p.app_id),
                    text(&p.first),
                    text(&p.last),
                    text(&p.name),
                    text(&p.admission),
                    text(&p.medicaid),
                    text(&p.status),
                ]
            },
        );
        rows += self.copy(
            "dimpatientaddress",
            &[
                "Patient Address Id",
                "Application Patient Address Id",
                "Patient Id",
                "Application Patient Id",
                "Address Type",
                "Primary Address",
                "Address Line 1",
                "Address Line 2",
                "City",
                "County",
                "Address State",
                "Zip Code",
                "Latitude",
                "Longitude",
                "Application Created UTC Timestamp",
            ],
            &w.addresses,
            |a| {
                vec![
                    Cell::Uuid(&a.id),
                    int(a.app_id),
                    uuid(&a.patient_id),
                    int(a.app_patient_id),
                    text(&a.kind),
                    boolean(a.primary),
                    text(&a.line1),
                    text(&a.line2),
                    text(&a.city),
                    text(&a.county),
                    text(&a.state),
                    text(&a.zip),
                    real(a.lat),
                    real(a.lon),
                    tz(a.created),
                ]
            },
        );
        rows += self.copy(
            "dimpayer",
            &[
                "Payer Id",
                "Application Payer Id",
                "Payer Name",
                "Payer State",
                "Is Active",
                "Is Demo",
            ],
            &w.payers,
            |p| {
                vec![
                    Cell::Uuid(&p.id),
                    int(p.app_id),
                    text(&p.name),
                    text(&p.state),
                    boolean(p.active),
                    boolean(p.demo),
                ]
            },
        );
        rows += self.copy(
            "dimcontract",
            &[
                "Contract Id",
                "Application Contract Id",
                "Contract Name",
                "Is Active",
            ],
            &w.contracts,
            |k| {
                vec![
                    Cell::Uuid(&k.id),
                    int(k.app_id),
                    text(&k.name),
                    boolean(k.active),
                ]
            },
        );
        rows += self.copy(
            "dimservicecode",
            &[
                "Service Code Id",
                "Application Service Code Id",
                "Service Code",
            ],
            &w.service_codes,
            |s| vec![Cell::Uuid(&s.id), int(s.app_id), text(&s.code)],
        );
        rows += self.copy("dimuser", &["User Id", "User Fullname"], &w.users, |u| {
            vec![Cell::Uuid(&u.id), text(&u.fullname)]
        });
        let visits = self.copy(
            "factvisitcallperformance_cr",
            &[
                "Visit Id",
                "Application Visit Id",
                "Visit Date",
                "Scheduled Start Time",
                "Scheduled End Time",
                "Visit Start Time",
                "Visit End Time",
                "Call In Time",
                "Call Out Time",
                "Call In GPS Coordinates",
                "Call Out GPS Coordinates",
                "Call Out Device Type",
                "Caregiver Id",
                "Application Caregiver Id",
                "Provider Id",
                "Application Provider Id",
                "Office Id",
                "Application Office Id",
                "Patient Id",
                "Application Patient Id",
                "Provider Patient Id",
                "Application Provider Patient Id",
                "Payer Patient Id",
                "Application Payer Patient Id",
                "Payer Id",
                "Application Payer Id",
                "Contract Id",
                "Application Contract Id",
                "Service Code Id",
                "Bill Type",
                "Billed",
                "Billed Hours",
                "Billed Rate",
                "Total Billed Amount",
                "Bill Rate Non-Billed",
                "Invoice Date",
                "Is Missed",
                "Missed Visit Reason",
                "Visit Updated User Id",
                "Visit Updated Timestamp",
            ],
            &w.visits,
            |f| {
                vec![
                    Cell::Uuid(&f.id),
                    int(f.app_id),
                    date(f.date),
                    tz(f.sch_start),
                    tz(f.sch_end),
                    tz(f.visit_start),
                    tz(f.visit_end),
                    tz(f.call_in),
                    tz(f.call_out),
                    text(&f.call_in_gps),
                    text(&f.call_out_gps),
                    text(&f.device),
                    uuid(&f.caregiver_id),
                    int(f.app_caregiver_id),
                    uuid(&f.provider_id),
                    int(f.app_provider_id),
                    uuid(&f.office_id),
                    int(f.app_office_id),
                    uuid(&f.patient_id),
                    int(f.app_patient_id),
                    uuid(&f.provider_patient_id),
                    int(f.app_provider_patient_id),
                    uuid(&f.payer_patient_id),
                    int(f.app_payer_patient_id),
                    uuid(&f.payer_id),
                    int(f.app_payer_id),
                    uuid(&f.contract_id),
                    int(f.app_contract_id),
                    uuid(&f.service_code_id),
                    text(&f.bill_type),
                    text(&f.billed),
                    real(f.billed_hours),
                    real(f.billed_rate),
                    real(f.total_billed),
                    real(f.rate_non_billed),
                    date(f.invoice_date),
                    boolean(f.is_missed),
                    text(&f.missed_reason),
                    uuid(&f.updated_user_id),
                    tz(f.updated_at),
                ]
            },
        );
        rows += visits;
        rows += self.copy(
            "factcaregiverinservice",
            &[
                "Application Caregiver Inservice Id",
                "Environment",
                "Caregiver Id",
                "Provider Id",
                "Office Id",
                "Inservice start date",
                "Inservice end date",
            ],
            &w.inservice,
            |e| {
                vec![
                    Cell::I64(e.app_id),
                    Cell::Text(&e.environment),
                    uuid(&e.caregiver_id),
                    uuid(&e.provider_id),
                    uuid(&e.office_id),
                    tz(e.start),
                    tz(e.end),
                ]
            },
        );
        rows += self.copy(
            "factcaregiverabsence",
            &[
                "Caregiver Vacation Id",
                "Global Caregiver Id",
                "Provider Id",
                "Start Date",
                "End Date",
            ],
            &w.absences,
            |a| {
                vec![
                    Cell::I64(a.id),
                    uuid(&a.global_caregiver_id),
                    uuid(&a.provider_id),
                    tz(a.start),
                    tz(a.end),
                ]
            },
        );
        // Fresh tables have no statistics; without them the planner guesses badly on the
        // visit joins, which matters for the benchmark.
        let schema = self.schema();
        self.exec(&format!("ANALYZE {schema}.factvisitcallperformance_cr, {schema}.dimcaregiver, {schema}.dimprovider, {schema}.dimpatientaddress"));
        LoadStats {
            visits,
            rows,
            elapsed: t0.elapsed(),
        }
    }
}

impl Drop for AnalyticsDb {
    fn drop(&mut self) {
        if self.keep {
            return;
        }
        let sql = format!("DROP SCHEMA IF EXISTS {} CASCADE", self.schema());
        if let Err(e) = self.client.batch_execute(&sql) {
            // Panicking inside drop during a failing test would abort the whole binary.
            eprintln!("could not drop the test schema: {e}");
            if !std::thread::panicking() {
                panic!("could not drop the test schema: {e}");
            }
        }
    }
}
