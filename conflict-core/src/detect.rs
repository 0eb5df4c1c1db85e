//! One-call detection: admit, group, pair, deliver to a sink.

use crate::admit::{admit, Admission, DuplicateId};
use crate::model::{Location, LocationSource};
use crate::options::DetectConfig;
use crate::pairing::{pair_batch, Batch, PairSink};
use crate::rows::VisitRows;
use crate::stats::{AdmitStats, PairStats, WarningKind, Warnings};

/// Why a detection stopped.
#[derive(Debug, thiserror::Error)]
pub enum DetectError<E> {
    /// Two different records share a visit id: the input is inconsistent (docs/rules.md §3).
    #[error("{} visit id(s) carry two different records, first: {:?}", .0.len(), .0[0].visit_id)]
    DuplicateIds(Vec<DuplicateId>),
    /// The caller's sink refused a pair.
    #[error("the pair sink failed: {0}")]
    Sink(E),
}

/// What a detection did, besides the pairs it delivered.
#[derive(Debug, Clone)]
pub struct DetectReport {
    /// Which visits were admitted, with the admission counters.
    pub admission: Admission,
    /// Pairing counters (candidates, pairs per rule, cross-state drops).
    pub pairs: PairStats,
}

impl DetectReport {
    /// The admission counters.
    pub fn admit_stats(&self) -> &AdmitStats {
        &self.admission.stats
    }

    /// The data warnings of the admission.
    pub fn warnings(&self) -> &Warnings {
        &self.admission.stats.warnings
    }

    /// Resolved location of the visit at input position `index` (None when not admitted or
    /// without location).
    pub fn location(&self, index: usize) -> Option<(Location, LocationSource)> {
        let adm = &self.admission.admitted;
        adm.binary_search_by_key(&index, |a| a.index)
            .ok()
            .and_then(|k| adm[k].location)
    }

    /// Trimmed SSN of an admitted visit.
    pub fn ssn(&self, index: usize) -> Option<&str> {
        let adm = &self.admission.admitted;
        adm.binary_search_by_key(&index, |a| a.index)
            .ok()
            .map(|k| &*adm[k].ssn)
    }
}

/// Runs detection over `visits` and hands every detected pair to `sink`.
pub fn detect<R: VisitRows + ?Sized, S: PairSink>(
    visits: &R,
    cfg: &DetectConfig,
    sink: &mut S,
) -> Result<DetectReport, DetectError<S::Error>> {
    let mut admission =
        admit(visits, &cfg.window, &cfg.exclusions).map_err(DetectError::DuplicateIds)?;
    if cfg.bands.is_empty() {
        admission.stats.warnings.add(WarningKind::MphEmpty, None);
    } else if cfg.bands.overlapping() {
        admission
            .stats
            .warnings
            .add(WarningKind::MphBandsOverlap, None);
    }
    let batch = Batch::build(visits, &admission);
    let pairs = pair_batch(&batch, cfg, sink).map_err(DetectError::Sink)?;
    Ok(DetectReport { admission, pairs })
}
