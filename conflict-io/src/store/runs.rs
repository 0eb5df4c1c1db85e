//! `detection_runs`, `settings."InProgressFlag"`, the run lock and identity resync
//! (docs/lifecycle.md §1, §9).

use chrono::{NaiveDate, NaiveDateTime};
use conflict_core::{Warnings, Window};
use postgres::{Client, GenericClient};

use super::config::SchemaNames;
use super::error::StoreError;
use crate::run::{Mode, Outcome, RunInfo, RunParams, RunState};

/// Warning raised when an identity sequence lagged behind its column.
pub const IDENTITY_RESYNCED: &str = "identity_resynced";

/// The advisory-lock key of a conflict schema: FNV-1a of its name, so two deployments in one
/// database (`conflict`, `conflict_dev`) never block each other.
pub fn lock_key(names: &SchemaNames) -> i64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in format!("conflicts-run-lock:{}", names.conflict.as_str()).bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h as i64
}

/// A held run lock: the advisory lock lives as long as this dedicated connection.
pub struct RunLock {
    client: Client,
    key: i64,
}

impl Drop for RunLock {
    fn drop(&mut self) {
        // Closing the connection releases the lock too, but only once the server has noticed
        // the closed socket; unlocking first makes the release immediate for the next run.
        // A failure here is harmless for the same reason.
        let _ = self
            .client
            .execute("SELECT pg_advisory_unlock($1)", &[&self.key]);
    }
}

impl RunLock {
    /// Checks that the lock's connection is still alive, which is what keeps the lock held: a
    /// session-level advisory lock ends only with an unlock or with its session. A lost
    /// connection is [`StoreError::LockLost`].
    pub fn check(&mut self) -> Result<(), StoreError> {
        self.client
            .simple_query("SELECT 1")
            .map(|_| ())
            .map_err(|e| StoreError::LockLost {
                message: e.as_db_error().map_or_else(
                    || e.to_string(),
                    |db| format!("{} (SQLSTATE {})", db.message(), db.code().code()),
                ),
            })
    }
}

/// Takes the run lock on `client`, a connection of its own: `Ok(None)` when another session
/// holds it.
pub fn try_lock(mut client: Client, names: &SchemaNames) -> Result<Option<RunLock>, StoreError> {
    let key = lock_key(names);
    let got: bool = client
        .query_one("SELECT pg_try_advisory_lock($1)", &[&key])
        .map_err(|e| StoreError::db("take the run lock", None, e))?
        .get(0);
    Ok(got.then_some(RunLock { client, key }))
}

fn mode_of(s: &str) -> Mode {
    if s == "full" {
        Mode::Full
    } else {
        Mode::Incremental
    }
}

