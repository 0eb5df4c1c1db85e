//! What a conflict schema lacks, and the statements that add it (`db init`, `db init
//! --print-sql`, `db check`, and the tool's own tables at the start of a run).
//!
//! Deployments have conflict schemas that predate the tool: legacy rows with duplicate
//! (`VisitID`, `ConVisitID`) keys, no unique pair index, columns the tool does not know. The
//! plan therefore only ever *adds*: missing tables, missing columns (nullable, without a value
//! for existing rows; a declared default applies to rows written afterwards only), missing
//! indexes and the storage option of the script. It never drops, renames or retypes anything
//! and never changes an existing row. The unique pair index is planned only when no key is
//! duplicated; otherwise the duplicates are reported instead (runs handle them as docs/lifecycle.md
//! §3 says: every row of a key is updated, with the warning `duplicate_cvm_key`).

use std::collections::{BTreeMap, BTreeSet};

use postgres::{Client, GenericClient};

use super::config::SchemaNames;
use super::ddl_items::{conflict_items, search_path_sql, DdlItem};
use super::error::StoreError;

/// Name of the unique index on (`VisitID`, `ConVisitID`) in conflict_schema.sql.
pub const PAIR_INDEX: &str = "cvm_pair_unique";
const CVM: &str = "conflictvisitmaps";
/// How many duplicated keys are shown as examples.
const DUPLICATE_EXAMPLES: i64 = 3;

/// Which objects to plan for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlanScope {
    /// Everything of the conflict schema (`db init`).
    Everything,
    /// Only the tool's own tables (`run`): the deployment's tables are never created by a run.
    ToolTables,
}

/// One statement of a plan and what it adds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// What is missing, e.g. `table "conflict"."detection_runs"` or
    /// `column "conflict"."conflictvisitmaps"."SSN"`.
    pub what: String,
    /// The statement (unqualified names; run after [`SchemaPlan::preamble`]).
    pub sql: String,
    /// Whether the object belongs to one of the tool's own tables.
    pub tool_owned: bool,
}

/// A (`VisitID`, `ConVisitID`) key held by more than one CVM row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DuplicateKey {
    pub visit_id: String,
    pub con_visit_id: String,
    pub rows: i64,
}

/// The duplicate keys that keep the unique pair index from being created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DuplicateKeys {
    /// Number of distinct keys held by two or more rows.
    pub keys: i64,
    /// The first keys in key order.
    pub examples: Vec<DuplicateKey>,
    /// A query that lists every duplicated key with its rows' ids.
    pub list_sql: String,
}

/// What a conflict schema lacks and the statements that add it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaPlan {
    /// The statement that scopes the unqualified statements to the conflict schema.
    pub preamble: String,
    /// The steps, in execution order.
    pub steps: Vec<Step>,
    /// Set when the unique pair index is missing and cannot be created.
    pub duplicates: Option<DuplicateKeys>,
    /// Whether the schema itself exists.
    pub schema_exists: bool,
}

impl SchemaPlan {
    /// Whether nothing is missing (duplicates aside: they are reported, not fixed).
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// The plan as one transaction a DBA can review and run with psql; every statement ends
    /// with `;`.
    pub fn script(&self) -> String {
        let mut s = String::from("BEGIN;\n");
        s += &self.preamble;
        s += ";\n";
        for step in &self.steps {
            s += &format!("-- {}\n{};\n", step.what, step.sql);
        }
        s += "COMMIT;\n";
        s
    }
}

/// What the catalog says about the conflict schema.
struct Catalog {
    schema_exists: bool,
    columns: BTreeMap<String, BTreeSet<String>>,
    indexes: BTreeSet<String>,
    options: BTreeMap<String, Vec<String>>,
    /// A unique index (or constraint) on exactly (`VisitID`, `ConVisitID`) of the CVM table,
    /// under any name: a deployment may have its own, and a second one would only slow writes.
    unique_pair: bool,
}

