//! `conflicts`: finds conflicting home-care visits.
//!
//! Thin binary: argument parsing, wiring of the adapters in `conflict-io` to the pure engine
//! in `conflict-core`, and terminal output. Exit codes: 0 success (warnings allowed), 1 any
//! other failure, 2 invalid arguments or input; `run` adds 3 (run lock held) and 4 (interrupted).

mod config;
mod db;
mod detect;
mod error_chain;
mod failure;
mod generate;
mod generate_pg;
mod progress;
mod run;
mod sql;
mod summary;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "conflicts",
    version,
    about = "Find conflicting home-care visits: the same caregiver booked at two agencies at \
             once, or unable to travel between two visits in the time between them.",
    long_about = None
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Detect conflicts in a CSV file of visits and write them to a CSV file (no server needed).
    Detect(detect::DetectArgs),
    /// Write a realistic synthetic visits.csv and mph.csv to try the tool at any scale.
    Generate(generate::GenerateArgs),
    /// The nightly job: detect over the analytics warehouse and update the conflict database.
    Run(run::RunArgs),
    /// Administer the conflict database (create or check the schema).
    Db(db::DbArgs),
    /// Print every statement a run sends to the analytics warehouse (no connection needed).
    Sql(sql::SqlArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Detect(args) => detect::run(args),
        Command::Generate(args) => generate::run(args),
        Command::Run(args) => run::run(args),
        Command::Sql(args) => sql::run(args),
        Command::Db(args) => db::run(args).map_err(|error| failure::Failure {
            code: db::exit_code(&error),
            error,
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("{}", error_chain::render(&f.error));
            ExitCode::from(f.code)
        }
    }
}
