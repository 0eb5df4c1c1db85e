//! Preflight probe of the analytics tables for the native source: the same derivation of the
//! tables and columns the queries read as the ODBC source's probe (`analytics::probe`), checked
//! through the result columns of a prepared `SELECT * ... LIMIT 0` (one round trip per table,
//! nothing executed).

use conflict_core::inservice::EventKind;

use super::error::PgSourceError;
use super::PgAnalyticsSource;
use crate::analytics::{columns_of_queries, missing_columns, probe_sql, Excluding, ScopeFilter};

impl PgAnalyticsSource {
    /// Checks that every table and column the queries of a run with these switches read
    /// exists; all problems are reported in one [`PgSourceError::MissingObjects`].
    pub fn probe(&mut self, inservice: bool, pto: bool) -> Result<(), PgSourceError> {
        let schema = self.cfg.schema.clone();
        let queries = {
            let sql = self.sql();
            let mut q = vec![
                sql.narrow(ScopeFilter::Window, self.cfg.prefilter, Excluding::NONE),
                sql.delta_keys(),
                sql.wide(),
            ];
            if inservice {
                q.push(sql.events(EventKind::InService, Excluding::NONE));
            }
            if pto {
                q.push(sql.events(EventKind::Pto, Excluding::NONE));
            }
            q
        };
        let mut missing = Vec::new();
        for (table, needed) in columns_of_queries(&schema, &queries).columns {
            let qualified = schema.table(&table);
            self.statements += 1;
            let present: Vec<String> = match self.client.prepare(&probe_sql(&schema, &table)) {
                Ok(st) => st.columns().iter().map(|c| c.name().to_string()).collect(),
                Err(e) => {
                    let cause = match e.as_db_error() {
                        Some(db) => format!("{} (SQLSTATE {})", db.message(), db.code().code()),
                        None => e.to_string(),
                    };
                    missing.push(format!("table {qualified} cannot be read ({cause})"));
                    continue;
                }
            };
            if let Some(problem) = missing_columns(&qualified, &needed, &present) {
                missing.push(problem);
            }
        }
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
