//! Loading the temporary ("scratch") tables that carry lists built from data into the
//! warehouse: batch keys, caregiver SSNs, visit ids and the exclusions. Each load replaces the
//! table and fills it with multi-row `INSERT ... VALUES` statements of at most
//! `insert_rows` rows, each sent with exactly one parameter set: no array binding, whose
//! support the Snowflake driver negotiates with the server and may replace by one request per
//! row. The number of statements is therefore known in advance:
//! [`load_statements`] = replace statements + ceil(rows / insert_rows).

use odbc_api::parameter::VarCharBox;
use odbc_api::IntoParameter;

use conflict_core::Exclusions;

use super::cells::Col;
use super::error::AnalyticsError;
use super::sql::{Excluding, TempTable};
use super::{AnalyticsSource, Dialect};

/// Statements one load of `rows` rows sends: the (re)creation of the table, then one insert per
/// chunk of `insert_rows` rows (none for an empty list).
pub fn load_statements(dialect: Dialect, rows: usize, insert_rows: usize) -> usize {
    let replace = match dialect {
        Dialect::Snowflake => 1,
        Dialect::Postgres => 2,
    };
    replace + rows.div_ceil(insert_rows.max(1))
}

impl AnalyticsSource {
    /// Replaces temporary table `table` by one holding `rows` (each a row of text cells, one
    /// per column of the table).
    pub(super) fn load_temp_table(
        &mut self,
        table: TempTable,
        rows: impl IntoIterator<Item = Vec<String>>,
    ) -> Result<(), AnalyticsError> {
        let what = "loading a temporary table";
        for statement in self.sql().replace_temp_table(&table) {
            self.exec(what, &statement)?;
        }
        let cap = self.cfg.insert_rows.max(1);
        // The statement text of a full chunk is built once; only the last chunk differs.
        let full = self.sql().insert_rows(&table, cap);
        let mut params: Vec<VarCharBox> = Vec::with_capacity(cap * table.columns.len());
        let mut n = 0;
        for row in rows {
            params.extend(row.into_iter().map(|c| c.into_parameter()));
            n += 1;
            if n == cap {
                self.insert_chunk(&full, &params)?;
                params.clear();
                n = 0;
            }
        }
        if n > 0 {
            let last = self.sql().insert_rows(&table, n);
            self.insert_chunk(&last, &params)?;
        }
        Ok(())
    }

    fn insert_chunk(
        &mut self,
        statement: &str,
        params: &[VarCharBox],
    ) -> Result<(), AnalyticsError> {
        self.statements += 1;
        self.conn
            .execute(statement, params, None)
            .map(|_| ())
            .map_err(|e| self.query_err("loading a temporary table", e))
    }

    /// Snowflake without a scratch schema: the temporary tables go to the session's current
    /// schema, and `CREATE TEMPORARY TABLE` fails without one ("This session does not have a
    /// current schema"). Checked at connect time so the error names the fix.
    pub(super) fn require_current_schema(&mut self) -> Result<(), AnalyticsError> {
        let query = self.sql().current_schema();
        let mut current: Option<String> = None;
        self.fetch(
            "reading the current schema",
            query,
            &[],
            &[Col::text("CURRENT_SCHEMA()", 255)],
            1,
            |rows| {
                if rows.len() > 0 {
                    current = rows.string(0, 0)?;
                }
                Ok(())
            },
        )?;
        match current {
            Some(s) if !s.trim().is_empty() => Ok(()),
            _ => Err(AnalyticsError::Config(
                "the Snowflake session has no current schema, and the temporary tables need \
                 one: give --scratch-schema DATABASE.SCHEMA (CONFLICTS_SCRATCH_SCHEMA, \
                 scratch_schema in the config file) or add Schema=... to the connection \
                 string; the role needs CREATE TEMPORARY TABLE on that schema"
                    .into(),
            )),
        }
    }

    /// Makes the exclusion tables hold `ex` (provider ids lower-cased; SSNs as given, i.e.
    /// trimmed by `Exclusions`); an empty list gets no table. Loaded once per connection and
    /// again only when the exclusions change, which they do not within a run. Returns which
    /// lists the queries must apply.
    pub(super) fn ensure_exclusions(
        &mut self,
        ex: &Exclusions,
    ) -> Result<Excluding, AnalyticsError> {
        let mut providers: Vec<String> = ex.providers.iter().map(|p| p.to_lowercase()).collect();
        providers.sort_unstable();
        providers.dedup();
        let mut ssns: Vec<String> = ex.ssns.iter().cloned().collect();
        ssns.sort_unstable();
        let wanted = (providers, ssns);
        let excluding = Excluding {
            providers: !wanted.0.is_empty(),
            ssns: !wanted.1.is_empty(),
        };
        if self.loaded_exclusions.as_ref() == Some(&wanted) {
            return Ok(excluding);
        }
        let (providers, ssns) = &wanted;
        if excluding.providers {
            let t = self.sql().excluded_providers_table();
            self.load_temp_table(t, providers.iter().map(|p| vec![p.clone()]))?;
        }
        if excluding.ssns {
            let t = self.sql().excluded_ssns_table();
            self.load_temp_table(t, ssns.iter().map(|s| vec![s.clone()]))?;
        }
        self.loaded_exclusions = Some(wanted);
        Ok(excluding)
    }
}

/// The distinct values of a list, sorted: a list travels in a temporary table that is joined
/// to the visits, where a value listed twice would deliver its rows twice.
pub(crate) fn distinct<'a>(items: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
    let mut v: Vec<&str> = items.into_iter().collect();
    v.sort_unstable();
    v.dedup();
    v
}

/// The date range of the business-column query: the window of the latest visits read (so that
/// the warehouse can prune by visit date), or any date when nothing was read yet.
pub(crate) fn details_window(latest: Option<conflict_core::Window>) -> conflict_core::Window {
    latest.unwrap_or(conflict_core::Window {
        from: chrono::NaiveDate::from_ymd_opt(1, 1, 1).expect("valid date"),
        to: chrono::NaiveDate::from_ymd_opt(9999, 12, 31).expect("valid date"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statement_counts_of_a_load() {
        // Hand-computed: 20,000 keys in chunks of 1,000 are 20 inserts, plus the replace.
        assert_eq!(load_statements(Dialect::Snowflake, 20_000, 1_000), 21);
        assert_eq!(load_statements(Dialect::Postgres, 20_000, 1_000), 22);
        assert_eq!(load_statements(Dialect::Snowflake, 1_001, 1_000), 3);
        assert_eq!(load_statements(Dialect::Snowflake, 0, 1_000), 1);
    }
}
