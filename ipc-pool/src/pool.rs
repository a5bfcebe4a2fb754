//! [`Pool`], its builder, and the dispatcher thread that runs the workers.

use std::collections::VecDeque;
use std::fmt;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use multiproc_core::transfer::{self, FdRef, PortableFd};
use multiproc_pipe::{Connection, Waitable};
use multiproc_process::{Process, RemoteFn, StartMethod, get_start_method};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{Error, TaskError};
use crate::result::{AsyncResult, Slot};
use crate::worker::{Done, WorkerArgs, worker_main};

/// What the pool does with a finished batch: the encoded `Vec<Result<R, String>>`, or why the
/// batch as a whole failed.
pub(crate) type Completion =
    Box<dyn FnOnce(Result<(Vec<u8>, Vec<OwnedFd>), TaskError>) + Send + 'static>;

/// A batch waiting for, or running on, a worker.
pub(crate) struct Pending {
    f: RemoteFn,
    items: Vec<u8>,
    fds: Vec<OwnedFd>,
    done: Completion,
}

/// The same serde shape as `worker::ToWorker`, borrowing the batch so a prefetched batch can be
/// sent again to another worker if the first one dies.
#[derive(Serialize)]
enum ToWorkerRef<'a> {
    Tasks(Vec<TaskRef<'a>>),
    Stop,
}

#[derive(Serialize)]
struct TaskRef<'a> {
    id: u64,
    f: RemoteFn,
    items: &'a [u8],
    fds: Vec<FdRef<'a>>,
}

struct State {
    queue: VecDeque<Pending>,
    closed: bool,
    terminated: bool,
}

pub(crate) struct Shared {
    state: Mutex<State>,
    wake_w: OwnedFd,
    processes: usize,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn wake(&self) {
        // A full wake pipe already means "look again"; nothing else can go wrong here.
        let _ = multiproc_core::fd::write_nosigpipe(&self.wake_w, &[1]);
    }

    pub(crate) fn submit(&self, p: Pending) -> Result<(), Error> {
        {
            let mut st = self.lock();
            if st.closed || st.terminated {
                return Err(Error::Closed);
            }
            st.queue.push_back(p);
        }
        self.wake();
        Ok(())
    }
}

/// Everything a worker is started with.
#[derive(Clone)]
struct WorkerConfig {
    method: StartMethod,
    init: Option<(RemoteFn, Vec<u8>, Arc<Vec<OwnedFd>>)>,
    max_tasks: Option<u64>,
}

/// A worker as the dispatcher sees it.
struct Worker {
    process: Process,
    conn: Connection,
    sentinel: OwnedFd,
    /// Batches sent and not yet answered, oldest (the running one) first.
    inflight: VecDeque<(u64, Pending)>,
    /// Messages sent and not yet answered (each carries one or more batches).
    messages: usize,
    /// Batches sent in all (for `maxtasksperchild`).
    sent: u64,
}

/// At most this many messages are on their way to one worker: the one it runs and one more,
/// so it never waits for the next.
const PREFETCH: usize = 2;

/// At most this many batches go in one message.
const MAX_PER_MESSAGE: usize = 64;

fn worker_name(method: StartMethod, n: usize) -> String {
    let kind = match method {
        StartMethod::Fork => "ForkPoolWorker",
        StartMethod::Spawn => "SpawnPoolWorker",
        StartMethod::Forkserver => "ForkServerPoolWorker",
    };
    format!("{kind}-{n}")
}

fn start_worker(cfg: &WorkerConfig, method: StartMethod, n: usize) -> Result<Worker, Error> {
    let (ours, theirs) = multiproc_pipe::pipe().map_err(|e| Error::Transfer(e.to_string()))?;
    let init = match &cfg.init {
        None => None,
        Some((f, bytes, fds)) => {
            let fds = fds
                .iter()
                .map(|fd| multiproc_core::fd::dup(fd).map(PortableFd::new))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| Error::Transfer(e.to_string()))?;
            Some((*f, bytes.clone(), fds))
        }
    };
    let args = WorkerArgs {
        conn: theirs,
        init,
        max_tasks: cfg.max_tasks,
    };
    let process = Process::new(worker_main, args)
        .with_name(worker_name(method, n))
        .with_daemon(true)
        .with_start_method(method);
    process.start()?;
    let sentinel = process.sentinel()?;
    Ok(Worker {
        process,
        conn: ours,
        sentinel,
        inflight: VecDeque::new(),
        messages: 0,
        sent: 0,
    })
}

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
    shared: Arc<Shared>,
    dispatcher: Mutex<Option<JoinHandle<()>>>,
}

