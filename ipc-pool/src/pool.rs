//! [`Pool`]: Python's `multiprocessing.Pool`.

use std::fmt;
use std::os::fd::OwnedFd;
use std::sync::{Arc, Mutex};

use multiproc_core::transfer::{self};
use multiproc_process::RemoteFn;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::builder::PoolBuilder;
pub(crate) use crate::dispatch::Completion;
use crate::dispatch::{Pending, Shared, TaskRef};
use crate::error::{Error, TaskError};
use crate::lane::{self, Lane};
use crate::result::{AsyncResult, Direct, Slot};

/// A pool of worker processes (Python's `multiprocessing.Pool`).
///
/// Tasks are plain functions `fn(A) -> R` with serde arguments and results (a non-capturing
/// closure coerces to one); give workers state through an [initializer](PoolBuilder::initializer)
/// or through the arguments.
///
/// ```
/// use multiproc_pool::Pool;
/// fn square(x: u64) -> u64 { x * x }
/// let pool = Pool::new(2)?;
/// assert_eq!(pool.map(square, 1..=4)?, vec![1, 4, 9, 16]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Workers that die, tasks that panic
///
/// A panic in a task is that task's [`TaskError::Panicked`]; the worker goes on. A worker that
/// dies (SIGKILL, abort, segfault) fails only the batch it was running, with
/// [`TaskError::WorkerDied`]; the batch it had been sent next goes to another worker, and a new
/// worker takes its place. (Python's `Pool` hangs here.)
///
/// # Dropping
///
/// Dropping a pool [terminates](Self::terminate) it and waits for its workers, as Python's
/// `with Pool() as p:` does on exit: call [`close`](Self::close) and [`join`](Self::join) first
/// to let queued work finish.
///
/// # Start methods
///
/// Workers start with the default start method (`forkserver`) or the one given to the builder.
/// With `fork`, the first workers are forked before the pool starts its own thread (so the
/// calling process must be single-threaded then); workers that replace dead ones come from the
/// fork server, since a process with the pool's thread may not fork.
pub struct Pool {
    pub(crate) shared: Arc<Shared>,
}

impl fmt::Debug for Pool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool")
            .field("processes", &self.shared.processes)
            .finish()
    }
}

/// Encodes a batch of items for `f`.
fn encode<A: Serialize>(items: &[A]) -> Result<(Vec<u8>, Vec<OwnedFd>), Error> {
    let mut bytes = Vec::new();
    let fds = transfer::serialize_into(items, &mut bytes).map_err(Error::Encode)?;
    Ok((bytes, fds))
}

/// What a worker sends back for a batch: every value, or (when an item panicked) each item's
/// own result. See `RemoteFn::new_batch`.
type Encoded<R> = Result<Vec<R>, Vec<Result<R, String>>>;

/// A finished batch: every value, or one result per item.
pub(crate) enum Batch<R> {
    All(Vec<R>),
    Each(Vec<Result<R, TaskError>>),
}

/// Decodes a finished batch of `len` items.
pub(crate) fn decode_batch_whole<R: DeserializeOwned>(
    r: Result<(Vec<u8>, Vec<OwnedFd>), TaskError>,
    len: usize,
) -> Batch<R> {
    let fail = |e: TaskError| Batch::Each((0..len).map(|_| Err(e.clone())).collect());
    match r {
        Ok((bytes, fds)) => match transfer::from_envelope::<Encoded<R>>(&bytes, fds) {
            Ok(Ok(all)) => Batch::All(all),
            Ok(Err(each)) => Batch::Each(
                each.into_iter()
                    .map(|x| x.map_err(TaskError::Panicked))
                    .collect(),
            ),
            Err(e) => fail(TaskError::Decode(Arc::new(e))),
        },
        Err(e) => fail(e),
    }
}

/// Decodes a finished batch into one result per item.
pub(crate) fn decode_batch<R: DeserializeOwned>(
    r: Result<(Vec<u8>, Vec<OwnedFd>), TaskError>,
    len: usize,
) -> Vec<Result<R, TaskError>> {
    match decode_batch_whole(r, len) {
        Batch::All(v) => v.into_iter().map(Ok).collect(),
        Batch::Each(v) => v,
    }
}

impl Pool {
    /// A pool of `processes` workers with the default start method.
    pub fn new(processes: usize) -> Result<Pool, Error> {
        Pool::builder().processes(processes).build()
    }

    /// A builder for the other settings.
    pub fn builder() -> PoolBuilder {
        PoolBuilder::default()
    }

