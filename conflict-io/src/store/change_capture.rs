//! Shadow mode inside a write transaction: the rows a batch (or the InService/PTO step) is
//! about to update or resolve are copied as JSON before the writes, and compared with what
//! they are after the writes; inserted rows are read back by their keys. The comparison is
//! made by PostgreSQL on the stored values (`to_jsonb`), so a line says what the table really
//! holds, not what the writer meant to write.
//!
//! Only the rows the writer counts are captured (its planned updates, its stale candidates
//! and its planned inserts), and [`check_counts`] makes sure that per action the lines equal
//! the counters before anything reaches a sink.

use std::collections::HashMap;

use postgres::GenericClient;

use super::config::SchemaNames;
use super::error::StoreError;
use super::pair_table::PAIRS;
use crate::run::{Change, ChangeAction};

/// Temporary table of the captured rows as they were before the writes.
const BEFORE: &str = "conflicts_tmp_changes_before";

/// Rows captured before the writes of one transaction; see the module documentation.
pub(crate) struct Capture {
    /// Position of each column of conflictvisitmaps in the table: the order of a line's
    /// `columns`.
    position: HashMap<String, usize>,
}

/// Copies the rows about to be updated (`updates`) or resolved (`resolves`), by `"ID"`, into a
/// temporary table dropped at the end of the transaction.
pub(crate) fn begin<C: GenericClient>(
    tx: &mut C,
    names: &SchemaNames,
    updates: &[i64],
    resolves: &[i64],
) -> Result<Capture, StoreError> {
    let cvm = names.conflict_table("conflictvisitmaps");
    let position: HashMap<String, usize> = tx
        .query(
            "SELECT attname::text FROM pg_attribute WHERE attrelid = $1::text::regclass \
             AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
            &[&cvm],
        )
        .map_err(|e| StoreError::db("read the columns for the changes file", Some(&cvm), e))?
        .iter()
        .enumerate()
        .map(|(i, r)| (r.get(0), i))
        .collect();
    tx.batch_execute(&format!(
        "CREATE TEMP TABLE {BEFORE} (id int8 PRIMARY KEY, action text NOT NULL, doc jsonb NOT NULL) \
         ON COMMIT DROP"
    ))
    .map_err(|e| StoreError::db("create a temporary table", Some(BEFORE), e))?;
    let copy = |tx: &mut C, ids: &[i64], action: ChangeAction| {
        if ids.is_empty() {
            return Ok(());
        }
        tx.execute(
            &format!(
                "INSERT INTO {BEFORE} (id, action, doc) SELECT c.\"ID\", $2, to_jsonb(c) \
                 FROM {cvm} c WHERE c.\"ID\" = ANY($1) ON CONFLICT (id) DO NOTHING"
            ),
            &[&ids, &action.as_str()],
        )
        .map(|_| ())
        .map_err(|e| StoreError::db("copy the rows before the writes", Some(&cvm), e))
    };
    copy(tx, updates, ChangeAction::Update)?;
    copy(tx, resolves, ChangeAction::Resolve)?;
    Ok(Capture { position })
}

impl Capture {
    /// After the writes: one [`Change`] per captured row that differs from its copy, and one
    /// per row with the key of a pair in `inserted` (positions in the pair table: a pair is
    /// inserted only when no row of any kind holds its key, so every such row is new).
    /// Updates and resolutions come in `"ID"` order, inserts in key order.
    pub(crate) fn collect<C: GenericClient>(
        self,
        tx: &mut C,
        names: &SchemaNames,
        inserted: &[i32],
    ) -> Result<Vec<Change>, StoreError> {
        let cvm = names.conflict_table("conflictvisitmaps");
        let err = |e| {
            StoreError::db(
                "compare the written rows for the changes file",
                Some(&cvm),
                e,
            )
        };
        // Each row is turned into JSON once (MATERIALIZED) and each document is expanded
        // once (`jsonb_each`): looking columns up one by one re-read (and de-TOASTed) the
        // whole document per column, which made a batch of a few thousand rows take minutes.
        // `IS DISTINCT FROM` on jsonb compares values (numbers numerically), and the values are
        // sent as their JSON text, so nothing is rounded on the way.
        let changed = tx
            .query(
                &format!(
                    "WITH cur AS MATERIALIZED (SELECT b.id, b.action, c.\"VisitID\"::text AS v, \
                       c.\"ConVisitID\"::text AS cv, b.doc || '{{}}'::jsonb AS old, to_jsonb(c) AS new \
                       FROM {BEFORE} b JOIN {cvm} c ON c.\"ID\" = b.id) \
                     SELECT cur.id, cur.action, cur.v, cur.cv, d.cols, d.olds, d.news FROM cur \
                     CROSS JOIN LATERAL (SELECT array_agg(w.key) AS cols, \
                       array_agg((cur.old -> w.key)::text) AS olds, array_agg(w.value::text) AS news \
                       FROM jsonb_each(cur.new) w WHERE (cur.old -> w.key) IS DISTINCT FROM w.value) d \
                     WHERE d.cols IS NOT NULL ORDER BY cur.action DESC, cur.id"
                ),
                &[],
            )
            .map_err(err)?;
        let mut out = Vec::with_capacity(changed.len() + inserted.len());
        for r in &changed {
            let action = match r.get::<_, &str>(1) {
                "resolve" => ChangeAction::Resolve,
                _ => ChangeAction::Update,
            };
            let (columns, olds, news) = self.in_table_order(r.get(4), r.get(5), r.get(6));
            out.push(Change {
                action,
                id: Some(r.get(0)),
                visit_id: r.get(2),
                con_visit_id: r.get(3),
                old: json_object(&columns, &olds),
                new: json_object(&columns, &news),
                columns,
            });
        }
        if inserted.is_empty() {
            return Ok(out);
        }
        let rows = tx
            .query(
                &format!(
                    "WITH cur AS MATERIALIZED (SELECT c.\"VisitID\" AS v, c.\"ConVisitID\" AS cv, \
                       to_jsonb(c) AS new FROM {cvm} c JOIN {PAIRS} p \
                       ON c.\"VisitID\" = p.\"VisitID\" AND c.\"ConVisitID\" = p.\"ConVisitID\" \
                       WHERE p.idx = ANY($1)) \
                     SELECT cur.v::text, cur.cv::text, d.cols, d.news FROM cur \
                     CROSS JOIN LATERAL (SELECT array_agg(w.key) AS cols, \
                       array_agg(w.value::text) AS news FROM jsonb_each(cur.new) w \
                       WHERE w.key <> 'ID' AND jsonb_typeof(w.value) <> 'null') d \
                     ORDER BY cur.v, cur.cv"
                ),
                &[&inserted],
            )
            .map_err(err)?;
        for r in &rows {
            let columns: Vec<String> = r.get::<_, Option<Vec<String>>>(2).unwrap_or_default();
            let news: Vec<String> = r.get::<_, Option<Vec<String>>>(3).unwrap_or_default();
            let (columns, _, news) = self.in_table_order(columns, news.clone(), news);
            out.push(Change {
                action: ChangeAction::Insert,
                id: None,
                visit_id: r.get(0),
                con_visit_id: r.get(1),
                old: "{}".to_string(),
                new: json_object(&columns, &news),
                columns,
            });
        }
        Ok(out)
    }
}

