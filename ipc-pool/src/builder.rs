//! [`PoolBuilder`]: the settings of a [`Pool`].

use std::fmt;
use std::os::fd::OwnedFd;
use std::sync::Arc;

use multiproc_core::transfer;
use multiproc_process::{RemoteFn, StartMethod, get_start_method};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::dispatch::{self, WorkerConfig, start_worker};
use crate::error::{Error, os};
use crate::lane::Region;
use crate::pool::Pool;

/// Configures a [`Pool`] (Python's `Pool(processes, initializer, initargs, maxtasksperchild)`
/// and the context's start method).
#[derive(Default)]
pub struct PoolBuilder {
    processes: Option<usize>,
    init: Option<(RemoteFn, Vec<u8>, Vec<OwnedFd>)>,
    init_error: Option<Error>,
    max_tasks: Option<u64>,
    method: Option<StartMethod>,
}

impl fmt::Debug for PoolBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PoolBuilder")
            .field("processes", &self.processes)
            .field("max_tasks", &self.max_tasks)
            .field("method", &self.method)
            .finish()
    }
}

impl PoolBuilder {
    /// The number of workers (default: the number of CPUs).
    pub fn processes(mut self, n: usize) -> Self {
        self.processes = Some(n.max(1));
        self
    }

    /// A function each worker runs once, with `args`, before its first task (Python's
    /// `initializer`, `initargs`): the place to set up per-worker state (a static, a
    /// connection).
    pub fn initializer<A>(mut self, f: fn(A), args: A) -> Self
    where
        A: Serialize + DeserializeOwned + 'static,
    {
        let r = RemoteFn::new(f).map_err(Error::Process).and_then(|rf| {
            transfer::to_envelope(&args)
                .map(|env| (rf, env.bytes, env.fds))
                .map_err(Error::Encode)
        });
        match r {
            Ok(init) => self.init = Some(init),
            Err(e) => self.init_error = Some(e),
        }
        self
    }

    /// A worker exits after this many batches and is replaced by a fresh one (Python's
    /// `maxtasksperchild`; a batch is one `apply` or one chunk of a `map`).
    pub fn maxtasksperchild(mut self, n: u64) -> Self {
        self.max_tasks = Some(n.max(1));
        self
    }

    /// The start method of the workers.
    pub fn start_method(mut self, m: StartMethod) -> Self {
        self.method = Some(m);
        self
    }

    /// Starts the workers and the pool.
    ///
    /// # Errors
    /// [`Error::Process`] when a worker cannot start (e.g. `fork` from a multi-threaded
    /// process).
    pub fn build(self) -> Result<Pool, Error> {
        if let Some(e) = self.init_error {
            return Err(e);
        }
        let processes = self
            .processes
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
        let method = self.method.unwrap_or_else(get_start_method);
        let cfg = WorkerConfig {
            method,
            init: self.init.map(|(f, b, fds)| (f, b, Arc::new(fds))),
            max_tasks: self.max_tasks,
        };
        // The first workers start here, before the pool's thread exists (so `fork` can work);
        // the thread starts with the first task.
        let lanes = Region::many(processes).map_err(os)?;
        let workers = lanes
            .into_iter()
            .enumerate()
            .map(|(i, lane)| start_worker(&cfg, method, i + 1, (lane, 0)))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Pool {
            shared: dispatch::shared(processes, cfg, workers)?,
        })
    }
}
