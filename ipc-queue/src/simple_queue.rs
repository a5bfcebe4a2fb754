//! [`SimpleQueue`]: Python's `multiprocessing.SimpleQueue`.

use std::io;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::{GetError, PutError};
use crate::queue::Queue;

/// A plain unbounded queue: `put`, `get`, `empty`, `close` (Python's
/// `multiprocessing.SimpleQueue`).
///
/// The same shared-memory ring as [`Queue`], without `maxsize`, timeouts or sizes. `put` waits
/// for room when the 1 MiB buffer is full (see [`Queue`]'s docs on unbounded queues).
///
/// ```
/// let q = multiproc_queue::SimpleQueue::new()?;
/// q.put(vec![1, 2, 3]).unwrap();
/// assert!(!q.empty());
/// assert_eq!(q.get().unwrap(), vec![1, 2, 3]);
/// assert!(q.empty());
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Serialize, Deserialize)]
#[serde(transparent)]
pub struct SimpleQueue<T> {
    inner: Queue<T>,
}

impl<T> Clone for SimpleQueue<T> {
    fn clone(&self) -> Self {
        SimpleQueue {
            inner: self.inner.clone(),
        }
    }
}

impl<T> std::fmt::Debug for SimpleQueue<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimpleQueue")
            .field("empty", &self.empty())
            .finish()
    }
}

impl<T: Serialize + DeserializeOwned> SimpleQueue<T> {
    /// An empty queue.
    pub fn new() -> io::Result<Self> {
        Ok(SimpleQueue {
            inner: Queue::new()?,
        })
    }

    /// Puts `item`, waiting for room when the buffer is full.
    ///
    /// # Errors
    /// [`PutError::Closed`] or [`PutError::Encode`], with the item.
    pub fn put(&self, item: T) -> Result<(), PutError<T>> {
        self.inner.put(item)
    }

    /// Takes the next item, waiting as long as it takes.
    ///
    /// # Errors
    /// [`GetError::Closed`] once closed and drained; [`GetError::Decode`].
    pub fn get(&self) -> Result<T, GetError> {
        self.inner.get()
    }
}

impl<T> SimpleQueue<T> {
    /// The queue underneath.
    #[cfg(feature = "tokio")]
    pub(crate) fn as_queue(&self) -> &Queue<T> {
        &self.inner
    }

    /// Whether the queue holds no item now (a snapshot).
    pub fn empty(&self) -> bool {
        self.inner.empty()
    }

    /// Closes the queue for putting, in every process (see [`Queue::close`]).
    pub fn close(&self) {
        self.inner.close();
    }
}
