//! The children this process started: [`active_children`], and joining the non-daemon ones
//! when the process exits ([`ChildrenAtExit`]), as Python does.

use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, Once};
use std::time::Duration;

use crate::method::StartMethod;
use crate::sys;

/// What the registry knows about one started child.
pub(crate) struct ChildRecord {
    pub name: String,
    pub pid: u32,
    pub daemon: bool,
    pub method: StartMethod,
    /// A pidfd of our own (readable once the child has ended; never used to reap).
    pidfd: OwnedFd,
}

impl ChildRecord {
    fn ended(&self) -> bool {
        !matches!(
            sys::poll_readable(self.pidfd.as_fd(), Some(Duration::ZERO)),
            Ok(false)
        )
    }
}

static CHILDREN: Mutex<Vec<Arc<ChildRecord>>> = Mutex::new(Vec::new());

/// Records a child that just started (`pidfd` is duplicated). Called from `Process::start`.
pub(crate) fn register(
    name: &str,
    pid: u32,
    daemon: bool,
    method: StartMethod,
    pidfd: &OwnedFd,
) -> std::io::Result<()> {
    let rec = Arc::new(ChildRecord {
        name: name.to_string(),
        pid,
        daemon,
        method,
        pidfd: multiproc_core::fd::dup(pidfd)?,
    });
    install_exit_hook();
    let mut g = CHILDREN.lock().unwrap_or_else(|p| p.into_inner());
    g.retain(|c| !c.ended());
    g.push(rec);
    Ok(())
}

/// In a freshly forked child: the parent's children are not ours.
pub(crate) fn forget_in_child() {
    CHILDREN.lock().unwrap_or_else(|p| p.into_inner()).clear();
}

/// A child that still runs, as [`active_children`] reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ActiveChild {
    /// Its name (`Process-1`, …).
    pub name: String,
    /// Its pid.
    pub pid: u32,
    /// Whether it is a daemon.
    pub daemon: bool,
    /// How it was started.
    pub start_method: StartMethod,
}

/// The children this process started that still run (Python's `active_children()`), oldest
/// first. As in Python, asking reaps the children that ended after their `Process` handle was
/// dropped.
///
/// ```
/// use multiproc_process::{Process, active_children};
/// fn nap(ms: u64) { std::thread::sleep(std::time::Duration::from_millis(ms)) }
/// let p = Process::new(nap, 300);
/// p.start()?;
/// assert!(active_children().iter().any(|c| Some(c.pid) == p.pid()));
/// p.join()?;
/// assert!(active_children().iter().all(|c| Some(c.pid) != p.pid()));
/// # Ok::<(), multiproc_process::Error>(())
/// ```
pub fn active_children() -> Vec<ActiveChild> {
    crate::process::reap_detached();
    let mut g = CHILDREN.lock().unwrap_or_else(|p| p.into_inner());
    g.retain(|c| !c.ended());
    g.iter()
        .map(|c| ActiveChild {
            name: c.name.clone(),
            pid: c.pid,
            daemon: c.daemon,
            start_method: c.method,
        })
        .collect()
}

/// What happens to this process's non-daemon children when it exits normally (returns from
/// `main` or calls `std::process::exit`).
///
/// Python joins them ([`Join`](Self::Join), the default here too): a program does not end
/// before the children it started and did not mark as daemons. [`Leave`](Self::Leave) lets them
/// run on (re-parented to init), as when the parent is killed. Daemon children are never
/// waited for: they die with their parent either way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ChildrenAtExit {
    /// Wait for every non-daemon child still running (Python's behaviour).
    #[default]
    Join,
    /// Exit at once; children run on.
    Leave,
}

static AT_EXIT: AtomicU8 = AtomicU8::new(0);

/// Sets what this process does with its non-daemon children when it exits (default:
/// [`ChildrenAtExit::Join`], as Python). It takes effect through an exit hook (`atexit`) that the
/// first [`Process::start`](crate::Process::start) installs, so it covers a return from `main`
/// and `std::process::exit`, not a death by signal or `_exit`.
///
/// ```
/// use multiproc_process::{ChildrenAtExit, set_children_at_exit};
/// // Let children outlive this program.
/// set_children_at_exit(ChildrenAtExit::Leave);
/// # set_children_at_exit(ChildrenAtExit::Join);
/// ```
pub fn set_children_at_exit(what: ChildrenAtExit) {
    AT_EXIT.store(what as u8, Ordering::Relaxed);
}

/// The current setting of [`set_children_at_exit`].
pub fn children_at_exit() -> ChildrenAtExit {
    match AT_EXIT.load(Ordering::Relaxed) {
        0 => ChildrenAtExit::Join,
        _ => ChildrenAtExit::Leave,
    }
}

/// Waits for every non-daemon child still running: what the exit hook does under
/// [`ChildrenAtExit::Join`], callable at any time.
pub fn join_children() {
    let waiting: Vec<Arc<ChildRecord>> = CHILDREN
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
        .filter(|c| !c.daemon)
        .cloned()
        .collect();
    for c in waiting {
        // Readable once it has ended; an error means there is nothing left to wait for.
        let _ = sys::poll_readable(c.pidfd.as_fd(), None);
    }
}

extern "C" fn at_exit() {
    // Only the process that installed the hook (a forked child inherits the registration, and
    // its children are its own: `forget_in_child` emptied the list).
    if children_at_exit() == ChildrenAtExit::Join {
        join_children();
    }
}

fn install_exit_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| sys::atexit(at_exit));
}
