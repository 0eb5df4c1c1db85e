//! The PostgreSQL conflict store: connections, schema creation and checks, reference data.
//!
//! * [`config`]: validated schema names ([`SchemaNames`]) and the parsed, redacting
//!   connection string ([`ConnInfo`]).
//! * [`pool`]: single connections and the r2d2 [`Pool`] (one connection at start, up to the
//!   number of workers); every connection uses `TimeZone = 'UTC'`.
//! * [`schema`]: [`init_schema`] (`conflicts db init`), [`init_analytics_schema`] (tests) and
//!   the start-up check [`check_schema`].
//! * [`reference`]: X, speed bands and exclusions ([`load_reference`]).
//! * [`stored_rows`]: control columns of stored CVM rows by batch scope or pair key, conflict
//!   ids per primary visit; large key sets go through temporary tables loaded with binary COPY.
//! * `pg_store`: [`PgStore`], the `ConflictStore` of the job: pool, run lock, ledger and
//!   the batch writer ([`writer`]: one transaction per batch; [`cvm_row`] builds the written
//!   values of a pair, [`batch_plan`] decides per row with `conflict_core::plan`, and the
//!   private `pair_table`, `row_writes` and `conflict_rows` carry the decisions out with
//!   binary COPY into temporary tables and set-based statements).
//! * [`runs`] and [`ledger`]: `detection_runs`, the run lock, and the per-batch ledger.
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
//! This build connects without TLS (`postgres::NoTls`):
//!
//! * `sslmode=disable` and `sslmode=prefer` (libpq's default) connect in plain text; `prefer`
//!   cannot upgrade because no TLS implementation is compiled in.
//! * `sslmode=require` is refused when the connection string is parsed
//!   ([`StoreError::TlsUnavailable`]) rather than failing later at connect time.
//! * `verify-ca` / `verify-full` are not understood by the driver's parser and are reported as
//!   an invalid connection string.
//!
//! To enable TLS, a deployment adds a TLS connector crate (`postgres-native-tls` or
//! `postgres-openssl`, which need the system's OpenSSL headers, `libssl-dev` on Debian) behind
//! a cargo feature of this crate and passes its connector where [`pool`] passes `NoTls`;
//! certificate verification is then configured on that connector (root certificates), not in
//! the connection string. Until then, reach a remote server over a trusted network or through
//! a local TLS tunnel (for example `stunnel` or an SSH port forward) and point `host`/`port` at
//! the tunnel's local end.

pub mod batch_plan;
mod cell;
mod change_capture;
pub mod config;
mod conflict_rows;
pub mod cvm_row;
pub mod ddl;
pub mod error;
pub mod event_writer;
mod key_tables;
pub mod ledger;
mod pair_table;
mod pg_store;
pub mod pool;
pub mod reference;
mod row_writes;
pub mod runs;
pub mod schema;
pub mod stored_rows;
pub mod uuid_param;
pub mod writer;

pub use config::{ConnInfo, Identifier, QualifiedName, SchemaNames, DEFAULT_CONNECT_TIMEOUT};
pub use error::StoreError;
pub use pg_store::PgStore;
pub use pool::{connect, Pool, PoolOptions, PooledClient};
pub use reference::{load_reference, Reference};
pub use schema::{check_schema, init_analytics_schema, init_schema, SchemaInfo};
pub use stored_rows::CvmControlRow;
pub use uuid_param::UuidParam;
