//! File mode (docs/file-formats.md): visits.csv and mph.csv in, conflicts.csv out.

mod atomic;
mod bands;
mod changes;
mod conflicts;
mod events;
mod fields;
mod line_track;
mod problems;
mod reader;
mod visit_chunk;
mod visit_table;
mod visits;

pub use bands::{read_bands, read_bands_from, write_bands};
pub use changes::{ChangeCounts, CsvChangeSink, CHANGES_HEADER};
pub use conflicts::{write_conflicts, write_conflicts_to, CONFLICTS_HEADER};
pub use events::{read_events, read_events_from, write_inservice, INSERVICE_HEADER};
pub use problems::{CsvError, Problem, MAX_REPORTED};
pub use visit_table::{read_visit_table, read_visit_table_from_bytes, CsvVisitTable};
pub use visits::{read_visits, read_visits_from, write_visits, CsvVisits, VISIT_COLUMNS};
