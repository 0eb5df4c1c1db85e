//! The analytics source read natively from PostgreSQL (issue "Speed II", item 4): for
//! deployments that copied the analytics tables into PostgreSQL, the visits are read with the
//! `postgres` crate over the binary protocol instead of through ODBC.
//!
//! **Same semantics, same SQL.** Every statement comes from the ODBC source's builder
//! (`analytics::Sql`, dialect PostgreSQL): the narrow query with its window, exclusions and
//! candidate pre-filter, the wide business-column query, events, delta keys and SSN prefixes.
//! Only the transport differs: `?` placeholders become `$n` (`params::numbered`), parameters
//! travel typed (`params::TextParam`), and lists fill the same temporary tables with one
//! statement of unnested arrays (`params::fill_from_arrays`) instead of chunks of multi-row
//! `INSERT`s. Rows are decoded to exactly the values the ODBC source produces (`decode`).
//!
//! Why binary-format queries and not `COPY (SELECT ...) TO STDOUT (FORMAT binary)`: `COPY`
//! takes no bind parameters, so the window and prefix would have to be written into the SQL
//! text; the extended protocol's binary rows keep every value a parameter.
//!
//! **Connections** go through [`crate::store::connect`]: the same conninfo parsing (key=value or
//! URL, `sslmode`, `sslrootcert`, client certificates) and TLS connector as the conflict store,
//! and credentials never appear in errors. It may be the same server as the conflict database.
//!
//! Built with features `postgres` (the client) and `odbc` (the shared SQL builder lives in
//! [`crate::analytics`]).

mod any;
mod decode;
mod details;
mod error;
mod events;
mod params;
mod probe;
mod visits;

use conflict_core::{Exclusions, Window};
use postgres::types::ToSql;
use postgres::{Client, Row};

use crate::analytics::{AnalyticsSchema, Dialect, Excluding, Sql, TempTable};
use crate::store::ConnInfo;

pub use any::{AnySource, AnySourceError, SourceConfig};
pub use error::PgSourceError;
use params::TextParam;

/// Everything needed to open and query the native PostgreSQL analytics source.
#[derive(Clone)]
pub struct PgSourceConfig {
    /// The analytics database (conninfo with its TLS settings; shown redacted).
    pub conn: ConnInfo,
    /// The schema that holds the analytics tables.
    pub schema: AnalyticsSchema,
    /// Only keep visits whose (SSN, date) group has visits of two or more providers.
    pub prefilter: bool,
}

impl PgSourceConfig {
    /// Parses `conninfo` (libpq key=value or URL, with TLS keys) for `schema`, with the
    /// candidate pre-filter on. An empty string is refused here, as a configuration error.
    pub fn parse(conninfo: &str, schema: AnalyticsSchema) -> Result<Self, PgSourceError> {
        if conninfo.trim().is_empty() {
            return Err(PgSourceError::Config(
                "the PostgreSQL analytics connection string is empty".into(),
            ));
        }
        let conn = ConnInfo::parse(conninfo)
            .map_err(|e| PgSourceError::Config(format!("--analytics-pg: {e}")))?;
        Ok(PgSourceConfig {
            conn,
            schema,
            prefilter: true,
        })
    }
}

/// A connection to the analytics tables in PostgreSQL; implements
/// [`VisitSource`](crate::run::VisitSource) like the ODBC source.
pub struct PgAnalyticsSource {
    cfg: PgSourceConfig,
    client: Client,
    /// Statements sent so far (counted as the ODBC source counts them: a replaced temporary
    /// table is two statements even though both travel in one round trip).
    statements: u64,
    /// Rows read from result sets so far.
    rows: u64,
    /// The exclusions the exclusion tables hold (sorted), once loaded.
    loaded_exclusions: Option<(Vec<String>, Vec<String>)>,
    /// The window of the latest visit read: the date condition of the wide query.
    window: Option<Window>,
}

impl PgAnalyticsSource {
    /// Connects (TLS as the conninfo says) and sends the session settings of the PostgreSQL
    /// dialect (time zone UTC).
    pub fn connect(cfg: PgSourceConfig) -> Result<Self, PgSourceError> {
        let client = crate::store::connect(&cfg.conn).map_err(PgSourceError::Connect)?;
        let mut source = PgAnalyticsSource {
            cfg,
            client,
            statements: 0,
            rows: 0,
            loaded_exclusions: None,
            window: None,
        };
        for (_, statement) in Dialect::Postgres.session_setup() {
            source.exec("setting up the session", statement)?;
        }
        Ok(source)
    }

    /// The configuration this source was opened with.
    pub fn config(&self) -> &PgSourceConfig {
        &self.cfg
    }

    /// Statements sent to the server since connecting, the session settings included.
    pub fn statements_sent(&self) -> u64 {
        self.statements
    }

