//! Splitting an ODBC connection string into its `key=value` attributes.
//!
//! A value in braces (`PWD={a;b}`, `}}` for a literal `}`) may hold `;`, so the string cannot
//! simply be split at every `;`: that would show the part of a password after its `;` as an
//! attribute of its own, unredacted.

/// The attributes of `s` in order, blank ones skipped: (key, value) with both as written
/// (untrimmed; a braced value keeps its braces); `None` for a part without `=`.
pub(super) fn attributes(s: &str) -> Vec<(&str, Option<&str>)> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i <= b.len() {
        let start = i;
        let mut eq = None;
        while i < b.len() && b[i] != b';' {
            if b[i] == b'=' && eq.is_none() {
                eq = Some(i);
                let mut j = i + 1;
                while j < b.len() && b[j] == b' ' {
                    j += 1;
                }
                if j < b.len() && b[j] == b'{' {
                    i = end_of_braced(b, j);
                    continue;
                }
            }
            i += 1;
        }
        let part = &s[start..i];
        if !part.trim().is_empty() {
            out.push(match eq {
                Some(e) => (&s[start..e], Some(&s[e + 1..i])),
                None => (part, None),
            });
        }
        i += 1;
    }
    out
}

/// Index just past the `}` closing the braced value opening at `open` (or the end of the
/// string when it is never closed).
fn end_of_braced(b: &[u8], open: usize) -> usize {
    let mut j = open + 1;
    while j < b.len() {
        if b[j] == b'}' {
            if b.get(j + 1) == Some(&b'}') {
                j += 2;
                continue;
            }
            return j + 1;
        }
        j += 1;
    }
    b.len()
}

/// The value without its braces and with `}}` unescaped, as the driver sees it.
pub(super) fn unbraced(v: &str) -> String {
    let v = v.trim();
    match v.strip_prefix('{').and_then(|i| i.strip_suffix('}')) {
        Some(inner) => inner.replace("}}", "}"),
        None => v.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn braced_values_keep_their_semicolons() {
        assert_eq!(
            attributes("Driver={/a b/x.so};PWD={p;w}}d};;UID=u; ;Flag"),
            vec![
                ("Driver", Some("{/a b/x.so}")),
                ("PWD", Some("{p;w}}d}")),
                ("UID", Some("u")),
                ("Flag", None),
            ]
        );
        assert_eq!(unbraced("{p;w}}d}"), "p;w}d");
        assert_eq!(unbraced(" plain "), "plain");
    }

    #[test]
    fn an_unclosed_brace_runs_to_the_end() {
        assert_eq!(
            attributes("PWD={abc;UID=u"),
            vec![("PWD", Some("{abc;UID=u"))]
        );
        assert!(attributes("").is_empty());
        assert!(attributes(" ; ;").is_empty());
    }
}
