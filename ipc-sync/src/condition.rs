//! [`Condition`].

use std::cell::Cell;
use std::fmt;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use multiproc_core::futex::WaitWord;
use serde::{Deserialize, Serialize};

use crate::error::{LockResult, OwnerDied, TryLockError};
use crate::ident::{self, Me};
use crate::lock::Lock;
use crate::raw_lock::{Acquired, Deadline, RawLock, SPIN};
use crate::rlock::RLock;
use multiproc_core::heap::{Kind, Shared, SharedState};

mod sealed {
    use crate::raw_lock::RawLock;

    pub trait Sealed: Clone {
        fn raw_lock(&self) -> &RawLock;
        const REENTRANT: bool;
    }

    impl Sealed for crate::Lock {
        fn raw_lock(&self) -> &RawLock {
            self.raw()
        }
        const REENTRANT: bool = false;
    }

    impl Sealed for crate::RLock {
        fn raw_lock(&self) -> &RawLock {
            self.raw()
        }
        const REENTRANT: bool = true;
    }
}

/// A lock a [`Condition`] can be built over: [`Lock`] or [`RLock`] (sealed).
pub trait ConditionLock: sealed::Sealed {}

impl ConditionLock for Lock {}
impl ConditionLock for RLock {}

#[repr(C)]
pub(crate) struct ConditionState {
    /// Bumped by every notify: a waiter is notified once it changed.
    seq: AtomicU32,
    _pad: AtomicU32,
    /// Where waiters sleep until `seq` changes.
    wake: WaitWord,
}

// SAFETY: `#[repr(C)]`, atomics only (a `WaitWord` is four `AtomicU32`s).
unsafe impl SharedState for ConditionState {
    const KIND: Kind = Kind::new(*b"Cond");
}

/// A condition variable shared between processes: Python's `multiprocessing.Condition`.
///
/// Built over an [`RLock`] (the default, as in Python) or a [`Lock`]. Take the lock with
/// [`lock`](Self::lock); the guard [`wait`](ConditionGuard::wait)s (releasing the lock while
/// asleep, fully for an `RLock` held several times), [`wait_for`](ConditionGuard::wait_for)s a
/// predicate, and [`notify`](ConditionGuard::notify)s.
///
/// No wake-up is lost: a waiter reads the notification counter before it releases the lock,
/// and sleeps only while the counter is unchanged. Like a POSIX condition variable,
/// `notify(n)` wakes at least `n` waiters that were asleep (if there are that many) and may
/// also wake one that was just going to sleep, so wait in a loop or with
/// [`wait_for`](ConditionGuard::wait_for). A waiter that dies inside `wait` is simply no longer
/// a sleeper: the kernel drops it from the futex queue, so it absorbs no notification.
///
/// ```
/// let cond = multiproc_sync::Condition::new()?;
/// let mut g = cond.lock().unwrap();
/// // Nobody notifies: the wait times out, holding the lock again.
/// assert_eq!(g.wait_timeout(std::time::Duration::from_millis(2)).unwrap(), false);
/// g.notify_all();
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, Serialize, Deserialize)]
pub struct Condition<L = RLock> {
    lock: L,
    state: Shared<ConditionState>,
}

impl<L> fmt::Debug for Condition<L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Condition").finish_non_exhaustive()
    }
}

/// Holds a [`Condition`]'s lock; waits and notifies. Releases (one level of) the lock on drop.
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct ConditionGuard<'a, L: ConditionLock = RLock> {
    cond: &'a Condition<L>,
    /// Sleepers to wake once the lock is released (see [`notify`](Self::notify)).
    pending: Cell<u32>,
    _not_send: PhantomData<*const ()>,
}

impl<L: ConditionLock> fmt::Debug for ConditionGuard<'_, L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ConditionGuard")
    }
}

impl<L: ConditionLock> Drop for ConditionGuard<'_, L> {
    fn drop(&mut self) {
        // This thread holds the lock, as the guard's existence says.
        release_level::<L>(self.cond.lock.raw_lock(), ident::me());
        self.wake_pending();
    }
}

