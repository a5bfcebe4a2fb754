//! [`Context`]: Python's `multiprocessing.get_context(method)`, whose factories make every
//! primitive, pool and manager for one start method.

#[cfg(feature = "sync")]
use std::io;

use multiproc_process::{JoinHandle, Process, StartMethod};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// A start method and everything made for it: Python's `multiprocessing.get_context(method)`.
///
/// Python's context objects carry the module's whole API (`ctx.Process`, `ctx.Queue`,
/// `ctx.Pool`, `ctx.Lock`, …) so that one program can use several start methods side by side.
/// Here each factory is a snake_case method: [`process`](Self::process),
/// [`pool`](Self::pool), [`manager`](Self::manager) start their processes with the context's
/// method; the primitives ([`queue`](Self::queue), [`lock`](Self::lock),
/// [`value`](Self::value), [`pipe`](Self::pipe), …) are handles over shared memory and
/// descriptors, which reach children of every start method, so they are the same as the
/// crates' own constructors, offered here so that a Python program ports line for line.
///
/// | Python | `Context` |
/// |---|---|
/// | `ctx = get_context("spawn")` | [`get_context`]`(StartMethod::Spawn)` |
/// | `ctx.get_start_method()` | [`start_method`](Self::start_method) |
/// | `ctx.Process(target=f, args=(x,))` | [`process`](Self::process)`(f, x)` |
/// | `ctx.Pool(4)` | [`pool`](Self::pool)`(4)`, [`pool_builder`](Self::pool_builder) |
/// | `ctx.Manager()` | [`manager`](Self::manager), [`manager_builder`](Self::manager_builder) |
/// | `ctx.Queue()`, `ctx.Queue(n)`, `ctx.JoinableQueue()`, `ctx.SimpleQueue()` | [`queue`](Self::queue), [`queue_with_maxsize`](Self::queue_with_maxsize), [`joinable_queue`](Self::joinable_queue), [`simple_queue`](Self::simple_queue) |
/// | `ctx.Lock()`, `ctx.RLock()` | [`lock`](Self::lock), [`rlock`](Self::rlock) |
/// | `ctx.Semaphore(n)`, `ctx.BoundedSemaphore(n)` | [`semaphore`](Self::semaphore), [`bounded_semaphore`](Self::bounded_semaphore) |
/// | `ctx.Event()`, `ctx.Condition()`, `ctx.Barrier(n)` | [`event`](Self::event), [`condition`](Self::condition), [`barrier`](Self::barrier) |
/// | `ctx.Value('d', x)`, `ctx.Array('i', xs)` | [`value`](Self::value), [`array`](Self::array) |
/// | `ctx.RawValue('d', x)`, `ctx.RawArray('i', xs)` | [`raw_value`](Self::raw_value), [`raw_array`](Self::raw_array) |
/// | `ctx.Pipe()`, `ctx.Pipe(duplex=False)` | [`pipe`](Self::pipe), [`pipe_one_way`](Self::pipe_one_way) |
///
/// The process-wide functions Python also hangs on a context (`cpu_count`,
/// `current_process`, `set_start_method`, …) are this crate's root functions.
///
/// ```
/// use multiproc::{Queue, StartMethod, get_context};
///
/// fn work((q, n): (Queue<u64>, u64)) {
///     q.put(n * n).unwrap();
/// }
///
/// fn square(x: u64) -> u64 {
///     x * x
/// }
///
/// let ctx = get_context(StartMethod::Spawn);    // ctx = get_context("spawn")
/// let q = ctx.queue()?;                         // q = ctx.Queue()
/// let p = ctx.process(work, (q.clone(), 7));    // p = ctx.Process(target=work, args=(q, 7))
/// p.start()?;
/// assert_eq!(q.get()?, 49);
/// p.join()?;
///
/// let pool = ctx.pool(2)?;                      // with ctx.Pool(2) as pool:
/// assert_eq!(pool.map(square, 1..=3u64)?, [1, 4, 9]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Context {
    inner: multiproc_process::Context,
}

/// A context for `method` (Python's `multiprocessing.get_context(method)`).
pub fn get_context(method: StartMethod) -> Context {
    Context {
        inner: multiproc_process::get_context(method),
    }
}

impl From<multiproc_process::Context> for Context {
    fn from(inner: multiproc_process::Context) -> Self {
        Context { inner }
    }
}

impl From<Context> for multiproc_process::Context {
    fn from(ctx: Context) -> Self {
        ctx.inner
    }
}

