//! Every statement the analytics source can send in a run, in the order a run sends them, each
//! with what it is for. `conflicts sql` prints this list for warehouse administrators (who
//! review it before granting access), and the dialect tests parse and execute it. The source
//! builds its statements with the same builders, so the list cannot drift from what is sent;
//! a new statement is one more `List::push` here.

use conflict_core::inservice::EventKind;

use super::config::AnalyticsSchema;
use super::dialect::{query_tag, Dialect};
use super::probe::{columns_of_queries, probe_sql};
use super::sql::{Excluding, ScopeFilter, Sql, TempTable};
use crate::run::Mode;

/// What a listed statement does; tests use it to bind the right parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// A session setting sent once per connection.
    Session,
    /// Snowflake without a scratch schema: is there a current schema for temporary tables?
    CurrentSchema,
    /// Planning of a full run: visits per SSN prefix. Parameters: from, to, prefix length.
    Prefixes,
    /// Planning of an incremental run. Parameters: since, from, to.
    DeltaKeys,
    /// The query tag of a batch (no parameters; the tag is a checked literal).
    Tag,
    /// (Re)creation of a temporary table (no parameters).
    ReplaceTable(&'static str),
    /// A multi-row insert into a temporary table; one parameter per cell.
    Insert(&'static str),
    /// The narrow visit query. Parameters: (for a prefix: length, prefix,) from, to.
    Narrow(ScopeFilter),
    /// The events query. Parameters: from, to.
    Events(EventKind),
    /// The wide query of business columns. Parameters: from, to.
    Wide,
    /// The preflight probe of one analytics table (`LIMIT 0`: column names, no rows, no
    /// scan); no parameters.
    Probe,
}

/// One statement of the list.
#[derive(Debug, Clone)]
pub struct Statement {
    /// What it is for (the `--` comment of `conflicts sql`).
    pub purpose: String,
    /// The step of the run that sends it.
    pub step: Step,
    /// The SQL text exactly as sent, parameters as `?`.
    pub sql: String,
}

/// What decides the statements of a run.
#[derive(Debug, Clone)]
pub struct ListOptions {
    /// The SQL dialect of the warehouse.
    pub dialect: Dialect,
    /// Full or incremental run.
    pub mode: Mode,
    /// The schema that holds the visit tables.
    pub schema: AnalyticsSchema,
    /// Snowflake: the schema of the temporary tables, when not the session's current one.
    pub scratch: Option<AnalyticsSchema>,
    /// The candidate pre-filter of the narrow query (configuration `prefilter`).
    pub prefilter: bool,
    /// Rows per temporary-table insert (configuration; [`super::DEFAULT_INSERT_ROWS`]).
    pub insert_rows: usize,
}

struct List<'a> {
    sql: Sql<'a>,
    out: Vec<Statement>,
}

impl List<'_> {
    fn push(&mut self, step: Step, purpose: impl Into<String>, sql: String) {
        self.out.push(Statement {
            purpose: purpose.into(),
            step,
            sql,
        });
    }

    /// Replace + one full-size insert of a temporary table.
    fn load(&mut self, table: TempTable, what: &str, insert_rows: usize) {
        for s in self.sql.replace_temp_table(&table) {
            self.push(
                Step::ReplaceTable(table.name),
                format!("empty temporary table of {what}"),
                s,
            );
        }
        self.push(
            Step::Insert(table.name),
            format!(
                "fill it: one statement per {insert_rows} rows (the last statement of a load \
                 has one tuple per remaining row); none when the list is empty"
            ),
            self.sql.insert_rows(&table, insert_rows),
        );
    }

    fn exclusions(&mut self, insert_rows: usize, ex: Excluding) {
        if ex.providers {
            let t = self.sql.excluded_providers_table();
            self.load(
                t,
                "the excluded provider ids (once per connection; none, and no NOT EXISTS on \
                 them in the queries below, when the list is empty)",
                insert_rows,
            );
        }
        if ex.ssns {
            let t = self.sql.excluded_ssns_table();
            self.load(
                t,
                "the excluded SSNs (once per connection; none, and no NOT EXISTS on them, \
                 when the list is empty)",
                insert_rows,
            );
        }
    }

    fn details(&mut self, insert_rows: usize) {
        let t = self.sql.ids_table();
        self.load(t, "the ids of the visits found in a pair", insert_rows);
        self.push(
            Step::Wide,
            "business columns of those visits, within the window (date pruning)",
            self.sql.wide(),
        );
    }
}

/// The statements of a run of `o.mode`, in the order the run sends them.
pub fn run_statements(o: &ListOptions) -> Vec<Statement> {
    run_statements_excluding(o, Excluding::ALL)
}

