//! Framed messages over a byte stream (a Unix socket, a pipe, a fifo), buffered for speed and
//! careful with bad input.
//!
//! Every message is an 8-byte header — payload length and descriptor count, both `u32`
//! little-endian — then the payload. On a Unix socket the descriptors ride along as
//! `SCM_RIGHTS` on the header's first byte; on a pipe the count is always 0.
//!
//! ```text
//! +---------------+-----------------+------------------+
//! | len: u32 (LE) | nfds: u32 (LE)  | payload: len B   |   (+ nfds descriptors, sockets only)
//! +---------------+-----------------+------------------+
//! ```
//!
//! [`MessageReader`] reads ahead in 64 KiB chunks, so a burst of small messages costs one
//! `read` for many; a large payload is read straight into its destination. It checks the header
//! against a limit before allocating anything, grows a buffer only as bytes arrive, and keeps
//! a partly received message across a timeout, so a stalled peer costs a timeout, not the
//! stream. [`send_message`] writes header and payload with one `writev`/`sendmsg` and no copy,
//! and never raises `SIGPIPE`.
//!
//! `multiproc-pipe`'s `Connection`, `multiproc-fifo`, and [`crate::transfer::Channel`] are built on this.

use std::collections::VecDeque;
use std::io;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::sys;

/// Bytes in a message header.
pub const HEADER_LEN: usize = 8;

/// How far [`MessageReader`] reads ahead.
const CHUNK: usize = 64 * 1024;

/// What kind of descriptor a stream is: only sockets carry descriptors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamKind {
    /// A Unix stream socket: `sendmsg`/`recvmsg`, descriptors allowed.
    Socket,
    /// A pipe or fifo: `writev`/`read`, no descriptors.
    Pipe,
}

/// The header for a payload of `len` bytes with `nfds` descriptors.
pub fn header(len: usize, nfds: usize) -> Result<[u8; HEADER_LEN]> {
    let l = u32::try_from(len).map_err(|_| Error::FrameTooLarge {
        len: len as u64,
        max: u32::MAX as usize,
    })?;
    let mut h = [0u8; HEADER_LEN];
    h[..4].copy_from_slice(&l.to_le_bytes());
    h[4..].copy_from_slice(&(nfds as u32).to_le_bytes());
    Ok(h)
}

fn parse_header(h: &[u8], max: usize) -> Result<(usize, usize)> {
    let len = u32::from_le_bytes(h[..4].try_into().expect("4 bytes")) as usize;
    let nfds = u32::from_le_bytes(h[4..8].try_into().expect("4 bytes")) as usize;
    if len > max {
        return Err(Error::FrameTooLarge {
            len: len as u64,
            max,
        });
    }
    if nfds > sys::MAX_FDS_PER_MESSAGE {
        return Err(Error::FrameCorrupt(format!(
            "header announces {nfds} descriptors"
        )));
    }
    Ok((len, nfds))
}

