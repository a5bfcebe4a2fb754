//! Errors of `multiproc-fifo`.

use std::fmt;
use std::io;
use std::path::PathBuf;

pub use multiproc_core::CorruptReason;

/// Why a fifo operation failed.
///
/// `Display` is a short phrase; the cause, where there is one, is its
/// [`source`](std::error::Error::source).
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// Nothing is at the path.
    NotFound(PathBuf),
    /// Something other than a fifo is at the path.
    NotAFifo(PathBuf),
    /// `create` found the path already taken.
    AlreadyExists(PathBuf),
    /// The fifo's mode does not let this process open it that way.
    PermissionDenied(PathBuf),
    /// The peer did not come (open) or nothing arrived (receive) before the timeout; a `try_`
    /// operation that could not be done at once.
    Timeout,
    /// The peer went away: a write found no reader (the reading side closed or died; never a
    /// `SIGPIPE`), or the writing side went away in the middle of a message, which is lost.
    /// (A writer that closes between messages is the end of the stream, not an error.)
    Disconnected,
    /// A message above the limit.
    TooLarge {
        /// Its length in bytes.
        len: u64,
        /// The limit.
        max: usize,
    },
    /// The bytes do not decode to the type asked for, or break the framing.
    Corrupt {
        /// Why.
        reason: CorruptReason,
    },
    /// The value holds file descriptors, which a fifo cannot carry.
    CannotSendFds,
    /// A handle inside a value could not be serialised or was refused (see
    /// `multiproc_core::Error`).
    Transfer(multiproc_core::Error),
    /// The value could not be encoded.
    Encode(postcard::Error),
    /// Any other refusal of the operating system.
    Io(io::Error),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NotFound(p) => write!(f, "no fifo at {}", p.display()),
            Error::NotAFifo(p) => write!(f, "{} exists and is not a fifo", p.display()),
            Error::AlreadyExists(p) => write!(f, "{} already exists", p.display()),
            Error::PermissionDenied(p) => write!(f, "permission denied: {}", p.display()),
            Error::Timeout => f.write_str("timed out"),
            Error::Disconnected => f.write_str("the other side of the fifo is gone"),
            Error::TooLarge { len, max } => {
                write!(f, "message of {len} bytes exceeds the limit of {max} bytes")
            }
            Error::Corrupt { .. } => f.write_str("corrupt message from the peer"),
            Error::CannotSendFds => f.write_str("a fifo cannot carry file descriptors"),
            Error::Transfer(_) => f.write_str("a handle in the value cannot travel"),
            Error::Encode(_) => f.write_str("cannot encode the value"),
            Error::Io(_) => f.write_str("os error"),
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

impl Error {
    /// An OS error about `path`, made precise.
    pub(crate) fn at(path: &std::path::Path, e: io::Error) -> Error {
        match e.kind() {
            io::ErrorKind::NotFound => Error::NotFound(path.to_path_buf()),
            io::ErrorKind::PermissionDenied => Error::PermissionDenied(path.to_path_buf()),
            io::ErrorKind::AlreadyExists => Error::AlreadyExists(path.to_path_buf()),
            _ => Error::Io(e),
        }
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        match e.kind() {
            io::ErrorKind::BrokenPipe => Error::Disconnected,
            _ => Error::Io(e),
        }
    }
}

impl From<multiproc_core::Error> for Error {
    /// The one mapping from the framed endpoint's outcomes. A writer that went away between
    /// messages is the end of the stream, which the receiving calls report as `Ok(None)`
    /// before they get here.
    fn from(e: multiproc_core::Error) -> Self {
        use multiproc_core::Error as C;
        match e {
            C::Disconnected { .. } | C::Closed => Error::Disconnected,
            C::Timeout => Error::Timeout,
            C::TooLarge { len, max } => Error::TooLarge { len, max },
            C::Corrupt { reason } => Error::Corrupt { reason },
            C::Encode(e) => Error::Encode(e),
            C::NotTransferable(_) => Error::CannotSendFds,
            C::Io(io) => io.into(),
            other => Error::Transfer(other),
        }
    }
}

impl From<Error> for io::Error {
    fn from(e: Error) -> Self {
        let kind = match &e {
            Error::Io(inner) => inner.kind(),
            Error::NotFound(_) => io::ErrorKind::NotFound,
            Error::AlreadyExists(_) => io::ErrorKind::AlreadyExists,
            Error::PermissionDenied(_) => io::ErrorKind::PermissionDenied,
            Error::Timeout => io::ErrorKind::TimedOut,
            Error::Disconnected => io::ErrorKind::BrokenPipe,
            Error::TooLarge { .. } | Error::Corrupt { .. } => io::ErrorKind::InvalidData,
            _ => io::ErrorKind::InvalidInput,
        };
        io::Error::new(kind, e)
    }
}
