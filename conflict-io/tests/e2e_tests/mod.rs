mod harness;

mod faults;
mod full_run;
mod incremental;
mod inservice;
mod resume_and_join;
mod shadow;
mod whole_run_report;
