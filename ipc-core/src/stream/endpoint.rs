//! [`Endpoint`]: one framed endpoint over one descriptor.

use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{
    DEFAULT_MAX_MESSAGE, Framing, MAX_FDS_PER_FRAME, MORE_FDS, MessageReader, ReadAhead,
    StreamKind, check_fds, raw_header, send_framed, write_once,
};
use crate::error::{Error, Result};
use crate::futex::Deadline;
use crate::sys;
use crate::sys::Mode;
use crate::transfer::{self, FdRef, PortableFd};

/// One end of a framed stream over one descriptor: whole messages — serde values (with the
/// descriptors they own, where the stream carries them) or raw bytes — in a [`Framing`], on a
/// descriptor of a [`StreamKind`].
///
/// Every receive comes in the workspace's shapes: `recv()` waits as long as it takes,
/// `try_recv()` never waits, `recv_timeout(Duration)` waits at most that long, and
/// `recv_until(Deadline)` is the general form they share. A receive that runs out of time is
/// [`Error::Timeout`] and keeps what arrived for the next one. A peer that closed or died is
/// [`Error::Disconnected`] on a receive (and `BrokenPipe` on a send, never a `SIGPIPE`); a
/// message cut off by the peer's death is never delivered.
///
/// One limit, [`set_max_message`](Self::set_max_message), applies both ways: a sender refuses
/// a larger message before writing anything, a receiver refuses it from its header before
/// allocating anything ([`Error::TooLarge`]).
///
/// ```
/// use multiproc_core::stream::{Endpoint, Framing};
/// let (mut a, mut b) = Endpoint::pair(Framing::Native)?;
/// a.send(&("hello", 42u32))?;
/// let got: (String, u32) = b.recv()?;
/// assert_eq!(got, ("hello".to_string(), 42));
/// assert!(matches!(b.try_recv::<u8>(), Err(multiproc_core::Error::Timeout)));
/// # Ok::<(), multiproc_core::Error>(())
/// ```
///
/// An endpoint is a handle: it serialises (through [`crate::transfer`]) with its descriptor,
/// limit, framing and kind. Bytes already read ahead stay with the sending process's copy:
/// send an endpoint before receiving on it.
pub struct Endpoint {
    fd: OwnedFd,
    kind: StreamKind,
    reader: MessageReader,
    /// The encoding buffer of `send`, kept to spare an allocation per message.
    wbuf: Vec<u8>,
    /// What a send that stopped half-way (a dropped async send) left: it goes out before the
    /// next message.
    outbox: VecDeque<OutFrame>,
}

/// A message prepared for [`Endpoint::send_nowait`]: its frames, owned.
#[derive(Debug, Default)]
pub struct Outgoing {
    frames: VecDeque<OutFrame>,
}

/// One frame (one write call) of an outgoing message: bytes, the descriptors that go with the
/// first of them, and how many went out.
#[derive(Debug)]
struct OutFrame {
    bytes: Vec<u8>,
    fds: Vec<OwnedFd>,
    sent: usize,
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Endpoint")
            .field("fd", &self.fd.as_raw_fd())
            .field("kind", &self.kind)
            .field("framing", &self.reader.framing())
            .field("max_message", &self.reader.max_message())
            .finish()
    }
}

impl Endpoint {
    /// An endpoint over `fd`, a descriptor of `kind`, in `framing`, with the default limit
    /// ([`DEFAULT_MAX_MESSAGE`], 1 GiB). A socket in a framing that carries no descriptors
    /// reads as [`StreamKind::SocketWithoutFds`].
    pub fn new(fd: OwnedFd, kind: StreamKind, framing: Framing) -> Endpoint {
        let kind = match kind {
            StreamKind::Socket if !framing.carries_fds() => StreamKind::SocketWithoutFds,
            k => k,
        };
        Endpoint {
            fd,
            kind,
            reader: MessageReader::new(framing, DEFAULT_MAX_MESSAGE),
            wbuf: Vec::new(),
            outbox: VecDeque::new(),
        }
    }

    /// Two connected endpoints over a Unix socket pair (`socketpair`), in `framing`.
    pub fn pair(framing: Framing) -> io::Result<(Endpoint, Endpoint)> {
        let (a, b) = sys::net::socketpair_stream()?;
        Ok((
            Endpoint::new(a, StreamKind::Socket, framing),
            Endpoint::new(b, StreamKind::Socket, framing),
        ))
    }