fn release_level<L: ConditionLock>(raw: &RawLock, me: Me) {
    if raw.owner() != me.tid {
        return;
    }
    if L::REENTRANT {
        let n = raw.count();
        if n > 1 {
            raw.set_count(n - 1);
            return;
        }
        raw.set_count(0);
    }
    raw.unlock(me.tid);
}

/// Acquires one level, waiting as `wait()` says (called only when another thread holds it).
fn acquire_level<L: ConditionLock>(
    raw: &RawLock,
    me: Me,
    wait: impl FnOnce() -> Deadline,
) -> Acquired {
    if L::REENTRANT && raw.owner() == me.tid {
        raw.set_count(raw.count() + 1);
        return Acquired::Yes;
    }
    let a = raw.lock_with(me, wait);
    if L::REENTRANT && a != Acquired::TimedOut {
        raw.set_count(1);
    }
    a
}

impl Condition<RLock> {
    /// A condition over a new [`RLock`] (Python's default).
    pub fn new() -> std::io::Result<Self> {
        Condition::with_lock(RLock::new()?)
    }
}

impl<L: ConditionLock> Condition<L> {
    /// A condition over `lock` (which other code may also take directly).
    pub fn with_lock(lock: L) -> std::io::Result<Self> {
        Ok(Condition {
            lock,
            state: Shared::new(|_| {})?,
        })
    }

    /// The lock underneath.
    pub fn lock_handle(&self) -> &L {
        &self.lock
    }

    fn guard(&self) -> ConditionGuard<'_, L> {
        ConditionGuard {
            cond: self,
            pending: Cell::new(0),
            _not_send: PhantomData,
        }
    }

    /// Acquires the lock, blocking for as long as it takes.
    ///
    /// # Errors
    /// [`OwnerDied`] (with the guard) when the previous holder died holding it.
    pub fn lock(&self) -> LockResult<ConditionGuard<'_, L>> {
        match acquire_level::<L>(self.lock.raw_lock(), ident::me(), || Deadline::Forever) {
            Acquired::Yes => Ok(self.guard()),
            _ => Err(OwnerDied(self.guard())),
        }
    }

    /// Acquires the lock, waiting at most `timeout` (`Duration::ZERO`: not at all).
    ///
    /// A holder's death is noticed as by [`Lock::lock_timeout`]: while waiting, and once more
    /// when the time runs out (at most once per millisecond per lock), so polling with
    /// `Duration::ZERO` sees it too.
    ///
    /// # Errors
    /// [`TryLockError::Timeout`]; [`TryLockError::OwnerDied`] (acquired).
    pub fn lock_timeout(
        &self,
        timeout: Duration,
    ) -> Result<ConditionGuard<'_, L>, TryLockError<ConditionGuard<'_, L>>> {
        match acquire_level::<L>(self.lock.raw_lock(), ident::me(), || {
            Deadline::from_timeout(Some(timeout))
        }) {
            Acquired::Yes => Ok(self.guard()),
            Acquired::OwnerDied => Err(TryLockError::OwnerDied(self.guard())),
            Acquired::TimedOut => Err(TryLockError::Timeout),
        }
    }
}

