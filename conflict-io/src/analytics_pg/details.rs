//! Business columns of the visits in a pair (the wide query), read natively.

use std::collections::HashMap;

use super::decode::Cells;
use super::error::PgSourceError;
use super::{window_params, PgAnalyticsSource};
use crate::analytics::{details_window, distinct};
use crate::details::{Kind, Value, VisitDetails, DETAIL_COLUMNS};

impl PgAnalyticsSource {
    /// Business columns of the given visits (canonical lower-case ids), by visit id, within
    /// the window of the latest visit read (or any date when nothing was read yet).
    pub fn details<'a>(
        &mut self,
        visit_ids: impl IntoIterator<Item = &'a str>,
    ) -> Result<HashMap<String, VisitDetails>, PgSourceError> {
        let ids = distinct(visit_ids);
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let table = self.sql().ids_table();
        self.load_temp_table(table, ids.iter().map(|s| vec![s.to_string()]))?;
        let query = self.sql().wide();
        let window = details_window(self.window);
        let params = window_params(&window);
        let names: Vec<&str> = std::iter::once("Visit Id")
            .chain(DETAIL_COLUMNS.iter().map(|c| c.cvm))
            .collect();
        let what = "reading business columns";
        let mut out = HashMap::with_capacity(ids.len());
        self.fetch(what, &query, &params, |row, number| {
            let c = Cells {
                row,
                what,
                names: &names,
                number,
            };
            let id = c.required(0)?;
            let mut values = Vec::with_capacity(DETAIL_COLUMNS.len());
            for (k, d) in DETAIL_COLUMNS.iter().enumerate() {
                let col = k + 1;
                let v = match d.kind {
                    Kind::I64 => c.i64(col)?.map(Value::I64),
                    Kind::Bool => c.bool(col)?.map(Value::Bool),
                    Kind::Timestamp => c.timestamp(col)?.map(Value::Timestamp),
                    Kind::Uuid => c.string(col)?.map(Value::Uuid),
                    Kind::Text => c.string(col)?.map(Value::Text),
                    Kind::F32 => c.f32_text(col)?.map(Value::F32),
                };
                values.push(v.unwrap_or(Value::Null));
            }
            out.insert(id, VisitDetails { values });
            Ok(())
        })?;
        Ok(out)
    }
}
