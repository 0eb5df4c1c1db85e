//! The end-of-run summary printed on stderr.

use std::fmt::Write;
use std::path::Path;
use std::time::Duration;

use conflict_core::{DetectReport, DropReason, Window, Warnings, FLAG_NAMES};

pub struct DetectSummary<'a> {
    pub report: &'a DetectReport,
    pub window: &'a Window,
    pub out: &'a Path,
    pub elapsed: Duration,
}

impl DetectSummary<'_> {
    pub fn render(&self) -> String {
        let a = self.report.admit_stats();
        let p = &self.report.pairs;
        let mut s = String::new();
        let mut line = |k: &str, v: String| {
            let _ = writeln!(s, "  {k:<36} {v}");
        };
        line("window", format!("{} .. {}", self.window.from, self.window.to));
        line("visits read", a.visits_read.to_string());
        line("visits admitted", a.visits_admitted.to_string());
        let dropped: Vec<String> = DropReason::ALL
            .iter()
            .filter(|r| a.dropped(**r) > 0)
            .map(|r| format!("{} {}", r.as_str(), a.dropped(*r)))
            .collect();
        line(
            "dropped",
            if dropped.is_empty() {
                "none".into()
            } else {
                dropped.join(", ")
            },
        );
        line("keys (ssn, date)", p.keys.to_string());
        line("candidates", p.candidates.to_string());
        line("pairs detected", p.pairs_detected.to_string());
        line("dropped cross-state", p.pairs_dropped_cross_state.to_string());
        for (name, n) in FLAG_NAMES.iter().zip(p.per_flag) {
            line(&format!("  {name}"), n.to_string());
        }
        line("warnings", render_warnings(self.report.warnings()));
        line("output", self.out.display().to_string());
        line("elapsed", format!("{:.3} s", self.elapsed.as_secs_f64()));
        format!("conflicts detect: {} pairs\n{s}", p.pairs_detected)
    }

    pub fn print(&self) {
        eprint!("{}", self.render());
    }
}

/// "gps_unparsable 2 (e.g. e17-c, e17-d), …" or "none".
pub fn render_warnings(w: &Warnings) -> String {
    if w.is_empty() {
        return "none".into();
    }
    w.iter()
        .map(|(kind, n, ex)| {
            if ex.is_empty() {
                format!("{kind} {n}")
            } else {
                format!("{kind} {n} (e.g. {})", ex.join(", "))
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}