    /// The number of workers.
    pub fn processes(&self) -> usize {
        self.shared.processes
    }

    /// Submits `f` over `items` as one batch; `done` gets the batch's outcome.
    pub(crate) fn submit_batch<A, R>(
        &self,
        f: fn(A) -> R,
        items: &[A],
        done: Completion,
    ) -> Result<(), Error>
    where
        A: Serialize + DeserializeOwned + 'static,
        R: Serialize + DeserializeOwned + 'static,
    {
        let rf = RemoteFn::new_batch(f)?;
        let (bytes, fds) = encode(items)?;
        self.shared.submit(Pending {
            f: rf,
            items: bytes,
            fds,
            done,
        })
    }

    /// Python's default chunk size for `map`: items / (4 × workers), rounded up.
    pub(crate) fn default_chunksize(&self, n: usize) -> usize {
        n.div_ceil(self.processes() * 4).max(1)
    }

    /// Runs `f` on every item, in parallel, and returns the results in order (Python's `map`).
    /// The items go in batches of a default size (Python's rule: items / (4 × workers)).
    ///
    /// # Errors
    /// The first item's error in order, if any failed.
    pub fn map<A, R>(
        &self,
        f: fn(A) -> R,
        items: impl IntoIterator<Item = A>,
    ) -> Result<Vec<R>, TaskError>
    where
        A: Serialize + DeserializeOwned + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
    {
        self.map_async(f, items, None)
            .map_err(TaskError::from)?
            .get()
    }

    /// [`map`](Self::map) with a chosen batch size (Python's `chunksize`).
    pub fn map_chunked<A, R>(
        &self,
        f: fn(A) -> R,
        items: impl IntoIterator<Item = A>,
        chunksize: usize,
    ) -> Result<Vec<R>, TaskError>
    where
        A: Serialize + DeserializeOwned + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
    {
        self.map_async(f, items, Some(chunksize))
            .map_err(TaskError::from)?
            .get()
    }

    /// Python's `starmap`: in Rust a function of several arguments takes one tuple, so this is
    /// [`map`](Self::map) over tuples.
    pub fn starmap<A, R>(
        &self,
        f: fn(A) -> R,
        items: impl IntoIterator<Item = A>,
    ) -> Result<Vec<R>, TaskError>
    where
        A: Serialize + DeserializeOwned + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
    {
        self.map(f, items)
    }

    /// [`map`](Self::map) without waiting (Python's `map_async`): the result arrives later.
    pub fn map_async<A, R>(
        &self,
        f: fn(A) -> R,
        items: impl IntoIterator<Item = A>,
        chunksize: Option<usize>,
    ) -> Result<AsyncResult<Vec<R>>, Error>
    where
        A: Serialize + DeserializeOwned + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
    {
        self.map_async_inner(f, items, chunksize, None)
    }

