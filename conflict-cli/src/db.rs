//! `conflicts db …`: administration of the conflict database.
//!
//! * `conflicts db init --pg <conninfo> [--schema NAME] [--print-sql]` creates the conflict
//!   schema of schema.sql, or adds to an existing (legacy) one only what it lacks, in one
//!   transaction; it never changes an existing row and never fails because of legacy data (the
//!   unique pair index is skipped, with a warning, while keys are duplicated). `--print-sql`
//!   prints the statements instead of running them, for a DBA to review.
//! * `conflicts db check --pg <conninfo> [--schema NAME]` runs the start-up check of docs/tables.md
//!   §1, lists every missing table or column with the command that adds them, and notes
//!   duplicate keys.
//!
//! The connection string falls back to `CONFLICTS_PG`, the schema name to
//! `CONFLICTS_CONFLICT_SCHEMA` (default `conflict`). The connection string is kept as raw text
//! until `run` parses it, so that neither clap's error messages nor `--help` can echo it (it may
//! hold a password); everything printed about the target uses the redacted form.

use anyhow::Context;
use clap::{Args, Subcommand};
use conflict_io::store::{self, ConnInfo, DuplicateKeys, SchemaNames, StoreError};

use crate::failure::{EXIT_FAILURE, EXIT_INVALID};

#[derive(Args)]
pub struct DbArgs {
    #[command(subcommand)]
    pub command: DbCommand,
}

#[derive(Subcommand)]
pub enum DbCommand {
    /// Create the conflict schema, or add to an existing one what it lacks (tables, columns,
    /// indexes); never changes existing rows; safe to run again.
    Init(InitArgs),
    /// Check that every table and column the tool needs exists.
    Check(Target),
}

/// `db init` options.
#[derive(Args, Debug)]
pub struct InitArgs {
    #[command(flatten)]
    pub target: Target,
    /// Print the SQL that would be run on this database (only what is missing) and change
    /// nothing.
    #[arg(long)]
    pub print_sql: bool,
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
        DbCommand::Init(a) if a.print_sql => print_sql(&a.target),
        DbCommand::Init(a) => init(&a.target),
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
    let plan = store::init_schema(&mut client, &names)?;
    let schema = names.conflict.quoted();
    if plan.steps.is_empty() {
        eprintln!("conflict schema {schema} on {conn}: nothing to do, nothing is missing");
    } else {
        eprintln!(
            "conflict schema {schema} on {conn}: added {} object(s):",
            plan.steps.len()
        );
        for step in &plan.steps {
            eprintln!("  {}", step.what);
        }
    }
    if let Some(d) = &plan.duplicates {
        eprintln!("{}", duplicates_warning(&names, d));
    }
    // A table that existed before init keeps whatever types it had; the check confirms that
    // everything the tool needs is now there.
    let info = store::check_schema(&mut client, &names).with_context(|| {
        format!(
            "schema {:?} exists but is incomplete",
            names.conflict.as_str()
        )
    })?;
    eprintln!(
        "conflict schema {schema} is ready ({} varchar columns checked)",
        info.varchar_columns()
    );
    Ok(())
}

fn print_sql(target: &Target) -> anyhow::Result<()> {
    let names = names(target)?;
    let conn = ConnInfo::parse(&target.pg)?;
    let mut client = store::connect(&conn)?;
    let plan = store::review_plan(&mut client, &names)?;
    if plan.steps.is_empty() {
        eprintln!(
            "conflict schema {} on {conn}: nothing is missing, no SQL to run",
            names.conflict.quoted()
        );
    } else {
        // stdout, so that it can be redirected to a file and reviewed or run with psql.
        print!(
            "-- conflicts db init for schema {} on {conn}\n{}",
            names.conflict.quoted(),
            plan.script()
        );
    }
    if let Some(d) = &plan.duplicates {
        eprintln!("{}", duplicates_warning(&names, d));
    }
    Ok(())
}

