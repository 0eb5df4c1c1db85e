//! A loaded analytics world plus any number of conflict schemas to run against it.

use std::collections::BTreeMap;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use chrono::NaiveDateTime;
use conflict_core::{detect, DetectConfig, DetectedPair, Exclusions, Visit};
use conflict_io::analytics::AnalyticsConfig;
use conflict_io::analytics_pg::{AnySource, AnySourceError, PgSourceConfig, SourceConfig};
use conflict_io::run::{run_job, JobOptions, JobResult, Mode, Observer, RunParams, Silent, Start};
use conflict_io::store::{PgStore, SchemaNames};
use postgres::Client;
use serde_json::Value;

use crate::support::env;
use crate::support::expected::Expected;
use crate::support::load::AnalyticsDb;
use crate::support::world::{World, WorldConfig};

pub struct Loaded {
    pub db: AnalyticsDb,
    pub world: World,
    pub cfg: WorldConfig,
}

impl Loaded {
    pub fn new(seed: u64) -> Loaded {
        let cfg = WorldConfig::test(seed);
        let world = World::generate(&cfg);
        let mut db = AnalyticsDb::create();
        db.load(&world);
        Loaded { db, world, cfg }
    }

    /// The base visits the source must return for the whole window.
    pub fn expected_visits(&self) -> Vec<Visit> {
        Expected::new(&self.world).visits(&self.cfg.window(), &Exclusions::default())
    }

    /// Detected pairs of the world, by (VisitID, ConVisitID), with their seven flags.
    pub fn expected_pairs(&self) -> BTreeMap<(String, String), ([bool; 7], String, String)> {
        let visits = self.expected_visits();
        let cfg = DetectConfig::new(self.cfg.as_of).unwrap();
        let mut pairs: Vec<DetectedPair> = Vec::new();
        let report = detect(&visits, &cfg, &mut pairs).unwrap();
        pairs
            .iter()
            .map(|p| {
                (
                    (visits[p.v1].visit_id.clone(), visits[p.v2].visit_id.clone()),
                    (
                        p.flags.to_array(),
                        report.ssn(p.v1).unwrap().to_string(),
                        visits[p.v1].visit_date.to_string(),
                    ),
                )
            })
            .collect()
    }

    /// A plain connection to the test server.
    pub fn client() -> Client {
        env::pg_client()
    }

    pub fn conflict_schema(&self, tag: &str) -> ConflictSchema {
        ConflictSchema::create(
            &format!("{}_{tag}", self.db.names.conflict.as_str()),
            &self.db.schema(),
        )
    }
}

/// A conflict schema with settings (X = 1.0) and the default speed bands; dropped on drop.
pub struct ConflictSchema {
    pub names: SchemaNames,
    pub client: Client,
}

impl ConflictSchema {
    fn create(conflict: &str, analytics: &str) -> ConflictSchema {
        let names = SchemaNames::new(conflict, analytics).unwrap();
        let mut client = env::pg_client();
        env::create_conflict_schema(&mut client, &names);
        ConflictSchema { names, client }
    }

    pub fn t(&self, table: &str) -> String {
        self.names.conflict_table(table)
    }

    pub fn exec(&mut self, sql: &str) {
        self.client
            .batch_execute(sql)
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    /// Every CVM row as JSON, in key order, with generated ids and run timestamps replaced by
    /// what they mean: CONFLICTIDs by the order in which they first appear, timestamps by
    /// whether they are set (two runs never share a run timestamp).
    pub fn snapshot(&mut self) -> Vec<Value> {
        let rows = self
            .client
            .query(
                &format!(
                    "SELECT to_jsonb(c) FROM {} c ORDER BY \"VisitID\", \"ConVisitID\"",
                    self.t("conflictvisitmaps")
                ),
                &[],
            )
            .unwrap();
        let mut ids: BTreeMap<i64, usize> = BTreeMap::new();
        let mut order = 0;
        rows.iter()
            .map(|r| {
                let mut v: Value = r.get(0);
                let o = v.as_object_mut().unwrap();
                o.remove("ID");
                if let Some(id) = o.get("CONFLICTID").and_then(Value::as_i64) {
                    let n = *ids.entry(id).or_insert_with(|| {
                        order += 1;
                        order
                    });
                    o.insert("CONFLICTID".into(), Value::from(n));
                }
                for ts in ["CreatedDate", "UpdatedDate", "ResolveDate"] {
                    let set = o.get(ts).is_some_and(|x| !x.is_null());
                    o.insert(ts.into(), Value::from(set));
                }
                v
            })
            .collect()
    }

    /// (VisitID, ConVisitID) → (StatusFlag, flags as a 7-character string, CONFLICTID).
    pub fn rows(&mut self) -> BTreeMap<(String, String), StoredState> {
        let rows = self
            .client
            .query(
                &format!(
                    "SELECT \"VisitID\"::text, \"ConVisitID\"::text, \"StatusFlag\", \
                     concat(coalesce(\"SameSchTimeFlag\", '-'), coalesce(\"SameVisitTimeFlag\", '-'), \
                     coalesce(\"SchAndVisitTimeSameFlag\", '-'), coalesce(\"SchOverAnotherSchTimeFlag\", '-'), \
                     coalesce(\"VisitTimeOverAnotherVisitTimeFlag\", '-'), \
                     coalesce(\"SchTimeOverVisitTimeFlag\", '-'), coalesce(\"DistanceFlag\", '-')), \
                     \"CONFLICTID\" FROM {} WHERE \"InserviceStartDate\" IS NULL AND \
                     \"ConInserviceStartDate\" IS NULL",
                    self.t("conflictvisitmaps")
                ),
                &[],
            )
            .unwrap();
        rows.iter()
            .map(|r| ((r.get(0), r.get(1)), (r.get(2), r.get(3), r.get(4))))
            .collect()
    }

    pub fn scalar_i64(&mut self, sql: &str) -> i64 {
        self.client.query_one(sql, &[]).unwrap().get(0)
    }
}

impl Drop for ConflictSchema {
    fn drop(&mut self) {
        let sql = format!(
            "DROP SCHEMA IF EXISTS {} CASCADE",
            self.names.conflict.quoted()
        );
        if let Err(e) = self.client.batch_execute(&sql) {
            eprintln!("could not drop {}: {e}", self.names.conflict.as_str());
        }
    }
}

/// StatusFlag, the seven flags as text (`-` for NULL), CONFLICTID.
pub type StoredState = (Option<String>, String, Option<i64>);

pub fn flags_text(f: &[bool; 7]) -> String {
    f.iter().map(|&b| if b { 'Y' } else { 'N' }).collect()
}

pub fn params(mode: Mode, as_of: chrono::NaiveDate) -> RunParams {
    RunParams {
        inservice: false,
        ..RunParams::new(mode, Some(as_of))
    }
}

pub fn job(workers: usize, prefix_len: usize) -> JobOptions {
    JobOptions {
        workers,
        prefix_len: Some(prefix_len),
        poll: Duration::from_millis(20),
        ..JobOptions::default()
    }
}

/// The analytics source an end-to-end test runs through. Every test runs once per source
/// ([`both_sources!`]): the results must equal the same expected values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// psqlODBC (`conflict_io::analytics`).
    Odbc,
    /// The `postgres` crate's binary protocol (`conflict_io::analytics_pg`).
    Native,
}

