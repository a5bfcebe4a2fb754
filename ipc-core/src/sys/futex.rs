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

/// `futex_waitv(2)` (shared, 32-bit words)—Sleeps until one of `words` no longer holds its
/// expected value (or is woken), or `timeout` passes. `Ok(i)`: word `i` was woken; the error
/// `AGAIN` when a word did not hold its value at the call, `TIMEDOUT`, `INTR`. Linux 5.16+.
///
/// An address that is not mapped makes the call fail with `FAULT`, nothing worse: the kernel
/// reads the words itself.
#[cfg(feature = "async")]
pub(crate) fn waitv(words: &[(usize, u32)], timeout: Option<Duration>) -> Result<usize, Errno> {
    use rustix::thread::futex::{Wait, WaitFlags, WaitPtr, WaitvFlags};
    let waits: Vec<Wait> = words
        .iter()
        .map(|&(addr, val)| {
            let mut w = Wait::new();
            w.val = u64::from(val);
            w.uaddr = WaitPtr::new(addr as *mut std::ffi::c_void);
            w.flags = WaitFlags::SIZE_U32;
            w
        })
        .collect();
    // The timeout of futex_waitv is absolute, on the clock named.
    let at = timeout.map(|d| {
        let now = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
        let d = Duration::new(now.tv_sec.max(0) as u64, now.tv_nsec as u32).saturating_add(d);
        rustix::time::Timespec {
            tv_sec: d.as_secs().min(i64::MAX as u64) as i64,
            tv_nsec: i64::from(d.subsec_nanos()),
        }
    });
    rustix::thread::futex::waitv(
        &waits,
        WaitvFlags::empty(),
        at.as_ref(),
        rustix::time::ClockId::Monotonic,
    )
}
