//! [`Connection`] and [`pipe`].

use std::fmt;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::time::{Duration, Instant};

use multiproc_core::stream::{self, Framing, MessageReader, StreamKind};
use multiproc_core::transfer::{self, FdRef, PortableFd};
use multiproc_core::{fd, frame};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::Error;

/// One end of a [`pipe`]: sends and receives whole messages — serde values or raw bytes.
///
/// Messages are framed (8-byte header, then the payload); a receive returns exactly one whole
/// message, never a part. Receives read ahead in 64 KiB chunks, so a burst of small messages
/// costs one `read` for many; a large message goes straight into its destination.
///
/// A `Connection` is a handle: pass it to a child as a [`Process`] argument, or send it over
/// another duplex connection.
///
/// [`Process`]: https://docs.rs/multiproc-process
pub struct Connection {
    fd: OwnedFd,
    kind: StreamKind,
    readable: bool,
    writable: bool,
    reader: MessageReader,
    wbuf: Vec<u8>,
    /// Whether handles (values that own descriptors) can travel: a Unix socket in the native
    /// framing.
    carries_fds: bool,
}

/// What a connected socket is, for [`Connection::from_socket`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SocketKind {
    /// A Unix stream socket.
    Unix,
    /// A TCP socket: no descriptors.
    Tcp,
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("fd", &self.fd.as_raw_fd())
            .field("duplex", &(self.kind == StreamKind::Socket))
            .field("readable", &self.readable)
            .field("writable", &self.writable)
            .field("framing", &self.reader.framing())
            .finish()
    }
}

/// Python's `multiprocessing.Pipe(duplex)`: two connected ends.
///
/// - `duplex = true`: a Unix socket pair; both ends send and receive, and can carry handles
///   (values that own file descriptors).
/// - `duplex = false`: a pipe; returns `(reader, writer)`, as Python does.
///
/// ```
/// let (mut a, mut b) = multiproc_pipe::pipe(true)?;
/// a.send(&vec!["hello"])?;
/// let got: Vec<String> = b.recv()?;
/// assert_eq!(got, ["hello"]);
/// # Ok::<(), multiproc_pipe::Error>(())
/// ```
pub fn pipe(duplex: bool) -> io::Result<(Connection, Connection)> {
    if duplex {
        let (a, b) = fd::socketpair()?;
        // 1 MiB each way (the kernel caps it): a stream of 64 KiB messages then flows without
        // the writer stalling on every one. Memory is only used while data is queued.
        for s in [&a, &b] {
            fd::set_socket_buffers(s, 1 << 20)?;
        }
        Ok((
            Connection::new(a, StreamKind::Socket, true, true),
            Connection::new(b, StreamKind::Socket, true, true),
        ))
    } else {
        let (r, w) = fd::pipe()?;
        Ok((
            Connection::new(r, StreamKind::Pipe, true, false),
            Connection::new(w, StreamKind::Pipe, false, true),
        ))
    }
}

/// Python's spelling of [`pipe`]: `Pipe(duplex)`.
#[allow(non_snake_case)]
pub fn Pipe(duplex: bool) -> io::Result<(Connection, Connection)> {
    pipe(duplex)
}

fn deadline(timeout: Option<Duration>) -> Option<Instant> {
    timeout.map(|t| Instant::now() + t)
}

impl Connection {
    fn new(fd: OwnedFd, kind: StreamKind, readable: bool, writable: bool) -> Connection {
        Connection {
            fd,
            kind,
            readable,
            writable,
            reader: MessageReader::new(frame::DEFAULT_MAX_FRAME),
            wbuf: Vec::new(),
            carries_fds: kind == StreamKind::Socket,
        }
    }

    /// A duplex connection over a connected socket (from a `Listener` or a `Client`).
    pub(crate) fn from_socket(fd: OwnedFd, socket: SocketKind, framing: Framing) -> Connection {
        Connection {
            fd,
            kind: StreamKind::Socket,
            readable: true,
            writable: true,
            reader: MessageReader::with_framing(framing, frame::DEFAULT_MAX_FRAME),
            wbuf: Vec::new(),
            carries_fds: socket == SocketKind::Unix && framing.carries_fds(),
        }
    }

    /// How messages are laid out on this connection: [`Framing::Native`] for a [`pipe`], the
    /// framing chosen at `bind`/`connect` for a [`Listener`](crate::Listener) or
    /// [`Client`](crate::Client) connection.
    pub fn framing(&self) -> Framing {
        self.reader.framing()
    }

    /// Whether this connection carries handles (values that own file descriptors): a duplex
    /// pipe, or a Unix-socket connection in the native framing.
    pub fn carries_fds(&self) -> bool {
        self.carries_fds
    }

