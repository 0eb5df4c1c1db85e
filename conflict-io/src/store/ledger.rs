//! The run ledger: one row per batch of a run, claimed with `FOR UPDATE SKIP LOCKED` so
//! several processes can share a run, and marked done in the batch's own transaction so an
//! interrupted run resumes exactly where it stopped.

use chrono::NaiveDate;
use postgres::{Client, GenericClient};
use serde::{Deserialize, Serialize};

use super::config::SchemaNames;
use super::error::StoreError;
use crate::run::{BatchSpec, BatchTotals, WriteCounts};
use crate::scope::Scope;

/// Table owned by the tool (created on demand, like `detection_runs` a new table).
pub const LEDGER_TABLE: &str = "detection_run_batches";

/// `CREATE TABLE` of the ledger (docs/tables.md), one row per batch of a run.
pub fn ddl(names: &SchemaNames) -> String {
    let t = names.conflict_table(LEDGER_TABLE);
    format!(
        "CREATE TABLE IF NOT EXISTS {t} (\
         \"RunID\" int8 NOT NULL, \"BatchKey\" varchar(100) NOT NULL, \"Scope\" text NOT NULL, \
         \"Status\" varchar(20) NOT NULL DEFAULT 'pending', \"ClaimedBy\" varchar(200), \
         \"ClaimedAt\" timestamp, \"FinishedAt\" timestamp, \"Attempts\" int4 NOT NULL DEFAULT 0, \
         \"Counts\" jsonb, \"Error\" text, PRIMARY KEY (\"RunID\", \"BatchKey\"))"
    )
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum StoredScope {
    Window,
    SsnPrefix(String),
    Keys(Vec<(NaiveDate, String)>),
}

fn encode(scope: &Scope) -> String {
    let s = match scope {
        Scope::Window => StoredScope::Window,
        Scope::SsnPrefix(p) => StoredScope::SsnPrefix(p.clone()),
        Scope::Keys(k) => StoredScope::Keys(k.clone()),
    };
    serde_json::to_string(&s).expect("scopes serialise")
}

fn decode(key: &str, text: &str) -> Result<Scope, StoreError> {
    let s: StoredScope = serde_json::from_str(text).map_err(|e| StoreError::InvalidSetting {
        table: LEDGER_TABLE.into(),
        column: "Scope",
        value: key.to_string(),
        reason: e.to_string(),
    })?;
    Ok(match s {
        StoredScope::Window => Scope::Window,
        StoredScope::SsnPrefix(p) => Scope::SsnPrefix(p),
        StoredScope::Keys(k) => Scope::Keys(k),
    })
}

/// Records the planned batches of a run as pending; a batch already recorded is kept as it is,
/// so planning twice (a retried scope step) does not reset progress.
pub fn add_batches<C: GenericClient>(
    client: &mut C,
    names: &SchemaNames,
    run_id: i64,
    batches: &[BatchSpec],
) -> Result<(), StoreError> {
    let t = names.conflict_table(LEDGER_TABLE);
    let keys: Vec<&str> = batches.iter().map(|b| b.key.as_str()).collect();
    let scopes: Vec<String> = batches.iter().map(|b| encode(&b.scope)).collect();
    client
        .execute(
            &format!(
                "INSERT INTO {t} (\"RunID\", \"BatchKey\", \"Scope\") \
                 SELECT $1, k, s FROM unnest($2::text[], $3::text[]) AS u(k, s) \
                 ON CONFLICT (\"RunID\", \"BatchKey\") DO NOTHING"
            ),
            &[&run_id, &keys, &scopes],
        )
        .map_err(|e| StoreError::db("record the batches of the run", Some(&t), e))?;
    Ok(())
}

/// The advisory-lock key that holds the claim of one batch of one run: FNV-1a of the schema,
/// the run and the batch key, so runs and deployments never share a claim. A collision (two
/// batches sharing a key, about one chance in 10^16 per pair) would only make one of them wait.
pub fn claim_key(names: &SchemaNames, run_id: i64, key: &str) -> i64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in format!("conflicts-batch:{}:{run_id}:{key}", names.conflict.as_str()).bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h as i64
}

