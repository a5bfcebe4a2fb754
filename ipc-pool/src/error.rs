//! Errors of `multiproc-pool`.

use std::fmt;

/// Why the pool could not take or start work.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The pool was closed or terminated: it takes no new tasks.
    Closed,
    /// Starting a worker process failed.
    Process(multiproc_process::Error),
    /// The arguments could not be encoded, or the connection to a worker failed.
    Transfer(String),
    /// `join` before `close` or `terminate` (Python raises `ValueError` here).
    StillRunning,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Closed => f.write_str("the pool is closed"),
            Error::Process(e) => write!(f, "cannot start a worker: {e}"),
            Error::Transfer(e) => write!(f, "cannot send the task: {e}"),
            Error::StillRunning => f.write_str("join() needs close() or terminate() first"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Process(e) => Some(e),
            _ => None,
        }
    }
}

impl From<multiproc_process::Error> for Error {
    fn from(e: multiproc_process::Error) -> Self {
        Error::Process(e)
    }
}

/// Why one task (one item of a `map`, one `apply`) has no result.
#[derive(Debug, Clone, PartialEq, Eq)]
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
    /// The arguments or the result did not cross (encoding, decoding).
    Failed(String),
    /// The pool was terminated before the task finished.
    Terminated,
    /// No result within the timeout given to `get_timeout` (the task may still finish).
    Timeout,
    /// The result was already taken by an earlier `get`.
    AlreadyTaken,
    /// The pool could not take the task.
    Pool(String),
}

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
            TaskError::Terminated => f.write_str("the pool was terminated"),
            TaskError::Timeout => f.write_str("timed out"),
            TaskError::AlreadyTaken => f.write_str("the result was already taken"),
            TaskError::Pool(m) => write!(f, "{m}"),
        }
    }
}

impl std::error::Error for TaskError {}
