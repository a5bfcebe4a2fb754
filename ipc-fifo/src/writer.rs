//! [`FifoWriter`]: the write end of a fifo.

use std::io::{self, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use multiproc_core::fd;
use multiproc_core::stream::{Endpoint, Framing, StreamKind};
use serde::Serialize;

use crate::error::Error;

/// The write end of a fifo: raw bytes ([`Write`]) or framed messages ([`send`](Self::send)).
/// A write after the reader is gone is [`Error::Disconnected`] (`BrokenPipe` from [`Write`]),
/// never a `SIGPIPE`.
#[derive(Debug)]
pub struct FifoWriter {
    end: Endpoint,
}

impl FifoWriter {
    pub(crate) fn new(fd: OwnedFd) -> FifoWriter {
        FifoWriter {
            end: Endpoint::new(fd, StreamKind::Pipe, Framing::Native),
        }
    }

    /// Sets the largest message sent (default 1 GiB).
    pub fn set_max_message(&mut self, max: usize) {
        self.end.set_max_message(max);
    }

    /// The largest message sent.
    pub fn max_message(&self) -> usize {
        self.end.max_message()
    }

    /// Sends a serde value as one framed message (the framing of `multiproc-pipe`). Messages
    /// up to `PIPE_BUF` (4096 bytes) with their 8-byte header are written atomically, so
    /// several writers do not interleave them.
    ///
    /// # Errors
    /// [`Error::Disconnected`] when no reader has the fifo open; [`Error::TooLarge`] above the
    /// limit (nothing is written); [`Error::CannotSendFds`] for a value that owns descriptors.
    pub fn send<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        Ok(self.end.send(value)?)
    }

    /// Sends `buf` as one framed message. Errors as [`send`](Self::send).
    pub fn send_bytes(&mut self, buf: &[u8]) -> Result<(), Error> {
        Ok(self.end.send_bytes(buf)?)
    }
}

impl Write for FifoWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        fd::write_nosigpipe(&self.end, buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl FifoWriter {
    /// The endpoint, for the async end.
    #[cfg(feature = "tokio")]
    pub(crate) fn into_endpoint(self) -> Endpoint {
        self.end
    }
}

impl AsFd for FifoWriter {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.end.as_fd()
    }
}