thread_local! {
    /// The source of the test running on this thread; [`Target::of`] reads it.
    static SOURCE: std::cell::Cell<Source> = const { std::cell::Cell::new(Source::Odbc) };
}

/// Runs a test body with every run of it (through [`Target`], [`run`], [`run_full`]) reading
/// the analytics world through `source`.
pub fn with_source(source: Source, body: impl FnOnce()) {
    SOURCE.with(|s| s.set(source));
    body();
}

/// Declares an end-to-end test that runs twice, as `NAME::odbc` and `NAME::native_pg`, each
/// with its own fresh world and conflict schemas. The body stays a plain function of the
/// test's file (a module of the same name holds the two tests).
#[allow(unused_macros)] // also included by the CLI's tests, which declare no e2e test
macro_rules! both_sources {
    ($(#[$meta:meta])* fn $name:ident() $body:block) => {
        $(#[$meta])*
        fn $name() $body

        mod $name {
            #[test]
            fn odbc() {
                $crate::e2e_tests::harness::with_source(
                    $crate::e2e_tests::harness::Source::Odbc,
                    super::$name,
                )
            }

            #[test]
            fn native_pg() {
                $crate::e2e_tests::harness::with_source(
                    $crate::e2e_tests::harness::Source::Native,
                    super::$name,
                )
            }
        }
    };
}

/// What a run needs, free of (non-`Sync`) client connections, so runs can go to threads.
#[derive(Clone)]
pub struct Target {
    /// The ODBC source's configuration (used when `kind` is [`Source::Odbc`]).
    pub source: AnalyticsConfig,
    /// The native source's configuration (used when `kind` is [`Source::Native`]).
    pub native: PgSourceConfig,
    pub kind: Source,
    pub names: SchemaNames,
}

impl Target {
    /// The target of the test's source (see [`with_source`]).
    pub fn of(loaded: &Loaded, schema: &ConflictSchema) -> Target {
        Target {
            source: loaded.db.config(true),
            native: loaded.db.native_config(true),
            kind: SOURCE.with(|s| s.get()),
            names: schema.names.clone(),
        }
    }

    /// The configuration of the test's source.
    pub fn source_config(&self) -> SourceConfig {
        match self.kind {
            Source::Odbc => SourceConfig::Odbc(self.source.clone()),
            Source::Native => SourceConfig::Pg(self.native.clone()),
        }
    }

    /// Opens a connection to the test's source (the `make_source` of `run_job`).
    pub fn connect(&self) -> Result<AnySource, AnySourceError> {
        self.source_config().connect()
    }

    pub fn run(
        &self,
        start: Start,
        p: &RunParams,
        opts: &JobOptions,
        cancel: &AtomicBool,
        observer: &dyn Observer,
    ) -> JobResult {
        let store = PgStore::connect(&env::conninfo(), self.names.clone(), 8).unwrap();
        let make = || self.connect();
        run_job(&store, make, start, p, opts, cancel, observer)
            .unwrap_or_else(|e| panic!("run failed: {e}"))
    }
}

pub fn run(
    loaded: &Loaded,
    schema: &ConflictSchema,
    start: Start,
    p: &RunParams,
    opts: &JobOptions,
    cancel: &AtomicBool,
    observer: &dyn Observer,
) -> JobResult {
    Target::of(loaded, schema).run(start, p, opts, cancel, observer)
}

pub fn run_full(loaded: &Loaded, schema: &ConflictSchema) -> JobResult {
    let p = params(Mode::Full, loaded.cfg.as_of);
    run(
        loaded,
        schema,
        Start::New(p.clone()),
        &p,
        &job(2, 1),
        &AtomicBool::new(false),
        &Silent,
    )
}

pub fn since(s: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap()
}
