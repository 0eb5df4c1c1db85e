//! "Try it on your machine" (`conflicts generate --pg`): loads visits into analytics tables of
//! schema.sql in a PostgreSQL the user names, and creates next to them a conflict schema shaped
//! like a real deployment (see [`super::schema_plan`]): the deployment's tables with settings
//! and the default speed bands, a column the tool does not know, legacy rows of the old job
//! (some sharing a key), but no unique pair index and none of the tool's own tables. A
//! `conflicts run` through psqlODBC can then run against it, as it would against Snowflake.
//!
//! The analytics rows are derived from each visit so that the source's joins of docs/tables.md §9
//! give the visit back: one caregiver row per caregiver id (with the raw SSN), one provider row
//! per provider (active, not demo, with its state), and per visit a provider patient with a
//! primary GPS address (location fallback, state and zip) and, when the visit has one, a payer
//! patient whose address carries the payer state.

use std::collections::BTreeMap;

use chrono::{NaiveDate, NaiveDateTime};
use conflict_core::Visit;
use postgres::config::Host;
use postgres::{Client, GenericClient};

use super::config::{ConnInfo, SchemaNames};
use super::ddl_items::{conflict_items, search_path_sql, DdlItem};
use super::error::StoreError;
use super::schema::init_analytics_schema;
use super::schema_plan::PAIR_INDEX;
use super::tls::Verification;
use super::tls_options::TlsMode;

/// A column the tool does not know, as deployments have them.
pub const LEGACY_COLUMN: &str = "LegacyNote";
/// Rows per `INSERT … SELECT FROM unnest(…)` statement.
const CHUNK: usize = 5_000;

/// Why the demo could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// The schema exists and holds tables; loading would replace them.
    #[error("schema {schema:?} already exists and is not empty; choose another name or pass --replace to drop and recreate it")]
    NotEmpty {
        /// The schema named.
        schema: String,
    },
    /// A visit cannot be loaded into the analytics tables.
    #[error("visit {visit_id:?}: {reason}")]
    InvalidVisit {
        /// The visit.
        visit_id: String,
        /// Why it cannot be loaded.
        reason: String,
    },
    /// The database refused a statement.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A pair the old job had stored: `copies` orphan rows (no `CONFLICTID`, flags `'N'`) with
/// the key (`VisitID`, `ConVisitID`); two or more copies make a legacy duplicate key.
#[derive(Debug, Clone)]
pub struct LegacyPair {
    /// `VisitID` of the stored rows.
    pub visit_id: String,
    /// `ConVisitID` of the stored rows.
    pub con_visit_id: String,
    /// The caregiver's SSN.
    pub ssn: String,
    /// The visit date.
    pub visit_date: NaiveDate,
    /// How many orphan rows carry the key.
    pub copies: usize,
}

/// What was loaded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DemoCounts {
    pub visits: usize,
    pub caregivers: usize,
    pub providers: usize,
    pub legacy_rows: usize,
    pub duplicated_keys: usize,
}

/// Loads `visits` under `names.analytics` and the legacy conflict schema under
/// `names.conflict`, in one transaction. Existing non-empty schemas are refused unless
/// `replace`, which drops them first. Visit, provider and caregiver ids must be uuids.
pub fn load_demo(
    client: &mut Client,
    names: &SchemaNames,
    visits: &[Visit],
    legacy: &[LegacyPair],
    replace: bool,
) -> Result<DemoCounts, DemoError> {
    let analytics = names.analytics.sql();
    let conflict = names.conflict.as_str().to_string();
    // The analytics name is written unquoted, so PostgreSQL folds it to lower case.
    let analytics_folded = analytics.to_ascii_lowercase();
    let mut tx = client
        .transaction()
        .map_err(|e| StoreError::db("begin the demo transaction", None, e))?;
    for (schema, quoted) in [
        (analytics_folded.as_str(), analytics.clone()),
        (conflict.as_str(), names.conflict.quoted()),
    ] {
        let tables: i64 = tx
            .query_one(
                "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE n.nspname = $1",
                &[&schema],
            )
            .map_err(|e| StoreError::db("look the schema up", Some(schema), e))?
            .get(0);
        if tables > 0 {
            if !replace {
                return Err(DemoError::NotEmpty {
                    schema: schema.to_string(),
                });
            }
            tx.batch_execute(&format!("DROP SCHEMA {quoted} CASCADE"))
                .map_err(|e| StoreError::db("drop the schema", Some(schema), e))?;
        }
    }
    init_analytics_schema(&mut tx, names)?;
    let mut counts = load_analytics(&mut tx, &analytics, visits)?;
    create_legacy_conflict_schema(&mut tx, names)?;
    counts.legacy_rows = insert_legacy_rows(&mut tx, names, legacy)?;
    counts.duplicated_keys = legacy.iter().filter(|p| p.copies > 1).count();
    tx.commit()
        .map_err(|e| StoreError::db("commit the demo data", None, e))?;
    Ok(counts)
}

