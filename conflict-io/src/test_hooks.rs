//! Test-only fault injection, compiled in only with the `test-hooks` feature (which the CLI's
//! test build enables), so that a production binary cannot be slowed by its environment.
//!
//! `CONFLICTS_TEST_PAUSE_IN_WRITE=<ms>`: every batch write sleeps that long inside its
//! transaction, after its rows are written and before its ledger entry and commit, so that a
//! test can kill or signal the process at a moment when a batch is half-written.

/// Environment variable read (once) by [`pause_in_write`].
#[cfg(feature = "test-hooks")]
pub const PAUSE_IN_WRITE: &str = "CONFLICTS_TEST_PAUSE_IN_WRITE";

/// Sleeps as `CONFLICTS_TEST_PAUSE_IN_WRITE` asks; an unset or unparsable value means no pause.
#[cfg(feature = "test-hooks")]
#[cfg_attr(not(feature = "postgres"), allow(dead_code))] // called by the PostgreSQL writer
pub(crate) fn pause_in_write() {
    static PAUSE: std::sync::OnceLock<Option<std::time::Duration>> = std::sync::OnceLock::new();
    let pause = PAUSE.get_or_init(|| {
        std::env::var(PAUSE_IN_WRITE)
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(std::time::Duration::from_millis)
    });
    if let Some(d) = pause {
        std::thread::sleep(*d);
    }
}

/// Without the `test-hooks` feature: nothing.
#[cfg(not(feature = "test-hooks"))]
#[cfg_attr(not(feature = "postgres"), allow(dead_code))] // called by the PostgreSQL writer
#[inline(always)]
pub(crate) fn pause_in_write() {}
