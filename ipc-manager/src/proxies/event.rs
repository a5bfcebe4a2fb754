//! [`EventProxy`]: a shared `Event`.

use std::time::Duration;

use super::{proxy_type, secs};
use crate::error::Error;

proxy_type! {
    /// A proxy to an `Event` in a manager (Python's `EventProxy`).
    ///
    /// ```
    /// use std::time::Duration;
    /// let m = multiproc_manager::Manager::start()?;
    /// let e = m.event()?;
    /// assert!(!e.wait_timeout(Duration::from_millis(10))?);
    /// e.set()?;
    /// assert!(e.is_set()? && e.wait_timeout(Duration::ZERO)?);
    /// # Ok::<(), multiproc_manager::Error>(())
    /// ```
    EventProxy
}

impl EventProxy {
    /// `e.is_set()`.
    pub fn is_set(&self) -> Result<bool, Error> {
        self.base.call("is_set", Vec::new())
    }

    /// `e.set()`: wakes every waiter.
    pub fn set(&self) -> Result<(), Error> {
        self.base.call("set", Vec::new())
    }

    /// `e.clear()`.
    pub fn clear(&self) -> Result<(), Error> {
        self.base.call("clear", Vec::new())
    }

    /// `e.wait()`: until the flag is set.
    pub fn wait(&self) -> Result<(), Error> {
        self.base.call("wait", Vec::new()).map(|_: bool| ())
    }

    /// `e.wait(timeout)`: whether the flag was set within `timeout`.
    pub fn wait_timeout(&self, timeout: Duration) -> Result<bool, Error> {
        self.base.call("wait", vec![secs(timeout)])
    }
}
