//! [`SemaphoreAcquire`], the future of [`Semaphore::acquire_async`] (feature `tokio`).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use multiproc_core::futex::AsyncWait;

use crate::raw_lock::SPIN;
use crate::semaphore::Semaphore;

/// The future of [`Semaphore::acquire_async`]: ready once it took a unit (the value is one
/// lower).
///
/// The unit is taken in the poll that returns `Ready`, so a future dropped before takes
/// nothing; one that was woken for a unit it did not take passes the wake-up on to another
/// waiter.
#[must_use = "futures do nothing unless polled"]
pub struct SemaphoreAcquire {
    sem: Arc<Semaphore>,
    wait: AsyncWait,
}

impl fmt::Debug for SemaphoreAcquire {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SemaphoreAcquire").finish_non_exhaustive()
    }
}

impl SemaphoreAcquire {
    pub(crate) fn new(sem: Semaphore) -> SemaphoreAcquire {
        let sem = Arc::new(sem);
        let wait = AsyncWait::new(Arc::clone(&sem), |s: &Semaphore| &s.raw().wake);
        SemaphoreAcquire { sem, wait }
    }
}

impl Future for SemaphoreAcquire {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        let raw = this.sem.raw();
        this.wait.poll_until(cx, SPIN, || raw.try_take())
    }
}
