//! [`AnyLock`]: a [`Lock`] or an [`RLock`], chosen at run time (the lock `multiproc-shm`'s
//! `Value` and `Array` are guarded by, Python's `lock=` argument).

use std::fmt;
use std::time::Duration;

use multiproc_core::heap::ObjectId;
use serde::{Deserialize, Serialize};

use crate::error::{LockResult, OwnerDied, TryLockError};
use crate::lock::{Lock, LockGuard};
use crate::rlock::{RLock, RLockGuard};

/// A [`Lock`] or an [`RLock`], chosen at run time: what guards a `multiproc-shm` `Value` or
/// `Array` (an `RLock` by default, as in Python; several values and arrays may share one).
/// Code generic over the two at compile time uses [`ConditionLock`](crate::ConditionLock)
/// instead.
///
/// ```
/// use multiproc_sync::{AnyLock, Lock};
///
/// let l = AnyLock::new()?; // an RLock, Python's default
/// let held = l.lock().unwrap();
/// let again = l.lock().unwrap(); // re-entered
/// assert!(l.is_held_by_current_thread());
/// drop((again, held));
/// let plain = AnyLock::from(Lock::new()?);
/// assert!(plain.try_lock().is_ok());
/// assert!(!plain.same_as(&l));
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// With a [`Lock`] (not re-entrant), as in Python, holding it and then calling a convenience
/// method of a value it guards waits forever: use the value's guard instead.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum AnyLock {
    /// A re-entrant lock (Python's default).
    RLock(RLock),
    /// A plain lock.
    Lock(Lock),
}

impl From<RLock> for AnyLock {
    fn from(l: RLock) -> Self {
        AnyLock::RLock(l)
    }
}

impl From<Lock> for AnyLock {
    fn from(l: Lock) -> Self {
        AnyLock::Lock(l)
    }
}

/// Holds an [`AnyLock`]; releases it when dropped. Not `Send`.
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct AnyLockGuard<'a> {
    _inner: Inner<'a>,
}

// The guards are held for their `Drop` (which releases), never read.
#[allow(dead_code)]
enum Inner<'a> {
    R(RLockGuard<'a>),
    L(LockGuard<'a>),
}

impl fmt::Debug for AnyLockGuard<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AnyLockGuard")
    }
}

fn wrap_try<'a, G>(
    r: Result<G, TryLockError<G>>,
    f: impl Fn(G) -> Inner<'a>,
) -> Result<AnyLockGuard<'a>, TryLockError<AnyLockGuard<'a>>> {
    match r {
        Ok(g) => Ok(AnyLockGuard { _inner: f(g) }),
        Err(TryLockError::OwnerDied(g)) => {
            Err(TryLockError::OwnerDied(AnyLockGuard { _inner: f(g) }))
        }
        Err(TryLockError::Timeout) => Err(TryLockError::Timeout),
    }
}

fn wrap<'a, G>(r: LockResult<G>, f: impl Fn(G) -> Inner<'a>) -> LockResult<AnyLockGuard<'a>> {
    match r {
        Ok(g) => Ok(AnyLockGuard { _inner: f(g) }),
        Err(OwnerDied(g)) => Err(OwnerDied(AnyLockGuard { _inner: f(g) })),
    }
}

impl AnyLock {
    /// A new [`RLock`], Python's default.
    pub fn new() -> std::io::Result<AnyLock> {
        Ok(AnyLock::RLock(RLock::new()?))
    }

    /// Acquires it (again, for an `RLock` this thread holds), blocking as long as it takes.
    ///
    /// # Errors
    /// [`OwnerDied`] (with the guard: the lock is held) when the previous holder died
    /// holding it.
    #[inline]
    pub fn lock(&self) -> LockResult<AnyLockGuard<'_>> {
        match self {
            AnyLock::RLock(l) => wrap(l.lock(), Inner::R),
            AnyLock::Lock(l) => wrap(l.lock(), Inner::L),
        }
    }

    /// Acquires it if it is free (or, for an `RLock`, held by this thread) now.
    ///
    /// # Errors
    /// [`TryLockError::Timeout`] when another thread holds it; [`TryLockError::OwnerDied`]
    /// (acquired) when its holder died holding it.
    pub fn try_lock(&self) -> Result<AnyLockGuard<'_>, TryLockError<AnyLockGuard<'_>>> {
        match self {
            AnyLock::RLock(l) => wrap_try(l.try_lock(), Inner::R),
            AnyLock::Lock(l) => wrap_try(l.try_lock(), Inner::L),
        }
    }

    /// Acquires it, waiting at most `timeout`.
    ///
    /// # Errors
    /// As [`try_lock`](Self::try_lock), after `timeout`.
    pub fn lock_timeout(
        &self,
        timeout: Duration,
    ) -> Result<AnyLockGuard<'_>, TryLockError<AnyLockGuard<'_>>> {
        match self {
            AnyLock::RLock(l) => wrap_try(l.lock_timeout(timeout), Inner::R),
            AnyLock::Lock(l) => wrap_try(l.lock_timeout(timeout), Inner::L),
        }
    }

    /// Whether the calling thread holds it.
    #[inline]
    pub fn is_held_by_current_thread(&self) -> bool {
        match self {
            AnyLock::RLock(l) => l.is_held_by_current_thread(),
            AnyLock::Lock(l) => l.is_held_by_current_thread(),
        }
    }

    /// Which lock this is, in every process (see [`Lock::id`]).
    pub fn id(&self) -> ObjectId {
        match self {
            AnyLock::RLock(l) => l.id(),
            AnyLock::Lock(l) => l.id(),
        }
    }

    /// Whether both are the same lock.
    pub fn same_as(&self, other: &AnyLock) -> bool {
        match (self, other) {
            (AnyLock::RLock(a), AnyLock::RLock(b)) => a.same_as(b),
            (AnyLock::Lock(a), AnyLock::Lock(b)) => a.same_as(b),
            _ => false,
        }
    }
}
