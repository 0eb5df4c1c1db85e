//! `conflicts generate`: realistic synthetic data to try the tool at any scale.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{anyhow, Context};
use clap::{Args, ValueEnum};
use conflict_synth::{generate, IdStyle, SynthConfig};

use crate::failure::{CliResult, Failure};

#[derive(Args)]
pub struct GenerateArgs {
    /// Output directory (created if missing); visits.csv and mph.csv are written into it.
    #[arg(
        long,
        value_name = "DIR",
        required_unless_present = "pg",
        conflicts_with = "pg"
    )]
    pub out: Option<PathBuf>,
    /// Instead of files: load the visits into analytics tables of a PostgreSQL database, with
    /// a conflict schema shaped like a real deployment next to them, to try `conflicts run`
    /// (libpq key=value or postgresql:// URL; never read from the environment, so that a
    /// production CONFLICTS_PG cannot be written to by mistake).
    #[arg(long, value_name = "CONNINFO")]
    pub pg: Option<String>,
    /// With --pg: name of the conflict schema to create.
    #[arg(long, value_name = "NAME", default_value = "conflict", requires = "pg")]
    pub conflict_schema: String,
    /// With --pg: name of the analytics schema to create.
    #[arg(
        long,
        value_name = "NAME",
        default_value = "analytics",
        requires = "pg"
    )]
    pub analytics_schema: String,
    /// With --pg: drop and recreate the two schemas when they already hold tables.
    #[arg(long, requires = "pg")]
    pub replace: bool,
    /// Number of caregivers (distinct SSNs); each works for one to four agencies.
    #[arg(long, value_name = "N", default_value_t = 100)]
    pub ssns: usize,
    /// Mean visits per caregiver over the two-year window (plus 45 days ahead).
    #[arg(long, value_name = "M", default_value_t = 50)]
    pub visits_per_ssn: usize,
    /// Random seed: the same seed gives the same files.
    #[arg(long, value_name = "S", default_value_t = 1)]
    pub seed: u64,
    /// Centre of the date window of the generated visits. Default: today (UTC).
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub as_of: Option<chrono::NaiveDate>,
    /// Visit and provider ids: readable sequential ids, or uuids as in database mode (--pg
    /// always uses uuids).
    #[arg(long, value_enum, default_value_t = IdArg::Sequential)]
    pub ids: IdArg,
    /// Scales how much messy data (bad GPS strings, padded SSNs, state spellings) appears;
    /// 0 gives clean data.
    #[arg(long, value_name = "X", default_value_t = 1.0)]
    pub messiness: f64,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum IdArg {
    Sequential,
    Uuid,
}

pub fn run(args: &GenerateArgs) -> CliResult {
    if args.ssns == 0 || args.visits_per_ssn == 0 {
        return Err(Failure::invalid(anyhow!(
            "--ssns and --visits-per-ssn must be at least 1"
        )));
    }
    if !(args.messiness.is_finite() && args.messiness >= 0.0) {
        return Err(Failure::invalid(anyhow!(
            "--messiness must be a number >= 0"
        )));
    }
    let started = Instant::now();
    let as_of = args
        .as_of
        .unwrap_or_else(|| chrono::Utc::now().date_naive());
    let mut cfg = SynthConfig::new(args.ssns, args.visits_per_ssn, args.seed, as_of);
    cfg.messiness = args.messiness;
    cfg.id_style = match args.ids {
        IdArg::Sequential => IdStyle::Sequential,
        IdArg::Uuid => IdStyle::Uuid,
    };
    if let Some(pg) = &args.pg {
        // Database mode needs uuids.
        cfg.id_style = IdStyle::Uuid;
        let visits = generate(&cfg);
        return crate::generate_pg::load(args, pg, as_of, &visits, started);
    }
    let Some(out) = &args.out else {
        return Err(Failure::invalid(anyhow!("give --out DIR or --pg CONNINFO")));
    };
    let visits = generate(&cfg);
    std::fs::create_dir_all(out)
        .with_context(|| format!("cannot create {}", out.display()))
        .map_err(Failure::other)?;
    let visits_path = out.join("visits.csv");
    let mph_path = out.join("mph.csv");
    conflict_io::csv::write_visits(&visits_path, &visits).map_err(Failure::other)?;
    conflict_io::csv::write_bands(&mph_path, &conflict_synth::default_bands())
        .map_err(Failure::other)?;
    eprintln!(
        "conflicts generate: {} visits of {} caregivers (seed {}, as-of {as_of}) in {:.2} s\n  {}\n  {}\n\
         try: conflicts detect --visits {} --mph {} --as-of {as_of} --out conflicts.csv",
        visits.len(),
        args.ssns,
        args.seed,
        started.elapsed().as_secs_f64(),
        visits_path.display(),
        mph_path.display(),
        visits_path.display(),
        mph_path.display(),
    );
    Ok(())
}
