//! `conflicts run`: the nightly job against the analytics warehouse and the conflict database.
//!
//! Exit codes: 0 success; 1 failure (the run is recorded as failed and can be resumed);
//! 2 invalid arguments or configuration, or a preflight failure (a database unreachable, a
//! table or column missing, unusable settings: nothing was recorded); 3 another run holds the
//! run lock (nothing changed);
//! 4 interrupted by Ctrl-C/SIGTERM (resumable with `--resume`).

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::{anyhow, Context};
use clap::Args;
use conflict_core::Profile;
use conflict_io::analytics::{AnalyticsConfig, AnalyticsSchema, ConnectionString, Dialect};
use conflict_io::analytics_pg::{PgSourceConfig, SourceConfig};
use conflict_io::csv::CsvChangeSink;
use conflict_io::preflight::{preflight_source, PreflightOptions};
use conflict_io::run::{run_job, JobError, JobOptions, Mode, Outcome, RunParams, Start};
use conflict_io::store::{ConnInfo, SchemaNames};

use crate::config::{parse_lookback, parse_since, rule_options, FileConfig};
use crate::failure::{CliResult, Failure, EXIT_FAILURE, EXIT_INVALID};
use crate::progress::Progress;

pub const EXIT_LOCKED: u8 = 3;
pub const EXIT_INTERRUPTED: u8 = 4;

#[derive(Args)]
pub struct RunArgs {
    /// TOML configuration file (keys: pg, odbc, analytics_pg, conflict_schema, analytics_schema,
    /// analytics_dialect, scratch_schema, profile, workers, prefix_len, keys_per_batch, lookback_hours,
    /// lookback_years, lookforward_days, fetch_rows, prefilter, inservice, pto, [rules]).
    /// Flags and environment variables win over the file.
    #[arg(long, value_name = "FILE", env = "CONFLICTS_CONFIG")]
    pub config: Option<PathBuf>,
    /// Every regular conflict row of the window is in scope; new pairs are inserted and stale
    /// ones resolved.
    #[arg(long, conflicts_with = "incremental")]
    pub full: bool,
    /// Only keys with visits updated since the last successful run (default mode).
    #[arg(long)]
    pub incremental: bool,
    /// Incremental watermark (UTC): YYYY-MM-DDTHH:MM:SS[.ffffff][Z].
    #[arg(long, value_name = "TIMESTAMP", conflicts_with = "lookback")]
    pub since: Option<String>,
    /// Incremental look-back, e.g. 36h or 2d (default 36h, or the config's lookback_hours).
    #[arg(long, value_name = "DURATION")]
    pub lookback: Option<String>,
    /// Centre of the date window. Default: the date of the run timestamp (UTC).
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub as_of: Option<chrono::NaiveDate>,
    /// Rule profile, `current` or `classic` (default current).
    #[arg(long)]
    pub profile: Option<Profile>,
    /// PostgreSQL connection string of the conflict database (libpq key=value or URL).
    #[arg(
        long,
        value_name = "CONNINFO",
        env = "CONFLICTS_PG",
        hide_env_values = true
    )]
    pub pg: Option<String>,
    /// ODBC connection string of the analytics warehouse (driver by absolute path or DSN).
    #[arg(
        long,
        value_name = "CONNECTION_STRING",
        env = "CONFLICTS_ODBC",
        hide_env_values = true
    )]
    pub odbc: Option<String>,
    /// PostgreSQL connection string (libpq key=value or URL, TLS keys as for --pg) of analytics
    /// tables copied into PostgreSQL: read natively, without ODBC. Give it instead of --odbc
    /// (both at once are refused); it may name the conflict database's own server.
    #[arg(
        long,
        value_name = "CONNINFO",
        env = "CONFLICTS_ANALYTICS_PG",
        hide_env_values = true
    )]
    pub analytics_pg: Option<String>,
    /// Conflict schema name (default conflict).
    #[arg(long, value_name = "NAME", env = "CONFLICTS_CONFLICT_SCHEMA")]
    pub conflict_schema: Option<String>,
    /// Analytics schema name, may be qualified as DATABASE.SCHEMA (default analytics).
    #[arg(long, value_name = "NAME", env = "CONFLICTS_ANALYTICS_SCHEMA")]
    pub analytics_schema: Option<String>,
    /// SQL dialect of the analytics warehouse: snowflake or postgres (default: from the DBMS
    /// name the ODBC driver reports).
    #[arg(long, value_name = "DIALECT", env = "CONFLICTS_ANALYTICS_DIALECT")]
    pub analytics_dialect: Option<String>,
    /// Snowflake: schema for the temporary tables, may be qualified as DATABASE.SCHEMA
    /// (default: the session's current schema, set by Schema= in the connection string).
    #[arg(long, value_name = "NAME", env = "CONFLICTS_SCRATCH_SCHEMA")]
    pub scratch_schema: Option<String>,
    /// Batches processed at once (default: number of cores).
    #[arg(long, value_name = "N")]
    pub workers: Option<usize>,
    /// SSN prefix length of full-run batches (default: chosen from the data size).
    #[arg(long, value_name = "N")]
    pub prefix_len: Option<usize>,
    /// Compute and report what would change; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Shadow mode: write one CSV line per conflict row the run changes (or, with --dry-run,
    /// would change) to this file: action, ID, VisitID, ConVisitID, columns, old, new. The
    /// file appears when the run ends well; a failed or interrupted run leaves none.
    #[arg(long, value_name = "FILE")]
    pub changes_out: Option<PathBuf>,
    /// Also write the run report as JSON to this file.
    #[arg(long, value_name = "PATH")]
    pub report_json: Option<PathBuf>,
    /// Continue an interrupted or failed run (the latest one, or RUN_ID).
    #[arg(long, value_name = "RUN_ID", num_args = 0..=1, conflicts_with = "join")]
    pub resume: Option<Option<i64>>,
    /// Help a run started by another process (possibly on another machine).
    #[arg(long, value_name = "RUN_ID")]
    pub join: Option<i64>,
}

