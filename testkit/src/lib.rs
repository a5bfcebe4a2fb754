//! Helpers for tests that cross process boundaries, shared by every `multiproc` crate.
//!
//! The pattern (STYLE.md, "test across real processes by re-running the test binary"): a test
//! starts `current_exe()` with its own name, `--exact`, and a role in [`ROLE_ENV`]; the same
//! `#[test]` plays the child when [`role`] says so. Every wait has a timeout
//! ([`wait_timeout`], [`ChildGuard`]), and named resources get [`unique_name`]s.
//!
//! Test binaries that must stay single-threaded (the `fork` start method) set `harness = false`
//! and run their tests with [`run_single_threaded`], which has a watchdog of its own.

mod single_threaded;

pub use single_threaded::{Test, WATCHDOG, run_single_threaded, run_single_threaded_within};

use std::os::fd::AsFd;
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

/// The environment variable that gives a re-run test binary its role.
pub const ROLE_ENV: &str = "IPC_TEST_ROLE";

/// The role this process plays, if it is a child started by [`child_command`].
pub fn role() -> Option<String> {
    std::env::var(ROLE_ENV).ok()
}

/// A command that re-runs this test binary for the one test `test`, with `role` set.
pub fn child_command(test: &str, role: &str) -> Command {
    let mut cmd = Command::new(std::env::current_exe().expect("current_exe"));
    cmd.args([test, "--exact", "--nocapture", "--test-threads=1", "-q"])
        .env(ROLE_ENV, role);
    cmd
}

/// Waits for `child` for at most `limit`; kills it and panics if it is still running then.
pub fn wait_timeout(child: &mut Child, limit: Duration) -> ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("child {} still running after {limit:?}", child.id());
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// A child process that is killed and reaped when the guard drops (also on panic), so a
/// failing test leaves no process behind.
pub struct ChildGuard(pub Child);

impl ChildGuard {
    /// Waits for the child for at most `limit` (see [`wait_timeout`]).
    pub fn wait(&mut self, limit: Duration) -> ExitStatus {
        wait_timeout(&mut self.0, limit)
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
        }
        let _ = self.0.wait();
    }
}

/// A name unique to this process and call, for named resources (shm names, fifo paths).
pub fn unique_name(tag: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "ipc-test-{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Whether the process `pid` (not necessarily our child) is gone within `limit`. Watches it
/// through a pidfd, so a recycled pid cannot fool it.
pub fn pid_gone_within(pid: u32, limit: Duration) -> bool {
    let Some(p) = rustix::process::Pid::from_raw(pid as i32) else {
        return true;
    };
    let fd = match rustix::process::pidfd_open(p, rustix::process::PidfdFlags::empty()) {
        Ok(fd) => fd,
        Err(_) => return true, // already gone
    };
    let ts = rustix::time::Timespec {
        tv_sec: limit.as_secs() as i64,
        tv_nsec: i64::from(limit.subsec_nanos()),
    };
    let borrowed = fd.as_fd();
    let mut fds = [rustix::event::PollFd::new(
        &borrowed,
        rustix::event::PollFlags::IN,
    )];
    matches!(rustix::event::poll(&mut fds, Some(&ts)), Ok(n) if n > 0)
}

/// Whether `cond` holds within `limit`, checked every 5 ms (for a state another process
/// changes, such as a name that must disappear).
pub fn eventually(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while !cond() {
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    true
}

/// The rest of the first line of `child`'s piped standard output that starts with `prefix`,
/// waiting at most `limit`; panics if none comes. The output is read to its end on a thread
/// of its own, so the child never writes to a closed pipe.
pub fn child_line(child: &mut Child, prefix: &'static str, limit: Duration) -> String {
    use std::io::BufRead;
    let out = child.stdout.take().expect("the child's stdout is piped");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            if let Some(rest) = line.strip_prefix(prefix) {
                let _ = tx.send(rest.to_string());
            }
        }
    });
    rx.recv_timeout(limit)
        .unwrap_or_else(|_| panic!("no {prefix:?} line from the child within {limit:?}"))
}

/// The tokio runtimes the async tests of the crates run on (feature `tokio`).
#[cfg(feature = "tokio")]
pub mod runtime {
    use std::future::Future;

    /// A current-thread runtime with every driver (I/O, time) enabled.
    pub fn current_thread() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a current-thread runtime")
    }

    /// A multi-thread runtime of two workers with every driver enabled.
    pub fn multi_thread() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a multi-thread runtime")
    }

    /// Runs `test` on a current-thread, then on a multi-thread runtime.
    pub fn on_both<F: Future<Output = ()>>(test: impl Fn() -> F) {
        current_thread().block_on(test());
        multi_thread().block_on(test());
    }
}
