//! How a batch scope becomes the narrow query's filter: shared by the ODBC and the native
//! source, which send the same statements.

use std::collections::BTreeSet;

use super::sql::ScopeFilter;
use crate::scope::Scope;

/// The filter of the narrow query for `scope` and its SSN-prefix parameter, if any. For a key
/// scope, `load_keys` first fills the key table with the scope's keys as (date, SSN) rows,
/// each once: the table is joined to the visits, so a key listed twice would deliver its
/// visits twice.
pub(crate) fn scope_filter<E>(
    scope: &Scope,
    load_keys: impl FnOnce(Vec<Vec<String>>) -> Result<(), E>,
) -> Result<(ScopeFilter, Option<String>), E> {
    Ok(match scope {
        Scope::Window => (ScopeFilter::Window, None),
        Scope::SsnPrefix(p) => (ScopeFilter::SsnPrefix, Some(p.clone())),
        Scope::Keys(keys) => {
            let keys: BTreeSet<_> = keys.iter().collect();
            load_keys(
                keys.iter()
                    .map(|(d, s)| vec![d.to_string(), s.clone()])
                    .collect(),
            )?;
            (ScopeFilter::Keys, None)
        }
    })
}
