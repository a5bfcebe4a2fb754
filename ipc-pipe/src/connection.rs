//! [`Connection`], [`pipe`] and [`pipe_one_way`].

use std::fmt;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::time::Duration;

use multiproc_core::stream::{Endpoint, Framing, StreamKind};
use multiproc_core::{Deadline, fd};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::Error;

/// One end of a [`pipe`], or a connection from a [`Listener`](crate::Listener) or a
/// [`Client`](crate::Client): sends and receives whole messages — serde values or raw bytes.
///
/// A `Connection` is a `multiproc_core::stream::Endpoint` with what Python's `Connection` adds:
/// the ends of a one-way pipe are read-only or write-only. Messages are framed (a header, then
/// the payload); a receive returns exactly one whole message, never a part. Receives read ahead
/// in 64 KiB chunks, so a burst of small messages costs one `read` for many; a large message
/// goes straight into its destination.
///
/// Receives come in three shapes: [`recv`](Self::recv) waits as long as it takes,
/// [`try_recv`](Self::try_recv) never waits, [`recv_timeout`](Self::recv_timeout) waits at most
/// that long (and keeps what arrived of a message for the next call).
///
/// A `Connection` is a handle: pass it to a child as a [`Process`] argument, or send it over
/// another duplex connection.
///
/// [`Process`]: https://docs.rs/multiproc-process
pub struct Connection {
    end: Endpoint,
    direction: Direction,
}

/// Which ways a connection carries messages (Python's `readable` / `writable`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    Both,
    ReadOnly,
    WriteOnly,
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
            .field("end", &self.end)
            .field("direction", &self.direction)
            .finish()
    }
}

/// Python's `multiprocessing.Pipe()`: two connected ends of a duplex pipe (a Unix socket
/// pair). Both send and receive, and carry handles (values that own file descriptors).
///
/// For Python's `Pipe(duplex=False)`, see [`pipe_one_way`].
///
/// ```
/// let (mut a, mut b) = multiproc_pipe::pipe()?;
/// a.send(&vec!["hello"])?;
/// let got: Vec<String> = b.recv()?;
/// assert_eq!(got, ["hello"]);
/// # Ok::<(), multiproc_pipe::Error>(())
/// ```
pub fn pipe() -> io::Result<(Connection, Connection)> {
    let (a, b) = fd::socketpair()?;
    // 1 MiB each way (the kernel caps it): a stream of 64 KiB messages then flows without the
    // writer stalling on every one. Memory is only used while data is queued.
    for s in [&a, &b] {
        fd::set_socket_buffers(s, 1 << 20)?;
    }
    Ok((
        Connection::over(a, StreamKind::Socket, Framing::Native, Direction::Both),
        Connection::over(b, StreamKind::Socket, Framing::Native, Direction::Both),
    ))
}

/// Python's `multiprocessing.Pipe(duplex=False)`: a pipe that carries messages one way;
/// returns `(reader, writer)`, in Python's order. Handles (values that own descriptors) cannot
/// travel on it ([`Error::CannotSendFds`]).
///
/// ```
/// let (mut reader, mut writer) = multiproc_pipe::pipe_one_way()?;
/// writer.send(&7u8)?;
/// assert_eq!(reader.recv::<u8>()?, 7);
/// assert!(matches!(reader.send(&1u8), Err(multiproc_pipe::Error::NotWritable)));
/// # Ok::<(), multiproc_pipe::Error>(())
/// ```
pub fn pipe_one_way() -> io::Result<(Connection, Connection)> {
    let (r, w) = fd::pipe()?;
    Ok((
        Connection::over(r, StreamKind::Pipe, Framing::Native, Direction::ReadOnly),
        Connection::over(w, StreamKind::Pipe, Framing::Native, Direction::WriteOnly),
    ))
}

impl Connection {
    fn over(fd: OwnedFd, kind: StreamKind, framing: Framing, direction: Direction) -> Connection {
        Connection {
            end: Endpoint::new(fd, kind, framing),
            direction,
        }
    }

    /// A duplex connection over an endpoint (a socket whose handshake it carried).
    pub(crate) fn from_endpoint(end: Endpoint) -> Connection {
        Connection {
            end,
            direction: Direction::Both,
        }
    }

    /// How messages are laid out on this connection: [`Framing::Native`] for a [`pipe`], the
    /// framing chosen at `bind`/`connect` for a [`Listener`](crate::Listener) or
    /// [`Client`](crate::Client) connection.
    pub fn framing(&self) -> Framing {
        self.end.framing()
    }

