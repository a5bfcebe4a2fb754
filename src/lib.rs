//! Everything Python's `multiprocessing` gives Python programs, for Rust: processes, pools,
//! pipes, named pipes, queues, shared memory, process-shared locks, managers, and an XML-RPC
//! client and server — each in its own small crate, all re-exported here.
//!
//! # Hello, world!
//!
//! A child process puts a value on a queue and the parent gets it; then a pool of two worker
//! processes maps a function over a range. In Python:
//!
//! ```python
//! from multiprocessing import Pool, Process, Queue
//!
//! def greet(q):
//!     q.put(f"hello from {os.getpid()}")
//!
//! def square(x):
//!     return x * x
//!
//! if __name__ == "__main__":
//!     q = Queue()
//!     p = Process(target=greet, args=(q,))
//!     p.start()
//!     print(q.get())
//!     p.join()
//!     with Pool(2) as pool:
//!         print(pool.map(square, range(1, 9)))
//! ```
//!
//! With `multiproc`:
//!
//! ```
//! use multiproc::{Pool, Process, Queue};
//!
//! fn greet(q: Queue<String>) {
//!     q.put(format!("hello from {}", std::process::id())).unwrap();
//! }
//!
//! fn square(x: u64) -> u64 {
//!     x * x
//! }
//!
//! fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let q = Queue::new()?;
//!     let p = Process::new(greet, q.clone()); // a handle is an argument like any other
//!     p.start()?;
//!     let greeting = q.get()?;
//!     assert!(greeting.starts_with("hello from "));
//!     p.join()?;
//!     assert_eq!(p.exitcode(), Some(0));
//!
//!     let pool = Pool::new(2)?;
//!     assert_eq!(pool.map(square, 1..=8u64)?, [1, 4, 9, 16, 25, 36, 49, 64]);
//!     Ok(())
//! }
//! ```
//!
//! A target is a plain `fn` taking one serde argument (a tuple for several); the handles —
//! queues, locks, pipes, shared memory, proxies — reach the child by every start method
//! (`fork`, `spawn`, `forkserver`, the default).
//!
//! # Start methods and contexts
//!
//! A child process starts by `fork`, `spawn` or `forkserver` (the default); see
//! [`StartMethod`]. As in Python, [`set_start_method`] picks the default for the whole
//! program, and [`get_context`] gives a [`Context`] whose factories make processes, pools and
//! managers for one method, beside the others:
//!
//! ```
//! use multiproc::{StartMethod, get_context};
//!
//! fn pid(_: ()) -> u32 {
//!     std::process::id()
//! }
//!
//! let ctx = get_context(StartMethod::Spawn);   // ctx = multiprocessing.get_context("spawn")
//! let pool = ctx.pool(2)?;                     // ctx.Pool(2): two spawned workers
//! let lock = ctx.lock()?;                      // ctx.Lock()
//! let q = ctx.queue::<u32>()?;                 // ctx.Queue()
//! assert_ne!(pool.apply(pid, ())?, std::process::id());
//! # drop((lock, q));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Every handle (queue, lock, value, pipe end, proxy) reaches children of every start method,
//! whichever context made it.
//!
//! # In a tokio program
//!
//! With the `tokio` feature (off by default: `multiproc = { version = "0.1", features =
//! ["tokio"] }`), every member that can wait has futures beside its blocking calls:
//! `Connection::into_async` and `Listener`/`Client` async forms (pipe), the fifo ends, the
//! fork-server-free `Process::join_async` and `sentinel_async` (process), awaitable
//! `AsyncResult` and an `imap` `Stream` (pool), `Lock::lock_async`, `Event::wait_async`,
//! `Semaphore::acquire_async` (sync), `Queue::put_async` / `get_async` (queue). No thread waits
//! per future: descriptors go to tokio's reactor, and futex words to one helper thread per
//! process. Dropping a future (`tokio::time::timeout`, `select!`) loses no message.
//!
//! ```
//! # #[cfg(feature = "tokio")] {
//! use multiproc::{Event, Process, Queue};
//! use std::time::Duration;
//!
//! fn worker((jobs, results, done): (Queue<u64>, Queue<u64>, Event)) {
//!     while let Ok(n) = jobs.get_timeout(Duration::from_secs(10)) {
//!         results.put(n + 1).unwrap();
//!     }
//!     done.set();
//! }
//!
//! let (jobs, results, done) = (Queue::new()?, Queue::new()?, Event::new()?);
//! let p = Process::new(worker, (jobs.clone(), results.clone(), done.clone()));
//! p.start()?;
//! let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
//! rt.block_on(async {
//!     jobs.put_async(41).await?;
//!     let r = tokio::time::timeout(Duration::from_secs(10), results.get_async()).await??;
//!     assert_eq!(r, 42);
//!     jobs.close();
//!     tokio::time::timeout(Duration::from_secs(10), done.wait_async()).await?;
//!     p.join_async().await?;
//!     Ok::<(), Box<dyn std::error::Error>>(())
//! })?;
//! # }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Logging
//!
//! The crates emit records through the [`log`] facade, under their module paths as targets (all
//! start with [`LOG_TARGET_PREFIX`]). Nothing is printed unless the program asks:
//! [`log_to_stderr`] (Python's `log_to_stderr()`) installs a minimal logger that prints them as
//! `[INFO/MainProcess] message`; any `log` backend receives them instead
//! (`RUST_LOG=multiproc=info` with `env_logger`). [`get_logger`] is Python's `get_logger()`.
//!
//! | target | level | record |
//! |---|---|---|
//! | `multiproc_pool::dispatch` | `warn` | a worker died (its name, pid, exit code or signal, and the task or batch that failed with it) and was replaced (the new worker's name and pid) |
//! | `multiproc_pool::dispatch` | `debug` | a worker ended at its task limit (`maxtasksperchild`) and was replaced; a worker that ended while the pool closes, not replaced |
//! | `multiproc_pool::dispatch` | `error` | a dead worker could not be replaced, and why |
//! | `multiproc_pool::worker` | `error` | in a worker: its initializer failed (the worker exits with code 1), or the pool's messages did not decode |
//! | `multiproc_process::forkserver` | `info` | the fork server started, with its pid |
//! | `multiproc_process::forkserver` | `warn` | the fork server was lost (found gone when the next child needed it); another is started |
//! | `multiproc_process::forkserver` | `error` | in the fork server: a child could not be started (the parent gets the error too) |
//! | `multiproc_manager::server` | `info` / `warn` | a client process connected, disconnected, or went away holding references (released) |
//! | `multiproc_manager::server_handle` | `info` / `warn` | a connection refused, or dropped (no thread to serve it, out of descriptors) |
//! | `multiproc_rpc::serve` | `info` | each XML-RPC request answered, one line as Python's server logs it: peer, request line, status, method, time |
//! | `multiproc_rpc::serve`, `multiproc_rpc::conns` | `debug` | a connection closed; the idlest connection closed when the table is full |
//! | `multiproc_rpc::server`, `multiproc_rpc::registry` | `warn` | `accept` failed (retried); a method panicked (the client gets a fault) |
//! | `multiproc_rpc::tls` | `debug` | the system's root certificates loaded (feature `tls`) |
//! | `multiproc_core::tracker` | `debug` / `warn` | this process started the resource tracker (its pid); the tracker was out of reach, so new names go untracked for a while |
//! | `multiproc_core::tracker::server` | `info` / `warn` | in the tracker: a leftover name of a dead process removed (shared memory object, message queue, fifo), or not removable |
//!
//! Records marked "in a worker", "in the fork server" or "in the tracker" are emitted in that
//! process. A pool worker logs if the program installs a logger there (a `fork` worker
//! inherits the parent's; otherwise call [`log_to_stderr`] in the pool's initializer); the fork
//! server and the resource tracker never reach `main`, so their records go to `log`'s no-op
//! logger.
//!
//! # How to depend on it
//!
//! ```toml
//! [dependencies]
//! multiproc = "0.1"
//! serde = { version = "1", features = ["derive"] }   # for values of your own types
//! ```
//!
//! Every member crate is a module here, behind a Cargo feature that `default` turns on. For a
//! smaller build, name only what you use:
//!
//! ```toml
//! [dependencies]
//! multiproc = { version = "0.1", default-features = false, features = ["process", "queue"] }
//! ```
//!
//! or depend on the member crates themselves (`multiproc-queue = "0.1"`, …): each has its own
//! page, and the modules below link to them.
//!
//! # The crates
//!
//! | module | package | folder | Python counterpart | feature |
//! |---|---|---|---|---|
//! | [`core`] | [`multiproc-core`](https://docs.rs/multiproc-core) | `ipc-core/` | `multiprocessing.reduction`, `heap`, `Connection`'s framing | `core` |
//! | [`process`] | [`multiproc-process`](https://docs.rs/multiproc-process) | `ipc-process/` | `Process`, `get_context`, `set_start_method`, `current_process`, `os.fork` | `process` |
//! | [`sync`] | [`multiproc-sync`](https://docs.rs/multiproc-sync) | `ipc-sync/` | `Lock`, `RLock`, `Semaphore`, `BoundedSemaphore`, `Event`, `Condition`, `Barrier` | `sync` |
//! | [`shm`] | [`multiproc-shm`](https://docs.rs/multiproc-shm) | `ipc-shm/` | `Value`, `Array`, `RawValue`, `RawArray` (`sharedctypes`), `shared_memory.SharedMemory`, `ShareableList` | `shm` |
//! | [`pipe`](mod@pipe) | [`multiproc-pipe`](https://docs.rs/multiproc-pipe) | `ipc-pipe/` | `Pipe`, `Connection`, `connection.wait`, `connection.Listener` / `Client` | `pipe` |
//! | [`fifo`] | [`multiproc-fifo`](https://docs.rs/multiproc-fifo) | `ipc-fifo/` | `os.mkfifo` named pipes | `fifo` |
//! | [`queue`] | [`multiproc-queue`](https://docs.rs/multiproc-queue) | `ipc-queue/` | `Queue`, `JoinableQueue`, `SimpleQueue` (and the POSIX `mq_open` queue) | `queue` |
//! | [`pool`] | [`multiproc-pool`](https://docs.rs/multiproc-pool) | `ipc-pool/` | `Pool`: `map`, `imap`, `imap_unordered`, `starmap`, `apply`, `apply_async` | `pool` |
//! | [`manager`] | [`multiproc-manager`](https://docs.rs/multiproc-manager) | `ipc-manager/` | `Manager()`, `BaseManager`, `SyncManager`, proxies, managers over TCP | `manager` |
//! | [`rpc`] | [`multiproc-rpc`](https://docs.rs/multiproc-rpc) | `ipc-rpc/` | `xmlrpc.client`, `xmlrpc.server` | `rpc` |
//!
//! # Comparison with Python multiprocessing
//!
//! | Python | `multiproc` | crate |
//! |---|---|---|
//! | `multiprocessing.reduction.send_handle` | [`transfer::send_fds`] | core |
//! | pickling a `Connection` to a spawned child | [`transfer::Channel`] is serde: send it over another channel | core |
//! | `Connection.send` framing (length + pickle) | [`stream`]: one framed endpoint, Python's framing or ours (length + postcard) | core |
//! | `Process(target=f, args=(x,)).start()` | [`Process::new(f, x)`](Process::new)`.start()` | process |
//! | `get_context('spawn')` | [`get_context`]`(`[`StartMethod::Spawn`]`)` → [`Context`] | umbrella |
//! | `ctx.Process(...)`, `ctx.Pool(4)`, `ctx.Manager()` | [`Context::process`], [`Context::pool`], [`Context::manager`]: started by the context's method | umbrella |
//! | `ctx.Queue()`, `ctx.Lock()`, `ctx.Value('i', 7)`, `ctx.Pipe()`, … | [`Context::queue`], [`Context::lock`], [`Context::value`], [`Context::pipe`], … (every factory) | umbrella |
//! | `get_start_method()`, `set_start_method('spawn')` | [`get_start_method`], [`set_start_method`] | process |
//! | `p.join(); p.exitcode` | [`Process::join`], [`Process::exitcode`] | process |
//! | `Lock()`, `with lock:` | [`Lock::new`], [`Lock::lock`] (a guard) | sync |
//! | `Event()`, `Condition()`, `Barrier(n)` | [`Event`], [`Condition`], [`Barrier`] | sync |
//! | `Value('i', 7)`, `Array('d', 10)` | [`Value::new`]`(7)`, [`Array::zeroed`]`(10)` | shm |
//! | `class Point(Structure): _fields_ = …` | `#[derive(Shareable)] #[shareable(crate = multiproc::shm)] #[repr(C)] struct Point` | shm |
//! | `shared_memory.SharedMemory(name, create=True, size=n)` | [`SharedMemory::create`] | shm |
//! | `SharedMemory(create=True, size=n)` (a generated name) | [`SharedMemory::new`] | shm |
//! | `shared_memory.ShareableList([1, 2.5, "a"])` | [`ShareableList::new`] (Python's layout: either side attaches by name) | shm |
//! | `a, b = Pipe()`; `a.send(x)`; `b.recv()` | [`pipe()`](fn@pipe), [`Connection::send`], [`Connection::recv`] | pipe |
//! | `connection.wait([a, b], timeout)` | [`wait`] | pipe |
//! | `Listener(address, authkey=k)`, `Client(address, authkey=k)` | [`pipe::Listener`], [`pipe::Client`] | pipe |
//! | `os.mkfifo(path)`; `open(path)` | [`Fifo`] | fifo |
//! | `Queue()`, `q.put(x)`, `q.get(timeout=t)` | [`Queue::new`], [`Queue::put`], [`Queue::get_timeout`] | queue |
//! | `JoinableQueue()`, `SimpleQueue()` | [`JoinableQueue`], [`SimpleQueue`] | queue |
//! | `Pool(4).map(f, xs)` | [`Pool::new`]`(4)?.`[`map`](Pool::map)`(f, xs)` | pool |
//! | `pool.apply_async(f, (x,)).get()` | [`Pool::apply_async`], [`AsyncResult::get`] | pool |
//! | `with Manager() as m: l = m.list()` | [`Manager::start`]`()?.list(...)` | manager |
//! | `BaseManager(address, authkey).connect()` | [`Manager::connect`]`(address, authkey)` | manager |
//! | `xmlrpc.client.ServerProxy(url).add(2, 3)` | [`rpc::Client::new`]`(url)?.call("add", (2, 3))` | rpc |
//! | `SimpleXMLRPCServer(addr).register_function(f)` | [`rpc::Server::bind`], `register_function` | rpc |
//! | `multiprocessing.log_to_stderr(logging.INFO)` | [`log_to_stderr`]`(LevelFilter::Info)` | umbrella |
//! | `multiprocessing.get_logger()` | [`get_logger`] (any `log` backend works instead) | umbrella |
//!
//! # Conventions
//!
//! Every crate names things the same way, so that a user who learned one type knows them all
//! (the full text: [`conventions`]):
//!
//! - an operation that may wait comes as `op()` (waits as long as it takes), `try_op()` (never
//!   waits) and `op_timeout(Duration)`; one word per idea: `send`/`recv`, `put`/`get`,
//!   `lock`/`acquire`/`release`, `wait`; Python's spelling only as an alias where Python has
//!   that very name (`get_nowait`, `put_nowait`);
//! - one `Error` per crate, `#[non_exhaustive]`, and the same variant for the same outcome:
//!   `Timeout`, `Disconnected` (the peer went away), `Closed` (closed on purpose), `Corrupt`
//!   (bytes that do not decode), `TooLarge`, `OwnerDied`; every crate `Error` converts into
//!   `std::io::Error`;
//! - named objects: `Type::create(name, …)`, `Type::open(name)`, `Type::create_or_open`,
//!   `obj.unlink()`, `Type::unlink_name(name)`.
//!
//! Linux is the platform built and tested.