/// The warning for legacy duplicate keys: how many, three examples, the query that lists them
/// all, and why it is not an error.
fn duplicates_warning(names: &SchemaNames, d: &DuplicateKeys) -> String {
    let cvm = names.conflict_table("conflictvisitmaps");
    let mut s = format!(
        "warning: {} (VisitID, ConVisitID) key(s) of {cvm} are held by more than one row, so the \
         unique index {} is not created; runs update every row of such a key and warn \
         duplicate_cvm_key (docs/lifecycle.md §3). Examples:",
        d.keys,
        store::PAIR_INDEX
    );
    for k in &d.examples {
        s += &format!(
            "\n  VisitID {} ConVisitID {} ({} rows)",
            k.visit_id, k.con_visit_id, k.rows
        );
    }
    s += &format!(
        "\nList them all with:\n  {}\nOnce they are merged, `conflicts db init` creates the index.",
        d.list_sql
    );
    s
}

fn check(target: &Target) -> anyhow::Result<()> {
    let names = names(target)?;
    let conn = ConnInfo::parse(&target.pg)?;
    let mut client = store::connect(&conn)?;
    let plan = store::review_plan(&mut client, &names)?;
    let fix = format!(
        "conflicts db init --schema {} (review the SQL first with `conflicts db init --schema {} \
         --print-sql`)",
        names.conflict.as_str(),
        names.conflict.as_str()
    );
    let checked = store::check_deployment_schema(&mut client, &names);
    // Everything else init would add: optional columns, indexes, the tool's own tables.
    let others: Vec<_> = plan
        .steps
        .iter()
        .filter(|s| !s.what.starts_with("default of"))
        .collect();
    if let Some(d) = &plan.duplicates {
        eprintln!(
            "note: {}",
            duplicates_warning(&names, d).trim_start_matches("warning: ")
        );
    }
    let info = match checked {
        Ok(info) => info,
        Err(StoreError::MissingObjects { schema, missing }) => {
            eprintln!(
                "conflict schema {:?} on {conn} lacks what the tool needs:",
                schema
            );
            for m in &missing {
                eprintln!("  missing: {m}");
            }
            eprintln!("fix: {fix}");
            return Err(anyhow::Error::new(StoreError::MissingObjects {
                schema,
                missing,
            }));
        }
        Err(e) => return Err(e.into()),
    };
    eprintln!(
        "conflict schema {} on {conn} has every table and column the tool needs ({} varchar \
         columns)",
        names.conflict.quoted(),
        info.varchar_columns()
    );
    if !others.is_empty() {
        eprintln!("note: `conflicts db init` would also add (the tool's own tables are otherwise created by the first run):");
        for s in others {
            eprintln!("  {}", s.what);
        }
        eprintln!("  with: {fix}");
    }
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

    fn init_cmd(target: Target) -> DbCommand {
        DbCommand::Init(InitArgs {
            target,
            print_sql: false,
        })
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
            DbCommand::Init(a) => {
                assert_eq!(a.target.pg, "host=h");
                assert_eq!(a.target.schema, "c_dev");
                assert!(!a.print_sql);
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
        run(&args(init_cmd, &pg, &schema)).unwrap();
        run(&args(init_cmd, &pg, &schema)).unwrap();
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
        // The six tables of schema.sql, detection_runs, the run ledger and the in-service
        // event bookkeeping (docs/tables.md §7.1).
        assert_eq!(tables, 9);
    }

    #[test]
    fn a_bad_schema_name_is_a_configuration_error_before_connecting() {
        // The port is closed: the name must be refused before any connection is tried.
        let err = run(&args(
            init_cmd,
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
        let err = run(&args(init_cmd, &pg, "conflict")).unwrap_err();
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
        assert_eq!(exit_code(&err), EXIT_FAILURE);
        let shown = format!("{err:#} {err:?}");
        assert!(!shown.contains("Very-s3cret"), "{shown}");
        assert!(shown.contains(&format!("port={port}")), "{shown}");
    }
}
