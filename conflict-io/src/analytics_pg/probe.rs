//! Preflight probe of the analytics tables for the native source: the same derivation of the
//! tables and columns the queries read as the ODBC source's probe (`analytics::probe`), checked
//! through the result columns of a prepared `SELECT * ... LIMIT 0` (one round trip per table,
//! nothing executed).

use super::error::PgSourceError;
use super::PgAnalyticsSource;
use crate::analytics::{columns_of_queries, missing_objects, probe_sql, probed_queries};

impl PgAnalyticsSource {
    /// Checks that every table and column the queries of a run with these switches read
    /// exists; all problems are reported in one [`PgSourceError::MissingObjects`].
    pub fn probe(&mut self, inservice: bool, pto: bool) -> Result<(), PgSourceError> {
        let schema = self.cfg.schema.clone();
        let queries = probed_queries(&self.sql(), self.cfg.prefilter, inservice, pto);
        let read = columns_of_queries(&schema, &queries).columns;
        let mut statements = 0;
        let client = &mut self.client;
        let missing = missing_objects(&schema, read, |table| {
            statements += 1;
            match client.prepare(&probe_sql(&schema, table)) {
                Ok(st) => Ok(st.columns().iter().map(|c| c.name().to_string()).collect()),
                Err(e) => Err(match e.as_db_error() {
                    Some(db) => format!("{} (SQLSTATE {})", db.message(), db.code().code()),
                    None => e.to_string(),
                }),
            }
        });
        self.statements += statements;
        if missing.is_empty() {
            Ok(())
        } else {
            Err(PgSourceError::MissingObjects {
                schema: schema.as_str().to_string(),
                missing,
            })
        }
    }
}
