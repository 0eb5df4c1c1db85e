mod harness;

mod full_run;
mod incremental;
mod resume_and_join;
