//! `conflicts db …`: administration of the conflict database.
//!
//! * `conflicts db init --pg <conninfo> [--schema NAME]` creates the conflict schema of
//!   schema.sql (tables, columns, indexes) in one transaction; running it again changes nothing.
//! * `conflicts db check --pg <conninfo> [--schema NAME]` runs the start-up check of schema.md
//!   §1 and lists every missing table or column.
//!
//! The connection string falls back to `CONFLICTS_PG`, the schema name to
//! `CONFLICTS_CONFLICT_SCHEMA` (default `conflict`). The connection string is kept as raw text
//! until `run` parses it, so that neither clap's error messages nor `--help` can echo it (it may
//! hold a password); everything printed about the target uses the redacted form.

use anyhow::Context;
use clap::{Args, Subcommand};
use conflict_io::store::{self, ConnInfo, SchemaNames, StoreError};

use crate::failure::{EXIT_FAILURE, EXIT_INVALID};

#[derive(Args)]
pub struct DbArgs {
    #[command(subcommand)]
    pub command: DbCommand,
}

#[derive(Subcommand)]
pub enum DbCommand {
    /// Create the conflict schema (tables, columns, indexes); safe to run again.
    Init(Target),
    /// Check that every table and column the tool needs exists.
    Check(Target),
}

/// Where the conflict schema lives.
#[derive(Args)]
pub struct Target {
    /// PostgreSQL connection string (libpq key=value or postgresql:// URL).
    #[arg(
        long,
        value_name = "CONNINFO",
        env = "CONFLICTS_PG",
        hide_env_values = true
    )]
    pub pg: String,
    /// Name of the conflict schema.
    #[arg(
        long,
        value_name = "NAME",
        env = "CONFLICTS_CONFLICT_SCHEMA",
        default_value = "conflict"
    )]
    pub schema: String,
}

// Hand-written so that debug output can never show the connection string.
impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Target")
            .field("pg", &"<redacted>")
            .field("schema", &self.schema)
            .finish()
    }
}

pub fn run(args: &DbArgs) -> anyhow::Result<()> {
    match &args.command {
        DbCommand::Init(target) => init(target),
        DbCommand::Check(target) => check(target),
    }
}

/// Exit code for an error returned by [`run`]: 2 for configuration errors (bad schema name,
/// bad connection string or TLS settings, a server certificate that is not accepted, missing
/// tables or columns), 1 for everything else.
pub fn exit_code(error: &anyhow::Error) -> u8 {
    match error.downcast_ref::<StoreError>() {
        Some(
            StoreError::InvalidIdentifier { .. }
            | StoreError::InvalidConnInfo { .. }
            | StoreError::TlsConfig { .. }
            | StoreError::TlsHandshake { .. }
            | StoreError::MissingObjects { .. },
        ) => EXIT_INVALID,
        _ => EXIT_FAILURE,
    }
}

/// The analytics name is not used by these commands; the default only fills the struct.
fn names(target: &Target) -> Result<SchemaNames, StoreError> {
    SchemaNames::new(&target.schema, "analytics")
}

fn init(target: &Target) -> anyhow::Result<()> {
    let names = names(target)?;
    let conn = ConnInfo::parse(&target.pg)?;
    let mut client = store::connect(&conn)?;
    store::init_schema(&mut client, &names)?;
    // The check after creation catches a pre-existing table that lacks columns: IF NOT EXISTS
    // leaves such a table as it is.
    let info = store::check_schema(&mut client, &names).with_context(|| {
        format!(
            "schema {:?} exists but is incomplete",
            names.conflict.as_str()
        )
    })?;
    eprintln!(
        "conflict schema {} is ready on {conn} ({} varchar columns checked)",
        names.conflict.quoted(),
        info.varchar_columns()
    );
    Ok(())
}

