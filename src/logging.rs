//! Python's `multiprocessing.log_to_stderr()` and `get_logger()`, over the `log` facade.

use std::io::Write;

use log::{LevelFilter, Log, Metadata, Record, SetLoggerError};

/// The prefix of the targets of every record the `multiproc` crates emit (their module paths:
/// `multiproc_core::tracker`, `multiproc_manager::server`, `multiproc_rpc::serve`, …).
pub const LOG_TARGET_PREFIX: &str = "multiproc";

/// A minimal logger: records of the `multiproc` crates, one line each on standard error, in
/// Python's format `[LEVEL/ProcessName] message`.
struct StderrLogger;

static STDERR_LOGGER: StderrLogger = StderrLogger;

impl Log for StderrLogger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.target().starts_with(LOG_TARGET_PREFIX) && metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let line = format!(
            "[{}/{}] {}\n",
            record.level(),
            process_name(),
            record.args()
        );
        // One write per record, so that lines of several processes do not interleave.
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
    }

    fn flush(&self) {
        let _ = std::io::stderr().flush();
    }
}

#[cfg(feature = "process")]
fn process_name() -> String {
    multiproc_process::current_process().name
}

#[cfg(not(feature = "process"))]
fn process_name() -> String {
    std::process::id().to_string()
}

/// Sends the records of the `multiproc` crates at `level` and above to standard error (Python's
/// `multiprocessing.log_to_stderr(level)`), as `[INFO/MainProcess] message` lines: a worker
/// that died and was replaced, a manager's clients coming and going, an XML-RPC request served,
/// the resource tracker started or out of reach.
///
/// It installs a minimal logger for the whole process, as Python's adds a handler, and only when
/// called: a library never installs one by itself. A program that already uses a `log` backend
/// (`env_logger`, `simple_logger`, `tracing-log`, …) does not call this; its backend receives
/// the same records, under targets that start with [`LOG_TARGET_PREFIX`] (for example
/// `RUST_LOG=multiproc=info` with `env_logger`).
///
/// A child process has a logger only if it installs one: a `fork` child inherits the parent's,
/// a `spawn` or `forkserver` child (a fresh run of the program that never reaches `main`) calls
/// this in its target, or in a pool's initializer.
///
/// ```
/// use multiproc::log::{Level, LevelFilter, log_enabled};
///
/// multiproc::log_to_stderr(LevelFilter::Info)?;
/// assert!(log_enabled!(target: "multiproc_manager::server", Level::Info));
/// assert!(!log_enabled!(target: "other_crate", Level::Info));
/// # Ok::<(), multiproc::log::SetLoggerError>(())
/// ```
///
/// # Errors
/// [`SetLoggerError`] when the process has a logger already (this one, or another backend).
pub fn log_to_stderr(level: LevelFilter) -> Result<(), SetLoggerError> {
    log::set_logger(&STDERR_LOGGER)?;
    log::set_max_level(level);
    Ok(())
}

/// The logger the records go to (Python's `multiprocessing.get_logger()`): the one
/// [`log_to_stderr`] installed, another backend's, or `log`'s no-op logger when none is.
pub fn get_logger() -> &'static dyn Log {
    log::logger()
}
