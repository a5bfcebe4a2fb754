//! [`AsyncEndpoint`]: the framed endpoint in a tokio program (feature `tokio`).

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::task::{Context, Poll};

use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::io::unix::AsyncFd;

use super::{Endpoint, Outgoing};
use crate::error::{Error, Result};
use crate::futex::Deadline;

/// An [`Endpoint`] whose receives and sends are futures, on tokio's [`AsyncFd`]: a task that
/// waits for a message holds no thread, and an idle endpoint costs no CPU.
///
/// Make one inside a tokio runtime (its I/O driver must be enabled), from an endpoint of any
/// [`Framing`](super::Framing) and [`StreamKind`](super::StreamKind). The descriptor is made
/// non-blocking while it is async (which every endpoint sharing its open file copes with);
/// [`into_inner`](Self::into_inner) gives the endpoint back, blocking again.
///
/// # Cancellation
///
/// Every future of this type may be dropped at any `.await` (by `select!`, by
/// `tokio::time::timeout`, by a runtime that shuts down) without losing a message or leaving
/// the stream out of step:
///
/// - a dropped [`recv`](Self::recv) keeps what arrived of the message in the endpoint; the
///   next receive, async or not, continues it;
/// - a dropped [`send`](Self::send) either sent nothing (its message is dropped with it, never
///   to arrive) or had begun: then the rest of the message belongs to the endpoint and goes out
///   before the next message (the next send, [`flush`](Self::flush), or a synchronous send on
///   [`into_inner`](Self::into_inner)'s endpoint), so the peer never sees half a message
///   followed by another.
///
/// ```
/// use multiproc_core::stream::{AsyncEndpoint, Endpoint, Framing};
///
/// let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
/// rt.block_on(async {
///     let (a, b) = Endpoint::pair(Framing::Native)?;
///     let (mut a, mut b) = (AsyncEndpoint::new(a)?, AsyncEndpoint::new(b)?);
///     a.send(&("hello", 1u8)).await?;
///     let got: (String, u8) = b.recv().await?;
///     assert_eq!(got, ("hello".to_string(), 1));
///     Ok::<(), multiproc_core::Error>(())
/// })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct AsyncEndpoint {
    inner: AsyncFd<Endpoint>,
}

impl AsyncEndpoint {
    /// Registers `end` with the current tokio runtime's I/O driver.
    ///
    /// # Errors
    /// [`Error::Io`] when there is no runtime with I/O enabled, or the registration fails.
    ///
    /// # Panics
    /// When called outside a tokio runtime (tokio's own rule for `AsyncFd`).
    pub fn new(end: Endpoint) -> Result<AsyncEndpoint> {
        crate::fd::set_nonblocking(&end)?;
        // SAFETY: the endpoint owns its descriptor (an `OwnedFd`) for as long as it lives and
        // always reports that one; this type never hands out `&mut Endpoint` (through which
        // the endpoint could be replaced by another), so the descriptor stays open and the
        // same until `into_inner` or drop, as `register` requires.
        let inner = unsafe { AsyncFd::register(end) }.map_err(|e| Error::Io(e.into()))?;
        Ok(AsyncEndpoint { inner })
    }

    /// The endpoint, deregistered and blocking again. What a stopped send left goes out with
    /// its next send.
    pub fn into_inner(self) -> Endpoint {
        let end = self.inner.into_inner();
        let _ = crate::fd::set_blocking(&end);
        end
    }

    /// The endpoint (its framing, limit, kind).
    pub fn get_ref(&self) -> &Endpoint {
        self.inner.get_ref()
    }

    /// Sets the largest message this end sends or accepts (see
    /// [`Endpoint::set_max_message`]).
    pub fn set_max_message(&mut self, max: usize) {
        self.inner.get_mut().set_max_message(max);
    }

    /// Receives one serde value (with the descriptors it owns), waiting as long as it takes.
    ///
    /// # Errors
    /// As [`Endpoint::recv_until`], never [`Error::Timeout`] (bound the wait with
    /// `tokio::time::timeout`).
    pub async fn recv<T: DeserializeOwned>(&mut self) -> Result<T> {
        self.recv_with(|end| end.recv_until(Deadline::No)).await
    }

    /// Receives one message as bytes, waiting as long as it takes.
    pub async fn recv_bytes(&mut self) -> Result<Vec<u8>> {
        self.recv_with(|end| end.recv_bytes_until(Deadline::No))
            .await
    }

