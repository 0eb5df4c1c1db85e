//! `conflicts generate`: synthetic data (being written).

use std::path::PathBuf;

use clap::Args;

use crate::failure::CliResult;

#[derive(Args)]
pub struct GenerateArgs {
    /// Output directory; visits.csv and mph.csv are written into it.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

pub fn run(_args: &GenerateArgs) -> CliResult {
    Ok(())
}