impl Context {
    /// The context's start method (Python's `ctx.get_start_method()`).
    pub fn start_method(&self) -> StartMethod {
        self.inner.start_method()
    }

    /// `multiproc-process`'s context for the same method.
    pub fn process_context(&self) -> multiproc_process::Context {
        self.inner
    }

    /// A process (not yet started) that runs `target(args)` with this start method (Python's
    /// `ctx.Process(target=target, args=args)`).
    pub fn process<A, R>(&self, target: fn(A) -> R, args: A) -> Process
    where
        A: Serialize + DeserializeOwned + Send + 'static,
        R: Serialize + 'static,
    {
        self.inner.process(target, args)
    }

    /// Starts `target(args)` with this start method; `join` gives its return value.
    ///
    /// # Errors
    /// As [`multiproc_process::spawn`].
    pub fn spawn<A, R>(
        &self,
        target: fn(A) -> R,
        args: A,
    ) -> Result<JoinHandle<R>, multiproc_process::Error>
    where
        A: Serialize + DeserializeOwned + Send + 'static,
        R: Serialize + DeserializeOwned + 'static,
    {
        self.inner.spawn(target, args)
    }
}

#[cfg(feature = "pool")]
impl Context {
    /// A pool of `processes` workers started with this start method (Python's
    /// `ctx.Pool(processes)`); workers that die are replaced with the same method (a `fork`
    /// pool's replacements come from the fork server, since the pool's thread runs by then).
    ///
    /// # Errors
    /// As [`Pool::new`](multiproc_pool::Pool::new).
    pub fn pool(&self, processes: usize) -> Result<multiproc_pool::Pool, multiproc_pool::Error> {
        self.pool_builder().processes(processes).build()
    }

    /// A pool builder whose workers use this start method (for an initializer or
    /// `maxtasksperchild`: Python's `ctx.Pool(n, initializer, initargs, maxtasksperchild)`).
    pub fn pool_builder(&self) -> multiproc_pool::PoolBuilder {
        multiproc_pool::Pool::builder().start_method(self.start_method())
    }
}

#[cfg(feature = "manager")]
impl Context {
    /// Starts a manager whose server process uses this start method (Python's
    /// `ctx.Manager()`).
    ///
    /// # Errors
    /// As [`Manager::start`](multiproc_manager::Manager::start).
    pub fn manager(&self) -> Result<multiproc_manager::Manager, multiproc_manager::Error> {
        self.manager_builder().start()
    }

    /// A manager builder whose server process uses this start method (for an address, a key,
    /// or a registry of your own).
    pub fn manager_builder(&self) -> multiproc_manager::ManagerBuilder {
        multiproc_manager::Manager::builder().start_method(self.start_method())
    }
}

#[cfg(feature = "queue")]
impl Context {
    /// An unbounded queue (Python's `ctx.Queue()`).
    ///
    /// # Errors
    /// When the shared memory cannot be made.
    pub fn queue<T: Serialize + DeserializeOwned>(
        &self,
    ) -> std::io::Result<multiproc_queue::Queue<T>> {
        multiproc_queue::Queue::new()
    }

    /// A queue of at most `maxsize` items (Python's `ctx.Queue(maxsize)`).
    ///
    /// # Errors
    /// When the shared memory cannot be made.
    pub fn queue_with_maxsize<T: Serialize + DeserializeOwned>(
        &self,
        maxsize: usize,
    ) -> std::io::Result<multiproc_queue::Queue<T>> {
        multiproc_queue::Queue::with_maxsize(maxsize)
    }

    /// A queue with `task_done` and `join` (Python's `ctx.JoinableQueue()`).
    ///
    /// # Errors
    /// When the shared memory cannot be made.
    pub fn joinable_queue<T: Serialize + DeserializeOwned>(
        &self,
    ) -> std::io::Result<multiproc_queue::JoinableQueue<T>> {
        multiproc_queue::JoinableQueue::new()
    }

    /// A queue without a size or timeouts (Python's `ctx.SimpleQueue()`).
    ///
    /// # Errors
    /// When the shared memory cannot be made.
    pub fn simple_queue<T: Serialize + DeserializeOwned>(
        &self,
    ) -> std::io::Result<multiproc_queue::SimpleQueue<T>> {
        multiproc_queue::SimpleQueue::new()
    }
}

