//! Configuration of the analytics source.

use super::connection_string::ConnectionString;
use super::dialect::Dialect;
use super::error::AnalyticsError;
use crate::ident::QualifiedName;

/// A validated, possibly qualified (`database.schema`) analytics schema name. Written unquoted
/// so that each server applies its own case folding (docs/tables.md §1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnalyticsSchema(QualifiedName);

impl AnalyticsSchema {
    /// Validates `SCHEMA` or `DATABASE.SCHEMA`, because the name is written into SQL text.
    pub fn new(name: &str) -> Result<Self, AnalyticsError> {
        QualifiedName::new("analytics schema", name)
            .map(AnalyticsSchema)
            .map_err(|_| {
                AnalyticsError::Config(format!(
                    "analytics schema {name:?} is not a valid name: each part must match \
                     ^[A-Za-z_][A-Za-z0-9_]{{0,62}}$, at most database.schema"
                ))
            })
    }

    /// The name as configured.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The validated name, as the conflict store's configuration holds it.
    pub fn name(&self) -> &QualifiedName {
        &self.0
    }

    /// `schema.table`, unquoted.
    pub fn table(&self, table: &str) -> String {
        format!("{}.{table}", self.0)
    }
}

/// Rows per temporary-table insert statement by default: 20,000 keys of a batch take 20
/// statements, each with at most 2,000 parameters and well under Snowflake's limit of 16,384
/// rows in one `VALUES` clause.
pub const DEFAULT_INSERT_ROWS: usize = 1_000;

/// Everything needed to open and query the analytics source.
#[derive(Debug, Clone)]
pub struct AnalyticsConfig {
    /// The ODBC connection string (with its secrets; never logged).
    pub connection: ConnectionString,
    /// The schema that holds the visit tables.
    pub schema: AnalyticsSchema,
    /// `None`: chosen from the DBMS name the driver reports when connecting.
    pub dialect: Option<Dialect>,
    /// Snowflake: the schema that holds the temporary tables (`DATABASE.SCHEMA` or `SCHEMA`;
    /// validated like the analytics schema). `None`: the session's current schema, which the
    /// connection string's `Schema=` sets. PostgreSQL keeps temporary tables in the session's
    /// own `pg_temp` schema and ignores this setting.
    pub scratch_schema: Option<AnalyticsSchema>,
    /// Rows per columnar fetch of the narrow query.
    pub fetch_rows: usize,
    /// Rows per columnar fetch of the wide (business columns) query.
    pub detail_fetch_rows: usize,
    /// Rows per multi-row `INSERT ... VALUES` into a temporary table (one statement each).
    pub insert_rows: usize,
    /// Only keep visits whose (SSN, date) group has visits of two or more providers.
    pub prefilter: bool,
}

impl AnalyticsConfig {
    /// A configuration with default sizes; `dialect` is a [`Dialect`] or `None` (detect).
    pub fn new(
        connection: ConnectionString,
        schema: AnalyticsSchema,
        dialect: impl Into<Option<Dialect>>,
    ) -> Self {
        AnalyticsConfig {
            connection,
            schema,
            dialect: dialect.into(),
            scratch_schema: None,
            fetch_rows: 20_000,
            detail_fetch_rows: 2_000,
            insert_rows: DEFAULT_INSERT_ROWS,
            prefilter: true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_names() {
        assert!(AnalyticsSchema::new("analytics").is_ok());
        assert!(AnalyticsSchema::new("ANALYTICS.BI").is_ok());
        for bad in ["", "a.b.c", "a-b", "a;drop", "1abc", &"x".repeat(64), "a."] {
            assert!(AnalyticsSchema::new(bad).is_err(), "{bad}");
        }
    }
}
