//! [`FifoReader`]: the read end of a fifo.

use std::io::{self, Read};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::time::Duration;

use multiproc_core::stream::{Endpoint, Framing, StreamKind};
use multiproc_core::{Deadline, fd};
use serde::de::DeserializeOwned;

use crate::error::Error;

/// The read end of a fifo: raw bytes ([`Read`]) or framed messages ([`recv`](Self::recv)) —
/// use one or the other on a given end.
///
/// Framed messages are those of `multiproc-pipe` (the framed endpoint of
/// `multiproc_core::stream`): a receive gives one whole message, never a part. When every
/// writer has closed between messages, a receive gives end of stream: `Ok(0)` from [`Read`],
/// `Ok(None)` from `recv`. That is not an error: a later writer may open the fifo again. A
/// writer that went away in the middle of a message is [`Error::Disconnected`] (the part that
/// came is dropped).
#[derive(Debug)]
pub struct FifoReader {
    end: Endpoint,
}

/// `Ok(None)` for the end of the stream between messages.
fn or_end<T>(r: multiproc_core::Result<T>) -> Result<Option<T>, Error> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(multiproc_core::Error::Disconnected { mid_message: false }) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

impl FifoReader {
    pub(crate) fn new(fd: OwnedFd) -> FifoReader {
        FifoReader {
            end: Endpoint::new(fd, StreamKind::Pipe, Framing::Native),
        }
    }

    /// Sets the largest message accepted (default 1 GiB).
    pub fn set_max_message(&mut self, max: usize) {
        self.end.set_max_message(max);
    }

    /// The largest message accepted.
    pub fn max_message(&self) -> usize {
        self.end.max_message()
    }

    pub(crate) fn recv_until<T: DeserializeOwned>(
        &mut self,
        deadline: Deadline,
    ) -> Result<Option<T>, Error> {
        or_end(self.end.recv_until(deadline))
    }

    /// Receives one message written by [`FifoWriter::send`](crate::FifoWriter::send), waiting
    /// as long as it takes; `Ok(None)` at end of stream.
    ///
    /// # Errors
    /// [`Error::Disconnected`] when the writer went away in the middle of a message;
    /// [`Error::TooLarge`]; [`Error::Corrupt`] when the bytes are not a `T`.
    pub fn recv<T: DeserializeOwned>(&mut self) -> Result<Option<T>, Error> {
        self.recv_until(Deadline::Forever)
    }

    /// [`recv`](Self::recv) without waiting: [`Error::Timeout`] when no whole message is
    /// there.
    pub fn try_recv<T: DeserializeOwned>(&mut self) -> Result<Option<T>, Error> {
        self.recv_until(Deadline::No)
    }

    /// [`recv`](Self::recv), giving up with [`Error::Timeout`] after `timeout`; what arrived
    /// of a message stays for the next call.
    pub fn recv_timeout<T: DeserializeOwned>(
        &mut self,
        timeout: Duration,
    ) -> Result<Option<T>, Error> {
        self.recv_until(Deadline::after(timeout))
    }

    pub(crate) fn recv_bytes_until(
        &mut self,
        deadline: Deadline,
    ) -> Result<Option<Vec<u8>>, Error> {
        or_end(self.end.recv_bytes_until(deadline))
    }

    /// Receives one message written by [`FifoWriter::send_bytes`](crate::FifoWriter::send_bytes);
    /// `Ok(None)` at end of stream. Errors as [`recv`](Self::recv).
    pub fn recv_bytes(&mut self) -> Result<Option<Vec<u8>>, Error> {
        self.recv_bytes_until(Deadline::Forever)
    }

    /// [`recv_bytes`](Self::recv_bytes) without waiting.
    pub fn try_recv_bytes(&mut self) -> Result<Option<Vec<u8>>, Error> {
        self.recv_bytes_until(Deadline::No)
    }

    /// [`recv_bytes`](Self::recv_bytes) with a timeout.
    pub fn recv_bytes_timeout(&mut self, timeout: Duration) -> Result<Option<Vec<u8>>, Error> {
        self.recv_bytes_until(Deadline::after(timeout))
    }

    /// Whether a message (or the end of the stream) is waiting now.
    pub fn poll(&self) -> Result<bool, Error> {
        Ok(self.end.poll_until(Deadline::No)?)
    }

    /// Whether a message (or the end of the stream) arrives within `timeout`.
    pub fn poll_timeout(&self, timeout: Duration) -> Result<bool, Error> {
        Ok(self.end.poll_until(Deadline::after(timeout))?)
    }
}

impl Read for FifoReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        fd::retry_eintr(|| rustix::io::read(&self.end, &mut *buf).map_err(Into::into))
    }
}

impl FifoReader {
    /// The endpoint, for the async end.
    #[cfg(feature = "tokio")]
    pub(crate) fn into_endpoint(self) -> Endpoint {
        self.end
    }
}

impl AsFd for FifoReader {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.end.as_fd()
    }
}
