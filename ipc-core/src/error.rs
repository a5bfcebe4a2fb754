//! The one error type of `multiproc-core`.

use std::fmt;
use std::io;
use std::os::fd::RawFd;

/// What can go wrong in `multiproc-core`.
///
/// OS failures arrive as [`Error::Io`] with the original [`io::Error`]; every other variant is an
/// outcome a caller may want to branch on (a peer that closed, a frame that is too large, a
/// descriptor that is not there). `Error` converts into [`io::Error`] for callers who only
/// propagate.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The operating system refused an operation.
    Io(io::Error),
    /// The peer closed its end (end of stream at a message boundary).
    Closed,
    /// No message arrived before the timeout.
    Timeout,
    /// A frame announced (or would need) more bytes than the limit allows. Nothing of the
    /// announced size was allocated.
    FrameTooLarge {
        /// The length the frame announced or needed, in bytes.
        len: u64,
        /// The limit in force, in bytes.
        max: usize,
    },
    /// The stream ended, or the buffer ran out, in the middle of a frame.
    FrameTruncated {
        /// Bytes the frame needs.
        expected: usize,
        /// Bytes that were there.
        got: usize,
    },
    /// The frame's bytes do not decode to the expected type, or bytes are left over.
    FrameCorrupt(String),
    /// The value could not be encoded (a serde data model feature postcard does not support, or
    /// a custom `Serialize` impl that failed).
    Encode(String),
    /// A raw descriptor number does not name an open descriptor of the expected kind.
    BadFd(RawFd),
    /// A message refers to descriptor number `index` of its out-of-band set, but only
    /// `received` descriptors came with it (or that one was already taken).
    MissingFd {
        /// The index the bytes named.
        index: u32,
        /// How many descriptors arrived with the message.
        received: usize,
    },
    /// A message announced `expected` descriptors and `received` arrived.
    FdCount {
        /// How many the header announced.
        expected: usize,
        /// How many arrived.
        received: usize,
    },
    /// A handle that owns descriptors was (de)serialised outside [`crate::transfer`], which is
    /// the only place that can carry descriptors out of band.
    FdOutsideTransfer,
    /// The value cannot travel to another process this way (for example an anonymous mapping,
    /// which reaches a child only by `fork`).
    NotTransferable(&'static str),
    /// A handle to a shared-heap object or typed page was refused on arrival: it names
    /// something of another kind or layout, or an object that is gone.
    Refused(crate::heap::Refusal),
    /// A memory descriptor received from another process is not sealed against shrinking
    /// (`F_SEAL_SHRINK`), so its sender could cut the memory from under the mapping, and every
    /// access past the new end would kill this process with `SIGBUS`.
    NotSealed,
}

/// `Result<T, multiproc_core::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io(e) => write!(f, "os error: {e}"),
            Error::Closed => f.write_str("the peer closed the connection"),
            Error::Timeout => f.write_str("timed out"),
            Error::FrameTooLarge { len, max } => {
                write!(f, "frame of {len} bytes exceeds the limit of {max} bytes")
            }
            Error::FrameTruncated { expected, got } => {
                write!(f, "truncated frame: expected {expected} bytes, got {got}")
            }
            Error::FrameCorrupt(why) => write!(f, "corrupt frame: {why}"),
            Error::Encode(why) => write!(f, "cannot encode value: {why}"),
            Error::BadFd(fd) => write!(f, "bad file descriptor {fd}"),
            Error::MissingFd { index, received } => write!(
                f,
                "message refers to descriptor #{index} but {received} came with it"
            ),
            Error::FdCount { expected, received } => write!(
                f,
                "message announced {expected} descriptors but {received} arrived"
            ),
            Error::FdOutsideTransfer => f.write_str(
                "a handle owning file descriptors can only be serialised by multiproc_core::transfer",
            ),
            Error::NotTransferable(why) => write!(f, "cannot send this handle: {why}"),
            Error::Refused(why) => write!(f, "handle refused: {why}"),
            Error::NotSealed => {
                f.write_str("shared memory descriptor is not sealed against shrinking")
            }
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

impl From<io::Error> for Error {
    /// Wraps an OS error; an [`io::Error`] that carries one of ours (made by
    /// `From<Error> for io::Error`) gives that back.
    fn from(e: io::Error) -> Self {
        if e.get_ref().is_some_and(|inner| inner.is::<Error>()) {
            if let Some(Ok(ours)) = e.into_inner().map(|b| b.downcast::<Error>()) {
                return *ours;
            }
            unreachable!("checked just above");
        }
        Error::Io(e)
    }
}

impl From<Error> for io::Error {
    fn from(e: Error) -> Self {
        let kind = match &e {
            Error::Io(inner) => return io::Error::new(inner.kind(), e),
            Error::Closed => io::ErrorKind::UnexpectedEof,
            Error::Timeout => io::ErrorKind::TimedOut,
            Error::FrameTooLarge { .. } => io::ErrorKind::InvalidData,
            Error::FrameTruncated { .. } => io::ErrorKind::UnexpectedEof,
            Error::FrameCorrupt(_) | Error::FdCount { .. } | Error::MissingFd { .. } => {
                io::ErrorKind::InvalidData
            }
            Error::Encode(_) | Error::FdOutsideTransfer | Error::NotTransferable(_) => {
                io::ErrorKind::InvalidInput
            }
            Error::BadFd(_) => io::ErrorKind::InvalidInput,
            Error::Refused(_) => io::ErrorKind::InvalidData,
            Error::NotSealed => io::ErrorKind::InvalidData,
        };
        io::Error::new(kind, e)
    }
}
