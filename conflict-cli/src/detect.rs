//! `conflicts detect`: file mode (docs/file-formats.md).

use std::path::PathBuf;
use std::time::Instant;

use anyhow::anyhow;
use clap::Args;
use conflict_core::options::{Direction, DistanceGap, EtaMiles, MinuteDiff, ZipCheck};
use conflict_core::{
    detect, DetectConfig, DetectError, DetectedPair, GeoParams, Profile, RuleOptions, SpeedBands,
    Window,
};
use conflict_io::csv::{read_bands, read_visit_table, write_conflicts, CsvError};

use crate::failure::{CliResult, Failure};
use crate::summary::DetectSummary;

#[derive(Args)]
pub struct DetectArgs {
    /// Input visits (CSV with a header; columns in docs/file-formats.md §2).
    #[arg(long, value_name = "FILE")]
    pub visits: PathBuf,
    /// Speed bands (CSV `from,to,average_mph`). Default: 0-2:10 3-10:25 11-25:35 26-100:50
    /// 101-10000:60 (miles:mph).
    #[arg(long, value_name = "FILE")]
    pub mph: Option<PathBuf>,
    /// Distance multiplier X (ExtraDistancePer): a plain decimal, finite and > 0, taken by its
    /// decimal text.
    #[arg(
        long,
        value_name = "X",
        default_value = "1.0",
        allow_hyphen_values = true
    )]
    pub extra_distance_per: String,
    /// Rule profile: `current` (today's production semantics) or `classic` (the original).
    #[arg(long, default_value_t = Profile::Current)]
    pub profile: Profile,
    /// Centre of the date window [as-of − 2 years, as-of + 45 days]. Default: today (UTC).
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub as_of: Option<chrono::NaiveDate>,
    /// Output file; written to a temporary name and renamed on success.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Override the profile: rules 3 and 6 in one direction or both (`one-way`, `both-ways`).
    #[arg(long, value_name = "WAY")]
    pub rules_3_6_direction: Option<Direction>,
    /// Override the profile: the gap the DistanceFlag compares the ETA with
    /// (`abs-end-to-start`, `positive-either-way`).
    #[arg(long, value_name = "GAP")]
    pub distance_gap: Option<DistanceGap>,
    /// Override the profile: how MinuteDiffBetweenSch is reported (`abs-end-to-start`,
    /// `positive-either-way` alias `min-positive-or-zero`).
    #[arg(long, value_name = "HOW")]
    pub minute_diff: Option<MinuteDiff>,
    /// Override the profile: miles the ETA is computed from (`two-decimals`, `whole-miles`).
    #[arg(long, value_name = "MILES")]
    pub eta_miles: Option<EtaMiles>,
    /// Skip the DistanceFlag when both visits have the same patient zip code (`off`,
    /// `provider-patient-zip`).
    #[arg(long, value_name = "CHECK")]
    pub zip_check: Option<ZipCheck>,
    /// Keep pairs whose patient/payer states differ (the cross-state filter is on by default).
    #[arg(long)]
    pub no_cross_state_filter: bool,
    /// In-service events (CSV: inservice_id, environment, caregiver_id, ssn, provider_id,
    /// start, end); their InService conflicts go to --inservice-out.
    #[arg(long, value_name = "FILE", requires = "inservice_out")]
    pub inservice: Option<PathBuf>,
    /// Output of the InService rows (both orders of each visit/event pair).
    #[arg(long, value_name = "FILE", requires = "inservice")]
    pub inservice_out: Option<PathBuf>,
}

impl DetectArgs {
    fn options(&self) -> RuleOptions {
        let mut o = RuleOptions::profile(self.profile);
        if let Some(d) = self.rules_3_6_direction {
            o.rules_3_6_direction = d;
        }
        if let Some(g) = self.distance_gap {
            o.distance_gap = g;
        }
        if let Some(m) = self.minute_diff {
            o.minute_diff = m;
        }
        if let Some(e) = self.eta_miles {
            o.eta_miles = e;
        }
        if let Some(z) = self.zip_check {
            o.zip_check = z;
        }
        if self.no_cross_state_filter {
            o.cross_state_filter = false;
        }
        o
    }
}