impl Capture {
    /// Sorts (column, old, new) triples into table column order (jsonb keeps its keys in its
    /// own order); a column unknown to the list (added meanwhile) goes last, by name.
    fn in_table_order(
        &self,
        columns: Vec<String>,
        olds: Vec<String>,
        news: Vec<String>,
    ) -> (Vec<String>, Vec<String>, Vec<String>) {
        let mut t: Vec<(String, String, String)> = columns
            .into_iter()
            .zip(olds)
            .zip(news)
            .map(|((c, o), n)| (c, o, n))
            .collect();
        t.sort_by(|a, b| {
            let pos = |c: &str| self.position.get(c).copied().unwrap_or(usize::MAX);
            (pos(&a.0), &a.0).cmp(&(pos(&b.0), &b.0))
        });
        let mut out = (Vec::new(), Vec::new(), Vec::new());
        for (c, o, n) in t {
            out.0.push(c);
            out.1.push(o);
            out.2.push(n);
        }
        out
    }
}

/// `{"name":value,…}` from column names and their values' JSON texts, in the given order.
fn json_object(names: &[String], values: &[String]) -> String {
    let mut s = String::from("{");
    for (i, (n, v)) in names.iter().zip(values).enumerate() {
        if i > 0 {
            s.push(',');
        }
        // A column name is plain text; serde_json escapes it as a JSON string.
        s.push_str(&serde_json::Value::from(n.as_str()).to_string());
        s.push(':');
        s.push_str(v);
    }
    s.push('}');
    s
}

/// The lines per action must equal what the transaction counted; otherwise the changes file
/// would contradict the report, so the transaction fails instead.
pub(crate) fn check_counts(
    changes: &[Change],
    updated: u64,
    inserted: u64,
    resolved: u64,
) -> Result<(), StoreError> {
    let n = |a: ChangeAction| changes.iter().filter(|c| c.action == a).count() as u64;
    let found = (
        n(ChangeAction::Update),
        n(ChangeAction::Insert),
        n(ChangeAction::Resolve),
    );
    if found != (updated, inserted, resolved) {
        return Err(StoreError::ChangesMismatch {
            counted: format!("updated {updated}, inserted {inserted}, resolved {resolved}"),
            found: format!(
                "updated {}, inserted {}, resolved {}",
                found.0, found.1, found.2
            ),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_objects_keep_the_column_order_and_the_value_texts() {
        let names = vec!["StatusFlag".to_string(), "Distance \"mi\"".to_string()];
        let values = vec!["\"R\"".to_string(), "12.50".to_string()];
        assert_eq!(
            json_object(&names, &values),
            r#"{"StatusFlag":"R","Distance \"mi\"":12.50}"#
        );
        assert_eq!(json_object(&[], &[]), "{}");
    }

    #[test]
    fn counts_that_differ_from_the_lines_are_an_error() {
        let line = |action| Change {
            action,
            id: None,
            visit_id: "a".into(),
            con_visit_id: "b".into(),
            columns: vec![],
            old: "{}".into(),
            new: "{}".into(),
        };
        let lines = vec![
            line(ChangeAction::Update),
            line(ChangeAction::Insert),
            line(ChangeAction::Insert),
        ];
        assert!(check_counts(&lines, 1, 2, 0).is_ok());
        assert!(check_counts(&lines, 1, 1, 0).is_err());
        assert!(check_counts(&lines, 1, 2, 1).is_err());
    }
}
