//! Fifos in a tokio program (feature `tokio`): [`Fifo::open_reader_async`],
//! [`Fifo::open_writer_async`], [`AsyncFifoReader`], [`AsyncFifoWriter`].

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use multiproc_core::Deadline;
use multiproc_core::stream::AsyncEndpoint;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::Error;
use crate::fifo::{Fifo, open_end};
use crate::reader::FifoReader;
use crate::sys::{self, Side, Wait};
use crate::writer::FifoWriter;

impl Fifo {
    /// [`open_reader`](Self::open_reader) as a future: waits as long as it takes for a writer,
    /// without holding a runtime thread (the `open`, which only the kernel can end, waits on a
    /// helper thread of its own). Bound it with [`open_reader_timeout_async`](Self::open_reader_timeout_async)
    /// or `tokio::time::timeout`: a dropped future releases its `open`, and a peer that comes
    /// later finds the fifo as before.
    pub async fn open_reader_async(&self) -> Result<AsyncFifoReader, Error> {
        let fd = open_async(&self.path, Side::Read).await?;
        AsyncFifoReader::new(FifoReader::new(fd))
    }

    /// [`open_reader_async`](Self::open_reader_async) that gives up with [`Error::Timeout`]
    /// after `timeout`, as [`open_reader_timeout`](Self::open_reader_timeout) does.
    pub async fn open_reader_timeout_async(
        &self,
        timeout: Duration,
    ) -> Result<AsyncFifoReader, Error> {
        tokio::time::timeout(timeout, self.open_reader_async())
            .await
            .unwrap_or(Err(Error::Timeout))
    }

    /// [`open_writer`](Self::open_writer) as a future: waits as long as it takes for a reader
    /// (at once when one is there). See [`open_reader_async`](Self::open_reader_async).
    pub async fn open_writer_async(&self) -> Result<AsyncFifoWriter, Error> {
        let fd = match open_end(&self.path, Side::Write, Deadline::No) {
            Ok(fd) => fd,
            Err(Error::Timeout) => open_async(&self.path, Side::Write).await?,
            Err(e) => return Err(e),
        };
        AsyncFifoWriter::new(FifoWriter::new(fd))
    }

    /// [`open_writer_async`](Self::open_writer_async) that gives up with [`Error::Timeout`]
    /// after `timeout`.
    pub async fn open_writer_timeout_async(
        &self,
        timeout: Duration,
    ) -> Result<AsyncFifoWriter, Error> {
        tokio::time::timeout(timeout, self.open_writer_async())
            .await
            .unwrap_or(Err(Error::Timeout))
    }
}

/// A blocking `open` of `side` on a helper thread. If the future is dropped first, a guard
/// lets the `open` return by playing the missing peer for an instant, and what it opened is
/// closed.
async fn open_async(path: &Path, side: Side) -> Result<OwnedFd, Error> {
    let state = Arc::new(State::default());
    let guard = Release {
        path: path.to_path_buf(),
        side,
        state: Arc::clone(&state),
    };
    let p = path.to_path_buf();
    let (tx, rx) = tokio::sync::oneshot::channel();
    // A thread of its own, not tokio's blocking pool: a runtime shutting down waits for its
    // blocking pool before it drops the futures whose guards would release the `open`.
    std::thread::Builder::new()
        .name("multiproc-fifo-open".into())
        .spawn(move || {
            let r = if state.cancelled.load(Ordering::Acquire) {
                Err(io::ErrorKind::Interrupted.into())
            } else {
                sys::open(&p, side, Wait::Yes)
            };
            state.done.store(true, Ordering::Release);
            let _ = tx.send(r);
        })?;
    let r = rx
        .await
        .map_err(|_| Error::Io(io::Error::other("the open thread ended without an answer")))?;
    guard.disarm();
    r.map_err(|e| Error::at(path, e))
}

/// What the blocking `open` and its future know of each other.
#[derive(Debug, Default)]
struct State {
    /// The future is gone: an `open` not yet begun is not begun.
    cancelled: AtomicBool,
    /// The `open` returned (or was never begun).
    done: AtomicBool,
}

/// Releases a blocked `open` of a fifo when its future is dropped.
struct Release {
    path: PathBuf,
    side: Side,
    state: Arc<State>,
}

impl Release {
    fn disarm(self) {
        self.state.done.store(true, Ordering::Release);
    }
}