/// Takes the session-level advisory lock of a batch on `client`: `false` when another live
/// session holds it, and also when this session does (advisory locks are re-entrant, so a
/// session that holds several claims would otherwise be handed the same batch twice).
fn try_lock_batch(
    client: &mut Client,
    names: &SchemaNames,
    run_id: i64,
    key: &str,
) -> Result<bool, StoreError> {
    // A bigint advisory key shows in pg_locks as classid (high half) and objid (low half),
    // with objsubid 1.
    Ok(client
        .query_one(
            "SELECT CASE WHEN EXISTS (SELECT 1 FROM pg_locks WHERE pid = pg_backend_pid() \
             AND locktype = 'advisory' AND objsubid = 1 \
             AND ((classid::int8 << 32) | objid::int8) = $1) \
             THEN false ELSE pg_try_advisory_lock($1) END",
            &[&claim_key(names, run_id, key)],
        )
        .map_err(|e| StoreError::db("lock a batch", None, e))?
        .get(0))
}

/// Gives the advisory lock of a batch back. A lost connection has released it already.
pub fn unlock_batch(client: &mut Client, names: &SchemaNames, run_id: i64, key: &str) {
    // Failure is harmless: the only way it fails is a dead session, whose locks are gone.
    let _ = client.execute(
        "SELECT pg_advisory_unlock($1)",
        &[&claim_key(names, run_id, key)],
    );
}

/// Records `worker` as the claimant of a batch whose lock `client` holds; `None` when the
/// batch is done already.
fn record_claim(
    client: &mut Client,
    names: &SchemaNames,
    run_id: i64,
    key: &str,
    worker: &str,
) -> Result<Option<String>, StoreError> {
    let t = names.conflict_table(LEDGER_TABLE);
    let row = client
        .query_opt(
            &format!(
                "UPDATE {t} SET \"Status\" = 'claimed', \"ClaimedBy\" = $3, \
                 \"ClaimedAt\" = clock_timestamp()::timestamp, \"Attempts\" = \"Attempts\" + 1 \
                 WHERE \"RunID\" = $1 AND \"BatchKey\" = $2 AND \"Status\" <> 'done' \
                 RETURNING \"Scope\""
            ),
            &[&run_id, &key, &worker],
        )
        .map_err(|e| StoreError::db("claim a batch", Some(&t), e))?;
    Ok(row.map(|r| r.get(0)))
}

/// Claims the first batch of the run that is not done and whose advisory lock no live session
/// holds, taking that lock on `client` (a connection the claimant keeps for the batch).
///
/// The lock, not the ledger's `"Status"`, is what owns a batch: it lives exactly as long as
/// the claimant's session, so a crashed worker's batch is free at once and a slow live one is
/// never taken over. The ledger row records who holds it (`"ClaimedBy"`), which the batch's
/// transaction checks before it commits ([`fence`]). `skip` names batches the caller's process
/// holds on other connections, between a lost connection and the retry's new claim: its other
/// workers must not take them.
pub fn claim(
    client: &mut Client,
    names: &SchemaNames,
    run_id: i64,
    worker: &str,
    skip: &[String],
) -> Result<Option<BatchSpec>, StoreError> {
    let t = names.conflict_table(LEDGER_TABLE);
    let keys: Vec<String> = client
        .query(
            &format!(
                "SELECT \"BatchKey\" FROM {t} WHERE \"RunID\" = $1 AND \"Status\" <> 'done' \
                 ORDER BY \"BatchKey\""
            ),
            &[&run_id],
        )
        .map_err(|e| StoreError::db("list the open batches", Some(&t), e))?
        .iter()
        .map(|r| r.get(0))
        .collect();
    for key in keys {
        if skip.contains(&key) || !try_lock_batch(client, names, run_id, &key)? {
            continue;
        }
        match record_claim(client, names, run_id, &key, worker)? {
            Some(scope) => {
                let scope = decode(&key, &scope)?;
                return Ok(Some(BatchSpec { key, scope }));
            }
            // Finished by another session between the listing and the lock.
            None => unlock_batch(client, names, run_id, &key),
        }
    }
    Ok(None)
}

