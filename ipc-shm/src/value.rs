//! [`Value`]: one shared `T` behind a process-shared lock.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::Shareable;
use multiproc_sync::{AnyLock, AnyLockGuard, LockResult, OwnerDied, TryLockError};

use crate::locking::{assert_held, lock_anyway};
use multiproc_core::heap::Refusal;

use crate::region::{Kind, Region, wire};

/// One `T` in shared memory, guarded by a process-shared lock: Python's
/// `multiprocessing.Value(typecode, value)`.
///
/// Synchronised like Python's: every [`get`](Self::get), [`set`](Self::set) and
/// [`update`](Self::update) takes the lock (an [`RLock`](multiproc_sync::RLock) unless you give
/// another with [`with_lock`](Self::with_lock)); [`lock`](Self::lock) holds it across several
/// steps, as Python's `with v.get_lock():` does. Values are copied in and out; no reference to
/// the shared memory is ever handed out (see the crate docs, "Soundness"). For Python's
/// `lock=False`, use [`RawValue`](crate::RawValue).
///
/// A handle: [`Clone`] shares it within a process; a child gets it by `fork`, or as a serde
/// argument of `multiproc-process` under `spawn` and `forkserver` (its memfd and its lock travel out
/// of band).
///
/// ```
/// let n = multiproc_shm::Value::new(7i32)?;
/// n.update(|v| *v *= *v); // Python: n.value **= 2
/// assert_eq!(n.get(), 49);
/// let mut g = n.lock().unwrap(); // with n.get_lock(): ...
/// g.set(g.get() + 1);
/// drop(g);
/// assert_eq!(n.get(), 50);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Serialize, Deserialize)]
#[serde(bound = "T: Shareable", try_from = "ValueWire<T>")]
pub struct Value<T: Shareable> {
    #[serde(with = "wire::value")]
    region: Region<T>,
    lock: AnyLock,
}

/// What a received handle is rebuilt from; checked before it becomes a `Value`.
#[derive(Deserialize)]
#[serde(bound = "T: Shareable")]
struct ValueWire<T: Shareable> {
    #[serde(with = "wire::value")]
    region: Region<T>,
    lock: AnyLock,
}

impl<T: Shareable> TryFrom<ValueWire<T>> for Value<T> {
    type Error = serde::de::value::Error;
    fn try_from(w: ValueWire<T>) -> Result<Self, Self::Error> {
        if !w.region.guarded_by(w.lock.id()) {
            let why = multiproc_core::Error::Refused(Refusal::WrongGuard);
            return Err(multiproc_core::transfer::fail_de(why));
        }
        Ok(Value {
            region: w.region,
            lock: w.lock,
        })
    }
}

impl<T: Shareable> Clone for Value<T> {
    fn clone(&self) -> Self {
        Value {
            region: self.region.clone(),
            lock: self.lock.clone(),
        }
    }
}

impl<T: Shareable + Copy + fmt::Debug> fmt::Debug for Value<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Value")
            .field("value", &self.get())
            .field("lock", &self.lock)
            .finish()
    }
}

impl<T: Shareable + Copy> Value<T> {
    /// A new value, guarded by a new [`RLock`](multiproc_sync::RLock) (Python's `Value(t, v)`).
    pub fn new(value: T) -> std::io::Result<Value<T>> {
        Self::with_lock(value, AnyLock::new()?)
    }

    /// A new zero value (Python's `Value('i')`).
    pub fn zeroed() -> std::io::Result<Value<T>> {
        let lock = AnyLock::new()?;
        let region = Region::create(Kind::Value, 1, Some(lock.id()))?;
        Ok(Value { region, lock })
    }

    /// A new value guarded by `lock`, which other values and arrays may share (Python's
    /// `Value(t, v, lock=lock)`).
    pub fn with_lock(value: T, lock: impl Into<AnyLock>) -> std::io::Result<Value<T>> {
        let lock = lock.into();
        let region = Region::<T>::create(Kind::Value, 1, Some(lock.id()))?;
        // SAFETY: the region was just made and no other handle to it exists yet; it holds one
        // aligned `T`.
        unsafe { region.ptr().write(value) };
        Ok(Value { region, lock })
    }

    /// The lock (Python's `get_lock()`).
    pub fn get_lock(&self) -> &AnyLock {
        &self.lock
    }

