//! [`AcquirerProxy`]: a shared `Lock`, `RLock`, `Semaphore` or `BoundedSemaphore`.

use std::fmt;
use std::marker::PhantomData;
use std::time::Duration;

use super::proxy_type;
use crate::client::into_result;
use crate::error::AcquireError;
use crate::protocol::Reply;
use crate::proxy::BaseProxy;
use crate::value::PyValue;

proxy_type! {
    /// A proxy to a `Lock`, `RLock`, `Semaphore` or `BoundedSemaphore` in a manager (Python's
    /// `AcquirerProxy`).
    ///
    /// A lock is held by the connection that took it, which is this thread's connection to the
    /// manager: an `RLock` may be taken again by the same thread, and released only by it. When
    /// a client dies holding a `Lock` or `RLock` (its connection closes), the manager releases
    /// it and the next acquirer gets [`AcquireError::OwnerDied`] with the lock held.
    ///
    /// ```
    /// let m = multiproc_manager::Manager::start()?;
    /// let lock = m.lock()?;
    /// {
    ///     let _held = lock.lock().map_err(|e| e.to_string())?;
    ///     assert!(lock.try_acquire().is_err()); // held, even by this thread: a plain Lock
    /// }
    /// assert!(lock.try_acquire().is_ok());
    /// lock.release()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    AcquirerProxy
}

/// Holds what an [`AcquirerProxy`] acquired; releases it when dropped. It stays on the thread
/// that acquired (the manager knows the holder by that thread's connection).
#[must_use = "the lock is released when the guard is dropped"]
pub struct AcquireGuard<'a> {
    proxy: &'a AcquirerProxy,
    _not_send: PhantomData<*const ()>,
}

impl fmt::Debug for AcquireGuard<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AcquireGuard").finish_non_exhaustive()
    }
}

impl Drop for AcquireGuard<'_> {
    fn drop(&mut self) {
        let _ = self.proxy.release();
    }
}

/// `acquire()`, `acquire_timeout(t)`, `try_acquire()` and `release()` of a proxy to a lock
/// (an `AcquirerProxy`, or a `ConditionProxy` over its `RLock`), in its `impl` block.
macro_rules! acquire_methods {
    () => {
        /// `acquire()`: waits as long as it takes.
        pub fn acquire(&self) -> Result<(), $crate::error::AcquireError<()>> {
            $crate::proxies::acquirer::acquire_call(&self.base, Vec::new())
        }

        /// `acquire(timeout=t)`: [`AcquireError::Timeout`](crate::AcquireError::Timeout) when
        /// not acquired within `timeout`.
        pub fn acquire_timeout(
            &self,
            timeout: std::time::Duration,
        ) -> Result<(), $crate::error::AcquireError<()>> {
            $crate::proxies::acquirer::acquire_call(
                &self.base,
                vec![
                    $crate::value::PyValue::Bool(true),
                    $crate::proxies::secs(timeout),
                ],
            )
        }

        /// `acquire(False)`: [`AcquireError::Timeout`](crate::AcquireError::Timeout) at once
        /// when held.
        pub fn try_acquire(&self) -> Result<(), $crate::error::AcquireError<()>> {
            $crate::proxies::acquirer::acquire_call(
                &self.base,
                vec![$crate::value::PyValue::Bool(false)],
            )
        }

        /// `release()`: a `RuntimeError` exception when not held (by this thread, for an
        /// `RLock`), a `ValueError` for a `BoundedSemaphore` released too often.
        pub fn release(&self) -> Result<(), $crate::error::Error> {
            self.base.call("release", Vec::new())
        }
    };
}
pub(crate) use acquire_methods;

/// Sends `acquire` and reads its outcome: acquired, timed out, or acquired after a holder died.
pub(crate) fn acquire_call(base: &BaseProxy, args: Vec<PyValue>) -> Result<(), AcquireError<()>> {
    match base.call_raw("acquire", args, Vec::new()) {
        Ok(Reply::OwnerDied(_)) => Err(AcquireError::OwnerDied(())),
        Ok(r) => match into_result(r) {
            Ok(PyValue::Bool(true)) => Ok(()),
            Ok(_) => Err(AcquireError::Timeout),
            Err(e) => Err(AcquireError::Failed(e)),
        },
        Err(e) => Err(AcquireError::Failed(e)),
    }
}

fn guard_of<'a>(
    proxy: &'a AcquirerProxy,
    r: Result<(), AcquireError<()>>,
) -> Result<AcquireGuard<'a>, AcquireError<AcquireGuard<'a>>> {
    let g = || AcquireGuard {
        proxy,
        _not_send: PhantomData,
    };
    match r {
        Ok(()) => Ok(g()),
        Err(AcquireError::OwnerDied(())) => Err(AcquireError::OwnerDied(g())),
        Err(AcquireError::Timeout) => Err(AcquireError::Timeout),
        Err(AcquireError::Failed(e)) => Err(AcquireError::Failed(e)),
    }
}

impl AcquirerProxy {
    acquire_methods!();

    /// Acquires, and releases when the guard drops (`with lock:`).
    pub fn lock(&self) -> Result<AcquireGuard<'_>, AcquireError<AcquireGuard<'_>>> {
        guard_of(self, self.acquire())
    }

    /// [`lock`](Self::lock) that gives up after `timeout`.
    pub fn lock_timeout(
        &self,
        timeout: Duration,
    ) -> Result<AcquireGuard<'_>, AcquireError<AcquireGuard<'_>>> {
        guard_of(self, self.acquire_timeout(timeout))
    }

    /// [`lock`](Self::lock) that never waits: [`AcquireError::Timeout`] at once when held.
    pub fn try_lock(&self) -> Result<AcquireGuard<'_>, AcquireError<AcquireGuard<'_>>> {
        guard_of(self, self.try_acquire())
    }
}
