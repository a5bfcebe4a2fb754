//! What the queues report: [`PutError`] (which hands the item back), [`GetError`],
//! [`TaskDoneError`], and [`MqError`] for the POSIX message queue.

use std::fmt;
use std::io;

use crate::MqLimits;

/// Why [`put`](crate::Queue::put) (or one of its forms) did not put the item, which comes back.
///
/// `Debug` and `Display` never need `T: Debug`.
pub enum PutError<T> {
    /// The queue stayed full for the whole time allowed (at once, for `put_nowait`): it held
    /// `maxsize` items, or its shared buffer had no room (see [`Queue`](crate::Queue)'s docs on
    /// unbounded queues). Python's `queue.Full`.
    Full(T),
    /// The queue was closed ([`Queue::close`](crate::Queue::close)): nothing more goes in.
    Closed(T),
    /// The item cannot be encoded for shared memory: its `Serialize` impl failed, or it holds
    /// a handle with a file descriptor (a `SharedMapping`, a `Lock`, another queue), which
    /// cannot be written into shared memory ([`multiproc_core::Error::FdOutsideTransfer`]). Send
    /// such handles to a child as `multiproc_process` arguments instead.
    Encode(T, multiproc_core::Error),
}

impl<T> PutError<T> {
    /// The item that was not put.
    pub fn into_inner(self) -> T {
        match self {
            PutError::Full(t) | PutError::Closed(t) | PutError::Encode(t, _) => t,
        }
    }

    /// Whether this is [`PutError::Full`].
    pub fn is_full(&self) -> bool {
        matches!(self, PutError::Full(_))
    }
}

impl<T> fmt::Debug for PutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PutError::Full(_) => f.write_str("Full(..)"),
            PutError::Closed(_) => f.write_str("Closed(..)"),
            PutError::Encode(_, e) => write!(f, "Encode(.., {e:?})"),
        }
    }
}

impl<T> fmt::Display for PutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PutError::Full(_) => f.write_str("the queue is full"),
            PutError::Closed(_) => f.write_str("the queue is closed"),
            PutError::Encode(_, e) => write!(f, "the item cannot be put in a queue: {e}"),
        }
    }
}

impl<T> std::error::Error for PutError<T> {}

/// Why [`get`](crate::Queue::get) (or one of its forms) returned no item.
#[derive(Debug)]
#[non_exhaustive]
pub enum GetError {
    /// Nothing came in the time allowed (at once, for `get_nowait`). Python's `queue.Empty`.
    Empty,
    /// The queue was closed and every item in it has been taken: nothing will ever come.
    /// (Python's `get` blocks forever here.)
    Closed,
    /// An item was taken but its bytes do not decode as the queue's type (a queue opened with
    /// another `T` than its producers use). The item is gone.
    Decode(multiproc_core::Error),
}

impl GetError {
    /// Whether this is [`GetError::Empty`].
    pub fn is_empty(&self) -> bool {
        matches!(self, GetError::Empty)
    }
}

impl fmt::Display for GetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GetError::Empty => f.write_str("the queue is empty"),
            GetError::Closed => f.write_str("the queue is closed and drained"),
            GetError::Decode(e) => write!(f, "an item did not decode: {e}"),
        }
    }
}

impl std::error::Error for GetError {}

/// [`JoinableQueue::task_done`](crate::JoinableQueue::task_done) was called more times than
/// items were taken from the queue (Python raises `ValueError`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskDoneError;

impl fmt::Display for TaskDoneError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("task_done() called more times than items were taken")
    }
}

impl std::error::Error for TaskDoneError {}

/// What the POSIX message queue ([`MessageQueue`](crate::MessageQueue)) reports: the crate's
/// error for everything that is not a per-operation outcome of [`Queue`](crate::Queue)
/// ([`PutError`], [`GetError`], [`TaskDoneError`]).
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The queue held `mq_maxmsg` messages for the whole time allowed (`EAGAIN`/`ETIMEDOUT`).
    Full,
    /// No message came in the time allowed.
    Empty,
    /// The message is longer than the queue's `mq_msgsize` (`EMSGSIZE` on send).
    TooLarge {
        /// The message's length.
        len: usize,
        /// The queue's largest message.
        max: usize,
    },
    /// The receive buffer is shorter than the queue's `mq_msgsize` (`EMSGSIZE` on receive).
    BufferTooSmall {
        /// The buffer's length.
        len: usize,
        /// The length it needs.
        need: usize,
    },
    /// The attributes asked for exceed what this system allows (`EINVAL` from `mq_open`).
    SizeLimit {
        /// The messages asked for.
        max_msgs: usize,
        /// The message size asked for.
        msg_size: usize,
        /// The system's limits, when they could be read.
        limits: Option<MqLimits>,
    },
    /// Too many message queues exist (`EMFILE`, `ENFILE` or `ENOSPC` from `mq_open`:
    /// `fs.mqueue.queues_max`, or `RLIMIT_MSGQUEUE` for this user's bytes).
    TooManyQueues {
        /// The system-wide limit, when it could be read.
        max_queues: Option<u64>,
        /// What the system said.
        source: io::Error,
    },
    /// This kernel has no POSIX message queues (`ENOSYS`).
    Unsupported,
    /// Any other refusal of the operating system.
    Io(io::Error),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Full => f.write_str("the message queue is full"),
            Error::Empty => f.write_str("the message queue is empty"),
            Error::TooLarge { len, max } => {
                write!(
                    f,
                    "message of {len} bytes exceeds the queue's limit of {max} bytes"
                )
            }
            Error::BufferTooSmall { len, need } => {
                write!(
                    f,
                    "receive buffer of {len} bytes is shorter than the queue's message size {need}"
                )
            }
            Error::SizeLimit {
                max_msgs,
                msg_size,
                limits,
            } => {
                write!(f, "asked for {max_msgs} messages of {msg_size} bytes")?;
                match limits {
                    Some(l) => write!(
                        f,
                        "; this system allows at most {} messages (fs.mqueue.msg_max) of {} bytes \
                         (fs.mqueue.msgsize_max), and both must be at least 1",
                        l.max_msgs, l.max_msg_size
                    ),
                    None => f.write_str(", more than this system allows"),
                }
            }
            Error::TooManyQueues { max_queues, .. } => match max_queues {
                Some(n) => write!(
                    f,
                    "too many message queues (fs.mqueue.queues_max is {n}; RLIMIT_MSGQUEUE \
                     bounds the bytes per user)"
                ),
                None => f.write_str("too many message queues"),
            },
            Error::Unsupported => f.write_str("POSIX message queues are not supported here"),
            Error::Io(_) => f.write_str("the operating system refused"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io(e) | Error::TooManyQueues { source: e, .. } => Some(e),
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
        let kind = match &e {
            Error::Io(inner) => inner.kind(),
            Error::Full | Error::Empty => io::ErrorKind::WouldBlock,
            Error::TooLarge { .. } | Error::BufferTooSmall { .. } | Error::SizeLimit { .. } => {
                io::ErrorKind::InvalidInput
            }
            Error::TooManyQueues { source, .. } => source.kind(),
            Error::Unsupported => io::ErrorKind::Unsupported,
        };
        io::Error::new(kind, e)
    }
}