fn check(target: &Target) -> anyhow::Result<()> {
    let names = names(target)?;
    let conn = ConnInfo::parse(&target.pg)?;
    let mut client = store::connect(&conn)?;
    let info = store::check_schema(&mut client, &names)?;
    eprintln!(
        "conflict schema {} on {conn} has every table and column the tool needs ({} varchar \
         columns)",
        names.conflict.quoted(),
        info.varchar_columns()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::hash::{BuildHasher, Hasher};

    use clap::{CommandFactory, Parser};

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(subcommand)]
        command: DbCommand,
    }

    fn test_pg() -> String {
        match std::env::var("CONFLICTS_TEST_PG") {
            Ok(s) if !s.trim().is_empty() => s,
            _ => panic!("set CONFLICTS_TEST_PG or run scripts/test.sh"),
        }
    }

    fn unique_schema() -> String {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos(),
        );
        format!("conflict_cli_t_{:016x}", h.finish())
    }

    fn args(command: fn(Target) -> DbCommand, pg: &str, schema: &str) -> DbArgs {
        DbArgs {
            command: command(Target {
                pg: pg.to_string(),
                schema: schema.to_string(),
            }),
        }
    }

    /// Drops the schema when the test ends, also on panic.
    struct DropSchema(String);

    impl Drop for DropSchema {
        fn drop(&mut self) {
            let conn = ConnInfo::parse(&test_pg()).unwrap();
            let mut c = store::connect(&conn).unwrap();
            c.batch_execute(&format!("DROP SCHEMA IF EXISTS \"{}\" CASCADE", self.0))
                .unwrap();
        }
    }

    #[test]
    fn arguments_parse_with_env_fallbacks_declared() {
        let cli =
            Cli::try_parse_from(["db", "init", "--pg", "host=h", "--schema", "c_dev"]).unwrap();
        match cli.command {
            DbCommand::Init(t) => {
                assert_eq!(t.pg, "host=h");
                assert_eq!(t.schema, "c_dev");
            }
            DbCommand::Check(_) => panic!("parsed as check"),
        }
        let cmd = Cli::command();
        let init = cmd.find_subcommand("init").unwrap();
        let env_of = |id: &str| {
            init.get_arguments()
                .find(|a| a.get_id() == id)
                .and_then(|a| a.get_env())
                .map(|e| e.to_string_lossy().into_owned())
        };
        assert_eq!(env_of("pg").as_deref(), Some("CONFLICTS_PG"));
        assert_eq!(
            env_of("schema").as_deref(),
            Some("CONFLICTS_CONFLICT_SCHEMA")
        );
        Cli::command().debug_assert();
    }

    #[test]
    fn debug_output_hides_the_connection_string() {
        let t = Target {
            pg: "host=h password=s3cret".into(),
            schema: "conflict".into(),
        };
        assert!(!format!("{t:?}").contains("s3cret"));
    }

    #[test]
    fn init_creates_the_schema_and_is_idempotent() {
        let schema = unique_schema();
        let _cleanup = DropSchema(schema.clone());
        let pg = test_pg();
        // `check` fails on the empty database with a configuration error …
        let err = run(&args(DbCommand::Check, &pg, &schema)).unwrap_err();
        assert_eq!(exit_code(&err), EXIT_INVALID, "{err:#}");
        // … init creates everything, twice without harm, and check then passes.
        run(&args(DbCommand::Init, &pg, &schema)).unwrap();
        run(&args(DbCommand::Init, &pg, &schema)).unwrap();
        run(&args(DbCommand::Check, &pg, &schema)).unwrap();
        let conn = ConnInfo::parse(&pg).unwrap();
        let mut c = store::connect(&conn).unwrap();
        let tables: i64 = c
            .query_one(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = $1",
                &[&schema],
            )
            .unwrap()
            .get(0);
        assert_eq!(tables, 7);
    }

    #[test]
    fn a_bad_schema_name_is_a_configuration_error_before_connecting() {
        // The port is closed: the name must be refused before any connection is tried.
        let err = run(&args(
            DbCommand::Init,
            "host=127.0.0.1 port=1 user=u",
            "conflict; drop",
        ))
        .unwrap_err();
        assert_eq!(exit_code(&err), EXIT_INVALID);
        assert!(format!("{err:#}").contains("conflict; drop"), "{err:#}");
    }

    #[test]
    fn a_server_that_is_down_fails_without_showing_the_password() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let pg = format!("host=127.0.0.1 port={port} user=u password=Very-s3cret dbname=d");
        let started = std::time::Instant::now();
        let err = run(&args(DbCommand::Init, &pg, "conflict")).unwrap_err();
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
        assert_eq!(exit_code(&err), EXIT_FAILURE);
        let shown = format!("{err:#} {err:?}");
        assert!(!shown.contains("Very-s3cret"), "{shown}");
        assert!(shown.contains(&format!("port={port}")), "{shown}");
    }
}
