//! The analytics source over ODBC (Snowflake in production, psqlODBC in tests): base visits
//! of a scope with the work pushed into the warehouse, columnar bulk fetch, and a second,
//! wide fetch of business columns only for visits that ended up in a pair.
//!
//! Every statement it can send is listed, in order and with its purpose, by
//! [`statements::run_statements`] (what `conflicts sql` prints); lists built from data travel
//! in temporary tables (`scratch`), and the two SQL dialects differ only in `dialect`.

mod attributes;
mod cells;
mod config;
mod connection_string;
mod dialect;
mod error;
mod events;
mod probe;
mod scope_filter;
mod scratch;
mod sql;
pub mod statements;
mod wide;

use std::collections::HashMap;

use odbc_api::buffers::ColumnarDynBuffer;
use odbc_api::parameter::VarCharBox;
use odbc_api::{Connection, ConnectionOptions, Cursor, IntoParameter};

use conflict_core::{Exclusions, Visit};

pub use config::{AnalyticsConfig, AnalyticsSchema, DEFAULT_INSERT_ROWS};
pub use connection_string::ConnectionString;
pub use dialect::{query_tag, Dialect};
pub use error::{AnalyticsError, OdbcFailure};
pub use probe::ReadColumns;
pub use scratch::load_statements;
pub use sql::{Excluding, ScopeFilter, NARROW_COLUMNS};
// Shared with the native PostgreSQL source, which sends the same statements.
pub(crate) use scope_filter::scope_filter;
pub(crate) use scratch::{details_window, distinct};
// The native PostgreSQL source (`crate::analytics_pg`) sends the same statements.
#[cfg(feature = "postgres")]
pub(crate) use events::event_details;
pub use events::span_rows;
#[cfg(feature = "postgres")]
pub(crate) use probe::{columns_of_queries, missing_objects, probe_sql, probed_queries};
#[cfg(feature = "postgres")]
pub(crate) use sql::{Sql, TempTable};

use crate::details::{Kind, Value, VisitDetails, DETAIL_COLUMNS};
use crate::scope::BatchScope;
use cells::{Col, Rows};

const NARROW: [Col; 20] = [
    Col::ascii(NARROW_COLUMNS[0], 36),
    Col::i64(NARROW_COLUMNS[1]),
    Col::text(NARROW_COLUMNS[2], 50),
    Col::ascii(NARROW_COLUMNS[3], 36),
    Col::date(NARROW_COLUMNS[4]),
    Col::timestamp(NARROW_COLUMNS[5]),
    Col::timestamp(NARROW_COLUMNS[6]),
    Col::timestamp(NARROW_COLUMNS[7]),
    Col::timestamp(NARROW_COLUMNS[8]),
    Col::text(NARROW_COLUMNS[9], 100),
    Col::text(NARROW_COLUMNS[10], 100),
    Col::ascii(NARROW_COLUMNS[11], 32),
    Col::ascii(NARROW_COLUMNS[12], 32),
    Col::text(NARROW_COLUMNS[13], 100),
    Col::text(NARROW_COLUMNS[14], 100),
    Col::text(NARROW_COLUMNS[15], 100),
    Col::text(NARROW_COLUMNS[16], 100),
    Col::i64(NARROW_COLUMNS[17]),
    Col::timestamp(NARROW_COLUMNS[18]),
    Col::ascii(NARROW_COLUMNS[19], 36),
];

/// A connection to the analytics warehouse.
pub struct AnalyticsSource {
    cfg: AnalyticsConfig,
    /// The configured dialect, or the one the driver's DBMS name implies.
    dialect: Dialect,
    conn: Connection<'static>,
    /// Statements sent so far (each `SQLExecDirect`/`SQLExecute`; every one carries exactly
    /// one parameter set, so it is one request to the server).
    statements: u64,
    /// Rows fetched so far, over every query.
    rows: u64,
    /// The exclusions the exclusion tables hold (sorted), once loaded.
    loaded_exclusions: Option<(Vec<String>, Vec<String>)>,
    /// The window of the latest visit read: the date condition of the wide query.
    window: Option<conflict_core::Window>,
}

