//! Creating the schemas (`conflicts db init`, tests) and the start-up check of docs/tables.md §1.

use std::collections::{BTreeMap, HashMap};

use postgres::{Client, GenericClient};

use super::config::SchemaNames;
use super::ddl::{analytics_script, conflict_tables};
use super::ddl_items::TOOL_TABLES;
use super::error::StoreError;
use super::schema_plan::{apply_schema_plan, SchemaPlan};

/// `conflicts db init`: creates the conflict schema of schema.sql under `names.conflict`, or
/// adds to an existing one only what it lacks (tables, columns, indexes), in one transaction.
/// Existing objects and rows are left as they are, so running it again is harmless; the
/// unique pair index is skipped when legacy rows share a key (see [`super::schema_plan`]).
/// Returns what was added and any such duplicates.
pub fn init_schema(client: &mut Client, names: &SchemaNames) -> Result<SchemaPlan, StoreError> {
    apply_schema_plan(client, names)
}

/// Creates the analytics tables of schema.sql under `names.analytics` (tests load their source
/// data there). Only an unqualified name can be created in PostgreSQL.
pub fn init_analytics_schema<C: GenericClient>(
    client: &mut C,
    names: &SchemaNames,
) -> Result<(), StoreError> {
    let schema = names.analytics.sql();
    if names.analytics.parts().len() != 1 {
        return Err(StoreError::InvalidIdentifier {
            what: "analytics schema name to create in PostgreSQL (no database part)",
            value: schema,
        });
    }
    let mut tx = client
        .transaction()
        .map_err(|e| StoreError::db("begin the schema transaction", Some(&schema), e))?;
    tx.execute(
        "SELECT pg_advisory_xact_lock(hashtext('conflicts.init.' || $1::text))",
        &[&schema],
    )
    .map_err(|e| StoreError::db("lock the schema for init", Some(&schema), e))?;
    tx.batch_execute(&analytics_script(&names.analytics))
        .map_err(|e| StoreError::db("create the analytics schema", Some(&schema), e))?;
    tx.commit()
        .map_err(|e| StoreError::db("commit the analytics schema", Some(&schema), e))
}

/// Which columns of a schema.sql table the tool reads or writes.
enum Needed {
    All,
    AllExcept(&'static [&'static str]),
    Only(&'static [&'static str]),
}

/// The tool's use of each conflict table (docs/tables.md §2, docs/lifecycle.md). Columns that only other
/// jobs use are not required, so a deployment may lack them.
const NEEDED: &[(&str, Needed)] = &[
    (
        "settings",
        Needed::Only(&["ID", "ExtraDistancePer", "InProgressFlag"]),
    ),
    (
        "mph",
        Needed::Only(&["ID", "From", "To", "AverageMilesPerHour"]),
    ),
    ("excluded_agency", Needed::Only(&["ProviderID"])),
    ("excluded_ssn", Needed::Only(&["SSN"])),
    (
        "conflicts",
        Needed::Only(&["CONFLICTID", "StatusFlag", "CreatedDate"]),
    ),
    // "the tool also leaves alone" GroupID and TempGroupID (docs/tables.md §2).
    (
        "conflictvisitmaps",
        Needed::AllExcept(&["GroupID", "TempGroupID"]),
    ),
    ("detection_runs", Needed::All),
];

/// The (table, columns) the tool needs, taken from the DDL script so that the two cannot drift.
pub fn required_columns() -> Vec<(String, Vec<String>)> {
    let tables = conflict_tables();
    NEEDED
        .iter()
        .map(|(table, needed)| {
            let def = tables
                .iter()
                .find(|t| t.name == *table)
                .expect("every needed table is in the DDL");
            let cols = def
                .columns
                .iter()
                .map(|(c, _)| c.as_str())
                .filter(|c| match needed {
                    Needed::All => true,
                    Needed::AllExcept(skip) => !skip.contains(c),
                    Needed::Only(keep) => keep.contains(c),
                })
                .map(str::to_string)
                .collect();
            (table.to_string(), cols)
        })
        .collect()
}

/// What the start-up check found: the declared length of every `varchar` column the tool needs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SchemaInfo {
    varchar_lengths: HashMap<(String, String), Option<u32>>,
}

