//! Every OS call of `multiproc-sync` that `multiproc-core` does not already wrap: one, the `fork` hook.
//! (Futexes, shared memory, thread ids and liveness come from `multiproc-core`.)

use std::sync::atomic::{AtomicU32, Ordering};

/// Bumped in every child made by `fork(3)`, so that a cached thread id is known to be stale.
pub(crate) static FORK_GENERATION: AtomicU32 = AtomicU32::new(0);

extern "C" fn after_fork_in_child() {
    // An atomic add: async-signal-safe, as an atfork child handler must be.
    FORK_GENERATION.fetch_add(1, Ordering::Relaxed);
}

/// `pthread_atfork(NULL, NULL, child)`—Registers the hook that marks cached thread ids stale in
/// a forked child. Call once.
///
/// Only `fork(3)` from libc runs atfork handlers; a raw `clone(2)` that makes a new process and
/// then takes a lock is not supported.
pub(crate) fn register_fork_hook() {
    // SAFETY: registers a plain `extern "C"` function that only does an atomic add; the other
    // two handlers are absent (NULL). pthread_atfork has no other precondition.
    let r = unsafe { libc::pthread_atfork(None, None, Some(after_fork_in_child)) };
    assert_eq!(r, 0, "pthread_atfork failed");
}
