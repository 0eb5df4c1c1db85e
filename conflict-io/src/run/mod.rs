//! `conflicts run`: the job that replaces the nightly batch (lifecycle.md).

mod changes;
mod event_step;
mod job;
mod plan;
mod ports;
mod report;
mod take_part;
mod workers;

pub use changes::{Change, ChangeAction, ChangeSink};
pub use job::{run_job, JobError, JobOptions, JobResult, Observer, Silent, Start};
pub use ports::{
    BatchInput, BatchSpec, ConflictStore, EventCounts, EventInput, Key, Mode, Outcome, RunInfo,
    RunParams, RunState, VisitSource, WriteCounts,
};
pub use report::{BatchTotals, RunReport};

#[cfg(test)]
mod job_tests;