#[cfg(feature = "process")]
mod context;
mod logging;

/// The `log` facade every `multiproc` crate emits its records through (re-exported, so that
/// `multiproc::log::LevelFilter` needs no dependency of its own).
pub use log;
pub use logging::{LOG_TARGET_PREFIX, get_logger, log_to_stderr};

/// The conventions every `multiproc` crate follows: names, errors, the layout of a crate, tests.
pub mod conventions {
    #![doc = include_str!("../CONVENTIONS.md")]
}

/// The examples of README.md (this crate's crates.io page) compile and run.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeExamples;

#[cfg(feature = "core")]
#[doc(inline)]
pub use multiproc_core as core;

#[cfg(feature = "rpc")]
#[doc(inline)]
pub use multiproc_rpc as rpc;

#[cfg(feature = "core")]
#[doc(inline)]
pub use multiproc_core::{
    Deadline, Error as CoreError, SharedMapping, codec, futex, stream, transfer,
};

#[cfg(feature = "process")]
#[doc(inline)]
pub use multiproc_process as process;

#[cfg(feature = "process")]
#[doc(inline)]
pub use multiproc_process::{
    JoinHandle, Process, StartMethod, current_process, get_start_method, set_start_method, spawn,
};

#[cfg(feature = "process")]
pub use context::{Context, get_context};

