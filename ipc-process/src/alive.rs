//! The "parent alive" pipe: this process keeps its write end open for as long as it lives; each
//! daemon child gets the read end and kills itself when reading it gives end of file — which
//! happens however the parent ends, SIGKILL included, and whichever thread started the child
//! (unlike `PR_SET_PDEATHSIG`, which fires when the *thread* that forked exits). If the parent
//! is already gone when the child starts watching, the read returns end of file at once: there
//! is no window to miss.

use std::os::fd::{AsFd, OwnedFd};
use std::sync::Mutex;

use multiproc_core::fd;

struct Alive {
    pid: u32,
    r: OwnedFd,
    /// Held open for as long as this process lives; never read.
    _w: OwnedFd,
}

static ALIVE: Mutex<Option<Alive>> = Mutex::new(None);

fn with<T>(f: impl FnOnce(&Alive) -> T) -> std::io::Result<T> {
    let mut g = ALIVE.lock().unwrap_or_else(|p| p.into_inner());
    let me = crate::sys::getpid();
    if g.as_ref().is_some_and(|a| a.pid != me) {
        // Inherited through fork from our parent: not ours.
        *g = None;
    }
    if g.is_none() {
        let (r, w) = fd::pipe()?;
        *g = Some(Alive { pid: me, r, _w: w });
    }
    Ok(f(g.as_ref().expect("set above")))
}

/// A new descriptor for the read end, to give to a daemon child.
pub(crate) fn reader() -> std::io::Result<OwnedFd> {
    with(|a| fd::dup(a.r.as_fd()))?
}

/// In a freshly forked child: closes the inherited ends, so that the parent's daemons see end of
/// file when the parent dies even while this child lives.
pub(crate) fn forget_in_child() {
    let mut g = ALIVE.lock().unwrap_or_else(|p| p.into_inner());
    *g = None;
}