    /// Rows read from result sets since connecting.
    pub fn rows_read(&self) -> u64 {
        self.rows
    }

    /// The ODBC source's statement builder, for the PostgreSQL dialect.
    fn sql(&self) -> Sql<'_> {
        Sql {
            schema: &self.cfg.schema,
            dialect: Dialect::Postgres,
            scratch: None,
        }
    }

    /// Labels the statements that follow with the tool, run and batch (`application_name`,
    /// visible in `pg_stat_activity`), as the ODBC source does.
    pub fn tag(&mut self, run_id: i64, batch: &str) -> Result<(), PgSourceError> {
        let statement =
            Dialect::Postgres.tag_statement(&crate::analytics::query_tag(run_id, batch));
        self.exec("setting the query tag", &statement)
    }

    /// Sends statements without parameters (one round trip, however many statements).
    fn exec(&mut self, what: &'static str, statements: &str) -> Result<(), PgSourceError> {
        self.statements += 1;
        self.client
            .batch_execute(statements)
            .map_err(|e| PgSourceError::query(what, &e))
    }

    /// Runs `query` (with `?` placeholders) and hands each row, numbered from 1, to `each`.
    fn fetch(
        &mut self,
        what: &'static str,
        query: &str,
        params: &[TextParam],
        mut each: impl FnMut(&Row, usize) -> Result<(), PgSourceError>,
    ) -> Result<usize, PgSourceError> {
        use postgres::fallible_iterator::FallibleIterator;
        self.statements += 1;
        let sql = params::numbered(query);
        let mut rows = self
            .client
            .query_raw(sql.as_str(), params.iter())
            .map_err(|e| PgSourceError::query(what, &e))?;
        let mut n = 0;
        while let Some(row) = rows.next().map_err(|e| PgSourceError::query(what, &e))? {
            n += 1;
            each(&row, n)?;
        }
        self.rows += n as u64;
        Ok(n)
    }

    /// Replaces temporary table `table` by one holding `rows` (text cells, one per column):
    /// drop and create in one round trip, then one fill statement (none for an empty list).
    fn load_temp_table(
        &mut self,
        table: TempTable,
        rows: impl IntoIterator<Item = Vec<String>>,
    ) -> Result<(), PgSourceError> {
        let what = "loading a temporary table";
        let replace = self.sql().replace_temp_table(&table);
        self.statements += replace.len() as u64;
        self.client
            .batch_execute(&replace.join(";\n"))
            .map_err(|e| PgSourceError::query(what, &e))?;
        let mut columns: Vec<Vec<String>> = vec![Vec::new(); table.columns.len()];
        for row in rows {
            for (col, cell) in columns.iter_mut().zip(row) {
                col.push(cell);
            }
        }
        if columns.first().is_none_or(Vec::is_empty) {
            return Ok(());
        }
        let fill = params::fill_from_arrays(&table, &self.sql().scratch_table(table.name));
        let refs: Vec<&(dyn ToSql + Sync)> =
            columns.iter().map(|c| c as &(dyn ToSql + Sync)).collect();
        self.statements += 1;
        self.client
            .execute(fill.as_str(), &refs)
            .map_err(|e| PgSourceError::query(what, &e))?;
        Ok(())
    }

    /// Makes the exclusion tables hold `ex` (provider ids lower-cased; SSNs as given, i.e.
    /// trimmed by `Exclusions`), exactly as the ODBC source does: an empty list gets no table
    /// and no condition, and a list is loaded once per connection.
    fn ensure_exclusions(&mut self, ex: &Exclusions) -> Result<Excluding, PgSourceError> {
        let mut providers: Vec<String> = ex.providers.iter().map(|p| p.to_lowercase()).collect();
        providers.sort_unstable();
        providers.dedup();
        let mut ssns: Vec<String> = ex.ssns.iter().cloned().collect();
        ssns.sort_unstable();
        let excluding = Excluding {
            providers: !providers.is_empty(),
            ssns: !ssns.is_empty(),
        };
        let wanted = (providers, ssns);
        if self.loaded_exclusions.as_ref() == Some(&wanted) {
            return Ok(excluding);
        }
        if excluding.providers {
            let t = self.sql().excluded_providers_table();
            self.load_temp_table(t, wanted.0.iter().map(|p| vec![p.clone()]))?;
        }
        if excluding.ssns {
            let t = self.sql().excluded_ssns_table();
            self.load_temp_table(t, wanted.1.iter().map(|s| vec![s.clone()]))?;
        }
        self.loaded_exclusions = Some(wanted);
        Ok(excluding)
    }
}

/// The window bounds as the first two parameters of every visit query.
fn window_params(window: &Window) -> Vec<TextParam> {
    vec![
        TextParam(window.from.to_string()),
        TextParam(window.to.to_string()),
    ]
}
