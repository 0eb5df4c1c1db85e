//! Connections to the conflict database: single clients and an r2d2 pool.
//!
//! Every connection runs `SET TimeZone = 'UTC'` before it is used (docs/tables.md §1). Connecting
//! fails fast: the connection string always carries a connect timeout (see
//! [`DEFAULT_CONNECT_TIMEOUT`](super::DEFAULT_CONNECT_TIMEOUT)), a pool is only built after one
//! direct connection succeeded (so "connection refused" or a failed login is reported at once,
//! with the server's SQLSTATE, instead of after r2d2's retry loop), and waiting for a pooled
//! connection is bounded by [`PoolOptions::connection_timeout`].

use std::time::Duration;

use postgres::Client;
use r2d2::{CustomizeConnection, PooledConnection};
use r2d2_postgres::PostgresConnectionManager;
use tokio_postgres_rustls::MakeRustlsConnect;

use super::config::ConnInfo;
use super::error::StoreError;
use super::tls;

/// Every pooled connection negotiates TLS as the connection string says (the connector is the
/// one [`ConnInfo`] built; `sslmode=disable` never calls it).
type Manager = PostgresConnectionManager<MakeRustlsConnect>;

/// A connection checked out of a [`Pool`]; derefs to [`postgres::Client`].
pub type PooledClient = PooledConnection<Manager>;

/// Run once per session, before anything else. `temp_buffers` (a session's memory for its
/// temporary tables, 8 MB by default) can only change before the first temporary table: a
/// batch's side and pair tables hold about 1.5 kB a visit and 0.1 kB a pair (some 10 MB for
/// 12,000 pairs of 6,000 visits, at most ~3 kB a pair), and at the default every statement of
/// the batch read them back from a temporary file. Pages are taken only as a session's
/// temporary tables grow, so small batches use no more memory than before.
const SESSION_SETUP: &str = "SET TimeZone = 'UTC'; SET temp_buffers = '128MB'";

/// Size and patience of a [`Pool`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolOptions {
    /// Upper bound of open connections: the number of parallel batch workers (at least 1).
    pub workers: u32,
    /// How long building the pool or checking out a connection may wait.
    pub connection_timeout: Duration,
}

impl Default for PoolOptions {
    fn default() -> Self {
        PoolOptions {
            workers: 1,
            connection_timeout: Duration::from_secs(5),
        }
    }
}

/// Opens one connection with the session set up (UTC), with TLS as the connection string
/// says.
pub fn connect(conn: &ConnInfo) -> Result<Client, StoreError> {
    let mut client = conn
        .config()
        .connect(conn.tls_connector())
        .map_err(|e| connect_error(conn, &e))?;
    client
        .batch_execute(SESSION_SETUP)
        .map_err(|e| StoreError::db("set the session time zone", None, e))?;
    Ok(client)
}

/// A pool that starts with one connection and grows on demand up to `workers`.
#[derive(Clone)]
pub struct Pool {
    pool: r2d2::Pool<Manager>,
    /// Redacted target, for error messages.
    target: String,
    timeout: Duration,
}

impl Pool {
    /// Opens the pool (one connection now, more on demand up to the options' maximum).
    pub fn build(conn: &ConnInfo, options: &PoolOptions) -> Result<Self, StoreError> {
        // The probe turns the common failures (down, refused, bad login) into an immediate,
        // precise error; r2d2 alone would retry silently until its timeout.
        drop(connect(conn)?);
        let manager = PostgresConnectionManager::new(conn.config().clone(), conn.tls_connector());
        let pool = r2d2::Pool::builder()
            .min_idle(Some(1))
            .max_size(options.workers.max(1))
            .connection_timeout(options.connection_timeout)
            .connection_customizer(Box::new(SessionSetup))
            .build(manager)
            .map_err(|e| StoreError::Connect {
                target: conn.to_string(),
                sqlstate: None,
                message: e.to_string(),
            })?;
        Ok(Pool {
            pool,
            target: conn.to_string(),
            timeout: options.connection_timeout,
        })
    }

    /// Checks out a connection, waiting at most the configured connection timeout.
    pub fn get(&self) -> Result<PooledClient, StoreError> {
        self.pool.get().map_err(|e| StoreError::Connect {
            target: self.target.clone(),
            sqlstate: None,
            message: format!("no pooled connection within {:?}: {e}", self.timeout),
        })
    }

    /// Largest number of connections the pool opens.
    pub fn max_size(&self) -> u32 {
        self.pool.max_size()
    }

    /// Connections currently open (idle or checked out).
    pub fn connections(&self) -> u32 {
        self.pool.state().connections
    }
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("target", &self.target)
            .field("max_size", &self.pool.max_size())
            .finish()
    }
}

#[derive(Debug)]
struct SessionSetup;

impl CustomizeConnection<Client, postgres::Error> for SessionSetup {
    fn on_acquire(&self, client: &mut Client) -> Result<(), postgres::Error> {
        client.batch_execute(SESSION_SETUP)
    }
}

fn connect_error(conn: &ConnInfo, e: &postgres::Error) -> StoreError {
    if let Some(problem) = tls::handshake_problem(e, conn.verification()) {
        return StoreError::TlsHandshake {
            target: conn.to_string(),
            problem,
        };
    }
    // A server-side refusal (bad password, unknown database) has a message and SQLSTATE of its
    // own; anything else (refused, timeout, DNS) is described by the error itself.
    let (message, sqlstate) = match e.as_db_error() {
        Some(db) => (
            format!("{}: {}", db.severity(), db.message()),
            Some(db.code().code().to_string()),
        ),
        None => (with_causes(e), None),
    };
    StoreError::Connect {
        target: conn.to_string(),
        sqlstate,
        message,
    }
}

/// "error connecting to server: Connection refused (os error 111)": the driver's top-level
/// message alone does not say why.
fn with_causes(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}