/// The conflict schema as deployments have it: the script's deployment tables and indexes,
/// without the unique pair index and without the tool's own tables, plus a column the tool
/// does not know; settings with X = 1.0 and the default speed bands of docs/rules.md.
fn create_legacy_conflict_schema<C: GenericClient>(
    client: &mut C,
    names: &SchemaNames,
) -> Result<(), StoreError> {
    let schema = names.conflict.as_str();
    let err = |e| StoreError::db("create the demo conflict schema", Some(schema), e);
    let mut sql = String::new();
    for item in conflict_items(names) {
        let is_pair_index = matches!(&item, DdlItem::Index { name, .. } if name == PAIR_INDEX);
        if item.tool_owned() || is_pair_index {
            continue;
        }
        let stmt = match &item {
            DdlItem::Schema { sql }
            | DdlItem::Table { sql, .. }
            | DdlItem::TableOption { sql, .. }
            | DdlItem::Index { sql, .. } => sql,
        };
        sql += stmt;
        sql += ";\n";
        if matches!(item, DdlItem::Schema { .. }) {
            sql += &search_path_sql(&names.conflict);
            sql += ";\n";
        }
    }
    client.batch_execute(&sql).map_err(err)?;
    let s = names.conflict.quoted();
    client
        .batch_execute(&format!(
            "ALTER TABLE {s}.conflictvisitmaps ADD COLUMN \"{LEGACY_COLUMN}\" varchar(200); \
             INSERT INTO {s}.settings (\"ID\", \"ExtraDistance\", \"ExtraDistancePer\", \"InProgressFlag\") \
               VALUES (1, 0, 1.0, 0); \
             INSERT INTO {s}.mph (\"From\", \"To\", \"AverageMilesPerHour\") VALUES \
               (0, 2, 10), (3, 10, 25), (11, 25, 35), (26, 100, 50), (101, 10000, 60);"
        ))
        .map_err(err)
}

fn insert_legacy_rows<C: GenericClient>(
    client: &mut C,
    names: &SchemaNames,
    legacy: &[LegacyPair],
) -> Result<usize, StoreError> {
    let cvm = names.conflict_table("conflictvisitmaps");
    let mut rows = 0;
    for p in legacy {
        for copy in 0..p.copies {
            let note = format!("imported from the old job (copy {})", copy + 1);
            client
                .execute(
                    &format!(
                        "INSERT INTO {cvm} (\"VisitID\", \"ConVisitID\", \"SSN\", \"VisitDate\", \
                         \"StatusFlag\", \"SameSchTimeFlag\", \"SameVisitTimeFlag\", \
                         \"SchAndVisitTimeSameFlag\", \"SchOverAnotherSchTimeFlag\", \
                         \"VisitTimeOverAnotherVisitTimeFlag\", \"SchTimeOverVisitTimeFlag\", \
                         \"DistanceFlag\", \"{LEGACY_COLUMN}\") VALUES ($1::text::uuid, \
                         $2::text::uuid, $3, $4, 'U', 'N', 'N', 'N', 'N', 'N', 'N', 'N', $5)"
                    ),
                    &[&p.visit_id, &p.con_visit_id, &p.ssn, &p.visit_date, &note],
                )
                .map_err(|e| StoreError::db("insert a legacy row", Some(&cvm), e))?;
            rows += 1;
        }
    }
    Ok(rows)
}

/// A uuid-shaped id for a derived row (patient, address): `kind` keeps the kinds apart.
fn derived_id(kind: u32, n: usize) -> String {
    format!("{kind:08x}-0000-4000-8000-{n:012x}")
}

fn check_uuid(visit: &Visit, what: &str, value: &str) -> Result<(), DemoError> {
    uuid::Uuid::parse_str(value)
        .map(|_| ())
        .map_err(|_| DemoError::InvalidVisit {
            visit_id: visit.visit_id.clone(),
            reason: format!("{what} {value:?} is not a uuid (generate with uuid ids)"),
        })
}

