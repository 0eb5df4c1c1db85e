//! What a batch's write cost the conflict database, counted by the server: the rows of the
//! conflict schema's tables read and written inside the batch transaction
//! (`pg_stat_xact_user_tables`, which holds the current transaction's counts until it ends).
//! The server's own count needs no hook at each of the writer's statements and cannot miss one.

use postgres::GenericClient;

use super::config::SchemaNames;
use super::error::StoreError;
use crate::run::IoCounts;

/// Rows of the conflict schema read (sequential-scan tuples returned plus index tuples
/// fetched) and written (inserted, updated, deleted) so far in the current transaction, in
/// the store fields of [`IoCounts`]. The ledger is left out: its bookkeeping (the claim, the
/// batch's entry) is the same for every batch and says nothing of the data's cost.
pub(crate) fn transaction_io<C: GenericClient>(
    client: &mut C,
    names: &SchemaNames,
) -> Result<IoCounts, StoreError> {
    let row = client
        .query_one(
            "SELECT coalesce(sum(coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0)), 0)::int8, \
             coalesce(sum(n_tup_ins + n_tup_upd + n_tup_del), 0)::int8 \
             FROM pg_stat_xact_user_tables WHERE schemaname = $1 AND relname <> $2",
            &[&names.conflict.as_str(), &super::ledger::LEDGER_TABLE],
        )
        .map_err(|e| StoreError::db("read the batch's row counts", None, e))?;
    let (read, written): (i64, i64) = (row.get(0), row.get(1));
    Ok(IoCounts {
        store_rows_read: read.max(0) as u64,
        store_rows_written: written.max(0) as u64,
        ..IoCounts::default()
    })
}