    /// Whether this connection carries handles (values that own file descriptors): a duplex
    /// pipe, or a Unix-socket connection in the native framing.
    pub fn carries_fds(&self) -> bool {
        self.end.carries_fds()
    }

    /// One message of at most [`PRE_AUTH_MAX`](crate::PRE_AUTH_MAX) bytes, refused from
    /// its header when longer (the handshake's messages).
    pub(crate) fn recv_pre_auth(&mut self) -> Result<Vec<u8>, Error> {
        let max = self.end.max_message();
        self.end.set_max_message(crate::PRE_AUTH_MAX);
        let r = self.recv_bytes();
        self.end.set_max_message(max);
        r
    }

    /// Whether this end can receive (Python's `readable`).
    pub fn readable(&self) -> bool {
        self.direction != Direction::WriteOnly
    }

    /// Whether this end can send (Python's `writable`).
    pub fn writable(&self) -> bool {
        self.direction != Direction::ReadOnly
    }

    /// Whether this is a duplex connection (both ends send and receive).
    pub fn is_duplex(&self) -> bool {
        self.direction == Direction::Both
    }

    /// Sets the largest message this end sends or accepts, in bytes (default 1 GiB; at most
    /// 4 GiB − 1 in the native framing).
    pub fn set_max_message(&mut self, max: usize) {
        self.end.set_max_message(max);
    }

    /// The largest message this end sends or accepts.
    pub fn max_message(&self) -> usize {
        self.end.max_message()
    }

    fn check_readable(&self) -> Result<(), Error> {
        match self.readable() {
            true => Ok(()),
            false => Err(Error::NotReadable),
        }
    }

    fn check_writable(&self) -> Result<(), Error> {
        match self.writable() {
            true => Ok(()),
            false => Err(Error::NotWritable),
        }
    }

    /// Sends a serde value (Python's `send`); handles inside it travel too, on a duplex
    /// connection.
    ///
    /// # Errors
    /// [`Error::Disconnected`] when the other end is gone (never a `SIGPIPE`);
    /// [`Error::TooLarge`] above the limit (nothing is sent); [`Error::CannotSendFds`] for a
    /// handle on a one-way pipe; [`Error::NotWritable`] on a read-only end.
    pub fn send<T: Serialize + ?Sized>(&mut self, obj: &T) -> Result<(), Error> {
        self.check_writable()?;
        Ok(self.end.send(obj)?)
    }

    fn recv_until<T: DeserializeOwned>(&mut self, deadline: Deadline) -> Result<T, Error> {
        self.check_readable()?;
        Ok(self.end.recv_until(deadline)?)
    }

    /// Receives a serde value (Python's `recv`), waiting as long as it takes.
    ///
    /// # Errors
    /// [`Error::Disconnected`] when the other end closed or died (also mid-message);
    /// [`Error::TooLarge`]; [`Error::Corrupt`] when the bytes are not a `T`.
    pub fn recv<T: DeserializeOwned>(&mut self) -> Result<T, Error> {
        self.recv_until(Deadline::Forever)
    }

    /// [`recv`](Self::recv) without waiting: [`Error::Timeout`] when no whole message is there.
    pub fn try_recv<T: DeserializeOwned>(&mut self) -> Result<T, Error> {
        self.recv_until(Deadline::No)
    }

    /// [`recv`](Self::recv) with a timeout: [`Error::Timeout`] if nothing whole arrived.
    /// A message that had begun to arrive stays buffered for the next call.
    pub fn recv_timeout<T: DeserializeOwned>(&mut self, timeout: Duration) -> Result<T, Error> {
        self.recv_until(Deadline::after(timeout))
    }

