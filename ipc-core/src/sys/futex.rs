//! Futexes: `FUTEX_WAIT` and `FUTEX_WAKE` on a word in shared memory (not
//! `FUTEX_PRIVATE_FLAG`: the word may be shared with other processes).

use std::sync::atomic::AtomicU32;
use std::time::Duration;

use rustix::io::Errno;

/// `FUTEX_WAIT` (shared, not `FUTEX_PRIVATE_FLAG`) with a relative timeout.
/// Returns the raw outcome: `Ok(())` when woken (or spuriously), or the errno.
pub(crate) fn wait(
    word: &AtomicU32,
    expected: u32,
    timeout: Option<Duration>,
) -> Result<(), Errno> {
    let ts = timeout.map(|d| rustix::time::Timespec {
        tv_sec: d.as_secs().min(i64::MAX as u64) as i64,
        tv_nsec: i64::from(d.subsec_nanos()),
    });
    rustix::thread::futex::wait(
        word,
        rustix::thread::futex::Flags::empty(),
        expected,
        ts.as_ref(),
    )
}

/// `FUTEX_WAKE` (shared): wakes up to `n` waiters, returns how many were woken.
pub(crate) fn wake(word: &AtomicU32, n: u32) -> usize {
    // FUTEX_WAKE fails only for a bad address, which a reference cannot be.
    rustix::thread::futex::wake(word, rustix::thread::futex::Flags::empty(), n).unwrap_or(0)
}