impl AnalyticsSource {
    /// Connects, settles the dialect (configured, or from the driver's DBMS name), sends the
    /// session settings and, on Snowflake without a scratch schema, checks that the session
    /// has a current schema to hold the temporary tables.
    pub fn connect(cfg: AnalyticsConfig) -> Result<Self, AnalyticsError> {
        if cfg.connection.is_blank() {
            return Err(AnalyticsError::Config(
                "the ODBC connection string is empty".to_string(),
            ));
        }
        let connect_err = |e: odbc_api::Error| {
            let mut cause = OdbcFailure::new(&e, Some(&cfg.connection));
            if cause.is_driver_problem() {
                cause.message += "; name the driver by the absolute path of its shared library \
                                  (Driver=/path/lib.so) or use a DSN defined in odbc.ini";
            }
            AnalyticsError::Connect {
                target: cfg.connection.redacted(),
                cause,
            }
        };
        // One ODBC environment per process, as the ODBC documentation asks; odbc-api keeps it.
        let env = odbc_api::environment().map_err(connect_err)?;
        let conn = env
            .connect_with_connection_string(cfg.connection.expose(), ConnectionOptions::default())
            .map_err(connect_err)?;
        let dialect = match cfg.dialect {
            Some(d) => d,
            None => {
                let name = conn
                    .database_management_system_name()
                    .map_err(connect_err)?;
                Dialect::from_dbms_name(&name).ok_or_else(|| {
                    AnalyticsError::Config(format!(
                        "the ODBC driver reports the DBMS {name:?}, which is neither Snowflake \
                         nor PostgreSQL: give --analytics-dialect snowflake|postgres \
                         (CONFLICTS_ANALYTICS_DIALECT, analytics_dialect)"
                    ))
                })?
            }
        };
        let mut source = AnalyticsSource {
            cfg,
            dialect,
            conn,
            statements: 0,
            rows: 0,
            loaded_exclusions: None,
            window: None,
        };
        for (_, statement) in dialect.session_setup() {
            source.exec("setting up the session", statement)?;
        }
        if dialect == Dialect::Snowflake && source.cfg.scratch_schema.is_none() {
            source.require_current_schema()?;
        }
        Ok(source)
    }

    /// The configuration this source was opened with.
    pub fn config(&self) -> &AnalyticsConfig {
        &self.cfg
    }

    /// The dialect in use (configured or detected).
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// Statements sent to the server since connecting, the session settings included.
    pub fn statements_sent(&self) -> u64 {
        self.statements
    }

