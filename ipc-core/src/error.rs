//! The one error type of `multiproc-core`, and the typed reason for bytes that do not decode.

use std::fmt;
use std::io;
use std::os::fd::RawFd;

/// What can go wrong in `multiproc-core`.
///
/// OS failures arrive as [`Error::Io`] with the original [`io::Error`]; every other variant is an
/// outcome a caller may want to branch on (a peer that went away, a message that is too large, a
/// descriptor that is not there). `Display` is a short phrase; the cause, where there is one, is
/// the [`source`](std::error::Error::source). `Error` converts into [`io::Error`] for callers
/// who only propagate.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The operating system refused an operation.
    Io(io::Error),
    /// The peer went away: it closed its end or died.
    Disconnected {
        /// Whether it went in the middle of a message, which is then lost (the receiver drops
        /// what it had of it): `false` at a message boundary.
        mid_message: bool,
    },
    /// Something this side (or, for a queue, any side) closed on purpose.
    Closed,
    /// The wait ran out.
    Timeout,
    /// A message above the limit: refused by the sender before anything was written, or by the
    /// receiver from its header, before anything of its size was allocated.
    TooLarge {
        /// The length the message has or announced, in bytes.
        len: u64,
        /// The limit in force, in bytes.
        max: usize,
    },
    /// Bytes from another process do not decode.
    Corrupt {
        /// Why.
        reason: CorruptReason,
    },
    /// The value could not be encoded (a serde data model feature postcard does not support, or
    /// a custom `Serialize` impl that failed).
    Encode(postcard::Error),
    /// A raw descriptor number does not name an open descriptor of the expected kind.
    BadFd(RawFd),
    /// A handle that owns descriptors was (de)serialised outside [`crate::transfer`], which is
    /// the only place that can carry descriptors out of band.
    FdOutsideTransfer,
    /// The value cannot travel to another process this way (for example an anonymous mapping,
    /// which reaches a child only by `fork`, or descriptors on a pipe).
    NotTransferable(&'static str),
    /// A handle to a shared-heap object or typed page was refused on arrival: it names
    /// something of another kind or layout, or an object that is gone.
    Refused(crate::heap::Refusal),
    /// A memory descriptor received from another process is not sealed against shrinking
    /// (`F_SEAL_SHRINK`), so its sender could cut the memory from under the mapping, and every
    /// access past the new end would kill this process with `SIGBUS`.
    NotSealed,
}

/// Why bytes from another process were refused: the reason of [`Error::Corrupt`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CorruptReason {
    /// The payload does not decode to the type asked for.
    Decode(postcard::Error),
    /// The value decoded, and this many bytes were left over after it.
    TrailingBytes(usize),
    /// A header in Python's framing with a negative length (other than the −1 of the long form).
    NegativeLength(i64),
    /// A header that announces more descriptors in one frame than the kernel passes in one
    /// `sendmsg` (253).
    FdsInOneFrame(usize),
    /// A descriptor frame (one that only carries descriptors) with a payload or without
    /// descriptors.
    BadFdFrame,
    /// A message with more descriptors than one message may carry (65,536).
    TooManyFds,
    /// A frame announced `expected` descriptors and `received` arrived with it.
    FdCount {
        /// How many the header announced.
        expected: usize,
        /// How many arrived.
        received: usize,
    },
    /// A value refers to descriptor number `index` of its message, but only `received` came
    /// with it (or that one was already taken).
    MissingFd {
        /// The index the bytes named.
        index: u32,
        /// How many descriptors arrived with the message.
        received: usize,
    },
    /// Descriptors sent where none may travel (before a connection is authenticated).
    UnexpectedFds,
    /// A value that decodes but cannot be what it claims (what, in a fixed phrase).
    Invalid(&'static str),
    /// The stream was given up earlier, for the reason given, and can no longer be read.
    Unusable(&'static str),
}

/// `Result<T, multiproc_core::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io(_) => f.write_str("os error"),
            Error::Disconnected { mid_message: false } => f.write_str("the peer closed its end"),
            Error::Disconnected { mid_message: true } => {
                f.write_str("the peer went away in the middle of a message")
            }
            Error::Closed => f.write_str("closed"),
            Error::Timeout => f.write_str("timed out"),
            Error::TooLarge { len, max } => {
                write!(f, "message of {len} bytes exceeds the limit of {max} bytes")
            }
            Error::Corrupt { .. } => f.write_str("corrupt message from the peer"),
            Error::Encode(_) => f.write_str("cannot encode the value"),
            Error::BadFd(fd) => write!(f, "bad file descriptor {fd}"),
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

impl fmt::Display for CorruptReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CorruptReason::Decode(e) => write!(f, "the payload does not decode: {e}"),
            CorruptReason::TrailingBytes(n) => write!(f, "{n} bytes left over after the value"),
            CorruptReason::NegativeLength(n) => write!(f, "negative message length {n}"),
            CorruptReason::FdsInOneFrame(n) => {
                write!(f, "a header announces {n} descriptors in one frame")
            }
            CorruptReason::BadFdFrame => {
                f.write_str("a descriptor frame with a payload or without descriptors")
            }
            CorruptReason::TooManyFds => f.write_str("more than 65,536 descriptors in one message"),
            CorruptReason::FdCount { expected, received } => write!(
                f,
                "a frame announced {expected} descriptors but {received} arrived with it"
            ),
            CorruptReason::MissingFd { index, received } => write!(
                f,
                "the message refers to descriptor #{index} but {received} came with it"
            ),
            CorruptReason::UnexpectedFds => f.write_str("descriptors where none may travel"),
            CorruptReason::Invalid(what) => write!(f, "invalid value: {what}"),
            CorruptReason::Unusable(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for CorruptReason {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CorruptReason::Decode(e) => Some(e),
            _ => None,
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io(e) => Some(e),
            Error::Corrupt { reason } => Some(reason),
            Error::Encode(e) => Some(e),
            _ => None,
        }
    }
}

impl From<CorruptReason> for Error {
    fn from(reason: CorruptReason) -> Self {
        Error::Corrupt { reason }
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
            Error::Disconnected { mid_message: false } => io::ErrorKind::UnexpectedEof,
            Error::Disconnected { mid_message: true } => io::ErrorKind::UnexpectedEof,
            Error::Closed => io::ErrorKind::BrokenPipe,
            Error::Timeout => io::ErrorKind::TimedOut,
            Error::TooLarge { .. } | Error::Corrupt { .. } => io::ErrorKind::InvalidData,
            Error::Encode(_) | Error::FdOutsideTransfer | Error::NotTransferable(_) => {
                io::ErrorKind::InvalidInput
            }
            Error::BadFd(_) => io::ErrorKind::InvalidInput,
            Error::Refused(_) | Error::NotSealed => io::ErrorKind::InvalidData,
        };
        io::Error::new(kind, e)
    }
}
