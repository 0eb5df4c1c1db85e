//! How an error reaches the terminal: each cause once.
//!
//! `error: <what failed>: <cause>` on the first line, then one `caused by:` line for each
//! deeper cause that adds something. A cause whose text is already part of what was printed is
//! left out (a wrapper that shows its cause in its own message), and so is an empty one: an
//! error without a message must not print as `()` or a dangling `: `.

/// The text printed on stderr for `error` (no trailing newline).
pub fn render(error: &anyhow::Error) -> String {
    render_messages(error.chain().map(|e| e.to_string()))
}

fn render_messages(messages: impl IntoIterator<Item = String>) -> String {
    let mut shown: Vec<String> = Vec::new();
    for message in messages {
        let text = message.trim();
        if text.is_empty() || text == "()" || shown.iter().any(|s| s.contains(text)) {
            continue;
        }
        shown.push(text.to_string());
    }
    let mut lines = shown.into_iter();
    let mut out = format!(
        "error: {}",
        lines
            .next()
            .unwrap_or_else(|| "failed without a message".to_string())
    );
    if let Some(cause) = lines.next() {
        out.push_str(": ");
        out.push_str(&cause);
    }
    for cause in lines {
        out.push_str("\n  caused by: ");
        out.push_str(&cause);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render_strs(chain: &[&str]) -> String {
        render_messages(chain.iter().map(|s| s.to_string()))
    }

    #[test]
    fn what_failed_and_its_cause_share_the_first_line() {
        assert_eq!(
            render_strs(&["writing r.json", "Permission denied (os error 13)"]),
            "error: writing r.json: Permission denied (os error 13)"
        );
        assert_eq!(
            render_strs(&["nothing to resume"]),
            "error: nothing to resume"
        );
    }

    #[test]
    fn a_cause_already_shown_by_its_wrapper_is_not_repeated() {
        // The shape of the ODBC connect failure before its enums were fixed: every level
        // printed the whole cause again.
        let odbc = "Can't open lib '/nope.so' : file not found (SQLSTATE 01000)";
        let connect = format!("cannot connect to the analytics source (Driver=/nope.so): {odbc}");
        let job = format!("analytics source: {connect}");
        let shown = render_strs(&["the run failed", &job, &connect, odbc]);
        assert_eq!(shown, format!("error: the run failed: {job}"));
        assert_eq!(shown.matches("file not found").count(), 1);
    }

    #[test]
    fn deeper_causes_that_add_something_get_their_own_line() {
        assert_eq!(
            render_strs(&[
                "conflict database",
                "connect failed",
                "",
                "()",
                "tls: bad certificate"
            ]),
            "error: conflict database: connect failed\n  caused by: tls: bad certificate"
        );
    }

    #[test]
    fn an_error_without_any_message_still_says_something() {
        assert_eq!(render_strs(&["", "()"]), "error: failed without a message");
    }

    #[test]
    fn renders_a_real_anyhow_chain() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        let e = anyhow::Error::new(io)
            .context("reading conflicts.toml")
            .context("loading the configuration");
        assert_eq!(
            render(&e),
            "error: loading the configuration: reading conflicts.toml\n  caused by: no such file"
        );
    }
}
