//! The runner of single-threaded test binaries (`harness = false`): the `fork` start method
//! needs a process with one thread, which libtest (a thread per test, and its own main thread)
//! never is. A test binary lists its tests and hands them to [`run_single_threaded`]:
//!
//! ```no_run
//! fn exit_codes() { /* … */ }
//! fn values_come_back() { /* … */ }
//!
//! fn main() {
//!     multiproc_testkit::run_single_threaded(&[
//!         ("exit_codes", exit_codes),
//!         ("values_come_back", values_come_back),
//!     ]);
//! }
//! ```

use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// One test: its name and its function.
pub type Test = (&'static str, fn());

/// How long a single-threaded test binary may run in all before its watchdog ends it.
pub const WATCHDOG: Duration = Duration::from_secs(120);

/// The name of the test running, for the watchdog's message (a pointer and a length, so that a
/// signal handler can read them).
static CURRENT: AtomicPtr<u8> = AtomicPtr::new(std::ptr::null_mut());
static CURRENT_LEN: AtomicUsize = AtomicUsize::new(0);

fn set_current(name: &'static str) {
    CURRENT_LEN.store(0, Ordering::SeqCst);
    CURRENT.store(name.as_ptr().cast_mut(), Ordering::SeqCst);
    CURRENT_LEN.store(name.len(), Ordering::SeqCst);
}

/// SIGALRM: says which test hung, with `write(2)` only (async-signal-safe), and ends the process
/// with status 101, as a failed libtest run does.
extern "C" fn on_alarm(_: libc::c_int) {
    let say = |b: &[u8]| {
        // SAFETY: writing a valid buffer to stderr.
        unsafe { libc::write(2, b.as_ptr().cast(), b.len()) };
    };
    say(b"\nwatchdog: the test binary ran out of time; test running: ");
    let (p, n) = (
        CURRENT.load(Ordering::SeqCst),
        CURRENT_LEN.load(Ordering::SeqCst),
    );
    if !p.is_null() {
        // SAFETY: `p` and `n` describe a `&'static str` set by `set_current` (the length is
        // stored after the pointer, and zeroed before it changes).
        say(unsafe { std::slice::from_raw_parts(p, n) });
    }
    say(b"\n");
    // SAFETY: _exit is async-signal-safe.
    unsafe { libc::_exit(101) };
}

/// Arms the watchdog: SIGALRM in `limit` (whole seconds, at least one), handled by [`on_alarm`].
fn arm_watchdog(limit: Duration) {
    // SAFETY: installs a handler that only calls async-signal-safe functions; alarm(2) only
    // arms a timer.
    unsafe {
        libc::signal(
            libc::SIGALRM,
            on_alarm as extern "C" fn(libc::c_int) as libc::sighandler_t,
        );
        libc::alarm(limit.as_secs().max(1) as libc::c_uint);
    }
}

/// The threads of this process.
fn threads() -> usize {
    std::fs::read_dir("/proc/self/task").map_or(1, |rd| rd.count())
}

/// Which tests the command line selects: libtest's filters (substrings, or whole names with
/// `--exact`) and `--skip NAME`; other libtest options are accepted and ignored.
struct Selection {
    filters: Vec<String>,
    skips: Vec<String>,
    exact: bool,
    list: bool,
}

impl Selection {
    fn from_args(args: impl Iterator<Item = String>) -> Selection {
        let mut s = Selection {
            filters: Vec::new(),
            skips: Vec::new(),
            exact: false,
            list: false,
        };
        let mut args = args.peekable();
        while let Some(a) = args.next() {
            match a.as_str() {
                "--exact" => s.exact = true,
                "--list" => s.list = true,
                "--skip" => s.skips.extend(args.next()),
                // Options of libtest that take a value.
                "--test-threads" | "--color" | "--format" | "--logfile" | "-Z" => {
                    args.next();
                }
                _ if a.starts_with('-') => {}
                _ => s.filters.push(a),
            }
        }
        s
    }

    fn selects(&self, name: &str) -> bool {
        let hit = |f: &String| {
            if self.exact {
                name == f
            } else {
                name.contains(f.as_str())
            }
        };
        (self.filters.is_empty() || self.filters.iter().any(hit))
            && !self.skips.iter().any(|s| name.contains(s.as_str()))
    }
}

/// Runs `tests` one after the other on this process's only thread, under a watchdog that ends
/// the process (naming the test) if they have not all finished within [`WATCHDOG`]. Takes
/// libtest's filters from the command line, prints libtest's lines, and exits with status 101
/// if a test panicked. Panics if the process has more than one thread when it is called.
///
/// A panic that escapes a test in a forked child (a child that returned into the runner) ends
/// that child with status 101 instead of running the other tests in it.
pub fn run_single_threaded(tests: &[Test]) {
    run_single_threaded_within(tests, WATCHDOG);
}

/// [`run_single_threaded`] with a watchdog of `limit` (whole seconds) instead of [`WATCHDOG`].
pub fn run_single_threaded_within(tests: &[Test], limit: Duration) {
    let sel = Selection::from_args(std::env::args().skip(1));
    if sel.list {
        for (name, _) in tests.iter().filter(|(n, _)| sel.selects(n)) {
            println!("{name}: test");
        }
        return;
    }
    assert_eq!(
        threads(),
        1,
        "a single-threaded test binary must start with one thread (is `harness = false` set?)"
    );
    arm_watchdog(limit);
    let runner = std::process::id();
    let chosen: Vec<&Test> = tests.iter().filter(|(n, _)| sel.selects(n)).collect();
    println!("\nrunning {} tests", chosen.len());
    let start = Instant::now();
    let mut failed = Vec::new();
    for (name, test) in &chosen {
        set_current(name);
        let outcome = std::panic::catch_unwind(test);
        if std::process::id() != runner {
            // A forked child unwound out of its test: it must not go on with the others.
            // SAFETY: ends this child at once, without running the parent's exit handlers.
            unsafe { libc::_exit(if outcome.is_ok() { 0 } else { 101 }) };
        }
        match outcome {
            Ok(()) => println!("test {name} ... ok"),
            Err(_) => {
                println!("test {name} ... FAILED");
                failed.push(*name);
            }
        }
    }
    // SAFETY: alarm(0) only disarms the timer.
    unsafe { libc::alarm(0) };
    let verdict = if failed.is_empty() { "ok" } else { "FAILED" };
    if !failed.is_empty() {
        println!("\nfailures:");
        for name in &failed {
            println!("    {name}");
        }
    }
    println!(
        "\ntest result: {verdict}. {} passed; {} failed; 0 ignored; 0 measured; {} filtered out; finished in {:.2}s\n",
        chosen.len() - failed.len(),
        failed.len(),
        tests.len() - chosen.len(),
        start.elapsed().as_secs_f64()
    );
    if !failed.is_empty() {
        std::process::exit(101);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sel(args: &[&str]) -> Selection {
        Selection::from_args(args.iter().map(|s| s.to_string()))
    }

    #[test]
    fn filters_like_libtest() {
        let all = sel(&["--nocapture", "--test-threads", "1", "-q"]);
        assert!(all.selects("exit_codes") && all.selects("anything"));
        let some = sel(&["exit"]);
        assert!(some.selects("exit_codes") && !some.selects("values_come_back"));
        let exact = sel(&["exit", "--exact"]);
        assert!(!exact.selects("exit_codes") && exact.selects("exit"));
        let skip = sel(&["--skip", "values"]);
        assert!(skip.selects("exit_codes") && !skip.selects("values_come_back"));
        assert!(sel(&["--list"]).list);
    }
}
