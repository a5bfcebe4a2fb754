//! Python's `multiprocessing.Pool` for Rust: a pool of worker processes running plain functions
//! — `map`, `imap`, `imap_unordered`, `starmap`, `apply`, `apply_async` with callbacks — where a
//! worker that dies fails only its own task and is replaced.
//!
//! # Hello, world!
//!
//! ```
//! use multiproc_pool::Pool;
//!
//! fn fib(n: u64) -> u64 { if n < 2 { n } else { fib(n - 1) + fib(n - 2) } }
//!
//! let pool = Pool::new(2)?;
//! assert_eq!(pool.map(fib, [10, 20, 30])?, vec![55, 6765, 832040]);
//! let r = pool.apply_async(fib, 25)?;
//! assert_eq!(r.get()?, 75025);
//! pool.close();
//! pool.join()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Depending on it
//!
//! ```toml
//! [dependencies]
//! multiproc-pool = "0.1"
//! ```
//!
//! The example above needs nothing else; tasks of your own types need serde's derive
//! (`serde = { version = "1", features = ["derive"] }`). Some examples in `examples/` use more
//! of the family: `fib_speedup` compares with plain processes from `multiproc-process` (the
//! worker processes' crate, also behind [`PoolBuilder::start_method`]), and `prefork_server`
//! hands sockets to workers as `multiproc_core::transfer::PortableFd` — add `multiproc-process`
//! or `multiproc-core = "0.1"` for those. `multiproc` (the umbrella crate) re-exports this one as
//! `multiproc::pool`.
//!
//! # Tasks
//!
//! A task is a `fn(A) -> R` — a named function, or a closure that captures nothing — with
//! serde arguments and result: the worker is another process (started by `multiproc-process`), and
//! the function is named there by its place in the program, not sent as code. Several
//! arguments are a tuple (`fn((a, b): (u32, String)) -> …`; that is all [`Pool::starmap`] is).
//! State for every task of a worker goes in an [`initializer`](PoolBuilder::initializer).
//!
//! Work goes to the workers in batches (Python's `chunksize`): `map` splits its input into about
//! four batches per worker; a worker gets its next batch while it runs the current one.
//!
//! # When things go wrong
//!
//! | what happens | what you get | Python |
//! |---|---|---|
//! | a task panics | that task's [`TaskError::Panicked`] with the message; the worker goes on | the exception, re-raised by `get` |
//! | a worker dies (SIGKILL, abort, segfault) | [`TaskError::WorkerDied`] for the batch it ran; a new worker; the rest completes | the pool hangs |
//! | `terminate()` with tasks in flight | [`TaskError::Terminated`] for each | |
//! | `get_timeout` runs out | [`TaskError::Timeout`]; the result can still come | `TimeoutError` |
//!
//! # In a tokio program
//!
//! With the `tokio` feature (off by default: `multiproc-pool = { version = "0.1", features =
//! ["tokio"] }`), an [`AsyncResult`] is a `Future`: `pool.apply_async(f, x)?.await` and
//! `pool.map_async(f, items, None)?.await` wait without blocking a runtime thread (the pool's
//! own thread wakes the task when the result is in), and [`Imap`] is a `futures_core::Stream`.
//! Awaiting `&mut result` under `tokio::time::timeout` or in `select!` and giving up loses
//! nothing: the result can still be awaited or got later. Submitting never blocks for long (it
//! queues the task, or hands it to an idle worker). A pool with `fork` workers cannot be built
//! inside a multi-threaded runtime (the process has threads: the error says to use `spawn` or
//! `forkserver`, the default).
//!
//! ```
//! # #[cfg(feature = "tokio")]
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::pin::Pin;
//! use std::time::Duration;
//! use futures_core::Stream;
//! use multiproc_pool::Pool;
//!
//! fn square(x: u64) -> u64 { x * x }
//! fn slow(ms: u64) -> u64 { std::thread::sleep(Duration::from_millis(ms)); ms }
//!
//! let pool = Pool::new(2)?;
//! let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
//! rt.block_on(async {
//!     assert_eq!(pool.apply_async(square, 7)?.await?, 49);
//!     assert_eq!(pool.map_async(square, 1..=4, None)?.await?, vec![1, 4, 9, 16]);
//!
//!     // A timeout that gives up loses nothing.
//!     let mut r = pool.apply_async(slow, 200)?;
//!     assert!(tokio::time::timeout(Duration::from_millis(10), &mut r).await.is_err());
//!     assert_eq!(r.await?, 200);
//!
//!     // imap as a stream.
//!     let mut s = pool.imap(square, 1..=3, 1);
//!     let mut sum = 0;
//!     while let Some(x) = std::future::poll_fn(|cx| Pin::new(&mut s).poll_next(cx)).await {
//!         sum += x?;
//!     }
//!     assert_eq!(sum, 14);
//!     Ok::<_, Box<dyn std::error::Error>>(())
//! })
//! # }
//! # #[cfg(not(feature = "tokio"))]
//! # fn main() {}
//! ```
//!
//! # Comparison with Python multiprocessing
//!
//! | Python | `multiproc-pool` | note |
//! |---|---|---|
//! | `Pool(processes, initializer, initargs, maxtasksperchild)` | [`Pool::new`], [`Pool::builder`] | plus the start method |
//! | `map(f, it, chunksize)` / `map_async(…, callback, error_callback)` | [`map`](Pool::map), [`map_chunked`](Pool::map_chunked), [`map_async`](Pool::map_async), [`map_async_with`](Pool::map_async_with) | callbacks get `&Vec<R>` / `&TaskError` |
//! | `starmap(f, it)` / `starmap_async` | [`starmap`](Pool::starmap), [`starmap_async`](Pool::starmap_async), [`starmap_async_with`](Pool::starmap_async_with) | arguments are a tuple |
//! | `imap(f, it, chunksize)` / `imap_unordered` | [`imap`](Pool::imap) / [`imap_unordered`](Pool::imap_unordered) | a bounded number of batches in flight: constant memory |
//! | `apply(f, args)` / `apply_async(f, args, callback, error_callback)` | [`apply`](Pool::apply), [`apply_async`](Pool::apply_async), [`apply_async_with`](Pool::apply_async_with) | callbacks get `&R` / `&TaskError` |
//! | `AsyncResult.get(timeout)`, `wait`, `ready`, `successful` | [`AsyncResult`] | `get` takes the value once |
//! | *(asyncio: `run_in_executor`)* | `.await` an [`AsyncResult`], [`Imap`] as a `Stream` (feature `tokio`) | no thread per waiting task |
//! | `close()`, `join()`, `terminate()`, `with Pool() as p:` | [`close`](Pool::close), [`join`](Pool::join), [`terminate`](Pool::terminate), drop | |
//!
//! # Implementation notes
//!
//! Each worker has a connection (a socket pair, for batches and anything with descriptors) and
//! a lane: 64 KiB of shared memory (one memfd for the pool) with a few futex words. A single
//! task goes through the lane when a worker is idle: the submitting thread writes it there and
//! wakes the worker; the worker writes the result and wakes the thread waiting in `get`, or, if
//! nobody waits, tells the pool's thread. The worker sleeps only on its lane's doorbell, which
//! the pool also rings for messages on the connection. The pool's thread (started with the
//! first task) hands batches out, collects their results, runs callbacks, and replaces dead
//! workers; a worker's death fails what it was running, lane task included.
//!
//! `unsafe` is used in two places: copying a lane's payload in and out (the lane's phase word
//! says which side owns the bytes; lengths read from shared memory are bounded), and calling
//! a task's function by the name the pool sent (`multiproc_process::RemoteFn::call`: the
//! worker runs the pool's own executable, checked).

/// The README's example, compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeExample;

mod builder;
mod dispatch;
mod error;
mod imap;
mod lane;
mod pool;
mod result;
mod worker;

pub use builder::PoolBuilder;
pub use error::{Error, TaskError};
pub use imap::Imap;
pub use pool::Pool;
pub use result::AsyncResult;
