//! [`JoinHandle`] and [`spawn`]: a child that returns a value.

use std::marker::PhantomData;
use std::time::Duration;

use multiproc_core::Deadline;

use multiproc_core::transfer::{self, PortableFd};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{Error, JoinError};
use crate::job::Outcome;
use crate::process::Process;

/// A started child whose target returns a `T` (any serde type, handles included).
///
/// ```
/// fn sum(v: Vec<u64>) -> u64 { v.iter().sum() }
/// let h = multiproc_process::spawn(sum, vec![1, 2, 3])?;
/// assert_eq!(h.join()?, 6);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use = "a child that is never joined runs on unobserved"]
pub struct JoinHandle<T> {
    // Boxed: `join_timeout` hands the handle back by value.
    process: Box<Process>,
    _t: PhantomData<fn() -> T>,
}

impl<T> std::fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JoinHandle")
            .field("process", &self.process)
            .finish()
    }
}

/// Starts `target(args)` with the default start method; `join` gives its return value.
///
/// The `Rust` counterpart of `Process(target=..., args=...)` plus a way to get the result back,
/// which Python needs a `Queue` or `Pool` for.
pub fn spawn<A, R>(target: fn(A) -> R, args: A) -> Result<JoinHandle<R>, Error>
where
    A: Serialize + DeserializeOwned + Send + 'static,
    R: Serialize + DeserializeOwned + 'static,
{
    JoinHandle::start(Process::new(target, args))
}

impl<T: DeserializeOwned + 'static> JoinHandle<T> {
    /// Starts a configured [`Process`] (name, daemon, start method) and keeps its target's
    /// return value, which must be a `T`.
    ///
    /// ```
    /// use multiproc_process::{JoinHandle, Process, StartMethod};
    /// fn double(x: i64) -> i64 { 2 * x }
    /// let p = Process::new(double, 21).with_name("doubler").with_start_method(StartMethod::Spawn);
    /// assert_eq!(JoinHandle::<i64>::start(p)?.join()?, 42);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::WrongResultType`] when the target does not return a `T`; otherwise as
    /// [`Process::start`].
    pub fn start(process: Process) -> Result<JoinHandle<T>, Error> {
        if process.returns() != std::any::TypeId::of::<T>() {
            return Err(Error::WrongResultType);
        }
        let process = process.with_result();
        process.start()?;
        Ok(JoinHandle {
            process: Box::new(process),
            _t: PhantomData,
        })
    }

    /// The process, for its pid, name, sentinel, `is_alive`, `terminate`, `kill`.
    pub fn process(&self) -> &Process {
        &self.process
    }

    /// Waits for the child and gives what its target returned.
    ///
    /// # Errors
    /// [`JoinError::Panicked`] with the panic message; [`JoinError::Exited`] /
    /// [`JoinError::Signaled`] when it ended without returning.
    pub fn join(self) -> Result<T, JoinError> {
        let report = self.process.wait_report(Deadline::Forever)?;
        self.conclude(report)
    }

    /// Like [`join`](Self::join), but gives the handle back if the child has not finished
    /// within `timeout`.
    pub fn join_timeout(self, timeout: Duration) -> Result<Result<T, JoinError>, Self> {
        self.join_until(Deadline::from_timeout(Some(timeout)))
    }

    /// Like [`join`](Self::join), but never waits: gives the handle back if the child has not
    /// finished yet.
    pub fn try_join(self) -> Result<Result<T, JoinError>, Self> {
        self.join_until(Deadline::No)
    }

    /// Waits for the child and gives what its target returned, as a future (feature `tokio`):
    /// no thread waits. Dropping the future before it completes drops the handle (the child
    /// runs on, as after dropping a `JoinHandle`).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// fn sum(v: Vec<u64>) -> u64 { v.iter().sum() }
    /// let h = multiproc_process::spawn(sum, vec![1, 2, 3])?;
    /// assert_eq!(h.join_async().await?, 6);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// As [`join`](Self::join); [`Error::NoRuntime`] (in [`JoinError::Process`]) outside a
    /// tokio runtime.
    #[cfg(feature = "tokio")]
    pub async fn join_async(self) -> Result<T, JoinError> {
        let report = loop {
            match self.process.wait_report(Deadline::No) {
                Err(Error::Timeout) => {
                    if let Some(fd) = self.process.report_fd()? {
                        crate::Sentinel::new(fd)?.await.map_err(Error::Io)?;
                    }
                }
                other => break other?,
            }
        };
        self.process.join_async().await?;
        self.conclude(report)
    }

    fn join_until(self, deadline: Deadline) -> Result<Result<T, JoinError>, Self> {
        match self.process.wait_report(deadline) {
            Err(Error::Timeout) => Err(self),
            Ok(report) => Ok(self.conclude(report)),
            Err(e) => Ok(Err(e.into())),
        }
    }

    fn conclude(self, report: Option<Outcome>) -> Result<T, JoinError> {
        self.process.join()?;
        match report {
            Some(Outcome::Returned { bytes, fds }) => {
                let fds = fds.into_iter().map(PortableFd::into_inner).collect();
                transfer::from_envelope(&bytes, fds).map_err(JoinError::Decode)
            }
            Some(Outcome::Panicked(m)) => Err(JoinError::Panicked(m)),
            Some(Outcome::Failed(m)) => Err(JoinError::Failed(m)),
            None => match self.process.exitcode() {
                Some(c) if c < 0 => Err(JoinError::Signaled(-c)),
                Some(c) => Err(JoinError::Exited(c)),
                None => Err(JoinError::Process(Error::NotStarted)),
            },
        }
    }
}