    /// One message of at most [`PRE_AUTH_MAX`](crate::PRE_AUTH_MAX) bytes, refused from
    /// its header when longer (the handshake's messages).
    pub(crate) fn recv_pre_auth(&mut self) -> Result<Vec<u8>, Error> {
        let max = self.reader.max();
        self.reader.set_max(crate::PRE_AUTH_MAX);
        let r = self.recv_bytes();
        self.reader.set_max(max);
        r
    }

    /// Whether this end can receive (Python's `readable`).
    pub fn readable(&self) -> bool {
        self.readable
    }

    /// Whether this end can send (Python's `writable`).
    pub fn writable(&self) -> bool {
        self.writable
    }

    /// Whether this is a duplex (socket) connection, which can carry handles.
    pub fn is_duplex(&self) -> bool {
        self.kind == StreamKind::Socket
    }

    /// Sets the largest message this end sends or accepts, in bytes (default 1 GiB; at most
    /// 4 GiB − 1 in the native framing).
    pub fn set_max_message(&mut self, max: usize) {
        let max = match self.reader.framing() {
            Framing::Native => max.min(frame::ABSOLUTE_MAX_FRAME),
            _ => max,
        };
        self.reader.set_max(max);
    }

    /// The largest message this end sends or accepts.
    pub fn max_message(&self) -> usize {
        self.reader.max()
    }

    fn check_send(&self, len: usize) -> Result<(), Error> {
        if !self.writable {
            return Err(Error::NotWritable);
        }
        if len > self.reader.max() {
            return Err(Error::TooLarge {
                len: len as u64,
                max: self.reader.max(),
            });
        }
        Ok(())
    }

    /// Sends a serde value (Python's `send`); handles inside it travel too, on a duplex
    /// connection.
    ///
    /// # Errors
    /// [`Error::Disconnected`] when the other end is gone (never a `SIGPIPE`);
    /// [`Error::TooLarge`] above the limit (nothing is sent); [`Error::CannotSendFds`] for a
    /// handle on a one-way pipe; [`Error::NotWritable`] on a read-only end.
    pub fn send<T: Serialize + ?Sized>(&mut self, obj: &T) -> Result<(), Error> {
        if !self.writable {
            return Err(Error::NotWritable);
        }
        let mut buf = std::mem::take(&mut self.wbuf);
        buf.clear();
        let r = transfer::serialize_into(obj, &mut buf)
            .map_err(Error::from)
            .and_then(|fds| {
                self.check_send(buf.len())?;
                if !fds.is_empty() && !self.carries_fds {
                    return Err(Error::CannotSendFds);
                }
                let borrowed: Vec<BorrowedFd<'_>> = fds.iter().map(AsFd::as_fd).collect();
                Ok(stream::send_framed(
                    self.fd.as_fd(),
                    self.kind,
                    self.reader.framing(),
                    &buf,
                    &borrowed,
                )?)
            });
        self.wbuf = buf;
        r
    }

    fn recv_deadline<T: DeserializeOwned>(&mut self, d: Option<Instant>) -> Result<T, Error> {
        if !self.readable {
            return Err(Error::NotReadable);
        }
        Ok(self
            .reader
            .recv_with(self.fd.as_fd(), self.kind, d, |bytes, fds| {
                transfer::from_envelope(bytes, fds)
            })??)
    }

    /// Receives a serde value (Python's `recv`), blocking until one arrives.
    ///
    /// # Errors
    /// [`Error::Disconnected`] when the other end closed or died (also mid-message);
    /// [`Error::TooLarge`]; [`Error::Corrupt`] when the bytes are not a `T`.
    pub fn recv<T: DeserializeOwned>(&mut self) -> Result<T, Error> {
        self.recv_deadline(None)
    }

    /// [`recv`](Self::recv) with a timeout: [`Error::Timeout`] if nothing whole arrived.
    /// A message that had begun to arrive stays buffered for the next call.
    pub fn recv_timeout<T: DeserializeOwned>(&mut self, timeout: Duration) -> Result<T, Error> {
        self.recv_deadline(deadline(Some(timeout)))
    }

    /// Sends `buf` as one message (Python's `send_bytes`): header and bytes go to the kernel in
    /// one `writev`, with no copy of `buf`.
    pub fn send_bytes(&mut self, buf: &[u8]) -> Result<(), Error> {
        self.check_send(buf.len())?;
        Ok(stream::send_framed(
            self.fd.as_fd(),
            self.kind,
            self.reader.framing(),
            buf,
            &[],
        )?)
    }

    /// Sends `buf[offset..offset + size]` (Python's `send_bytes(buf, offset, size)`); `size`
    /// `None` means to the end.
    ///
    /// # Panics
    /// When the range is outside `buf` (Python raises `ValueError`).
    pub fn send_bytes_range(
        &mut self,
        buf: &[u8],
        offset: usize,
        size: Option<usize>,
    ) -> Result<(), Error> {
        let end = match size {
            Some(n) => offset.checked_add(n).expect("offset + size overflows"),
            None => buf.len(),
        };
        assert!(
            offset <= buf.len() && end <= buf.len(),
            "range {offset}..{end} is outside a buffer of {} bytes",
            buf.len()
        );
        self.send_bytes(&buf[offset..end])
    }