/// [`run_statements`] with only the exclusion lists of `ex` present, as a run whose reference
/// data has those lists sends them (`examples/explain_run.rs` explains exactly what a run
/// without exclusions sends).
pub fn run_statements_excluding(o: &ListOptions, ex: Excluding) -> Vec<Statement> {
    let mut l = List {
        sql: Sql {
            schema: &o.schema,
            dialect: o.dialect,
            scratch: o.scratch.as_ref(),
        },
        out: Vec::new(),
    };
    let rows = o.insert_rows.max(1);
    for (purpose, s) in o.dialect.session_setup() {
        l.push(
            Step::Session,
            format!("every connection: {purpose}"),
            s.to_string(),
        );
    }
    if o.dialect == Dialect::Snowflake && o.scratch.is_none() {
        l.push(
            Step::CurrentSchema,
            "every connection: the current schema that will hold the temporary tables (the \
             run stops when there is none)",
            l.sql.current_schema().to_string(),
        );
    }
    match o.mode {
        Mode::Full => l.push(
            Step::Prefixes,
            "planning: visits per SSN prefix over the window (repeated with a longer prefix \
             until no batch exceeds the visit limit)",
            l.sql.prefixes(),
        ),
        Mode::Incremental => l.push(
            Step::DeltaKeys,
            "planning: (visit date, SSN) keys of the visits updated since the watermark",
            l.sql.delta_keys(),
        ),
    }
    let example = match o.mode {
        Mode::Full => "ssn:123",
        Mode::Incremental => "keys:0001",
    };
    l.push(
        Step::Tag,
        format!(
            "every batch: label what follows with the tool, run id and batch (here run 42, \
             batch {example})"
        ),
        o.dialect.tag_statement(&query_tag(42, example)),
    );
    l.exclusions(rows, ex);
    let scope = match o.mode {
        Mode::Full => ScopeFilter::SsnPrefix,
        Mode::Incremental => {
            let t = l.sql.keys_table();
            l.load(t, "the batch's (visit date, SSN) keys", rows);
            ScopeFilter::Keys
        }
    };
    l.push(
        Step::Narrow(scope),
        "every batch: the columns the rules need, for the batch's visits",
        l.sql.narrow(scope, o.prefilter, ex),
    );
    l.details(rows);
    for (kind, tag, when) in [
        (EventKind::InService, "inservice", "(on by default)"),
        (EventKind::Pto, "pto", "(only with pto = true)"),
    ] {
        l.push(
            Step::Tag,
            format!("{tag} step {when}: label what follows"),
            o.dialect.tag_statement(&query_tag(42, tag)),
        );
        l.exclusions(rows, ex);
        l.push(
            Step::Events(kind),
            format!("{tag} step: the events of the window"),
            l.sql.events(kind, ex),
        );
        let t = l.sql.events_table();
        l.load(
            t,
            "the events' spans (trimmed SSN, start and end widened by a day)",
            rows,
        );
        l.push(
            Step::Narrow(ScopeFilter::Events),
            format!("{tag} step: the visits of those SSNs that meet a span"),
            l.sql.narrow(ScopeFilter::Events, false, ex),
        );
        l.details(rows);
    }
    let probes = probe_statements(&o.schema, &l.out);
    let at = l
        .out
        .iter()
        .position(|s| !matches!(s.step, Step::Session | Step::CurrentSchema))
        .unwrap_or(l.out.len());
    l.out.splice(at..at, probes);
    l.out
}

/// The preflight's probes: one per analytics table that the listed queries read (the same
/// derivation the preflight uses, so the two cannot disagree).
fn probe_statements(schema: &AnalyticsSchema, listed: &[Statement]) -> Vec<Statement> {
    let queries: Vec<String> = listed.iter().map(|s| s.sql.clone()).collect();
    columns_of_queries(schema, &queries)
        .columns
        .keys()
        .map(|table| Statement {
            purpose: format!(
                "preflight, once per run before anything is written: the columns of {table} (no rows)"
            ),
            step: Step::Probe,
            sql: probe_sql(schema, table),
        })
        .collect()
}

/// The list as `conflicts sql` prints it: each statement preceded by its `--` comment and
/// ended by `;` at the end of its line.
pub fn render(statements: &[Statement]) -> String {
    let mut s = String::new();
    for st in statements {
        s.push_str("-- ");
        s.push_str(&st.purpose);
        s.push('\n');
        s.push_str(&st.sql);
        s.push_str(";\n\n");
    }
    s
}
