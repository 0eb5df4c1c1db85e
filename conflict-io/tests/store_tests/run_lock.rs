//! The run lock of docs/lifecycle.md §9: one run per conflict schema at a time.

use conflict_io::run::ConflictStore;

use super::batch::World;

#[test]
fn a_second_lock_is_refused_until_the_first_is_dropped() {
    let w = World::new();
    let first = w.store.try_lock().unwrap();
    assert!(first.is_some());
    assert!(w.store.try_lock().unwrap().is_none(), "held by the first");
    assert!(w.store.try_lock().unwrap().is_none(), "still held");
    drop(first);
    let again = w.store.try_lock().unwrap();
    assert!(again.is_some(), "released when the first is dropped");
}

#[test]
fn schemas_lock_independently() {
    let w1 = World::new();
    let w2 = World::new();
    let _l1 = w1.store.try_lock().unwrap().unwrap();
    assert!(w2.store.try_lock().unwrap().is_some());
}