impl fmt::Debug for Pool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool")
            .field("processes", &self.shared.processes)
            .finish()
    }
}

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
                .map_err(|e| Error::Transfer(e.to_string()))
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
        // The first workers start here, before the pool's thread exists (so `fork` can work).
        let workers = (1..=processes)
            .map(|n| start_worker(&cfg, method, n))
            .collect::<Result<Vec<_>, _>>()?;
        let (wake_r, wake_w) =
            multiproc_core::fd::pipe().map_err(|e| Error::Transfer(e.to_string()))?;
        multiproc_core::fd::set_nonblocking(&wake_r).map_err(|e| Error::Transfer(e.to_string()))?;
        multiproc_core::fd::set_nonblocking(&wake_w).map_err(|e| Error::Transfer(e.to_string()))?;
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                queue: VecDeque::new(),
                closed: false,
                terminated: false,
            }),
            wake_w,
            processes,
        });
        let s2 = shared.clone();
        let dispatcher = std::thread::Builder::new()
            .name("multiproc-pool".into())
            .spawn(move || dispatch(&s2, wake_r, cfg, workers))
            .map_err(|e| Error::Transfer(e.to_string()))?;
        Ok(Pool {
            shared,
            dispatcher: Mutex::new(Some(dispatcher)),
        })
    }
}

/// Encodes a batch of items for `f`.
fn encode<A: Serialize>(items: &[A]) -> Result<(Vec<u8>, Vec<OwnedFd>), Error> {
    let mut bytes = Vec::new();
    let fds =
        transfer::serialize_into(items, &mut bytes).map_err(|e| Error::Transfer(e.to_string()))?;
    Ok((bytes, fds))
}

