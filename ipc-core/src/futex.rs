//! The one wait of the workspace: futex wait and wake on a 32-bit word in shared memory
//! (process-shared, never the `FUTEX_PRIVATE_FLAG` variant), with deadlines.
//!
//! Two layers:
//!
//! - [`WaitWord`] is what every blocking type of the workspace waits on (an event, a semaphore,
//!   a condition, a queue's "data arrived" and "space freed"): a sequence word and a count of
//!   sleepers. A waiter spins as its [`Spin`] policy says, then announces itself and sleeps until
//!   its condition holds or its [`Deadline`] passes; the other side changes its state and calls
//!   [`WaitWord::notify_one`] / [`notify_all`](WaitWord::notify_all), which cost one load
//!   unless somebody sleeps. Each type says only what "ready" means.
//! - [`wait`] and [`wake`] are the bare system call, for a protocol whose word is its state (the
//!   lock word of `multiproc-sync`, whose owner id and waiters bit *are* the futex word).
//!
//! # Not losing a wake-up
//!
//! [`wait`] sleeps only if the word still holds `expected` when the kernel looks, atomically with
//! going to sleep. So the waker changes the word *before* calling [`wake`], and the waiter passes
//! the value it last saw: then either the waiter sees the new value and does not sleep, or it is
//! asleep and the wake finds it. [`WaitWord`] keeps that rule for conditions that are not the word
//! itself (see its docs for the argument), and the protocol is model-checked with `loom`
//! (`cargo xtask test-all` runs the check).
//!
//! ```
//! use multiproc_core::futex::{self, Deadline, WaitResult};
//! use multiproc_core::SharedMapping;
//! use std::sync::atomic::Ordering;
//! use std::time::Duration;
//!
//! let map = SharedMapping::anonymous(4096)?;
//! let word = map.atomic_u32(0);
//! // Nobody changes the word, so this times out.
//! let r = futex::wait(word, 0, Deadline::after(Duration::from_millis(5)));
//! assert_eq!(r, WaitResult::TimedOut);
//! // The value is already different: returns at once.
//! word.store(1, Ordering::Release);
//! assert_eq!(futex::wait(word, 0, Deadline::Forever), WaitResult::ValueChanged);
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! # References
//! - [futex(2)](https://man7.org/linux/man-pages/man2/futex.2.html)
//! - Ulrich Drepper, *Futexes Are Tricky*.

use std::time::{Duration, Instant};

#[cfg(not(loom))]
use std::sync::atomic::{AtomicU32, Ordering, fence};

#[cfg(loom)]
use loom::sync::atomic::{AtomicU32, Ordering, fence};

#[cfg(not(loom))]
use crate::sys;

/// How a [`wait`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitResult {
    /// Woken by [`wake`] (or spuriously: always re-check the word).
    Woken,
    /// The word did not hold `expected`, so the caller never slept.
    ValueChanged,
    /// The deadline passed.
    TimedOut,
}

/// How long an operation may wait: not at all, until an instant, or for ever. The only deadline
/// type of the workspace; public APIs take a `Duration` and make one with
/// [`after`](Self::after) or [`from_timeout`](Self::from_timeout).
///
/// ```
/// use multiproc_core::Deadline;
/// use std::time::Duration;
/// assert!(matches!(Deadline::from_timeout(None), Deadline::Forever));
/// assert!(matches!(Deadline::from_timeout(Some(Duration::ZERO)), Deadline::No));
/// let d = Deadline::after(Duration::from_secs(5));
/// assert!(d.next_sleep(Duration::from_millis(8)).unwrap() <= Duration::from_millis(8));
/// assert!(!d.is_over() && Deadline::No.is_over());
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
    /// `timeout` from now (zero: [`Deadline::No`]; too far to represent: [`Deadline::Forever`]).
    pub fn after(timeout: Duration) -> Deadline {
        if timeout.is_zero() {
            return Deadline::No;
        }
        Instant::now()
            .checked_add(timeout)
            .map_or(Deadline::Forever, Deadline::Until)
    }

    /// `None` waits for ever, zero not at all, anything else until that long from now.
    pub fn from_timeout(timeout: Option<Duration>) -> Deadline {
        timeout.map_or(Deadline::Forever, Deadline::after)
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

    /// Whether the time is up.
    pub fn is_over(self) -> bool {
        self.left().is_none()
    }

    /// How long the next sleep may last, at most `cap`; `None` when the time is up.
    pub fn next_sleep(self, cap: Duration) -> Option<Duration> {
        self.left().map(|l| l.map_or(cap, |l| l.min(cap)))
    }

    /// The earlier of `self` and `cap` from now: for a wait that must come back to check
    /// something (a lock owner's liveness) at least that often.
    pub fn capped(self, cap: Duration) -> Deadline {
        match self {
            Deadline::No => Deadline::No,
            _ => match (self, Deadline::after(cap)) {
                (Deadline::Until(a), Deadline::Until(b)) => Deadline::Until(a.min(b)),
                (Deadline::Forever, c) | (c, Deadline::Forever) => c,
                (_, c) => c,
            },
        }
    }
}

