//! The lock word and its algorithms, shared by `Lock`, `RLock` and `Condition`.
//!
//! The word holds the owner's thread id (bits 0..30) and a waiters bit (bit 31), the layout of
//! Linux's robust futexes; 0 is free. It is Drepper's "mutex3" with the owner's id in place of
//! the `1`: acquire is one compare-exchange 0 → tid, release one compare-exchange tid → 0; only
//! when the waiters bit is set does release swap and `FUTEX_WAKE` one sleeper, which then
//! acquires with the bit set (other sleepers may remain).
//!
//! An owner that died is noticed two ways. A sleeping acquirer looks at the owner's liveness
//! after each whole check interval it slept ([`CHECK_FIRST`] doubling to [`CHECK_MAX`]). An
//! acquire that gives up — a failed `try_lock`, a timed-out `lock_timeout` of any length —
//! looks too, at most once per [`POLL_CHECK`] per lock (the time of the last such look is kept
//! in the lock, so that every process polling it shares the budget): a program that polls sees
//! `OwnerDied` about a millisecond after the death, and a tight polling loop stays a loop of
//! compare-exchanges and clock reads, not of `/proc` reads. Neither costs the uncontended path
//! anything: both run only after the fast compare-exchange failed.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use multiproc_core::futex::{self, Spin, WaitResult};

use crate::ident::{self, Me};
use crate::sys;

pub(crate) const WAITERS: u32 = 1 << 31;
pub(crate) const TID_MASK: u32 = (1 << 30) - 1;

/// How an `Event`, `Semaphore` or `Condition` waiter spins before it sleeps: a hand-over between
/// two running processes then costs no syscall on either side, and the spin stops paying (and
/// is dropped) when the other side shares the core. (The lock itself never spins: see
/// `lock_slow`.)
pub(crate) const SPIN: Spin = Spin::Adaptive(Duration::from_micros(50));
/// A sleeping acquirer looks at the owner's liveness after this much time asleep, then at
/// doubling intervals up to [`CHECK_MAX`].
pub(crate) const CHECK_FIRST: Duration = Duration::from_millis(1);
/// The longest a blocked acquirer sleeps without checking that the owner lives.
pub(crate) const CHECK_MAX: Duration = Duration::from_millis(8);
/// An acquire that gives up (a failed try, a timeout) checks the owner's liveness if nobody
/// did so for this long on this lock.
pub(crate) const POLL_CHECK: Duration = Duration::from_millis(1);

/// How long to wait (the deadline type of `multiproc-core`).
pub(crate) use multiproc_core::Deadline;

/// How an acquire ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Acquired {
    Yes,
    OwnerDied,
    TimedOut,
}

/// The lock's state in shared memory.
#[repr(C)]
pub struct RawLock {
    /// Owner tid | WAITERS; 0 = free.
    word: AtomicU32,
    /// Recursion depth for an `RLock` (touched only by the owner).
    count: AtomicU32,
    /// The owner's `Me::stamp`, written right after the word.
    stamp: AtomicU64,
    /// When an acquire that gave up last checked the owner's liveness
    /// ([`sys::monotonic_nanos`]); 0 = never. Only a rate limit: any value is safe.
    polled: AtomicU64,
}

static_assertions::assert_eq_size!(RawLock, [u64; 3]);

impl RawLock {
    /// The owner's thread id, 0 when free.
    pub(crate) fn owner(&self) -> u32 {
        self.word.load(Ordering::Relaxed) & TID_MASK
    }

    pub(crate) fn count(&self) -> u32 {
        self.count.load(Ordering::Relaxed)
    }

    pub(crate) fn set_count(&self, n: u32) {
        self.count.store(n, Ordering::Relaxed);
    }

