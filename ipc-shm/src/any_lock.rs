//! [`AnyLock`]: the lock that guards a [`Value`](crate::Value) or [`Array`](crate::Array),
//! an [`RLock`] (Python's default) or a [`Lock`].

use std::fmt;

use multiproc_sync::{Lock, LockGuard, LockResult, OwnerDied, RLock, RLockGuard};
use serde::{Deserialize, Serialize};

/// The lock of a synchronised [`Value`](crate::Value) or [`Array`](crate::Array): an
/// [`RLock`] (the default, as in Python) or a [`Lock`] from `multiproc-sync`. Python's `lock=`
/// argument: pass one to [`Value::with_lock`](crate::Value::with_lock) /
/// [`Array::with_lock`](crate::Array::with_lock) — several values and arrays may share it.
///
/// [`Value::get_lock`](crate::Value::get_lock) returns it, to hold it across several
/// operations:
///
/// ```
/// use multiproc_shm::{Array, Value};
///
/// let n = Value::new(1u32)?;
/// let a = Array::with_lock(&[0u32; 4], n.get_lock().clone())?; // one lock for both
/// {
///     let _held = n.get_lock().lock().unwrap(); // an RLock: the accesses below re-enter it
///     n.set(n.get() + 1);
///     a.set(0, n.get())?;
/// }
/// assert_eq!(a.to_vec(), [2, 0, 0, 0]);
/// assert!(a.get_lock().same_as(n.get_lock()));
/// # Ok::<(), Box<dyn std::error::Error>>(())
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

    /// Acquires it, taking the lock over from a dead holder without telling (for the
    /// conveniences `get`, `set`, …, whose data stays valid whatever a dead writer left:
    /// [`Shareable`](crate::Shareable) rule 4).
    #[inline]
    pub(crate) fn lock_anyway(&self) -> AnyLockGuard<'_> {
        self.lock().unwrap_or_else(OwnerDied::into_inner)
    }

    /// Whether the calling thread holds it.
    #[inline]
    pub fn is_held_by_current_thread(&self) -> bool {
        match self {
            AnyLock::RLock(l) => l.is_held_by_current_thread(),
            AnyLock::Lock(l) => l.is_held_by_current_thread(),
        }
    }

    /// Which lock this is, in every process (see `multiproc_sync::Lock::id`).
    pub(crate) fn id(&self) -> multiproc_core::heap::ObjectId {
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

    /// Panics unless the calling thread holds the lock: what every guard checks right before
    /// it touches the data (see the crate docs, "Soundness").
    #[inline]
    #[track_caller]
    pub(crate) fn assert_held(&self) {
        assert!(
            self.is_held_by_current_thread(),
            "the lock guarding this shared data is not held by the calling thread \
             (released while a guard lived, or a guard copied into a forked child)"
        );
    }
}
