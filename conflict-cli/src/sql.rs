//! `conflicts sql`: prints every statement the analytics source can send in a run, in the
//! order a run sends them, each after a `--` comment saying what it is for. Needs no
//! connection: warehouse administrators review exactly this before granting access. The list
//! itself comes from `conflict_io::analytics::statements`; this file only parses the flags.

use anyhow::anyhow;
use clap::{Args, ValueEnum};
use conflict_io::analytics::statements::{render, run_statements, ListOptions};
use conflict_io::analytics::{AnalyticsSchema, Dialect, DEFAULT_INSERT_ROWS};
use conflict_io::run::Mode;
use std::io::Write;

use crate::failure::{CliResult, Failure};

#[derive(Args)]
pub struct SqlArgs {
    /// SQL dialect of the analytics warehouse.
    #[arg(long, value_enum, default_value = "snowflake")]
    pub dialect: DialectArg,
    /// The run mode whose statements are listed.
    #[arg(long, value_enum, default_value = "incremental")]
    pub mode: ModeArg,
    /// Analytics schema name, may be qualified as DATABASE.SCHEMA.
    #[arg(long, value_name = "NAME", default_value = "analytics")]
    pub analytics_schema: String,
    /// Snowflake: schema of the temporary tables (default: the session's current schema).
    #[arg(long, value_name = "NAME")]
    pub scratch_schema: Option<String>,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum DialectArg {
    Snowflake,
    Postgres,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum ModeArg {
    Full,
    Incremental,
}

/// A validated scratch schema name (same rules as the analytics schema).
pub fn scratch_schema(name: &str) -> Result<AnalyticsSchema, Failure> {
    AnalyticsSchema::new(name).map_err(|_| {
        Failure::invalid(anyhow!(
            "scratch schema {name:?} is not a valid name: each part must match \
             ^[A-Za-z_][A-Za-z0-9_]{{0,62}}$, at most DATABASE.SCHEMA"
        ))
    })
}

pub fn run(args: &SqlArgs) -> CliResult {
    let schema = AnalyticsSchema::new(&args.analytics_schema).map_err(Failure::invalid)?;
    let scratch = args
        .scratch_schema
        .as_deref()
        .map(scratch_schema)
        .transpose()?;
    let options = ListOptions {
        dialect: match args.dialect {
            DialectArg::Snowflake => Dialect::Snowflake,
            DialectArg::Postgres => Dialect::Postgres,
        },
        mode: match args.mode {
            ModeArg::Full => Mode::Full,
            ModeArg::Incremental => Mode::Incremental,
        },
        schema,
        scratch,
        prefilter: true,
        insert_rows: DEFAULT_INSERT_ROWS,
    };
    let text = render(&run_statements(&options));
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        // `conflicts sql | head` closes the pipe early: not an error of ours.
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(Failure::other(anyhow!("writing the statements: {e}")))
        }
        _ => Ok(()),
    }
}
