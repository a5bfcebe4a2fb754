//! [`Semaphore`], and the counter that [`BoundedSemaphore`](crate::BoundedSemaphore) shares.

use std::fmt;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use multiproc_core::futex::WaitWord;
use serde::{Deserialize, Serialize};

use crate::raw_lock::{Deadline, SPIN};
use multiproc_core::heap::{Kind, Shared, SharedState};

/// A counter and its sleepers, in shared memory.
#[repr(C)]
pub(crate) struct RawSemaphore {
    /// The value.
    value: AtomicU32,
    /// The bound for a `BoundedSemaphore`, `u32::MAX` for none.
    bound: AtomicU32,
    /// Where acquirers sleep while the value is 0.
    pub(crate) wake: WaitWord,
}

impl RawSemaphore {
    pub(crate) fn init(&self, value: u32, bound: u32) {
        self.value.store(value, Ordering::Relaxed);
        self.bound.store(bound, Ordering::Release);
    }

    pub(crate) fn value(&self) -> u32 {
        self.value.load(Ordering::Acquire)
    }

    pub(crate) fn bound(&self) -> u32 {
        self.bound.load(Ordering::Relaxed)
    }

    #[inline]
    pub(crate) fn try_take(&self) -> bool {
        let mut v = self.value.load(Ordering::Relaxed);
        while v > 0 {
            match self
                .value
                .compare_exchange_weak(v, v - 1, Ordering::Acquire, Ordering::Relaxed)
            {
                Ok(_) => return true,
                Err(now) => v = now,
            }
        }
        false
    }

    /// Decrements, waiting while the value is 0. `false` on timeout.
    #[inline]
    pub(crate) fn acquire(&self, wait: Deadline) -> bool {
        if self.try_take() {
            return true;
        }
        self.acquire_slow(wait)
    }

    #[cold]
    fn acquire_slow(&self, wait: Deadline) -> bool {
        self.wake.wait_until(|| self.try_take(), wait, SPIN)
    }

    /// Increments, up to the bound; `false` (nothing changed) when at the bound.
    #[inline]
    pub(crate) fn release(&self) -> bool {
        let bound = self.bound.load(Ordering::Relaxed);
        let mut v = self.value.load(Ordering::Relaxed);
        loop {
            if v >= bound {
                return false;
            }
            match self
                .value
                .compare_exchange_weak(v, v + 1, Ordering::SeqCst, Ordering::Relaxed)
            {
                Ok(_) => break,
                Err(now) => v = now,
            }
        }
        self.wake.notify_one();
        true
    }
}

#[repr(C)]
pub(crate) struct SemaphoreState {
    pub(crate) raw: RawSemaphore,
}

// SAFETY: `#[repr(C)]`, atomics only (a `WaitWord` is four `AtomicU32`s).
unsafe impl SharedState for SemaphoreState {
    const KIND: Kind = Kind::new(*b"Sema");
}

/// A counting semaphore shared between processes: Python's `multiprocessing.Semaphore`.
///
/// [`acquire`](Self::acquire) waits while the value is 0, then decrements it;
/// [`release`](Self::release) increments it and wakes one waiter. Nobody owns a semaphore, so
/// a process that dies after acquiring simply never releases (as in Python): use a
/// [`Lock`](crate::Lock) where that must be noticed.
///
/// ```
/// let sem = multiproc_sync::Semaphore::new(2)?;
/// assert!(sem.try_acquire());
/// assert!(sem.try_acquire());
/// assert!(!sem.try_acquire());
/// sem.release();
/// assert_eq!(sem.value(), 1);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Semaphore {
    state: Shared<SemaphoreState>,
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Semaphore")
            .field("value", &self.value())
            .finish()
    }
}

/// Holds one unit of a [`Semaphore`]; releases it when dropped.
#[must_use = "the unit is released as soon as the guard is dropped"]
#[derive(Debug)]
pub struct SemaphoreGuard<'a> {
    sem: &'a Semaphore,
}

impl Drop for SemaphoreGuard<'_> {
    fn drop(&mut self) {
        self.sem.release();
    }
}

impl Semaphore {
    /// A semaphore with initial `value`.
    pub fn new(value: u32) -> std::io::Result<Semaphore> {
        Ok(Semaphore {
            state: Shared::new(|s: &SemaphoreState| s.raw.init(value, u32::MAX))?,
        })
    }

    pub(crate) fn raw(&self) -> &RawSemaphore {
        &self.state.get().raw
    }

    /// Decrements the value, waiting as long as it is 0 (Python's `acquire()`).
    #[inline]
    pub fn acquire(&self) {
        self.raw().acquire(Deadline::Forever);
    }

    /// [`acquire`](Self::acquire), waiting at most `timeout`; `false` when no unit came in
    /// time (Python's `acquire(timeout=…)`).
    #[inline]
    pub fn acquire_timeout(&self, timeout: Duration) -> bool {
        self.raw().acquire(Deadline::after(timeout))
    }

    /// [`acquire`](Self::acquire) as a future (feature `tokio`): decrements the value once it
    /// is above 0, without blocking a thread. Dropping the future before it completes takes
    /// nothing.
    #[cfg(feature = "tokio")]
    pub fn acquire_async(&self) -> crate::SemaphoreAcquire {
        crate::SemaphoreAcquire::new(self.clone())
    }

    /// Decrements the value if it is above 0 now.
    #[inline]
    pub fn try_acquire(&self) -> bool {
        self.raw().acquire(Deadline::No)
    }

    /// Waits for a unit (forever) and returns a guard that gives it back.
    pub fn guard(&self) -> SemaphoreGuard<'_> {
        self.acquire();
        SemaphoreGuard { sem: self }
    }

    /// Increments the value and wakes one waiter.
    ///
    /// # Panics
    /// When the value would overflow `u32::MAX - 1`.
    #[inline]
    pub fn release(&self) {
        assert!(self.raw().release(), "semaphore value overflow");
    }

    /// The value now (a snapshot; Python's `get_value()`).
    pub fn value(&self) -> u32 {
        self.raw().value()
    }
}