    /// The descriptor. Bytes already read ahead, and what a stopped send left, are lost.
    pub fn into_fd(self) -> OwnedFd {
        self.fd
    }

    /// How messages are laid out.
    pub fn framing(&self) -> Framing {
        self.reader.framing()
    }

    /// What kind of descriptor this is.
    pub fn kind(&self) -> StreamKind {
        self.kind
    }

    /// Changes how the descriptor is read and written: a Unix socket that refused descriptors
    /// until its peer was authenticated ([`StreamKind::SocketWithoutFds`]) carries them from now
    /// on ([`StreamKind::Socket`]).
    pub fn set_kind(&mut self, kind: StreamKind) {
        self.kind = match kind {
            StreamKind::Socket if !self.framing().carries_fds() => StreamKind::SocketWithoutFds,
            k => k,
        };
    }

    /// Sets whether receives may read past the message they receive (see [`ReadAhead`]).
    pub fn set_read_ahead(&mut self, read_ahead: ReadAhead) {
        self.reader.set_read_ahead(read_ahead);
    }

    /// Whether handles (values that own descriptors) travel on this endpoint: a Unix socket in
    /// the native framing.
    pub fn carries_fds(&self) -> bool {
        self.kind == StreamKind::Socket
    }

    /// The largest message this end sends or accepts, in bytes.
    pub fn max_message(&self) -> usize {
        self.reader.max_message()
    }

    /// Sets the largest message this end sends or accepts, in bytes (default 1 GiB; at most
    /// 4 GiB − 1 in the native framing).
    pub fn set_max_message(&mut self, max: usize) {
        let max = max.min(self.framing().max_payload());
        self.reader.set_max_message(max);
    }

    fn check_len(&self, len: usize) -> Result<()> {
        if len > self.max_message() {
            return Err(Error::TooLarge {
                len: len as u64,
                max: self.max_message(),
            });
        }
        Ok(())
    }

