//! Errors of `multiproc-fifo`.

use std::fmt;
use std::io;
use std::path::PathBuf;

/// Why a fifo operation failed.
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
    /// The peer did not come (open) or nothing arrived (receive) before the timeout.
    Timeout,
    /// A write found no reader: the reading side closed or died (never a `SIGPIPE`).
    Disconnected,
    /// A message above the limit.
    TooLarge {
        /// Its length in bytes.
        len: u64,
        /// The limit.
        max: usize,
    },
    /// The bytes do not decode to the type asked for, or the stream ended inside a message.
    Corrupt(String),
    /// The value holds file descriptors, which a fifo cannot carry.
    CannotSendFds,
    /// The value could not be encoded.
    Encode(String),
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
            Error::Disconnected => f.write_str("the reading side of the fifo is gone"),
            Error::TooLarge { len, max } => {
                write!(f, "message of {len} bytes exceeds the limit of {max} bytes")
            }
            Error::Corrupt(why) => write!(f, "corrupt message: {why}"),
            Error::CannotSendFds => f.write_str("a fifo cannot carry file descriptors"),
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
    fn from(e: multiproc_core::Error) -> Self {
        use multiproc_core::Error as C;
        match e {
            C::Timeout => Error::Timeout,
            C::FrameTooLarge { len, max } => Error::TooLarge { len, max },
            C::FrameTruncated { .. } => {
                Error::Corrupt("the writer closed in the middle of a message".into())
            }
            C::FrameCorrupt(why) => Error::Corrupt(why),
            C::Encode(why) => Error::Encode(why),
            C::NotTransferable(_) => Error::CannotSendFds,
            C::Io(io) => io.into(),
            other => Error::Io(io::Error::other(other)),
        }
    }
}