    fn sql(&self) -> sql::Sql<'_> {
        sql::Sql {
            schema: &self.cfg.schema,
            dialect: self.dialect,
            scratch: self.cfg.scratch_schema.as_ref(),
        }
    }

    /// A failed query, its driver message masked like a connect error's.
    fn query_err(&self, what: &'static str, e: odbc_api::Error) -> AnalyticsError {
        AnalyticsError::Query {
            what,
            cause: OdbcFailure::new(&e, Some(&self.cfg.connection)),
        }
    }

    /// Tags the statements that follow with the tool, run and batch ([`query_tag`]).
    pub fn tag(&mut self, run_id: i64, batch: &str) -> Result<(), AnalyticsError> {
        let statement = self.dialect.tag_statement(&query_tag(run_id, batch));
        self.exec("setting the query tag", &statement)
    }

    fn exec(&mut self, what: &'static str, statement: &str) -> Result<(), AnalyticsError> {
        self.statements += 1;
        self.conn
            .execute(statement, (), None)
            .map(|_| ())
            .map_err(|e| self.query_err(what, e))
    }

    /// Runs `query` and hands each fetched row set to `each`.
    fn fetch(
        &mut self,
        what: &'static str,
        query: &str,
        params: &[VarCharBox],
        cols: &[Col],
        rows_per_fetch: usize,
        mut each: impl FnMut(&Rows<'_>) -> Result<(), AnalyticsError>,
    ) -> Result<usize, AnalyticsError> {
        self.statements += 1;
        let q = |e| self.query_err(what, e);
        let Some(cursor) = self.conn.execute(query, params, None).map_err(q)? else {
            return Ok(0);
        };
        let buffer = ColumnarDynBuffer::from_descs(
            buffer_rows(rows_per_fetch, cols),
            cols.iter().map(|c| c.desc),
        );
        let mut block = cursor.bind_buffer(buffer).map_err(q)?;
        let mut offset = 0;
        while let Some(batch) = block.fetch_with_truncation_check(true).map_err(q)? {
            let rows = Rows {
                buf: batch,
                cols,
                what,
                offset,
            };
            each(&rows)?;
            offset += rows.len();
        }
        self.rows += offset as u64;
        Ok(offset)
    }

    /// Base visits of `scope` (docs/tables.md §9 joins and filters, window and exclusions pushed
    /// down; with `prefilter`, only (SSN, date) groups holding two or more providers).
    pub fn visits(
        &mut self,
        scope: &BatchScope,
        ex: &Exclusions,
    ) -> Result<Vec<Visit>, AnalyticsError> {
        let (filter, prefix) = scope_filter(&scope.scope, |rows| {
            let table = self.sql().keys_table();
            self.load_temp_table(table, rows)
        })?;
        self.visits_filtered(&scope.window, filter, prefix, ex, self.cfg.prefilter)
    }

    /// The narrow query for a filter whose temporary table (if any) is loaded.
    fn visits_filtered(
        &mut self,
        window: &conflict_core::Window,
        filter: ScopeFilter,
        prefix: Option<String>,
        ex: &Exclusions,
        prefilter: bool,
    ) -> Result<Vec<Visit>, AnalyticsError> {
        let excluding = self.ensure_exclusions(ex)?;
        self.window = Some(*window);
        let mut params = Vec::new();
        if let Some(p) = prefix {
            params.push(p.chars().count().to_string().into_parameter());
            params.push(p.into_parameter());
        }
        params.extend(window_params(window));
        let query = self.sql().narrow(filter, prefilter, excluding);
        let mut out = Vec::new();
        let fetch_rows = self.cfg.fetch_rows;
        self.fetch(
            "reading base visits",
            &query,
            &params,
            &NARROW,
            fetch_rows,
            |rows| {
                out.reserve(rows.len());
                for r in 0..rows.len() {
                    out.push(narrow_visit(rows, r)?);
                }
                Ok(())
            },
        )?;
        Ok(out)
    }

    /// Business columns of the given visits (canonical lower-case ids), by visit id, within
    /// the window of the latest visit read (or any date when nothing was read yet).
    pub fn details<'a>(
        &mut self,
        visit_ids: impl IntoIterator<Item = &'a str>,
    ) -> Result<HashMap<String, VisitDetails>, AnalyticsError> {
        let ids = distinct(visit_ids);
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let table = self.sql().ids_table();
        self.load_temp_table(table, ids.iter().map(|s| vec![s.to_string()]))?;
        let mut cols = vec![Col::ascii("Visit Id", 36)];
        for c in DETAIL_COLUMNS {
            cols.push(match c.kind {
                Kind::I64 | Kind::Bool => Col::i64(c.cvm),
                Kind::Timestamp => Col::timestamp(c.cvm),
                Kind::Uuid | Kind::F32 => Col::ascii(c.cvm, wide::max_len(c.cvm, c.kind)),
                Kind::Text => Col::text(c.cvm, wide::max_len(c.cvm, c.kind)),
            });
        }
        let query = self.sql().wide();
        let window = details_window(self.window);
        let params = window_params(&window);
        let mut out = HashMap::with_capacity(ids.len());
        let fetch_rows = self.cfg.detail_fetch_rows;
        self.fetch(
            "reading business columns",
            &query,
            &params,
            &cols,
            fetch_rows,
            |rows| {
                for r in 0..rows.len() {
                    let id = rows.required(0, r)?;
                    let mut values = Vec::with_capacity(DETAIL_COLUMNS.len());
                    for (k, c) in DETAIL_COLUMNS.iter().enumerate() {
                        let col = k + 1;
                        let v = match c.kind {
                            Kind::I64 => rows.i64(col, r)?.map(Value::I64),
                            Kind::Bool => rows.bool(col, r)?.map(Value::Bool),
                            Kind::Timestamp => rows.timestamp(col, r)?.map(Value::Timestamp),
                            Kind::Uuid => rows.string(col, r)?.map(Value::Uuid),
                            Kind::Text => rows.string(col, r)?.map(Value::Text),
                            Kind::F32 => rows.f32_text(col, r)?.map(Value::F32),
                        };
                        values.push(v.unwrap_or(Value::Null));
                    }
                    out.insert(id, VisitDetails { values });
                }
                Ok(())
            },
        )?;
        Ok(out)
    }
}