/// Whether the run's ledger has a row for the batch.
pub fn has_batch<C: GenericClient>(
    client: &mut C,
    names: &SchemaNames,
    run_id: i64,
    key: &str,
) -> Result<bool, StoreError> {
    let t = names.conflict_table(LEDGER_TABLE);
    Ok(client
        .query_opt(
            &format!("SELECT 1 FROM {t} WHERE \"RunID\" = $1 AND \"BatchKey\" = $2"),
            &[&run_id, &key],
        )
        .map_err(|e| StoreError::db("look the batch up", Some(&t), e))?
        .is_some())
}

/// Claims one given batch again on a fresh connection (after the claimant's connection was
/// lost): `false` when another session holds it now or it is done.
pub fn reclaim(
    client: &mut Client,
    names: &SchemaNames,
    run_id: i64,
    key: &str,
    worker: &str,
) -> Result<bool, StoreError> {
    if !try_lock_batch(client, names, run_id, key)? {
        return Ok(false);
    }
    if record_claim(client, names, run_id, key, worker)?.is_some() {
        return Ok(true);
    }
    unlock_batch(client, names, run_id, key);
    Ok(false)
}

/// The commit fence: inside the batch's transaction, locks the batch's ledger row and checks
/// that `worker` still holds the claim. Anything else (done by another, claimed by another)
/// is [`StoreError::ClaimLost`], which rolls the transaction back.
pub fn fence<C: GenericClient>(
    tx: &mut C,
    names: &SchemaNames,
    run_id: i64,
    key: &str,
    worker: &str,
) -> Result<(), StoreError> {
    let t = names.conflict_table(LEDGER_TABLE);
    let row = tx
        .query_opt(
            &format!(
                "SELECT \"Status\", \"ClaimedBy\" FROM {t} \
                 WHERE \"RunID\" = $1 AND \"BatchKey\" = $2 FOR UPDATE"
            ),
            &[&run_id, &key],
        )
        .map_err(|e| StoreError::db("check the claim of the batch", Some(&t), e))?;
    let (status, holder): (String, Option<String>) = match &row {
        Some(r) => (r.get(0), r.get(1)),
        None => ("missing".into(), None),
    };
    if status == "claimed" && holder.as_deref() == Some(worker) {
        return Ok(());
    }
    Err(StoreError::ClaimLost {
        key: key.to_string(),
        status,
        holder,
    })
}

/// Marks a batch done with its counts, inside the batch's transaction, provided `worker` still
/// holds its claim ([`StoreError::ClaimLost`] otherwise); `ClaimedBy` then records who
/// completed it.
pub fn mark_done<C: GenericClient>(
    client: &mut C,
    names: &SchemaNames,
    run_id: i64,
    key: &str,
    worker: &str,
    counts: &WriteCounts,
    totals: &BatchTotals,
) -> Result<(), StoreError> {
    let t = names.conflict_table(LEDGER_TABLE);
    // The top-level counters are what earlier versions wrote; `report` (the batch's share of
    // the run report) was added in the same jsonb column so ledgers need no new column.
    let json = serde_json::json!({
        "updated": counts.updated,
        "unchanged": counts.unchanged,
        "adopted": counts.adopted,
        "inserted": counts.inserted,
        "not_inserted_by_switch": counts.not_inserted_by_switch,
        "resolved": counts.resolved,
        "conflicts_created": counts.conflicts_created,
        REPORT_KEY: totals,
    });
    let n = client
        .execute(
            &format!(
                "UPDATE {t} SET \"Status\" = 'done', \"FinishedAt\" = clock_timestamp()::timestamp, \
                 \"Counts\" = $3, \"Error\" = NULL WHERE \"RunID\" = $1 AND \"BatchKey\" = $2 \
                 AND \"Status\" = 'claimed' AND \"ClaimedBy\" = $4"
            ),
            &[&run_id, &key, &json, &worker],
        )
        .map_err(|e| StoreError::db("mark the batch done", Some(&t), e))?;
    // The fence has locked the row already; this only guards against a caller that skipped it.
    if n != 1 {
        return Err(StoreError::ClaimLost {
            key: key.to_string(),
            status: "changed".into(),
            holder: None,
        });
    }
    Ok(())
}

