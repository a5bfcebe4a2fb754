//! [`BarrierProxy`]: a shared `Barrier`.

use std::time::Duration;

use super::{proxy_type, secs};
use crate::error::Error;
use crate::value::PyValue;

proxy_type! {
    /// A proxy to a `Barrier` in a manager (Python's `BarrierProxy`). A wait that times out,
    /// or meets an abort or reset, is [`Error::BrokenBarrier`].
    BarrierProxy
}

impl BarrierProxy {
    /// `b.wait()`: this caller's index among the parties (0 to `parties - 1`).
    pub fn wait(&self) -> Result<u32, Error> {
        self.base.call("wait", Vec::new())
    }

    /// `b.wait(timeout)`.
    pub fn wait_timeout(&self, timeout: Duration) -> Result<u32, Error> {
        self.base.call("wait", vec![secs(timeout)])
    }

    /// `b.abort()`: breaks the barrier for every waiter, now and later.
    pub fn abort(&self) -> Result<(), Error> {
        self.base.call("abort", Vec::new())
    }

    /// `b.reset()`: back to empty and unbroken; current waiters get [`Error::BrokenBarrier`].
    pub fn reset(&self) -> Result<(), Error> {
        self.base.call("reset", Vec::new())
    }

    /// `b.parties`.
    pub fn parties(&self) -> Result<u32, Error> {
        self.base
            .call("__getattribute__", vec![PyValue::str("parties")])
    }

    /// `b.n_waiting`.
    pub fn n_waiting(&self) -> Result<u32, Error> {
        self.base
            .call("__getattribute__", vec![PyValue::str("n_waiting")])
    }

    /// `b.broken`.
    pub fn broken(&self) -> Result<bool, Error> {
        self.base
            .call("__getattribute__", vec![PyValue::str("broken")])
    }
}