    /// Receives one message as bytes (Python's `recv_bytes`).
    pub fn recv_bytes(&mut self) -> Result<Vec<u8>, Error> {
        self.recv_bytes_deadline(None, None)
    }

    /// [`recv_bytes`](Self::recv_bytes) with a timeout.
    pub fn recv_bytes_timeout(&mut self, timeout: Duration) -> Result<Vec<u8>, Error> {
        self.recv_bytes_deadline(deadline(Some(timeout)), None)
    }

    /// Receives one message of at most `maxlength` bytes (Python's `recv_bytes(maxlength)`).
    /// A longer one is [`Error::TooLarge`]; unlike Python, the connection stays usable.
    pub fn recv_bytes_max(&mut self, maxlength: usize) -> Result<Vec<u8>, Error> {
        self.recv_bytes_deadline(None, Some(maxlength))
    }

    fn recv_bytes_deadline(
        &mut self,
        d: Option<Instant>,
        maxlength: Option<usize>,
    ) -> Result<Vec<u8>, Error> {
        if !self.readable {
            return Err(Error::NotReadable);
        }
        let mut out = Vec::new();
        let mut fds = Vec::new();
        self.reader
            .recv_into_vec(self.fd.as_fd(), self.kind, d, &mut out, &mut fds)?;
        if let Some(max) = maxlength
            && out.len() > max
        {
            return Err(Error::TooLarge {
                len: out.len() as u64,
                max,
            });
        }
        Ok(out)
    }

    /// Receives one message into `buf[offset..]` (Python's `recv_bytes_into`); returns its
    /// length. Bytes go straight from the kernel into `buf` beyond what was read ahead.
    ///
    /// # Errors
    /// [`Error::BufferTooShort`] with the whole message when it does not fit.
    ///
    /// # Panics
    /// When `offset > buf.len()`.
    pub fn recv_bytes_into(&mut self, buf: &mut [u8], offset: usize) -> Result<usize, Error> {
        if !self.readable {
            return Err(Error::NotReadable);
        }
        assert!(offset <= buf.len(), "offset {offset} is past the buffer");
        match self
            .reader
            .recv_into_slice(self.fd.as_fd(), self.kind, None, &mut buf[offset..])?
        {
            Ok(n) => Ok(n),
            Err(whole) => Err(Error::BufferTooShort(whole)),
        }
    }

    /// Whether a message (or the end of the stream) is waiting, within `timeout` (Python's
    /// `poll`; `None` waits for ever, `Some(ZERO)` only looks).
    pub fn poll(&self, timeout: Option<Duration>) -> Result<bool, Error> {
        if !self.readable {
            return Err(Error::NotReadable);
        }
        if self.reader.has_message() {
            return Ok(true);
        }
        Ok(!fd::wait_readable(&[self.fd.as_fd()], timeout)?.is_empty())
    }

    /// Closes this end (Python's `close`); the other end then sees [`Error::Disconnected`].
    pub fn close(self) {}

    pub(crate) fn has_message(&self) -> bool {
        self.reader.has_message()
    }
}

impl AsFd for Connection {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

#[derive(Serialize)]
struct WireOut<'a> {
    fd: FdRef<'a>,
    duplex: bool,
    readable: bool,
    writable: bool,
    max: u64,
    python_framing: bool,
    carries_fds: bool,
}

#[derive(Deserialize)]
struct WireIn {
    fd: PortableFd,
    duplex: bool,
    readable: bool,
    writable: bool,
    max: u64,
    python_framing: bool,
    carries_fds: bool,
}

/// Bytes already read ahead stay with the sending process's copy: send a connection before
/// receiving on it.
impl Serialize for Connection {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        WireOut {
            fd: FdRef(self.fd.as_fd()),
            duplex: self.kind == StreamKind::Socket,
            readable: self.readable,
            writable: self.writable,
            max: self.reader.max() as u64,
            python_framing: self.reader.framing() == Framing::Python,
            carries_fds: self.carries_fds,
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for Connection {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let w = WireIn::deserialize(d)?;
        let kind = if w.duplex {
            StreamKind::Socket
        } else {
            StreamKind::Pipe
        };
        let mut c = Connection::new(w.fd.into_inner(), kind, w.readable, w.writable);
        if w.python_framing {
            c.reader = MessageReader::with_framing(Framing::Python, frame::DEFAULT_MAX_FRAME);
        }
        c.carries_fds = w.carries_fds && kind == StreamKind::Socket && !w.python_framing;
        c.set_max_message(usize::try_from(w.max).unwrap_or(usize::MAX));
        Ok(c)
    }
}