#[cfg(feature = "sync")]
impl Context {
    /// A process-shared lock (Python's `ctx.Lock()`).
    ///
    /// # Errors
    /// When the shared memory cannot be made.
    pub fn lock(&self) -> io::Result<multiproc_sync::Lock> {
        multiproc_sync::Lock::new()
    }

    /// A re-entrant process-shared lock (Python's `ctx.RLock()`).
    ///
    /// # Errors
    /// When the shared memory cannot be made.
    pub fn rlock(&self) -> io::Result<multiproc_sync::RLock> {
        multiproc_sync::RLock::new()
    }

    /// A semaphore starting at `value` (Python's `ctx.Semaphore(value)`).
    ///
    /// # Errors
    /// When the shared memory cannot be made.
    pub fn semaphore(&self, value: u32) -> io::Result<multiproc_sync::Semaphore> {
        multiproc_sync::Semaphore::new(value)
    }

    /// A semaphore that refuses to go above `value` (Python's `ctx.BoundedSemaphore(value)`).
    ///
    /// # Errors
    /// When the shared memory cannot be made.
    pub fn bounded_semaphore(&self, value: u32) -> io::Result<multiproc_sync::BoundedSemaphore> {
        multiproc_sync::BoundedSemaphore::new(value)
    }

    /// An event (Python's `ctx.Event()`).
    ///
    /// # Errors
    /// When the shared memory cannot be made.
    pub fn event(&self) -> io::Result<multiproc_sync::Event> {
        multiproc_sync::Event::new()
    }

    /// A condition over a new `RLock` (Python's `ctx.Condition()`).
    ///
    /// # Errors
    /// When the shared memory cannot be made.
    pub fn condition(&self) -> io::Result<multiproc_sync::Condition> {
        multiproc_sync::Condition::new()
    }

    /// A barrier for `parties` processes (Python's `ctx.Barrier(parties)`).
    ///
    /// # Errors
    /// When the shared memory cannot be made.
    pub fn barrier(&self, parties: u32) -> io::Result<multiproc_sync::Barrier> {
        multiproc_sync::Barrier::new(parties)
    }
}

#[cfg(feature = "shm")]
impl Context {
    /// A value in shared memory under its own `RLock` (Python's `ctx.Value(typecode, value)`).
    ///
    /// # Errors
    /// When the shared memory cannot be made.
    pub fn value<T: multiproc_shm::Shareable + Copy>(
        &self,
        value: T,
    ) -> std::io::Result<multiproc_shm::Value<T>> {
        multiproc_shm::Value::new(value)
    }

    /// An array in shared memory under its own `RLock` (Python's `ctx.Array(typecode, values)`).
    ///
    /// # Errors
    /// When the shared memory cannot be made.
    pub fn array<T: multiproc_shm::Shareable + Copy>(
        &self,
        values: &[T],
    ) -> std::io::Result<multiproc_shm::Array<T>> {
        multiproc_shm::Array::new(values)
    }

    /// A value in shared memory without a lock, read and written atomically (Python's
    /// `ctx.RawValue(typecode, value)`).
    ///
    /// # Errors
    /// When the shared memory cannot be made.
    pub fn raw_value<T: multiproc_shm::AtomicElement>(
        &self,
        value: T,
    ) -> std::io::Result<multiproc_shm::RawValue<T>> {
        multiproc_shm::RawValue::new(value)
    }

    /// An array in shared memory without a lock (Python's `ctx.RawArray(typecode, values)`).
    ///
    /// # Errors
    /// When the shared memory cannot be made.
    pub fn raw_array<T: multiproc_shm::AtomicElement>(
        &self,
        values: &[T],
    ) -> std::io::Result<multiproc_shm::RawArray<T>> {
        multiproc_shm::RawArray::new(values)
    }
}

#[cfg(feature = "pipe")]
impl Context {
    /// Two connected ends that both send and receive (Python's `ctx.Pipe()`).
    ///
    /// # Errors
    /// When the sockets cannot be made.
    pub fn pipe(
        &self,
    ) -> std::io::Result<(multiproc_pipe::Connection, multiproc_pipe::Connection)> {
        multiproc_pipe::pipe()
    }

    /// A receiving end and a sending end, in that order (Python's `ctx.Pipe(duplex=False)`).
    ///
    /// # Errors
    /// When the pipe cannot be made.
    pub fn pipe_one_way(
        &self,
    ) -> std::io::Result<(multiproc_pipe::Connection, multiproc_pipe::Connection)> {
        multiproc_pipe::pipe_one_way()
    }
}
