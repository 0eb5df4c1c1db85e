//! `conflicts generate --pg`: loads the generated visits into a PostgreSQL the user names (the
//! analytics tables of schema.sql plus a conflict schema shaped like a real deployment) and
//! prints the commands to try next, so that a newcomer can see a real `conflicts run` without
//! Snowflake.

use std::time::Instant;

use anyhow::anyhow;
use chrono::NaiveDate;
use conflict_core::{detect, DetectConfig, DetectedPair, Visit};
use conflict_io::store::{self, ConnInfo, SchemaNames, StoreError};
use conflict_io::store::{load_demo, plain_conninfo, psqlodbc_string, DemoError, LegacyPair};

use crate::failure::{CliResult, Failure};
use crate::generate::GenerateArgs;

/// Where Debian's odbc-postgresql package installs the Unicode psqlODBC driver. Named by
/// absolute path: the tool's vendored unixODBC does not read odbcinst.ini.
const PSQLODBC: &str = "/usr/lib/x86_64-linux-gnu/odbc/psqlodbcw.so";

/// Configuration errors (names, connection string, TLS) exit 2, as in `conflicts db`.
fn store_failure(e: StoreError) -> Failure {
    let error = anyhow::Error::from(e);
    Failure {
        code: crate::db::exit_code(&error),
        error,
    }
}

/// Loads `visits` and prints what to run next.
pub fn load(
    args: &GenerateArgs,
    pg: &str,
    as_of: NaiveDate,
    visits: &[Visit],
    started: Instant,
) -> CliResult {
    let names =
        SchemaNames::new(&args.conflict_schema, &args.analytics_schema).map_err(store_failure)?;
    if names.analytics.parts().len() != 1 {
        return Err(Failure::invalid(anyhow!(
            "--analytics-schema {:?}: give a plain schema name (no database part)",
            args.analytics_schema
        )));
    }
    let conn = ConnInfo::parse(pg).map_err(store_failure)?;
    let legacy = legacy_pairs(visits, as_of)?;
    let mut client = store::connect(&conn).map_err(store_failure)?;
    let counts =
        load_demo(&mut client, &names, visits, &legacy, args.replace).map_err(|e| match e {
            DemoError::NotEmpty { .. } | DemoError::InvalidVisit { .. } => Failure::invalid(e),
            DemoError::Store(s) => store_failure(s),
        })?;
    let analytics = names.analytics.sql().to_ascii_lowercase();
    let conflict = names.conflict.as_str();
    eprintln!(
        "conflicts generate: loaded {} visits ({} caregivers, {} agencies; seed {}, as-of {as_of}) \
         into schema {analytics} on {conn}, and a conflict schema {conflict} shaped like a \
         deployment ({} legacy rows of the old job, {} key(s) held twice, a column the tool does \
         not know, no unique pair index, none of the tool's own tables) in {:.2} s",
        counts.visits,
        counts.caregivers,
        counts.providers,
        args.seed,
        counts.legacy_rows,
        counts.duplicated_keys,
        started.elapsed().as_secs_f64(),
    );
    let pg_arg = shell_quote(&plain_conninfo(&conn));
    let odbc_arg = shell_quote(&psqlodbc_string(&conn, PSQLODBC));
    eprintln!(
        "try next:\n  \
         conflicts db check --pg {pg_arg} --schema {conflict}\n  \
         conflicts db init --pg {pg_arg} --schema {conflict}\n  \
         conflicts run --full --as-of {as_of} --pg {pg_arg} --conflict-schema {conflict} \
         --analytics-schema {analytics} --analytics-dialect postgres --odbc {odbc_arg}"
    );
    if conn.config().get_password().is_some() {
        eprintln!(
            "  (the password is not shown: add password=… to --pg and Pwd=… to --odbc, or \
             give them in CONFLICTS_PG and CONFLICTS_ODBC)"
        );
    }
    Ok(())
}

/// Pairs the old job would have stored: the first detected pairs of the data, the first two
/// held by two rows each (legacy duplicate keys) and the third by one.
fn legacy_pairs(visits: &[Visit], as_of: NaiveDate) -> Result<Vec<LegacyPair>, Failure> {
    let cfg = DetectConfig::new(as_of).map_err(|e| Failure::invalid(anyhow!("{e}")))?;
    let mut pairs: Vec<DetectedPair> = Vec::new();
    let report = detect(visits, &cfg, &mut pairs).map_err(|e| Failure::other(anyhow!("{e}")))?;
    Ok(pairs
        .iter()
        .take(3)
        .enumerate()
        .filter_map(|(i, p)| {
            Some(LegacyPair {
                visit_id: visits[p.v1].visit_id.clone(),
                con_visit_id: visits[p.v2].visit_id.clone(),
                ssn: report.ssn(p.v1)?.to_string(),
                visit_date: visits[p.v1].visit_date,
                copies: if i < 2 { 2 } else { 1 },
            })
        })
        .collect())
}

/// Single-quoted for a POSIX shell.
fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_quoting_survives_single_quotes() {
        assert_eq!(shell_quote("a'b"), r"'a'\''b'");
    }
}
