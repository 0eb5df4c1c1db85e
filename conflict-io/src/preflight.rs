//! Preflight of `conflicts run`: everything that can be checked before the run writes anything
//! (docs/lifecycle.md §1, step `preflight`, up to but not including the `detection_runs` row and
//! `InProgressFlag`).
//!
//! In order: connect to the conflict database and check its tables and columns (docs/tables.md §1,
//! [`PgStore::connect`]); connect to the analytics source and probe every table and column its
//! queries read ([`AnalyticsSource::probe`]); read and validate the settings of the conflict
//! schema (X, speed bands, exclusions). A failure here is a configuration or connection
//! problem: nothing was recorded, so there is nothing to resume — the caller reports it as such
//! (exit code 2 in the CLI), not as a failed run.

use crate::analytics::{AnalyticsConfig, AnalyticsError, AnalyticsSource};
use crate::analytics_pg::{PgAnalyticsSource, PgSourceError, SourceConfig};
use crate::run::ConflictStore;
use crate::store::{ConnInfo, PgStore, SchemaNames, StoreError};

/// What a run will do, as far as preflight needs to know.
#[derive(Debug, Clone, Copy)]
pub struct PreflightOptions {
    /// Connections of the conflict store's pool (workers plus a few for the ledger).
    pub pool_size: u32,
    /// The InService step runs: its event tables are probed too.
    pub inservice: bool,
    /// The PTO step runs: its absence table is probed too.
    pub pto: bool,
}

/// Why a run cannot start. Each message carries its cause (none is repeated through
/// `source()`), and none carries a credential.
#[derive(Debug, thiserror::Error)]
pub enum PreflightError {
    /// The conflict database cannot be reached or lacks tables or columns.
    #[error("conflict database: {0}")]
    ConflictDatabase(StoreError),
    /// The analytics messages name the analytics side themselves.
    #[error("{0}")]
    Analytics(AnalyticsError),
    /// The native PostgreSQL analytics source: its messages name it themselves.
    #[error("{0}")]
    AnalyticsPg(PgSourceError),
    /// The reference tables hold an unusable value.
    #[error("settings of the conflict schema: {0}")]
    Settings(StoreError),
}

/// Runs the checks and returns the opened conflict store, ready for `run_job`.
pub fn preflight(
    pg: &ConnInfo,
    names: SchemaNames,
    analytics: &AnalyticsConfig,
    opts: &PreflightOptions,
) -> Result<PgStore, PreflightError> {
    let store =
        PgStore::connect(pg, names, opts.pool_size).map_err(PreflightError::ConflictDatabase)?;
    let source = AnalyticsSource::connect(analytics.clone()).map_err(PreflightError::Analytics)?;
    source
        .probe(opts.inservice, opts.pto)
        .map_err(PreflightError::Analytics)?;
    drop(source);
    // The same read the run's `load_reference` step does: an unusable X fails here, before
    // the run is recorded, instead of as a failed run.
    store.reference().map_err(PreflightError::Settings)?;
    Ok(store)
}

/// [`preflight`] with either analytics source: for the native PostgreSQL source, the same
/// checks (connect with TLS as configured, probe every table and column the queries read).
pub fn preflight_source(
    pg: &ConnInfo,
    names: SchemaNames,
    source: &SourceConfig,
    opts: &PreflightOptions,
) -> Result<PgStore, PreflightError> {
    let native = match source {
        SourceConfig::Odbc(analytics) => return preflight(pg, names, analytics, opts),
        SourceConfig::Pg(native) => native,
    };
    let store =
        PgStore::connect(pg, names, opts.pool_size).map_err(PreflightError::ConflictDatabase)?;
    let mut source =
        PgAnalyticsSource::connect(native.clone()).map_err(PreflightError::AnalyticsPg)?;
    source
        .probe(opts.inservice, opts.pto)
        .map_err(PreflightError::AnalyticsPg)?;
    drop(source);
    store.reference().map_err(PreflightError::Settings)?;
    Ok(store)
}

#[cfg(test)]
mod tests {
    use std::error::Error;

    use super::*;
    use crate::run::JobError;

    /// Printed link by link (the CLI, anyhow's `{:#}`), an error that both shows its cause and
    /// returns it from `source()` repeats it; these wrappers show it only.
    #[test]
    fn wrappers_show_their_cause_once() {
        let inner = || AnalyticsError::Config("the ODBC connection string is empty".into());
        let job = JobError::Source(Box::new(inner()));
        assert!(job.source().is_none(), "{job}");
        assert_eq!(job.to_string().matches("is empty").count(), 1);
        let pre = PreflightError::Analytics(inner());
        assert!(pre.source().is_none(), "{pre}");
        assert_eq!(
            pre.to_string(),
            "analytics configuration: the ODBC connection string is empty"
        );
        let store = JobError::Store(Box::new(StoreError::InvalidId { value: "x".into() }));
        assert!(store.source().is_none(), "{store}");
    }
}
