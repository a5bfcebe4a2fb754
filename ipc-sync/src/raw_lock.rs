//! The lock word and its algorithms, shared by `Lock`, `RLock` and `Condition`.
//!
//! The word holds the owner's thread id (bits 0..30) and a waiters bit (bit 31), the layout of
//! Linux's robust futexes; 0 is free. It is Drepper's "mutex3" with the owner's id in place of
//! the `1`: acquire is one compare-exchange 0 → tid, release one compare-exchange tid → 0; only
//! when the waiters bit is set does release swap and `FUTEX_WAKE` one sleeper, which then
//! acquires with the bit set (other sleepers may remain).

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use multiproc_core::futex::{self, Spin, WaitResult};

use crate::ident::{self, Me};

pub(crate) const WAITERS: u32 = 1 << 31;
pub(crate) const TID_MASK: u32 = (1 << 30) - 1;

/// How an `Event` or `Semaphore` waiter spins before it sleeps: a hand-over between two running
/// processes then costs no syscall on either side. (The lock itself never spins: see
/// `lock_slow`.)
pub(crate) const SPIN: Spin = Spin::Checks(100);
/// A sleeping acquirer looks at the owner's liveness after this much time asleep, then at
/// doubling intervals up to [`CHECK_MAX`].
pub(crate) const CHECK_FIRST: Duration = Duration::from_millis(1);
/// The longest a blocked acquirer sleeps without checking that the owner lives.
pub(crate) const CHECK_MAX: Duration = Duration::from_millis(8);

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
}

static_assertions::assert_eq_size!(RawLock, [u64; 2]);

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
        if self.try_fast(me) {
            return Acquired::Yes;
        }
        self.lock_slow(me, wait)
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
                return Acquired::TimedOut;
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
