#[macro_use]
mod harness;

mod faults;
mod full_run;
mod incremental;
mod inservice;
mod inservice_incremental;
mod io_counts;
mod moved_date;
mod moved_key;
mod resume_and_join;
mod settings_model;
mod shadow;
mod whole_run_report;
