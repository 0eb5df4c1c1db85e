mod support;

mod check;
mod init;
mod legacy;
mod names;
mod pool;
mod reference;
mod stored_rows;
mod tls;

// The batch writer and the store of the job.
mod adoption;
mod atomicity;
mod batch;
mod begin_run;
mod changed_columns;
mod conflict_ids;
mod conversions;
mod copy_chunks;
mod finish_run;
mod idempotency;
mod inservice;
mod job;
mod ledger;
mod lifecycle_sampled;
mod other_kinds;
mod parents;
mod pg_store;
mod run_lock;
mod stale;
mod statuses;
mod sticky_flags;
mod switches;
mod transient;
mod values;