/// Gives a claimed batch back (pending again, with the error that made its claimant give up).
pub fn release<C: GenericClient>(
    client: &mut C,
    names: &SchemaNames,
    run_id: i64,
    key: &str,
    worker: &str,
    error: Option<&str>,
) -> Result<(), StoreError> {
    let t = names.conflict_table(LEDGER_TABLE);
    // Only the claimant's own claim: a batch taken over since is the new claimant's.
    client
        .execute(
            &format!(
                "UPDATE {t} SET \"Status\" = 'pending', \"ClaimedBy\" = NULL, \"Error\" = $3 \
                 WHERE \"RunID\" = $1 AND \"BatchKey\" = $2 AND \"Status\" = 'claimed' \
                 AND \"ClaimedBy\" = $4"
            ),
            &[&run_id, &key, &error, &worker],
        )
        .map_err(|e| StoreError::db("release the batch", Some(&t), e))?;
    Ok(())
}

/// Key of a batch's [`BatchTotals`] inside its `"Counts"` jsonb.
const REPORT_KEY: &str = "report";

/// The report shares of every done batch of a run, in batch key order. An entry written by an
/// earlier version (without the share) contributes its write counters only.
pub fn batch_totals<C: GenericClient>(
    client: &mut C,
    names: &SchemaNames,
    run_id: i64,
) -> Result<Vec<BatchTotals>, StoreError> {
    let t = names.conflict_table(LEDGER_TABLE);
    let rows = client
        .query(
            &format!(
                "SELECT \"BatchKey\", coalesce(\"Counts\", '{{}}'::jsonb) FROM {t} \
                 WHERE \"RunID\" = $1 AND \"Status\" = 'done' ORDER BY \"BatchKey\""
            ),
            &[&run_id],
        )
        .map_err(|e| StoreError::db("read the batch reports of the run", Some(&t), e))?;
    rows.iter()
        .map(|r| {
            let key: String = r.get(0);
            let counts: serde_json::Value = r.get(1);
            totals_of(counts).map_err(|e| StoreError::InvalidSetting {
                table: LEDGER_TABLE.into(),
                column: "Counts",
                value: key,
                reason: e.to_string(),
            })
        })
        .collect()
}

fn totals_of(mut counts: serde_json::Value) -> Result<BatchTotals, serde_json::Error> {
    match counts.get_mut(REPORT_KEY).map(serde_json::Value::take) {
        Some(share) => serde_json::from_value(share),
        None => Ok(BatchTotals {
            writes: serde_json::from_value(counts)?,
            ..BatchTotals::default()
        }),
    }
}

/// `(done, total)` batches of the run, for the progress display of a resume or a join.
pub fn progress<C: GenericClient>(
    client: &mut C,
    names: &SchemaNames,
    run_id: i64,
) -> Result<(u64, u64), StoreError> {
    let t = names.conflict_table(LEDGER_TABLE);
    let row = client
        .query_one(
            &format!(
                "SELECT count(*) FILTER (WHERE \"Status\" = 'done'), count(*) FROM {t} \
                 WHERE \"RunID\" = $1"
            ),
            &[&run_id],
        )
        .map_err(|e| StoreError::db("read the progress of the run", Some(&t), e))?;
    let (done, total): (i64, i64) = (row.get(0), row.get(1));
    Ok((done as u64, total as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ledger_counts_with_and_without_a_report_share_read_back() {
        let old = serde_json::json!({"updated": 2, "inserted": 5, "resolved": 1});
        let t = totals_of(old).unwrap();
        assert_eq!(
            (t.writes.updated, t.writes.inserted, t.writes.resolved),
            (2, 5, 1)
        );
        assert_eq!(t.input.visits_read, 0);

        let new = serde_json::json!({"inserted": 5, "report": {"input": {"visits_read": 40},
            "writes": {"inserted": 5}}});
        let t = totals_of(new).unwrap();
        assert_eq!((t.input.visits_read, t.writes.inserted), (40, 5));
        assert!(totals_of(serde_json::json!({"report": {"input": 3}})).is_err());
    }

    #[test]
    fn scopes_round_trip_through_the_ledger_text() {
        let d: NaiveDate = "2025-06-10".parse().unwrap();
        for s in [
            Scope::Window,
            Scope::SsnPrefix("12".into()),
            Scope::Keys(vec![(d, " 123 ".into())]),
        ] {
            assert_eq!(decode("k", &encode(&s)).unwrap(), s);
        }
        assert!(decode("k", "{").is_err());
    }
}
