//! [`AsyncResult`]: a result that arrives later (Python's `AsyncResult`).

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::Duration;

use multiproc_core::futex::Deadline;

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

pub(crate) struct Slot<T> {
    state: Mutex<(State<T>, Option<bool>)>,
    cv: Condvar,
    /// Set when the task went through a lane.
    direct: OnceLock<Direct>,
    /// A thread waits in the lane (only one does; others wait on `cv`).
    direct_busy: AtomicBool,
}

impl<T> Slot<T> {
    pub(crate) fn new() -> Arc<Slot<T>> {
        Arc::new(Slot {
            state: Mutex::new((State::Pending, None)),
            cv: Condvar::new(),
            direct: OnceLock::new(),
            direct_busy: AtomicBool::new(false),
        })
    }

    pub(crate) fn set_direct(&self, d: Direct) {
        let _ = self.direct.set(d);
    }

    pub(crate) fn fulfill(&self, r: Result<T, TaskError>) {
        let mut g = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if matches!(g.0, State::Pending) {
            g.1 = Some(r.is_ok());
            g.0 = State::Ready(r);
            self.cv.notify_all();
        }
    }

    fn is_ready(&self) -> bool {
        let g = self.state.lock().unwrap_or_else(|p| p.into_inner());
        !matches!(g.0, State::Pending)
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
        let mut g = self.state.lock().unwrap_or_else(|p| p.into_inner());
        while matches!(g.0, State::Pending) {
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
        let mut g = self.slot.state.lock().unwrap_or_else(|p| p.into_inner());
        match std::mem::replace(&mut g.0, State::Taken) {
            State::Ready(r) => r,
            State::Taken => Err(TaskError::AlreadyTaken),
            State::Pending => unreachable!("waited until ready"),
        }
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
        self.slot.state.lock().unwrap_or_else(|p| p.into_inner()).1
    }
}
