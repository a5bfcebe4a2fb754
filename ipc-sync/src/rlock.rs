//! [`RLock`]: a re-entrant lock shared between processes.

use std::fmt;
use std::marker::PhantomData;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{Error, LockResult, OwnerDied, TryLockError};
use crate::ident::{self, Me};
use crate::raw_lock::{Acquired, Deadline, RawLock};
use multiproc_core::heap::{Kind, ObjectId, Shared, SharedState};

#[repr(C)]
pub(crate) struct RLockState {
    pub(crate) raw: RawLock,
}

// SAFETY: `#[repr(C)]`, atomics only (`RawLock`), 24 bytes, alignment 8.
unsafe impl SharedState for RLockState {
    const KIND: Kind = Kind::new(*b"RLck");
}

/// A re-entrant lock shared between processes: Python's `multiprocessing.RLock`.
///
/// The thread that holds it may acquire it again; it is free once released as many times as
/// acquired. Only the owning thread of the owning process may release it
/// ([`Error::NotOwner`] otherwise). If the owner dies, the next acquirer gets [`OwnerDied`]
/// with the lock held once, whatever depth the dead owner had reached.
///
/// A handle: clone it within a process; it is inherited by `fork` and travels through
/// [`multiproc_core::transfer`].
///
/// ```
/// let lock = multiproc_sync::RLock::new()?;
/// let outer = lock.lock().unwrap();
/// let inner = lock.lock().unwrap(); // the same thread: no deadlock
/// assert_eq!(lock.depth(), 2);
/// drop(inner);
/// drop(outer);
/// assert_eq!(lock.depth(), 0);
/// assert!(lock.release().is_err()); // not held
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RLock {
    state: Shared<RLockState>,
}

impl fmt::Debug for RLock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RLock")
            .field("owner_tid", &self.raw().owner())
            .finish()
    }
}

/// Holds one level of an [`RLock`]; releases that level when dropped. Not `Send`.
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct RLockGuard<'a> {
    lock: &'a RLock,
    _not_send: PhantomData<*const ()>,
}

impl fmt::Debug for RLockGuard<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RLockGuard")
    }
}

impl Drop for RLockGuard<'_> {
    fn drop(&mut self) {
        // This thread holds the lock at least once, as the guard's existence says.
        let _ = self.lock.release_as(ident::me());
    }
}

impl RLock {
    /// A new, unlocked re-entrant lock in a fresh shared page.
    pub fn new() -> std::io::Result<RLock> {
        Ok(RLock {
            state: Shared::new(|_| {})?,
        })
    }

    #[inline]
    pub(crate) fn raw(&self) -> &RawLock {
        &self.state.get().raw
    }

    /// Acquires one level, waiting as `wait()` says (called only when the lock is held by
    /// another thread).
    #[inline]
    fn acquire_as(&self, me: Me, wait: impl FnOnce() -> Deadline) -> Acquired {
        let raw = self.raw();
        if raw.owner() == me.tid {
            let n = raw.count();
            assert!(n < u32::MAX, "RLock acquired too many times");
            raw.set_count(n + 1);
            return Acquired::Yes;
        }
        let a = raw.lock_with(me, wait);
        if a != Acquired::TimedOut {
            raw.set_count(1);
        }
        a
    }

    #[inline]
    fn release_as(&self, me: Me) -> Result<(), Error> {
        let raw = self.raw();
        if raw.owner() != me.tid {
            return Err(Error::NotOwner);
        }
        let n = raw.count();
        if n > 1 {
            raw.set_count(n - 1);
            return Ok(());
        }
        raw.set_count(0);
        if raw.unlock(me.tid) {
            Ok(())
        } else {
            Err(Error::NotOwner)
        }
    }

