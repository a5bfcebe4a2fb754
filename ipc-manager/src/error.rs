//! Errors of `multiproc-manager`.

use std::fmt;
use std::io;

use crate::protocol::Fault;
use crate::value::{PyClass, PyObject};

pub use crate::pickle::Error as PickleError;

/// Why bytes from a peer do not decode.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeError {
    /// A pickle this crate does not accept (see [`PickleError`]).
    Pickle(PickleError),
    /// A postcard message from a Rust peer that does not decode.
    Postcard(postcard::Error),
    /// A well-formed value of the wrong shape for the protocol.
    Shape(&'static str),
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Pickle(e) => e.fmt(f),
            DecodeError::Postcard(e) => write!(f, "postcard: {e}"),
            DecodeError::Shape(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for DecodeError {}

/// Why a manager operation failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The operating system refused (binding, connecting).
    Io(io::Error),
    /// The connection to the server failed for a reason other than those below.
    Connection(multiproc_pipe::Error),
    /// The authkey is wrong (on either side): the handshake's typed reason.
    AuthenticationError(multiproc_pipe::AuthFailure),
    /// A proxy that arrived without the manager's key (over a pipe, a queue, another
    /// connection) in a process that knows no key for that manager: connect a
    /// [`Manager`](crate::Manager) to it first, as the key's owner.
    NoAuthkey,
    /// The server went away (it was shut down, or its process died), possibly in the middle
    /// of a call; or it cannot be reached any more.
    Disconnected,
    /// The wait ran out.
    Timeout,
    /// This manager was shut down.
    Closed,
    /// The object raised this Python exception (a `KeyError`, an `IndexError`, ...): Python's
    /// `#ERROR` reply.
    Exception(PyObject),
    /// `queue.Empty`: nothing to get.
    Empty,
    /// `queue.Full`: no room to put.
    Full,
    /// `threading.BrokenBarrierError`.
    BrokenBarrier,
    /// The server could not do what was asked: an unknown type id, method or object, a method
    /// that panicked (the server goes on), or a Python server's traceback.
    Fault(Fault),
    /// A value does not become the Rust type asked for, or a Rust value cannot be sent.
    Value(crate::ValueError),
    /// A message above the connection's limit (1 GiB), refused before it was sent or
    /// allocated.
    TooLarge {
        /// The message's length in bytes.
        len: u64,
        /// The limit.
        max: usize,
    },
    /// Bytes from the peer do not decode.
    Corrupt {
        /// Why.
        reason: DecodeError,
    },
    /// The server process could not be started.
    Start(multiproc_process::Error),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io(_) => f.write_str("os error"),
            Error::Connection(_) => f.write_str("connection to the manager failed"),
            Error::AuthenticationError(why) => write!(f, "authentication failed: {why}"),
            Error::NoAuthkey => f.write_str("no authkey known for this manager"),
            Error::Disconnected => f.write_str("the manager's server went away"),
            Error::Timeout => f.write_str("timed out"),
            Error::Closed => f.write_str("the manager was shut down"),
            Error::Exception(e) => {
                let msg = e.message();
                if msg.is_empty() {
                    write!(f, "{}", e.class.name())
                } else {
                    write!(f, "{}: {msg}", e.class.name())
                }
            }
            Error::Empty => f.write_str("the queue is empty"),
            Error::Full => f.write_str("the queue is full"),
            Error::BrokenBarrier => f.write_str("the barrier is broken"),
            Error::Fault(fault) => write!(f, "the server failed: {fault}"),
            Error::Value(_) => f.write_str("value does not convert"),
            Error::TooLarge { len, max } => {
                write!(f, "message of {len} bytes exceeds the limit of {max} bytes")
            }
            Error::Corrupt { .. } => f.write_str("corrupt message from the peer"),
            Error::Start(_) => f.write_str("cannot start the manager's server process"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io(e) => Some(e),
            Error::Connection(e) => Some(e),
            Error::Value(e) => Some(e),
            Error::Corrupt { reason } => Some(reason),
            Error::Start(e) => Some(e),
            _ => None,
        }
    }
}

