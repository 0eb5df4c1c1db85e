//! Reading stored CVM rows by scope and by key (`store::stored_rows`).

use chrono::NaiveDate;
use conflict_core::Window;
use conflict_io::scope::{BatchScope, Scope};
use conflict_io::store::testing::stored_rows::{
    existing_conflicts, read_rows_by_pair_keys, read_scope_rows, smallest_conflict_ids,
};
use conflict_io::store::StoreError;

use super::support::TestSchemas;

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

/// `u(7)` = "00000000-0000-4000-8000-000000000007".
fn u(n: u32) -> String {
    format!("00000000-0000-4000-8000-{n:012}")
}

fn window() -> Window {
    Window {
        from: d("2025-01-01"),
        to: d("2025-12-31"),
    }
}

fn ids(rows: &[conflict_io::store::CvmControlRow]) -> Vec<i64> {
    rows.iter().map(|r| r.id).collect()
}

/// Rows 1–7 of the module's scenario (see the comments).
fn seed(t: &mut TestSchemas) {
    let cvm = t.table("conflictvisitmaps");
    // Rows 1 and 5 share a key, which deployments without the unique index can hold.
    let index = format!("{}.\"cvm_pair_unique\"", t.names.conflict.quoted());
    t.exec(&format!("DROP INDEX {index}"));
    let sql = format!(
        "INSERT INTO {cvm} (\"ID\", \"VisitID\", \"ConVisitID\", \"SSN\", \"VisitDate\", \"CONFLICTID\", \
           \"StatusFlag\", \"UpdateFlag\", \"SameSchTimeFlag\", \"DistanceFlag\", \
           \"InserviceStartDate\", \"ConPTOEndDate\") VALUES \
         (1, '{a}', '{b}', E' 123456789\\t', '2025-06-10', 11, 'N', NULL, 'Y', 'N', NULL, NULL), \
         (2, '{b}', '{a}', '123456789', '2025-06-11', 12, 'W', 1, NULL, 'N', NULL, NULL), \
         (3, '{c}', '{a}', '987654321', '2025-06-10', 13, NULL, NULL, 'N', 'N', NULL, NULL), \
         (4, '{c}', '{b}', '123456789', '2025-06-10', NULL, 'N', NULL, 'N', 'N', NULL, NULL), \
         (5, '{a}', '{b}', '123456789', '2025-06-10', 15, 'N', NULL, 'N', 'N', '2025-06-10 09:00', NULL), \
         (6, '{a}', '{c}', '123456789', '2020-01-01', 16, 'U', NULL, 'N', 'N', NULL, NULL), \
         (7, '{b}', '{c}', '123456789', '2025-06-10', 17, 'N', NULL, 'N', 'N', NULL, '2025-06-11 00:00')",
        a = u(1),
        b = u(2),
        c = u(3)
    );
    t.exec(&sql);
}

fn scope(s: Scope) -> BatchScope {
    BatchScope {
        window: window(),
        scope: s,
    }
}

#[test]
fn scope_rows_are_the_regular_rows_of_the_window() {
    let mut t = TestSchemas::initialised();
    seed(&mut t);
    let rows = read_scope_rows(&mut t.client, &t.names, &scope(Scope::Window)).unwrap();
    // 4 orphan, 5 InService, 7 PTO: not regular; 6: outside the window.
    assert_eq!(ids(&rows), [1, 2, 3]);
    let r1 = &rows[0];
    assert_eq!(r1.visit_id, u(1));
    assert_eq!(r1.con_visit_id, u(2));
    assert_eq!(r1.ssn.as_deref(), Some("123456789"), "trimmed");
    assert_eq!(r1.visit_date, Some(d("2025-06-10")));
    assert_eq!(r1.conflict_id, Some(11));
    assert_eq!(r1.status.as_deref(), Some("N"));
    assert_eq!(r1.flags[0].as_deref(), Some("Y"));
    assert_eq!(r1.flags[1], None);
    assert_eq!(r1.flags[6].as_deref(), Some("N"));
    assert!(!r1.inservice_dates && !r1.pto_dates);
    assert_eq!(rows[1].update_flag, Some(1));
    assert_eq!(rows[2].status, None);
}

#[test]
fn an_ssn_prefix_selects_on_the_trimmed_ssn() {
    let mut t = TestSchemas::initialised();
    seed(&mut t);
    let rows = read_scope_rows(
        &mut t.client,
        &t.names,
        &scope(Scope::SsnPrefix("1234".into())),
    )
    .unwrap();
    assert_eq!(ids(&rows), [1, 2]);
    let rows = read_scope_rows(
        &mut t.client,
        &t.names,
        &scope(Scope::SsnPrefix("9".into())),
    )
    .unwrap();
    assert_eq!(ids(&rows), [3]);
}