    #[inline]
    pub(crate) fn try_fast(&self, me: Me) -> bool {
        if self
            .word
            .compare_exchange(0, me.tid, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
        {
            self.stamp.store(me.stamp, Ordering::Release);
            true
        } else {
            false
        }
    }

    /// Acquires, waiting as `wait` says.
    #[inline]
    pub(crate) fn lock(&self, me: Me, wait: Deadline) -> Acquired {
        self.lock_with(me, || wait)
    }

    /// Acquires, waiting as `wait()` says; `wait` is called only when the fast path fails, so
    /// that an uncontended timed acquire does not read the clock for its deadline.
    #[inline]
    pub(crate) fn lock_with(&self, me: Me, wait: impl FnOnce() -> Deadline) -> Acquired {
        if self.try_fast(me) {
            return Acquired::Yes;
        }
        self.lock_slow(me, wait())
    }

    #[cold]
    fn lock_slow(&self, me: Me, wait: Deadline) -> Acquired {
        // No spin before sleeping: measured under two-process contention, a spinning acquirer
        // keeps pulling the lock's cache line from the holder and doubles the cost per
        // hand-over; sleeping at once, as Drepper's mutex3 does, matches mutex3.
        let mut interval = CHECK_FIRST;
        loop {
            let c = self.word.load(Ordering::Relaxed);
            let owner = c & TID_MASK;
            if owner == 0 {
                // Take it with the waiters bit: other sleepers may remain.
                if self
                    .word
                    .compare_exchange(c, me.tid | WAITERS, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
                {
                    self.stamp.store(me.stamp, Ordering::Release);
                    return Acquired::Yes;
                }
                continue;
            }
            if wait.is_over() {
                return self.give_up(me, c);
            }
            let sleep = wait.capped(interval);
            if c & WAITERS == 0
                && self
                    .word
                    .compare_exchange(c, c | WAITERS, Ordering::Relaxed, Ordering::Relaxed)
                    .is_err()
            {
                continue;
            }
            let r = futex::wait(&self.word, c | WAITERS, sleep);
            if r == WaitResult::TimedOut && !wait.is_over() {
                // Asleep for a whole check interval with the same owner: does it still live?
                if ident::owner_is_dead(owner, &self.stamp)
                    && self
                        .word
                        .compare_exchange(
                            c | WAITERS,
                            me.tid | WAITERS,
                            Ordering::Acquire,
                            Ordering::Relaxed,
                        )
                        .is_ok()
                {
                    self.stamp.store(me.stamp, Ordering::Release);
                    return Acquired::OwnerDied;
                }
                interval = (interval * 2).min(CHECK_MAX);
            }
        }
    }

    /// An acquire out of time, having last seen the word hold `c` (held): before it reports
    /// `TimedOut`, it checks (rate-limited, see [`POLL_CHECK`]) whether the owner lives, and
    /// takes the lock over if it does not.
    #[cold]
    fn give_up(&self, me: Me, mut c: u32) -> Acquired {
        let owner = c & TID_MASK;
        if owner == me.tid || !self.poll_due() || !ident::owner_is_dead(owner, &self.stamp) {
            return Acquired::TimedOut;
        }
        // Keep the waiters bit as it is: sleepers may remain.
        loop {
            match self.word.compare_exchange(
                c,
                me.tid | (c & WAITERS),
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => {
                    self.stamp.store(me.stamp, Ordering::Release);
                    return Acquired::OwnerDied;
                }
                // A sleeper raised the waiters bit meanwhile: the same dead owner.
                Err(now) if now & TID_MASK == owner => c = now,
                // Another acquirer took it over (or it was freed): not ours this time.
                Err(_) => return Acquired::TimedOut,
            }
        }
    }

    /// Whether a giving-up acquire may check the owner's liveness now: nobody did for
    /// [`POLL_CHECK`]. Claims the check (one compare-exchange) when it answers `true`.
    fn poll_due(&self) -> bool {
        let now = sys::monotonic_nanos();
        let last = self.polled.load(Ordering::Relaxed);
        // Wrapping: a value from the future (forged, or another time namespace) only lets the
        // check run, it never stops it for long.
        now.wrapping_sub(last) >= POLL_CHECK.as_nanos() as u64
            && self
                .polled
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
    }

    /// The lock word (for a future that waits on it through `multiproc_core::waiter`).
    #[cfg(feature = "tokio")]
    pub(crate) fn word(&self) -> &std::sync::atomic::AtomicU32 {
        &self.word
    }

    /// One attempt of an acquire that must not block (a future's): takes the lock for `me` if
    /// it is free, or over from a dead owner when `check` says the owner's liveness is due;
    /// otherwise makes sure the waiters bit is set and returns the word's value to wait on
    /// (the unlock of a holder that sees the bit wakes the word).
    #[cfg(feature = "tokio")]
    pub(crate) fn try_async(&self, me: Me, check: bool) -> Result<Acquired, u32> {
        if self.try_fast(me) {
            return Ok(Acquired::Yes);
        }
        loop {
            let c = self.word.load(Ordering::Relaxed);
            let owner = c & TID_MASK;
            if owner == 0 {
                // Taken with the waiters bit: other sleepers may remain.
                if self
                    .word
                    .compare_exchange(c, me.tid | WAITERS, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
                {
                    self.stamp.store(me.stamp, Ordering::Release);
                    return Ok(Acquired::Yes);
                }
                continue;
            }
            if check
                && owner != me.tid
                && ident::owner_is_dead(owner, &self.stamp)
                && self
                    .word
                    .compare_exchange(c, me.tid | WAITERS, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
            {
                self.stamp.store(me.stamp, Ordering::Release);
                return Ok(Acquired::OwnerDied);
            }
            if c & WAITERS == 0
                && self
                    .word
                    .compare_exchange(c, c | WAITERS, Ordering::Relaxed, Ordering::Relaxed)
                    .is_err()
            {
                continue;
            }
            return Err(c | WAITERS);
        }
    }

    /// Releases if `tid` holds the lock; `false` (and nothing changes) otherwise.
    #[inline]
    pub(crate) fn unlock(&self, tid: u32) -> bool {
        match self
            .word
            .compare_exchange(tid, 0, Ordering::Release, Ordering::Relaxed)
        {
            Ok(_) => true,
            Err(c) => self.unlock_slow(tid, c),
        }
    }

    #[cold]
    fn unlock_slow(&self, tid: u32, c: u32) -> bool {
        if c & TID_MASK != tid || tid == 0 {
            return false;
        }
        // Only the owner clears the word; others may only have set WAITERS meanwhile.
        let prev = self.word.swap(0, Ordering::Release);
        if prev & WAITERS != 0 {
            futex::wake(&self.word, 1);
        }
        true
    }
}