/// The window bounds as text parameters (the first two parameters of every visit query).
fn window_params(window: &conflict_core::Window) -> Vec<VarCharBox> {
    vec![
        window.from.to_string().into_parameter(),
        window.to.to_string().into_parameter(),
    ]
}

fn narrow_visit(rows: &Rows<'_>, r: usize) -> Result<Visit, AnalyticsError> {
    Ok(Visit {
        visit_id: rows.required(0, r)?,
        app_visit_id: rows.i64(1, r)?,
        ssn: rows.string(2, r)?,
        provider_id: rows.required(3, r)?,
        visit_date: rows.date(4, r)?.ok_or_else(|| AnalyticsError::Column {
            what: rows.what,
            column: NARROW_COLUMNS[4],
            row: rows.offset + r + 1,
            reason: "a value is required (found NULL)".into(),
        })?,
        sch_start: rows.timestamp(5, r)?,
        sch_end: rows.timestamp(6, r)?,
        visit_start: rows.timestamp(7, r)?,
        visit_end: rows.timestamp(8, r)?,
        call_out_gps: rows.string(9, r)?,
        call_in_gps: rows.string(10, r)?,
        address_lat: rows.f64_text(11, r)?,
        address_lon: rows.f64_text(12, r)?,
        p_zip: rows.string(13, r)?,
        p_state: rows.string(14, r)?,
        pa_state: rows.string(15, r)?,
        provider_state: rows.string(16, r)?,
        is_missed: rows.bool(17, r)?,
        updated_at: rows.timestamp(18, r)?,
        caregiver_id: rows.string(19, r)?,
    })
}

impl AnalyticsSource {
    /// Visit counts per prefix of the trimmed SSN over the window (no exclusions: planning
    /// only needs a superset of the keys that hold data).
    pub fn ssn_prefixes(
        &mut self,
        window: &conflict_core::Window,
        len: usize,
    ) -> Result<Vec<(String, u64)>, AnalyticsError> {
        let mut params = window_params(window);
        params.push(len.max(1).to_string().into_parameter());
        let cols = [Col::text("prefix", 100), Col::i64("count")];
        let mut out = Vec::new();
        let query = self.sql().prefixes();
        let fetch_rows = self.cfg.fetch_rows;
        self.fetch(
            "counting visits per SSN prefix",
            &query,
            &params,
            &cols,
            fetch_rows,
            |rows| {
                for r in 0..rows.len() {
                    out.push((
                        rows.string(0, r)?.unwrap_or_default(),
                        rows.i64(1, r)?.unwrap_or(0) as u64,
                    ));
                }
                Ok(())
            },
        )?;
        Ok(out)
    }

    /// Delta keys of docs/lifecycle.md §2.
    pub fn delta_keys(
        &mut self,
        since: chrono::NaiveDateTime,
        window: &conflict_core::Window,
    ) -> Result<Vec<crate::run::Key>, AnalyticsError> {
        let params = vec![
            since
                .format("%Y-%m-%d %H:%M:%S%.6f")
                .to_string()
                .into_parameter(),
            window.from.to_string().into_parameter(),
            window.to.to_string().into_parameter(),
        ];
        let cols = [Col::date("Visit Date"), Col::text("SSN", 100)];
        let mut out = Vec::new();
        let query = self.sql().delta_keys();
        let fetch_rows = self.cfg.fetch_rows;
        self.fetch(
            "reading delta keys",
            &query,
            &params,
            &cols,
            fetch_rows,
            |rows| {
                for r in 0..rows.len() {
                    if let (Some(d), Some(s)) = (rows.date(0, r)?, rows.string(1, r)?) {
                        out.push((d, s));
                    }
                }
                Ok(())
            },
        )?;
        Ok(out)
    }
}

