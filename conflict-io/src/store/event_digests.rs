//! The event bookkeeping (docs/lifecycle.md §7.1, docs/tables.md §8): per event kind and
//! trimmed SSN, the digest of the events the last committed InService (or PTO) step read for
//! that SSN. The analytics event tables carry no update timestamp; comparing digests is how an
//! incremental run finds the caregivers whose events changed.
//!
//! The table is the tool's own (created on demand like the ledger) and is written only inside
//! the step's transaction, so a step that fails or is a dry run leaves it as it was.

use std::collections::HashMap;

use conflict_core::inservice::EventKind;
use postgres::GenericClient;

use super::config::SchemaNames;
use super::error::StoreError;
use crate::run::{Digest, DigestUpdate};

/// Table owned by the tool.
pub const DIGEST_TABLE: &str = "detection_event_digests";

/// `CREATE TABLE` of the bookkeeping, one row per kind and SSN.
pub fn ddl(names: &SchemaNames) -> String {
    let t = names.conflict_table(DIGEST_TABLE);
    format!(
        "CREATE TABLE IF NOT EXISTS {t} (\
         \"Kind\" varchar(20) NOT NULL, \"SSN\" text NOT NULL, \"Digest\" bytea NOT NULL, \
         \"RunID\" int8 NOT NULL, PRIMARY KEY (\"Kind\", \"SSN\"))"
    )
}

/// The kind's name in the `Kind` column.
fn kind_name(kind: EventKind) -> &'static str {
    match kind {
        EventKind::InService => "inservice",
        EventKind::Pto => "pto",
    }
}

/// Every recorded digest of `kind`, by SSN.
pub fn read<C: GenericClient>(
    client: &mut C,
    names: &SchemaNames,
    kind: EventKind,
) -> Result<HashMap<String, Digest>, StoreError> {
    let t = names.conflict_table(DIGEST_TABLE);
    let rows = client
        .query(
            &format!("SELECT \"SSN\", \"Digest\" FROM {t} WHERE \"Kind\" = $1"),
            &[&kind_name(kind)],
        )
        .map_err(|e| StoreError::db("read the event bookkeeping", Some(&t), e))?;
    let mut out = HashMap::with_capacity(rows.len());
    for r in rows {
        let ssn: String = r.get(0);
        let bytes: Vec<u8> = r.get(1);
        // A digest of another length was not written by this version: leaving it out makes
        // its SSN look changed, so it is re-derived and its digest rewritten.
        if let Ok(d) = Digest::try_from(bytes.as_slice()) {
            out.insert(ssn, d);
        }
    }
    Ok(out)
}

/// Records `update` for `kind` (inside the caller's transaction).
pub fn write<C: GenericClient>(
    client: &mut C,
    names: &SchemaNames,
    kind: EventKind,
    run_id: i64,
    update: &DigestUpdate,
) -> Result<(), StoreError> {
    if update.is_empty() {
        return Ok(());
    }
    let t = names.conflict_table(DIGEST_TABLE);
    let err = |e| StoreError::db("write the event bookkeeping", Some(&t), e);
    let kind = kind_name(kind);
    if update.replace_all {
        client
            .execute(&format!("DELETE FROM {t} WHERE \"Kind\" = $1"), &[&kind])
            .map_err(err)?;
    } else {
        let mut gone: Vec<&str> = update.remove.iter().map(String::as_str).collect();
        gone.extend(update.set.iter().map(|(s, _)| s.as_str()));
        client
            .execute(
                &format!("DELETE FROM {t} WHERE \"Kind\" = $1 AND \"SSN\" = ANY($2)"),
                &[&kind, &gone],
            )
            .map_err(err)?;
    }
    if update.set.is_empty() {
        return Ok(());
    }
    let ssns: Vec<&str> = update.set.iter().map(|(s, _)| s.as_str()).collect();
    let digests: Vec<&[u8]> = update.set.iter().map(|(_, d)| d.as_slice()).collect();
    client
        .execute(
            &format!(
                "INSERT INTO {t} (\"Kind\", \"SSN\", \"Digest\", \"RunID\") \
                 SELECT $1, s, d, $4 FROM unnest($2::text[], $3::bytea[]) AS u(s, d)"
            ),
            &[&kind, &ssns, &digests, &run_id],
        )
        .map_err(err)?;
    Ok(())
}
