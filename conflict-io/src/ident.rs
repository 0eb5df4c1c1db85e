//! Validated SQL names from configuration (schema names of the conflict database and of the
//! analytics warehouse). Both adapters write them into SQL text, where no parameter can stand
//! for a name, so both accept only `^[A-Za-z_][A-Za-z0-9_]{0,62}$` per part.

use std::fmt;

/// Longest identifier PostgreSQL keeps without truncating (NAMEDATALEN − 1).
const MAX_IDENTIFIER_LEN: usize = 63;

/// A configured name was refused; each adapter turns this into its own configuration error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what} {value:?}: it must match ^[A-Za-z_][A-Za-z0-9_]{{0,62}}$")]
pub struct InvalidName {
    /// Which setting it is (e.g. "conflict schema name").
    pub what: &'static str,
    /// The refused value, whole (all parts of a qualified name).
    pub value: String,
}

/// A validated SQL identifier: `^[A-Za-z_][A-Za-z0-9_]{0,62}$`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Identifier(String);

impl Identifier {
    /// Validates `value`; `what` names the setting in the error ("conflict schema name", …).
    pub fn new(what: &'static str, value: &str) -> Result<Self, InvalidName> {
        let mut chars = value.chars();
        let first_ok = chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
        let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
        if first_ok && rest_ok && value.len() <= MAX_IDENTIFIER_LEN {
            Ok(Identifier(value.to_string()))
        } else {
            Err(InvalidName {
                what,
                value: value.to_string(),
            })
        }
    }

    /// The identifier as configured.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The identifier double-quoted for SQL text. Validation guarantees there is no quote to
    /// escape.
    pub fn quoted(&self) -> String {
        format!("\"{}\"", self.0)
    }
}

impl fmt::Display for Identifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A possibly qualified name such as `analytics` or `ANALYTICS.BI` (database.schema), each part
/// a validated identifier. Written unquoted (docs/tables.md §1), so that Snowflake's and
/// PostgreSQL's case folding apply as they do to the names in the warehouse's own SQL.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct QualifiedName {
    parts: Vec<Identifier>,
    /// The parts joined by dots, kept so that it can be borrowed.
    text: String,
}

impl QualifiedName {
    /// One or two dot-separated parts.
    pub fn new(what: &'static str, value: &str) -> Result<Self, InvalidName> {
        let refused = || InvalidName {
            what,
            value: value.to_string(),
        };
        let parts: Vec<&str> = value.split('.').collect();
        if parts.len() > 2 {
            return Err(refused());
        }
        let parts = parts
            .into_iter()
            .map(|p| Identifier::new(what, p).map_err(|_| refused()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(QualifiedName {
            parts,
            text: value.to_string(),
        })
    }

    /// The parts, outermost first.
    pub fn parts(&self) -> &[Identifier] {
        &self.parts
    }

    /// The unquoted SQL text, parts joined by dots.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The unquoted SQL text, parts joined by dots (an owned copy of [`Self::as_str`]).
    pub fn sql(&self) -> String {
        self.text.clone()
    }
}

impl fmt::Display for QualifiedName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_follow_the_configured_pattern() {
        for ok in ["conflict", "conflict_dev", "_x", "A1", &"a".repeat(63)] {
            let id = Identifier::new("name", ok).unwrap();
            assert_eq!(id.quoted(), format!("\"{ok}\""));
        }
        for bad in [
            "",
            "1abc",
            "a-b",
            "conflict; drop",
            "a\"b",
            "sch\u{e9}ma",
            " conflict",
            &"a".repeat(64),
        ] {
            let err = Identifier::new("conflict schema name", bad).unwrap_err();
            assert_eq!(err.what, "conflict schema name");
            assert_eq!(err.value, bad);
        }
    }

    #[test]
    fn names_may_be_qualified_once() {
        let q = QualifiedName::new("analytics", "ANALYTICS.BI").unwrap();
        assert_eq!(q.sql(), "ANALYTICS.BI");
        assert_eq!(q.as_str(), "ANALYTICS.BI");
        assert_eq!(q.parts().len(), 2);
        for bad in ["a.b.c", "a.", ".b", "a-b.c", ""] {
            let err = QualifiedName::new("analytics", bad).unwrap_err();
            // The whole value is shown, not only the part that is wrong.
            assert_eq!(err.value, bad);
        }
    }
}