impl crate::run::VisitSource for AnalyticsSource {
    type Error = AnalyticsError;

    fn begin_batch(&mut self, run_id: i64, batch: &str) -> Result<(), AnalyticsError> {
        self.tag(run_id, batch)
    }

    fn visits(
        &mut self,
        scope: &BatchScope,
        ex: &Exclusions,
    ) -> Result<Vec<Visit>, AnalyticsError> {
        AnalyticsSource::visits(self, scope, ex)
    }

    fn details(&mut self, ids: &[&str]) -> Result<HashMap<String, VisitDetails>, AnalyticsError> {
        AnalyticsSource::details(self, ids.iter().copied())
    }

    fn ssn_prefixes(
        &mut self,
        window: &conflict_core::Window,
        len: usize,
    ) -> Result<Vec<(String, u64)>, AnalyticsError> {
        AnalyticsSource::ssn_prefixes(self, window, len)
    }

    fn delta_keys(
        &mut self,
        since: chrono::NaiveDateTime,
        window: &conflict_core::Window,
    ) -> Result<Vec<crate::run::Key>, AnalyticsError> {
        AnalyticsSource::delta_keys(self, since, window)
    }

    fn events(
        &mut self,
        kind: conflict_core::inservice::EventKind,
        window: &conflict_core::Window,
        ex: &Exclusions,
    ) -> Result<Vec<crate::details::SourcedEvent>, AnalyticsError> {
        AnalyticsSource::events(self, kind, window, ex)
    }

    fn visits_near_events(
        &mut self,
        window: &conflict_core::Window,
        spans: &[conflict_core::inservice::EventSpan],
        ex: &Exclusions,
    ) -> Result<Vec<Visit>, AnalyticsError> {
        AnalyticsSource::visits_near_events(self, window, spans, ex)
    }

    fn io(&self) -> crate::run::IoCounts {
        crate::run::IoCounts {
            warehouse_statements: self.statements,
            warehouse_rows_read: self.rows,
            ..Default::default()
        }
    }
}

/// The largest fetch buffer, in bytes. odbc-api zero-fills a buffer when it allocates it, for
/// every query, so a buffer sized for many more rows than the query returns costs time of its
/// own: 20,000 rows of the 20 wide columns of the events query are about 80 MB, and zeroing
/// them took 40 ms of a 0.1 s no-op run that read 700 events. A query with more rows than a
/// buffer holds fills it several times.
const FETCH_BUFFER_BYTES: usize = 8 << 20;

/// Rows per fetch for `cols`: the configured number, as far as [`FETCH_BUFFER_BYTES`] allows.
fn buffer_rows(rows_per_fetch: usize, cols: &[Col]) -> usize {
    let row_bytes: usize = cols.iter().map(|c| c.desc.bytes_per_row()).sum();
    rows_per_fetch
        .min(FETCH_BUFFER_BYTES / row_bytes.max(1))
        .max(1)
}

#[cfg(test)]
mod buffer_tests {
    use super::*;

    #[test]
    fn buffers_hold_the_configured_rows_up_to_the_byte_limit() {
        // A nullable i64 is 8 bytes plus an 8-byte indicator: 16 bytes a row, far below the
        // limit at 20,000 rows.
        assert_eq!(buffer_rows(20_000, &[Col::i64("n")]), 20_000);
        // 250 characters of up to 4 bytes, a terminating zero and an indicator: 1,009 bytes a
        // row, so 8 MiB hold 8,314 rows.
        assert_eq!(
            buffer_rows(20_000, &[Col::text("t", 250)]),
            8_388_608 / 1_009
        );
        // A row larger than the limit still gets one row per fetch.
        assert_eq!(buffer_rows(20_000, &[Col::text("t", 4_000_000)]), 1);
        assert_eq!(buffer_rows(0, &[Col::i64("n")]), 1);
    }
}