/// `futex(word, FUTEX_WAIT, expected, …)`—Sleeps while `*word == expected`, until `deadline`.
///
/// A signal does not end the sleep early (the remaining time is recomputed), and the kernel's
/// other failures cannot happen for a valid `&AtomicU32`, so the outcome is one of three.
/// Spurious wake-ups are reported as [`WaitResult::Woken`]: always re-check the word.
#[doc(alias = "FUTEX_WAIT")]
#[cfg(not(loom))]
pub fn wait(word: &AtomicU32, expected: u32, deadline: Deadline) -> WaitResult {
    use rustix::io::Errno;
    loop {
        let Some(timeout) = deadline.left() else {
            return WaitResult::TimedOut;
        };
        match sys::futex_wait(word, expected, timeout) {
            Ok(()) => return WaitResult::Woken,
            Err(Errno::AGAIN) => return WaitResult::ValueChanged,
            Err(Errno::TIMEDOUT) => return WaitResult::TimedOut,
            Err(Errno::INTR) => continue,
            // EFAULT/EINVAL/ENOSYS cannot happen for a live, aligned word; treat anything
            // else as a spurious wake-up, which every caller already handles.
            Err(_) => return WaitResult::Woken,
        }
    }
}

/// `futex(word, FUTEX_WAKE, n)`—Wakes at most `n` processes or threads waiting on `word`;
/// returns how many were woken.
#[doc(alias = "FUTEX_WAKE")]
#[cfg(not(loom))]
pub fn wake(word: &AtomicU32, n: u32) -> usize {
    sys::futex_wake(word, n)
}

/// Wakes every waiter on `word`; returns how many were woken.
#[cfg(not(loom))]
pub fn wake_all(word: &AtomicU32) -> usize {
    sys::futex_wake(word, i32::MAX as u32)
}

#[cfg(loom)]
pub use model::{wait, wake, wake_all};

/// How long a [`WaitWord`] waiter spins (re-checking its condition) before it sleeps. Each use
/// sets its own: a hand-over between two running processes then costs no system call, while a
/// waiter on a busy machine gives its core back soon.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Spin {
    /// Sleep at once (a lock under contention: spinning only steals the holder's cache line).
    Never,
    /// Re-check up to this many times, with a `pause` between checks.
    Checks(u32),
    /// Re-check for about this long.
    For(Duration),
}

impl Spin {
    /// Spins until `ready()` or the policy runs out; returns `ready()`'s last answer.
    #[inline]
    fn run(self, ready: &mut impl FnMut() -> bool) -> bool {
        match self {
            Spin::Never => false,
            Spin::Checks(n) => (0..n).any(|_| {
                std::hint::spin_loop();
                ready()
            }),
            Spin::For(d) => {
                // One `pause` between checks (tens of cycles): a spinner sees the other side's
                // store within a check. The clock is read once every 128 checks.
                let start = Instant::now();
                let mut n = 0u32;
                loop {
                    std::hint::spin_loop();
                    if ready() {
                        return true;
                    }
                    n = n.wrapping_add(1);
                    if n.is_multiple_of(128) && start.elapsed() >= d {
                        return false;
                    }
                }
            }
        }
    }
}