#[cfg(feature = "sync")]
#[doc(inline)]
pub use multiproc_sync as sync;

#[cfg(feature = "sync")]
#[doc(inline)]
pub use multiproc_sync::{
    Barrier, BoundedSemaphore, BrokenBarrier, Condition, Event, Lock, OwnerDied, RLock, Semaphore,
};

#[cfg(feature = "pipe")]
#[doc(inline)]
pub use multiproc_pipe as pipe;

#[cfg(feature = "pipe")]
#[doc(inline)]
pub use multiproc_pipe::{Connection, pipe, pipe_one_way, wait};

#[cfg(feature = "fifo")]
#[doc(inline)]
pub use multiproc_fifo as fifo;

#[cfg(feature = "fifo")]
#[doc(inline)]
pub use multiproc_fifo::Fifo;

#[cfg(feature = "queue")]
#[doc(inline)]
pub use multiproc_queue as queue;

#[cfg(feature = "queue")]
#[doc(inline)]
pub use multiproc_queue::{JoinableQueue, Queue, SimpleQueue};
#[cfg(feature = "shm")]
#[doc(inline)]
pub use multiproc_shm as shm;

#[cfg(feature = "shm")]
#[doc(inline)]
pub use multiproc_shm::{
    Array, AtomicElement, ListItem, RawArray, RawValue, Shareable, ShareableList, SharedMemory,
    Value,
};

#[cfg(feature = "pool")]
#[doc(inline)]
pub use multiproc_pool as pool;

#[cfg(feature = "pool")]
#[doc(inline)]
pub use multiproc_pool::{AsyncResult, Pool};

#[cfg(feature = "manager")]
#[doc(inline)]
pub use multiproc_manager as manager;

#[cfg(feature = "manager")]
#[doc(inline)]
pub use multiproc_manager::{Manager, shared};
