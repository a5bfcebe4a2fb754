//! [`RLockAsync`], the future of [`RLock::lock_async`], and the guard it gives,
//! [`AsyncRLockGuard`] (feature `tokio`).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::error::{LockResult, OwnerDied};
use crate::ident::Me;
use crate::lock_async::Acquire;
use crate::raw_lock::Acquired;
use crate::rlock::RLock;

/// Holds an [`RLock`] taken by a future (once); releases it when dropped.
///
/// Like [`AsyncLockGuard`](crate::AsyncLockGuard), it is `Send`, may be held across
/// `.await`s and dropped on any thread, and the owner the lock records is the process's
/// helper thread. A future's hold is not re-entrant: tasks have no identity the lock could
/// record, so another `lock_async` of the same lock waits until this guard is dropped, in any
/// task (do not call it again from the task that holds the guard).
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct AsyncRLockGuard {
    lock: RLock,
    owner: Me,
}

impl fmt::Debug for AsyncRLockGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AsyncRLockGuard")
    }
}

impl AsyncRLockGuard {
    /// The lock it holds.
    pub fn lock(&self) -> &RLock {
        &self.lock
    }
}

impl Drop for AsyncRLockGuard {
    fn drop(&mut self) {
        let raw = self.lock.raw();
        raw.set_count(0);
        raw.unlock(self.owner.tid);
    }
}

/// The future of [`RLock::lock_async`]: acquires the lock once, waiting without blocking a
/// thread. Dropping it before it completes leaves the lock as it was.
#[must_use = "futures do nothing unless polled"]
pub struct RLockAsync {
    inner: Acquire<RLock>,
}

impl fmt::Debug for RLockAsync {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RLockAsync").finish_non_exhaustive()
    }
}

impl RLockAsync {
    pub(crate) fn new(lock: RLock) -> RLockAsync {
        RLockAsync {
            inner: Acquire::new(lock),
        }
    }
}

impl Future for RLockAsync {
    type Output = LockResult<AsyncRLockGuard>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        this.inner.poll_acquire(cx).map(|(a, owner)| {
            this.inner.lock().raw().set_count(1);
            let guard = AsyncRLockGuard {
                lock: this.inner.lock().clone(),
                owner,
            };
            match a {
                Acquired::OwnerDied => Err(OwnerDied(guard)),
                _ => Ok(guard),
            }
        })
    }
}
