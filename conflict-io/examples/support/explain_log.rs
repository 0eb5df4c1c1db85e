//! Evidence of where a benchmarked write spends its time on the server: while switched on,
//! every statement of every session is logged with its duration (`log_min_duration_statement
//! = 0`, which also covers COPY and CREATE) and every planned statement with its executed plan
//! (`auto_explain` with ANALYZE and BUFFERS). The log lines written meanwhile are then copied
//! out of the server log into a text file.
//!
//! For the throwaway cluster of `scripts/with-pg.sh` only: it changes server settings with
//! `ALTER SYSTEM` (superuser) and finds the server log next to the data directory, where
//! that script puts it.

use std::time::Duration;

/// A switched-on server log capture; [`Capture::finish`] switches it off and saves the lines.
pub struct Capture {
    log: String,
    start: i64,
}

/// Loads `auto_explain` into every session started from now on, switched off: call before the
/// store's pool connects, since a library in `session_preload_libraries` loads only at a
/// session's start.
pub fn preload(admin: &mut postgres::Client) -> Result<(), postgres::Error> {
    // LOAD first, so that ALTER SYSTEM knows the auto_explain settings.
    admin.batch_execute("LOAD 'auto_explain'")?;
    admin.batch_execute("ALTER SYSTEM SET session_preload_libraries = 'auto_explain'")?;
    admin.batch_execute("ALTER SYSTEM SET auto_explain.log_min_duration = -1")?;
    reload(admin)
}

/// Switches the capture on.
pub fn start(admin: &mut postgres::Client) -> Result<Capture, postgres::Error> {
    let log: String = admin
        .query_one(
            "SELECT current_setting('data_directory') || '/../server.log'",
            &[],
        )?
        .get(0);
    let start: i64 = admin
        .query_one("SELECT size FROM pg_stat_file($1)", &[&log])?
        .get(0);
    for setting in [
        "auto_explain.log_analyze = on",
        "auto_explain.log_buffers = on",
        "auto_explain.log_timing = on",
        "auto_explain.log_min_duration = 0",
        "log_min_duration_statement = 0",
    ] {
        admin.batch_execute(&format!("ALTER SYSTEM SET {setting}"))?;
    }
    reload(admin)?;
    Ok(Capture { log, start })
}

impl Capture {
    /// Switches the capture off and writes the log lines of the meantime to `out`.
    pub fn finish(
        self,
        admin: &mut postgres::Client,
        out: &str,
    ) -> Result<(), Box<dyn std::error::Error>> {
        admin.batch_execute("ALTER SYSTEM SET auto_explain.log_min_duration = -1")?;
        admin.batch_execute("ALTER SYSTEM RESET log_min_duration_statement")?;
        reload(admin)?;
        let end: i64 = admin
            .query_one("SELECT size FROM pg_stat_file($1)", &[&self.log])?
            .get(0);
        let text: String = admin
            .query_one(
                "SELECT pg_read_file($1, $2, $3)",
                &[&self.log, &self.start, &(end - self.start)],
            )?
            .get(0);
        std::fs::write(out, text)?;
        println!("server log with plans and durations written to {out}");
        Ok(())
    }
}

/// Applies changed settings; the sessions pick them up at their next command, which the short
/// wait makes sure has not already been read.
fn reload(admin: &mut postgres::Client) -> Result<(), postgres::Error> {
    admin.batch_execute("SELECT pg_reload_conf()")?;
    std::thread::sleep(Duration::from_millis(300));
    Ok(())
}
