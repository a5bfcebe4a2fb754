//! Errors of `multiproc-pipe`.

use std::fmt;
use std::io;

use crate::auth::AuthFailure;

/// Why a send or receive on a [`Connection`](crate::Connection), a listener or a client failed.
///
/// `Display` is a short phrase; the cause, where there is one, is its
/// [`source`](std::error::Error::source).
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
    /// Bytes from the peer do not decode to the type asked for, or break the framing.
    Corrupt {
        /// Why.
        reason: CorruptReason,
    },
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
    /// A handle inside a message could not be sent or was refused on arrival (see
    /// `multiproc_core::Error`).
    Transfer(multiproc_core::Error),
    /// The authentication handshake failed (Python's `AuthenticationError`): the peer holds
    /// another key, has none, or does not speak the protocol. Nothing else was touched; a
    /// [`Listener`](crate::Listener) stays usable.
    AuthenticationError(AuthFailure),
    /// A TCP listener was asked for without an authkey: use
    /// [`Listener::bind_tcp_without_authkey`](crate::Listener::bind_tcp_without_authkey) to
    /// say so on purpose.
    AuthkeyRequired,
    /// The value could not be encoded.
    Encode(EncodeError),
    /// The operating system refused.
    Io(io::Error),
}

/// Why bytes from the peer were refused: the reason of [`Error::Corrupt`].
#[derive(Debug)]
#[non_exhaustive]
pub enum CorruptReason {
    /// A message's framing or postcard payload (the reason `multiproc-core` gives).
    Message(multiproc_core::CorruptReason),
    /// A pickle that breaks a rule of the check made before decoding it (feature `pickle`).
    #[cfg(feature = "pickle")]
    Pickle(crate::pickle::PickleRule),
    /// A pickle that `serde-pickle` does not decode to the type asked for (feature `pickle`).
    #[cfg(feature = "pickle")]
    PickleDecode(serde_pickle::Error),
}

/// Why a value could not be encoded: the payload of [`Error::Encode`].
#[derive(Debug)]
#[non_exhaustive]
pub enum EncodeError {
    /// postcard refused it (a serde feature it does not support, or a `Serialize` impl that
    /// failed).
    Postcard(postcard::Error),
    /// `serde-pickle` refused it (feature `pickle`).
    #[cfg(feature = "pickle")]
    Pickle(serde_pickle::Error),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Disconnected => f.write_str("the other end of the connection is closed"),
            Error::Timeout => f.write_str("timed out"),
            Error::TooLarge { len, max } => {
                write!(f, "message of {len} bytes exceeds the limit of {max} bytes")
            }
            Error::Corrupt { .. } => f.write_str("corrupt message from the peer"),
            Error::BufferTooShort(m) => {
                write!(f, "buffer too short for a message of {} bytes", m.len())
            }
            Error::NotReadable => f.write_str("connection is write-only"),
            Error::NotWritable => f.write_str("connection is read-only"),
            Error::CannotSendFds => f.write_str(
                "this connection cannot carry file descriptors (a one-way pipe, TCP, or Python's framing)",
            ),
            Error::Transfer(_) => f.write_str("a handle in the message cannot travel"),
            Error::AuthenticationError(why) => write!(f, "authentication failed: {why}"),
            Error::AuthkeyRequired => f.write_str(
                "a TCP listener needs an authkey (Listener::bind_tcp_without_authkey opts out)",
            ),
            Error::Encode(_) => f.write_str("cannot encode the value"),
            Error::Io(_) => f.write_str("os error"),
        }
    }
}

impl fmt::Display for CorruptReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CorruptReason::Message(why) => why.fmt(f),
            #[cfg(feature = "pickle")]
            CorruptReason::Pickle(rule) => rule.fmt(f),
            #[cfg(feature = "pickle")]
            CorruptReason::PickleDecode(_) => f.write_str("the pickle does not decode"),
        }
    }
}

impl std::error::Error for CorruptReason {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CorruptReason::Message(why) => why.source(),
            #[cfg(feature = "pickle")]
            CorruptReason::Pickle(_) => None,
            #[cfg(feature = "pickle")]
            CorruptReason::PickleDecode(e) => Some(e),
        }
    }
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EncodeError::Postcard(_) => f.write_str("postcard cannot encode the value"),
            #[cfg(feature = "pickle")]
            EncodeError::Pickle(_) => f.write_str("serde-pickle cannot encode the value"),
        }
    }
}

impl std::error::Error for EncodeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            EncodeError::Postcard(e) => Some(e),
            #[cfg(feature = "pickle")]
            EncodeError::Pickle(e) => Some(e),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io(e) => Some(e),
            Error::Corrupt { reason } => Some(reason),
            Error::Encode(e) => Some(e),
            Error::Transfer(e) => Some(e),
            _ => None,
        }
    }
}

impl From<multiproc_core::Error> for Error {
    /// The one mapping from the framed endpoint's outcomes: a peer that went away (also in the
    /// middle of a message) is [`Error::Disconnected`].
    fn from(e: multiproc_core::Error) -> Self {
        use multiproc_core::Error as C;
        match e {
            C::Disconnected { .. } | C::Closed => Error::Disconnected,
            C::Timeout => Error::Timeout,
            C::TooLarge { len, max } => Error::TooLarge { len, max },
            C::Corrupt { reason } => Error::Corrupt {
                reason: CorruptReason::Message(reason),
            },
            C::Encode(e) => Error::Encode(EncodeError::Postcard(e)),
            C::NotTransferable(_) => Error::CannotSendFds,
            C::Io(io) => io.into(),
            other => Error::Transfer(other),
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
            Error::TooLarge { .. } | Error::Corrupt { .. } | Error::BufferTooShort(_) => {
                io::ErrorKind::InvalidData
            }
            Error::AuthenticationError(_) => io::ErrorKind::PermissionDenied,
            _ => io::ErrorKind::InvalidInput,
        };
        io::Error::new(kind, e)
    }
}
