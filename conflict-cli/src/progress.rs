//! Progress of a run: a bar on a terminal, plain log lines otherwise.

use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::Instant;

use conflict_io::run::{Observer, RunInfo, WriteCounts};
use indicatif::{ProgressBar, ProgressStyle};

pub struct Progress {
    bar: Option<ProgressBar>,
    started: Instant,
    rows: Mutex<u64>,
}

impl Progress {
    pub fn new() -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new(0);
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} {msg:12} [{bar:30}] {pos}/{len} batches  {per_sec} {eta} left",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            bar
        });
        Progress {
            bar,
            started: Instant::now(),
            rows: Mutex::new(0),
        }
    }

    fn log(&self, line: String) {
        match &self.bar {
            Some(bar) => bar.println(line),
            None => eprintln!("[{:>8.1}s] {line}", self.started.elapsed().as_secs_f64()),
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

impl Observer for Progress {
    fn phase(&self, name: &str) {
        match &self.bar {
            Some(bar) => bar.set_message(name.to_string()),
            None => self.log(format!("step {name}")),
        }
    }

    fn planned(&self, run: &RunInfo, total: u64, done: u64) {
        match &self.bar {
            Some(bar) => {
                bar.set_length(total);
                bar.set_position(done);
                bar.set_message("batches");
            }
            None => self.log(format!(
                "run {} ({}): {done}/{total} batches done, window {} .. {}",
                run.run_id,
                run.mode.as_str(),
                run.window.from,
                run.window.to
            )),
        }
    }

    fn batch_done(&self, key: &str, visits: u64, c: &WriteCounts) {
        let total_rows = {
            let mut r = self.rows.lock().unwrap_or_else(|e| e.into_inner());
            *r += visits;
            *r
        };
        let rate = total_rows as f64 / self.started.elapsed().as_secs_f64().max(1e-9);
        match &self.bar {
            Some(bar) => bar.inc(1),
            None => self.log(format!(
                "batch {key}: {visits} visits, {} updated, {} unchanged, {} inserted, {} resolved \
                 ({rate:.0} visits/s overall)",
                c.updated, c.unchanged, c.inserted, c.resolved
            )),
        }
    }

    fn batch_failed(&self, key: &str, error: &str) {
        self.log(format!("batch {key} failed: {error}"));
    }

    fn retrying(&self, key: &str, attempt: u32, error: &str) {
        self.log(format!(
            "batch {key}: transient failure, retry {attempt}: {error}"
        ));
    }

    fn claim_lost(&self, key: &str, error: &str) {
        self.log(format!("batch {key} left to another process: {error}"));
    }
}