/// Sends one message: `header` + `payload` in one system call where the kernel takes it all,
/// with `fds` on a socket. Loops over partial writes. A reader that is gone is
/// `Err(Error::Io)` with `BrokenPipe`, never a `SIGPIPE`.
pub fn send_message(
    fd: BorrowedFd<'_>,
    kind: StreamKind,
    payload: &[u8],
    fds: &[BorrowedFd<'_>],
) -> Result<()> {
    if kind == StreamKind::Pipe && !fds.is_empty() {
        return Err(Error::NotTransferable(
            "a pipe cannot carry file descriptors; use a duplex (socket) connection",
        ));
    }
    let head = header(payload.len(), fds.len())?;
    let total = HEADER_LEN + payload.len();
    let mut sent = 0;
    let mut first = true;
    while sent < total {
        let iov: [io::IoSlice<'_>; 2];
        let slices: &[io::IoSlice<'_>] = if sent < HEADER_LEN {
            iov = [io::IoSlice::new(&head[sent..]), io::IoSlice::new(payload)];
            &iov
        } else {
            iov = [
                io::IoSlice::new(&payload[sent - HEADER_LEN..]),
                io::IoSlice::new(&[]),
            ];
            &iov[..1]
        };
        let n = match kind {
            StreamKind::Socket => sys::sendmsg_iov(fd, slices, if first { fds } else { &[] })?,
            StreamKind::Pipe => sys::writev_nosigpipe(fd, slices)?,
        };
        first = false;
        sent += n;
    }
    Ok(())
}

/// The receiving half of a framed stream: a read-ahead buffer and the descriptors that came
/// with bytes not yet consumed. Keep one per descriptor for its whole life.
#[derive(Debug)]
pub struct MessageReader {
    buf: Box<[u8]>,
    start: usize,
    end: usize,
    fds: VecDeque<OwnedFd>,
    max: usize,
    /// A timeout struck after part of a message larger than the buffer had been consumed: the
    /// stream is no longer at a message boundary, so every later receive is refused.
    poisoned: bool,
}

impl Default for MessageReader {
    fn default() -> Self {
        Self::new(crate::frame::DEFAULT_MAX_FRAME)
    }
}

/// Time left until `deadline`, or `Err(Timeout)` once it passed.
fn left(deadline: Option<Instant>) -> Result<Option<Duration>> {
    match deadline {
        None => Ok(None),
        Some(d) => match d.checked_duration_since(Instant::now()) {
            Some(l) => Ok(Some(l)),
            None => Err(Error::Timeout),
        },
    }
}

impl MessageReader {
    /// A reader that accepts payloads up to `max` bytes.
    pub fn new(max: usize) -> Self {
        MessageReader {
            // Allocated on the first read: many channels only ever send.
            buf: Box::default(),
            start: 0,
            end: 0,
            fds: VecDeque::new(),
            max,
            poisoned: false,
        }
    }

    fn check_poisoned(&self) -> Result<()> {
        if self.poisoned {
            return Err(Error::FrameCorrupt(
                "the stream lost its place: a timeout struck inside a message larger than 64 KiB"
                    .into(),
            ));
        }
        Ok(())
    }

    /// The payload limit.
    pub fn max(&self) -> usize {
        self.max
    }

    /// Sets the payload limit.
    pub fn set_max(&mut self, max: usize) {
        self.max = max;
    }

    /// Bytes read ahead and not yet consumed.
    pub fn buffered(&self) -> usize {
        self.end - self.start
    }

    /// Whether a whole message is already buffered (so a receive will not block).
    pub fn has_message(&self) -> bool {
        let b = &self.buf[self.start..self.end];
        b.len() >= HEADER_LEN
            && b.len() - HEADER_LEN >= u32::from_le_bytes(b[..4].try_into().expect("4")) as usize
    }

    /// One read (or recvmsg) into the free space of the buffer, waiting at most until
    /// `deadline`. `Ok(0)` at end of stream.
    fn read_some(
        &mut self,
        fd: BorrowedFd<'_>,
        kind: StreamKind,
        deadline: Option<Instant>,
    ) -> Result<usize> {
        if self.buf.is_empty() {
            self.buf = vec![0u8; CHUNK].into_boxed_slice();
        }
        if self.start > 0 && (self.end == self.buf.len() || self.start == self.end) {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if deadline.is_some() && !sys::poll_readable(fd, left(deadline)?)? {
            return Err(Error::Timeout);
        }
        let space = &mut self.buf[self.end..];
        let n = match kind {
            StreamKind::Socket => {
                let mut got = Vec::new();
                let n = sys::recv_with_fds(fd, space, &mut got, sys::MAX_FDS_PER_MESSAGE)?;
                self.fds.extend(got);
                n
            }
            StreamKind::Pipe => sys::read(fd, space)?,
        };
        self.end += n;
        Ok(n)
    }

    /// Makes sure `want` (≤ 64 KiB) bytes are buffered. `Err(Closed)` at end of stream with
    /// nothing buffered; `FrameTruncated` with a partial message.
    fn fill(
        &mut self,
        fd: BorrowedFd<'_>,
        kind: StreamKind,
        want: usize,
        deadline: Option<Instant>,
    ) -> Result<()> {
        while self.buffered() < want {
            if self.read_some(fd, kind, deadline)? == 0 {
                let got = self.buffered();
                if got == 0 {
                    return Err(Error::Closed);
                }
                // End of stream inside a message: it can never complete, so drop it; the next
                // call reports `Closed`.
                self.start = self.end;
                self.fds.clear();
                return Err(Error::FrameTruncated {
                    expected: want,
                    got,
                });
            }
        }
        Ok(())
    }

    fn take_fds(&mut self, nfds: usize) -> Result<Vec<OwnedFd>> {
        if self.fds.len() < nfds {
            let received = self.fds.len();
            self.fds.clear();
            return Err(Error::FdCount {
                expected: nfds,
                received,
            });
        }
        Ok(self.fds.drain(..nfds).collect())
    }

    /// Receives one message and hands its payload and descriptors to `f`.
    ///
    /// A payload up to 64 KiB − 8 is given straight from the read-ahead buffer; a larger one is
    /// collected in a vector that grows as bytes arrive. `deadline` bounds the whole wait. On
    /// [`Error::Timeout`] a message up to 64 KiB that had begun to arrive stays buffered for the
    /// next call; a timeout inside a larger one leaves the stream unusable (later receives are
    /// [`Error::FrameCorrupt`]), since part of it was already consumed.
    ///
    /// # Errors
    /// [`Error::Closed`] at end of stream between messages, [`Error::FrameTruncated`] inside
    /// one, [`Error::FrameTooLarge`] for a header above the limit (the stream is unusable
    /// after it: the payload was not consumed), [`Error::FdCount`] when descriptors are missing.
    pub fn recv_with<R>(
        &mut self,
        fd: BorrowedFd<'_>,
        kind: StreamKind,
        deadline: Option<Instant>,
        f: impl FnOnce(&[u8], Vec<OwnedFd>) -> R,
    ) -> Result<R> {
        self.check_poisoned()?;
        self.fill(fd, kind, HEADER_LEN, deadline)?;
        let (len, nfds) = parse_header(&self.buf[self.start..self.start + HEADER_LEN], self.max)?;
        if HEADER_LEN + len <= self.buf.len() {
            self.fill(fd, kind, HEADER_LEN + len, deadline)?;
            let p = self.start + HEADER_LEN;
            // Consume the message before checking its descriptors: a bad one is dropped,
            // not reported again and again.
            self.start = p + len;
            let fds = self.take_fds(nfds)?;
            return Ok(f(&self.buf[p..p + len], fds));
        }
        let mut big = Vec::new();
        self.read_large(fd, kind, len, deadline, &mut big)?;
        let fds = self.take_fds(nfds)?;
        Ok(f(&big, fds))
    }

    /// Receives one message's payload, appending it to `out`; returns its length. Large
    /// payloads are read straight into `out` (no copy through the buffer). Descriptors that
    /// came with it are appended to `fds`.
    pub fn recv_into_vec(
        &mut self,
        fd: BorrowedFd<'_>,
        kind: StreamKind,
        deadline: Option<Instant>,
        out: &mut Vec<u8>,
        fds: &mut Vec<OwnedFd>,
    ) -> Result<usize> {
        self.check_poisoned()?;
        self.fill(fd, kind, HEADER_LEN, deadline)?;
        let (len, nfds) = parse_header(&self.buf[self.start..self.start + HEADER_LEN], self.max)?;
        if HEADER_LEN + len <= self.buf.len() {
            self.fill(fd, kind, HEADER_LEN + len, deadline)?;
            let p = self.start + HEADER_LEN;
            out.extend_from_slice(&self.buf[p..p + len]);
            self.start = p + len;
        } else {
            self.read_large(fd, kind, len, deadline, out)?;
        }
        fds.extend(self.take_fds(nfds)?);
        Ok(len)
    }

    /// Receives one message's payload into `out[..len]` if it fits. When it does not, the
    /// message is still consumed and returned as `Err(Ok(payload))` (Python's
    /// `BufferTooShort`, which carries the message).
    pub fn recv_into_slice(
        &mut self,
        fd: BorrowedFd<'_>,
        kind: StreamKind,
        deadline: Option<Instant>,
        out: &mut [u8],
    ) -> Result<std::result::Result<usize, Vec<u8>>> {
        self.check_poisoned()?;
        self.fill(fd, kind, HEADER_LEN, deadline)?;
        let (len, nfds) = parse_header(&self.buf[self.start..self.start + HEADER_LEN], self.max)?;
        if len > out.len() {
            let mut whole = Vec::new();
            let mut fds = Vec::new();
            self.recv_into_vec(fd, kind, deadline, &mut whole, &mut fds)?;
            return Ok(Err(whole));
        }
        // Copy what is buffered, then read the rest straight into `out`.
        self.start += HEADER_LEN;
        let have = self.buffered().min(len);
        out[..have].copy_from_slice(&self.buf[self.start..self.start + have]);
        self.start += have;
        let mut got = have;
        while got < len {
            if deadline.is_some() {
                let ready = left(deadline).and_then(|l| Ok(sys::poll_readable(fd, l)?));
                if !matches!(ready, Ok(true)) {
                    self.poisoned = true;
                    return Err(ready.err().unwrap_or(Error::Timeout));
                }
            }
            let n = match kind {
                StreamKind::Socket => {
                    let mut more = Vec::new();
                    let n = sys::recv_with_fds(
                        fd,
                        &mut out[got..len],
                        &mut more,
                        sys::MAX_FDS_PER_MESSAGE,
                    )?;
                    self.fds.extend(more);
                    n
                }
                StreamKind::Pipe => sys::read(fd, &mut out[got..len])?,
            };
            if n == 0 {
                return Err(Error::FrameTruncated {
                    expected: HEADER_LEN + len,
                    got: HEADER_LEN + got,
                });
            }
            got += n;
        }
        drop(self.take_fds(nfds)?);
        Ok(Ok(len))
    }

    /// A payload larger than the buffer: the buffered part, then reads straight into `out`,
    /// growing it at most 1 MiB ahead of the bytes that arrived.
    fn read_large(
        &mut self,
        fd: BorrowedFd<'_>,
        kind: StreamKind,
        len: usize,
        deadline: Option<Instant>,
        out: &mut Vec<u8>,
    ) -> Result<()> {
        self.start += HEADER_LEN;
        let base = out.len();
        let have = self.buffered().min(len);
        out.extend_from_slice(&self.buf[self.start..self.start + have]);
        self.start += have;
        let mut got = have;
        while got < len {
            let step = (len - got).min(1 << 20);
            out.resize(base + got + step, 0);
            while got < len && out.len() > base + got {
                if deadline.is_some() {
                    let ready = left(deadline).and_then(|l| Ok(sys::poll_readable(fd, l)?));
                    if !matches!(ready, Ok(true)) {
                        out.truncate(base + got);
                        self.poisoned = true;
                        return Err(ready.err().unwrap_or(Error::Timeout));
                    }
                }
                let dst = &mut out[base + got..];
                let n = match kind {
                    StreamKind::Socket => {
                        let mut more = Vec::new();
                        let n = sys::recv_with_fds(fd, dst, &mut more, sys::MAX_FDS_PER_MESSAGE)?;
                        self.fds.extend(more);
                        n
                    }
                    StreamKind::Pipe => sys::read(fd, dst)?,
                };
                if n == 0 {
                    out.truncate(base + got);
                    return Err(Error::FrameTruncated {
                        expected: HEADER_LEN + len,
                        got: HEADER_LEN + got,
                    });
                }
                got += n;
            }
        }
        Ok(())
    }
}
