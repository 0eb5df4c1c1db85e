//! Text of the analytics queries (docs/tables.md §9). Values always travel as parameters; the only
//! interpolated names are the validated analytics and scratch schemas and fixed table and
//! column names. Lists built from data (keys, SSNs, ids, exclusions) travel through temporary
//! tables loaded with multi-row `INSERT ... VALUES`, never as `IN (?, ?, ...)` lists
//! (Snowflake rejects lists of more than 16,384 items).

use super::config::AnalyticsSchema;
use super::dialect::{bool_int, id_text, real_text, text, trim_ws, Dialect};

/// Temporary table holding the (visit date, SSN) keys of a batch.
pub const KEYS_TABLE: &str = "conflicts_scope_keys";
/// Temporary table holding the spans of in-service (or PTO) events: trimmed SSN, widened start
/// and end.
pub const EVENTS_TABLE: &str = "conflicts_scope_events";
/// Temporary table holding the visit ids whose business columns are wanted.
pub const IDS_TABLE: &str = "conflicts_detail_ids";
/// Temporary table holding the excluded provider ids (lower case).
pub const EXCLUDED_PROVIDERS_TABLE: &str = "conflicts_excluded_providers";
/// Temporary table holding the excluded (trimmed) SSNs.
pub const EXCLUDED_SSNS_TABLE: &str = "conflicts_excluded_ssns";

/// How the visits of a query are restricted besides the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScopeFilter {
    /// Only the window: an incremental run's keys or the whole window.
    Window,
    /// `SUBSTR(ssn, 1, length) = prefix`; length and prefix are the first two parameters.
    SsnPrefix,
    /// Joined with [`KEYS_TABLE`].
    Keys,
    /// Visits that meet a span of [`EVENTS_TABLE`] (visits that may meet an in-service event).
    Events,
}

/// Which exclusion lists are non-empty (their tables loaded, their conditions in the query).
/// An empty list has neither table nor condition: an anti-join against an empty, unanalysed
/// temporary table still costs PostgreSQL a noticeable share of the fetch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Excluding {
    /// Excluded provider ids are listed.
    pub providers: bool,
    /// Excluded SSNs are listed.
    pub ssns: bool,
}

impl Excluding {
    /// Both lists present: the statement `conflicts sql` shows.
    pub const ALL: Excluding = Excluding {
        providers: true,
        ssns: true,
    };
    /// No exclusions (planning reads).
    pub const NONE: Excluding = Excluding {
        providers: false,
        ssns: false,
    };
}

/// One temporary table: its name and column definitions, and the insert expression of each
/// column (a `?` with the cast the column needs).
pub struct TempTable {
    /// Unqualified name; [`Sql::scratch_table`] places it.
    pub name: &'static str,
    /// (column, type) in order. Text columns are unbounded: Snowflake rejects an insert longer
    /// than a declared length, and nothing is fetched from these tables.
    pub columns: Vec<(&'static str, &'static str)>,
    /// The insert expression of each column: a `?`, cast where the column is not text.
    pub values: Vec<String>,
}

/// The statement builder of one connection.
pub struct Sql<'a> {
    /// The analytics schema the warehouse tables are read from.
    pub schema: &'a AnalyticsSchema,
    pub dialect: Dialect,
    /// Snowflake: the schema of the temporary tables (`None`: the current schema).
    pub scratch: Option<&'a AnalyticsSchema>,
}

/// Columns of the narrow query, in select order (names are used in error messages).
pub const NARROW_COLUMNS: [&str; 20] = [
    "Visit Id",
    "Application Visit Id",
    "SSN",
    "Provider Id",
    "Visit Date",
    "Scheduled Start Time",
    "Scheduled End Time",
    "Visit Start Time",
    "Visit End Time",
    "Call Out GPS Coordinates",
    "Call In GPS Coordinates",
    "Latitude",
    "Longitude",
    "Zip Code",
    "Address State",
    "Payer Patient Address State",
    "Provider Address State",
    "Is Missed",
    "Visit Updated Timestamp",
    "Caregiver Id",
];