/// Where the visits are read from (one per run: the variants' sizes do not matter).
#[allow(clippy::large_enum_variant)]
enum SourceChoice {
    /// The warehouse over ODBC.
    Odbc(ConnectionString),
    /// Analytics tables in PostgreSQL, read natively.
    Pg(ConnInfo),
}

struct Resolved {
    pg: ConnInfo,
    source: SourceChoice,
    names: SchemaNames,
    analytics: AnalyticsSchema,
    dialect: Option<Dialect>,
    scratch: Option<AnalyticsSchema>,
    params: RunParams,
    job: JobOptions,
    fetch_rows: Option<usize>,
    prefilter: bool,
}

/// Renames the changes file into place after a complete run (or dry run); otherwise drops it
/// (its lines would cover only part of the run).
fn finish_changes(sink: &CsvChangeSink, outcome: Outcome) -> Result<(), Failure> {
    if !matches!(outcome, Outcome::Succeeded | Outcome::DryRun) {
        sink.discard();
        eprintln!(
            "changes file {} not written: the run did not complete",
            sink.path().display()
        );
        return Ok(());
    }
    let n = sink
        .finish()
        .map_err(|e| Failure::other(anyhow!("--changes-out: {e}")))?;
    eprintln!(
        "changes written to {}: {} insert, {} update, {} resolve",
        sink.path().display(),
        n.inserted,
        n.updated,
        n.resolved
    );
    Ok(())
}

fn invalid(e: impl Into<anyhow::Error>) -> Failure {
    Failure::invalid(e)
}