/// A futex word with its count of sleepers: the place where every blocking type of the
/// workspace sleeps. Lives in shared memory (`#[repr(C)]`, two `u32`s, all zero is valid), inside
/// a type's state.
///
/// The waiter's side is [`wait_until`](Self::wait_until); the other side changes the state the
/// waiter's `ready` looks at **with a `SeqCst` store or read-modify-write**, then calls
/// [`notify_one`](Self::notify_one) or [`notify_all`](Self::notify_all), which do nothing but
/// one load when nobody sleeps.
///
/// Why no wake-up is lost: the waiter reads the sequence, counts itself in `sleepers` (`SeqCst`),
/// fences (`SeqCst`), and only then checks `ready`; the notifier changes the state (`SeqCst`) and
/// only then reads `sleepers` (`SeqCst`). In the single order of `SeqCst` operations either the
/// notifier's read comes after the waiter's count — it sees the sleeper, bumps the sequence and
/// wakes it (and a waiter that has not reached the kernel yet finds the sequence changed and does
/// not sleep) — or it comes before, and then the state change precedes the waiter's fence, so
/// the waiter's check sees it. A sleeper that dies (or times
/// out) takes itself out of the count; one killed inside the kernel leaves the count one too
/// high, which costs later notifiers a needless wake-up, never a lost one.
///
/// ```
/// use multiproc_core::futex::{Spin, WaitWord};
/// use multiproc_core::{Deadline, SharedMapping};
/// use std::sync::atomic::{AtomicU32, Ordering};
/// use std::time::Duration;
///
/// #[repr(C)]
/// struct Flag { set: AtomicU32, wake: WaitWord }
///
/// let flag = Flag { set: AtomicU32::new(0), wake: WaitWord::new() };
/// std::thread::scope(|s| {
///     s.spawn(|| {
///         flag.set.store(1, Ordering::SeqCst);
///         flag.wake.notify_all();
///     });
///     let ready = || flag.set.load(Ordering::Acquire) == 1;
///     assert!(flag.wake.wait_until(ready, Deadline::after(Duration::from_secs(10)), Spin::Checks(100)));
/// });
/// ```
#[repr(C)]
#[derive(Debug, Default)]
pub struct WaitWord {
    /// Bumped by a notifier that saw a sleeper: the futex word.
    seq: AtomicU32,
    /// Waiters between announcing themselves and leaving.
    sleepers: AtomicU32,
}

#[cfg(not(loom))]
static_assertions::assert_eq_size!(WaitWord, u64);

impl WaitWord {
    /// A word with no sleepers.
    #[cfg(not(loom))]
    pub const fn new() -> WaitWord {
        WaitWord {
            seq: AtomicU32::new(0),
            sleepers: AtomicU32::new(0),
        }
    }

    /// A word with no sleepers.
    #[cfg(loom)]
    pub fn new() -> WaitWord {
        WaitWord {
            seq: AtomicU32::new(0),
            sleepers: AtomicU32::new(0),
        }
    }

    /// Waits until `ready()` holds: checks it, spins as `spin` says, then sleeps (re-checking
    /// after every wake-up) until it holds or `deadline` passes. Returns `ready()`'s last answer,
    /// so `false` means the deadline passed with the condition still false.
    #[inline]
    pub fn wait_until(
        &self,
        mut ready: impl FnMut() -> bool,
        deadline: Deadline,
        spin: Spin,
    ) -> bool {
        if ready() {
            return true;
        }
        // A deadline already past (or none at all) does not spin.
        if deadline.is_over() {
            return false;
        }
        if spin.run(&mut ready) {
            return true;
        }
        self.sleep_until(ready, deadline)
    }

    #[cold]
    fn sleep_until(&self, mut ready: impl FnMut() -> bool, deadline: Deadline) -> bool {
        loop {
            let seen = self.seq.load(Ordering::Acquire);
            self.sleepers.fetch_add(1, Ordering::SeqCst);
            fence(Ordering::SeqCst);
            if ready() {
                self.sleepers.fetch_sub(1, Ordering::Relaxed);
                return true;
            }
            let r = wait(&self.seq, seen, deadline);
            self.sleepers.fetch_sub(1, Ordering::Relaxed);
            if ready() {
                return true;
            }
            if r == WaitResult::TimedOut || deadline.is_over() {
                return false;
            }
        }
    }

    /// Wakes one sleeper, if any. Call after the `SeqCst` store (or read-modify-write) that
    /// made a waiter's condition true.
    #[inline]
    pub fn notify_one(&self) {
        self.notify(1);
    }

    /// Wakes every sleeper, if any. Call after the `SeqCst` store (or read-modify-write) that
    /// made their condition true.
    #[inline]
    pub fn notify_all(&self) {
        self.notify(i32::MAX as u32);
    }

    /// Wakes up to `n` sleepers, if any (Python's `Condition.notify(n)`). Call after the
    /// `SeqCst` store (or read-modify-write) that made their condition true.
    #[inline]
    pub fn notify(&self, n: u32) {
        // loom treats `SeqCst` loads and stores as acquire/release, weaker than the language
        // guarantees, so the model checks the fenced form; with the caller's `SeqCst` store the
        // `SeqCst` load below is equivalent to it (see the type's docs) and costs no fence.
        #[cfg(loom)]
        fence(Ordering::SeqCst);
        if self.sleepers.load(Ordering::SeqCst) != 0 {
            self.seq.fetch_add(1, Ordering::Release);
            wake(&self.seq, n);
        }
    }

