//! Text of the analytics queries (docs/tables.md §9). Values always travel as parameters; the only
//! interpolated names are the validated schema and fixed table and column names.

use super::config::AnalyticsSchema;
use super::dialect::{bool_int, id_text, real_text, text, trim_ws, Dialect};

/// Temporary table holding the (visit date, SSN) keys of a batch.
pub const KEYS_TABLE: &str = "conflicts_scope_keys";
/// Temporary table holding the trimmed SSNs of a set of caregivers.
pub const SSNS_TABLE: &str = "conflicts_scope_ssns";
/// Temporary table holding the visit ids whose business columns are wanted.
pub const IDS_TABLE: &str = "conflicts_detail_ids";

/// How the visits of a query are restricted besides the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScopeFilter {
    Window,
    /// `SUBSTR(ssn, 1, len) = ?`
    SsnPrefix {
        len: usize,
    },
    /// Joined with [`KEYS_TABLE`].
    Keys,
    /// Joined with [`SSNS_TABLE`] (visits that may meet an in-service event).
    Ssns,
}

pub struct Sql<'a> {
    pub schema: &'a AnalyticsSchema,
    pub dialect: Dialect,
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

    pub fn ssn_trimmed(&self) -> String {
        trim_ws("C.\"SSN\"")
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

    /// The filtered visits of a scope as CTE `base`. Parameters: window from, window to (text
    /// dates); then `excluded_providers` provider ids; then `excluded_ssns` SSNs; then the
    /// prefix when the scope is a prefix.
    fn base_cte(
        &self,
        scope: ScopeFilter,
        excluded_providers: usize,
        excluded_ssns: usize,
    ) -> String {
        let d = self.dialect;
        let ssn = self.ssn_trimmed();
        let mut wh = vec![
            "F.\"Visit Date\" BETWEEN CAST(? AS DATE) AND CAST(? AS DATE)".to_string(),
            format!("{ssn} <> ''"),
        ];
        if excluded_providers > 0 {
            wh.push(format!(
                "{} NOT IN ({})",
                id_text("F.\"Provider Id\""),
                placeholders(excluded_providers)
            ));
        }
        if excluded_ssns > 0 {
            wh.push(format!("{ssn} NOT IN ({})", placeholders(excluded_ssns)));
        }
        let mut join_keys = String::new();
        match scope {
            ScopeFilter::Window => {}
            ScopeFilter::SsnPrefix { len } => wh.push(format!("SUBSTR({ssn}, 1, {len}) = ?")),
            ScopeFilter::Keys => {
                join_keys = format!(
                    " JOIN {KEYS_TABLE} K ON K.key_date = F.\"Visit Date\" AND K.key_ssn = {ssn}"
                )
            }
            ScopeFilter::Ssns => {
                join_keys = format!(" JOIN {SSNS_TABLE} SS ON SS.scope_ssn = {ssn}")
            }
        }
        format!(
            "base AS (SELECT {vid} AS vid, F.\"Application Visit Id\" AS app_vid, \
             {ssn_raw} AS ssn_raw, {ssn} AS ssn_t, {pid} AS pid, \
             CAST(F.\"Visit Date\" AS DATE) AS vdate, \
             {ss} AS sch_s, {se} AS sch_e, {vs} AS vis_s, {ve} AS vis_e, \
             {gout} AS gps_out, {gin} AS gps_in, {pstate} AS prov_state, {missed} AS missed, \
             {upd} AS upd, {cg} AS cg, F.\"Provider Patient Id\" AS pp_id, \
             F.\"Payer Patient Id\" AS ap_id \
             FROM {f} F \
             JOIN {c} C ON C.\"Caregiver Id\" = F.\"Caregiver Id\" \
             JOIN {p} PR ON PR.\"Provider Id\" = F.\"Provider Id\" AND PR.\"Is Active\" = TRUE \
             AND PR.\"Is Demo\" = FALSE{join_keys} \
             WHERE {wh})",
            vid = id_text("F.\"Visit Id\""),
            ssn_raw = text("C.\"SSN\"", 50),
            pid = id_text("F.\"Provider Id\""),
            ss = d.utc("F.\"Scheduled Start Time\""),
            se = d.utc("F.\"Scheduled End Time\""),
            vs = d.utc("F.\"Visit Start Time\""),
            ve = d.utc("F.\"Visit End Time\""),
            gout = text("F.\"Call Out GPS Coordinates\"", 100),
            gin = text("F.\"Call In GPS Coordinates\"", 100),
            pstate = text("PR.\"Address State\"", 100),
            missed = bool_int("F.\"Is Missed\""),
            upd = d.utc("F.\"Visit Updated Timestamp\""),
            cg = id_text("F.\"Caregiver Id\""),
            f = self.t("factvisitcallperformance_cr"),
            c = self.t("dimcaregiver"),
            p = self.t("dimprovider"),
            wh = wh.join(" AND "),
        )
    }

    /// Visit counts per SSN prefix of length `len` (parameters as [`Self::narrow`] for the
    /// window scope).
    pub fn prefixes(&self, len: usize, excluded_providers: usize, excluded_ssns: usize) -> String {
        format!(
            "WITH {} SELECT SUBSTR(ssn_t, 1, {len}) AS prefix, COUNT(*) AS n FROM base \
             GROUP BY SUBSTR(ssn_t, 1, {len})",
            self.base_cte(ScopeFilter::Window, excluded_providers, excluded_ssns)
        )
    }

    /// Delta keys (docs/lifecycle.md §2): regardless of provider status and exclusions. Parameters:
    /// since (text timestamp, UTC: the session time zone is UTC), window from, window to.
    pub fn delta_keys(&self) -> String {
        let ssn = self.ssn_trimmed();
        format!(
            "SELECT DISTINCT CAST(F.\"Visit Date\" AS DATE) AS key_date, {key_ssn} AS key_ssn \
             FROM {f} F JOIN {c} C ON C.\"Caregiver Id\" = F.\"Caregiver Id\" \
             WHERE F.\"Visit Updated Timestamp\" >= CAST(? AS TIMESTAMP) \
             AND F.\"Visit Date\" BETWEEN CAST(? AS DATE) AND CAST(? AS DATE) AND {ssn} <> ''",
            key_ssn = text(&ssn, 100),
            f = self.t("factvisitcallperformance_cr"),
            c = self.t("dimcaregiver"),
        )
    }

    /// Parameters as [`Self::base_cte`].
    pub fn narrow(
        &self,
        scope: ScopeFilter,
        excluded_providers: usize,
        excluded_ssns: usize,
        prefilter: bool,
    ) -> String {
        let base = self.base_cte(scope, excluded_providers, excluded_ssns);
        // "Two or more providers in the group" as MIN <> MAX over a window rather than a
        // GROUP BY ... HAVING joined back: no self-join, and PostgreSQL's planner no longer
        // underestimates the survivors as one row (which made it join the addresses by nested
        // loop over a CTE scan, seconds per batch). Both dialects have MIN/MAX OVER.
        let (cand_cte, from, cand_where) = if prefilter {
            (
                ", cand AS (SELECT base.*, MIN(pid) OVER (PARTITION BY vdate, ssn_t) AS pmin, \
                 MAX(pid) OVER (PARTITION BY vdate, ssn_t) AS pmax FROM base)",
                "cand",
                " WHERE B.pmin <> B.pmax",
            )
        } else {
            ("", "base", "")
        };
        let sql = format!(
            "WITH {base}{cand_cte}, {addr} \
             SELECT B.vid, B.app_vid, B.ssn_raw, B.pid, B.vdate, B.sch_s, B.sch_e, B.vis_s, \
             B.vis_e, B.gps_out, B.gps_in, {lat}, {lon}, {zip}, {st}, {ast}, B.prov_state, \
             B.missed, B.upd, B.cg \
             FROM {from} B \
             LEFT JOIN addr PA ON PA.addr_pid = B.pp_id AND PA.addr_rank = 1 \
             LEFT JOIN addr AA ON AA.addr_pid = B.ap_id AND AA.addr_rank = 1{cand_where}",
            addr = self.latest_address_cte(),
            lat = real_text("PA.\"Latitude\""),
            lon = real_text("PA.\"Longitude\""),
            zip = text("PA.\"Zip Code\"", 100),
            st = text("PA.\"Address State\"", 100),
            ast = text("AA.\"Address State\"", 100),
        );
        sql
    }

    pub fn create_keys_table(&self) -> String {
        format!("CREATE TEMPORARY TABLE {KEYS_TABLE} (key_date DATE, key_ssn VARCHAR(100))")
    }

    pub fn insert_key(&self) -> String {
        format!("INSERT INTO {KEYS_TABLE} (key_date, key_ssn) VALUES (CAST(? AS DATE), ?)")
    }

    pub fn create_ids_table(&self) -> String {
        format!(
            "CREATE TEMPORARY TABLE {IDS_TABLE} (detail_vid {})",
            self.dialect.id_type()
        )
    }

    pub fn insert_id(&self) -> String {
        format!(
            "INSERT INTO {IDS_TABLE} (detail_vid) VALUES (CAST(? AS {}))",
            self.dialect.id_type()
        )
    }

    pub fn drop_table(&self, table: &str) -> String {
        format!("DROP TABLE IF EXISTS {table}")
    }

    /// Business columns of the visits listed in [`IDS_TABLE`]: the visit id, then one select
    /// expression per [`crate::details::DETAIL_COLUMNS`] entry.
    pub fn wide(&self) -> String {
        let d = self.dialect;
        let exprs: Vec<String> = super::wide::select_list(d);
        format!(
            "WITH {addr} SELECT {vid}, {cols} \
             FROM {f} F JOIN {IDS_TABLE} I ON {ideq} \
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
             LEFT JOIN {u} U ON U.\"User Id\" = F.\"Visit Updated User Id\"",
            addr = self.latest_address_cte(),
            vid = id_text("F.\"Visit Id\""),
            cols = exprs.join(", "),
            f = self.t("factvisitcallperformance_cr"),
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

pub(super) fn placeholders(n: usize) -> String {
    vec!["?"; n].join(", ")
}