/// Column arrays of one table, filled row by row and sent as `unnest` parameters.
#[derive(Default)]
struct Fact {
    id: Vec<String>,
    app_id: Vec<Option<i64>>,
    date: Vec<NaiveDate>,
    times: [Vec<Option<NaiveDateTime>>; 4],
    gps_in: Vec<Option<String>>,
    gps_out: Vec<Option<String>>,
    caregiver: Vec<Option<String>>,
    provider: Vec<String>,
    patient: Vec<String>,
    payer_patient: Vec<Option<String>>,
    missed: Vec<Option<bool>>,
    updated: Vec<Option<NaiveDateTime>>,
}

#[derive(Default)]
struct Addresses {
    id: Vec<String>,
    patient: Vec<String>,
    lat: Vec<Option<f32>>,
    lon: Vec<Option<f32>>,
    state: Vec<Option<String>>,
    zip: Vec<Option<String>>,
}

fn load_analytics<C: GenericClient>(
    client: &mut C,
    schema: &str,
    visits: &[Visit],
) -> Result<DemoCounts, DemoError> {
    let mut caregivers: BTreeMap<String, Option<String>> = BTreeMap::new();
    let mut providers: BTreeMap<String, Option<String>> = BTreeMap::new();
    for (c, chunk) in visits.chunks(CHUNK).enumerate() {
        let mut fact = Fact::default();
        let mut addresses = Addresses::default();
        for (j, v) in chunk.iter().enumerate() {
            check_uuid(v, "visit id", &v.visit_id)?;
            check_uuid(v, "provider id", &v.provider_id)?;
            if let Some(cg) = &v.caregiver_id {
                check_uuid(v, "caregiver id", cg)?;
                caregivers
                    .entry(cg.clone())
                    .or_insert_with(|| v.ssn.clone());
            }
            providers
                .entry(v.provider_id.clone())
                .or_insert_with(|| v.provider_state.clone());
            // The visit's position numbers its derived patients and addresses.
            let seq = c * CHUNK + j;
            let patient = derived_id(1, seq);
            addresses.id.push(derived_id(2, seq));
            addresses.patient.push(patient.clone());
            addresses.lat.push(v.address_lat.map(|x| x as f32));
            addresses.lon.push(v.address_lon.map(|x| x as f32));
            addresses.state.push(v.p_state.clone());
            addresses.zip.push(v.p_zip.clone());
            let payer_patient = v.pa_state.as_ref().map(|state| {
                let p = derived_id(3, seq);
                addresses.id.push(derived_id(4, seq));
                addresses.patient.push(p.clone());
                addresses.lat.push(None);
                addresses.lon.push(None);
                addresses.state.push(Some(state.clone()));
                addresses.zip.push(None);
                p
            });
            fact.id.push(v.visit_id.clone());
            fact.app_id.push(v.app_visit_id);
            fact.date.push(v.visit_date);
            fact.times[0].push(v.sch_start);
            fact.times[1].push(v.sch_end);
            fact.times[2].push(v.visit_start);
            fact.times[3].push(v.visit_end);
            fact.gps_in.push(v.call_in_gps.clone());
            fact.gps_out.push(v.call_out_gps.clone());
            fact.caregiver.push(v.caregiver_id.clone());
            fact.provider.push(v.provider_id.clone());
            fact.patient.push(patient);
            fact.payer_patient.push(payer_patient);
            fact.missed.push(v.is_missed);
            fact.updated.push(v.updated_at);
        }
        insert_fact(client, schema, &fact)?;
        insert_patients(client, schema, &addresses)?;
    }
    insert_dimensions(client, schema, &caregivers, &providers)?;
    Ok(DemoCounts {
        visits: visits.len(),
        caregivers: caregivers.len(),
        providers: providers.len(),
        ..DemoCounts::default()
    })
}