    /// Sends `buf` as one message (Python's `send_bytes`): header and bytes go to the kernel in
    /// one `writev`, with no copy of `buf`.
    pub fn send_bytes(&mut self, buf: &[u8]) -> Result<(), Error> {
        self.check_writable()?;
        Ok(self.end.send_bytes(buf)?)
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

    fn recv_bytes_until(&mut self, deadline: Deadline) -> Result<Vec<u8>, Error> {
        self.check_readable()?;
        Ok(self.end.recv_bytes_until(deadline)?)
    }

    /// Receives one message as bytes (Python's `recv_bytes`), waiting as long as it takes.
    pub fn recv_bytes(&mut self) -> Result<Vec<u8>, Error> {
        self.recv_bytes_until(Deadline::Forever)
    }

    /// [`recv_bytes`](Self::recv_bytes) without waiting.
    pub fn try_recv_bytes(&mut self) -> Result<Vec<u8>, Error> {
        self.recv_bytes_until(Deadline::No)
    }

    /// [`recv_bytes`](Self::recv_bytes) with a timeout.
    pub fn recv_bytes_timeout(&mut self, timeout: Duration) -> Result<Vec<u8>, Error> {
        self.recv_bytes_until(Deadline::after(timeout))
    }

    /// Receives one message of at most `maxlength` bytes (Python's `recv_bytes(maxlength)`).
    /// A longer one is [`Error::TooLarge`], refused from its header; unlike Python, the
    /// connection stays usable and the message stays for a receive with a larger limit.
    pub fn recv_bytes_max(&mut self, maxlength: usize) -> Result<Vec<u8>, Error> {
        let max = self.end.max_message();
        self.end.set_max_message(maxlength.min(max));
        let r = self.recv_bytes();
        self.end.set_max_message(max);
        r
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
        self.check_readable()?;
        assert!(offset <= buf.len(), "offset {offset} is past the buffer");
        match self.end.recv_bytes_into(&mut buf[offset..])? {
            Ok(n) => Ok(n),
            Err(whole) => Err(Error::BufferTooShort(whole)),
        }
    }

    fn poll_until(&self, deadline: Deadline) -> Result<bool, Error> {
        self.check_readable()?;
        Ok(self.end.poll_until(deadline)?)
    }

    /// Whether a message (or the end of the stream) is waiting now (Python's `poll()`).
    pub fn poll(&self) -> Result<bool, Error> {
        self.poll_until(Deadline::No)
    }

    /// Whether a message (or the end of the stream) arrives within `timeout` (Python's
    /// `poll(timeout)`; `Duration::MAX` waits for ever, as Python's `poll(None)`).
    pub fn poll_timeout(&self, timeout: Duration) -> Result<bool, Error> {
        self.poll_until(Deadline::after(timeout))
    }

    /// Closes this end (Python's `close`); the other end then sees [`Error::Disconnected`].
    pub fn close(self) {}

    pub(crate) fn has_message(&self) -> bool {
        self.end.has_message()
    }

    /// The endpoint and which ways it carries messages, for the async connection.
    #[cfg(feature = "tokio")]
    pub(crate) fn into_parts(self) -> (Endpoint, bool, bool) {
        let (r, w) = (self.readable(), self.writable());
        (self.end, r, w)
    }

    /// A connection from the parts [`into_parts`](Self::into_parts) gave.
    #[cfg(feature = "tokio")]
    pub(crate) fn from_parts(end: Endpoint, readable: bool, writable: bool) -> Connection {
        let direction = match (readable, writable) {
            (true, false) => Direction::ReadOnly,
            (false, true) => Direction::WriteOnly,
            _ => Direction::Both,
        };
        Connection { end, direction }
    }
}

impl SocketKind {
    pub(crate) fn stream_kind(self) -> StreamKind {
        match self {
            SocketKind::Unix => StreamKind::Socket,
            SocketKind::Tcp => StreamKind::SocketWithoutFds,
        }
    }
}

impl AsFd for Connection {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.end.as_fd()
    }
}

impl AsRawFd for Connection {
    fn as_raw_fd(&self) -> RawFd {
        self.end.as_raw_fd()
    }
}

/// The wire form: the endpoint and the direction.
#[derive(Serialize, Deserialize)]
#[serde(rename = "Connection")]
struct Wire<E> {
    end: E,
    readable: bool,
    writable: bool,
}

/// Bytes already read ahead stay with the sending process's copy: send a connection before
/// receiving on it.
impl Serialize for Connection {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        Wire {
            end: &self.end,
            readable: self.readable(),
            writable: self.writable(),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for Connection {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let w = Wire::<Endpoint>::deserialize(d)?;
        let direction = match (w.readable, w.writable) {
            (true, true) => Direction::Both,
            (true, false) => Direction::ReadOnly,
            (false, true) => Direction::WriteOnly,
            (false, false) => {
                return Err(serde::de::Error::custom("a connection that does nothing"));
            }
        };
        Ok(Connection {
            end: w.end,
            direction,
        })
    }
}