#[test]
fn an_ssn_prefix_read_keeps_every_row_at_the_edges_of_its_byte_range() {
    let mut t = TestSchemas::initialised();
    let cvm = t.table("conflictvisitmaps");
    // Around prefix "129" (byte range ["129", "12:")): the prefix itself, a longer SSN, one
    // behind whitespace, the first byte past the range, and neighbours on both sides.
    t.exec(&format!(
        "INSERT INTO {cvm} (\"ID\", \"VisitID\", \"ConVisitID\", \"SSN\", \"VisitDate\", \"CONFLICTID\") VALUES \
         (1, '{a}', '{b}', '129', '2025-06-10', 1), \
         (2, '{b}', '{a}', '1299999', '2025-06-10', 1), \
         (3, '{a}', '{c}', E'\\n 129000\\t', '2025-06-10', 1), \
         (4, '{c}', '{a}', '12:0', '2025-06-10', 1), \
         (5, '{b}', '{c}', '1289999', '2025-06-10', 1), \
         (6, '{c}', '{b}', '130', '2025-06-10', 1), \
         (7, '{d}', '{a}', '12', '2025-06-10', 1)",
        a = u(1),
        b = u(2),
        c = u(3),
        d = u(4)
    ));
    let rows = read_scope_rows(
        &mut t.client,
        &t.names,
        &scope(Scope::SsnPrefix("129".into())),
    )
    .unwrap();
    assert_eq!(ids(&rows), [1, 2, 3]);
}

#[test]
fn explicit_keys_go_through_a_copied_temporary_table() {
    let mut t = TestSchemas::initialised();
    seed(&mut t);
    let keys = vec![
        (d("2025-06-10"), "123456789".to_string()),
        // Outside the window: row 6 stays out.
        (d("2020-01-01"), "123456789".to_string()),
    ];
    let rows = read_scope_rows(&mut t.client, &t.names, &scope(Scope::Keys(keys))).unwrap();
    assert_eq!(ids(&rows), [1]);

    // Thousands of keys: one COPY stream, no statement-size limit.
    let mut keys: Vec<(NaiveDate, String)> = (0..5000)
        .map(|i| (d("2025-03-01"), format!("{:09}", 100_000_000 + i)))
        .collect();
    keys.push((d("2025-06-10"), "987654321".into()));
    keys.push((d("2025-06-11"), "123456789".into()));
    let rows = read_scope_rows(&mut t.client, &t.names, &scope(Scope::Keys(keys))).unwrap();
    assert_eq!(ids(&rows), [2, 3]);
}

#[test]
fn key_tables_can_be_reused_inside_one_transaction() {
    let mut t = TestSchemas::initialised();
    seed(&mut t);
    let names = t.names.clone();
    let mut tx = t.client.transaction().unwrap();
    let first = read_scope_rows(
        &mut tx,
        &names,
        &scope(Scope::Keys(vec![(d("2025-06-10"), "987654321".into())])),
    )
    .unwrap();
    let second = read_scope_rows(
        &mut tx,
        &names,
        &scope(Scope::Keys(vec![(d("2025-06-11"), "123456789".into())])),
    )
    .unwrap();
    tx.commit().unwrap();
    assert_eq!((ids(&first), ids(&second)), (vec![3], vec![2]));
    let left: i64 = t
        .client
        .query_one(
            "SELECT count(*) FROM pg_class WHERE relname LIKE 'conflicts_tmp_%' AND relpersistence = 't' \
             AND pg_table_is_visible(oid)",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(left, 0, "temporary tables are dropped at commit");
}

#[test]
fn pair_keys_find_rows_of_every_kind_anywhere_in_the_table() {
    let mut t = TestSchemas::initialised();
    seed(&mut t);
    let (a, b, c) = (u(1), u(2), u(3));
    let upper_c = c.to_uppercase();
    let keys = [
        (a.as_str(), b.as_str()),
        (a.as_str(), c.as_str()),
        (upper_c.as_str(), b.as_str()),
    ];
    let rows = read_rows_by_pair_keys(&mut t.client, &t.names, &keys).unwrap();
    // (a,b): regular 1 and InService 5; (a,c): row 6 outside the window; (c,b): orphan 4.
    assert_eq!(ids(&rows), [1, 4, 5, 6]);
    assert!(rows[2].inservice_dates);
    assert_eq!(rows[1].conflict_id, None);

    let err =
        read_rows_by_pair_keys(&mut t.client, &t.names, &[("not-a-uuid", b.as_str())]).unwrap_err();
    assert!(matches!(err, StoreError::InvalidId { .. }), "{err:?}");
}

#[test]
fn the_smallest_conflict_id_of_each_primary_visit() {
    let mut t = TestSchemas::initialised();
    seed(&mut t);
    let (a, b, c, z) = (u(1), u(2), u(3), u(99));
    let got = smallest_conflict_ids(&mut t.client, &t.names, &[&a, &b, &c, &z]).unwrap();
    // a: rows 1 (11), 5 (15), 6 (16) → 11; b: 2 (12), 7 (17) → 12; c: 3 (13), 4 (NULL) → 13.
    assert_eq!(got.len(), 3);
    assert_eq!(got[&a], 11);
    assert_eq!(got[&b], 12);
    assert_eq!(got[&c], 13);
}

#[test]
fn existing_conflicts_are_looked_up_by_id() {
    let mut t = TestSchemas::initialised();
    let conflicts = t.table("conflicts");
    t.exec(&format!(
        "INSERT INTO {conflicts} (\"CONFLICTID\") VALUES (1), (2), (40)"
    ));
    let got = existing_conflicts(&mut t.client, &t.names, &[1, 3, 40, 41]).unwrap();
    let mut got: Vec<i64> = got.into_iter().collect();
    got.sort();
    assert_eq!(got, [1, 40]);
    assert!(existing_conflicts(&mut t.client, &t.names, &[])
        .unwrap()
        .is_empty());
}