fn insert_fact<C: GenericClient>(client: &mut C, schema: &str, f: &Fact) -> Result<(), StoreError> {
    let table = format!("{schema}.factvisitcallperformance_cr");
    // Times are UTC wall clock (docs/tables.md §9): `AT TIME ZONE 'UTC'` makes the timestamptz that
    // the source converts back, whatever the session time zone.
    client
        .execute(
            &format!(
                "INSERT INTO {table} (\"Visit Id\", \"Application Visit Id\", \"Visit Date\", \
                 \"Scheduled Start Time\", \"Scheduled End Time\", \"Visit Start Time\", \
                 \"Visit End Time\", \"Call In Time\", \"Call Out Time\", \
                 \"Call In GPS Coordinates\", \"Call Out GPS Coordinates\", \"Caregiver Id\", \
                 \"Provider Id\", \"Patient Id\", \"Provider Patient Id\", \"Payer Patient Id\", \
                 \"Is Missed\", \"Visit Updated Timestamp\") \
                 SELECT id::uuid, app, d, s1 AT TIME ZONE 'UTC', s2 AT TIME ZONE 'UTC', \
                 v1 AT TIME ZONE 'UTC', v2 AT TIME ZONE 'UTC', v1 AT TIME ZONE 'UTC', \
                 v2 AT TIME ZONE 'UTC', gi, go, cg::uuid, pr::uuid, pp::uuid, pp::uuid, pa::uuid, \
                 m, u AT TIME ZONE 'UTC' \
                 FROM unnest($1::text[], $2::int8[], $3::date[], $4::timestamp[], \
                 $5::timestamp[], $6::timestamp[], $7::timestamp[], $8::text[], $9::text[], \
                 $10::text[], $11::text[], $12::text[], $13::text[], $14::bool[], \
                 $15::timestamp[]) AS t(id, app, d, s1, s2, v1, v2, gi, go, cg, pr, pp, pa, m, u)"
            ),
            &[
                &f.id,
                &f.app_id,
                &f.date,
                &f.times[0],
                &f.times[1],
                &f.times[2],
                &f.times[3],
                &f.gps_in,
                &f.gps_out,
                &f.caregiver,
                &f.provider,
                &f.patient,
                &f.payer_patient,
                &f.missed,
                &f.updated,
            ],
        )
        .map_err(|e| StoreError::db("load visits", Some(&table), e))?;
    Ok(())
}

fn insert_patients<C: GenericClient>(
    client: &mut C,
    schema: &str,
    a: &Addresses,
) -> Result<(), StoreError> {
    let patients = format!("{schema}.dimpatient");
    client
        .execute(
            &format!(
                "INSERT INTO {patients} (\"Patient Id\", \"Patient Name\", \"Status\") \
                 SELECT p::uuid, 'Demo patient', 'Active' FROM unnest($1::text[]) AS t(p)"
            ),
            &[&a.patient],
        )
        .map_err(|e| StoreError::db("load patients", Some(&patients), e))?;
    let addresses = format!("{schema}.dimpatientaddress");
    client
        .execute(
            &format!(
                "INSERT INTO {addresses} (\"Patient Address Id\", \"Patient Id\", \"Address Type\", \
                 \"Primary Address\", \"Address State\", \"Zip Code\", \"Latitude\", \"Longitude\", \
                 \"Application Created UTC Timestamp\") \
                 SELECT id::uuid, p::uuid, 'GPS', true, st, z, la, lo, TIMESTAMPTZ '2020-01-01 00:00:00+00' \
                 FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::real[], $6::real[]) \
                 AS t(id, p, st, z, la, lo)"
            ),
            &[&a.id, &a.patient, &a.state, &a.zip, &a.lat, &a.lon],
        )
        .map_err(|e| StoreError::db("load patient addresses", Some(&addresses), e))?;
    Ok(())
}

fn insert_dimensions<C: GenericClient>(
    client: &mut C,
    schema: &str,
    caregivers: &BTreeMap<String, Option<String>>,
    providers: &BTreeMap<String, Option<String>>,
) -> Result<(), StoreError> {
    let table = format!("{schema}.dimcaregiver");
    let (ids, ssns): (Vec<&String>, Vec<&Option<String>>) = caregivers.iter().unzip();
    for (ids, ssns) in ids.chunks(CHUNK).zip(ssns.chunks(CHUNK)) {
        client
            .execute(
                &format!(
                    "INSERT INTO {table} (\"Caregiver Id\", \"SSN\", \"Caregiver Fullname\", \"Status\") \
                     SELECT id::uuid, ssn, 'Demo caregiver', 'Active' \
                     FROM unnest($1::text[], $2::text[]) AS t(id, ssn)"
                ),
                &[&ids, &ssns],
            )
            .map_err(|e| StoreError::db("load caregivers", Some(&table), e))?;
    }
    let table = format!("{schema}.dimprovider");
    let (ids, states): (Vec<&String>, Vec<&Option<String>>) = providers.iter().unzip();
    let names: Vec<String> = (1..=ids.len())
        .map(|n| format!("Demo agency {n}"))
        .collect();
    client
        .execute(
            &format!(
                "INSERT INTO {table} (\"Provider Id\", \"Provider Name\", \"Address State\", \
                 \"Is Active\", \"Is Demo\") \
                 SELECT id::uuid, n, st, true, false FROM unnest($1::text[], $2::text[], $3::text[]) \
                 AS t(id, n, st)"
            ),
            &[&ids, &names, &states],
        )
        .map_err(|e| StoreError::db("load providers", Some(&table), e))?;
    Ok(())
}

