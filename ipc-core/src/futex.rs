//! Futex wait and wake on a 32-bit word in shared memory (process-shared, never the
//! `FUTEX_PRIVATE_FLAG` variant), with timeouts.
//!
//! A futex is the kernel half of a lock or a wait: user space keeps the state in an
//! [`AtomicU32`], and calls [`wait`] only when it must sleep, [`wake`] only when someone may
//! sleep. The word must live in memory every party maps (a [`crate::SharedMapping`]); the kernel
//! keys a shared futex on the page, so the word may sit at a different address in each process.
//!
//! # Not losing a wake-up
//!
//! [`wait`] sleeps only if the word still holds `expected` when the kernel looks, atomically with
//! going to sleep. So the waker must change the word *before* calling [`wake`], and the waiter
//! must pass the value it last saw: then either the waiter sees the new value and does not sleep,
//! or it is asleep and the wake finds it.
//!
//! ```
//! use multiproc_core::{futex, SharedMapping};
//! use std::sync::atomic::Ordering;
//! use std::time::Duration;
//!
//! let map = SharedMapping::anonymous(4096)?;
//! let word = map.atomic_u32(0);
//! // Nobody changes the word, so this times out.
//! let r = futex::wait(word, 0, Some(Duration::from_millis(5)))?;
//! assert_eq!(r, futex::WaitResult::TimedOut);
//! // The value is already different: returns at once.
//! word.store(1, Ordering::Release);
//! assert_eq!(futex::wait(word, 0, None)?, futex::WaitResult::ValueChanged);
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! # References
//! - [futex(2)](https://man7.org/linux/man-pages/man2/futex.2.html)
//! - Ulrich Drepper, *Futexes Are Tricky*.

use std::io;
use std::sync::atomic::AtomicU32;
use std::time::{Duration, Instant};

use rustix::io::Errno;

use crate::sys;

/// How a [`wait`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitResult {
    /// Woken by [`wake`] (or spuriously: always re-check the word).
    Woken,
    /// The word did not hold `expected`, so the caller never slept.
    ValueChanged,
    /// The timeout passed.
    TimedOut,
    /// A signal handler ran. [`wait_until`] retries this itself.
    Interrupted,
}

/// `futex(word, FUTEX_WAIT, expected, timeout)`—Sleeps while `*word == expected`, for at most
/// `timeout` (`None`: no limit).
///
/// # Errors
/// Only for a futex the kernel rejects, which a valid `&AtomicU32` never is.
#[doc(alias = "FUTEX_WAIT")]
pub fn wait(word: &AtomicU32, expected: u32, timeout: Option<Duration>) -> io::Result<WaitResult> {
    match sys::futex_wait(word, expected, timeout) {
        Ok(()) => Ok(WaitResult::Woken),
        Err(Errno::AGAIN) => Ok(WaitResult::ValueChanged),
        Err(Errno::TIMEDOUT) => Ok(WaitResult::TimedOut),
        Err(Errno::INTR) => Ok(WaitResult::Interrupted),
        Err(e) => Err(e.into()),
    }
}

/// Like [`wait`], with a deadline instead of a timeout; a signal does not end it early
/// (the remaining time is recomputed). Returns [`WaitResult::TimedOut`] once the deadline passes.
pub fn wait_until(
    word: &AtomicU32,
    expected: u32,
    deadline: Option<Instant>,
) -> io::Result<WaitResult> {
    loop {
        let timeout = match deadline {
            None => None,
            Some(d) => match d.checked_duration_since(Instant::now()) {
                Some(left) if !left.is_zero() => Some(left),
                _ => return Ok(WaitResult::TimedOut),
            },
        };
        match wait(word, expected, timeout)? {
            WaitResult::Interrupted => continue,
            other => return Ok(other),
        }
    }
}

/// `futex(word, FUTEX_WAKE, n)`—Wakes at most `n` processes or threads waiting on `word`;
/// returns how many were woken.
#[doc(alias = "FUTEX_WAKE")]
pub fn wake(word: &AtomicU32, n: u32) -> usize {
    sys::futex_wake(word, n)
}

/// Wakes every waiter on `word`; returns how many were woken.
pub fn wake_all(word: &AtomicU32) -> usize {
    sys::futex_wake(word, i32::MAX as u32)
}

/// How long an operation may wait: not at all, until an instant, or for ever. Built from the
/// `Option<Duration>` timeouts of the public APIs (`None`: for ever; zero: not at all).
///
/// ```
/// use multiproc_core::futex::Deadline;
/// use std::time::Duration;
/// assert!(matches!(Deadline::from_timeout(None), Deadline::Forever));
/// assert!(matches!(Deadline::from_timeout(Some(Duration::ZERO)), Deadline::No));
/// let d = Deadline::from_timeout(Some(Duration::from_secs(5)));
/// assert!(d.next_sleep(Duration::from_millis(8)).unwrap() <= Duration::from_millis(8));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Deadline {
    /// Do not wait.
    No,
    /// Wait until this instant.
    Until(Instant),
    /// Wait without limit.
    Forever,
}

impl Deadline {
    /// `None` waits for ever, zero not at all, anything else until that long from now.
    pub fn from_timeout(t: Option<Duration>) -> Deadline {
        match t {
            None => Deadline::Forever,
            Some(d) if d.is_zero() => Deadline::No,
            Some(d) => Instant::now()
                .checked_add(d)
                .map_or(Deadline::Forever, Deadline::Until),
        }
    }

    /// The time left: `None` when it is up, `Some(None)` for no limit.
    pub fn left(self) -> Option<Option<Duration>> {
        match self {
            Deadline::No => None,
            Deadline::Forever => Some(None),
            Deadline::Until(d) => {
                let left = d.checked_duration_since(Instant::now())?;
                (!left.is_zero()).then_some(Some(left))
            }
        }
    }

    /// How long the next sleep may last, at most `cap`; `None` when the time is up.
    pub fn next_sleep(self, cap: Duration) -> Option<Duration> {
        self.left().map(|l| l.map_or(cap, |l| l.min(cap)))
    }
}
