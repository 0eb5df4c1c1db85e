//! `conflicts run`: the job that replaces the nightly batch (docs/lifecycle.md).

mod changes;
mod event_scope;
mod event_step;
mod job;
mod plan;
mod ports;
mod report;
mod take_part;
mod totals;
mod workers;

pub use changes::{Change, ChangeAction, ChangeSink};
pub use event_scope::{plan_event_scope, Digest, DigestUpdate, EventScope};
pub use job::{run_job, JobError, JobOptions, JobResult, Observer, Silent, Start};
pub use ports::{
    BatchInput, BatchSpec, ConflictStore, EventCounts, EventInput, Key, Mode, Outcome, Reference,
    RunInfo, RunParams, RunState, VisitSource, WriteCounts,
};
pub use report::{BatchTotals, IoCounts, RunReport};

#[cfg(test)]
mod job_tests;
#[cfg(test)]
mod memory_cvm;
