//! The end-of-run summary printed on stderr.

use std::fmt::Write;
use std::path::Path;
use std::time::Duration;

use conflict_core::{DetectReport, DropReason, Warnings, Window, FLAG_NAMES};

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
        line(
            "window",
            format!("{} .. {}", self.window.from, self.window.to),
        );
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
        line(
            "dropped cross-state",
            p.pairs_dropped_cross_state.to_string(),
        );
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

/// The end-of-run table of `conflicts run` (docs/lifecycle.md §11).
pub fn render_run(r: &conflict_io::run::RunReport) -> String {
    let mut s = String::new();
    let mut line = |k: &str, v: String| {
        let _ = writeln!(s, "  {k:<26} {v}");
    };
    line(
        "run",
        format!(
            "{} ({}, profile {}, {}{})",
            r.run_id,
            r.mode,
            r.profile,
            r.status,
            if r.dry_run {
                ", dry run: nothing written"
            } else {
                ""
            }
        ),
    );
    line(
        "as of / window",
        format!("{} / {} .. {}", r.as_of, r.window[0], r.window[1]),
    );
    if let Some(since) = &r.since {
        line("since", since.clone());
    }
    line("run timestamp", r.run_ts.clone());
    line("visits read", r.input.visits_read.to_string());
    line("visits admitted", r.input.visits_admitted.to_string());
    let dropped: Vec<String> = r
        .input
        .dropped
        .iter()
        .map(|(k, n)| format!("{k} {n}"))
        .collect();
    line(
        "dropped",
        if dropped.is_empty() {
            "none".into()
        } else {
            dropped.join(", ")
        },
    );
    line("keys", r.input.keys.to_string());
    line("candidates", r.detection.candidates.to_string());
    line("pairs detected", r.detection.pairs_detected.to_string());
    line(
        "dropped cross-state",
        r.detection.pairs_dropped_cross_state.to_string(),
    );
    let w = &r.writes;
    line("updated", w.updated.to_string());
    line("unchanged", w.unchanged.to_string());
    line("adopted", w.adopted.to_string());
    line("inserted", w.inserted.to_string());
    line(
        "not inserted (switch)",
        w.not_inserted_by_switch.to_string(),
    );
    line("resolved (stale)", w.resolved.to_string());
    line("conflicts created", w.conflicts_created.to_string());
    let warnings: Vec<String> = r
        .warnings
        .iter()
        .map(|(k, n)| match r.warning_examples.get(k) {
            Some(ex) if !ex.is_empty() => format!("{k} {n} (e.g. {})", ex.join(", ")),
            _ => format!("{k} {n}"),
        })
        .collect();
    line(
        "warnings",
        if warnings.is_empty() {
            "none".into()
        } else {
            warnings.join(", ")
        },
    );
    let t = &r.timing;
    line(
        "time",
        format!(
            "total {:.2} s: preflight {:.2}, reference {:.2}, scope {:.2}, fetch {:.2}, \
             detect {:.2}, write {:.2}, in-service/PTO {:.2}, finish {:.2} \
             (fetch/detect/write summed over {} workers)",
            t.total,
            t.preflight,
            t.load_reference,
            t.scope,
            t.read_visits,
            t.detect,
            t.apply,
            t.inservice,
            t.finish,
            r.workers
        ),
    );
    line("batches", t.batches.to_string());
    // What the run cost each side, so the warehouse's share is visible next to the times.
    let io = &r.io;
    line(
        "warehouse",
        format!(
            "{} statements, {} rows read",
            io.warehouse_statements, io.warehouse_rows_read
        ),
    );
    line(
        "conflict database",
        format!(
            "{} rows read, {} rows written",
            io.store_rows_read, io.store_rows_written
        ),
    );
    format!("conflicts run: {}\n{s}", r.status)
}
