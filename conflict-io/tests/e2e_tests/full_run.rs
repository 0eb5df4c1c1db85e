//! A full run on generated data: the final conflict rows follow docs/lifecycle.md row by row, and a
//! second run changes nothing.

use super::harness::{flags_text, run_full, Loaded};

const SEED: u64 = 20_251;

both_sources! {
fn a_full_run_refreshes_inserts_and_resolves_and_a_second_run_changes_nothing() {
    let loaded = Loaded::new(SEED);
    let expected = loaded.expected_pairs();
    assert!(
        expected.len() > 50,
        "the world must produce pairs: {}",
        expected.len()
    );
    let mut schema = loaded.conflict_schema("a");
    let cvm = schema.t("conflictvisitmaps");
    let conflicts = schema.t("conflicts");

    // Seed rows the run must respect, each on its own primary visit.
    let mut keys: Vec<&(String, String)> = expected.keys().collect();
    keys.dedup_by(|a, b| a.0 == b.0);
    let mut by_v1 = Vec::new();
    for k in expected.keys() {
        if !by_v1.iter().any(|x: &&(String, String)| x.0 == k.0) {
            by_v1.push(k);
        }
    }
    let [sticky, ignored, resolved, orphan, inservice, reused] =
        [by_v1[0], by_v1[1], by_v1[2], by_v1[3], by_v1[4], by_v1[5]];
    let ctx = |k: &(String, String)| expected[k].clone();
    let insert = |k: &(String, String), extra_cols: &str, extra_vals: &str| {
        let (_, ssn, date) = ctx(k);
        format!(
            "INSERT INTO {cvm} (\"VisitID\", \"ConVisitID\", \"SSN\", \"VisitDate\"{extra_cols}) \
             VALUES ('{}', '{}', '{ssn}', '{date}'{extra_vals});",
            k.0, k.1
        )
    };
    let all_n = ", 'N', 'N', 'N', 'N', 'N', 'N', 'N'";
    let flag_cols = ", \"SameSchTimeFlag\", \"SameVisitTimeFlag\", \"SchAndVisitTimeSameFlag\", \
         \"SchOverAnotherSchTimeFlag\", \"VisitTimeOverAnotherVisitTimeFlag\", \
         \"SchTimeOverVisitTimeFlag\", \"DistanceFlag\"";
    let stale_v2 = "00000000-0000-4000-8000-00000000beef";
    let stale_w_v2 = "00000000-0000-4000-8000-00000000cafe";
    let (_, reused_ssn, reused_date) = ctx(reused);
    let seeds = [
        format!("INSERT INTO {conflicts} (\"CONFLICTID\", \"StatusFlag\") VALUES (500001, 'U'), (500002, 'U'), (500003, 'U');"),
        insert(sticky, &format!(", \"CONFLICTID\", \"StatusFlag\"{flag_cols}"), ", 500001, 'W', 'Y', NULL, 'N', 'N', 'N', 'N', 'N'"),
        insert(ignored, &format!(", \"CONFLICTID\", \"StatusFlag\"{flag_cols}"), &format!(", 500002, 'I'{all_n}")),
        insert(resolved, &format!(", \"CONFLICTID\", \"StatusFlag\", \"ResolveDate\"{flag_cols}"), &format!(", 500003, 'R', '2025-01-01'{all_n}")),
        insert(orphan, &format!(", \"StatusFlag\"{flag_cols}"), &format!(", NULL{all_n}")),
        insert(inservice, &format!(", \"CONFLICTID\", \"StatusFlag\", \"InServiceFlag\", \"InserviceStartDate\", \"InserviceEndDate\"{flag_cols}"), &format!(", 500001, 'N', 'Y', '2025-06-01 08:00', '2025-06-01 09:00'{all_n}")),
        // Stale rows of the window under the reused visit's key: one resolvable, one whitelisted.
        format!("INSERT INTO {cvm} (\"VisitID\", \"ConVisitID\", \"SSN\", \"VisitDate\", \"CONFLICTID\", \"StatusFlag\"{flag_cols}) VALUES ('{}', '{stale_v2}', '{reused_ssn}', '{reused_date}', 600001, 'N'{all_n}), ('{}', '{stale_w_v2}', '{reused_ssn}', '{reused_date}', 600001, 'W'{all_n});", reused.0, reused.0),
        // A stale-looking row outside the window is never resolved.
        format!("INSERT INTO {cvm} (\"VisitID\", \"ConVisitID\", \"SSN\", \"VisitDate\", \"CONFLICTID\", \"StatusFlag\") VALUES ('{}', '{stale_v2}', '{reused_ssn}', '2020-01-01', 600001, 'N');", stale_w_v2),
    ];
    for s in &seeds {
        schema.exec(s);
    }
    let inservice_before = schema
        .snapshot()
        .into_iter()
        .filter(|r| !r["InserviceStartDate"].is_null())
        .collect::<Vec<_>>();

    let first = run_full(&loaded, &schema);
    let w = &first.report.writes;
    let rows = schema.rows();

    // Every detected pair is stored, except the one whose key an InService row holds.
    for (k, (flags, _, _)) in &expected {
        if k == inservice {
            continue;
        }
        let (status, stored, cid) = rows.get(k).unwrap_or_else(|| panic!("pair {k:?} missing"));
        assert!(cid.is_some(), "{k:?} has a CONFLICTID");
        if k == sticky {
            let mut want: Vec<char> = flags_text(flags).chars().collect();
            want[0] = 'Y';
            want[1] = '-';
            assert_eq!(
                stored,
                &want.into_iter().collect::<String>(),
                "sticky Y and NULL kept"
            );
            assert_eq!(status.as_deref(), Some("W"));
        } else {
            assert_eq!(stored, &flags_text(flags), "{k:?}");
            let want = if k == ignored {
                "I"
            } else if k == resolved || k == orphan {
                "U"
            } else {
                "N"
            };
            assert_eq!(status.as_deref(), Some(want), "{k:?}");
        }
    }
    assert!(
        !rows.contains_key(inservice),
        "no regular twin of an InService-held key"
    );
    let inservice_after = schema
        .snapshot()
        .into_iter()
        .filter(|r| !r["InserviceStartDate"].is_null())
        .collect::<Vec<_>>();
    assert_eq!(
        inservice_before, inservice_after,
        "InService rows untouched"
    );

    // Stale handling.
    let status_of = |schema: &mut super::harness::ConflictSchema,
                     v1: &str,
                     v2: &str|
     -> (Option<String>, bool) {
        let r = schema
            .client
            .query_one(
                &format!("SELECT \"StatusFlag\", \"ResolveDate\" IS NOT NULL FROM {cvm} WHERE \"VisitID\" = $1::text::uuid AND \"ConVisitID\" = $2::text::uuid"),
                &[&v1, &v2],
            )
            .unwrap();
        (r.get(0), r.get(1))
    };
    assert_eq!(
        status_of(&mut schema, &reused.0, stale_v2),
        (Some("R".into()), true)
    );
    assert_eq!(
        status_of(&mut schema, &reused.0, stale_w_v2),
        (Some("W".into()), false)
    );
    assert_eq!(
        status_of(&mut schema, stale_w_v2, stale_v2),
        (Some("N".into()), false),
        "outside the window"
    );
    assert_eq!(
        status_of(&mut schema, &resolved.0, &resolved.1),
        (Some("U".into()), false),
        "R reactivated, ResolveDate cleared"
    );

    // CONFLICTIDs: reused from the stale row of the same primary visit, one per primary visit,
    // every one with a parent.
    assert_eq!(rows[reused].2, Some(600001));
    let mut per_v1 = std::collections::BTreeMap::new();
    for ((v1, _), (_, _, cid)) in &rows {
        let prev = per_v1.insert(v1.clone(), *cid);
        assert!(
            prev.is_none() || prev == Some(*cid),
            "one CONFLICTID per primary visit {v1}"
        );
    }
    let orphans_left = schema.scalar_i64(&format!(
        "SELECT count(*) FROM {cvm} c WHERE c.\"CONFLICTID\" IS NOT NULL AND NOT EXISTS \
         (SELECT 1 FROM {conflicts} p WHERE p.\"CONFLICTID\" = c.\"CONFLICTID\")"
    ));
    assert_eq!(orphans_left, 0, "every CONFLICTID has a parent");

    // Counts of the report.
    let seeded_keys = 5; // sticky, ignored, resolved, orphan, inservice
    assert_eq!(
        first.report.detection.pairs_detected as usize,
        expected.len()
    );
    assert_eq!(w.inserted as usize, expected.len() - seeded_keys);
    assert_eq!(w.adopted, 1);
    assert_eq!(w.resolved, 1);
    assert_eq!(
        w.updated + w.unchanged,
        4,
        "sticky, ignored, resolved, orphan"
    );
    assert_eq!(
        first.report.warnings.get("key_held_by_other_kind"),
        Some(&1)
    );
    assert!(
        first
            .report
            .warnings
            .get("missing_parent_conflict")
            .copied()
            .unwrap_or(0)
            >= 1
    );

    // Second run on the same data: nothing changes, not even UpdatedDate.
    let raw_before = schema
        .client
        .query(
            &format!("SELECT to_jsonb(c)::text FROM {cvm} c ORDER BY \"ID\""),
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get::<_, String>(0))
        .collect::<Vec<_>>();
    let parents_before = schema.scalar_i64(&format!("SELECT count(*) FROM {conflicts}"));
    let second = run_full(&loaded, &schema);
    let w2 = &second.report.writes;
    assert_eq!(
        (
            w2.updated,
            w2.adopted,
            w2.inserted,
            w2.resolved,
            w2.conflicts_created
        ),
        (0, 0, 0, 0, 0),
        "{w2:?}"
    );
    assert_eq!(
        w2.unchanged as usize,
        expected.len() - 1,
        "every stored detected pair unchanged"
    );
    let raw_after = schema
        .client
        .query(
            &format!("SELECT to_jsonb(c)::text FROM {cvm} c ORDER BY \"ID\""),
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get::<_, String>(0))
        .collect::<Vec<_>>();
    assert_eq!(raw_before, raw_after, "the second run modified rows");
    assert_eq!(
        schema.scalar_i64(&format!("SELECT count(*) FROM {conflicts}")),
        parents_before
    );
    let _ = keys;
}
}

both_sources! {
fn a_dry_run_reports_the_counts_and_writes_nothing() {
    let loaded = Loaded::new(SEED + 1);
    let expected = loaded.expected_pairs();
    let mut schema = loaded.conflict_schema("dry");
    let p = {
        let mut p = super::harness::params(conflict_io::run::Mode::Full, loaded.cfg.as_of);
        p.dry_run = true;
        p
    };
    let r = super::harness::run(
        &loaded,
        &schema,
        conflict_io::run::Start::New(p.clone()),
        &p,
        &super::harness::job(2, 1),
        &std::sync::atomic::AtomicBool::new(false),
        &conflict_io::run::Silent,
    );
    assert_eq!(r.report.writes.inserted as usize, expected.len());
    assert!(schema.snapshot().is_empty(), "nothing written");
    let conflicts = schema.t("conflicts");
    assert_eq!(
        schema.scalar_i64(&format!("SELECT count(*) FROM {conflicts}")),
        0
    );
    let runs = schema.t("detection_runs");
    let status: String = schema
        .client
        .query_one(&format!("SELECT \"Status\" FROM {runs}"), &[])
        .unwrap()
        .get(0);
    assert_eq!(status, "dry-run");
}
}