fn resolve(args: &RunArgs) -> Result<Resolved, Failure> {
    let file = match &args.config {
        Some(p) => FileConfig::load(p).map_err(invalid)?,
        None => FileConfig::default(),
    };
    let pg_text = args.pg.clone().or(file.pg.clone()).ok_or_else(|| {
        invalid(anyhow!(
            "no conflict database given: use --pg, CONFLICTS_PG or `pg` in the config file"
        ))
    })?;
    if pg_text.trim().is_empty() {
        return Err(invalid(anyhow!(
            "the PostgreSQL connection string is empty: set it with --pg, CONFLICTS_PG or `pg` \
             in the config file"
        )));
    }
    let pg = ConnInfo::parse(&pg_text).map_err(invalid)?;
    let source = source_choice(args, &file)?;
    let conflict_schema = args
        .conflict_schema
        .clone()
        .or(file.conflict_schema.clone())
        .unwrap_or_else(|| "conflict".into());
    let analytics_schema = args
        .analytics_schema
        .clone()
        .or(file.analytics_schema.clone())
        .unwrap_or_else(|| "analytics".into());
    let names = SchemaNames::new(&conflict_schema, &analytics_schema).map_err(invalid)?;
    let analytics = AnalyticsSchema::new(&analytics_schema).map_err(invalid)?;
    let dialect: Option<Dialect> = args
        .analytics_dialect
        .clone()
        .or(file.analytics_dialect.clone())
        .map(|d| d.parse())
        .transpose()
        .map_err(|e: String| invalid(anyhow!(e)))?;
    let scratch = args
        .scratch_schema
        .clone()
        .or(file.scratch_schema.clone())
        .map(|s| crate::sql::scratch_schema(&s))
        .transpose()?;
    let profile = match args.profile {
        Some(p) => p,
        None => file
            .profile
            .as_deref()
            .unwrap_or("current")
            .parse()
            .map_err(|e: String| invalid(anyhow!(e)))?,
    };
    let options = rule_options(profile, file.rules.as_ref()).map_err(invalid)?;
    let mode = if args.full {
        Mode::Full
    } else {
        Mode::Incremental
    };
    let since = args
        .since
        .as_deref()
        .map(parse_since)
        .transpose()
        .map_err(|e| invalid(anyhow!("--since: {e}")))?;
    let lookback_hours = match &args.lookback {
        Some(l) => parse_lookback(l).map_err(|e| invalid(anyhow!("--lookback: {e}")))?,
        None => file
            .lookback_hours
            .unwrap_or(RunParams::DEFAULT_LOOKBACK_HOURS),
    };
    if mode == Mode::Full && (since.is_some() || args.lookback.is_some()) {
        return Err(invalid(anyhow!(
            "--since and --lookback apply to incremental runs only"
        )));
    }
    let mut job = JobOptions::default();
    if let Some(w) = args.workers.or(file.workers) {
        if w == 0 {
            return Err(invalid(anyhow!("--workers must be at least 1")));
        }
        job.workers = w;
    }
    job.prefix_len = args.prefix_len.or(file.prefix_len);
    if let Some(k) = file.keys_per_batch {
        job.keys_per_batch = k.max(1);
    }
    if let Some(m) = file.max_visits_per_batch {
        job.max_visits_per_batch = m.max(1);
    }
    let params = RunParams {
        mode,
        profile,
        options,
        as_of: args.as_of,
        lookback_years: file
            .lookback_years
            .unwrap_or(conflict_core::Window::DEFAULT_LOOKBACK_YEARS),
        lookforward_days: file
            .lookforward_days
            .unwrap_or(conflict_core::Window::DEFAULT_LOOKFORWARD_DAYS),
        since,
        lookback_hours,
        dry_run: args.dry_run,
        inservice: file.inservice.unwrap_or(true),
        pto: file.pto.unwrap_or(false),
    };
    Ok(Resolved {
        pg,
        source,
        names,
        analytics,
        dialect,
        scratch,
        params,
        job,
        fetch_rows: file.fetch_rows,
        prefilter: file.prefilter.unwrap_or(true),
    })
}

/// The analytics source: `--odbc` or `--analytics-pg` (flags and environment variables win
/// over the file, as for every key). Naming both at the same level is refused rather than
/// resolved by a rule the operator would have to remember.
fn source_choice(args: &RunArgs, file: &FileConfig) -> Result<SourceChoice, Failure> {
    let (odbc, native, level) = match (&args.odbc, &args.analytics_pg) {
        (None, None) => (
            file.odbc.clone(),
            file.analytics_pg.clone(),
            "the config file",
        ),
        (o, n) => (o.clone(), n.clone(), "flags and environment"),
    };
    match (odbc, native) {
        (Some(_), Some(_)) => Err(invalid(anyhow!(
            "two analytics sources given in {level}: an ODBC connection string (--odbc, \
             CONFLICTS_ODBC, `odbc`) and a PostgreSQL one (--analytics-pg, \
             CONFLICTS_ANALYTICS_PG, `analytics_pg`); give only one"
        ))),
        (None, None) => Err(invalid(anyhow!(
            "no analytics source given: use --odbc, CONFLICTS_ODBC or `odbc` in the config file \
             (or, for analytics tables in PostgreSQL, --analytics-pg, CONFLICTS_ANALYTICS_PG or \
             `analytics_pg`)"
        ))),
        (Some(odbc), None) => {
            if ConnectionString::new(odbc.as_str()).is_blank() {
                return Err(invalid(anyhow!(
                    "the ODBC connection string is empty: set it with --odbc, CONFLICTS_ODBC or \
                     `odbc` in the config file"
                )));
            }
            Ok(SourceChoice::Odbc(ConnectionString::new(odbc)))
        }
        (None, Some(native)) => {
            if native.trim().is_empty() {
                return Err(invalid(anyhow!(
                    "the PostgreSQL analytics connection string is empty: set it with \
                     --analytics-pg, CONFLICTS_ANALYTICS_PG or `analytics_pg` in the config file"
                )));
            }
            ConnInfo::parse(&native)
                .map(SourceChoice::Pg)
                .map_err(|e| invalid(anyhow!("--analytics-pg: {e}")))
        }
    }
}

