//! [`Lock`]: a non-recursive lock shared between processes.

use std::fmt;
use std::marker::PhantomData;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{Error, LockResult, OwnerDied, TryLockError};
use crate::ident;
use crate::raw_lock::{Acquired, Deadline, RawLock};
use multiproc_core::heap::{Kind, ObjectId, Shared, SharedState};

#[repr(C)]
pub(crate) struct LockState {
    pub(crate) raw: RawLock,
}

// SAFETY: `#[repr(C)]`, atomics only (`RawLock`), 24 bytes, alignment 8.
unsafe impl SharedState for LockState {
    const KIND: Kind = Kind::new(*b"Lock");
}

/// A lock shared between processes: Python's `multiprocessing.Lock`.
///
/// At most one thread of one process holds it. Acquire it with [`lock`](Self::lock) (a guard
/// that releases on drop), [`try_lock`](Self::try_lock), [`lock_timeout`](Self::lock_timeout),
/// or the plain [`acquire`](Self::acquire) / [`release`](Self::release) pair.
///
/// Not re-entrant: a thread that acquires a `Lock` it holds waits for itself (forever, or until
/// its timeout), as in Python; use [`RLock`](crate::RLock) for that. Only the holder may
/// release it ([`Error::NotOwner`] otherwise; Python's `Lock` would let any process release).
///
/// If the holder dies, the next acquirer gets [`OwnerDied`] with the lock held (see the crate
/// docs for how fast that is noticed).
///
/// A handle: [`Clone`] shares it within a process; across `fork` it is inherited, and it
/// travels to any process through [`multiproc_core::transfer`] (serde; its memfd goes out of band).
///
/// ```
/// let lock = multiproc_sync::Lock::new()?;
/// {
///     let _guard = lock.lock().unwrap();
///     assert!(lock.try_lock().is_err());
/// }
/// assert!(lock.try_lock().is_ok());
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Lock {
    state: Shared<LockState>,
}

impl fmt::Debug for Lock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lock")
            .field("owner_tid", &self.raw().owner())
            .finish()
    }
}

/// Holds a [`Lock`]; releases it when dropped.
///
/// Not `Send`: the lock belongs to the thread that acquired it.
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct LockGuard<'a> {
    lock: &'a Lock,
    _not_send: PhantomData<*const ()>,
}

impl fmt::Debug for LockGuard<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LockGuard")
    }
}

impl Drop for LockGuard<'_> {
    fn drop(&mut self) {
        // The lock is held by this thread, as the guard's existence says. (In a forked child,
        // a copied guard names a lock held by the parent's thread: `unlock` sees another owner
        // and leaves it alone.)
        self.lock.raw().unlock(ident::me().tid);
    }
}

impl Lock {
    /// A new, unlocked lock in a fresh shared page.
    pub fn new() -> std::io::Result<Lock> {
        Ok(Lock {
            state: Shared::new(|_| {})?,
        })
    }

    #[inline]
    pub(crate) fn raw(&self) -> &RawLock {
        &self.state.get().raw
    }

