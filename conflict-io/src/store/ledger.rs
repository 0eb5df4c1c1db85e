//! The run ledger: one row per batch of a run, claimed with `FOR UPDATE SKIP LOCKED` so
//! several processes can share a run, and marked done in the batch's own transaction so an
//! interrupted run resumes exactly where it stopped.

use std::time::Duration;

use chrono::NaiveDate;
use postgres::GenericClient;
use serde::{Deserialize, Serialize};

use super::config::SchemaNames;
use super::error::StoreError;
use crate::run::{BatchSpec, BatchTotals, WriteCounts};
use crate::scope::Scope;

/// Table owned by the tool (created on demand, like `detection_runs` a new table).
pub const LEDGER_TABLE: &str = "detection_run_batches";

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

pub fn claim<C: GenericClient>(
    client: &mut C,
    names: &SchemaNames,
    run_id: i64,
    worker: &str,
    stall: Duration,
) -> Result<Option<BatchSpec>, StoreError> {
    let t = names.conflict_table(LEDGER_TABLE);
    let stall_secs = stall.as_secs_f64();
    let row = client
        .query_opt(
            &format!(
                "UPDATE {t} b SET \"Status\" = 'claimed', \"ClaimedBy\" = $2, \
                 \"ClaimedAt\" = clock_timestamp()::timestamp, \"Attempts\" = b.\"Attempts\" + 1 \
                 WHERE (b.\"RunID\", b.\"BatchKey\") = (SELECT \"RunID\", \"BatchKey\" FROM {t} \
                 WHERE \"RunID\" = $1 AND (\"Status\" = 'pending' OR (\"Status\" = 'claimed' AND \
                 \"ClaimedAt\" < clock_timestamp()::timestamp - make_interval(secs => $3))) \
                 ORDER BY \"BatchKey\" LIMIT 1 FOR UPDATE SKIP LOCKED) \
                 RETURNING b.\"BatchKey\", b.\"Scope\""
            ),
            &[&run_id, &worker, &stall_secs],
        )
        .map_err(|e| StoreError::db("claim a batch", Some(&t), e))?;
    match row {
        None => Ok(None),
        Some(r) => {
            let key: String = r.get(0);
            let scope = decode(&key, r.get(1))?;
            Ok(Some(BatchSpec { key, scope }))
        }
    }
}

/// Gives every claim of a run back (resuming after a crash: the claimant is gone).
pub fn reset_claims<C: GenericClient>(
    client: &mut C,
    names: &SchemaNames,
    run_id: i64,
) -> Result<u64, StoreError> {
    let t = names.conflict_table(LEDGER_TABLE);
    client
        .execute(
            &format!(
                "UPDATE {t} SET \"Status\" = 'pending', \"ClaimedBy\" = NULL \
                 WHERE \"RunID\" = $1 AND \"Status\" = 'claimed'"
            ),
            &[&run_id],
        )
        .map_err(|e| StoreError::db("reset the claims of the run", Some(&t), e))
}

pub fn mark_done<C: GenericClient>(
    client: &mut C,
    names: &SchemaNames,
    run_id: i64,
    key: &str,
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
    client
        .execute(
            &format!(
                "UPDATE {t} SET \"Status\" = 'done', \"FinishedAt\" = clock_timestamp()::timestamp, \
                 \"Counts\" = $3, \"Error\" = NULL WHERE \"RunID\" = $1 AND \"BatchKey\" = $2"
            ),
            &[&run_id, &key, &json],
        )
        .map_err(|e| StoreError::db("mark the batch done", Some(&t), e))?;
    Ok(())
}

pub fn release<C: GenericClient>(
    client: &mut C,
    names: &SchemaNames,
    run_id: i64,
    key: &str,
    error: Option<&str>,
) -> Result<(), StoreError> {
    let t = names.conflict_table(LEDGER_TABLE);
    client
        .execute(
            &format!(
                "UPDATE {t} SET \"Status\" = 'pending', \"ClaimedBy\" = NULL, \"Error\" = $3 \
                 WHERE \"RunID\" = $1 AND \"BatchKey\" = $2 AND \"Status\" = 'claimed'"
            ),
            &[&run_id, &key, &error],
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
