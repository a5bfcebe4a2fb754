//! The fork server's log records, captured by a logger this test installs: starting it is
//! logged with its pid; killing it is logged as lost when the next child needs it, and another
//! is started.
//!
//! One test in its own binary: the logger is the process's one global logger, and the fork
//! server is one per process.

use std::sync::Mutex;
use std::time::Duration;

use log::{Level, LevelFilter, Log, Metadata, Record};
use multiproc_process::{Process, StartMethod};
use multiproc_testkit::pid_gone_within;

const LIMIT: Duration = Duration::from_secs(20);

/// Keeps every record: (level, target, message).
struct Capture(Mutex<Vec<(Level, String, String)>>);

impl Log for Capture {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn log(&self, r: &Record<'_>) {
        let mut v = self.0.lock().unwrap_or_else(|p| p.into_inner());
        v.push((r.level(), r.target().to_owned(), r.args().to_string()));
    }
    fn flush(&self) {}
}

static CAPTURE: Capture = Capture(Mutex::new(Vec::new()));

/// The messages of the fork server's records at `level`.
fn records(level: Level) -> Vec<String> {
    let v = CAPTURE.0.lock().unwrap_or_else(|p| p.into_inner());
    v.iter()
        .filter(|(l, t, _)| *l == level && t == "multiproc_process::forkserver")
        .map(|(_, _, m)| m.clone())
        .collect()
}

/// The pids of the "started the fork server (pid N)" records, in order.
fn started_pids() -> Vec<u32> {
    records(Level::Info)
        .iter()
        .filter_map(|m| m.strip_prefix("started the fork server (pid "))
        .map(|rest| rest.trim_end_matches(')').parse().expect("a pid"))
        .collect()
}

fn double(x: u32) -> u32 {
    2 * x
}

/// Runs one child through the fork server and checks its exit code.
fn run_one() {
    let p = Process::new(double, 21).with_start_method(StartMethod::Forkserver);
    p.start().unwrap();
    assert!(p.join_timeout(LIMIT).unwrap(), "child still running");
    assert_eq!(p.exitcode(), Some(0));
}

fn ppid_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // After the command name in parentheses: state, then the parent's pid.
    stat.rsplit_once(')')?
        .1
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

#[test]
fn the_fork_server_is_logged_when_started_and_when_lost() {
    log::set_logger(&CAPTURE).unwrap();
    log::set_max_level(LevelFilter::Debug);

    run_one();
    let first = started_pids();
    assert_eq!(first.len(), 1, "records: {:?}", CAPTURE.0.lock().unwrap());
    let server = first[0];
    assert_eq!(
        ppid_of(server),
        Some(std::process::id()),
        "not our fork server"
    );

    // A second child reuses the server: no new record.
    run_one();
    assert_eq!(started_pids(), first);

    // SAFETY: kill has no memory-safety preconditions; `server` is our child, not yet reaped
    // (the fork server's client reaps it only once it finds it gone).
    assert_eq!(unsafe { libc::kill(server as i32, libc::SIGKILL) }, 0);
    assert!(
        pid_gone_within(server, LIMIT),
        "the fork server survived SIGKILL"
    );

    run_one();
    let lost = records(Level::Warn);
    assert!(
        lost.iter()
            .any(|m| m.starts_with(&format!("lost the fork server (pid {server})"))),
        "no record of the lost server: {lost:?}"
    );
    let pids = started_pids();
    assert_eq!(pids.len(), 2, "no record of the new server: {pids:?}");
    assert_ne!(pids[1], server);
}
