//! Temporary key tables loaded with binary COPY: large key sets reach the server as one COPY
//! stream and are joined, instead of being spelled out in huge `IN (…)` lists.
//!
//! The tables are `ON COMMIT DROP`, so callers use them inside a transaction (the functions of
//! `stored_rows` open one, a savepoint when already inside one). Loading truncates first, so a
//! table can be reused for several lookups of one transaction.

use chrono::NaiveDate;
use postgres::binary_copy::BinaryCopyInWriter;
use postgres::types::Type;
use postgres::GenericClient;

use super::error::StoreError;
use super::uuid_param::UuidParam;

/// (visit date, trimmed SSN) keys of a batch scope.
pub(crate) const SCOPE_KEYS: &str = "conflicts_tmp_scope_keys";
/// (VisitID, ConVisitID) pair keys.
#[cfg(feature = "test-support")]
pub(crate) const PAIR_KEYS: &str = "conflicts_tmp_pair_keys";
/// Single visit ids.
pub(crate) const VISIT_IDS: &str = "conflicts_tmp_visit_ids";

/// Above this many rows the table is analysed after loading, so the planner sees its real size
/// (a fresh temp table has no statistics and is assumed small or large at random).
const ANALYZE_FROM_ROWS: usize = 1000;

fn prepare<C: GenericClient>(client: &mut C, table: &str, columns: &str) -> Result<(), StoreError> {
    client
        .batch_execute(&format!(
            "CREATE TEMP TABLE IF NOT EXISTS {table} ({columns}) ON COMMIT DROP; TRUNCATE {table};"
        ))
        .map_err(|e| StoreError::db("create a temporary key table", Some(table), e))
}

fn finish<C: GenericClient>(client: &mut C, table: &str, rows: usize) -> Result<(), StoreError> {
    if rows >= ANALYZE_FROM_ROWS {
        client
            .batch_execute(&format!("ANALYZE {table}"))
            .map_err(|e| StoreError::db("analyse a temporary key table", Some(table), e))?;
    }
    Ok(())
}

/// Loads `keys` into [`SCOPE_KEYS`] (`visit_date date, ssn text`).
pub(crate) fn load_scope_keys<C: GenericClient>(
    client: &mut C,
    keys: &[(NaiveDate, String)],
) -> Result<(), StoreError> {
    prepare(
        client,
        SCOPE_KEYS,
        "visit_date date NOT NULL, ssn text NOT NULL",
    )?;
    let err = |e| StoreError::db("copy scope keys", Some(SCOPE_KEYS), e);
    let sink = client
        .copy_in(&format!(
            "COPY {SCOPE_KEYS} (visit_date, ssn) FROM STDIN BINARY"
        ))
        .map_err(err)?;
    let mut writer = BinaryCopyInWriter::new(sink, &[Type::DATE, Type::TEXT]);
    for (date, ssn) in keys {
        writer.write(&[date, ssn]).map_err(err)?;
    }
    writer.finish().map_err(err)?;
    finish(client, SCOPE_KEYS, keys.len())
}

/// Loads `keys` into [`PAIR_KEYS`] (`visit_id uuid, con_visit_id uuid`).
#[cfg(feature = "test-support")]
pub(crate) fn load_pair_keys<C: GenericClient>(
    client: &mut C,
    keys: &[(UuidParam, UuidParam)],
) -> Result<(), StoreError> {
    prepare(
        client,
        PAIR_KEYS,
        "visit_id uuid NOT NULL, con_visit_id uuid NOT NULL",
    )?;
    let err = |e| StoreError::db("copy pair keys", Some(PAIR_KEYS), e);
    let sink = client
        .copy_in(&format!(
            "COPY {PAIR_KEYS} (visit_id, con_visit_id) FROM STDIN BINARY"
        ))
        .map_err(err)?;
    let mut writer = BinaryCopyInWriter::new(sink, &[Type::UUID, Type::UUID]);
    for (v1, v2) in keys {
        writer.write(&[v1, v2]).map_err(err)?;
    }
    writer.finish().map_err(err)?;
    finish(client, PAIR_KEYS, keys.len())
}

/// Loads `ids` into [`VISIT_IDS`] (`visit_id uuid`).
pub(crate) fn load_visit_ids<C: GenericClient>(
    client: &mut C,
    ids: &[UuidParam],
) -> Result<(), StoreError> {
    prepare(client, VISIT_IDS, "visit_id uuid NOT NULL")?;
    let err = |e| StoreError::db("copy visit ids", Some(VISIT_IDS), e);
    let sink = client
        .copy_in(&format!("COPY {VISIT_IDS} (visit_id) FROM STDIN BINARY"))
        .map_err(err)?;
    let mut writer = BinaryCopyInWriter::new(sink, &[Type::UUID]);
    for id in ids {
        writer.write(&[id]).map_err(err)?;
    }
    writer.finish().map_err(err)?;
    finish(client, VISIT_IDS, ids.len())
}
