//! Every OS call of `multiproc-sync` that `multiproc-core` does not already wrap: the `fork`
//! hook and the monotonic clock a lock's liveness checks are rate-limited by. (Futexes, shared
//! memory, thread ids and liveness come from `multiproc-core`.)

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

/// `clock_gettime(CLOCK_MONOTONIC)`—Nanoseconds on the system's monotonic clock.
///
/// Unlike [`std::time::Instant`], the value is a plain number that means the same in every
/// process of the machine (of one time namespace), so it may be stored in shared memory and
/// compared by another process. A vDSO call: no syscall, a few tens of nanoseconds.
///
/// # References
/// - [clock_gettime(2)](https://man7.org/linux/man-pages/man2/clock_gettime.2.html)
#[doc(alias = "clock_gettime")]
pub(crate) fn monotonic_nanos() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_MONOTONIC always exists on Linux, so
    // the call cannot fail (and `ts` stays zero if it somehow did).
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    (ts.tv_sec as u64)
        .wrapping_mul(1_000_000_000)
        .wrapping_add(ts.tv_nsec as u64)
}