/// Inserts the `detection_runs` row, resolving `as_of`, the window and `since`.
pub fn begin_run<C: GenericClient>(
    client: &mut C,
    names: &SchemaNames,
    params: &RunParams,
) -> Result<(RunInfo, Warnings), StoreError> {
    let runs = names.conflict_table("detection_runs");
    let run_ts: NaiveDateTime = client
        .query_one("SELECT LOCALTIMESTAMP", &[])
        .map_err(|e| StoreError::db("read the run timestamp", None, e))?
        .get(0);
    let as_of = params.as_of.unwrap_or(run_ts.date());
    let window =
        Window::around(as_of, params.lookback_years, params.lookforward_days).map_err(|e| {
            StoreError::InvalidSetting {
                table: "configuration".into(),
                column: "as_of",
                value: as_of.to_string(),
                reason: e.to_string(),
            }
        })?;
    let since = match params.mode {
        Mode::Full => None,
        Mode::Incremental => Some(match params.since {
            Some(s) => s,
            None => {
                let lookback = run_ts - chrono::Duration::hours(i64::from(params.lookback_hours));
                let last: Option<NaiveDateTime> = client
                    .query_one(
                        &format!(
                            "SELECT max(\"StartedAt\") FROM {runs} WHERE \"Status\" = 'succeeded'"
                        ),
                        &[],
                    )
                    .map_err(|e| StoreError::db("read the watermark", Some(&runs), e))?
                    .get(0);
                last.map_or(lookback, |l| l.min(lookback))
            }
        }),
    };
    let run_id: i64 = client
        .query_one(
            &format!(
                "INSERT INTO {runs} (\"Mode\", \"Profile\", \"AsOf\", \"WindowFrom\", \"WindowTo\", \
                 \"Since\", \"StartedAt\", \"Status\") VALUES ($1, $2, $3, $4, $5, $6, $7, 'running') \
                 RETURNING \"RunID\""
            ),
            &[
                &params.mode.as_str(),
                &params.profile.as_str(),
                &as_of,
                &window.from,
                &window.to,
                &since,
                &run_ts,
            ],
        )
        .map_err(|e| StoreError::db("insert the run", Some(&runs), e))?
        .get(0);
    set_in_progress(client, names, 1)?;
    let mut warnings = Warnings::default();
    resync_identity(
        client,
        names,
        "conflictvisitmaps",
        "ID",
        None,
        &mut warnings,
    )?;
    // CVM rows may carry conflict ids above every parent (rows of an older system whose
    // parents are missing). The batch writer inserts such parents with their explicit id, so
    // the sequence must already be past them, or a later allocation would collide.
    resync_identity(
        client,
        names,
        "conflicts",
        "CONFLICTID",
        Some(("conflictvisitmaps", "CONFLICTID")),
        &mut warnings,
    )?;
    Ok((
        RunInfo {
            run_id,
            mode: params.mode,
            run_ts,
            as_of,
            window,
            since,
        },
        warnings,
    ))
}

fn set_in_progress<C: GenericClient>(
    client: &mut C,
    names: &SchemaNames,
    flag: i64,
) -> Result<(), StoreError> {
    let settings = names.conflict_table("settings");
    // Only the row X is read from; with no row there is nothing to flag (the reference
    // reader already warned `settings_missing`).
    client
        .execute(
            &format!(
                "UPDATE {settings} SET \"InProgressFlag\" = $1 WHERE \"ID\" = \
                 (SELECT min(\"ID\") FROM {settings})"
            ),
            &[&flag],
        )
        .map_err(|e| StoreError::db("set InProgressFlag", Some(&settings), e))?;
    Ok(())
}

/// Advances the identity sequence of `table.column` when it lags behind the column's maximum
/// (rows inserted with explicit ids by an older system), so new ids never collide. `also`
/// names another (table, column) whose values the sequence must stay ahead of.
fn resync_identity<C: GenericClient>(
    client: &mut C,
    names: &SchemaNames,
    table: &str,
    column: &str,
    also: Option<(&str, &str)>,
    warnings: &mut Warnings,
) -> Result<(), StoreError> {
    let qualified = names.conflict_table(table);
    let seq: Option<String> = client
        .query_one(
            "SELECT pg_get_serial_sequence($1, $2)",
            &[&qualified, &column],
        )
        .map_err(|e| StoreError::db("find the identity sequence", Some(&qualified), e))?
        .get(0);
    let Some(seq) = seq else { return Ok(()) };
    let max = match also {
        None => format!("(SELECT max(\"{column}\") FROM {qualified})"),
        Some((other, other_column)) => format!(
            "GREATEST((SELECT max(\"{column}\") FROM {qualified}), \
             (SELECT max(\"{other_column}\") FROM {}))",
            names.conflict_table(other)
        ),
    };
    let row = client
        .query_one(
            &format!(
                "SELECT {max}, \
                 (SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END FROM {seq})"
            ),
            &[],
        )
        .map_err(|e| StoreError::db("compare the identity sequence", Some(&qualified), e))?;
    let (max, last): (Option<i64>, i64) = (row.get(0), row.get(1));
    if let Some(max) = max.filter(|&m| m > last) {
        client
            // The name arrives as text; `$1::regclass` alone would make the parameter itself a
            // regclass, which a Rust string cannot be sent as.
            .query_one("SELECT setval($1::text::regclass, $2)", &[&seq, &max])
            .map_err(|e| StoreError::db("advance the identity sequence", Some(&qualified), e))?;
        warnings.add_named(IDENTITY_RESYNCED, Some(&format!("{table}.{column}")));
    }
    Ok(())
}

