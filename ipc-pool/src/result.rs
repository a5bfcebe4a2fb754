//! [`AsyncResult`]: a result that arrives later (Python's `AsyncResult`).

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::task::Waker;
use std::time::Duration;

use multiproc_core::Deadline;

use crate::dispatch::Shared;
use crate::error::TaskError;
use crate::lane::{Lane, Waited};

enum State<T> {
    Pending,
    Ready(Result<T, TaskError>),
    Taken,
}

/// Where a task that went through a worker's lane can be waited for directly.
pub(crate) struct Direct {
    lane: Arc<Lane>,
    seq: u32,
    shared: Arc<Shared>,
}

impl Direct {
    pub(crate) fn new(lane: Arc<Lane>, seq: u32, shared: Arc<Shared>) -> Direct {
        Direct { lane, seq, shared }
    }

    /// Waits in the lane; on [`Waited::Done`] the result has been collected (and the slot
    /// fulfilled) by this call.
    fn wait(&self, deadline: Deadline) -> Waited {
        let r = self.lane.wait_result(self.seq, deadline);
        if r == Waited::Done && self.lane.collect(Some(self.seq)) {
            self.shared.lane_freed();
        }
        r
    }
}

struct Inner<T> {
    state: State<T>,
    successful: Option<bool>,
    /// Tasks awaiting the result (feature `tokio`: `AsyncResult` is a `Future`).
    wakers: Vec<Waker>,
}

pub(crate) struct Slot<T> {
    inner: Mutex<Inner<T>>,
    cv: Condvar,
    /// Set when the task went through a lane.
    direct: OnceLock<Direct>,
    /// A thread waits in the lane (only one does; others wait on `cv`).
    direct_busy: AtomicBool,
}

impl<T> Slot<T> {
    pub(crate) fn new() -> Arc<Slot<T>> {
        Arc::new(Slot {
            inner: Mutex::new(Inner {
                state: State::Pending,
                successful: None,
                wakers: Vec::new(),
            }),
            cv: Condvar::new(),
            direct: OnceLock::new(),
            direct_busy: AtomicBool::new(false),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner<T>> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn set_direct(&self, d: Direct) {
        let _ = self.direct.set(d);
    }

    pub(crate) fn fulfill(&self, r: Result<T, TaskError>) {
        let wakers = {
            let mut g = self.lock();
            if !matches!(g.state, State::Pending) {
                return;
            }
            g.successful = Some(r.is_ok());
            g.state = State::Ready(r);
            self.cv.notify_all();
            std::mem::take(&mut g.wakers)
        };
        for w in wakers {
            w.wake();
        }
    }

    fn is_ready(&self) -> bool {
        !matches!(self.lock().state, State::Pending)
    }

    /// Takes the result out of a ready slot.
    fn take_ready(g: &mut Inner<T>) -> Result<T, TaskError> {
        match std::mem::replace(&mut g.state, State::Taken) {
            State::Ready(r) => r,
            State::Taken => Err(TaskError::AlreadyTaken),
            State::Pending => unreachable!("called on a ready slot"),
        }
    }

    /// The result if it is there; otherwise `cx`'s waker is kept to be woken when it comes.
    #[cfg(feature = "tokio")]
    fn poll_take(&self, cx: &mut std::task::Context<'_>) -> std::task::Poll<Result<T, TaskError>> {
        if let Some(d) = self.direct.get() {
            // The pool's thread collects it and wakes us: tell the worker not to wait for a
            // collecting thread first.
            d.lane.mark_awaited(d.seq);
        }
        let mut g = self.lock();
        if matches!(g.state, State::Pending) {
            if !g.wakers.iter().any(|w| w.will_wake(cx.waker())) {
                g.wakers.push(cx.waker().clone());
            }
            return std::task::Poll::Pending;
        }
        std::task::Poll::Ready(Self::take_ready(&mut g))
    }

    /// Waits until ready or `deadline`; whether it is ready.
    fn wait(&self, deadline: Deadline) -> bool {
        if self.is_ready() {
            return true;
        }
        if let Some(d) = self.direct.get()
            && !self.direct_busy.swap(true, Ordering::Acquire)
        {
            let r = d.wait(deadline);
            self.direct_busy.store(false, Ordering::Release);
            if r == Waited::Timeout {
                return self.is_ready();
            }
            // Collected here (the slot is ready), or the result comes another way: wait for it.
        }
        let mut g = self.lock();
        while matches!(g.state, State::Pending) {
            match deadline.left() {
                None => return false,
                Some(None) => g = self.cv.wait(g).unwrap_or_else(|p| p.into_inner()),
                Some(Some(left)) => {
                    g = self
                        .cv
                        .wait_timeout(g, left)
                        .unwrap_or_else(|p| p.into_inner())
                        .0;
                }
            }
        }
        true
    }
}

/// A task's (or a whole `map`'s) result, which arrives when a worker finishes it.
///
/// [`get`](Self::get) takes the result out: a second `get` is
/// [`TaskError::AlreadyTaken`] (Python returns it again; a Rust value has one owner).
#[must_use = "a submitted task runs anyway; keep the handle to learn its result"]
pub struct AsyncResult<T> {
    pub(crate) slot: Arc<Slot<T>>,
}

impl<T> fmt::Debug for AsyncResult<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncResult")
            .field("ready", &self.ready())
            .finish()
    }
}

impl<T> AsyncResult<T> {
    /// Waits for the result and takes it (Python's `get()`).
    pub fn get(&self) -> Result<T, TaskError> {
        self.take(Deadline::Forever)
    }

