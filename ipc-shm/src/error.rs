//! What can go wrong: [`Error`].

use std::fmt;
use std::io;

/// Why an access to a [`Value`](crate::Value), [`Array`](crate::Array) or
/// [`SharedMemory`](crate::SharedMemory) failed (Python raises `IndexError`, `ValueError`,
/// `FileNotFoundError` or `FileExistsError` for these).
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// An index (or the end of a range) past the end (Python's `IndexError`).
    OutOfBounds {
        /// The index asked for (for a range, its end).
        index: usize,
        /// The length of the array (or block).
        len: usize,
    },
    /// A slice of the wrong length assigned to a range (Python's `ValueError: Can only assign
    /// sequence of same size`).
    LengthMismatch {
        /// The length of the range.
        expected: usize,
        /// The length given.
        got: usize,
    },
    /// A byte string longer than a `'c'` array ([`Array::set_value`](crate::Array::set_value);
    /// Python's `ValueError: byte string too long`).
    TooLong {
        /// How many bytes the array holds.
        capacity: usize,
        /// How many were given.
        got: usize,
    },
    /// No shared memory block has this name (Python's `FileNotFoundError`).
    NotFound {
        /// The name asked for.
        name: String,
    },
    /// A shared memory block with this name exists already (Python's `FileExistsError`).
    AlreadyExists {
        /// The name asked for.
        name: String,
    },
    /// The block has another size than the one asked for.
    SizeMismatch {
        /// The block's name.
        name: String,
        /// The size asked for.
        expected: usize,
        /// The block's size.
        actual: usize,
    },
    /// The block's object is now smaller than its mapping: another process shrank it
    /// (`ftruncate`), and the bytes asked for are past its new end. Nothing was copied past it.
    Truncated {
        /// The block's name.
        name: String,
        /// The size of the mapping, in bytes.
        expected: usize,
        /// Where the object ends now, in bytes.
        actual: u64,
    },
    /// The bytes of a [`ShareableList`](crate::ShareableList) do not decode: another program
    /// wrote something that is not Python's layout, or the block is not a list at all.
    /// [`source`](std::error::Error::source) gives the [`CorruptReason`].
    Corrupt {
        /// The block's name.
        name: String,
        /// What does not decode.
        reason: CorruptReason,
    },
    /// The operating system refused (an invalid name, no memory, …).
    Io(io::Error),
}

/// What is wrong with the bytes of a [`ShareableList`](crate::ShareableList), in
/// [`Error::Corrupt`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CorruptReason {
    /// The length and the item offsets at the start of the block do not fit the block.
    Header,
    /// An item's format is not one Python writes (`q`, `d`, `xxxxxxx?`, `xxxxxx?x`, `<n>s`),
    /// or does not fit the item's room.
    Format {
        /// The item's index.
        index: usize,
    },
    /// An item's back-transform code is unknown, or does not go with its format.
    Code {
        /// The item's index.
        index: usize,
        /// The code found.
        code: i8,
    },
    /// A `str` item that is not UTF-8.
    Utf8 {
        /// The item's index.
        index: usize,
    },
}

impl fmt::Display for CorruptReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CorruptReason::Header => {
                f.write_str("the length and item offsets do not fit the block")
            }
            CorruptReason::Format { index } => {
                write!(
                    f,
                    "item {index} has a format that is not Python's, or too large"
                )
            }
            CorruptReason::Code { index, code } => {
                write!(
                    f,
                    "item {index} has back-transform code {code}, which its format does not take"
                )
            }
            CorruptReason::Utf8 { index } => write!(f, "item {index} is a str that is not UTF-8"),
        }
    }
}

impl std::error::Error for CorruptReason {}

impl Error {
    /// `Error::NotFound` / `AlreadyExists` for those kinds of `e`, `Error::Io` otherwise.
    pub(crate) fn from_named(e: io::Error, name: &str) -> Error {
        let name = name.to_string();
        match e.kind() {
            io::ErrorKind::NotFound => Error::NotFound { name },
            io::ErrorKind::AlreadyExists => Error::AlreadyExists { name },
            _ => Error::Io(e),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::OutOfBounds { index, len } => {
                write!(f, "index {index} out of range for length {len}")
            }
            Error::LengthMismatch { expected, got } => {
                write!(f, "can only assign {expected} elements, got {got}")
            }
            Error::TooLong { capacity, got } => {
                write!(f, "byte string too long: {got} bytes for {capacity}")
            }
            Error::NotFound { name } => write!(f, "no shared memory block named {name:?}"),
            Error::AlreadyExists { name } => {
                write!(f, "a shared memory block named {name:?} exists already")
            }
            Error::SizeMismatch {
                name,
                expected,
                actual,
            } => write!(
                f,
                "shared memory block {name:?} has {actual} bytes, {expected} expected"
            ),
            Error::Truncated {
                name,
                expected,
                actual,
            } => write!(
                f,
                "shared memory block {name:?} was shrunk to {actual} bytes by another process \
                 ({expected} mapped)"
            ),
            Error::Corrupt { name, .. } => {
                write!(f, "shareable list {name:?} does not decode")
            }
            Error::Io(e) => write!(f, "shared memory: {e}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io(e) => Some(e),
            Error::Corrupt { reason, .. } => Some(reason),
            _ => None,
        }
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        Error::Io(e)
    }
}

impl From<Error> for io::Error {
    fn from(e: Error) -> Self {
        use io::ErrorKind as K;
        let kind = match &e {
            Error::Io(inner) => inner.kind(),
            Error::NotFound { .. } => K::NotFound,
            Error::AlreadyExists { .. } => K::AlreadyExists,
            Error::Corrupt { .. } | Error::Truncated { .. } => K::InvalidData,
            _ => K::InvalidInput,
        };
        match e {
            Error::Io(inner) => inner,
            other => io::Error::new(kind, other),
        }
    }
}

/// `Ok(index)` when `index < len`.
pub(crate) fn check_index(index: usize, len: usize) -> Result<usize, Error> {
    if index < len {
        Ok(index)
    } else {
        Err(Error::OutOfBounds { index, len })
    }
}

/// The `start..end` of `range` within `0..len`.
pub(crate) fn check_range(
    range: impl std::ops::RangeBounds<usize>,
    len: usize,
) -> Result<std::ops::Range<usize>, Error> {
    use std::ops::Bound;
    let start = match range.start_bound() {
        Bound::Included(&s) => s,
        Bound::Excluded(&s) => s.saturating_add(1),
        Bound::Unbounded => 0,
    };
    let end = match range.end_bound() {
        Bound::Included(&e) => e.saturating_add(1),
        Bound::Excluded(&e) => e,
        Bound::Unbounded => len,
    };
    if end > len {
        return Err(Error::OutOfBounds { index: end, len });
    }
    if start > end {
        return Err(Error::OutOfBounds { index: start, len });
    }
    Ok(start..end)
}
