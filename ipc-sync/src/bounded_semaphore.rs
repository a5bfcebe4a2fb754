//! [`BoundedSemaphore`].

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::raw_lock::Deadline;
use crate::semaphore::RawSemaphore;
use multiproc_core::heap::{Kind, Shared, SharedState};

#[repr(C)]
pub(crate) struct BoundedState {
    raw: RawSemaphore,
}

// SAFETY: `#[repr(C)]`, three `AtomicU32`s.
unsafe impl SharedState for BoundedState {
    const KIND: Kind = Kind::new(*b"BSem");
}

/// A semaphore whose value may not exceed its initial value: Python's
/// `multiprocessing.BoundedSemaphore`. A [`release`](Self::release) past it is
/// [`Error::BoundExceeded`] (Python's `ValueError`), and changes nothing.
///
/// ```
/// use multiproc_sync::{BoundedSemaphore, Error};
/// let sem = BoundedSemaphore::new(1)?;
/// assert!(sem.try_acquire());
/// sem.release().unwrap();
/// assert_eq!(sem.release(), Err(Error::BoundExceeded { bound: 1 }));
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct BoundedSemaphore {
    state: Shared<BoundedState>,
}

impl fmt::Debug for BoundedSemaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BoundedSemaphore")
            .field("value", &self.value())
            .field("bound", &self.bound())
            .finish()
    }
}

/// Holds one unit of a [`BoundedSemaphore`]; releases it when dropped.
#[must_use = "the unit is released as soon as the guard is dropped"]
#[derive(Debug)]
pub struct BoundedSemaphoreGuard<'a> {
    sem: &'a BoundedSemaphore,
}

impl Drop for BoundedSemaphoreGuard<'_> {
    fn drop(&mut self) {
        // The unit taken by this guard is below the bound, unless someone released extra.
        let _ = self.sem.release();
    }
}

impl BoundedSemaphore {
    /// A semaphore with initial value (and bound) `value`.
    pub fn new(value: u32) -> std::io::Result<BoundedSemaphore> {
        Ok(BoundedSemaphore {
            state: Shared::new(|s: &BoundedState| s.raw.init(value, value))?,
        })
    }

    fn raw(&self) -> &RawSemaphore {
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

    /// Decrements the value if it is above 0 now.
    #[inline]
    pub fn try_acquire(&self) -> bool {
        self.raw().acquire(Deadline::No)
    }

    /// Waits for a unit (forever) and returns a guard that gives it back.
    pub fn guard(&self) -> BoundedSemaphoreGuard<'_> {
        self.acquire();
        BoundedSemaphoreGuard { sem: self }
    }

    /// Increments the value and wakes one waiter.
    ///
    /// # Errors
    /// [`Error::BoundExceeded`] when the value is already at its bound.
    #[inline]
    pub fn release(&self) -> Result<(), Error> {
        if self.raw().release() {
            Ok(())
        } else {
            Err(Error::BoundExceeded {
                bound: self.bound(),
            })
        }
    }

    /// The value now.
    pub fn value(&self) -> u32 {
        self.raw().value()
    }

    /// The initial value, which the value never exceeds.
    pub fn bound(&self) -> u32 {
        self.raw().bound()
    }
}
