//! [`Event`].

use std::fmt;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use multiproc_core::Deadline;
use multiproc_core::futex::WaitWord;
use serde::{Deserialize, Serialize};

use crate::raw_lock::SPIN;
use multiproc_core::heap::{Kind, Shared, SharedState};

#[repr(C)]
pub(crate) struct EventState {
    /// 0 clear, 1 set.
    pub(crate) flag: AtomicU32,
    _pad: AtomicU32,
    /// Where waiters sleep until `flag` is 1.
    pub(crate) wake: WaitWord,
}

// SAFETY: `#[repr(C)]`, atomics only (a `WaitWord` is four `AtomicU32`s).
unsafe impl SharedState for EventState {
    const KIND: Kind = Kind::new(*b"Evnt");
}

/// A flag that processes wait for: Python's `multiprocessing.Event`.
///
/// [`set`](Self::set) wakes every waiter; [`wait`](Self::wait) returns at once while it is set.
/// A waiter that dies leaves nothing behind that others depend on.
///
/// ```
/// use std::time::Duration;
/// let ev = multiproc_sync::Event::new()?;
/// assert!(!ev.wait_timeout(Duration::from_millis(1)));
/// ev.set();
/// ev.wait();
/// assert!(ev.is_set());
/// ev.clear();
/// assert!(!ev.is_set());
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Event {
    pub(crate) state: Shared<EventState>,
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Event")
            .field("is_set", &self.is_set())
            .finish()
    }
}

impl Event {
    /// A new event, clear.
    pub fn new() -> std::io::Result<Event> {
        Ok(Event {
            state: Shared::new(|_| {})?,
        })
    }

    /// Sets the flag and wakes every waiter.
    #[inline]
    pub fn set(&self) {
        let s = self.state.get();
        if s.flag.swap(1, Ordering::SeqCst) == 0 {
            s.wake.notify_all();
        }
    }

    /// Clears the flag.
    #[inline]
    pub fn clear(&self) {
        self.state.get().flag.store(0, Ordering::Release);
    }

    /// Whether the flag is set.
    #[inline]
    pub fn is_set(&self) -> bool {
        self.state.get().flag.load(Ordering::Acquire) == 1
    }

    /// Waits until the flag is set, as long as it takes (Python's `wait()`).
    #[inline]
    pub fn wait(&self) {
        if !self.is_set() {
            self.wait_slow(Deadline::Forever);
        }
    }

    /// Waits until the flag is set, for at most `timeout`. Returns whether it is set (`false`
    /// only on timeout), like Python's `Event.wait(timeout)`.
    #[inline]
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        self.is_set() || self.wait_slow(Deadline::after(timeout))
    }

    /// Waits until the flag is set, as a future (feature `tokio`): no thread blocks, and an
    /// idle waiter costs no CPU (see the crate's "In a tokio program"). Cancel it with
    /// `tokio::time::timeout` or by dropping it.
    #[cfg(feature = "tokio")]
    pub fn wait_async(&self) -> crate::EventWait {
        crate::EventWait::new(self.clone())
    }

    #[cold]
    fn wait_slow(&self, deadline: Deadline) -> bool {
        let s = self.state.get();
        s.wake
            .wait_until(|| s.flag.load(Ordering::Acquire) == 1, deadline, SPIN)
    }
}