    /// [`map_async`](Self::map_async) with a `callback` for the whole result and an
    /// `error_callback` for the first failure (Python's `callback=`, `error_callback=`). One of
    /// them runs once, in this process, on the pool's thread, when the last batch is in — before
    /// [`get`](AsyncResult::get) returns; keep them short.
    ///
    /// ```
    /// use std::sync::mpsc;
    /// use multiproc_pool::{Pool, TaskError};
    /// fn square(x: u64) -> u64 { x * x }
    /// let pool = Pool::new(2)?;
    /// let (tx, rx) = mpsc::channel();
    /// let r = pool.map_async_with(
    ///     square,
    ///     1..=4,
    ///     None,
    ///     move |v: &Vec<u64>| tx.send(v.iter().sum::<u64>()).unwrap(),
    ///     |e: &TaskError| eprintln!("failed: {e}"),
    /// )?;
    /// assert_eq!(rx.recv()?, 30);
    /// assert_eq!(r.get()?, vec![1, 4, 9, 16]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn map_async_with<A, R>(
        &self,
        f: fn(A) -> R,
        items: impl IntoIterator<Item = A>,
        chunksize: Option<usize>,
        callback: impl FnOnce(&Vec<R>) + Send + 'static,
        error_callback: impl FnOnce(&TaskError) + Send + 'static,
    ) -> Result<AsyncResult<Vec<R>>, Error>
    where
        A: Serialize + DeserializeOwned + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
    {
        let on_done: OnDone<R> = Box::new(move |r| match r {
            Ok(v) => callback(v),
            Err(e) => error_callback(e),
        });
        self.map_async_inner(f, items, chunksize, Some(on_done))
    }

    /// Python's `starmap_async`: [`map_async`](Self::map_async) over tuples.
    pub fn starmap_async<A, R>(
        &self,
        f: fn(A) -> R,
        items: impl IntoIterator<Item = A>,
        chunksize: Option<usize>,
    ) -> Result<AsyncResult<Vec<R>>, Error>
    where
        A: Serialize + DeserializeOwned + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
    {
        self.map_async(f, items, chunksize)
    }

    /// Python's `starmap_async` with `callback` and `error_callback`:
    /// [`map_async_with`](Self::map_async_with) over tuples.
    pub fn starmap_async_with<A, R>(
        &self,
        f: fn(A) -> R,
        items: impl IntoIterator<Item = A>,
        chunksize: Option<usize>,
        callback: impl FnOnce(&Vec<R>) + Send + 'static,
        error_callback: impl FnOnce(&TaskError) + Send + 'static,
    ) -> Result<AsyncResult<Vec<R>>, Error>
    where
        A: Serialize + DeserializeOwned + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
    {
        self.map_async_with(f, items, chunksize, callback, error_callback)
    }

    fn map_async_inner<A, R>(
        &self,
        f: fn(A) -> R,
        items: impl IntoIterator<Item = A>,
        chunksize: Option<usize>,
        on_done: Option<OnDone<R>>,
    ) -> Result<AsyncResult<Vec<R>>, Error>
    where
        A: Serialize + DeserializeOwned + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
    {
        let items: Vec<A> = items.into_iter().collect();
        let n = items.len();
        let slot = Slot::new();
        if n == 0 {
            let r = Ok(Vec::new());
            if let Some(cb) = on_done {
                cb(&r);
            }
            slot.fulfill(r);
            return Ok(AsyncResult { slot });
        }
        let chunk = chunksize
            .unwrap_or_else(|| self.default_chunksize(n))
            .max(1);
        let gather = Arc::new(Mutex::new(Gather {
            chunks: (0..n.div_ceil(chunk)).map(|_| None).collect(),
            left: n.div_ceil(chunk),
            error: None,
            on_done,
        }));
        for (ci, batch) in items.chunks(chunk).enumerate() {
            let len = batch.len();
            let g = gather.clone();
            let s = slot.clone();
            let done: Completion = Box::new(move |r| {
                let batch = decode_batch_whole::<R>(r, len);
                let mut g = g.lock().unwrap_or_else(|p| p.into_inner());
                if let Some(r) = g.add(ci, ci * chunk, batch) {
                    if let Some(cb) = g.on_done.take() {
                        cb(&r);
                    }
                    s.fulfill(r);
                }
            });
            self.submit_batch(f, batch, done)?;
        }
        Ok(AsyncResult { slot })
    }

    /// Runs `f(args)` in a worker and waits for it (Python's `apply`).
    pub fn apply<A, R>(&self, f: fn(A) -> R, args: A) -> Result<R, TaskError>
    where
        A: Serialize + DeserializeOwned + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
    {
        self.apply_async(f, args).map_err(TaskError::from)?.get()
    }

    /// Runs `f(args)` in a worker without waiting (Python's `apply_async`).
    ///
    /// When a worker is idle and nothing is queued, the task goes straight to it through
    /// shared memory, and [`get`](AsyncResult::get) takes the result straight from it: a round
    /// trip costs two wake-ups, as a bare futex ping-pong does.
    pub fn apply_async<A, R>(&self, f: fn(A) -> R, args: A) -> Result<AsyncResult<R>, Error>
    where
        A: Serialize + DeserializeOwned + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
    {
        let slot = Slot::new();
        let s = slot.clone();
        let done: Completion = Box::new(move |r| s.fulfill(decode_one::<R>(r)));
        if let Some((lane, seq)) = self.submit_one(f, &args, done)? {
            slot.set_direct(Direct::new(lane, seq, self.shared.clone()));
        }
        Ok(AsyncResult { slot })
    }

    /// [`apply_async`](Self::apply_async) with a `callback` for the result and an
    /// `error_callback` for a failure (Python's `callback=`, `error_callback=`). They run in
    /// this process, on the pool's thread, as soon as the task ends — keep them short.
    pub fn apply_async_with<A, R>(
        &self,
        f: fn(A) -> R,
        args: A,
        callback: impl FnOnce(&R) + Send + 'static,
        error_callback: impl FnOnce(&TaskError) + Send + 'static,
    ) -> Result<AsyncResult<R>, Error>
    where
        A: Serialize + DeserializeOwned + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
    {
        let slot = Slot::new();
        let s = slot.clone();
        let done: Completion = Box::new(move |r| {
            let r = decode_one::<R>(r);
            match &r {
                Ok(v) => callback(v),
                Err(e) => error_callback(e),
            }
            s.fulfill(r);
        });
        // The callbacks run on the pool's thread: the result comes to it, not to the caller.
        self.submit_one(f, &args, done)?;
        Ok(AsyncResult { slot })
    }

    /// Submits one task: through an idle worker's lane if one is free and the task fits
    /// (returns the lane and the task's number there), through the queue otherwise.
    fn submit_one<A, R>(
        &self,
        f: fn(A) -> R,
        args: &A,
        done: Completion,
    ) -> Result<Option<(Arc<Lane>, u32)>, Error>
    where
        A: Serialize + DeserializeOwned + 'static,
        R: Serialize + DeserializeOwned + 'static,
    {
        let rf = RemoteFn::new_batch(f)?;
        let (items, fds) = encode(std::slice::from_ref(args))?;
        let done = if fds.is_empty() && items.len() < lane::CAP {
            let task = TaskRef {
                id: 0,
                f: rf,
                items: &items,
                fds: Vec::new(),
            };
            let mut bytes = Vec::with_capacity(items.len() + 64);
            transfer::serialize_into(&task, &mut bytes).map_err(Error::Encode)?;
            match self.shared.try_lane(&bytes, done)? {
                Ok(posted) => return Ok(Some(posted)),
                Err(done) => done,
            }
        } else {
            done
        };
        self.shared.submit(Pending {
            f: rf,
            items,
            fds,
            done,
        })?;
        Ok(None)
    }

    /// Takes no more tasks; the workers finish what is queued and exit (Python's `close`).
    pub fn close(&self) {
        self.shared.shut(false);
    }

    /// Stops the workers now (SIGKILL); queued and running tasks fail with
    /// [`TaskError::Terminated`] (Python's `terminate`).
    pub fn terminate(&self) {
        self.shared.shut(true);
    }

    /// Waits for the workers to exit, after [`close`](Self::close) or
    /// [`terminate`](Self::terminate) (Python's `join`).
    ///
    /// # Errors
    /// [`Error::StillRunning`] before either.
    pub fn join(&self) -> Result<(), Error> {
        {
            let st = self.shared.lock();
            if !st.closed && !st.terminated {
                return Err(Error::StillRunning);
            }
        }
        self.shared.join_thread();
        Ok(())
    }
}