    /// Sends a serde value and the descriptors it owns, waiting as long as the stream is full.
    ///
    /// # Errors
    /// [`Error::TooLarge`] above the limit (nothing is sent); [`Error::Encode`];
    /// [`Error::NotTransferable`] for descriptors where none travel; [`Error::Io`] with
    /// `BrokenPipe` when the peer is gone.
    pub fn send<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        self.flush()?;
        let mut buf = std::mem::take(&mut self.wbuf);
        buf.clear();
        let r = transfer::serialize_into(value, &mut buf).and_then(|fds| {
            self.check_len(buf.len())?;
            let borrowed: Vec<BorrowedFd<'_>> = fds.iter().map(AsFd::as_fd).collect();
            send_framed(self.fd.as_fd(), self.kind, self.framing(), &buf, &borrowed)
        });
        self.wbuf = buf;
        r
    }

    /// Sends `payload` as one message: header and bytes go to the kernel in one `writev` (or
    /// `sendmsg`), with no copy of `payload`. Errors as [`send`](Self::send).
    pub fn send_bytes(&mut self, payload: &[u8]) -> Result<()> {
        self.flush()?;
        self.check_len(payload.len())?;
        send_framed(self.fd.as_fd(), self.kind, self.framing(), payload, &[])
    }

    /// Receives one serde value (with the descriptors it owns), until `deadline`.
    ///
    /// # Errors
    /// [`Error::Timeout`] when the deadline passes first (a message that had begun to arrive
    /// stays for the next call); [`Error::Disconnected`] when the peer went away;
    /// [`Error::TooLarge`] for a message above the limit (nothing is consumed: raise the limit
    /// to receive it); [`Error::Corrupt`] when the bytes are not a `T` or break the framing.
    pub fn recv_until<T: DeserializeOwned>(&mut self, deadline: Deadline) -> Result<T> {
        self.reader
            .recv_with(self.fd.as_fd(), self.kind, deadline, |bytes, fds| {
                transfer::from_envelope(bytes, fds)
            })?
    }

    /// [`recv_until`](Self::recv_until) that waits as long as it takes.
    pub fn recv<T: DeserializeOwned>(&mut self) -> Result<T> {
        self.recv_until(Deadline::Forever)
    }

    /// [`recv_until`](Self::recv_until) that never waits: a message already there, or
    /// [`Error::Timeout`].
    pub fn try_recv<T: DeserializeOwned>(&mut self) -> Result<T> {
        self.recv_until(Deadline::No)
    }

    /// [`recv_until`](Self::recv_until) that waits at most `timeout`.
    pub fn recv_timeout<T: DeserializeOwned>(&mut self, timeout: Duration) -> Result<T> {
        self.recv_until(Deadline::after(timeout))
    }

    /// Receives one message as bytes, until `deadline`; descriptors that came with it are
    /// closed. Errors as [`recv_until`](Self::recv_until).
    pub fn recv_bytes_until(&mut self, deadline: Deadline) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        let mut fds = Vec::new();
        self.reader
            .recv_into_vec(self.fd.as_fd(), self.kind, deadline, &mut out, &mut fds)?;
        Ok(out)
    }

    /// Receives one message into `buf` if it fits; bytes beyond what was read ahead go straight
    /// from the kernel into `buf`. A message that does not fit is consumed and returned whole
    /// as `Ok(Err(message))`. Waits as long as it takes (see
    /// [`MessageReader::recv_into_slice`]).
    pub fn recv_bytes_into(
        &mut self,
        buf: &mut [u8],
    ) -> Result<std::result::Result<usize, Vec<u8>>> {
        self.reader
            .recv_into_slice(self.fd.as_fd(), self.kind, Deadline::Forever, buf)
    }

    /// Whether a message (or the end of the stream) is waiting, until `deadline`.
    pub fn poll_until(&self, deadline: Deadline) -> Result<bool> {
        if self.reader.has_message() {
            return Ok(true);
        }
        Ok(sys::fd::poll_readable(self.fd.as_fd(), deadline)?)
    }

    /// Whether a message (or the end of the stream) is waiting now, without waiting.
    pub fn poll(&self) -> Result<bool> {
        self.poll_until(Deadline::No)
    }

    /// Whether a message (or the end of the stream) arrives within `timeout`
    /// (`Duration::MAX` waits for ever).
    pub fn poll_timeout(&self, timeout: Duration) -> Result<bool> {
        self.poll_until(Deadline::after(timeout))
    }

    /// Whether the last read took all the descriptor had then (see
    /// [`MessageReader::drained`]).
    pub fn drained(&self) -> bool {
        self.reader.drained()
    }

    /// Whether a whole message (or an error) is already read ahead, so a receive will not
    /// wait.
    pub fn has_message(&self) -> bool {
        self.reader.has_message()
    }

    /// Frames `payload` with `fds` for [`send_nowait`](Self::send_nowait), copying it.
    fn frames(&self, payload: &[u8], mut fds: Vec<OwnedFd>) -> Result<Outgoing> {
        check_fds(self.kind, self.framing(), fds.len())?;
        self.check_len(payload.len())?;
        let split = fds.len().saturating_sub(1) / MAX_FDS_PER_FRAME * MAX_FDS_PER_FRAME;
        let last = fds.split_off(split);
        let (head, hlen) = self.framing().encode(payload.len(), last.len())?;
        let mut frames = VecDeque::new();
        while !fds.is_empty() {
            let rest = fds.split_off(fds.len().min(MAX_FDS_PER_FRAME));
            let chunk = std::mem::replace(&mut fds, rest);
            let more = raw_header(0, chunk.len() as u32 | MORE_FDS);
            frames.push_back(OutFrame {
                bytes: more.to_vec(),
                fds: chunk,
                sent: 0,
            });
        }
        let mut bytes = Vec::with_capacity(hlen + payload.len());
        bytes.extend_from_slice(&head[..hlen]);
        bytes.extend_from_slice(payload);
        frames.push_back(OutFrame {
            bytes,
            fds: last,
            sent: 0,
        });
        Ok(Outgoing { frames })
    }

    /// Prepares a serde value for [`send_nowait`](Self::send_nowait). Errors as
    /// [`send`](Self::send), before anything is written.
    pub fn prepare<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<Outgoing> {
        let mut buf = std::mem::take(&mut self.wbuf);
        buf.clear();
        let r = transfer::serialize_into(value, &mut buf).and_then(|fds| self.frames(&buf, fds));
        self.wbuf = buf;
        r
    }

    /// Prepares `payload` for [`send_nowait`](Self::send_nowait) (a copy).
    pub fn prepare_bytes(&self, payload: &[u8]) -> Result<Outgoing> {
        self.frames(payload, Vec::new())
    }

    /// Moves a prepared message towards the peer without waiting: `Ok(true)` once all of it
    /// (and whatever earlier sends left) is with the kernel; `Ok(false)` when the stream is full
    /// (wait until the descriptor is writable and call again).
    ///
    /// Nothing of a message is half-sent on the caller's account: while none of it went out,
    /// it stays in `msg` (drop `msg` and it is never sent); once its first byte went out, the
    /// rest moves into the endpoint (`msg` is left empty) and goes out before the next message
    /// — in this call, a later one, [`flush`](Self::flush), or the next send.
    pub fn send_nowait(&mut self, msg: &mut Outgoing) -> Result<bool> {
        loop {
            if !self.flush_nowait()? {
                return Ok(false);
            }
            let Some(first) = msg.frames.front_mut() else {
                return Ok(true);
            };
            if !self.write_frame(first)? {
                return Ok(false);
            }
            // Begun: the rest of the message is the endpoint's now.
            self.outbox.extend(msg.frames.drain(..));
        }
    }

    /// Writes what earlier sends left, without waiting: `Ok(true)` when nothing is left.
    pub fn flush_nowait(&mut self) -> Result<bool> {
        while let Some(mut f) = self.outbox.pop_front() {
            while f.sent < f.bytes.len() {
                match self.write_frame(&mut f) {
                    Ok(true) => {}
                    other => {
                        self.outbox.push_front(f);
                        return other.map(|_| false);
                    }
                }
            }
        }
        Ok(true)
    }

    /// Writes what earlier sends left, waiting for room as long as it takes.
    ///
    /// # Errors
    /// [`Error::Io`] with `BrokenPipe` when the peer is gone.
    pub fn flush(&mut self) -> Result<()> {
        while !self.flush_nowait()? {
            sys::fd::poll_writable(self.fd.as_fd(), Deadline::Forever)?;
        }
        Ok(())
    }

    /// Whether part of a message is waiting to go out (left by a send that stopped half-way).
    pub fn has_unsent(&self) -> bool {
        !self.outbox.is_empty()
    }

    /// One write of what is left of `f`, without waiting: `Ok(false)` when the stream is full
    /// and nothing went out, `Ok(true)` when something did (possibly not all of it).
    fn write_frame(&mut self, f: &mut OutFrame) -> Result<bool> {
        let fds: Vec<BorrowedFd<'_>> = if f.sent == 0 {
            f.fds.iter().map(AsFd::as_fd).collect()
        } else {
            Vec::new()
        };
        let iov = [io::IoSlice::new(&f.bytes[f.sent..])];
        match write_once(self.fd.as_fd(), self.kind, &iov, &fds, Mode::NoWait) {
            Ok(n) => {
                f.sent += n;
                if f.sent > 0 {
                    f.fds.clear();
                }
                Ok(true)
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(false),
            // A kernel that cannot write a pipe without waiting: wait for room, then write.
            Err(e) if e.kind() == io::ErrorKind::Unsupported => {
                if !sys::fd::poll_writable(self.fd.as_fd(), Deadline::No)? {
                    return Ok(false);
                }
                let n = write_once(self.fd.as_fd(), self.kind, &iov, &fds, Mode::Wait)?;
                f.sent += n;
                f.fds.clear();
                Ok(true)
            }
            Err(e) => Err(e.into()),
        }
    }
}