fn run_from_row(row: &postgres::Row) -> RunInfo {
    let mode: String = row.get("Mode");
    let as_of: NaiveDate = row.get("AsOf");
    RunInfo {
        run_id: row.get("RunID"),
        mode: mode_of(&mode),
        run_ts: row.get("StartedAt"),
        as_of,
        window: Window {
            from: row.get("WindowFrom"),
            to: row.get("WindowTo"),
        },
        since: row.get("Since"),
    }
}

const RUN_COLUMNS: &str =
    "\"RunID\", \"Mode\", \"AsOf\", \"WindowFrom\", \"WindowTo\", \"Since\", \"StartedAt\"";

pub fn open_run<C: GenericClient>(
    client: &mut C,
    names: &SchemaNames,
    run_id: i64,
) -> Result<Option<RunInfo>, StoreError> {
    let runs = names.conflict_table("detection_runs");
    let row = client
        .query_opt(
            &format!("SELECT {RUN_COLUMNS} FROM {runs} WHERE \"RunID\" = $1"),
            &[&run_id],
        )
        .map_err(|e| StoreError::db("read a run", Some(&runs), e))?;
    Ok(row.as_ref().map(run_from_row))
}

/// Whether run `run_id` exists and is still `running` (for a joining process).
pub fn run_state<C: GenericClient>(
    client: &mut C,
    names: &SchemaNames,
    run_id: i64,
) -> Result<RunState, StoreError> {
    let runs = names.conflict_table("detection_runs");
    let status: Option<String> = client
        .query_opt(
            &format!("SELECT \"Status\" FROM {runs} WHERE \"RunID\" = $1"),
            &[&run_id],
        )
        .map_err(|e| StoreError::db("read the status of a run", Some(&runs), e))?
        .map(|r| r.get(0));
    Ok(match status {
        None => RunState::Unknown,
        Some(s) if s == "running" => RunState::Running,
        Some(s) => RunState::Ended(s),
    })
}

/// The newest run that did not finish successfully and still has batches left.
pub fn resumable_run<C: GenericClient>(
    client: &mut C,
    names: &SchemaNames,
) -> Result<Option<RunInfo>, StoreError> {
    let runs = names.conflict_table("detection_runs");
    let batches = names.conflict_table(super::ledger::LEDGER_TABLE);
    let row = client
        .query_opt(
            &format!(
                "SELECT {RUN_COLUMNS} FROM {runs} r WHERE r.\"Status\" IN ('running', 'failed') \
                 AND EXISTS (SELECT 1 FROM {batches} b WHERE b.\"RunID\" = r.\"RunID\" \
                 AND b.\"Status\" <> 'done') ORDER BY r.\"RunID\" DESC LIMIT 1"
            ),
            &[],
        )
        .map_err(|e| StoreError::db("find a resumable run", Some(&runs), e))?;
    Ok(row.as_ref().map(run_from_row))
}

/// Records how a run ended. Interrupted runs are `failed` (resumable; the watermark does not
/// advance); dry runs are `dry-run`, which never counts as a watermark either.
pub fn finish_run<C: GenericClient>(
    client: &mut C,
    names: &SchemaNames,
    run: &RunInfo,
    outcome: Outcome,
    report: &serde_json::Value,
) -> Result<(), StoreError> {
    let runs = names.conflict_table("detection_runs");
    let (status, flag) = match outcome {
        Outcome::Succeeded => ("succeeded", 0),
        Outcome::DryRun => ("dry-run", 0),
        Outcome::Failed | Outcome::Interrupted => ("failed", 2),
    };
    client
        .execute(
            &format!(
                "UPDATE {runs} SET \"Status\" = $2, \"FinishedAt\" = LOCALTIMESTAMP, \
                 \"Report\" = $3 WHERE \"RunID\" = $1"
            ),
            &[&run.run_id, &status, report],
        )
        .map_err(|e| StoreError::db("record the end of the run", Some(&runs), e))?;
    set_in_progress(client, names, flag)
}
