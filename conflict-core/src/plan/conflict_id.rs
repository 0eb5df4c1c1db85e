//! `CONFLICTID` reuse and allocation (docs/lifecycle.md §5.2): one conflict per primary visit.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

/// The smallest non-NULL `CONFLICTID` per `VisitID` over the given CVM rows (`(VisitID,
/// CONFLICTID)`): the value §5.2 step 1 reuses. Rows of every kind count.
pub fn smallest_by_visit<'a>(
    rows: impl IntoIterator<Item = (&'a str, Option<i64>)>,
) -> HashMap<&'a str, i64> {
    let mut out: HashMap<&str, i64> = HashMap::new();
    for (visit, id) in rows {
        if let Some(id) = id {
            out.entry(visit)
                .and_modify(|m| *m = (*m).min(id))
                .or_insert(id);
        }
    }
    out
}

/// Which primary visits reuse an id and which need a new `conflicts` row.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConflictIdPlan {
    /// V1 → reused `CONFLICTID`.
    pub reuse: BTreeMap<String, i64>,
    /// V1s that need a new conflict, in ascending `VisitID` order: the order in which the
    /// `conflicts` rows are inserted (and so the ids generated).
    pub allocate: Vec<String>,
}

impl ConflictIdPlan {
    /// V1 → `CONFLICTID` for every planned visit, given the ids generated for `allocate`
    /// (same order and length).
    pub fn assign(&self, allocated: &[i64]) -> BTreeMap<String, i64> {
        assert_eq!(
            allocated.len(),
            self.allocate.len(),
            "one generated id per allocated conflict"
        );
        let mut out = self.reuse.clone();
        out.extend(self.allocate.iter().cloned().zip(allocated.iter().copied()));
        out
    }
}

/// Plans §5.2 for the primary visits that need an id in this batch (rows to insert, orphans to
/// adopt). `existing` is [`smallest_by_visit`] over the whole table. Each V1 appears once,
/// so all its pairs share the value.
pub fn plan_conflict_ids<'a>(
    needing: impl IntoIterator<Item = &'a str>,
    existing: &HashMap<&str, i64>,
) -> ConflictIdPlan {
    // A BTreeSet orders the visits as §5.2 requires (ascending VisitID; canonical lower-case
    // uuid text sorts like the uuid itself).
    let visits: BTreeSet<&str> = needing.into_iter().collect();
    let mut plan = ConflictIdPlan::default();
    for v in visits {
        match existing.get(v) {
            Some(&id) => {
                plan.reuse.insert(v.to_string(), id);
            }
            None => plan.allocate.push(v.to_string()),
        }
    }
    plan
}

/// The non-NULL `CONFLICTID`s written or kept on inserted, updated or adopted rows that have no
/// parent `conflicts` row: each gets one with that explicit id (warning
/// `missing_parent_conflict`). Ascending.
pub fn missing_parents(
    written: impl IntoIterator<Item = i64>,
    existing_parents: &HashSet<i64>,
) -> BTreeSet<i64> {
    written
        .into_iter()
        .filter(|id| !existing_parents.contains(id))
        .collect()
}

/// Sorts new rows into insert order: (`VisitID`, `ConVisitID`).
pub fn sort_for_insert<T>(rows: &mut [T], key: impl Fn(&T) -> (&str, &str)) {
    rows.sort_by(|a, b| key(a).cmp(&key(b)));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_smallest_existing_id_of_a_visit_is_reused() {
        let existing = smallest_by_visit([
            ("a", Some(9)),
            ("a", None),
            ("a", Some(4)),
            ("b", None),
            ("c", Some(7)),
        ]);
        assert_eq!(existing.get("a"), Some(&4));
        assert_eq!(existing.get("b"), None, "NULL ids do not count");
        let plan = plan_conflict_ids(["c", "a", "b", "a"], &existing);
        assert_eq!(
            plan.reuse,
            BTreeMap::from([("a".to_string(), 4), ("c".to_string(), 7)])
        );
        assert_eq!(plan.allocate, ["b"]);
    }

    #[test]
    fn new_ids_are_allocated_in_ascending_visit_order() {
        let plan = plan_conflict_ids(
            [
                "f0000000-0000-4000-8000-000000000000",
                "0a000000-0000-4000-8000-000000000000",
                "b0000000-0000-4000-8000-000000000000",
            ],
            &HashMap::new(),
        );
        assert_eq!(
            plan.allocate,
            [
                "0a000000-0000-4000-8000-000000000000",
                "b0000000-0000-4000-8000-000000000000",
                "f0000000-0000-4000-8000-000000000000"
            ]
        );
        let ids = plan.assign(&[11, 12, 13]);
        assert_eq!(ids["0a000000-0000-4000-8000-000000000000"], 11);
        assert_eq!(ids["f0000000-0000-4000-8000-000000000000"], 13);
    }

    #[test]
    #[should_panic(expected = "one generated id per allocated conflict")]
    fn assign_needs_one_id_per_allocation() {
        let plan = plan_conflict_ids(["a"], &HashMap::new());
        plan.assign(&[]);
    }

    #[test]
    fn parents_are_added_only_where_missing() {
        let existing = HashSet::from([1, 2]);
        assert_eq!(
            missing_parents([2, 5, 3, 5, 1], &existing),
            BTreeSet::from([3, 5])
        );
    }

    #[test]
    fn inserts_are_ordered_by_visit_then_con_visit() {
        let mut rows = vec![("b", "a"), ("a", "c"), ("a", "b")];
        sort_for_insert(&mut rows, |r| (r.0, r.1));
        assert_eq!(rows, [("a", "b"), ("a", "c"), ("b", "a")]);
    }
}