/// Decodes a finished batch into one result per item.
pub(crate) fn decode_batch<R: DeserializeOwned>(
    r: Result<(Vec<u8>, Vec<OwnedFd>), TaskError>,
    len: usize,
) -> Vec<Result<R, TaskError>> {
    match r {
        Ok((bytes, fds)) => match transfer::from_envelope::<Vec<Result<R, String>>>(&bytes, fds) {
            Ok(v) => v
                .into_iter()
                .map(|x| x.map_err(TaskError::Panicked))
                .collect(),
            Err(e) => {
                let e = TaskError::Failed(format!("cannot decode the results: {e}"));
                (0..len).map(|_| Err(e.clone())).collect()
            }
        },
        Err(e) => (0..len).map(|_| Err(e.clone())).collect(),
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
            .map_err(|e| TaskError::Pool(e.to_string()))?
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
            .map_err(|e| TaskError::Pool(e.to_string()))?
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
        let items: Vec<A> = items.into_iter().collect();
        let n = items.len();
        let slot = Slot::new();
        if n == 0 {
            slot.fulfill(Ok(Vec::new()));
            return Ok(AsyncResult { slot });
        }
        let chunk = chunksize
            .unwrap_or_else(|| self.default_chunksize(n))
            .max(1);
        struct Gather<R> {
            out: Vec<Option<R>>,
            left: usize,
            error: Option<(usize, TaskError)>,
        }
        let gather = Arc::new(Mutex::new(Gather {
            out: (0..n).map(|_| None).collect(),
            left: n.div_ceil(chunk),
            error: None,
        }));
        for (ci, batch) in items.chunks(chunk).enumerate() {
            let start = ci * chunk;
            let len = batch.len();
            let g = gather.clone();
            let s = slot.clone();
            let done: Completion = Box::new(move |r| {
                let results = decode_batch::<R>(r, len);
                let mut g = g.lock().unwrap_or_else(|p| p.into_inner());
                for (k, res) in results.into_iter().enumerate() {
                    match res {
                        Ok(v) => g.out[start + k] = Some(v),
                        Err(e) => {
                            if g.error.as_ref().is_none_or(|(i, _)| start + k < *i) {
                                g.error = Some((start + k, e));
                            }
                        }
                    }
                }
                g.left -= 1;
                if g.left == 0 {
                    let r = match g.error.take() {
                        Some((_, e)) => Err(e),
                        None => Ok(g.out.drain(..).map(|x| x.expect("every item")).collect()),
                    };
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
        self.apply_async(f, args)
            .map_err(|e| TaskError::Pool(e.to_string()))?
            .get()
    }

    /// Runs `f(args)` in a worker without waiting (Python's `apply_async`).
    pub fn apply_async<A, R>(&self, f: fn(A) -> R, args: A) -> Result<AsyncResult<R>, Error>
    where
        A: Serialize + DeserializeOwned + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
    {
        self.apply_async_with(f, args, |_: &R| {}, |_: &TaskError| {})
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
            let r = decode_batch::<R>(r, 1)
                .pop()
                .unwrap_or_else(|| Err(TaskError::Failed("no result".into())));
            match &r {
                Ok(v) => callback(v),
                Err(e) => error_callback(e),
            }
            s.fulfill(r);
        });
        self.submit_batch(f, std::slice::from_ref(&args), done)?;
        Ok(AsyncResult { slot })
    }

    /// Takes no more tasks; the workers finish what is queued and exit (Python's `close`).
    pub fn close(&self) {
        self.shared.lock().closed = true;
        self.shared.wake();
    }

    /// Stops the workers now (SIGKILL); queued and running tasks fail with
    /// [`TaskError::Terminated`] (Python's `terminate`).
    pub fn terminate(&self) {
        self.shared.lock().terminated = true;
        self.shared.wake();
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
        let h = self
            .dispatcher
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(h) = h {
            let _ = h.join();
        }
        Ok(())
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.terminate();
        let _ = self.join();
    }
}

/// The pool's thread: hands batches to workers, collects their results, replaces the dead.
fn dispatch(shared: &Shared, wake_r: OwnedFd, cfg: WorkerConfig, mut workers: Vec<Worker>) {
    let replacement_method = match cfg.method {
        StartMethod::Fork => StartMethod::Forkserver,
        m => m,
    };
    let mut next_id: u64 = 0;
    let mut started = workers.len();
    loop {
        // 1. Hand out queued batches; see whether we are done.
        let (terminated, finished) = {
            let mut st = shared.lock();
            if !st.terminated {
                // First one message per worker; then, only while a backlog remains (at least
                // one more batch per worker), a second one each, so a worker never waits for
                // its next batch — without parking a short task behind a long one. With a long
                // backlog a message carries several batches (each its own task, result and
                // failure), so small tasks do not each pay a round of wake-ups.
                for depth in 1..=PREFETCH {
                    if depth > 1 && st.queue.len() < workers.len() {
                        break;
                    }
                    let per_msg =
                        (st.queue.len() / (PREFETCH * workers.len())).clamp(1, MAX_PER_MESSAGE);
                    for w in workers.iter_mut() {
                        if w.messages >= depth {
                            continue;
                        }
                        let room = cfg
                            .max_tasks
                            .map_or(per_msg as u64, |m| m.saturating_sub(w.sent));
                        let take = (room as usize).min(per_msg).min(st.queue.len());
                        if take == 0 {
                            continue;
                        }
                        let first = w.inflight.len();
                        for _ in 0..take {
                            let p = st.queue.pop_front().expect("counted");
                            next_id += 1;
                            w.inflight.push_back((next_id, p));
                        }
                        w.sent += take as u64;
                        w.messages += 1;
                        let msg = ToWorkerRef::Tasks(
                            w.inflight
                                .range(first..)
                                .map(|(id, p)| TaskRef {
                                    id: *id,
                                    f: p.f,
                                    items: &p.items,
                                    fds: p.fds.iter().map(|fd| FdRef(fd.as_fd())).collect(),
                                })
                                .collect(),
                        );
                        // A failed send shows up as the worker's death below.
                        let _ = w.conn.send(&msg);
                    }
                }
            }
            let idle = workers.iter().all(|w| w.inflight.is_empty());
            (st.terminated, st.closed && st.queue.is_empty() && idle)
        };
        if terminated {
            for w in &workers {
                let _ = w.process.kill();
            }
            let mut failed: Vec<Pending> = Vec::new();
            for w in workers.iter_mut() {
                failed.extend(w.inflight.drain(..).map(|(_, p)| p));
                let _ = w.process.join_timeout(Duration::from_secs(10));
            }
            failed.extend(shared.lock().queue.drain(..));
            for p in failed {
                (p.done)(Err(TaskError::Terminated));
            }
            return;
        }
        if finished {
            for w in workers.iter_mut() {
                let _ = w.conn.send(&ToWorkerRef::Stop);
            }
            let procs: Vec<Process> = workers.drain(..).map(|w| w.process).collect();
            for p in &procs {
                if !p.join_timeout(Duration::from_secs(10)).unwrap_or(false) {
                    let _ = p.kill();
                    let _ = p.join_timeout(Duration::from_secs(10));
                }
            }
            return;
        }

        // 2. Wait for a result, a death, or news from the submitters.
        let ready = {
            let mut objs: Vec<&dyn Waitable> = vec![&wake_r as &dyn Waitable];
            for w in &workers {
                objs.push(&w.conn);
                objs.push(&w.sentinel);
            }
            multiproc_pipe::wait(&objs).unwrap_or_default()
        };
        if ready.contains(&0) {
            let mut buf = [0u8; 256];
            while matches!(rustix::io::read(&wake_r, &mut buf), Ok(n) if n > 0) {}
        }

        // 3. Results and deaths.
        let mut dead = Vec::new();
        for (i, w) in workers.iter_mut().enumerate() {
            let conn_ready = ready.contains(&(1 + 2 * i));
            let gone = ready.contains(&(2 + 2 * i));
            if conn_ready || gone {
                loop {
                    if !w.conn.poll().unwrap_or(false) {
                        break;
                    }
                    match w.conn.recv::<Done>() {
                        Ok(d) => {
                            w.messages = w.messages.saturating_sub(1);
                            for (id, outcome) in d.results {
                                let Some(pos) = w.inflight.iter().position(|(i, _)| *i == id)
                                else {
                                    continue;
                                };
                                let (_, p) = w.inflight.remove(pos).expect("present");
                                let r = outcome
                                    .map(|(b, fds)| {
                                        (b, fds.into_iter().map(PortableFd::into_inner).collect())
                                    })
                                    .map_err(TaskError::Failed);
                                (p.done)(r);
                            }
                        }
                        Err(_) => {
                            dead.push(i);
                            break;
                        }
                    }
                }
            }
            if gone && !dead.contains(&i) {
                dead.push(i);
            }
        }
        dead.sort_unstable();
        dead.dedup();
        for &i in dead.iter().rev() {
            let mut w = workers.remove(i);
            let _ = w.process.join_timeout(Duration::from_secs(10));
            let code = w.process.exitcode();
            // The oldest batch was running: it fails, unless the worker ended normally (its
            // task limit), in which case nothing was running. The rest never started: requeue.
            let mut rest: Vec<Pending> = Vec::new();
            if let Some((_, p)) = w.inflight.pop_front() {
                if code == Some(0) {
                    rest.push(p);
                } else {
                    (p.done)(Err(TaskError::WorkerDied { exitcode: code }));
                }
            }
            rest.extend(w.inflight.drain(..).map(|(_, p)| p));
            let keep_going = {
                let mut st = shared.lock();
                for p in rest.into_iter().rev() {
                    st.queue.push_front(p);
                }
                !st.terminated && (!st.closed || !st.queue.is_empty())
            };
            if keep_going {
                started += 1;
                match start_worker(&cfg, replacement_method, started) {
                    Ok(nw) => workers.push(nw),
                    Err(e) => eprintln!("ipc-pool: cannot replace a worker: {e}"),
                }
            }
        }
        if workers.is_empty() {
            // Nobody left to run anything (replacements failed): fail what is queued.
            let queued: Vec<Pending> = shared.lock().queue.drain(..).collect();
            for p in queued {
                (p.done)(Err(TaskError::Pool("no worker could be started".into())));
            }
            let st = shared.lock();
            if st.closed || st.terminated {
                return;
            }
        }
    }
}
