//! The PostgreSQL conflict store: connections, schema creation and checks, reference data.
//!
//! * [`config`]: validated schema names ([`SchemaNames`]) and the parsed, redacting
//!   connection string ([`ConnInfo`]).
//! * [`pool`]: single connections and the r2d2 [`Pool`] (one connection at start, up to the
//!   number of workers); every connection uses `TimeZone = 'UTC'`.
//! * [`schema`]: [`init_schema`] (`conflicts db init`), [`init_analytics_schema`] (tests) and
//!   the start-up check [`check_schema`].
//! * [`schema_plan`]: what an existing (legacy) conflict schema lacks and the statements that
//!   add it, never touching existing rows ([`review_plan`] for `--print-sql` and `db check`,
//!   [`ensure_tool_tables`] at run start); [`ddl_items`] splits the DDL script into objects.
//! * [`demo`]: synthetic analytics data and a legacy-shaped conflict schema in a PostgreSQL
//!   the user names (`conflicts generate --pg`).
//! * [`reference`]: X, speed bands and exclusions ([`load_reference`]).
//! * [`stored_rows`]: control columns of stored CVM rows by batch scope or pair key, conflict
//!   ids per primary visit; large key sets go through temporary tables loaded with binary COPY.
//! * `pg_store`: [`PgStore`], the `ConflictStore` of the job: pool, run lock, ledger and
//!   the batch writer ([`writer`]: one transaction per batch; [`cvm_row`] builds the written
//!   values of a pair, [`batch_plan`] decides per row with `conflict_core::plan`, and the
//!   private `pair_table`, `row_writes` and `conflict_rows` carry the decisions out with
//!   binary COPY into temporary tables and set-based statements).
//! * [`runs`] and [`ledger`]: `detection_runs`, the run lock, and the per-batch ledger.
//! * [`tls_options`] and [`tls`]: the TLS settings of the connection string and the connector
//!   built from them (see "TLS" below).
//! * [`error`]: the [`StoreError`] enum.
//!
//! # Connection strings and credentials
//!
//! The connection string is a libpq `key=value` string or a `postgresql://` URL. It is parsed
//! once into a [`ConnInfo`]; its `Display`/`Debug` show host, port, user, database and sslmode
//! only (a password is shown as `***`), and every error that names the target uses that form.
//! A connect timeout of [`DEFAULT_CONNECT_TIMEOUT`] is added when the string sets none, so a
//! server that is down fails the run within seconds.
//!
//! # TLS
//!
//! Every connection the tool opens to the conflict database (single clients and each pooled
//! connection) goes through the TLS connector that [`ConnInfo::parse`] builds, with libpq's
//! semantics for `sslmode` (`disable`, `allow`, `prefer` (the default), `require`,
//! `verify-ca`, `verify-full`), `sslrootcert` (PEM file of trusted CAs; libpq's default
//! `~/.postgresql/root.crt` when it exists) and the optional client certificate
//! `sslcert`/`sslkey` (PEM). The driver's own parser knows none of these but the plain modes,
//! so [`tls_options`] takes them out of the string (key=value or URL query) first; [`tls`]
//! builds the connector and names a failed handshake's cause ([`StoreError::TlsHandshake`]:
//! unknown issuer, name mismatch, expired, …). File problems are found while parsing
//! ([`StoreError::TlsConfig`]), before any connection.
//!
//! The connector is rustls with the `ring` crypto provider (through `tokio-postgres-rustls`):
//! it needs neither the system's OpenSSL nor cmake, so the tool builds the same everywhere and
//! the certificate checks do not depend on the host's OpenSSL configuration. Not supported:
//! `sslrootcert=system`, encrypted client keys (`sslpassword`), `sslcrl`, and the `PGSSL*`
//! environment variables; `allow` behaves as `prefer`.

mod batch_plan;
mod cell;
mod change_capture;
mod config;
mod conflict_rows;
mod copy_binary;
mod counters;
mod cvm_row;
mod ddl;
mod ddl_items;
mod demo;
mod error;
mod event_digests;
mod event_writer;
mod key_tables;
// Internal; reachable from outside only through `testing` (feature `test-support`).
mod ledger;
#[cfg(test)]
mod lifecycle_props;
mod pair_columns;
mod pair_table;
mod pg_store;
mod pool;
mod reference;
mod row_writes;
mod runs;
mod schema;
mod schema_plan;
mod stored_rows;
mod tls;
mod tls_options;
mod uuid_param;
mod writer;

pub use crate::run::Reference;
pub use config::{ConnInfo, Identifier, QualifiedName, SchemaNames, DEFAULT_CONNECT_TIMEOUT};
pub use demo::{load_demo, plain_conninfo, psqlodbc_string, DemoError, LegacyPair};
pub use error::StoreError;
pub use pg_store::PgStore;
pub use pool::{connect, Pool, PoolOptions, PooledClient};
pub use reference::load_reference;
pub use runs::lock_key;
pub use schema::{
    check_deployment_schema, check_schema, init_analytics_schema, init_schema, SchemaInfo,
};
pub use schema_plan::PAIR_INDEX;
pub use schema_plan::{ensure_tool_tables, review_plan, DuplicateKeys, SchemaPlan, Step};
pub use stored_rows::CvmControlRow;
pub use tls::Verification;
pub use tls_options::TlsMode;
pub use uuid_param::UuidParam;
pub use writer::BatchHook;

/// Store internals that this crate's integration tests and benchmarks drive directly against a
/// real PostgreSQL (feature `test-support`). Not part of the API: they may change at any time.
#[cfg(feature = "test-support")]
#[doc(hidden)]
#[allow(missing_docs)] // internals, documented where they are defined for maintainers
pub mod testing {
    /// The DDL of every table (`docs/tables.md`).
    pub mod ddl {
        pub use crate::store::ddl::{analytics_tables, conflict_tables};
    }
    /// The per-batch ledger.
    pub mod ledger {
        pub use crate::store::ledger::*;
    }
    /// The readers of the reference tables.
    pub mod reference {
        pub use crate::store::reference::*;
    }
    /// Reads of stored CVM rows.
    pub mod stored_rows {
        pub use crate::store::stored_rows::*;
    }
}
