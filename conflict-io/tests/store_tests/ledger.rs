//! The run ledger: batches, claims held by a session's advisory lock (never taken from a
//! live claimant, free at once when the claimant's session ends), the commit fence, release
//! and progress.

use std::collections::BTreeSet;
use std::sync::Mutex;

use chrono::NaiveDate;
use conflict_io::run::{BatchSpec, ConflictStore, WriteCounts};
use conflict_io::scope::Scope;
use conflict_io::store::testing::ledger;
use conflict_io::store::StoreError;

use super::batch::World;
use super::support;

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
    assert_eq!(w.store.claim_batch(1, "w").unwrap(), Some(keys));
    assert_eq!(w.store.claim_batch(1, "w").unwrap(), Some(all[0].clone()));
    assert_eq!(w.store.claim_batch(1, "w").unwrap(), Some(all[1].clone()));
    assert_eq!(w.store.claim_batch(1, "w").unwrap(), None);
    assert_eq!(w.store.claim_batch(2, "w").unwrap(), None, "other run");
}

#[test]
fn a_claim_held_by_a_live_session_is_skipped_however_old_and_free_once_it_ends() {
    let mut w = World::new();
    w.store.add_batches(1, &specs(2)).unwrap();
    let mut other = support::client();
    let first = ledger::claim(&mut other, &w.t.names, 1, "a", &[])
        .unwrap()
        .unwrap();
    assert_eq!(first.key, "ssn:000");
    // However old the claim looks, its claimant's session is alive: it is not taken.
    let t = w.t.table("detection_run_batches");
    w.exec(&format!(
        "UPDATE {t} SET \"ClaimedAt\" = \"ClaimedAt\" - interval '1 day' \
         WHERE \"BatchKey\" = 'ssn:000'"
    ));
    let second = w.store.claim_batch(1, "b").unwrap().unwrap();
    assert_eq!(second.key, "ssn:001");
    assert_eq!(w.store.claim_batch(1, "b").unwrap(), None);
    assert_eq!(
        status(&mut w, "ssn:000"),
        ("claimed".into(), Some("a".into()), 1, None)
    );
    // The claimant dies (its session ends): its batch is free at once.
    drop(other);
    let taken = w.store.claim_batch(1, "b").unwrap().unwrap();
    assert_eq!(taken.key, "ssn:000");
    assert_eq!(
        status(&mut w, "ssn:000"),
        ("claimed".into(), Some("b".into()), 2, None)
    );
}

#[test]
fn concurrent_claimers_never_get_the_same_batch() {
    let w = World::new();
    let all = specs(60);
    w.store.add_batches(1, &all).unwrap();
    let claimed = Mutex::new(Vec::new());
    // Every claimer keeps its session (its claims) until all are done: a session that ends
    // frees its batches, which others would then rightly claim again.
    let all_done = std::sync::Barrier::new(4);
    std::thread::scope(|s| {
        for t in 0..4 {
            let (names, claimed, all_done) = (&w.t.names, &claimed, &all_done);
            s.spawn(move || {
                // A connection per claimer, as separate processes would have; it keeps its
                // claims (their locks) until the end of the test.
                let mut client = support::client();
                let worker = format!("t{t}");
                while let Some(b) = ledger::claim(&mut client, names, 1, &worker, &[]).unwrap() {
                    claimed.lock().unwrap().push(b.key);
                }
                all_done.wait();
            });
        }
    });
    let claimed = claimed.into_inner().unwrap();
    let distinct: BTreeSet<&String> = claimed.iter().collect();
    assert_eq!(claimed.len(), all.len(), "every batch claimed exactly once");
    assert_eq!(distinct.len(), all.len());
}

#[test]
fn the_fence_accepts_only_the_claimant_of_a_claimed_batch() {
    let mut w = World::new();
    w.store.add_batches(1, &specs(2)).unwrap();
    let names = w.t.names.clone();
    let mut a = support::client();
    ledger::claim(&mut a, &names, 1, "a", &[]).unwrap().unwrap();
    let mut tx = a.transaction().unwrap();
    ledger::fence(&mut tx, &names, 1, "ssn:000", "a").unwrap();
    let err = ledger::fence(&mut tx, &names, 1, "ssn:000", "b").unwrap_err();
    assert!(
        matches!(&err, StoreError::ClaimLost { holder: Some(h), .. } if h == "a"),
        "{err:?}"
    );
    // Not claimed at all (pending): nobody may complete it.
    let err = ledger::fence(&mut tx, &names, 1, "ssn:001", "a").unwrap_err();
    assert!(matches!(&err, StoreError::ClaimLost { status, .. } if status == "pending"));
    // mark_done by someone else than the claimant changes nothing and says so.
    let err = ledger::mark_done(
        &mut tx,
        &names,
        1,
        "ssn:000",
        "b",
        &WriteCounts::default(),
        &Default::default(),
    )
    .unwrap_err();
    assert!(matches!(err, StoreError::ClaimLost { .. }), "{err:?}");
    ledger::mark_done(
        &mut tx,
        &names,
        1,
        "ssn:000",
        "a",
        &WriteCounts::default(),
        &Default::default(),
    )
    .unwrap();
    tx.commit().unwrap();
    assert_eq!(
        status(&mut w, "ssn:000"),
        ("done".into(), Some("a".into()), 1, None),
        "the ledger keeps who completed the batch"
    );
    // Done: the fence refuses every later attempt, even the former claimant's.
    let mut tx = a.transaction().unwrap();
    let err = ledger::fence(&mut tx, &names, 1, "ssn:000", "a").unwrap_err();
    assert!(matches!(&err, StoreError::ClaimLost { status, .. } if status == "done"));
}

#[test]
fn released_batches_are_pending_again_and_done_ones_stay_done() {
    let mut w = World::new();
    w.store.add_batches(1, &specs(3)).unwrap();
    for _ in 0..3 {
        w.store.claim_batch(1, "w").unwrap().unwrap();
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
    let t = w.t.table("detection_run_batches");
    w.exec(&format!(
        "UPDATE {t} SET \"Status\" = 'done' WHERE \"BatchKey\" = 'ssn:001'"
    ));
    w.store.release_batch(1, "ssn:001", None).unwrap();
    assert_eq!(status(&mut w, "ssn:001").0, "done");
    assert_eq!(w.store.batch_progress(1).unwrap(), (1, 3));

    // ssn:002 is still held by this store: another process cannot take it; resuming does not
    // reset a live claim either.
    let mut other = support::client();
    let names = w.t.names.clone();
    w.store.reset_claims(1).unwrap();
    assert_eq!(status(&mut w, "ssn:002").0, "claimed");
    assert_eq!(
        ledger::claim(&mut other, &names, 1, "x", &["ssn:000".to_string()]).unwrap(),
        None,
        "a batch the caller's process holds elsewhere (retrying) is skipped"
    );
    let again = ledger::claim(&mut other, &names, 1, "x", &[])
        .unwrap()
        .unwrap();
    assert_eq!(again.key, "ssn:000");
    assert_eq!(status(&mut w, "ssn:000").2, 2, "attempts count claims");
    assert_eq!(
        ledger::claim(&mut other, &names, 1, "x", &[]).unwrap(),
        None
    );
}
