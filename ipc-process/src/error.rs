//! Errors of `multiproc-process`.

use std::fmt;
use std::io;

/// Why an operation on a [`Process`](crate::Process) failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The operating system refused.
    Io(io::Error),
    /// Sending the target's arguments or receiving its result failed.
    Transfer(multiproc_core::Error),
    /// `start` on a process that was already started.
    AlreadyStarted,
    /// `join` (or another call that needs a child) on a process that was never started.
    NotStarted,
    /// A process cannot join itself.
    JoinSelf,
    /// `close` while the child is still running.
    StillRunning,
    /// The handle was closed.
    Closed,
    /// The `fork` start method was asked for while this process runs other threads. Forking a
    /// multi-threaded process is unsound in general (the child inherits locks held by threads
    /// that no longer exist there); use `spawn` or `forkserver`, or
    /// [`Process::start_fork_unchecked`](crate::Process::start_fork_unchecked).
    ForkWithThreads {
        /// Threads this process had.
        threads: usize,
    },
    /// A closure target can only run under `fork`: `spawn` and `forkserver` start a program
    /// image that does not have the closure; give them a `fn` and serde arguments.
    NeedsFork,
    /// The target `fn` is not in the main executable (e.g. in a dynamically loaded library), so
    /// it cannot be named in a fresh run of the program.
    NotInExecutable,
    /// A daemon process may not create child processes (as in Python).
    DaemonChild,
    /// The child did not report in time (spawn or forkserver start-up).
    Timeout,
    /// [`JoinHandle::start`](crate::JoinHandle::start) for a `T` other than the target's
    /// return type.
    WrongResultType,
    /// [`set_start_method`](crate::set_start_method) after the start method was set or used
    /// (use [`force_start_method`](crate::force_start_method) to override).
    StartMethodFixed {
        /// The start method in force.
        current: crate::StartMethod,
    },
    /// An `async` method was called outside a tokio runtime (feature `tokio`).
    #[cfg(feature = "tokio")]
    NoRuntime,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io(_) => f.write_str("an operating system call failed"),
            Error::Transfer(_) => f.write_str("cannot talk to the child"),
            Error::AlreadyStarted => f.write_str("a process can only be started once"),
            Error::NotStarted => f.write_str("the process was never started"),
            Error::JoinSelf => f.write_str("a process cannot join itself"),
            Error::StillRunning => f.write_str("cannot close a process that is still running"),
            Error::Closed => f.write_str("the process handle was closed"),
            Error::ForkWithThreads { threads } => write!(
                f,
                "refusing to fork a process with {threads} threads; use spawn or forkserver"
            ),
            Error::NeedsFork => {
                f.write_str("a closure can only run under the fork start method; pass a fn")
            }
            Error::NotInExecutable => f.write_str("the target fn is not in the main executable"),
            Error::DaemonChild => {
                f.write_str("daemonic processes are not allowed to have children")
            }
            Error::Timeout => f.write_str("the child did not start in time"),
            Error::WrongResultType => {
                f.write_str("the join handle's type is not the target's return type")
            }
            #[cfg(feature = "tokio")]
            Error::NoRuntime => f.write_str("not inside a tokio runtime"),
            Error::StartMethodFixed { current } => write!(
                f,
                "the start method is already set ({}); force_start_method overrides it",
                current.name()
            ),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io(e) => Some(e),
            Error::Transfer(e) => Some(e),
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
    /// For callers who only propagate: an OS failure as itself, the rest as
    /// [`io::ErrorKind::Other`] (or [`TimedOut`](io::ErrorKind::TimedOut)) wrapping the error.
    fn from(e: Error) -> Self {
        match e {
            Error::Io(e) => e,
            Error::Timeout => io::Error::new(io::ErrorKind::TimedOut, e),
            e => io::Error::other(e),
        }
    }
}

impl From<multiproc_core::Error> for Error {
    fn from(e: multiproc_core::Error) -> Self {
        match e {
            multiproc_core::Error::Io(e) => Error::Io(e),
            multiproc_core::Error::Timeout => Error::Timeout,
            e => Error::Transfer(e),
        }
    }
}

/// How a child that was to return a value ended instead, from [`JoinHandle::join`](crate::JoinHandle::join).
#[derive(Debug)]
#[non_exhaustive]
pub enum JoinError {
    /// The target panicked; the panic message (exit code 1).
    Panicked(String),
    /// The child exited with this code before returning a value (e.g. `std::process::exit(3)`).
    Exited(i32),
    /// A signal ended the child (SIGKILL is 9).
    Signaled(i32),
    /// The child could not run the target: its arguments did not decode there, or its result
    /// did not encode (the child's own message).
    Failed(String),
    /// The child's result did not decode here.
    Decode(multiproc_core::Error),
    /// Starting or waiting failed.
    Process(Error),
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JoinError::Panicked(m) => write!(f, "the child panicked: {m}"),
            JoinError::Exited(c) => write!(f, "the child exited with code {c} before returning"),
            JoinError::Signaled(s) => write!(f, "the child was killed by signal {s}"),
            JoinError::Failed(m) => write!(f, "the child could not run its target: {m}"),
            JoinError::Decode(_) => f.write_str("cannot decode the child's result"),
            JoinError::Process(_) => f.write_str("cannot start or wait for the child"),
        }
    }
}

impl std::error::Error for JoinError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            JoinError::Process(e) => Some(e),
            JoinError::Decode(e) => Some(e),
            _ => None,
        }
    }
}

impl From<JoinError> for io::Error {
    /// For callers who only propagate.
    fn from(e: JoinError) -> Self {
        match e {
            JoinError::Process(e) => e.into(),
            e => io::Error::other(e),
        }
    }
}

impl From<Error> for JoinError {
    fn from(e: Error) -> Self {
        JoinError::Process(e)
    }
}

/// Why [`RemoteFn::call`](crate::RemoteFn::call) could not run its function.
#[derive(Debug)]
#[non_exhaustive]
pub enum CallError {
    /// This process runs another executable than the one that named the function.
    OtherExecutable,
    /// The executable's identity could not be read.
    Io(io::Error),
    /// The arguments did not decode.
    Arguments(multiproc_core::Error),
    /// The result did not encode.
    Result(multiproc_core::Error),
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallError::OtherExecutable => {
                f.write_str("this process runs a different executable than the caller")
            }
            CallError::Io(_) => f.write_str("cannot identify this process's executable"),
            CallError::Arguments(_) => f.write_str("cannot decode the arguments"),
            CallError::Result(_) => f.write_str("cannot encode the result"),
        }
    }
}

impl std::error::Error for CallError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CallError::Io(e) => Some(e),
            CallError::Arguments(e) | CallError::Result(e) => Some(e),
            CallError::OtherExecutable => None,
        }
    }
}

impl From<CallError> for io::Error {
    /// For callers who only propagate.
    fn from(e: CallError) -> Self {
        match e {
            CallError::Io(e) => e,
            e => io::Error::other(e),
        }
    }
}
