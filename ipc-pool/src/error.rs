//! Errors of `multiproc-pool`.

use std::fmt;
use std::io;
use std::sync::Arc;

/// Why the pool could not take or start work.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The pool was closed or terminated: it takes no new tasks.
    Closed,
    /// Starting a worker process failed.
    Process(multiproc_process::Error),
    /// The task's arguments (or the initializer's) could not be encoded.
    Encode(multiproc_core::Error),
    /// An operating system call failed (a socket pair, the workers' shared memory, the pool's
    /// thread).
    Io(io::Error),
    /// `join` before `close` or `terminate` (Python raises `ValueError` here).
    StillRunning,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Closed => f.write_str("the pool is closed"),
            Error::Process(_) => f.write_str("cannot start a worker"),
            Error::Encode(_) => f.write_str("cannot encode the task's arguments"),
            Error::Io(_) => f.write_str("an operating system call failed"),
            Error::StillRunning => f.write_str("join() needs close() or terminate() first"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Process(e) => Some(e),
            Error::Encode(e) => Some(e),
            Error::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<multiproc_process::Error> for Error {
    fn from(e: multiproc_process::Error) -> Self {
        Error::Process(e)
    }
}

impl From<Error> for io::Error {
    /// For callers who only propagate: an OS failure as itself, the rest wrapped.
    fn from(e: Error) -> Self {
        match e {
            Error::Io(e) => e,
            e => io::Error::other(e),
        }
    }
}

/// An OS failure of this crate as an [`Error`].
pub(crate) fn os(e: io::Error) -> Error {
    Error::Io(e)
}

/// Why one task (one item of a `map`, one `apply`) has no result.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum TaskError {
    /// The task's function panicked, with this message; the worker lives on.
    Panicked(String),
    /// The worker running the task died (SIGKILL, abort, segfault, `exit`); its exit code in
    /// Python's form (`-9` for SIGKILL). The worker was replaced; other tasks go on.
    WorkerDied {
        /// How the worker ended.
        exitcode: Option<i32>,
    },
    /// The worker could not run the task: its arguments did not decode there, or its results
    /// did not encode (the worker's own message).
    Failed(String),
    /// The results came back but did not decode here.
    Decode(Arc<multiproc_core::Error>),
    /// The pool was terminated before the task finished.
    Terminated,
    /// No result within the timeout given to `get_timeout` (the task may still finish), or
    /// none yet for `try_get`.
    Timeout,
    /// The result was already taken by an earlier `get`.
    AlreadyTaken,
    /// The pool was closed or terminated before it took the task.
    Closed,
    /// No worker could be started to run the task.
    NoWorker,
    /// The pool could not take the task (its arguments did not encode, or an OS call failed).
    Submit(Arc<Error>),
}

impl PartialEq for TaskError {
    /// Equal variants with equal payloads; the shared causes of [`Decode`](Self::Decode) and
    /// [`Submit`](Self::Submit) are equal only if they are the same error.
    fn eq(&self, other: &Self) -> bool {
        use TaskError::*;
        match (self, other) {
            (Panicked(a), Panicked(b)) | (Failed(a), Failed(b)) => a == b,
            (WorkerDied { exitcode: a }, WorkerDied { exitcode: b }) => a == b,
            (Decode(a), Decode(b)) => Arc::ptr_eq(a, b),
            (Submit(a), Submit(b)) => Arc::ptr_eq(a, b),
            (Terminated, Terminated)
            | (Timeout, Timeout)
            | (AlreadyTaken, AlreadyTaken)
            | (Closed, Closed)
            | (NoWorker, NoWorker) => true,
            _ => false,
        }
    }
}

impl Eq for TaskError {}

impl fmt::Display for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TaskError::Panicked(m) => write!(f, "the task panicked: {m}"),
            TaskError::WorkerDied { exitcode } => {
                write!(
                    f,
                    "the worker running the task died (exit code {exitcode:?})"
                )
            }
            TaskError::Failed(m) => write!(f, "the task could not run: {m}"),
            TaskError::Decode(_) => f.write_str("cannot decode the task's results"),
            TaskError::Terminated => f.write_str("the pool was terminated"),
            TaskError::Timeout => f.write_str("timed out"),
            TaskError::AlreadyTaken => f.write_str("the result was already taken"),
            TaskError::Closed => f.write_str("the pool is closed"),
            TaskError::NoWorker => f.write_str("no worker could be started"),
            TaskError::Submit(_) => f.write_str("the pool could not take the task"),
        }
    }
}

impl std::error::Error for TaskError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TaskError::Decode(e) => Some(&**e),
            TaskError::Submit(e) => Some(&**e),
            _ => None,
        }
    }
}

impl From<Error> for TaskError {
    /// A submission that failed, as the task's error.
    fn from(e: Error) -> Self {
        match e {
            Error::Closed => TaskError::Closed,
            e => TaskError::Submit(Arc::new(e)),
        }
    }
}

impl From<TaskError> for io::Error {
    /// For callers who only propagate.
    fn from(e: TaskError) -> Self {
        let kind = match e {
            TaskError::Timeout => io::ErrorKind::TimedOut,
            _ => io::ErrorKind::Other,
        };
        io::Error::new(kind, e)
    }
}
