//! [`ParentProcess`] and [`parent_process`]: Python's `multiprocessing.parent_process()`.

use std::os::fd::{AsFd, OwnedFd};
use std::sync::Mutex;
use std::time::Duration;

use crate::error::Error;
use crate::identity;
use crate::sys;

/// The process that started this one, as Python's `parent_process()` describes it: its name and
/// pid, whether it still runs, and a way to wait for it to end.
///
/// "Started" means the process whose `Process::start` made this one, whichever start method it
/// used (a fork server's child names the program that asked for it, not the server). The
/// parent is found by its pid on the first call to [`is_alive`](Self::is_alive) or a `join` in
/// this process (a pidfd names it from then on): ask early if the parent may end soon.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ParentProcess {
    /// The parent's name (`MainProcess`, `Process-1`, …).
    pub name: String,
    /// The parent's pid.
    pub pid: u32,
}

/// A pidfd for the parent, opened on first use in this process (a fresh child asks once).
static PIDFD: Mutex<Option<(u32, Option<OwnedFd>)>> = Mutex::new(None);

/// In a freshly started child: the pidfd belongs to the previous parent.
pub(crate) fn forget() {
    *PIDFD.lock().unwrap_or_else(|p| p.into_inner()) = None;
}

/// The parent, if this process was started by `multiproc-process` (Python's
/// `parent_process()`); `None` in the main process.
///
/// ```
/// use multiproc_process::{parent_process, spawn};
/// assert!(parent_process().is_none());
/// fn parents_pid(_: ()) -> Option<u32> {
///     parent_process().map(|p| p.pid)
/// }
/// assert_eq!(spawn(parents_pid, ())?.join()?, Some(std::process::id()));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn parent_process() -> Option<ParentProcess> {
    identity::me()
        .parent
        .map(|(name, pid)| ParentProcess { name, pid })
}

impl ParentProcess {
    /// A pidfd for the parent (opened once per process). `None` when it cannot be opened (the
    /// parent is gone, or the kernel has no pidfds).
    fn with_pidfd<T>(&self, f: impl FnOnce(Option<&OwnedFd>) -> T) -> T {
        let mut g = PIDFD.lock().unwrap_or_else(|p| p.into_inner());
        if g.as_ref().is_none_or(|(pid, _)| *pid != self.pid) {
            *g = Some((self.pid, sys::pidfd_open(self.pid).ok()));
        }
        f(g.as_ref().and_then(|(_, fd)| fd.as_ref()))
    }

    /// Whether the parent still runs (Python's `is_alive()`).
    pub fn is_alive(&self) -> bool {
        self.with_pidfd(|fd| {
            fd.is_some_and(|fd| {
                matches!(
                    sys::poll_readable(fd.as_fd(), Some(Duration::ZERO)),
                    Ok(false)
                )
            })
        })
    }

    /// Waits until the parent ends (Python's `join()`).
    ///
    /// # Errors
    /// [`Error::Io`] when waiting fails.
    pub fn join(&self) -> Result<(), Error> {
        self.wait(None).map(|_| ())
    }

    /// Waits at most `timeout` for the parent to end; whether it did.
    ///
    /// # Errors
    /// [`Error::Io`] when waiting fails.
    pub fn join_timeout(&self, timeout: Duration) -> Result<bool, Error> {
        self.wait(Some(timeout))
    }

    fn wait(&self, timeout: Option<Duration>) -> Result<bool, Error> {
        let fd = self.with_pidfd(|fd| fd.map(multiproc_core::fd::dup));
        match fd {
            // Gone already (or no pidfds): it has ended as far as anyone can wait for it.
            None => Ok(true),
            Some(fd) => Ok(sys::poll_readable(fd?.as_fd(), timeout)?),
        }
    }
}