/// The connection target as `key=value` text without password or other secrets, to be pasted
/// into the commands printed for the user.
pub fn plain_conninfo(conn: &ConnInfo) -> String {
    let c = conn.config();
    let mut parts = vec![format!("host={}", host(conn))];
    if let Some(port) = c.get_ports().first() {
        parts.push(format!("port={port}"));
    }
    if let Some(user) = c.get_user() {
        parts.push(format!("user={user}"));
    }
    if let Some(db) = c.get_dbname() {
        parts.push(format!("dbname={db}"));
    }
    // The printed command must reach the server the way the loader did (a TLS-only server
    // refuses plain text); prefer is libpq's default and needs no key.
    if conn.tls_mode() != TlsMode::Prefer {
        parts.push(format!("sslmode={}", conn.tls_mode()));
    }
    if let Some(root) = root_cert(conn) {
        parts.push(format!(
            "sslrootcert='{}'",
            root.replace('\\', "\\\\").replace('\'', "\\'")
        ));
    }
    parts.join(" ")
}

/// The root certificate file the connection verifies against, if any.
fn root_cert(conn: &ConnInfo) -> Option<String> {
    match conn.verification() {
        Verification::None => None,
        Verification::Chain(p) | Verification::ChainAndName(p) => Some(p.display().to_string()),
    }
}

fn host(conn: &ConnInfo) -> String {
    match conn.config().get_hosts().first() {
        Some(Host::Tcp(h)) => h.clone(),
        Some(Host::Unix(p)) => p.display().to_string(),
        None => "localhost".into(),
    }
}

/// A psqlODBC connection string for the same server and database (the analytics source of a
/// run against the demo), with `driver` named by absolute path; without password.
pub fn psqlodbc_string(conn: &ConnInfo, driver: &str) -> String {
    let c = conn.config();
    // libpq's default database is the user name.
    let db = c.get_dbname().or(c.get_user()).unwrap_or("postgres");
    let mut s = format!(
        "Driver={};Server={};Port={};Database={};",
        odbc_value(driver),
        odbc_value(&host(conn)),
        c.get_ports().first().copied().unwrap_or(5432),
        odbc_value(db),
    );
    if let Some(user) = c.get_user() {
        s += &format!("Uid={};", odbc_value(user));
    }
    // psqlODBC takes libpq's sslmode names; its own default is not libpq's, so it is always
    // given. A root certificate goes through libpq options (`pqopt`).
    s += &format!("SSLmode={};", conn.tls_mode());
    if let Some(root) = root_cert(conn) {
        s += &format!("pqopt={};", odbc_value(&format!("sslrootcert={root}")));
    }
    s
}

/// An ODBC attribute value, braced when it holds characters that would end or confuse it
/// (ODBC's `{…}` quoting; a `}` inside is doubled).
fn odbc_value(v: &str) -> String {
    if v.contains([';', '{', '}', '=']) || v.trim() != v {
        format!("{{{}}}", v.replace('}', "}}"))
    } else {
        v.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printed_connection_strings_carry_no_password() {
        let conn =
            ConnInfo::parse("host=db.example port=5433 user=me password=Very-s3cret dbname=try")
                .unwrap();
        assert_eq!(
            plain_conninfo(&conn),
            "host=db.example port=5433 user=me dbname=try"
        );
        assert_eq!(
            psqlodbc_string(&conn, "/x/psqlodbcw.so"),
            "Driver=/x/psqlodbcw.so;Server=db.example;Port=5433;Database=try;Uid=me;SSLmode=prefer;"
        );
        let conn = ConnInfo::parse("host=db.example user=me sslmode=require").unwrap();
        assert_eq!(
            plain_conninfo(&conn),
            "host=db.example user=me sslmode=require"
        );
        assert!(psqlodbc_string(&conn, "/x/p.so").ends_with(";Uid=me;SSLmode=require;"));
        assert_eq!(odbc_value("a;b"), "{a;b}");
        assert_eq!(odbc_value("a}b "), "{a}}b }");
    }
}