/// A `map`'s callbacks, as one: called with the whole result once every batch is in.
type OnDone<R> = Box<dyn FnOnce(&Result<Vec<R>, TaskError>) + Send + 'static>;

/// The batches of a `map` as they come back.
struct Gather<R> {
    chunks: Vec<Option<Vec<R>>>,
    left: usize,
    /// The first failed item (by position) and why.
    error: Option<(usize, TaskError)>,
    on_done: Option<OnDone<R>>,
}

impl<R> Gather<R> {
    /// Takes batch `ci` (whose first item is item `start`); the whole result once every batch
    /// is in.
    fn add(
        &mut self,
        ci: usize,
        start: usize,
        batch: Batch<R>,
    ) -> Option<Result<Vec<R>, TaskError>> {
        match batch {
            Batch::All(v) => self.chunks[ci] = Some(v),
            Batch::Each(v) => {
                let mut ok = Vec::with_capacity(v.len());
                for (k, r) in v.into_iter().enumerate() {
                    match r {
                        Ok(x) => ok.push(x),
                        Err(e) => {
                            if self.error.as_ref().is_none_or(|(i, _)| start + k < *i) {
                                self.error = Some((start + k, e));
                            }
                        }
                    }
                }
                self.chunks[ci] = Some(ok);
            }
        }
        self.left -= 1;
        if self.left > 0 {
            return None;
        }
        Some(match self.error.take() {
            Some((_, e)) => Err(e),
            None => {
                let total = self.chunks.iter().flatten().map(Vec::len).sum();
                let mut out = Vec::with_capacity(total);
                for mut c in self.chunks.drain(..).flatten() {
                    out.append(&mut c);
                }
                Ok(out)
            }
        })
    }
}

/// Decodes the result of a one-item batch.
fn decode_one<R: DeserializeOwned>(
    r: Result<(Vec<u8>, Vec<OwnedFd>), TaskError>,
) -> Result<R, TaskError> {
    decode_batch::<R>(r, 1)
        .pop()
        .unwrap_or_else(|| Err(TaskError::Failed("the worker sent no result".into())))
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.terminate();
        let _ = self.join();
    }
}
