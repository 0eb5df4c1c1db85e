//! New rows of `conflicts` (docs/lifecycle.md §5.2): generated ids for primary visits without one,
//! and parents with an explicit id for `CONFLICTID`s that have none. Existing rows are never
//! changed.

use std::collections::BTreeSet;

use chrono::NaiveDateTime;
use postgres::binary_copy::BinaryCopyInWriter;
use postgres::types::Type;
use postgres::GenericClient;

use super::config::SchemaNames;
use super::error::StoreError;

const PARENTS: &str = "conflicts_tmp_batch_parents";

/// Inserts `count` conflicts (`StatusFlag 'U'`, `CreatedDate = run_ts`, identity id) and
/// returns their ids in ascending order. The rows are generated one after another by one
/// statement, so ascending ids are also the order of generation: handing them out to the
/// primary visits in ascending `VisitID` order is what §5.2 asks.
pub(crate) fn allocate<C: GenericClient>(
    client: &mut C,
    names: &SchemaNames,
    count: usize,
    run_ts: NaiveDateTime,
) -> Result<Vec<i64>, StoreError> {
    if count == 0 {
        return Ok(Vec::new());
    }
    let conflicts = names.conflict_table("conflicts");
    let n = i64::try_from(count).unwrap_or(i64::MAX);
    let rows = client
        .query(
            &format!(
                "INSERT INTO {conflicts} (\"StatusFlag\", \"CreatedDate\") \
                 SELECT 'U', $1 FROM generate_series(1::int8, $2) \
                 RETURNING \"CONFLICTID\""
            ),
            &[&run_ts, &n],
        )
        .map_err(|e| StoreError::db("allocate new conflicts", Some(&conflicts), e))?;
    let mut ids: Vec<i64> = rows.iter().map(|r| r.get(0)).collect();
    ids.sort_unstable();
    Ok(ids)
}

/// Inserts a parent (`StatusFlag 'U'`, `CreatedDate = run_ts`) with each of the explicit
/// `ids`. A parent that another session created meanwhile is left as it is. Returns the
/// number of rows inserted.
pub(crate) fn insert_parents<C: GenericClient>(
    client: &mut C,
    names: &SchemaNames,
    ids: &BTreeSet<i64>,
    run_ts: NaiveDateTime,
) -> Result<u64, StoreError> {
    if ids.is_empty() {
        return Ok(0);
    }
    let conflicts = names.conflict_table("conflicts");
    client
        .batch_execute(&format!(
            "CREATE TEMP TABLE {PARENTS} (id int8 NOT NULL) ON COMMIT DROP"
        ))
        .map_err(|e| StoreError::db("create a temporary table", Some(PARENTS), e))?;
    let err = |e| StoreError::db("copy missing parent ids", Some(PARENTS), e);
    let sink = client
        .copy_in(&format!("COPY {PARENTS} (id) FROM STDIN BINARY"))
        .map_err(err)?;
    let mut writer = BinaryCopyInWriter::new(sink, &[Type::INT8]);
    for id in ids {
        writer.write(&[id]).map_err(err)?;
    }
    writer.finish().map_err(err)?;
    client
        .execute(
            &format!(
                "INSERT INTO {conflicts} (\"CONFLICTID\", \"StatusFlag\", \"CreatedDate\") \
                 SELECT id, 'U', $1 FROM {PARENTS} ORDER BY id ON CONFLICT DO NOTHING"
            ),
            &[&run_ts],
        )
        .map_err(|e| StoreError::db("insert missing parent conflicts", Some(&conflicts), e))
}
