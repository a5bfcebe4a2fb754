//! [`AsyncResult`]: a result that arrives later (Python's `AsyncResult`).

use std::fmt;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::error::TaskError;

enum State<T> {
    Pending,
    Ready(Result<T, TaskError>),
    Taken,
}

pub(crate) struct Slot<T> {
    state: Mutex<(State<T>, Option<bool>)>,
    cv: Condvar,
}

impl<T> Slot<T> {
    pub(crate) fn new() -> Arc<Slot<T>> {
        Arc::new(Slot {
            state: Mutex::new((State::Pending, None)),
            cv: Condvar::new(),
        })
    }

    pub(crate) fn fulfill(&self, r: Result<T, TaskError>) {
        let mut g = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if matches!(g.0, State::Pending) {
            g.1 = Some(r.is_ok());
            g.0 = State::Ready(r);
            self.cv.notify_all();
        }
    }

    /// Waits until ready or `deadline`; whether it is ready.
    fn wait(&self, deadline: Option<Instant>) -> bool {
        let mut g = self.state.lock().unwrap_or_else(|p| p.into_inner());
        while matches!(g.0, State::Pending) {
            match deadline {
                None => g = self.cv.wait(g).unwrap_or_else(|p| p.into_inner()),
                Some(d) => {
                    let Some(left) = d.checked_duration_since(Instant::now()) else {
                        return false;
                    };
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
        self.take(None)
    }

    /// [`get`](Self::get), giving up with [`TaskError::Timeout`] after `timeout`; the result
    /// can still be had later.
    pub fn get_timeout(&self, timeout: Duration) -> Result<T, TaskError> {
        self.take(Some(Instant::now() + timeout))
    }

    fn take(&self, deadline: Option<Instant>) -> Result<T, TaskError> {
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
        self.slot.wait(None);
    }

    /// Waits at most `timeout`; whether the result is there (Python's `wait(timeout)`).
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        self.slot.wait(Some(Instant::now() + timeout))
    }

    /// Whether the result is there (Python's `ready()`).
    pub fn ready(&self) -> bool {
        let g = self.slot.state.lock().unwrap_or_else(|p| p.into_inner());
        !matches!(g.0, State::Pending)
    }

    /// Whether the task succeeded: `None` while it runs (Python raises `ValueError` then).
    pub fn successful(&self) -> Option<bool> {
        self.slot.state.lock().unwrap_or_else(|p| p.into_inner()).1
    }
}