fn read_catalog<C: GenericClient>(client: &mut C, schema: &str) -> Result<Catalog, StoreError> {
    let err = |what: &'static str| move |e| StoreError::db(what, Some(schema), e);
    let schema_exists: bool = client
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)",
            &[&schema],
        )
        .map_err(err("look the conflict schema up"))?
        .get(0);
    let mut columns: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut options = BTreeMap::new();
    // pg_class/pg_attribute rather than information_schema: the latter hides tables on which
    // the role has no privilege, and a hidden table must not be planned as missing.
    for row in client
        .query(
            "SELECT c.relname::text, a.attname::text FROM pg_class c \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped \
             WHERE n.nspname = $1 AND c.relkind IN ('r', 'p', 'v', 'm', 'f')",
            &[&schema],
        )
        .map_err(err("read the tables of the conflict schema"))?
    {
        let entry = columns.entry(row.get(0)).or_default();
        if let Some(col) = row.get::<_, Option<String>>(1) {
            entry.insert(col);
        }
    }
    for row in client
        .query(
            "SELECT c.relname::text, coalesce(c.reloptions, '{}')::text[] FROM pg_class c \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = $1 AND c.relkind IN ('r', 'p')",
            &[&schema],
        )
        .map_err(err("read the storage options of the conflict schema"))?
    {
        options.insert(row.get::<_, String>(0), row.get::<_, Vec<String>>(1));
    }
    let indexes = client
        .query(
            "SELECT indexname::text FROM pg_indexes WHERE schemaname = $1",
            &[&schema],
        )
        .map_err(err("read the indexes of the conflict schema"))?
        .into_iter()
        .map(|r| r.get(0))
        .collect();
    let unique_pair: bool = client
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_index i \
             JOIN pg_class t ON t.oid = i.indrelid \
             JOIN pg_namespace n ON n.oid = t.relnamespace \
             WHERE n.nspname = $1 AND t.relname = $2 AND i.indisunique AND i.indpred IS NULL \
             AND i.indnkeyatts = 2 \
             AND (SELECT array_agg(a.attname::text ORDER BY k.ord) \
                  FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord) \
                  JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum) \
                 = ARRAY['VisitID', 'ConVisitID'])",
            &[&schema, &CVM],
        )
        .map_err(err("look for a unique pair index"))?
        .get(0);
    Ok(Catalog {
        schema_exists,
        columns,
        indexes,
        options,
        unique_pair,
    })
}

/// Reads the catalog (and, when the pair index is missing, the CVM keys) and plans what is
/// missing. Reads only; the caller decides whether to run the plan.
pub fn plan_schema<C: GenericClient>(
    client: &mut C,
    names: &SchemaNames,
    scope: PlanScope,
) -> Result<SchemaPlan, StoreError> {
    let schema = names.conflict.as_str();
    let catalog = read_catalog(client, schema)?;
    let mut steps = Vec::new();
    let mut duplicates = None;
    let step = |what: String, sql: String, item: &DdlItem| Step {
        what,
        sql,
        tool_owned: item.tool_owned(),
    };
    for item in conflict_items(names) {
        if scope == PlanScope::ToolTables && !item.tool_owned() {
            continue;
        }
        match &item {
            DdlItem::Schema { sql } => {
                if !catalog.schema_exists {
                    steps.push(step(
                        format!("schema {}", names.conflict.quoted()),
                        sql.clone(),
                        &item,
                    ));
                }
            }
            DdlItem::Table { name, sql, columns } => {
                let qualified = names.conflict_table(name);
                match catalog.columns.get(name) {
                    None => steps.push(step(format!("table {qualified}"), sql.clone(), &item)),
                    Some(present) => {
                        for col in columns.iter().filter(|c| !present.contains(&c.name)) {
                            let what = format!("column {qualified}.\"{}\"", col.name);
                            // Added without a value for the rows already there; the default
                            // (a separate statement) applies to rows written afterwards.
                            steps.push(step(
                                what.clone(),
                                format!(
                                    "ALTER TABLE {qualified} ADD COLUMN \"{}\" {}",
                                    col.name, col.ty
                                ),
                                &item,
                            ));
                            if let Some(default) = &col.default {
                                steps.push(step(
                                    format!("default of {what}"),
                                    format!(
                                        "ALTER TABLE {qualified} ALTER COLUMN \"{}\" SET DEFAULT {default}",
                                        col.name
                                    ),
                                    &item,
                                ));
                            }
                        }
                    }
                }
            }
            DdlItem::TableOption { table, key, sql } => {
                let set = catalog
                    .options
                    .get(table)
                    .is_some_and(|opts| opts.iter().any(|o| o.starts_with(&format!("{key}="))));
                if !set {
                    steps.push(step(
                        format!("storage option {key} of {}", names.conflict_table(table)),
                        sql.clone(),
                        &item,
                    ));
                }
            }
            DdlItem::Index { name, table, sql } => {
                if catalog.indexes.contains(name) {
                    continue;
                }
                if name == PAIR_INDEX && catalog.unique_pair {
                    continue;
                }
                if name == PAIR_INDEX {
                    duplicates = duplicate_keys(client, names, &catalog)?;
                    if duplicates.is_some() {
                        continue;
                    }
                }
                steps.push(step(
                    format!("index {name} on {}", names.conflict_table(table)),
                    sql.clone(),
                    &item,
                ));
            }
        }
    }
    Ok(SchemaPlan {
        preamble: search_path_sql(&names.conflict),
        steps,
        duplicates,
        schema_exists: catalog.schema_exists,
    })
}

