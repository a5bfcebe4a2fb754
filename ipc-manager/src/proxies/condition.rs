//! [`ConditionProxy`]: a shared `Condition`.

use std::time::{Duration, Instant};

use super::acquirer::acquire_call;
use super::{proxy_type, secs};
use crate::error::{AcquireError, Error};
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
    /// `acquire()`.
    pub fn acquire(&self) -> Result<(), AcquireError<()>> {
        acquire_call(&self.base, Vec::new())
    }

    /// `acquire(timeout=t)`.
    pub fn acquire_timeout(&self, timeout: Duration) -> Result<(), AcquireError<()>> {
        acquire_call(&self.base, vec![PyValue::Bool(true), secs(Some(timeout))])
    }

    /// `release()`.
    pub fn release(&self) -> Result<(), Error> {
        self.base.call("release", Vec::new())
    }

    /// `wait()`: lets the lock go, waits for a `notify`, takes the lock back.
    pub fn wait(&self) -> Result<(), Error> {
        self.base
            .call("wait", vec![PyValue::None])
            .map(|_: bool| ())
    }

    /// `wait(timeout)`: whether a `notify` came within `timeout`.
    pub fn wait_timeout(&self, timeout: Duration) -> Result<bool, Error> {
        self.base.call("wait", vec![secs(Some(timeout))])
    }

    /// `wait_for(predicate, timeout)`: waits until `predicate()` holds (checked here after
    /// each wake-up) or `timeout` runs out; the predicate's last result.
    pub fn wait_for(
        &self,
        mut predicate: impl FnMut() -> bool,
        timeout: Option<Duration>,
    ) -> Result<bool, Error> {
        let end = timeout.map(|t| Instant::now() + t);
        loop {
            if predicate() {
                return Ok(true);
            }
            match end {
                Some(end) => {
                    let left = end.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Ok(false);
                    }
                    self.wait_timeout(left)?;
                }
                None => self.wait()?,
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
