//! A conflict database shaped like a real deployment (issue 9): a database of its own whose
//! default `TimeZone` is America/New_York, and a conflict schema with
//!
//! * the deployment's tables only: no `detection_runs`, no `detection_run_batches` (nor the
//!   event bookkeeping);
//! * no unique (`VisitID`, `ConVisitID`) index and none of the tool's other indexes, and no
//!   storage option on the CVM table;
//! * legacy rows that share a key (orphans: `CONFLICTID` NULL, as an older job left them);
//! * columns the tool does not know (`LegacyNote` with a default, `LegacyOwner`).
//!
//! The schema starts from the script's tables (so every column the tool needs is there) and
//! then has the tool's objects removed by hand; [`Deployment::assert_shape`] checks the result
//! against the catalog so that the fixture itself is known to be right.

use chrono::NaiveDate;
use conflict_io::store::{self, SchemaNames};
use postgres::Client;

use super::env;

/// Columns the tool does not know, added to the legacy tables.
pub const EXTRA_CVM_COLUMN: &str = "LegacyNote";
pub const EXTRA_CONFLICTS_COLUMN: &str = "LegacyOwner";

/// The seven rule flags; legacy rows carry `'N'` in each (a NULL flag is sticky, docs/lifecycle.md
/// §4, so a run would leave it NULL).
const FLAGS: &str = "\"SameSchTimeFlag\", \"SameVisitTimeFlag\", \"SchAndVisitTimeSameFlag\", \
     \"SchOverAnotherSchTimeFlag\", \"VisitTimeOverAnotherVisitTimeFlag\", \
     \"SchTimeOverVisitTimeFlag\", \"DistanceFlag\"";

/// A legacy CVM key and how many rows hold it.
#[derive(Debug, Clone)]
pub struct LegacyKey {
    pub visit_id: String,
    pub con_visit_id: String,
    pub ssn: String,
    pub visit_date: NaiveDate,
    pub rows: usize,
}

/// The deployment database; dropped (with its connections) on drop.
pub struct Deployment {
    pub database: String,
    /// libpq conninfo of the deployment database (the test server's, with `dbname` replaced).
    pub pg: String,
    pub names: SchemaNames,
    /// A connection with the database's own session settings (TimeZone America/New_York).
    pub client: Client,
}

impl Deployment {
    /// Creates the database and the legacy conflict schema `schema` with `keys` as legacy rows.
    pub fn create(schema: &str, keys: &[LegacyKey]) -> Deployment {
        let database = format!("conflicts_dep_{}", env::random_suffix());
        let mut admin = env::pg_client();
        // Two calls: several statements in one simple query form one transaction, which
        // CREATE DATABASE refuses.
        admin
            .batch_execute(&format!("CREATE DATABASE \"{database}\""))
            .unwrap();
        admin
            .batch_execute(&format!(
                "ALTER DATABASE \"{database}\" SET timezone = 'America/New_York'"
            ))
            .unwrap();
        // The last `dbname` of a conninfo wins.
        let pg = format!("{} dbname={database}", env::conninfo_text());
        let names = SchemaNames::new(schema, "analytics").unwrap();
        // Through the tool's connector (the test server takes TLS only); its session is set to
        // UTC, so RESET brings back the database's America/New_York as a deployment has it.
        let mut client =
            conflict_io::store::connect(&conflict_io::store::ConnInfo::parse(&pg).unwrap())
                .unwrap();
        client.batch_execute("RESET TimeZone").unwrap();
        store::init_schema(&mut client, &names).unwrap();
        let mut dep = Deployment {
            database,
            pg,
            names,
            client,
        };
        let (cvm, conflicts, runs, batches) = (
            dep.t("conflictvisitmaps"),
            dep.t("conflicts"),
            dep.t("detection_runs"),
            dep.t("detection_run_batches"),
        );
        let s = dep.names.conflict.quoted();
        dep.client
            .batch_execute(&format!(
                "DROP TABLE {runs}, {batches}, {s}.detection_event_digests; \
                 DROP INDEX {s}.cvm_pair_unique, {s}.cvm_date_ssn_regular, {s}.cvm_trimmed_ssn_regular; \
                 ALTER TABLE {cvm} RESET (toast_tuple_target); \
                 ALTER TABLE {cvm} ADD COLUMN \"{EXTRA_CVM_COLUMN}\" varchar(200) DEFAULT 'legacy'; \
                 ALTER TABLE {conflicts} ADD COLUMN \"{EXTRA_CONFLICTS_COLUMN}\" int8; \
                 INSERT INTO {s}.settings (\"ID\", \"ExtraDistancePer\", \"InProgressFlag\") VALUES (1, 1.0, 0); \
                 INSERT INTO {s}.mph (\"From\", \"To\", \"AverageMilesPerHour\") VALUES \
                   (0, 2, 10), (3, 10, 25), (11, 25, 35), (26, 100, 50), (101, 10000, 60);"
            ))
            .unwrap();
        for k in keys {
            for n in 0..k.rows {
                dep.client
                    .execute(
                        &format!(
                            "INSERT INTO {cvm} (\"VisitID\", \"ConVisitID\", \"SSN\", \"VisitDate\", \
                             \"StatusFlag\", {FLAGS}, \"{EXTRA_CVM_COLUMN}\") \
                             VALUES ($1::text::uuid, $2::text::uuid, $3, $4, 'U', \
                             'N', 'N', 'N', 'N', 'N', 'N', 'N', $5)"
                        ),
                        &[
                            &k.visit_id,
                            &k.con_visit_id,
                            &k.ssn,
                            &k.visit_date,
                            &format!("copy {n}"),
                        ],
                    )
                    .unwrap();
            }
        }
        dep.assert_shape();
        dep
    }