    /// [`get`](Self::get), giving up with [`TaskError::Timeout`] after `timeout`; the result
    /// can still be had later.
    pub fn get_timeout(&self, timeout: Duration) -> Result<T, TaskError> {
        self.take(Deadline::from_timeout(Some(timeout)))
    }

    /// The result if it is there, without waiting; [`TaskError::Timeout`] if not yet.
    pub fn try_get(&self) -> Result<T, TaskError> {
        self.take(Deadline::No)
    }

    fn take(&self, deadline: Deadline) -> Result<T, TaskError> {
        if !self.slot.wait(deadline) {
            return Err(TaskError::Timeout);
        }
        Slot::take_ready(&mut self.slot.lock())
    }

    /// Waits until the result is there (Python's `wait()`).
    pub fn wait(&self) {
        self.slot.wait(Deadline::Forever);
    }

    /// Waits at most `timeout`; whether the result is there (Python's `wait(timeout)`).
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        self.slot.wait(Deadline::from_timeout(Some(timeout)))
    }

    /// Whether the result is there (Python's `ready()`).
    pub fn ready(&self) -> bool {
        self.slot.is_ready()
    }

    /// Whether the task succeeded: `None` while it runs (Python raises `ValueError` then).
    pub fn successful(&self) -> Option<bool> {
        self.slot.lock().successful
    }
}

/// With the `tokio` feature, a result can be awaited: it completes when the task ends,
/// without a thread waiting for it (the pool's thread wakes the task). Awaiting takes the
/// value, as [`get`](AsyncResult::get) does. Awaiting `&mut result` (under
/// `tokio::time::timeout`, in `select!`) and dropping that future leaves the result to a later
/// `get` or `.await`.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use multiproc_pool::Pool;
/// fn square(x: u64) -> u64 { x * x }
/// let pool = Pool::new(2)?;
/// assert_eq!(pool.apply_async(square, 7)?.await?, 49);
/// assert_eq!(pool.map_async(square, 1..=3, None)?.await?, vec![1, 4, 9]);
/// # Ok(()) }
/// ```
#[cfg(feature = "tokio")]
impl<T> std::future::Future for AsyncResult<T> {
    type Output = Result<T, TaskError>;

    fn poll(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        self.slot.poll_take(cx)
    }
}