impl Error {
    /// The error for an exception the server sent (`#ERROR`): `queue.Empty` is
    /// [`Error::Empty`], `queue.Full` [`Error::Full`], `BrokenBarrierError`
    /// [`Error::BrokenBarrier`], anything else [`Error::Exception`].
    pub(crate) fn from_exception(e: PyObject) -> Error {
        match e.class {
            PyClass::QUEUE_EMPTY => Error::Empty,
            PyClass::QUEUE_FULL => Error::Full,
            PyClass::BROKEN_BARRIER_ERROR => Error::BrokenBarrier,
            _ => Error::Exception(e),
        }
    }

    /// Whether this is the exception `class` (e.g. `PyClass::KEY_ERROR`).
    pub fn is_exception(&self, class: PyClass) -> bool {
        matches!(self, Error::Exception(e) if e.class == class)
    }
}

impl From<crate::ValueError> for Error {
    fn from(e: crate::ValueError) -> Self {
        Error::Value(e)
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        Error::Io(e)
    }
}

impl From<multiproc_pipe::Error> for Error {
    fn from(e: multiproc_pipe::Error) -> Self {
        use multiproc_pipe::Error as P;
        match e {
            P::Disconnected => Error::Disconnected,
            P::AuthenticationError(why) => Error::AuthenticationError(why),
            P::TooLarge { len, max } => Error::TooLarge { len, max },
            P::Timeout => Error::Timeout,
            P::Io(io) => match io.kind() {
                io::ErrorKind::ConnectionRefused
                | io::ErrorKind::NotFound
                | io::ErrorKind::ConnectionReset
                | io::ErrorKind::BrokenPipe => Error::Disconnected,
                _ => Error::Io(io),
            },
            other => Error::Connection(other),
        }
    }
}

impl From<Error> for io::Error {
    fn from(e: Error) -> io::Error {
        match e {
            Error::Io(io) => io,
            Error::Disconnected => io::Error::new(io::ErrorKind::ConnectionAborted, e),
            Error::Timeout => io::Error::new(io::ErrorKind::TimedOut, e),
            Error::AuthenticationError(_) | Error::NoAuthkey => {
                io::Error::new(io::ErrorKind::PermissionDenied, e)
            }
            other => io::Error::other(other),
        }
    }
}

/// Why an `acquire` through a proxy did not simply succeed.
#[non_exhaustive]
pub enum AcquireError<G> {
    /// Acquired — but the previous holder's connection closed while it held the lock (its
    /// process died): what it protected may be half-changed. Here is what was acquired.
    OwnerDied(G),
    /// Not acquired within the time allowed (or at once, for a `try_` call).
    Timeout,
    /// The call failed.
    Failed(Error),
}

impl<G> AcquireError<G> {
    /// What was acquired, when the previous holder died.
    pub fn into_owner_died(self) -> Option<G> {
        match self {
            AcquireError::OwnerDied(g) => Some(g),
            _ => None,
        }
    }
}

impl<G> fmt::Debug for AcquireError<G> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AcquireError::OwnerDied(_) => f.write_str("OwnerDied(..)"),
            AcquireError::Timeout => f.write_str("Timeout"),
            AcquireError::Failed(e) => f.debug_tuple("Failed").field(e).finish(),
        }
    }
}

impl<G> fmt::Display for AcquireError<G> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AcquireError::OwnerDied(_) => f.write_str("the previous owner died holding the lock"),
            AcquireError::Timeout => f.write_str("timed out"),
            AcquireError::Failed(_) => f.write_str("acquire failed"),
        }
    }
}

impl<G> std::error::Error for AcquireError<G> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            AcquireError::Failed(e) => Some(e),
            _ => None,
        }
    }
}

impl<G> From<Error> for AcquireError<G> {
    fn from(e: Error) -> Self {
        AcquireError::Failed(e)
    }
}