    /// Takes the lock and returns a guard that reads and writes the value while it lives.
    ///
    /// # Errors
    /// [`OwnerDied`] (with the guard: the lock is held) when the previous holder died holding
    /// it; the value is what it left (valid, [`Shareable`] rule 4).
    pub fn lock(&self) -> LockResult<ValueGuard<'_, T>> {
        let wrap = |g| ValueGuard {
            value: self,
            _guard: g,
        };
        match self.lock.lock() {
            Ok(g) => Ok(wrap(g)),
            Err(OwnerDied(g)) => Err(OwnerDied(wrap(g))),
        }
    }

    /// [`lock`](Self::lock) if the lock is free now.
    ///
    /// # Errors
    /// [`TryLockError::Timeout`] when another thread holds it; [`TryLockError::OwnerDied`]
    /// (with the guard) as for [`lock`](Self::lock).
    pub fn try_lock(&self) -> Result<ValueGuard<'_, T>, TryLockError<ValueGuard<'_, T>>> {
        self.outcome(self.lock.try_lock())
    }

    /// [`lock`](Self::lock), waiting at most `timeout`.
    ///
    /// # Errors
    /// As [`try_lock`](Self::try_lock), after `timeout`.
    pub fn lock_timeout(
        &self,
        timeout: std::time::Duration,
    ) -> Result<ValueGuard<'_, T>, TryLockError<ValueGuard<'_, T>>> {
        self.outcome(self.lock.lock_timeout(timeout))
    }

    fn outcome<'a>(
        &'a self,
        r: Result<AnyLockGuard<'a>, TryLockError<AnyLockGuard<'a>>>,
    ) -> Result<ValueGuard<'a, T>, TryLockError<ValueGuard<'a, T>>> {
        let wrap = |g| ValueGuard {
            value: self,
            _guard: g,
        };
        match r {
            Ok(g) => Ok(wrap(g)),
            Err(TryLockError::OwnerDied(g)) => Err(TryLockError::OwnerDied(wrap(g))),
            Err(TryLockError::Timeout) => Err(TryLockError::Timeout),
        }
    }

    /// Copies the value out, under the lock (Python's `v.value`).
    #[inline]
    pub fn get(&self) -> T {
        let _g = lock_anyway(&self.lock);
        // SAFETY: the lock is held (just taken, no user code since), so no other thread of any
        // process accesses the value; the pointer is valid and aligned (`Region`).
        unsafe { crate::shareable::read_one(self.region.ptr()) }
    }

    /// Copies `value` in, under the lock (Python's `v.value = x`).
    #[inline]
    pub fn set(&self, value: T) {
        let _g = lock_anyway(&self.lock);
        // SAFETY: as in `get`.
        unsafe { self.region.ptr().write(value) }
    }

    /// Read-modify-write under the lock (Python's `v.value += 1` made atomic): copies the
    /// value out, lets `f` change the copy, writes it back; returns what `f` returns.
    ///
    /// # Panics
    /// If `f` releases the lock (unbalanced `release` calls), rather than write unguarded.
    pub fn update<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        let g = lock_anyway(&self.lock);
        let guard = ValueGuard {
            value: self,
            _guard: g,
        };
        guard.update(f)
    }

    /// Whether both handles are the same shared value.
    pub fn same_as(&self, other: &Value<T>) -> bool {
        self.region.same(&other.region)
    }
}

/// The lock of a [`Value`], held: [`get`](Self::get), [`set`](Self::set) and
/// [`update`](Self::update) without taking it again. Not `Send`.
///
/// Copies in and out only: two guards of one [`RLock`](multiproc_sync::RLock) in one thread (it is
/// re-entrant) can never hand out aliasing references, because none are handed out. Each access
/// first checks that this thread still holds the lock.
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct ValueGuard<'a, T: Shareable> {
    value: &'a Value<T>,
    _guard: AnyLockGuard<'a>,
}

impl<T: Shareable + Copy + fmt::Debug> fmt::Debug for ValueGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ValueGuard").field(&self.get()).finish()
    }
}

impl<T: Shareable + Copy> ValueGuard<'_, T> {
    /// Copies the value out.
    ///
    /// # Panics
    /// If this thread no longer holds the lock (see [`AnyLock`]).
    #[inline]
    pub fn get(&self) -> T {
        assert_held(&self.value.lock);
        // SAFETY: this thread holds the lock (checked just now; no user code since), so no
        // other thread of any process accesses the value; the pointer is valid and aligned.
        unsafe { crate::shareable::read_one(self.value.region.ptr()) }
    }

    /// Copies `value` in.
    ///
    /// # Panics
    /// If this thread no longer holds the lock.
    #[inline]
    pub fn set(&self, value: T) {
        assert_held(&self.value.lock);
        // SAFETY: as in `get`.
        unsafe { self.value.region.ptr().write(value) }
    }

    /// Copies the value out, lets `f` change the copy, writes it back.
    ///
    /// # Panics
    /// If this thread no longer holds the lock (checked again after `f`).
    pub fn update<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        let mut v = self.get();
        let r = f(&mut v);
        self.set(v);
        r
    }
}