impl AsFd for Endpoint {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl AsRawFd for Endpoint {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

/// The wire form of an endpoint: its descriptor, limit, framing and kind.
#[derive(Serialize, Deserialize)]
#[serde(rename = "Endpoint")]
struct Wire<F> {
    fd: F,
    max: u64,
    python: bool,
    kind: u8,
}

fn kind_byte(kind: StreamKind) -> u8 {
    match kind {
        StreamKind::Socket => 0,
        StreamKind::SocketWithoutFds => 1,
        StreamKind::Pipe => 2,
    }
}

impl Serialize for Endpoint {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        Wire {
            fd: FdRef(self.fd.as_fd()),
            max: self.max_message() as u64,
            python: self.framing() == Framing::Python,
            kind: kind_byte(self.kind),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for Endpoint {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let w = Wire::<PortableFd>::deserialize(d)?;
        let kind = match w.kind {
            0 => StreamKind::Socket,
            1 => StreamKind::SocketWithoutFds,
            2 => StreamKind::Pipe,
            _ => return Err(serde::de::Error::custom("unknown stream kind")),
        };
        let framing = if w.python {
            Framing::Python
        } else {
            Framing::Native
        };
        let mut e = Endpoint::new(w.fd.into_inner(), kind, framing);
        e.set_max_message(usize::try_from(w.max).unwrap_or(usize::MAX));
        Ok(e)
    }
}
