//! [`JoinableQueue`]: Python's `multiprocessing.JoinableQueue`.

use std::io;
use std::ops::Deref;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::TaskDoneError;
use crate::queue::Queue;
use crate::ring::{Timeout, Wait};

/// A [`Queue`] that also counts finished tasks: a consumer calls
/// [`task_done`](Self::task_done) for each item it took, and [`join`](Self::join) waits until
/// every item ever put is done (Python's `multiprocessing.JoinableQueue`).
///
/// Every [`Queue`] method is here too (through `Deref`).
///
/// ```
/// let q = multiproc_queue::JoinableQueue::new()?;
/// q.put(1u32).unwrap();
/// assert!(!q.join_timeout(std::time::Duration::from_millis(1)));
/// assert_eq!(q.get().unwrap(), 1);
/// q.task_done().unwrap();
/// q.join();
/// assert!(q.task_done().is_err(), "more task_done than items");
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// The counts live in the queue's shared memory: an item counts as put when its `put`
/// returns, and `task_done` is refused ([`TaskDoneError`]) when every item taken so far is
/// already done — Python checks against items put; an item not yet taken cannot be done.
/// A consumer that dies between `get` and `task_done` leaves that task unfinished: `join`
/// then waits for it forever (use [`join_timeout`](Self::join_timeout)).
#[derive(Serialize, Deserialize)]
#[serde(transparent)]
pub struct JoinableQueue<T> {
    inner: Queue<T>,
}

impl<T> Clone for JoinableQueue<T> {
    fn clone(&self) -> Self {
        JoinableQueue {
            inner: self.inner.clone(),
        }
    }
}

impl<T> std::fmt::Debug for JoinableQueue<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JoinableQueue")
            .field("qsize", &self.inner.qsize())
            .field("unfinished", &self.unfinished())
            .finish()
    }
}

impl<T> Deref for JoinableQueue<T> {
    type Target = Queue<T>;
    fn deref(&self) -> &Queue<T> {
        &self.inner
    }
}

impl<T: Serialize + DeserializeOwned> JoinableQueue<T> {
    /// An unbounded queue with a 1 MiB buffer.
    pub fn new() -> io::Result<Self> {
        Ok(JoinableQueue {
            inner: Queue::new()?,
        })
    }

    /// A queue of at most `maxsize` items (0: unbounded).
    pub fn with_maxsize(maxsize: usize) -> io::Result<Self> {
        Ok(JoinableQueue {
            inner: Queue::with_maxsize(maxsize)?,
        })
    }

    /// A queue of at most `maxsize` items over a buffer of at least `buffer_bytes`.
    pub fn with_capacity(maxsize: usize, buffer_bytes: usize) -> io::Result<Self> {
        Ok(JoinableQueue {
            inner: Queue::with_capacity(maxsize, buffer_bytes)?,
        })
    }
}

impl<T> JoinableQueue<T> {
    /// Says that one item taken from the queue has been dealt with.
    ///
    /// # Errors
    /// [`TaskDoneError`] when called more times than items were taken.
    pub fn task_done(&self) -> Result<(), TaskDoneError> {
        if self.inner.ring().task_done() {
            Ok(())
        } else {
            Err(TaskDoneError)
        }
    }

    /// Waits until every item put has been marked done with [`task_done`](Self::task_done).
    pub fn join(&self) {
        self.inner.ring().join(&Wait::new(Timeout::Forever));
    }

    /// [`join`](Self::join) for at most `timeout`; `true` when every item is done.
    pub fn join_timeout(&self, timeout: Duration) -> bool {
        self.inner.ring().join(&Wait::new(Timeout::After(timeout)))
    }

    /// Items put and not yet marked done (a snapshot).
    pub fn unfinished(&self) -> usize {
        self.inner.ring().unfinished() as usize
    }

    /// The plain queue under it (same shared state).
    pub fn as_queue(&self) -> &Queue<T> {
        &self.inner
    }
}
