//! [`EventWait`], the future of [`Event::wait_async`] (feature `tokio`).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};

use multiproc_core::futex::AsyncWait;

use crate::event::Event;
use crate::raw_lock::SPIN;

/// The future of [`Event::wait_async`]: ready once the event is set.
///
/// Dropping it (a timeout, a `select!` that went another way) leaves the event as it was.
#[must_use = "futures do nothing unless polled"]
pub struct EventWait {
    event: Arc<Event>,
    wait: AsyncWait,
}

impl fmt::Debug for EventWait {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventWait").finish_non_exhaustive()
    }
}

impl EventWait {
    pub(crate) fn new(event: Event) -> EventWait {
        let event = Arc::new(event);
        let wait = AsyncWait::new(Arc::clone(&event), |e: &Event| &e.state.get().wake);
        EventWait { event, wait }
    }
}

impl Future for EventWait {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        let s = this.event.state.get();
        this.wait
            .poll_until(cx, SPIN, || s.flag.load(Ordering::Acquire) == 1)
    }
}
