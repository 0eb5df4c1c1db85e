//! One batch, one transaction (docs/lifecycle.md §9): a failure anywhere leaves nothing behind and
//! the ledger entry is not done; `--dry-run` rolls the data back but completes the ledger.

use std::time::Duration;

use conflict_io::run::ConflictStore;
use conflict_io::store::StoreError;

use super::batch::{numbers, run, u, visit, Batch, World};

const RUN_TS: &str = "2025-06-15 02:00:00";

/// A batch that updates (a, b), inserts (b, a) with a new conflict and resolves (a, x).
fn scenario(w: &mut World) -> Batch {
    let (a, b) = (u(1), u(2));
    w.seed_conflict(10, "U");
    w.seed(&a, &b, Some(10), &[("SameSchTimeFlag", "'N'")]);
    w.seed(&a, &u(9), Some(10), &[("StatusFlag", "'N'")]);
    let batch = Batch::new(vec![visit(1, 1), visit(2, 2)]);
    w.store
        .add_batches(1, std::slice::from_ref(&batch.spec))
        .unwrap();
    let claimed = w.store.claim_batch(1, "test").unwrap();
    assert_eq!(claimed.as_ref(), Some(&batch.spec));
    batch
}

fn ledger_status(w: &mut World) -> String {
    let sql = format!(
        "SELECT \"Status\" FROM {} WHERE \"RunID\" = 1",
        w.t.table("detection_run_batches")
    );
    w.t.client.query_one(&sql, &[]).unwrap().get(0)
}

fn tables(w: &mut World) -> (Vec<String>, Vec<String>) {
    (
        w.snapshot("conflictvisitmaps", "\"ID\""),
        w.snapshot("conflicts", "\"CONFLICTID\""),
    )
}

#[test]
fn a_failure_late_in_the_batch_rolls_back_every_write() {
    let mut w = World::new();
    let batch = scenario(&mut w);
    // The insert of (b, a) fails; the update, the new conflict and the stale resolution of
    // the same batch were already executed by then.
    let schema = w.t.names.conflict.quoted();
    let cvm = w.cvm();
    w.exec(&format!(
        "CREATE FUNCTION {schema}.boom() RETURNS trigger LANGUAGE plpgsql AS $$ \
         BEGIN IF NEW.\"VisitID\" = '{b}' THEN RAISE EXCEPTION 'injected failure'; END IF; \
         RETURN NEW; END $$; \
         CREATE TRIGGER boom BEFORE INSERT ON {cvm} FOR EACH ROW EXECUTE FUNCTION {schema}.boom();",
        b = u(2)
    ));
    let before = tables(&mut w);
    let err = batch.try_apply(&w.store, &run(RUN_TS), false).unwrap_err();
    assert!(matches!(err, StoreError::Db { .. }), "{err:?}");
    assert!(err.to_string().contains("injected failure"), "{err}");
    assert!(!err.is_transient());
    assert_eq!(tables(&mut w), before, "nothing of the batch is written");
    assert_eq!(ledger_status(&mut w), "claimed");

    w.exec(&format!("DROP TRIGGER boom ON {cvm}"));
    let counts = batch.try_apply(&w.store, &run(RUN_TS), false).unwrap();
    assert_eq!(numbers(&counts), [1, 0, 0, 1, 0, 1, 1]);
    assert_eq!(ledger_status(&mut w), "done");
}

#[test]
fn a_missing_column_fails_the_batch_without_partial_writes() {
    let mut w = World::new();
    let batch = scenario(&mut w);
    // Only the insert uses PTOFlag: the reads, the update and the allocation succeed first.
    let cvm = w.cvm();
    w.exec(&format!("ALTER TABLE {cvm} DROP COLUMN \"PTOFlag\""));
    let before = tables(&mut w);
    let err = batch.try_apply(&w.store, &run(RUN_TS), false).unwrap_err();
    assert!(err.to_string().contains("PTOFlag"), "{err}");
    assert_eq!(tables(&mut w), before);
    assert_eq!(ledger_status(&mut w), "claimed");
}

#[test]
fn a_dry_run_reports_the_counts_writes_nothing_and_completes_the_ledger_entry() {
    let mut w = World::new();
    let batch = scenario(&mut w);
    let before = tables(&mut w);
    let counts = batch.try_apply(&w.store, &run(RUN_TS), true).unwrap();
    assert_eq!(numbers(&counts), [1, 0, 0, 1, 0, 1, 1]);
    assert_eq!(tables(&mut w), before);
    assert_eq!(ledger_status(&mut w), "done");
}

#[test]
fn a_row_changed_by_a_person_between_read_and_write_is_a_retryable_conflict() {
    // A plan made from a row that then became 'W' must not overwrite it. A second session
    // changes the row and holds its lock; the writer reads the old version, its update waits
    // for the lock, and the change is committed while it waits.
    let mut w = World::new();
    let (a, b) = (u(1), u(2));
    let batch = scenario(&mut w);
    let cvm = w.cvm();
    let mut other = super::support::client();
    let mut tx = other.transaction().unwrap();
    tx.execute(
        &format!("UPDATE {cvm} SET \"StatusFlag\" = 'W' WHERE \"VisitID\"::text = $1 AND \"ConVisitID\"::text = $2"),
        &[&a, &b],
    )
    .unwrap();
    let store = &w.store;
    let schema = w.t.names.conflict.as_str().to_string();
    let mut watcher = super::support::client();
    let result = std::thread::scope(|s| {
        let writer = s.spawn(|| batch.try_apply(store, &run(RUN_TS), false));
        // Commit only once the writer's update waits for the locked row: by then it has read
        // the row as it was before.
        let waiting = "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' \
                       AND query LIKE 'UPDATE %' AND strpos(query, $1) > 0";
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while watcher
            .query_one(waiting, &[&schema])
            .unwrap()
            .get::<_, i64>(0)
            == 0
        {
            assert!(
                std::time::Instant::now() < deadline,
                "the writer never waited"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        tx.commit().unwrap();
        writer.join().unwrap()
    });
    let err = result.unwrap_err();
    assert!(
        matches!(err, StoreError::ConcurrentChange { .. }),
        "{err:?}"
    );
    assert!(err.is_transient());
    assert_eq!(
        super::batch::text(&w.row(&a, &b), "StatusFlag").as_deref(),
        Some("W")
    );
    assert_eq!(ledger_status(&mut w), "claimed");
    // The retry sees the W row: content still written, status kept.
    let counts = batch.try_apply(&w.store, &run(RUN_TS), false).unwrap();
    assert_eq!(counts.updated, 1);
    assert_eq!(
        super::batch::text(&w.row(&a, &b), "StatusFlag").as_deref(),
        Some("W")
    );
}