/// Parses X by its decimal text (so `1.1` is exactly the f64 nearest 1.1).
fn extra_distance_per(text: &str) -> Result<GeoParams, Failure> {
    let d = conflict_core::Decimal::parse_plain(conflict_core::model::trim(text))
        .map_err(|e| Failure::invalid(anyhow!("--extra-distance-per: {e}")))?;
    GeoParams::default()
        .with_extra_distance_per(d.to_f64())
        .map_err(|e| Failure::invalid(anyhow!("--extra-distance-per: {e}")))
}

/// Unreadable or malformed input files are invalid input (exit code 2, docs/file-formats.md §5).
fn csv_failure(e: CsvError) -> Failure {
    Failure::invalid(e)
}

pub fn run(args: &DetectArgs) -> CliResult {
    let started = Instant::now();
    let geo = extra_distance_per(&args.extra_distance_per)?;
    let as_of = args
        .as_of
        .unwrap_or_else(|| chrono::Utc::now().date_naive());
    let window = Window::default_around(as_of).map_err(Failure::invalid)?;
    let bands = match &args.mph {
        Some(path) => read_bands(path).map_err(csv_failure)?,
        None => {
            let bands = SpeedBands::defaults();
            eprintln!(
                "note: no --mph file given; using default speed bands {} (miles:mph)",
                bands.describe()
            );
            bands
        }
    };
    if args.mph.is_some() && bands.overlapping() {
        eprintln!("note: speed bands overlap; the first band (by from, to, line) wins");
    }
    // The compact table: no `String` per field per visit (docs/file-formats.md §2 semantics,
    // the same messages as the strict reader).
    let input = read_visit_table(&args.visits).map_err(csv_failure)?;
    // Every input is read before any output is written: a malformed events file must leave no
    // conflicts.csv behind (exit 2 writes nothing).
    let events = match &args.inservice {
        Some(path) => Some(conflict_io::csv::read_events(path).map_err(csv_failure)?),
        None => None,
    };
    if !input.unknown_columns.is_empty() {
        eprintln!(
            "note: ignoring unknown column(s) of {}: {}",
            args.visits.display(),
            input.unknown_columns.join(", ")
        );
    }
    let cfg = DetectConfig {
        options: args.options(),
        geo,
        bands,
        window,
        exclusions: conflict_core::Exclusions::default(),
    };
    let mut pairs: Vec<DetectedPair> = Vec::new();
    let report = match detect(&input.visits, &cfg, &mut pairs) {
        Ok(r) => r,
        Err(DetectError::DuplicateIds(d)) => {
            // The reader reports these with line numbers; this is a second line of defence.
            return Err(Failure::invalid(anyhow!(
                "{}:{}: column visit_id: visit id {:?} is used by two different records",
                args.visits.display(),
                input.lines[d[0].second],
                d[0].visit_id
            )));
        }
        Err(DetectError::Sink(never)) => match never {},
    };
    write_conflicts(&args.out, &input.visits, &report, &mut pairs).map_err(Failure::other)?;
    if let (Some(events), Some(out)) = (&events, &args.inservice_out) {
        use conflict_core::inservice::{detect_events, EventDetection, EventKind};
        // `detect` above has refused duplicate visit ids already; admitting the same visits
        // again cannot find any.
        let EventDetection {
            admitted_events: admitted,
            pairs: found,
            warnings,
            ..
        } = detect_events(
            &input.visits,
            events,
            EventKind::InService,
            &cfg.window,
            &cfg.exclusions,
        )
        .map_err(|d| {
            Failure::invalid(anyhow!(
                "{}: column visit_id: visit id {:?} is used by two different records",
                args.visits.display(),
                d[0].visit_id
            ))
        })?;
        conflict_io::csv::write_inservice(out, &input.visits, events, &admitted, &found)
            .map_err(Failure::other)?;
        eprintln!(
            "inservice: {} events read, {} admitted, {} rows written to {}{}",
            events.len(),
            admitted.len(),
            found.len(),
            out.display(),
            if warnings.is_empty() {
                String::new()
            } else {
                format!(
                    " (warnings: {})",
                    crate::summary::render_warnings(&warnings)
                )
            }
        );
    }
    DetectSummary {
        report: &report,
        window: &cfg.window,
        out: &args.out,
        elapsed: started.elapsed(),
    }
    .print();
    Ok(())
}