    /// `"<schema>"."<table>"`.
    pub fn t(&self, table: &str) -> String {
        self.names.conflict_table(table)
    }

    pub fn schema(&self) -> &str {
        self.names.conflict.as_str()
    }

    /// Checks the shape promised in the module documentation against the catalog.
    pub fn assert_shape(&mut self) {
        let tz: String = self.client.query_one("SHOW TimeZone", &[]).unwrap().get(0);
        assert_eq!(tz, "America/New_York");
        let schema = self.schema().to_string();
        assert_eq!(self.tables(), 6, "the six deployment tables only");
        for index in [
            "cvm_pair_unique",
            "cvm_date_ssn_regular",
            "cvm_trimmed_ssn_regular",
        ] {
            assert!(!self.has_index(index), "{index} present");
        }
        let extra: i64 = self
            .client
            .query_one(
                "SELECT count(*) FROM information_schema.columns WHERE table_schema = $1 \
                 AND column_name = ANY($2)",
                &[&schema, &vec![EXTRA_CVM_COLUMN, EXTRA_CONFLICTS_COLUMN]],
            )
            .unwrap()
            .get(0);
        assert_eq!(extra, 2);
    }

    /// Number of tables in the conflict schema.
    pub fn tables(&mut self) -> i64 {
        let schema = self.schema().to_string();
        self.client
            .query_one(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = $1",
                &[&schema],
            )
            .unwrap()
            .get(0)
    }

    pub fn has_table(&mut self, table: &str) -> bool {
        let schema = self.schema().to_string();
        self.client
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM information_schema.tables \
                 WHERE table_schema = $1 AND table_name = $2)",
                &[&schema, &table],
            )
            .unwrap()
            .get(0)
    }

    pub fn has_index(&mut self, index: &str) -> bool {
        let schema = self.schema().to_string();
        self.client
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM pg_indexes WHERE schemaname = $1 AND indexname = $2)",
                &[&schema, &index],
            )
            .unwrap()
            .get(0)
    }

    /// (table, row count, md5 of every row rendered as text, in text order) for each of
    /// `tables`: equal digests before and after show that no existing row changed (a column
    /// added to a table would change the text too).
    pub fn row_digests(&mut self, tables: &[&str]) -> Vec<(String, i64, String)> {
        let mut out = Vec::new();
        for table in tables {
            let t = self.t(table);
            let row = self
                .client
                .query_one(
                    &format!(
                        "SELECT count(*), coalesce(md5(string_agg(x.r::text, '|' ORDER BY x.r::text)), '') \
                         FROM (SELECT r FROM {t} r) x"
                    ),
                    &[],
                )
                .unwrap();
            out.push((table.to_string(), row.get(0), row.get(1)));
        }
        out
    }

    pub fn scalar_i64(&mut self, sql: &str) -> i64 {
        self.client
            .query_one(sql, &[])
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
            .get(0)
    }
}

impl Drop for Deployment {
    fn drop(&mut self) {
        let sql = format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.database);
        if let Err(e) = env::pg_client().batch_execute(&sql) {
            eprintln!("could not drop the deployment database: {e}");
            if !std::thread::panicking() {
                panic!("could not drop the deployment database: {e}");
            }
        }
    }
}