    fn guard(&self) -> RLockGuard<'_> {
        RLockGuard {
            lock: self,
            _not_send: PhantomData,
        }
    }

    fn outcome(&self, a: Acquired) -> Result<RLockGuard<'_>, TryLockError<RLockGuard<'_>>> {
        match a {
            Acquired::Yes => Ok(self.guard()),
            Acquired::OwnerDied => Err(TryLockError::OwnerDied(self.guard())),
            Acquired::TimedOut => Err(TryLockError::Timeout),
        }
    }

    /// Acquires (again, if this thread holds it), blocking for as long as it takes.
    ///
    /// # Errors
    /// [`OwnerDied`] (with the guard) when the previous owner died holding it.
    #[inline]
    pub fn lock(&self) -> LockResult<RLockGuard<'_>> {
        match self.acquire_as(ident::me(), || Deadline::Forever) {
            Acquired::Yes => Ok(self.guard()),
            _ => Err(OwnerDied(self.guard())),
        }
    }

    /// Acquires once as a future (feature `tokio`), waiting without blocking a thread; the
    /// guard ([`AsyncRLockGuard`](crate::AsyncRLockGuard)) may be held across `.await`s and
    /// dropped on any thread. Not re-entrant (see the guard).
    ///
    /// Resolves to `Err(OwnerDied(guard))` (acquired) when the previous holder died holding it.
    #[cfg(feature = "tokio")]
    pub fn lock_async(&self) -> crate::RLockAsync {
        crate::RLockAsync::new(self.clone())
    }

    /// Acquires only if free or already held by this thread.
    ///
    /// When another thread holds it, the attempt also checks whether that holder still lives
    /// (at most once per millisecond per lock), as [`Lock::try_lock`](crate::Lock::try_lock)
    /// does.
    ///
    /// # Errors
    /// [`TryLockError::Timeout`] when another thread holds it; [`TryLockError::OwnerDied`]
    /// (acquired once) when the holder died holding it.
    #[inline]
    pub fn try_lock(&self) -> Result<RLockGuard<'_>, TryLockError<RLockGuard<'_>>> {
        self.outcome(self.acquire_as(ident::me(), || Deadline::No))
    }

    /// Acquires, waiting at most `timeout`; a dead holder is noticed as by
    /// [`Lock::lock_timeout`](crate::Lock::lock_timeout).
    ///
    /// # Errors
    /// [`TryLockError::Timeout`]; [`TryLockError::OwnerDied`] (acquired).
    pub fn lock_timeout(
        &self,
        timeout: Duration,
    ) -> Result<RLockGuard<'_>, TryLockError<RLockGuard<'_>>> {
        self.outcome(self.acquire_as(ident::me(), || Deadline::from_timeout(Some(timeout))))
    }

    /// Acquires one level without a guard, waiting as long as it takes (Python's
    /// `acquire()`). Pair each with a [`release`](Self::release).
    ///
    /// # Errors
    /// `OwnerDied(())` when the previous holder died holding it; the lock is held all the same.
    pub fn acquire(&self) -> Result<(), OwnerDied<()>> {
        match self.acquire_as(ident::me(), || Deadline::Forever) {
            Acquired::OwnerDied => Err(OwnerDied(())),
            _ => Ok(()),
        }
    }

    /// [`acquire`](Self::acquire) if it is free (or held by this thread) now.
    ///
    /// # Errors
    /// As [`try_lock`](Self::try_lock); `Err(TryLockError::OwnerDied(()))` means acquired.
    pub fn try_acquire(&self) -> Result<(), TryLockError<()>> {
        crate::lock::raw_outcome(self.acquire_as(ident::me(), || Deadline::No))
    }

    /// [`acquire`](Self::acquire), waiting at most `timeout`.
    ///
    /// # Errors
    /// As [`lock_timeout`](Self::lock_timeout); `Err(TryLockError::OwnerDied(()))` means
    /// acquired.
    pub fn acquire_timeout(&self, timeout: Duration) -> Result<(), TryLockError<()>> {
        crate::lock::raw_outcome(
            self.acquire_as(ident::me(), || Deadline::from_timeout(Some(timeout))),
        )
    }

    /// Releases one level.
    ///
    /// # Errors
    /// [`Error::NotOwner`] when the calling thread does not hold it.
    pub fn release(&self) -> Result<(), Error> {
        self.release_as(ident::me())
    }

    /// How many times the calling thread holds it (0 when it does not).
    pub fn depth(&self) -> u32 {
        let raw = self.raw();
        if raw.owner() == ident::me().tid {
            raw.count()
        } else {
            0
        }
    }

    /// Whether some thread holds it now (a snapshot).
    pub fn is_locked(&self) -> bool {
        self.raw().owner() != 0
    }

    /// Whether the calling thread holds it at least once (`depth() > 0`, without reading the
    /// depth). See [`Lock::is_held_by_current_thread`](crate::Lock::is_held_by_current_thread).
    #[inline]
    pub fn is_held_by_current_thread(&self) -> bool {
        self.raw().owner() == ident::me().tid
    }

    /// Whether both handles are the same lock.
    pub fn same_as(&self, other: &RLock) -> bool {
        self.state.same(&other.state)
    }

    /// Which lock this is, the same in every process that holds a handle to it: for data that
    /// must stay paired with its lock (recorded as a guard in the data's header).
    pub fn id(&self) -> ObjectId {
        self.state.id()
    }
}
