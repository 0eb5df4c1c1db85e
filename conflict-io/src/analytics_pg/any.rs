//! Either analytics source behind one type, so that a caller (the CLI) that chooses the source
//! from its configuration can hand `run_job` one `make_source` closure.

use std::collections::HashMap;

use chrono::NaiveDateTime;
use conflict_core::inservice::EventKind;
use conflict_core::{Exclusions, Visit, Window};

use super::{PgAnalyticsSource, PgSourceConfig, PgSourceError};
use crate::analytics::{AnalyticsConfig, AnalyticsError, AnalyticsSource};
use crate::details::{SourcedEvent, VisitDetails};
use crate::run::{Key, VisitSource};
use crate::scope::BatchScope;

/// Which analytics source to open: the warehouse over ODBC, or PostgreSQL natively.
// One per process (and one connection per worker): the variants' sizes do not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Clone)]
pub enum SourceConfig {
    /// Over ODBC (Snowflake, or PostgreSQL through psqlODBC).
    Odbc(AnalyticsConfig),
    /// PostgreSQL over its own binary protocol.
    Pg(PgSourceConfig),
}

impl SourceConfig {
    /// Opens a connection of the configured kind.
    pub fn connect(&self) -> Result<AnySource, AnySourceError> {
        match self {
            SourceConfig::Odbc(c) => Ok(AnySource::Odbc(AnalyticsSource::connect(c.clone())?)),
            SourceConfig::Pg(c) => Ok(AnySource::Pg(PgAnalyticsSource::connect(c.clone())?)),
        }
    }
}

/// A connection to either source; delegates every read.
#[allow(clippy::large_enum_variant)]
pub enum AnySource {
    /// Over ODBC.
    Odbc(AnalyticsSource),
    /// Native PostgreSQL.
    Pg(PgAnalyticsSource),
}

/// The error of whichever source failed, shown as that source shows it.
#[derive(Debug, thiserror::Error)]
pub enum AnySourceError {
    /// From the ODBC source.
    #[error(transparent)]
    Odbc(#[from] AnalyticsError),
    /// From the native PostgreSQL source.
    #[error(transparent)]
    Pg(#[from] PgSourceError),
}

impl AnySource {
    /// Checks the tables and columns the run's queries read (the preflight probe).
    pub fn probe(&mut self, inservice: bool, pto: bool) -> Result<(), AnySourceError> {
        match self {
            AnySource::Odbc(s) => Ok(s.probe(inservice, pto)?),
            AnySource::Pg(s) => Ok(s.probe(inservice, pto)?),
        }
    }

    /// Statements sent since connecting.
    pub fn statements_sent(&self) -> u64 {
        match self {
            AnySource::Odbc(s) => s.statements_sent(),
            AnySource::Pg(s) => s.statements_sent(),
        }
    }
}

/// Delegates one call to the source inside, converting its error.
macro_rules! delegate {
    ($self:ident, $s:ident => $call:expr) => {
        match $self {
            AnySource::Odbc($s) => Ok($call?),
            AnySource::Pg($s) => Ok($call?),
        }
    };
}

impl VisitSource for AnySource {
    type Error = AnySourceError;

    fn begin_batch(&mut self, run_id: i64, batch: &str) -> Result<(), AnySourceError> {
        delegate!(self, s => s.tag(run_id, batch))
    }

    fn visits(
        &mut self,
        scope: &BatchScope,
        ex: &Exclusions,
    ) -> Result<Vec<Visit>, AnySourceError> {
        delegate!(self, s => s.visits(scope, ex))
    }

    fn details(&mut self, ids: &[&str]) -> Result<HashMap<String, VisitDetails>, AnySourceError> {
        delegate!(self, s => s.details(ids.iter().copied()))
    }

    fn ssn_prefixes(
        &mut self,
        window: &Window,
        len: usize,
    ) -> Result<Vec<(String, u64)>, AnySourceError> {
        delegate!(self, s => s.ssn_prefixes(window, len))
    }

    fn delta_keys(
        &mut self,
        since: NaiveDateTime,
        window: &Window,
    ) -> Result<Vec<Key>, AnySourceError> {
        delegate!(self, s => s.delta_keys(since, window))
    }

    fn events(
        &mut self,
        kind: EventKind,
        window: &Window,
        ex: &Exclusions,
    ) -> Result<Vec<SourcedEvent>, AnySourceError> {
        delegate!(self, s => s.events(kind, window, ex))
    }

    fn visits_near_events(
        &mut self,
        window: &Window,
        spans: &[conflict_core::inservice::EventSpan],
        ex: &Exclusions,
    ) -> Result<Vec<Visit>, AnySourceError> {
        delegate!(self, s => s.visits_near_events(window, spans, ex))
    }

    fn io(&self) -> crate::run::IoCounts {
        match self {
            AnySource::Odbc(s) => VisitSource::io(s),
            AnySource::Pg(s) => VisitSource::io(s),
        }
    }
}

impl VisitSource for PgAnalyticsSource {
    type Error = PgSourceError;

    fn begin_batch(&mut self, run_id: i64, batch: &str) -> Result<(), PgSourceError> {
        self.tag(run_id, batch)
    }

    fn visits(&mut self, scope: &BatchScope, ex: &Exclusions) -> Result<Vec<Visit>, PgSourceError> {
        PgAnalyticsSource::visits(self, scope, ex)
    }

    fn details(&mut self, ids: &[&str]) -> Result<HashMap<String, VisitDetails>, PgSourceError> {
        PgAnalyticsSource::details(self, ids.iter().copied())
    }

    fn ssn_prefixes(
        &mut self,
        window: &Window,
        len: usize,
    ) -> Result<Vec<(String, u64)>, PgSourceError> {
        PgAnalyticsSource::ssn_prefixes(self, window, len)
    }

    fn delta_keys(
        &mut self,
        since: NaiveDateTime,
        window: &Window,
    ) -> Result<Vec<Key>, PgSourceError> {
        PgAnalyticsSource::delta_keys(self, since, window)
    }

    fn events(
        &mut self,
        kind: EventKind,
        window: &Window,
        ex: &Exclusions,
    ) -> Result<Vec<SourcedEvent>, PgSourceError> {
        PgAnalyticsSource::events(self, kind, window, ex)
    }

    fn visits_near_events(
        &mut self,
        window: &Window,
        spans: &[conflict_core::inservice::EventSpan],
        ex: &Exclusions,
    ) -> Result<Vec<Visit>, PgSourceError> {
        PgAnalyticsSource::visits_near_events(self, window, spans, ex)
    }

    fn io(&self) -> crate::run::IoCounts {
        crate::run::IoCounts {
            warehouse_statements: self.statements,
            warehouse_rows_read: self.rows,
            ..Default::default()
        }
    }
}