impl Drop for Release {
    fn drop(&mut self) {
        self.state.cancelled.store(true, Ordering::Release);
        // A non-blocking open of the other end lets a blocked `open` return (the kernel counts
        // the peer's arrival, even if it leaves at once); its descriptor is dropped with the
        // task's unread result. An `open` that was about to begin when the peer came and went
        // would miss it: try again until the task is done (a few milliseconds at most; an
        // `open` not yet begun sees `cancelled` and does not begin).
        for _ in 0..1000 {
            if self.state.done.load(Ordering::Acquire) {
                return;
            }
            drop(sys::open(&self.path, self.side.other(), Wait::No));
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

/// The read end of a fifo in a tokio program: framed messages ([`recv`](Self::recv)) or raw
/// bytes (tokio's [`AsyncRead`](tokio::io::AsyncRead)) — use one or the other.
///
/// Cancellation: a dropped receive keeps what arrived of its message for the next one.
#[derive(Debug)]
pub struct AsyncFifoReader {
    end: AsyncEndpoint,
}

impl AsyncFifoReader {
    /// Makes a synchronous read end async (inside a tokio runtime).
    pub fn new(reader: FifoReader) -> Result<AsyncFifoReader, Error> {
        Ok(AsyncFifoReader {
            end: AsyncEndpoint::new(reader.into_endpoint())?,
        })
    }

    /// Receives one message written by a [`FifoWriter`] or [`AsyncFifoWriter`], waiting as
    /// long as it takes; `Ok(None)` at end of stream (every writer closed between messages).
    ///
    /// # Errors
    /// As [`FifoReader::recv`].
    pub async fn recv<T: DeserializeOwned>(&mut self) -> Result<Option<T>, Error> {
        or_end(self.end.recv().await)
    }

    /// Receives one message as bytes; `Ok(None)` at end of stream.
    pub async fn recv_bytes(&mut self) -> Result<Option<Vec<u8>>, Error> {
        or_end(self.end.recv_bytes().await)
    }

    /// Sets the largest message accepted (default 1 GiB).
    pub fn set_max_message(&mut self, max: usize) {
        self.end.set_max_message(max);
    }
}

/// `Ok(None)` for the end of the stream between messages.
fn or_end<T>(r: multiproc_core::Result<T>) -> Result<Option<T>, Error> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(multiproc_core::Error::Disconnected { mid_message: false }) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

impl tokio::io::AsyncRead for AsyncFifoReader {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let dst = buf.initialize_unfilled();
        match self.end.poll_read_raw(cx, dst) {
            Poll::Ready(Ok(n)) => {
                buf.advance(n);
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl AsFd for AsyncFifoReader {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.end.as_fd()
    }
}

/// The write end of a fifo in a tokio program: framed messages ([`send`](Self::send)) or raw
/// bytes (tokio's [`AsyncWrite`](tokio::io::AsyncWrite)).
///
/// Cancellation: a dropped send either wrote nothing (its message never arrives) or had begun,
/// and then the rest goes out before the next message.
#[derive(Debug)]
pub struct AsyncFifoWriter {
    end: AsyncEndpoint,
}

impl AsyncFifoWriter {
    /// Makes a synchronous write end async (inside a tokio runtime).
    pub fn new(writer: FifoWriter) -> Result<AsyncFifoWriter, Error> {
        Ok(AsyncFifoWriter {
            end: AsyncEndpoint::new(writer.into_endpoint())?,
        })
    }

    /// Sends a serde value as one framed message, waiting for room as long as it takes.
    ///
    /// # Errors
    /// As [`FifoWriter::send`].
    pub async fn send<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        Ok(self.end.send(value).await?)
    }

    /// Sends `buf` as one framed message.
    pub async fn send_bytes(&mut self, buf: &[u8]) -> Result<(), Error> {
        Ok(self.end.send_bytes(buf).await?)
    }

    /// Sends what a dropped send left.
    pub async fn flush(&mut self) -> Result<(), Error> {
        Ok(self.end.flush().await?)
    }

    /// Sets the largest message sent (default 1 GiB).
    pub fn set_max_message(&mut self, max: usize) {
        self.end.set_max_message(max);
    }
}

impl tokio::io::AsyncWrite for AsyncFifoWriter {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.end.poll_write_raw(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

impl AsFd for AsyncFifoWriter {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.end.as_fd()
    }
}
