//! [`LockAsync`], the future of [`Lock::lock_async`], and the guard it gives,
//! [`AsyncLockGuard`] (feature `tokio`).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use multiproc_core::waiter::AsyncWord;

use crate::error::{LockResult, OwnerDied};
use crate::ident::{self, Me};
use crate::lock::Lock;
use crate::raw_lock::{Acquired, CHECK_FIRST, CHECK_MAX, RawLock};
use crate::rlock::RLock;

/// Holds a [`Lock`] taken by a future; releases it when dropped.
///
/// Unlike [`LockGuard`](crate::LockGuard) it is `Send` and may be held across `.await`s, moved
/// between the threads of a multi-threaded runtime and dropped on any of them: the owner the
/// lock records is the process's helper thread (see [`multiproc_core::waiter`]), which lives
/// as long as the process. So the lock is reported as its owner's death ([`OwnerDied`]) when the
/// process dies, not when the thread that polled the future ends.
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct AsyncLockGuard {
    lock: Lock,
    owner: Me,
}

impl fmt::Debug for AsyncLockGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AsyncLockGuard")
    }
}

impl AsyncLockGuard {
    /// The lock it holds.
    pub fn lock(&self) -> &Lock {
        &self.lock
    }
}

impl Drop for AsyncLockGuard {
    fn drop(&mut self) {
        // Held for `owner` (the helper thread's id) since the future completed.
        self.lock.raw().unlock(self.owner.tid);
    }
}

/// A lock a future can wait for: [`Lock`] or [`RLock`].
pub(crate) trait AsyncTarget: Clone + Send + Sync + 'static {
    fn raw_lock(&self) -> &RawLock;
}

impl AsyncTarget for Lock {
    fn raw_lock(&self) -> &RawLock {
        self.raw()
    }
}

impl AsyncTarget for RLock {
    fn raw_lock(&self) -> &RawLock {
        self.raw()
    }
}

/// The acquisition both futures share: waits on the lock word through the process's helper
/// thread, checking the holder's liveness at doubling intervals as a blocked `lock` does.
pub(crate) struct Acquire<L: AsyncTarget> {
    lock: L,
    /// The lock, shared with the armed word (made on the first wait only: an acquire that
    /// need not wait allocates nothing).
    shared: Option<Arc<L>>,
    word: Option<AsyncWord>,
    /// What the word was armed with: the value, and the waker.
    armed: Option<(u32, Waker)>,
    /// When the owner's liveness is next due, and the interval after it.
    check: Option<(Instant, Duration)>,
}

impl<L: AsyncTarget> Acquire<L> {
    pub(crate) fn new(lock: L) -> Acquire<L> {
        Acquire {
            lock,
            shared: None,
            word: None,
            armed: None,
            check: None,
        }
    }

    /// The lock.
    pub(crate) fn lock(&self) -> &L {
        &self.lock
    }

    /// One poll: `Ready` with how it was taken (never `TimedOut`) and for which owner.
    pub(crate) fn poll_acquire(&mut self, cx: &mut Context<'_>) -> Poll<(Acquired, Me)> {
        let owner = ident::async_owner();
        let mut due = false;
        if let Some(w) = self.word.as_mut() {
            if w.is_armed() && !w.fired() {
                // Polled for another reason: make sure the waker armed is this task's.
                if let Some((expected, waker)) = self.armed.as_mut()
                    && !waker.will_wake(cx.waker())
                {
                    *waker = cx.waker().clone();
                    let at = self.check.map(|(at, _)| at);
                    w.arm(*expected, at, cx.waker());
                }
                return Poll::Pending;
            }
            w.disarm();
            self.armed = None;
            due = self.check.is_some_and(|(at, _)| Instant::now() >= at);
        }
        match self.lock.raw_lock().try_async(owner, due) {
            Ok(a) => {
                self.word = None;
                Poll::Ready((a, owner))
            }
            Err(expected) => {
                let interval = match self.check {
                    Some((at, i)) if Instant::now() >= at => (i * 2).min(CHECK_MAX),
                    Some((_, i)) => i,
                    None => CHECK_FIRST,
                };
                let at = Instant::now() + interval;
                self.check = Some((at, interval));
                let lock = Arc::clone(
                    self.shared
                        .get_or_insert_with(|| Arc::new(self.lock.clone())),
                );
                let w = self
                    .word
                    .get_or_insert_with(|| AsyncWord::new(lock, |l: &L| l.raw_lock().word()));
                w.arm(expected, Some(at), cx.waker());
                self.armed = Some((expected, cx.waker().clone()));
                Poll::Pending
            }
        }
    }
}

impl<L: AsyncTarget> Drop for Acquire<L> {
    fn drop(&mut self) {
        if let Some(w) = self.word.as_mut()
            && w.disarm()
        {
            // The unlock may have woken this future's helper instead of a thread: pass it on.
            multiproc_core::futex::wake(self.lock.raw_lock().word(), 1);
        }
    }
}

/// The future of [`Lock::lock_async`]: acquires the lock, waiting without blocking a thread.
///
/// Dropping it before it completes leaves the lock as it was (a wake-up the unlock meant for it
/// is passed on to another waiter).
#[must_use = "futures do nothing unless polled"]
pub struct LockAsync {
    inner: Acquire<Lock>,
}

impl fmt::Debug for LockAsync {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LockAsync").finish_non_exhaustive()
    }
}

impl LockAsync {
    pub(crate) fn new(lock: Lock) -> LockAsync {
        LockAsync {
            inner: Acquire::new(lock),
        }
    }
}

impl Future for LockAsync {
    type Output = LockResult<AsyncLockGuard>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        this.inner.poll_acquire(cx).map(|(a, owner)| {
            let guard = AsyncLockGuard {
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