impl<L: ConditionLock> ConditionGuard<'_, L> {
    /// Releases the lock, sleeps until notified, and takes the lock again (at the depth it
    /// had), like Python's `Condition.wait()`. Wake-ups may be spurious: wait in a loop, or
    /// with [`wait_for`](Self::wait_for).
    ///
    /// # Errors
    /// `OwnerDied(())` when, taking the lock back, it found that its holder had died holding
    /// it; the lock is held again all the same.
    pub fn wait(&mut self) -> Result<(), OwnerDied<()>> {
        self.wait_deadline(Deadline::Forever)
            .map(|_| ())
            .map_err(|_| OwnerDied(()))
    }

    /// [`wait`](Self::wait) for at most `timeout`. Returns whether it was notified (`false`:
    /// timed out), like Python's `Condition.wait(timeout)`.
    ///
    /// # Errors
    /// `OwnerDied(notified)` when, taking the lock back, it found that its holder had died
    /// holding it; the lock is held again all the same.
    pub fn wait_timeout(&mut self, timeout: Duration) -> Result<bool, OwnerDied<bool>> {
        self.wait_deadline(Deadline::after(timeout))
    }

    fn wait_deadline(&mut self, wait: Deadline) -> Result<bool, OwnerDied<bool>> {
        let me = ident::me();
        let s = self.cond.state.get();
        let raw = self.cond.lock.raw_lock();
        let seen = s.seq.load(Ordering::SeqCst);
        // Release fully (every level of an RLock), remembering the depth.
        let depth = if L::REENTRANT { raw.count() } else { 1 };
        if L::REENTRANT {
            raw.set_count(0);
        }
        raw.unlock(me.tid);
        self.wake_pending();
        // A spin pays while the notifier runs on another core: it notifies holding the lock and
        // lets go right after, so a waiter that saw the notification spins for the lock too
        // (one policy and one record, the word's: on a shared core both stop paying).
        let changed = || s.seq.load(Ordering::Acquire) != seen;
        let notified = s.wake.wait_until(changed, wait, SPIN);
        if notified && raw.owner() != 0 {
            s.wake.spin_until(|| raw.owner() == 0, SPIN);
        }
        let a = raw.lock(me, Deadline::Forever);
        if L::REENTRANT {
            raw.set_count(depth);
        }
        match a {
            Acquired::OwnerDied => Err(OwnerDied(notified)),
            _ => Ok(notified),
        }
    }

    /// Waits until `predicate()` holds (checked with the lock held, first before any wait),
    /// like Python's `wait_for(predicate)`.
    ///
    /// # Errors
    /// `OwnerDied(())` when re-taking the lock found a dead holder; the wait carried on until
    /// the predicate held.
    pub fn wait_for(&mut self, predicate: impl FnMut() -> bool) -> Result<(), OwnerDied<()>> {
        self.wait_for_deadline(predicate, Deadline::Forever)
            .map(|_| ())
            .map_err(|_| OwnerDied(()))
    }

    /// [`wait_for`](Self::wait_for) for at most `timeout`. Returns the predicate's last value,
    /// like Python's `wait_for(predicate, timeout)`.
    ///
    /// # Errors
    /// `OwnerDied(value)` when re-taking the lock found a dead holder; the wait carried on and
    /// `value` is the predicate's last value.
    pub fn wait_for_timeout(
        &mut self,
        predicate: impl FnMut() -> bool,
        timeout: Duration,
    ) -> Result<bool, OwnerDied<bool>> {
        self.wait_for_deadline(predicate, Deadline::after(timeout))
    }

    fn wait_for_deadline(
        &mut self,
        mut predicate: impl FnMut() -> bool,
        wait: Deadline,
    ) -> Result<bool, OwnerDied<bool>> {
        let mut died = false;
        let ok = loop {
            if predicate() {
                break true;
            }
            if wait.is_over() {
                break predicate();
            }
            if self.wait_deadline(wait).is_err() {
                died = true;
            }
        };
        if died { Err(OwnerDied(ok)) } else { Ok(ok) }
    }

    /// Wakes up to `n` waiters (they run once this guard releases the lock).
    ///
    /// A waiter that is not asleep yet (spinning, or about to sleep) sees the notification at
    /// once; sleepers are woken right after this guard releases the lock (when it drops, or
    /// when it [`wait`](Self::wait)s), so that a woken waiter finds the lock free instead of
    /// going back to sleep on it. (A notifier that dies holding the lock wakes nobody: the
    /// state it was changing is half-changed anyway; the next notify wakes the sleepers.)
    pub fn notify(&self, n: u32) {
        let s = self.cond.state.get();
        s.seq.fetch_add(1, Ordering::SeqCst);
        self.pending
            .set(self.pending.get().saturating_add(n).min(i32::MAX as u32));
    }

    /// Wakes the sleepers notified while the lock was held (after the `SeqCst` bump of `seq`
    /// in `notify`, as the wait protocol asks).
    fn wake_pending(&self) {
        let n = self.pending.replace(0);
        if n > 0 {
            self.cond.state.get().wake.notify(n);
        }
    }

    /// Wakes every waiter.
    pub fn notify_all(&self) {
        self.notify(i32::MAX as u32);
    }
}
