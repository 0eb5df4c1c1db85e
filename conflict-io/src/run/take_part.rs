//! How a process takes part in a run: it starts one (run lock, `detection_runs` row), resumes
//! one (run lock), or joins one started elsewhere, waiting until its owner has planned the
//! batches (docs/lifecycle.md §9, §10).

use std::sync::atomic::Ordering;

use conflict_core::Warnings;

use super::job::{store_err, Job, JobError, Start};
use super::ports::{ConflictStore, RunInfo, RunState};

/// What [`take_part`] found or created.
pub(super) struct Participation<L> {
    /// The run lock, held by the owner until the run is finished.
    pub lock: Option<L>,
    pub run: RunInfo,
    /// Warnings of the preflight (identity resync).
    pub warnings: Warnings,
    /// Started or resumed here: this process finishes the run and reports all of it.
    pub owner: bool,
}

/// Takes the run lock and starts or resumes the run, or joins it.
pub(super) fn take_part<St: ConflictStore, F>(
    job: &Job<'_, St, F>,
    start: &Start,
) -> Result<Participation<St::Lock>, JobError> {
    let store = job.store;
    let lock = || store.try_lock().map_err(store_err)?.ok_or(JobError::Locked);
    Ok(match start {
        Start::New(params) => {
            let lock = lock()?;
            let (run, warnings) = store.begin_run(params).map_err(store_err)?;
            Participation {
                lock: Some(lock),
                run,
                warnings,
                owner: true,
            }
        }
        Start::Resume(id) => {
            let lock = lock()?;
            let run = match id {
                Some(id) => store
                    .open_run(*id)
                    .map_err(store_err)?
                    .ok_or(JobError::NoSuchRun(*id))?,
                None => store
                    .resumable_run()
                    .map_err(store_err)?
                    .ok_or(JobError::NothingToResume)?,
            };
            store.reset_claims(run.run_id).map_err(store_err)?;
            Participation {
                lock: Some(lock),
                run,
                warnings: Warnings::default(),
                owner: true,
            }
        }
        Start::Join(id) => Participation {
            lock: None,
            run: wait_until_planned(job, *id)?,
            warnings: Warnings::default(),
            owner: false,
        },
    })
}

/// A joiner started together with the owner (as an orchestrator starting N processes would)
/// may find the run before its batches are in the ledger: it waits until they are, showing
/// that it waits. It stops with an error when the run is unknown or over, or when its owner
/// is gone before planning (the run lock is free: nobody will plan the run).
fn wait_until_planned<St: ConflictStore, F>(
    job: &Job<'_, St, F>,
    run_id: i64,
) -> Result<RunInfo, JobError> {
    let store = job.store;
    let mut announced = false;
    loop {
        match store.run_state(run_id).map_err(store_err)? {
            RunState::Unknown => return Err(JobError::NoSuchRun(run_id)),
            RunState::Ended(status) => return Err(JobError::RunEnded { run_id, status }),
            RunState::Running => {}
        }
        let (_, total) = store.batch_progress(run_id).map_err(store_err)?;
        if total > 0 {
            return store
                .open_run(run_id)
                .map_err(store_err)?
                .ok_or(JobError::NoSuchRun(run_id));
        }
        // The owner holds the run lock while it plans; a free lock means no one will.
        if let Some(lock) = store.try_lock().map_err(store_err)? {
            drop(lock);
            // The owner may have planned and released the lock in between: look once more.
            if store.batch_progress(run_id).map_err(store_err)?.1 == 0 {
                return Err(match store.run_state(run_id).map_err(store_err)? {
                    RunState::Ended(status) => JobError::RunEnded { run_id, status },
                    _ => JobError::OwnerGone(run_id),
                });
            }
            continue;
        }
        if job.cancel.load(Ordering::SeqCst) {
            return Err(JobError::JoinInterrupted(run_id));
        }
        if !announced {
            job.observer
                .phase(&format!("waiting for run {run_id} to plan its batches"));
            announced = true;
        }
        std::thread::sleep(job.opts.poll);
    }
}
