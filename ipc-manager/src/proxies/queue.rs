//! [`QueueProxy`]: a shared `queue.Queue`.

use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{proxy_type, secs};
use crate::error::Error;
use crate::proxy::arg;
use crate::value::PyValue;

proxy_type! {
    /// A proxy to a `Queue` (or `JoinableQueue`) in a manager, with items of type `T`.
    ///
    /// A `get` or `put` that waits blocks only its own connection to the manager: other
    /// threads and processes go on using the queue. An empty queue is [`Error::Empty`], a full
    /// one [`Error::Full`] (Python's `queue.Empty` and `queue.Full`).
    ///
    /// ```
    /// use std::time::Duration;
    /// let m = multiproc_manager::Manager::start()?;
    /// let q = m.queue::<u32>(0)?;
    /// q.put(&7)?;
    /// assert_eq!(q.get()?, 7);
    /// assert!(matches!(q.get_timeout(Duration::from_millis(10)), Err(multiproc_manager::Error::Empty)));
    /// # Ok::<(), multiproc_manager::Error>(())
    /// ```
    QueueProxy<T>
}

impl<T: Serialize + DeserializeOwned> QueueProxy<T> {
    /// `q.put(item)`: waits for room as long as it takes.
    pub fn put(&self, item: &T) -> Result<(), Error> {
        self.base.call("put", vec![arg(item)?])
    }

    /// `q.put(item, timeout=t)`: [`Error::Full`] after `timeout`.
    pub fn put_timeout(&self, item: &T, timeout: Duration) -> Result<(), Error> {
        self.base
            .call("put", vec![arg(item)?, PyValue::Bool(true), secs(timeout)])
    }

    /// `q.put(item, False)`: [`Error::Full`] at once when full.
    pub fn try_put(&self, item: &T) -> Result<(), Error> {
        self.base
            .call("put", vec![arg(item)?, PyValue::Bool(false)])
    }

    /// Python's name for [`try_put`](Self::try_put).
    pub fn put_nowait(&self, item: &T) -> Result<(), Error> {
        self.try_put(item)
    }

    /// `q.get()`: waits for an item as long as it takes.
    pub fn get(&self) -> Result<T, Error> {
        self.base.call("get", Vec::new())
    }

    /// `q.get(timeout=t)`: [`Error::Empty`] after `timeout`.
    pub fn get_timeout(&self, timeout: Duration) -> Result<T, Error> {
        self.base
            .call("get", vec![PyValue::Bool(true), secs(timeout)])
    }

    /// `q.get(False)`: [`Error::Empty`] at once when empty.
    pub fn try_get(&self) -> Result<T, Error> {
        self.base.call("get", vec![PyValue::Bool(false)])
    }

    /// Python's name for [`try_get`](Self::try_get).
    pub fn get_nowait(&self) -> Result<T, Error> {
        self.try_get()
    }

    /// `q.qsize()`.
    pub fn qsize(&self) -> Result<usize, Error> {
        self.base.call("qsize", Vec::new())
    }

    /// `q.empty()`.
    pub fn empty(&self) -> Result<bool, Error> {
        self.base.call("empty", Vec::new())
    }

    /// `q.full()`.
    pub fn full(&self) -> Result<bool, Error> {
        self.base.call("full", Vec::new())
    }

    /// `q.task_done()`: one item taken earlier is dealt with.
    pub fn task_done(&self) -> Result<(), Error> {
        self.base.call("task_done", Vec::new())
    }

    /// `q.join()`: waits until every item put has been marked done.
    pub fn join(&self) -> Result<(), Error> {
        self.base.call("join", Vec::new())
    }
}
