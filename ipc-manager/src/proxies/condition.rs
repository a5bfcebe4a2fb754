//! [`ConditionProxy`]: a shared `Condition`.

use std::time::Duration;

use multiproc_core::Deadline;

use super::acquirer::acquire_methods;
use super::{proxy_type, secs};
use crate::error::Error;
use crate::value::PyValue;

proxy_type! {
    /// A proxy to a `Condition` in a manager (Python's `ConditionProxy`), over its own
    /// `RLock`: acquire it, `wait` (which lets it go while waiting), `notify`.
    ///
    /// ```
    /// use std::time::Duration;
    /// let m = multiproc_manager::Manager::start()?;
    /// let c = m.condition()?;
    /// c.acquire()?;
    /// assert!(!c.wait_timeout(Duration::from_millis(10))?); // nobody notified
    /// c.notify()?;
    /// c.release()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ConditionProxy
}

impl ConditionProxy {
    acquire_methods!();

    /// `wait()`: lets the lock go, waits for a `notify`, takes the lock back.
    pub fn wait(&self) -> Result<(), Error> {
        self.base
            .call("wait", vec![PyValue::None])
            .map(|_: bool| ())
    }

    /// `wait(timeout)`: whether a `notify` came within `timeout`.
    pub fn wait_timeout(&self, timeout: Duration) -> Result<bool, Error> {
        self.base.call("wait", vec![secs(timeout)])
    }

    /// `wait_for(predicate)`: waits until `predicate()` holds (checked here, with the lock
    /// held, first and after each wake-up), as long as it takes.
    pub fn wait_for(&self, predicate: impl FnMut() -> bool) -> Result<(), Error> {
        self.wait_for_until(predicate, Deadline::Forever).map(drop)
    }

    /// `wait_for(predicate, timeout)`: [`wait_for`](Self::wait_for) that gives up after
    /// `timeout`; the predicate's last result (`false`: the time ran out first).
    pub fn wait_for_timeout(
        &self,
        predicate: impl FnMut() -> bool,
        timeout: Duration,
    ) -> Result<bool, Error> {
        self.wait_for_until(predicate, Deadline::after(timeout))
    }

    fn wait_for_until(
        &self,
        mut predicate: impl FnMut() -> bool,
        deadline: Deadline,
    ) -> Result<bool, Error> {
        loop {
            if predicate() {
                return Ok(true);
            }
            match deadline.left() {
                None => return Ok(false),
                Some(None) => self.wait()?,
                Some(Some(left)) => {
                    self.wait_timeout(left)?;
                }
            }
        }
    }

    /// `notify()`: wakes one waiter.
    pub fn notify(&self) -> Result<(), Error> {
        self.base.call("notify", vec![PyValue::Int(1)])
    }

    /// `notify(n)`.
    pub fn notify_n(&self, n: usize) -> Result<(), Error> {
        self.base.call("notify", vec![PyValue::Int(n as i128)])
    }

    /// `notify_all()`.
    pub fn notify_all(&self) -> Result<(), Error> {
        self.base.call("notify_all", Vec::new())
    }
}
