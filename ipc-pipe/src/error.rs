//! Errors of `multiproc-pipe`.

use std::fmt;
use std::io;

use crate::auth::AuthFailure;

/// Why a send or receive on a [`Connection`](crate::Connection) failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The other end is closed, or its process died (also in the middle of a message: a
    /// message is delivered whole or not at all).
    Disconnected,
    /// Nothing arrived before the timeout.
    Timeout,
    /// A message above the limit ([`Connection::set_max_message`](crate::Connection::set_max_message)):
    /// refused by the sender before anything was written, or by the receiver from the header,
    /// before anything was allocated.
    TooLarge {
        /// The message's length in bytes.
        len: u64,
        /// The limit.
        max: usize,
    },
    /// The bytes do not decode to the type asked for (or a header is malformed).
    Corrupt(String),
    /// [`recv_bytes_into`](crate::Connection::recv_bytes_into): the message does not fit; here
    /// it is, whole (Python's `BufferTooShort`).
    BufferTooShort(Vec<u8>),
    /// A receive on the write-only end of a one-way pipe.
    NotReadable,
    /// A send on the read-only end of a one-way pipe.
    NotWritable,
    /// The value holds file descriptors (a handle), which this connection cannot carry: only a
    /// duplex pipe, or a Unix-socket connection in the native framing, carries them (not a
    /// one-way pipe, not TCP, not Python's framing).
    CannotSendFds,
    /// The authentication handshake failed (Python's `AuthenticationError`): the peer holds
    /// another key, has none, or does not speak the protocol. Nothing else was touched; a
    /// [`Listener`](crate::Listener) stays usable.
    AuthenticationError(AuthFailure),
    /// A TCP listener was asked for without an authkey: use
    /// [`Listener::bind_tcp_without_authkey`](crate::Listener::bind_tcp_without_authkey) to
    /// say so on purpose.
    AuthkeyRequired,
    /// The value could not be encoded.
    Encode(String),
    /// The operating system refused.
    Io(io::Error),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Disconnected => f.write_str("the other end of the connection is closed"),
            Error::Timeout => f.write_str("timed out"),
            Error::TooLarge { len, max } => {
                write!(f, "message of {len} bytes exceeds the limit of {max} bytes")
            }
            Error::Corrupt(why) => write!(f, "corrupt message: {why}"),
            Error::BufferTooShort(m) => {
                write!(f, "buffer too short for a message of {} bytes", m.len())
            }
            Error::NotReadable => f.write_str("connection is write-only"),
            Error::NotWritable => f.write_str("connection is read-only"),
            Error::CannotSendFds => f.write_str(
                "this connection cannot carry file descriptors (a one-way pipe, TCP, or Python's framing)",
            ),
            Error::AuthenticationError(why) => write!(f, "authentication failed: {why}"),
            Error::AuthkeyRequired => f.write_str(
                "a TCP listener needs an authkey (Listener::bind_tcp_without_authkey opts out)",
            ),

            Error::Encode(why) => write!(f, "cannot encode the value: {why}"),
            Error::Io(e) => write!(f, "os error: {e}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<multiproc_core::Error> for Error {
    fn from(e: multiproc_core::Error) -> Self {
        use multiproc_core::Error as C;
        match e {
            C::Closed | C::FrameTruncated { .. } => Error::Disconnected,
            C::Timeout => Error::Timeout,
            C::FrameTooLarge { len, max } => Error::TooLarge { len, max },
            C::FrameCorrupt(why) => Error::Corrupt(why),
            C::FdCount { .. } | C::MissingFd { .. } => Error::Corrupt(e.to_string()),
            C::Encode(why) => Error::Encode(why),
            C::NotTransferable(_) => Error::CannotSendFds,
            C::Io(io) => io.into(),
            other => Error::Io(io::Error::other(other)),
        }
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        match e.kind() {
            io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset => Error::Disconnected,
            _ => Error::Io(e),
        }
    }
}

impl From<Error> for io::Error {
    fn from(e: Error) -> Self {
        let kind = match &e {
            Error::Io(inner) => inner.kind(),
            Error::Disconnected => io::ErrorKind::BrokenPipe,
            Error::Timeout => io::ErrorKind::TimedOut,
            Error::TooLarge { .. } | Error::Corrupt(_) | Error::BufferTooShort(_) => {
                io::ErrorKind::InvalidData
            }
            Error::AuthenticationError(_) => io::ErrorKind::PermissionDenied,
            _ => io::ErrorKind::InvalidInput,
        };
        io::Error::new(kind, e)
    }
}
