//! Pure detection of conflicting home-care visits.
//!
//! The crate implements docs/rules.md of the specification: admission of visits, GPS parsing and
//! location priority, pairing by (SSN, visit date) across providers, the seven rule flags, the
//! four metrics with the exact rounding of each profile, and the cross-state filter. It does no
//! I/O: visits come in as [`Visit`] values and detected pairs go out through a [`PairSink`].
//!
//! ```
//! use conflict_core::{detect, DetectConfig, DetectedPair, Visit};
//! let day: chrono::NaiveDate = "2025-06-10".parse().unwrap();
//! let at = |h| day.and_hms_opt(h, 0, 0).unwrap();
//! let mut a = Visit::new("a", "123456789", "agency-1", day);
//! a.sch_start = Some(at(9));
//! a.sch_end = Some(at(11));
//! let mut b = a.clone();
//! b.visit_id = "b".into();
//! b.provider_id = "agency-2".into();
//! let cfg = DetectConfig::new("2025-06-15".parse().unwrap()).unwrap();
//! let mut pairs: Vec<DetectedPair> = Vec::new();
//! let report = detect(&[a, b], &cfg, &mut pairs).unwrap();
//! assert_eq!(pairs.len(), 2); // (a, b) and (b, a): same schedule, rule 1
//! assert!(pairs[0].flags[conflict_core::Rule::SameSchTime]);
//! assert_eq!(report.pairs.candidates, 2);
//! ```

// Every public item says what it is for: the crate is embedded by other programs.
#![deny(missing_docs)]

pub mod admit;
pub mod bands;
pub mod decimal;
pub mod detect;
mod event_detection;
mod flags;
pub mod geo;
pub mod gps;
pub mod inservice;
mod intern;
pub mod metrics;
pub mod model;
pub mod options;
pub mod pairing;
pub mod plan;
pub mod rows;
mod rules;
mod states;
pub mod stats;
pub mod table;

pub use bands::{SpeedBand, SpeedBands};
pub use decimal::Decimal;
pub use detect::{detect, DetectError, DetectReport};
pub use flags::{Rule, RuleFlags};
pub use metrics::Metrics;
pub use model::{Location, LocationSource, Visit};
pub use options::{DetectConfig, Exclusions, GeoParams, Profile, RuleOptions, Window};
pub use pairing::{DetectedPair, FnSink, PairSink};
pub use rows::{VisitRef, VisitRows};
pub use stats::{DropReason, WarningKind, Warnings, FLAG_NAMES};
pub use table::{TableFull, VisitTable, VisitTableBuilder};
