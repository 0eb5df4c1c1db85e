//! The run ledger: batches, claims with `FOR UPDATE SKIP LOCKED`, stalled claims, release
//! and progress.

use std::collections::BTreeSet;
use std::sync::Mutex;
use std::time::Duration;

use chrono::NaiveDate;
use conflict_io::run::{BatchSpec, ConflictStore, WriteCounts};
use conflict_io::scope::Scope;
use conflict_io::store::testing::ledger;

use super::batch::World;
use super::support;

const STALL: Duration = Duration::from_secs(900);

fn specs(n: usize) -> Vec<BatchSpec> {
    (0..n)
        .map(|i| BatchSpec {
            key: format!("ssn:{i:03}"),
            scope: Scope::SsnPrefix(format!("{i:03}")),
        })
        .collect()
}

fn status(w: &mut World, key: &str) -> (String, Option<String>, i32, Option<String>) {
    let sql = format!(
        "SELECT \"Status\", \"ClaimedBy\", \"Attempts\", \"Error\" FROM {} \
         WHERE \"RunID\" = 1 AND \"BatchKey\" = $1",
        w.t.table("detection_run_batches")
    );
    let r = w.t.client.query_one(&sql, &[&key]).unwrap();
    (r.get(0), r.get(1), r.get(2), r.get(3))
}

#[test]
fn batches_are_recorded_once_and_claimed_in_key_order_with_their_scope() {
    let w = World::new();
    let d: NaiveDate = "2025-06-10".parse().unwrap();
    let keys = BatchSpec {
        key: "keys:000000".into(),
        scope: Scope::Keys(vec![(d, "123456789".into())]),
    };
    let mut all = specs(2);
    all.push(keys.clone());
    w.store.add_batches(1, &all).unwrap();
    w.store.add_batches(1, &all).unwrap();
    assert_eq!(w.store.batch_progress(1).unwrap(), (0, 3));
    assert_eq!(w.store.claim_batch(1, "w", STALL).unwrap(), Some(keys));
    assert_eq!(
        w.store.claim_batch(1, "w", STALL).unwrap(),
        Some(all[0].clone())
    );
    assert_eq!(
        w.store.claim_batch(1, "w", STALL).unwrap(),
        Some(all[1].clone())
    );
    assert_eq!(w.store.claim_batch(1, "w", STALL).unwrap(), None);
    assert_eq!(
        w.store.claim_batch(2, "w", STALL).unwrap(),
        None,
        "other run"
    );
}

#[test]
fn a_batch_claimed_in_an_open_transaction_is_skipped_not_waited_for() {
    let w = World::new();
    w.store.add_batches(1, &specs(2)).unwrap();
    let mut other = support::client();
    let mut tx = other.transaction().unwrap();
    let first = ledger::claim(&mut tx, &w.t.names, 1, "a", STALL)
        .unwrap()
        .unwrap();
    assert_eq!(first.key, "ssn:000");
    // The row is locked by the open transaction: the store skips it at once.
    let second = w.store.claim_batch(1, "b", STALL).unwrap().unwrap();
    assert_eq!(second.key, "ssn:001");
    assert_eq!(w.store.claim_batch(1, "b", STALL).unwrap(), None);
    tx.commit().unwrap();
    assert_eq!(w.store.claim_batch(1, "b", STALL).unwrap(), None);
}

#[test]
fn concurrent_claimers_never_get_the_same_batch() {
    let w = World::new();
    let all = specs(60);
    w.store.add_batches(1, &all).unwrap();
    let claimed = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for t in 0..4 {
            let (names, claimed) = (&w.t.names, &claimed);
            s.spawn(move || {
                // A connection per claimer, as separate processes would have.
                let mut client = support::client();
                let worker = format!("t{t}");
                while let Some(b) = ledger::claim(&mut client, names, 1, &worker, STALL).unwrap() {
                    claimed.lock().unwrap().push(b.key);
                }
            });
        }
    });
    let claimed = claimed.into_inner().unwrap();
    let distinct: BTreeSet<&String> = claimed.iter().collect();
    assert_eq!(claimed.len(), all.len(), "every batch claimed exactly once");
    assert_eq!(distinct.len(), all.len());
}

#[test]
fn a_stalled_claim_is_taken_over_a_fresh_one_is_not() {
    let mut w = World::new();
    w.store.add_batches(1, &specs(2)).unwrap();
    w.store.claim_batch(1, "crashed", STALL).unwrap().unwrap();
    w.store.claim_batch(1, "busy", STALL).unwrap().unwrap();
    assert_eq!(w.store.claim_batch(1, "new", STALL).unwrap(), None);
    let t = w.t.table("detection_run_batches");
    w.exec(&format!(
        "UPDATE {t} SET \"ClaimedAt\" = \"ClaimedAt\" - interval '1 hour' \
         WHERE \"BatchKey\" = 'ssn:000'"
    ));
    let taken = w.store.claim_batch(1, "new", STALL).unwrap().unwrap();
    assert_eq!(taken.key, "ssn:000");
    assert_eq!(
        status(&mut w, "ssn:000"),
        ("claimed".into(), Some("new".into()), 2, None)
    );
    assert_eq!(w.store.claim_batch(1, "new", STALL).unwrap(), None);
}

#[test]
fn released_batches_are_pending_again_and_done_ones_stay_done() {
    let mut w = World::new();
    w.store.add_batches(1, &specs(3)).unwrap();
    for _ in 0..3 {
        w.store.claim_batch(1, "w", STALL).unwrap().unwrap();
    }
    w.store
        .release_batch(1, "ssn:000", Some("batch ssn:000: boom"))
        .unwrap();
    assert_eq!(
        status(&mut w, "ssn:000"),
        (
            "pending".into(),
            None,
            1,
            Some("batch ssn:000: boom".into())
        )
    );
    ledger::mark_done(
        &mut w.t.client,
        &w.t.names,
        1,
        "ssn:001",
        &WriteCounts::default(),
        &Default::default(),
    )
    .unwrap();
    w.store.release_batch(1, "ssn:001", None).unwrap();
    assert_eq!(status(&mut w, "ssn:001").0, "done");
    assert_eq!(w.store.batch_progress(1).unwrap(), (1, 3));

    // Resuming gives every remaining claim back.
    w.store.reset_claims(1).unwrap();
    assert_eq!(status(&mut w, "ssn:002").0, "pending");
    let again = w.store.claim_batch(1, "w", STALL).unwrap().unwrap();
    assert_eq!(again.key, "ssn:000");
    assert_eq!(status(&mut w, "ssn:000").2, 2, "attempts count claims");
}