pub fn run(args: &RunArgs) -> CliResult {
    let r = resolve(args)?;
    let cancel = Arc::new(AtomicBool::new(false));
    {
        let cancel = cancel.clone();
        // A second signal is not special: running batches still commit or roll back.
        let _ = ctrlc::set_handler(move || {
            if !cancel.swap(true, Ordering::SeqCst) {
                eprintln!("\nstopping: no new batches are claimed; running batches finish");
            }
        });
    }
    // Created first: an unwritable target fails before anything is written to the database.
    let changes = args
        .changes_out
        .as_deref()
        .map(CsvChangeSink::create)
        .transpose()
        // One line: the error's own text already names the file and the OS's reason.
        .map_err(|e| invalid(anyhow!("--changes-out: {e}")))?
        .map(Arc::new);
    let source = match &r.source {
        SourceChoice::Odbc(odbc) => {
            let mut acfg = AnalyticsConfig::new(odbc.clone(), r.analytics.clone(), r.dialect);
            if let Some(n) = r.fetch_rows {
                acfg.fetch_rows = n.max(1);
            }
            acfg.prefilter = r.prefilter;
            acfg.scratch_schema = r.scratch.clone();
            SourceConfig::Odbc(acfg)
        }
        SourceChoice::Pg(conn) => SourceConfig::Pg(PgSourceConfig {
            conn: conn.clone(),
            schema: r.analytics.clone(),
            prefilter: r.prefilter,
        }),
    };
    // Before anything is written: a problem found here is one of configuration or connection,
    // with no run recorded and nothing to resume (exit code 2).
    let store = preflight_source(
        &r.pg,
        r.names.clone(),
        &source,
        &PreflightOptions {
            pool_size: r.job.workers as u32 + 2,
            inservice: r.params.inservice,
            pto: r.params.pto,
        },
    )
    .map_err(invalid)?;
    let store = match &changes {
        Some(sink) => store.with_changes(sink.clone()),
        None => store,
    };
    let make_source = || source.connect();
    let start = match (args.join, &args.resume) {
        (Some(id), _) => Start::Join(id),
        (None, Some(id)) => Start::Resume(*id),
        (None, None) => Start::New(r.params.clone()),
    };
    let progress = Progress::new();
    let result = run_job(
        &store,
        make_source,
        start,
        &r.params,
        &r.job,
        &cancel,
        &progress,
    );
    progress.finish();
    let result = match result {
        Ok(res) => res,
        Err(JobError::Locked) => {
            return Err(Failure {
                code: EXIT_LOCKED,
                error: anyhow!(JobError::Locked),
            })
        }
        Err(e @ JobError::JoinInterrupted(_)) => {
            return Err(Failure {
                code: EXIT_INTERRUPTED,
                error: anyhow!(e),
            })
        }
        Err(
            e @ (JobError::NoSuchRun(_)
            | JobError::NothingToResume
            | JobError::RunEnded { .. }
            | JobError::OwnerGone(_)),
        ) => {
            return Err(Failure {
                code: EXIT_INVALID,
                error: anyhow!(e),
            })
        }
        Err(e) => {
            return Err(Failure {
                code: EXIT_FAILURE,
                error: anyhow!(e).context("the run failed; it can be continued with --resume"),
            })
        }
    };
    eprint!("{}", crate::summary::render_run(&result.report));
    if !result.owner {
        eprintln!(
            "(this process's share of run {} only; the process that owns the run reports the \
             whole run)",
            result.report.run_id
        );
    }
    if let Some(sink) = &changes {
        finish_changes(sink, result.outcome)?;
    }
    if let Some(path) = &args.report_json {
        let text = serde_json::to_string_pretty(&result.report)
            .context("serialising the report")
            .map_err(Failure::other)?;
        std::fs::write(path, text + "\n")
            .with_context(|| format!("writing {}", path.display()))
            .map_err(Failure::other)?;
    }
    match result.outcome {
        Outcome::Interrupted => Err(Failure {
            code: EXIT_INTERRUPTED,
            error: anyhow!(
                "interrupted; continue with `conflicts run --resume {}`",
                result.report.run_id
            ),
        }),
        _ => Ok(()),
    }
}
