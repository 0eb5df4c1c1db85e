//! Pure planning of a run's writes (docs/lifecycle.md §3–§6): what happens to each stored
//! conflictvisitmaps row and each newly detected pair, decided without any I/O.
//!
//! The store reads the control columns of the rows involved into [`StoredRow`]s, asks these
//! functions what to do, and then writes set-based. Keeping the rules here makes every row of
//! the lifecycle tables testable on its own:
//!
//! * [`batch`]: the one planner of a batch or an InService/PTO step, built on the rules below;
//! * [`matching`]: a detected pair against the rows with its key (§3);
//! * [`update`]: sticky flags, the StatusFlag table, unchanged rows (§4);
//! * [`insert`]: the insert-only switches of docs/rules.md §12 (§5.1);
//! * [`conflict_id`]: `CONFLICTID` reuse, allocation order, missing parents (§5.2);
//! * [`stale`]: which rows of the stale scope are resolved, and how (§6).

pub mod batch;
pub mod conflict_id;
pub mod insert;
pub mod matching;
pub mod row;
pub mod stale;
pub mod update;

pub use batch::{BatchPlan, DetectedRow, PlannedInsert, PlannedUpdate, Planner, RowFacts};
pub use conflict_id::{plan_conflict_ids, ConflictIdPlan};
pub use insert::{insert_decision, InsertDecision, NewPair};
pub use matching::{match_pair, PairMatch};
pub use row::{RowKind, StoredRow};
pub use stale::{is_stale, stale_rows};
pub use update::{next_status, plan_update, sticky_flag, UpdatePlan};
