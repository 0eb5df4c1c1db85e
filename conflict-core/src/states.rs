//! Cross-state filter (docs/rules.md §10).

use crate::model::{non_blank, Visit};

/// The two final state values of a visit; `None` is NULL.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StateFinals {
    pub p: Option<String>,
    pub pa: Option<String>,
}

fn upper(s: &str) -> String {
    s.to_uppercase()
}

fn norm(s: Option<&str>) -> Option<String> {
    let u = upper(non_blank(s)?);
    Some(
        match u.as_str() {
            "MISSISSIPPI" => "MS",
            "NEW YORK" => "NY",
            "PENNSYLVANIA" => "PA",
            "LONG ISLAND" => "LI",
            other => other,
        }
        .to_string(),
    )
}

impl StateFinals {
    pub fn of(v: &Visit) -> Self {
        let (p, pa) = (norm(v.p_state.as_deref()), norm(v.pa_state.as_deref()));
        if p.is_none() && pa.is_none() {
            // The provider state is deliberately not mapped by the four full names.
            let prov = non_blank(v.provider_state.as_deref()).map(upper);
            return StateFinals {
                p: prov.clone(),
                pa: prov,
            };
        }
        StateFinals { p, pa }
    }

    #[cfg(test)]
    pub fn unknown(&self) -> bool {
        self.p.is_none() && self.pa.is_none()
    }
}

/// `keep(V1, V2)` of the cross-state filter (docs/rules.md), read literally on the finals;
/// symmetric. Pairing compares interned ids instead; this plain form is what its tests check
/// that comparison against.
#[cfg(test)]
pub(crate) fn keep(a: &StateFinals, b: &StateFinals) -> bool {
    if a.unknown() || b.unknown() {
        return true;
    }
    let eq = |x: &Option<String>, y: &Option<String>| x.is_some() && x == y;
    eq(&a.p, &b.p) || eq(&a.p, &b.pa) || eq(&a.pa, &b.p) || eq(&a.pa, &b.pa)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(p: Option<&str>, pa: Option<&str>, prov: Option<&str>) -> StateFinals {
        StateFinals::of(&Visit {
            p_state: p.map(String::from),
            pa_state: pa.map(String::from),
            provider_state: prov.map(String::from),
            ..Visit::default()
        })
    }

    #[test]
    fn vectors_of_rules_md() {
        let n = None;
        let cases = [
            (v(Some("NY"), n, n), v(Some("NY"), n, n), true),
            (v(Some(" new york "), n, n), v(Some("NY"), n, n), true),
            (v(Some("NJ"), n, n), v(Some("NY"), n, n), false),
            (
                v(Some("NJ"), Some("NY"), n),
                v(Some("PA"), Some("NY"), n),
                true,
            ),
            (v(Some("Pennsylvania"), n, n), v(n, Some("pa"), n), true),
            (v(Some("MISSISSIPPI"), n, n), v(Some("ms"), n, n), true),
            (v(Some("Long Island"), n, n), v(Some("NY"), n, n), false),
            (v(n, n, n), v(Some("NJ"), n, n), true),
            (v(n, n, Some("NY")), v(Some("NJ"), n, n), false),
            (v(n, n, Some("NY")), v(Some("NY"), n, Some("NJ")), true),
            (v(n, n, Some("New York")), v(Some("NY"), n, n), false),
            (
                v(Some("  "), Some(""), Some(" nj ")),
                v(Some("NJ"), n, n),
                true,
            ),
            (v(Some("NY"), n, Some("NJ")), v(n, n, Some("NJ")), false),
        ];
        for (i, (a, b, want)) in cases.iter().enumerate() {
            assert_eq!(keep(a, b), *want, "vector {i}");
            assert_eq!(keep(b, a), *want, "vector {i} mirrored");
        }
    }
}
