//! What the primitives report: [`Error`] for misuse, and the outcomes a caller branches on —
//! [`OwnerDied`] (the lock is yours, but its last owner died holding it), [`TryLockError`],
//! [`BrokenBarrier`].

use std::fmt;

/// Misuse of a primitive (Python raises `ValueError` or `RuntimeError` for these).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// `release` by a thread that does not hold the lock (or of a lock nobody holds).
    NotOwner,
    /// `release` of a [`BoundedSemaphore`](crate::BoundedSemaphore) already at its bound.
    BoundExceeded {
        /// The initial value, which the value may not exceed.
        bound: u32,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NotOwner => f.write_str("released by a thread that does not hold it"),
            Error::BoundExceeded { bound } => {
                write!(f, "semaphore released too many times (bound {bound})")
            }
        }
    }
}

impl std::error::Error for Error {}

/// The lock was acquired, but the thread that held it before died holding it (a process killed
/// in its critical section, or a thread that exited without releasing).
///
/// The guarded state may be half-updated: repair it, then carry on with the guard from
/// [`into_inner`](Self::into_inner). Only the acquirer that takes the lock over from the dead
/// owner sees this; later acquirers see an ordinary lock. Like a robust mutex's `EOWNERDEAD`.
pub struct OwnerDied<T>(pub T);

impl<T> OwnerDied<T> {
    /// The guard (or value) that was acquired anyway.
    pub fn into_inner(self) -> T {
        self.0
    }

    /// A reference to it.
    pub fn get_ref(&self) -> &T {
        &self.0
    }
}

impl<T: PartialEq> PartialEq for OwnerDied<T> {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0
    }
}

impl<T> fmt::Debug for OwnerDied<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OwnerDied(..)")
    }
}

impl<T> fmt::Display for OwnerDied<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the previous owner died holding the lock")
    }
}

impl<T> std::error::Error for OwnerDied<T> {}

/// `Ok(guard)`, or `Err(OwnerDied(guard))`: either way the lock is held.
pub type LockResult<G> = Result<G, OwnerDied<G>>;

/// Why a non-blocking or timed acquire gave no plain guard.
pub enum TryLockError<T> {
    /// Not acquired: someone else held it for the whole time allowed (at once, for `try_`).
    Timeout,
    /// Acquired from an owner that died holding it; see [`OwnerDied`].
    OwnerDied(T),
}

impl<T> TryLockError<T> {
    /// The guard when the lock was acquired (from a dead owner), `None` on timeout.
    pub fn into_owner_died(self) -> Option<T> {
        match self {
            TryLockError::Timeout => None,
            TryLockError::OwnerDied(g) => Some(g),
        }
    }
}

impl<T> From<OwnerDied<T>> for TryLockError<T> {
    fn from(e: OwnerDied<T>) -> Self {
        TryLockError::OwnerDied(e.0)
    }
}

impl<T> fmt::Debug for TryLockError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryLockError::Timeout => f.write_str("Timeout"),
            TryLockError::OwnerDied(_) => f.write_str("OwnerDied(..)"),
        }
    }
}

impl<T> fmt::Display for TryLockError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryLockError::Timeout => f.write_str("timed out waiting for the lock"),
            TryLockError::OwnerDied(_) => f.write_str("the previous owner died holding the lock"),
        }
    }
}

impl<T> std::error::Error for TryLockError<T> {}

/// A [`Barrier`](crate::Barrier) wait failed: the barrier was broken (by a timeout, an
/// [`abort`](crate::Barrier::abort), a [`reset`](crate::Barrier::reset) while this party waited,
/// a panicking action, or the death of the party running the action). Python's
/// `BrokenBarrierError`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BrokenBarrier;

impl fmt::Display for BrokenBarrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the barrier is broken")
    }
}

impl std::error::Error for BrokenBarrier {}