impl SchemaInfo {
    /// Declared length of `table.column` when it is a `varchar(n)`; `None` for other types,
    /// unknown columns and unbounded `varchar`.
    pub fn varchar_len(&self, table: &str, column: &str) -> Option<u32> {
        self.varchar_lengths
            .get(&(table.to_string(), column.to_string()))
            .copied()
            .flatten()
    }

    /// Number of `varchar` columns found.
    pub fn varchar_columns(&self) -> usize {
        self.varchar_lengths.len()
    }
}

/// The start-up check of docs/tables.md §1: every needed table and column exists in the conflict
/// schema. All missing objects are listed in one error.
pub fn check_schema<C: GenericClient>(
    client: &mut C,
    names: &SchemaNames,
) -> Result<SchemaInfo, StoreError> {
    check_columns(client, names, required_columns())
}

/// The check of [`check_schema`] for the deployment's tables only (`db check`): the tool's own
/// tables are created by the first run, so their absence is not a problem of the deployment.
pub fn check_deployment_schema<C: GenericClient>(
    client: &mut C,
    names: &SchemaNames,
) -> Result<SchemaInfo, StoreError> {
    let required = required_columns()
        .into_iter()
        .filter(|(t, _)| !TOOL_TABLES.contains(&t.as_str()))
        .collect();
    check_columns(client, names, required)
}

fn check_columns<C: GenericClient>(
    client: &mut C,
    names: &SchemaNames,
    required: Vec<(String, Vec<String>)>,
) -> Result<SchemaInfo, StoreError> {
    let schema = names.conflict.as_str();
    let tables: Vec<&str> = required.iter().map(|(t, _)| t.as_str()).collect();
    let rows = client
        .query(
            "SELECT table_name::text, column_name::text, data_type::text, \
                    character_maximum_length::int4 \
             FROM information_schema.columns \
             WHERE table_schema::text = $1 AND table_name::text = ANY($2::text[])",
            &[&schema, &tables],
        )
        .map_err(|e| StoreError::db("read information_schema.columns", Some(schema), e))?;

    let mut present: BTreeMap<String, HashMap<String, (String, Option<i32>)>> = BTreeMap::new();
    for row in rows {
        present
            .entry(row.get(0))
            .or_default()
            .insert(row.get(1), (row.get(2), row.get(3)));
    }

    let mut missing = Vec::new();
    let mut info = SchemaInfo::default();
    for (table, columns) in &required {
        let Some(found) = present.get(table) else {
            missing.push(format!("table {}", names.conflict_table(table)));
            continue;
        };
        for column in columns {
            match found.get(column) {
                None => missing.push(format!(
                    "column {}.\"{column}\"",
                    names.conflict_table(table)
                )),
                Some((ty, len)) if ty == "character varying" => {
                    info.varchar_lengths.insert(
                        (table.clone(), column.clone()),
                        len.and_then(|l| u32::try_from(l).ok()),
                    );
                }
                Some(_) => {}
            }
        }
    }
    if missing.is_empty() {
        Ok(info)
    } else {
        Err(StoreError::MissingObjects {
            schema: schema.to_string(),
            missing,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_only_column_exists_in_the_ddl() {
        let tables = conflict_tables();
        for (table, needed) in NEEDED {
            let def = tables.iter().find(|t| t.name == *table).unwrap();
            if let Needed::Only(cols) | Needed::AllExcept(cols) = needed {
                for c in *cols {
                    assert!(def.column_type(c).is_some(), "{table}.{c}");
                }
            }
        }
    }

    #[test]
    fn required_columns_follow_the_tool_usage() {
        let req = required_columns();
        let get = |t: &str| &req.iter().find(|(n, _)| n == t).unwrap().1;
        assert_eq!(get("excluded_ssn"), &["SSN"]);
        let cvm = get("conflictvisitmaps");
        assert!(cvm.iter().any(|c| c == "ConPTOEndDate"));
        assert!(!cvm.iter().any(|c| c == "GroupID" || c == "TempGroupID"));
        assert_eq!(get("detection_runs").len(), 11);
    }
}