    fn guard(&self) -> LockGuard<'_> {
        LockGuard {
            lock: self,
            _not_send: PhantomData,
        }
    }

    fn outcome(&self, a: Acquired) -> Result<LockGuard<'_>, TryLockError<LockGuard<'_>>> {
        match a {
            Acquired::Yes => Ok(self.guard()),
            Acquired::OwnerDied => Err(TryLockError::OwnerDied(self.guard())),
            Acquired::TimedOut => Err(TryLockError::Timeout),
        }
    }

    /// Acquires, blocking for as long as it takes.
    ///
    /// # Errors
    /// [`OwnerDied`] (with the guard) when the previous holder died holding it.
    #[inline]
    pub fn lock(&self) -> LockResult<LockGuard<'_>> {
        match self.raw().lock(ident::me(), Deadline::Forever) {
            Acquired::Yes => Ok(self.guard()),
            _ => Err(OwnerDied(self.guard())),
        }
    }

    /// Acquires as a future (feature `tokio`), waiting without blocking a thread; the guard
    /// ([`AsyncLockGuard`](crate::AsyncLockGuard)) may be held across `.await`s and dropped on
    /// any thread. A holder's death is noticed as by [`lock`](Self::lock).
    ///
    /// Resolves to `Err(OwnerDied(guard))` (acquired) when the previous holder died holding it.
    #[cfg(feature = "tokio")]
    pub fn lock_async(&self) -> crate::LockAsync {
        crate::LockAsync::new(self.clone())
    }

    /// Acquires only if nobody holds it now (Python's `acquire(block=False)`).
    ///
    /// When the lock is held, the attempt also checks whether the holder still lives (at most
    /// once per millisecond per lock, whoever polls), so a loop of `try_lock` learns of a dead
    /// holder about a millisecond after its death; the check costs nothing when the lock is
    /// free.
    ///
    /// # Errors
    /// [`TryLockError::Timeout`] when held; [`TryLockError::OwnerDied`] (acquired) when the
    /// holder died holding it.
    #[inline]
    pub fn try_lock(&self) -> Result<LockGuard<'_>, TryLockError<LockGuard<'_>>> {
        self.outcome(self.raw().lock(ident::me(), Deadline::No))
    }

    /// Acquires, waiting at most `timeout` (Python's `acquire(timeout=...)`).
    ///
    /// A holder's death is noticed while waiting, and once more when the time runs out (as
    /// for [`try_lock`](Self::try_lock)), so polling with short timeouts sees it too.
    ///
    /// # Errors
    /// [`TryLockError::Timeout`] when still held after `timeout`; [`TryLockError::OwnerDied`]
    /// (with the guard) when the previous holder died holding it.
    #[inline]
    pub fn lock_timeout(
        &self,
        timeout: Duration,
    ) -> Result<LockGuard<'_>, TryLockError<LockGuard<'_>>> {
        self.outcome(
            self.raw()
                .lock_with(ident::me(), || Deadline::from_timeout(Some(timeout))),
        )
    }

    /// Acquires without a guard, waiting as long as it takes (Python's `acquire()`), for code
    /// that must release elsewhere: pair it with [`release`](Self::release).
    ///
    /// # Errors
    /// `OwnerDied(())` when the previous holder died holding it; the lock is held all the same.
    pub fn acquire(&self) -> Result<(), OwnerDied<()>> {
        match self.raw().lock(ident::me(), Deadline::Forever) {
            Acquired::OwnerDied => Err(OwnerDied(())),
            _ => Ok(()),
        }
    }

    /// [`acquire`](Self::acquire) if it is free now (Python's `acquire(block=False)`).
    ///
    /// # Errors
    /// As [`try_lock`](Self::try_lock); `Err(TryLockError::OwnerDied(()))` means acquired.
    pub fn try_acquire(&self) -> Result<(), TryLockError<()>> {
        raw_outcome(self.raw().lock(ident::me(), Deadline::No))
    }

    /// [`acquire`](Self::acquire), waiting at most `timeout` (Python's `acquire(timeout=…)`).
    ///
    /// # Errors
    /// As [`lock_timeout`](Self::lock_timeout); `Err(TryLockError::OwnerDied(()))` means
    /// acquired.
    pub fn acquire_timeout(&self, timeout: Duration) -> Result<(), TryLockError<()>> {
        raw_outcome(
            self.raw()
                .lock_with(ident::me(), || Deadline::from_timeout(Some(timeout))),
        )
    }

    /// Releases a lock taken with [`acquire`](Self::acquire) (or a guard given up with
    /// [`std::mem::forget`]).
    ///
    /// # Errors
    /// [`Error::NotOwner`] when the calling thread does not hold it.
    pub fn release(&self) -> Result<(), Error> {
        if self.raw().unlock(ident::me().tid) {
            Ok(())
        } else {
            Err(Error::NotOwner)
        }
    }

    /// Whether some thread holds it now (a snapshot).
    pub fn is_locked(&self) -> bool {
        self.raw().owner() != 0
    }

    /// Whether the calling thread holds it (a few nanoseconds: one atomic load and a cached
    /// thread id). A forked child never holds what its parent held, even with a copied guard;
    /// code that guards data with this lock checks this right before touching the data
    /// (`multiproc-shm` does).
    ///
    /// ```
    /// let lock = multiproc_sync::Lock::new()?;
    /// assert!(!lock.is_held_by_current_thread());
    /// let g = lock.lock().unwrap();
    /// assert!(lock.is_held_by_current_thread());
    /// drop(g);
    /// assert!(!lock.is_held_by_current_thread());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[inline]
    pub fn is_held_by_current_thread(&self) -> bool {
        self.raw().owner() == ident::me().tid
    }

    /// Whether both handles are the same lock.
    pub fn same_as(&self, other: &Lock) -> bool {
        self.state.same(&other.state)
    }

    /// Which lock this is, the same in every process that holds a handle to it: for data that
    /// must stay paired with its lock (recorded as a guard in the data's header).
    pub fn id(&self) -> ObjectId {
        self.state.id()
    }
}

/// What a guard-less acquire reports.
pub(crate) fn raw_outcome(a: Acquired) -> Result<(), TryLockError<()>> {
    match a {
        Acquired::Yes => Ok(()),
        Acquired::OwnerDied => Err(TryLockError::OwnerDied(())),
        Acquired::TimedOut => Err(TryLockError::Timeout),
    }
}