    /// Whether a waiter has announced itself (and not left): for a notifier that must do more
    /// than wake (a queue that counts waiters for its `qsize`).
    pub fn has_sleepers(&self) -> bool {
        #[cfg(loom)]
        fence(Ordering::SeqCst);
        self.sleepers.load(Ordering::SeqCst) != 0
    }
}

/// The futex system call modelled for `loom`: a word's sleepers park on a condition variable,
/// and a wake notifies it. `wait` never times out in the model (a deadline is either `No` or
/// the model's "for ever").
#[cfg(loom)]
mod model {
    use super::{AtomicU32, Deadline, Ordering, WaitResult};
    use loom::sync::{Condvar, Mutex};

    loom::lazy_static! {
        static ref KERNEL: (Mutex<()>, Condvar) = (Mutex::new(()), Condvar::new());
    }

    pub fn wait(word: &AtomicU32, expected: u32, deadline: Deadline) -> WaitResult {
        let (m, cv) = &*KERNEL;
        let g = m.lock().unwrap();
        if word.load(Ordering::SeqCst) != expected {
            return WaitResult::ValueChanged;
        }
        if deadline == Deadline::No {
            return WaitResult::TimedOut;
        }
        drop(cv.wait(g).unwrap());
        WaitResult::Woken
    }

    pub fn wake(_word: &AtomicU32, _n: u32) -> usize {
        let (m, cv) = &*KERNEL;
        let _g = m.lock().unwrap();
        cv.notify_all();
        1
    }

    pub fn wake_all(word: &AtomicU32) -> usize {
        wake(word, u32::MAX)
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    //! `RUSTFLAGS="--cfg loom" cargo test -p multiproc-core --lib --release loom_tests`
    use super::*;
    use loom::sync::Arc;
    use loom::sync::atomic::AtomicU32;

    struct Flag {
        set: AtomicU32,
        wake: WaitWord,
    }

    /// Every interleaving with up to `bound` preemptions (the bugs of a wait/notify protocol
    /// show within two or three; an unbounded search of three threads takes minutes).
    fn model(bound: usize, f: impl Fn() + Sync + Send + 'static) {
        let mut b = loom::model::Builder::new();
        b.preemption_bound = Some(bound);
        b.check(f);
    }

    /// A waiter with no deadline always learns of a store made by a notifier on another
    /// thread: no interleaving leaves it asleep.
    #[test]
    fn no_lost_wakeup() {
        model(3, || {
            let f = Arc::new(Flag {
                set: AtomicU32::new(0),
                wake: WaitWord::new(),
            });
            let g = Arc::clone(&f);
            let t = loom::thread::spawn(move || {
                g.set.store(1, Ordering::SeqCst);
                g.wake.notify_one();
            });
            let ready = || f.set.load(Ordering::Acquire) == 1;
            assert!(f.wake.wait_until(ready, Deadline::Forever, Spin::Never));
            t.join().unwrap();
        });
    }

    /// Two waiters and `notify_all`: both wake.
    #[test]
    fn notify_all_wakes_every_waiter() {
        model(2, || {
            let f = Arc::new(Flag {
                set: AtomicU32::new(0),
                wake: WaitWord::new(),
            });
            let waiters: Vec<_> = (0..2)
                .map(|_| {
                    let g = Arc::clone(&f);
                    loom::thread::spawn(move || {
                        let ready = || g.set.load(Ordering::Acquire) == 1;
                        assert!(g.wake.wait_until(ready, Deadline::Forever, Spin::Never));
                    })
                })
                .collect();
            f.set.store(1, Ordering::SeqCst);
            f.wake.notify_all();
            for w in waiters {
                w.join().unwrap();
            }
        });
    }

    /// A waiter whose time runs out leaves no sleeper behind.
    #[test]
    fn timeout_leaves_no_sleeper() {
        model(3, || {
            let f = Arc::new(Flag {
                set: AtomicU32::new(0),
                wake: WaitWord::new(),
            });
            let g = Arc::clone(&f);
            let t = loom::thread::spawn(move || {
                g.set.store(1, Ordering::SeqCst);
                g.wake.notify_one();
            });
            let ready = || f.set.load(Ordering::Acquire) == 1;
            let _ = f.wake.sleep_until(ready, Deadline::No);
            t.join().unwrap();
            assert_eq!(f.wake.sleepers.load(Ordering::SeqCst), 0);
        });
    }
}