    /// Runs `op` (a receive that does not wait) until it is not [`Error::Timeout`], waiting for
    /// the descriptor to become readable between tries.
    async fn recv_with<R>(&mut self, mut op: impl FnMut(&mut Endpoint) -> Result<R>) -> Result<R> {
        loop {
            let mut guard = self.inner.readable_mut().await?;
            match op(guard.get_inner_mut()) {
                // `Timeout` from a receive that does not wait: the kernel said `EAGAIN`.
                Err(Error::Timeout) => guard.clear_ready(),
                other => {
                    // A message whose last read took all there was: the next receive waits
                    // for the next event instead of trying a read that would fail (bytes that
                    // came since are a new event, which this does not clear). Not after an
                    // error: the end of the stream sends no further event.
                    let end = guard.get_inner();
                    if other.is_ok() && end.drained() && !end.has_message() {
                        guard.clear_ready();
                    }
                    return other;
                }
            }
        }
    }

    /// Sends a serde value and the descriptors it owns, waiting for room as long as it takes.
    ///
    /// # Errors
    /// As [`Endpoint::send`].
    pub async fn send<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        let msg = self.inner.get_mut().prepare(value)?;
        self.send_prepared(msg).await
    }

    /// Sends `payload` as one message, waiting for room as long as it takes.
    pub async fn send_bytes(&mut self, payload: &[u8]) -> Result<()> {
        let msg = self.inner.get_ref().prepare_bytes(payload)?;
        self.send_prepared(msg).await
    }

    async fn send_prepared(&mut self, mut msg: Outgoing) -> Result<()> {
        loop {
            let mut guard = self.inner.writable_mut().await?;
            match guard.get_inner_mut().send_nowait(&mut msg) {
                Ok(true) => return Ok(()),
                Ok(false) => guard.clear_ready(),
                Err(e) => return Err(e),
            }
        }
    }

    /// Sends what an earlier, dropped send left, waiting for room as long as it takes.
    pub async fn flush(&mut self) -> Result<()> {
        loop {
            let mut guard = self.inner.writable_mut().await?;
            match guard.get_inner_mut().flush_nowait() {
                Ok(true) => return Ok(()),
                Ok(false) => guard.clear_ready(),
                Err(e) => return Err(e),
            }
        }
    }

    /// Waits until a message (or the end of the stream) is there, so that a receive will not
    /// wait; receives nothing.
    pub async fn readable(&self) -> Result<()> {
        std::future::poll_fn(|cx| self.poll_readable(cx)).await
    }

    /// Polls for a message (or the end of the stream): `Ready` when a receive would not wait.
    /// Registers `cx` to be woken when that changes. For waiting on many at once.
    pub fn poll_readable(&self, cx: &mut Context<'_>) -> Poll<Result<()>> {
        loop {
            if self.inner.get_ref().has_message() {
                return Poll::Ready(Ok(()));
            }
            let mut guard = match self.inner.poll_read_ready(cx) {
                Poll::Ready(Ok(g)) => g,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e.into())),
                Poll::Pending => return Poll::Pending,
            };
            // The readiness may be stale (bytes already read ahead): ask the kernel.
            match self.inner.get_ref().poll() {
                Ok(true) => return Poll::Ready(Ok(())),
                Ok(false) => guard.clear_ready(),
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }
}

impl AsyncEndpoint {
    /// Polls one `read(2)` of raw bytes from the descriptor (for a byte stream that is not
    /// framed: use either this or the messages on one endpoint, not both). `Ok(0)` at end of
    /// stream.
    pub fn poll_read_raw(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        loop {
            let mut guard = match self.inner.poll_read_ready(cx) {
                Poll::Ready(r) => r?,
                Poll::Pending => return Poll::Pending,
            };
            match guard.try_io(|fd| crate::fd::retry_eintr(|| Ok(rustix::io::read(fd, &mut *buf)?)))
            {
                Ok(r) => return Poll::Ready(r),
                Err(_would_block) => continue,
            }
        }
    }

    /// Polls one `write(2)` of raw bytes to the descriptor, never raising `SIGPIPE`.
    pub fn poll_write_raw(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        loop {
            let mut guard = match self.inner.poll_write_ready(cx) {
                Poll::Ready(r) => r?,
                Poll::Pending => return Poll::Pending,
            };
            match guard.try_io(|fd| crate::fd::write_nosigpipe(fd, buf)) {
                Ok(r) => return Poll::Ready(r),
                Err(_would_block) => continue,
            }
        }
    }
}

impl AsFd for AsyncEndpoint {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.inner.get_ref().as_fd()
    }
}

impl AsRawFd for AsyncEndpoint {
    fn as_raw_fd(&self) -> RawFd {
        self.inner.as_raw_fd()
    }
}

impl From<AsyncEndpoint> for Endpoint {
    fn from(a: AsyncEndpoint) -> Endpoint {
        a.into_inner()
    }
}