impl Sql<'_> {
    fn t(&self, table: &str) -> String {
        self.schema.table(table)
    }

    /// The name a temporary table is created, filled and joined under. PostgreSQL: the
    /// session's own `pg_temp` schema, so that neither the `DROP` nor a join can reach a
    /// permanent table of the same name. Snowflake: the scratch schema, or unqualified (the
    /// session's current schema).
    pub fn scratch_table(&self, table: &str) -> String {
        match (self.dialect, self.scratch) {
            (Dialect::Postgres, _) => format!("pg_temp.{table}"),
            (Dialect::Snowflake, Some(s)) => s.table(table),
            (Dialect::Snowflake, None) => table.to_string(),
        }
    }

    /// The statements that (re)create an empty temporary table. Snowflake replaces it in one
    /// statement; PostgreSQL has no `CREATE OR REPLACE TABLE` and drops its own temporary
    /// table (`pg_temp`) first.
    pub fn replace_temp_table(&self, t: &TempTable) -> Vec<String> {
        let cols: Vec<String> = t
            .columns
            .iter()
            .map(|(n, ty)| format!("{n} {ty}"))
            .collect();
        let name = self.scratch_table(t.name);
        match self.dialect {
            Dialect::Snowflake => vec![format!(
                "CREATE OR REPLACE TEMPORARY TABLE {name} ({})",
                cols.join(", ")
            )],
            Dialect::Postgres => vec![
                format!("DROP TABLE IF EXISTS {name}"),
                format!("CREATE TEMPORARY TABLE {name} ({})", cols.join(", ")),
            ],
        }
    }

    /// `INSERT INTO t (...) VALUES (...), (...)` with `rows` rows of parameters: one statement
    /// per chunk of rows, so loading never depends on the driver's array binding (which the
    /// Snowflake driver may silently turn into one request per row).
    pub fn insert_rows(&self, t: &TempTable, rows: usize) -> String {
        let names: Vec<&str> = t.columns.iter().map(|(n, _)| *n).collect();
        let tuple = format!("({})", t.values.join(", "));
        format!(
            "INSERT INTO {} ({}) VALUES {}",
            self.scratch_table(t.name),
            names.join(", "),
            vec![tuple.as_str(); rows.max(1)].join(", ")
        )
    }

    /// [`KEYS_TABLE`]: (visit date as text, trimmed SSN) per row.
    pub fn keys_table(&self) -> TempTable {
        TempTable {
            name: KEYS_TABLE,
            columns: vec![("key_date", "DATE"), ("key_ssn", "VARCHAR")],
            values: vec!["CAST(? AS DATE)".into(), "?".into()],
        }
    }

    /// [`EVENTS_TABLE`]: per row the trimmed SSN and the start and end (UTC wall clock, as
    /// the source delivers visit times) of an event's span.
    pub fn events_table(&self) -> TempTable {
        let ts = self.dialect.timestamp_type();
        TempTable {
            name: EVENTS_TABLE,
            columns: vec![("ev_ssn", "VARCHAR"), ("ev_from", ts), ("ev_to", ts)],
            values: vec![
                "?".into(),
                format!("CAST(? AS {ts})"),
                format!("CAST(? AS {ts})"),
            ],
        }
    }

    /// [`IDS_TABLE`]: one canonical visit id per row.
    pub fn ids_table(&self) -> TempTable {
        let ty = self.dialect.id_type();
        TempTable {
            name: IDS_TABLE,
            columns: vec![("detail_vid", ty)],
            values: vec![format!("CAST(? AS {ty})")],
        }
    }

    /// [`EXCLUDED_PROVIDERS_TABLE`]: one lower-case provider id per row.
    pub fn excluded_providers_table(&self) -> TempTable {
        TempTable {
            name: EXCLUDED_PROVIDERS_TABLE,
            columns: vec![("ex_pid", "VARCHAR")],
            values: vec!["?".into()],
        }
    }

    /// [`EXCLUDED_SSNS_TABLE`]: one trimmed SSN per row.
    pub fn excluded_ssns_table(&self) -> TempTable {
        TempTable {
            name: EXCLUDED_SSNS_TABLE,
            columns: vec![("ex_ssn", "VARCHAR")],
            values: vec!["?".into()],
        }
    }

    /// Snowflake: the session's current schema (NULL when the connection string names none;
    /// temporary tables then cannot be created).
    pub fn current_schema(&self) -> &'static str {
        "SELECT CURRENT_SCHEMA()"
    }

    pub fn ssn_trimmed(&self) -> String {
        trim_ws("C.\"SSN\"")
    }

    /// The exclusion conditions on a provider id and a trimmed SSN expression, against the
    /// exclusion tables of the non-empty lists.
    pub fn not_excluded(&self, ex: Excluding, provider_col: &str, ssn: &str) -> Vec<String> {
        let mut out = Vec::new();
        if ex.providers {
            out.push(format!(
                "NOT EXISTS (SELECT 1 FROM {} XP WHERE XP.ex_pid = {})",
                self.scratch_table(EXCLUDED_PROVIDERS_TABLE),
                id_text(provider_col)
            ));
        }
        if ex.ssns {
            out.push(format!(
                "NOT EXISTS (SELECT 1 FROM {} XS WHERE XS.ex_ssn = {ssn})",
                self.scratch_table(EXCLUDED_SSNS_TABLE)
            ));
        }
        out
    }

    /// Latest primary GPS address per patient (docs/tables.md §9).
    fn latest_address_cte(&self) -> String {
        format!(
            "addr AS (\
             SELECT A.\"Patient Id\" AS addr_pid, A.\"Patient Address Id\", \
             A.\"Application Patient Address Id\", A.\"Address Line 1\", A.\"Address Line 2\", \
             A.\"City\", A.\"County\", A.\"Address State\", A.\"Zip Code\", A.\"Latitude\", \
             A.\"Longitude\", ROW_NUMBER() OVER (PARTITION BY A.\"Patient Id\" ORDER BY \
             A.\"Application Created UTC Timestamp\" DESC NULLS LAST, A.\"Patient Address Id\") \
             AS addr_rank \
             FROM {} A WHERE A.\"Primary Address\" = TRUE AND A.\"Address Type\" LIKE '%GPS%')",
            self.t("dimpatientaddress")
        )
    }

    /// The filtered visits of a scope as CTE `base`. Parameters: for a prefix scope, the
    /// prefix length and the prefix; then window from, window to (text dates). The
    /// exclusion tables of `ex` must be loaded.
    fn base_cte(&self, scope: ScopeFilter, ex: Excluding) -> String {
        let ssn = self.ssn_trimmed();
        let mut wh = vec![
            "F.\"Visit Date\" BETWEEN CAST(? AS DATE) AND CAST(? AS DATE)".to_string(),
            format!("{ssn} <> ''"),
        ];
        wh.extend(self.not_excluded(ex, "F.\"Provider Id\"", &ssn));
        let mut join_keys = String::new();
        let mut fact = self.t("factvisitcallperformance_cr");
        match scope {
            ScopeFilter::Window => {}
            ScopeFilter::SsnPrefix => {
                // Length and prefix come in through a one-row join, not as markers inside
                // SUBSTR, which a rewriter (fakesnow's) may expand into several copies.
                join_keys = " CROSS JOIN (SELECT CAST(? AS INTEGER) AS plen, \
                             CAST(? AS VARCHAR) AS pfx) PF"
                    .to_string();
                wh.push(format!("SUBSTR({ssn}, 1, PF.plen) = PF.pfx"))
            }
            ScopeFilter::Keys => {
                join_keys = format!(
                    " JOIN {} K ON K.key_date = F.\"Visit Date\" AND K.key_ssn = {ssn}",
                    self.scratch_table(KEYS_TABLE)
                )
            }
            ScopeFilter::Events => {
                // The spans are matched to caregivers first (a few thousand rows, each SSN
                // trimmed once) and to visits through the caregiver id: matching on the
                // visit's trimmed SSN made PostgreSQL trim the SSN of every visit of the window.
                // The visit's UTC times come from the derived table below, so the correlated
                // condition compares plain columns: Snowflake refuses some correlated
                // subqueries that apply functions to the outer query's columns. Visits without
                // a start or end never meet a span (nor pair).
                fact = format!(
                    "(SELECT F0.*, {vs} AS ev_vis_s, {ve} AS ev_vis_e FROM {f} F0)",
                    vs = self.dialect.utc("F0.\"Visit Start Time\""),
                    ve = self.dialect.utc("F0.\"Visit End Time\""),
                    f = self.t("factvisitcallperformance_cr"),
                );
                wh.push(format!(
                    "EXISTS (SELECT 1 FROM {c} C2 JOIN {ev} EV ON EV.ev_ssn = {ssn2} \
                     WHERE C2.\"Caregiver Id\" = F.\"Caregiver Id\" \
                     AND F.ev_vis_s <= EV.ev_to AND F.ev_vis_e >= EV.ev_from)",
                    c = self.t("dimcaregiver"),
                    ev = self.scratch_table(EVENTS_TABLE),
                    ssn2 = trim_ws("C2.\"SSN\""),
                ))
            }
        }
        // Raw columns only, besides the two keys of the candidate pre-filter: the conversions
        // to the delivered text and UTC forms happen in the outer query of [`Self::narrow`],
        // after the pre-filter, so that PostgreSQL evaluates them for the surviving visits
        // (about one in six) instead of every visit of the batch (EXPLAIN: the window's
        // projection of the converted columns was a third of the statement).
        format!(
            "base AS (SELECT F.\"Visit Id\" AS r_vid, F.\"Application Visit Id\" AS app_vid, \
             C.\"SSN\" AS r_ssn, {ssn} AS ssn_t, F.\"Provider Id\" AS r_pid, \
             CAST(F.\"Provider Id\" AS VARCHAR) AS pkey, CAST(F.\"Visit Date\" AS DATE) AS vdate, \
             F.\"Scheduled Start Time\" AS r_ss, F.\"Scheduled End Time\" AS r_se, \
             F.\"Visit Start Time\" AS r_vs, F.\"Visit End Time\" AS r_ve, \
             F.\"Call Out GPS Coordinates\" AS r_gout, F.\"Call In GPS Coordinates\" AS r_gin, \
             PR.\"Address State\" AS r_pstate, F.\"Is Missed\" AS r_missed, \
             F.\"Visit Updated Timestamp\" AS r_upd, F.\"Caregiver Id\" AS r_cg, \
             F.\"Provider Patient Id\" AS pp_id, F.\"Payer Patient Id\" AS ap_id \
             FROM {fact} F \
             JOIN {c} C ON C.\"Caregiver Id\" = F.\"Caregiver Id\" \
             JOIN {p} PR ON PR.\"Provider Id\" = F.\"Provider Id\" AND PR.\"Is Active\" = TRUE \
             AND PR.\"Is Demo\" = FALSE{join_keys} \
             WHERE {wh})",
            c = self.t("dimcaregiver"),
            p = self.t("dimprovider"),
            wh = wh.join(" AND "),
        )
    }

    /// Visit counts per SSN prefix over the window, without exclusions (planning only needs a
    /// superset of the keys that hold data). Parameters: window from, window to, prefix length.
    /// The length comes in through a one-row join rather than inside the grouped expression,
    /// where a rewriter that expands the `GROUP BY` alias (fakesnow's) would copy the marker.
    ///
    /// The visits are counted per caregiver first and the caregivers' SSNs trimmed afterwards:
    /// trimming the SSN of every visit of the window was most of this statement's time
    /// (PostgreSQL, batch-6 world: 355 → 220 ms), and it runs before any batch can start.
    pub fn prefixes(&self) -> String {
        let ssn = self.ssn_trimmed();
        format!(
            "SELECT prefix, CAST(SUM(n) AS BIGINT) AS n FROM \
             (SELECT SUBSTR({ssn}, 1, L.len) AS prefix, X.n FROM \
             (SELECT F.\"Caregiver Id\" AS cg, COUNT(*) AS n FROM {f} F \
             JOIN {p} PR ON PR.\"Provider Id\" = F.\"Provider Id\" AND PR.\"Is Active\" = TRUE \
             AND PR.\"Is Demo\" = FALSE \
             WHERE F.\"Visit Date\" BETWEEN CAST(? AS DATE) AND CAST(? AS DATE) \
             GROUP BY F.\"Caregiver Id\") X \
             JOIN {c} C ON C.\"Caregiver Id\" = X.cg \
             CROSS JOIN (SELECT CAST(? AS INTEGER) AS len) L WHERE {ssn} <> '') P \
             GROUP BY prefix",
            f = self.t("factvisitcallperformance_cr"),
            c = self.t("dimcaregiver"),
            p = self.t("dimprovider"),
        )
    }

    /// Delta keys (docs/lifecycle.md §2): regardless of provider status and exclusions. Parameters:
    /// since (text timestamp, UTC: the session time zone is UTC), window from, window to.
    pub fn delta_keys(&self) -> String {
        let ssn = self.ssn_trimmed();
        format!(
            "SELECT DISTINCT CAST(F.\"Visit Date\" AS DATE) AS key_date, {key_ssn} AS key_ssn \
             FROM {f} F JOIN {c} C ON C.\"Caregiver Id\" = F.\"Caregiver Id\" \
             WHERE F.\"Visit Updated Timestamp\" >= CAST(? AS {ts}) \
             AND F.\"Visit Date\" BETWEEN CAST(? AS DATE) AND CAST(? AS DATE) AND {ssn} <> ''",
            key_ssn = text(&ssn, 100),
            ts = self.dialect.timestamp_type(),
            f = self.t("factvisitcallperformance_cr"),
            c = self.t("dimcaregiver"),
        )
    }

    /// The narrow query: the columns of [`NARROW_COLUMNS`] for the visits of `scope`, with
    /// the exclusion tables applied. Parameters as [`Self::base_cte`].
    pub fn narrow(&self, scope: ScopeFilter, prefilter: bool, ex: Excluding) -> String {
        let base = self.base_cte(scope, ex);
        // "Two or more providers in the group" as MIN <> MAX over a window rather than a
        // GROUP BY ... HAVING joined back: no self-join, and PostgreSQL's planner no longer
        // underestimates the survivors as one row (which made it join the addresses by nested
        // loop over a CTE scan, seconds per batch). Both dialects have MIN/MAX OVER. The key is
        // the provider id as plain text: cheaper than the delivered (lower-case, bounded) form,
        // and it can only tell more providers apart than that form, so no candidate is lost
        // (equal keys give equal delivered ids); detection decides on the delivered ids.
        let (cand_cte, from, cand_where) = if prefilter {
            (
                ", cand AS (SELECT base.*, MIN(pkey) OVER (PARTITION BY vdate, ssn_t) AS pmin, \
                 MAX(pkey) OVER (PARTITION BY vdate, ssn_t) AS pmax FROM base)",
                "cand",
                " WHERE B.pmin <> B.pmax",
            )
        } else {
            ("", "base", "")
        };
        let d = self.dialect;
        format!(
            "WITH {base}{cand_cte}, {addr} \
             SELECT {vid} AS vid, B.app_vid, {ssn_raw} AS ssn_raw, {pid} AS pid, B.vdate, \
             {ss} AS sch_s, {se} AS sch_e, {vs} AS vis_s, {ve} AS vis_e, \
             {gout} AS gps_out, {gin} AS gps_in, {lat} AS lat, {lon} AS lon, {zip} AS zip, \
             {st} AS p_state, {ast} AS pa_state, {pstate} AS prov_state, \
             {missed} AS missed, {upd} AS upd, {cg} AS cg \
             FROM {from} B \
             LEFT JOIN addr PA ON PA.addr_pid = B.pp_id AND PA.addr_rank = 1 \
             LEFT JOIN addr AA ON AA.addr_pid = B.ap_id AND AA.addr_rank = 1{cand_where}",
            addr = self.latest_address_cte(),
            vid = id_text("B.r_vid"),
            ssn_raw = text("B.r_ssn", 50),
            pid = id_text("B.r_pid"),
            ss = d.utc("B.r_ss"),
            se = d.utc("B.r_se"),
            vs = d.utc("B.r_vs"),
            ve = d.utc("B.r_ve"),
            gout = text("B.r_gout", 100),
            gin = text("B.r_gin", 100),
            lat = real_text("PA.\"Latitude\""),
            lon = real_text("PA.\"Longitude\""),
            zip = text("PA.\"Zip Code\"", 100),
            st = text("PA.\"Address State\"", 100),
            ast = text("AA.\"Address State\"", 100),
            pstate = text("B.r_pstate", 100),
            missed = bool_int("B.r_missed"),
            upd = d.utc("B.r_upd"),
            cg = id_text("B.r_cg"),
        )
    }

    /// Business columns of the visits listed in [`IDS_TABLE`]: the visit id, then one select
    /// expression per [`crate::details::DETAIL_COLUMNS`] entry. Parameters: window from,
    /// window to — the visits are those of a batch of the window, and the date condition lets
    /// Snowflake prune the fact table's micro-partitions by visit date instead of scanning it.
    pub fn wide(&self) -> String {
        let d = self.dialect;
        // Every column named: two unnamed columns of the same source column (the address
        // blocks of both patients) would share a name, which some clients collapse into one.
        let exprs: Vec<String> = super::wide::select_list(d)
            .into_iter()
            .zip(crate::details::DETAIL_COLUMNS.iter())
            .map(|(e, c)| format!("{e} AS {}", c.cvm))
            .collect();
        format!(
            "WITH {addr} SELECT {vid} AS vid, {cols} \
             FROM {f} F JOIN {ids} I ON {ideq} \
             LEFT JOIN {c} C ON C.\"Caregiver Id\" = F.\"Caregiver Id\" \
             LEFT JOIN {p} PR ON PR.\"Provider Id\" = F.\"Provider Id\" \
             LEFT JOIN {o} O ON O.\"Office Id\" = F.\"Office Id\" AND O.\"Is Active\" = TRUE \
             LEFT JOIN {pat} PP ON PP.\"Patient Id\" = F.\"Provider Patient Id\" \
             LEFT JOIN addr PPA ON PPA.addr_pid = F.\"Provider Patient Id\" AND PPA.addr_rank = 1 \
             LEFT JOIN {pat} AP ON AP.\"Patient Id\" = F.\"Payer Patient Id\" \
             LEFT JOIN addr APA ON APA.addr_pid = F.\"Payer Patient Id\" AND APA.addr_rank = 1 \
             LEFT JOIN {py} PY ON PY.\"Payer Id\" = F.\"Payer Id\" AND PY.\"Is Active\" = TRUE \
             AND PY.\"Is Demo\" = FALSE \
             LEFT JOIN {k} K ON K.\"Contract Id\" = F.\"Contract Id\" AND K.\"Is Active\" = TRUE \
             LEFT JOIN {s} S ON S.\"Service Code Id\" = F.\"Service Code Id\" \
             LEFT JOIN {u} U ON U.\"User Id\" = F.\"Visit Updated User Id\" \
             WHERE F.\"Visit Date\" BETWEEN CAST(? AS DATE) AND CAST(? AS DATE)",
            addr = self.latest_address_cte(),
            vid = id_text("F.\"Visit Id\""),
            cols = exprs.join(", "),
            f = self.t("factvisitcallperformance_cr"),
            ids = self.scratch_table(IDS_TABLE),
            ideq = d.id_eq("F.\"Visit Id\"", "I.detail_vid"),
            c = self.t("dimcaregiver"),
            p = self.t("dimprovider"),
            o = self.t("dimoffice"),
            pat = self.t("dimpatient"),
            py = self.t("dimpayer"),
            k = self.t("dimcontract"),
            s = self.t("dimservicecode"),
            u = self.t("dimuser"),
        )
    }
}