/// The duplicated (`VisitID`, `ConVisitID`) keys of an existing CVM table, `None` when there
/// are none (or the table or its key columns do not exist yet). Rows with a NULL in the key
/// are not duplicates: a unique index accepts them.
fn duplicate_keys<C: GenericClient>(
    client: &mut C,
    names: &SchemaNames,
    catalog: &Catalog,
) -> Result<Option<DuplicateKeys>, StoreError> {
    let has_key = catalog
        .columns
        .get(CVM)
        .is_some_and(|c| c.contains("VisitID") && c.contains("ConVisitID"));
    if !has_key {
        return Ok(None);
    }
    let cvm = names.conflict_table(CVM);
    let groups = format!(
        "SELECT \"VisitID\", \"ConVisitID\", count(*) AS rows FROM {cvm} \
         WHERE \"VisitID\" IS NOT NULL AND \"ConVisitID\" IS NOT NULL \
         GROUP BY \"VisitID\", \"ConVisitID\" HAVING count(*) > 1"
    );
    let keys: i64 = client
        .query_one(&format!("SELECT count(*) FROM ({groups}) d"), &[])
        .map_err(|e| StoreError::db("count duplicate pair keys", Some(&cvm), e))?
        .get(0);
    if keys == 0 {
        return Ok(None);
    }
    let examples = client
        .query(
            &format!(
                "SELECT \"VisitID\"::text, \"ConVisitID\"::text, rows FROM ({groups}) d \
                 ORDER BY 1, 2 LIMIT {DUPLICATE_EXAMPLES}"
            ),
            &[],
        )
        .map_err(|e| StoreError::db("read duplicate pair keys", Some(&cvm), e))?
        .into_iter()
        .map(|r| DuplicateKey {
            visit_id: r.get(0),
            con_visit_id: r.get(1),
            rows: r.get(2),
        })
        .collect();
    let list_sql = format!(
        "SELECT \"VisitID\", \"ConVisitID\", count(*) AS rows, array_agg(\"ID\" ORDER BY \"ID\") AS ids \
         FROM {cvm} WHERE \"VisitID\" IS NOT NULL AND \"ConVisitID\" IS NOT NULL \
         GROUP BY \"VisitID\", \"ConVisitID\" HAVING count(*) > 1 ORDER BY 1, 2;"
    );
    Ok(Some(DuplicateKeys {
        keys,
        examples,
        list_sql,
    }))
}

/// Serialises everything that creates objects in one conflict schema (`db init`, the tool's
/// tables at run start): concurrent `CREATE … IF NOT EXISTS` can both see an object missing and
/// one then fails on the catalog's unique index. Held to the end of the transaction.
fn lock_schema<C: GenericClient>(client: &mut C, schema: &str) -> Result<(), StoreError> {
    client
        .execute(
            "SELECT pg_advisory_xact_lock(hashtext('conflicts.init.' || $1::text))",
            &[&schema],
        )
        .map(|_| ())
        .map_err(|e| StoreError::db("lock the schema for init", Some(schema), e))
}

/// Plans under the schema lock and runs the plan, in one transaction.
fn plan_and_apply(
    client: &mut Client,
    names: &SchemaNames,
    scope: PlanScope,
) -> Result<SchemaPlan, StoreError> {
    let schema = names.conflict.as_str();
    let mut tx = client
        .transaction()
        .map_err(|e| StoreError::db("begin the schema transaction", Some(schema), e))?;
    lock_schema(&mut tx, schema)?;
    let plan = plan_schema(&mut tx, names, scope)?;
    if scope == PlanScope::ToolTables && !plan.schema_exists {
        // A run never creates the schema: the start-up check reports what is missing and
        // that `db init` creates it.
        return Ok(SchemaPlan {
            steps: Vec::new(),
            ..plan
        });
    }
    tx.batch_execute(&plan.preamble)
        .map_err(|e| StoreError::db("set the search path", Some(schema), e))?;
    for step in &plan.steps {
        tx.batch_execute(&step.sql)
            .map_err(|e| StoreError::db(format!("create {}", step.what), Some(schema), e))?;
    }
    tx.commit()
        .map_err(|e| StoreError::db("commit the conflict schema", Some(schema), e))?;
    Ok(plan)
}

/// `db init`: adds whatever the conflict schema lacks, in one transaction, and returns what
/// was added (empty when nothing was missing) and any duplicate keys that kept the unique pair
/// index from being created.
pub fn apply_schema_plan(
    client: &mut Client,
    names: &SchemaNames,
) -> Result<SchemaPlan, StoreError> {
    plan_and_apply(client, names, PlanScope::Everything)
}

/// Creates the tool's own tables (and their indexes and columns) when missing, at the start
/// of a run. Safe when several processes start at the same moment: the schema lock serialises
/// them and the later ones find everything in place. Does nothing when the schema itself does
/// not exist.
pub fn ensure_tool_tables(
    client: &mut Client,
    names: &SchemaNames,
) -> Result<Vec<Step>, StoreError> {
    plan_and_apply(client, names, PlanScope::ToolTables).map(|p| p.steps)
}

/// `db init --print-sql` and `db check`: the plan, read in a read-only transaction so that
/// reviewing can never change the database.
pub fn review_plan(client: &mut Client, names: &SchemaNames) -> Result<SchemaPlan, StoreError> {
    let schema = names.conflict.as_str();
    let mut tx = client
        .build_transaction()
        .read_only(true)
        .start()
        .map_err(|e| StoreError::db("begin a read-only transaction", Some(schema), e))?;
    let plan = plan_schema(&mut tx, names, PlanScope::Everything)?;
    tx.commit()
        .map_err(|e| StoreError::db("end the read-only transaction", Some(schema), e))?;
    Ok(plan)
}
