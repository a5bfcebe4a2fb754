//! Python's `multiprocessing.Process` for Rust: start a function in a child process by `fork`,
//! `spawn` or a fork server, wait for it, read its exit code, signal it — or get back what it
//! returned.
//!
//! # Hello, world!
//!
//! ```
//! use multiproc_process::{Process, StartMethod};
//!
//! fn greet(name: String) -> String {
//!     format!("hello, {name}, from pid {}", std::process::id())
//! }
//!
//! // A child that returns a value (any serde type).
//! let h = multiproc_process::spawn(greet, "world".to_string())?;
//! let pid = h.process().pid().unwrap();
//! assert_eq!(h.join()?, format!("hello, world, from pid {pid}"));
//!
//! // Python's Process: start, join, exitcode.
//! fn fail(code: i32) { std::process::exit(code) }
//! let p = Process::new(fail, 3).with_start_method(StartMethod::Spawn);
//! p.start()?;
//! p.join()?;
//! assert_eq!(p.exitcode(), Some(3));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Depending on it
//!
//! ```toml
//! [dependencies]
//! multiproc-process = "0.1"
//! ```
//!
//! Arguments and results are serde values, so a target of your own types needs serde's derive
//! (`serde = { version = "1", features = ["derive"] }`); the handles of the other `multiproc`
//! crates (queues, locks, pipes, shared memory) travel as arguments too. The examples in
//! `examples/` need nothing else. `multiproc` (the umbrella crate) re-exports this one as
//! `multiproc::process`.
//!
//! # Start methods
//!
//! - **`fork`** runs the target in a copy of the parent. It is refused
//!   ([`Error::ForkWithThreads`]) while the parent runs other threads, because a forked child
//!   inherits every lock those threads held, locked forever; [`Process::start_fork_unchecked`]
//!   is the `unsafe` way round for those who know their threads are idle. `fork` alone can run
//!   closures ([`Process::from_closure`]).
//! - **`spawn`** runs the program afresh from `/proc/self/exe`, so it is safe from any parent.
//!   The child never reaches `main`: this crate registers a function in `.init_array` that the
//!   loader runs before `main`, and in a spawned child it receives the target and its
//!   arguments over an inherited socket, runs it, and exits. Nothing is needed from you — not in
//!   `main`, not in tests, not in examples. The target is named across `exec` by its offset from
//!   a fixed function in the same executable (ASLR moves the whole image, not its parts), after
//!   the child checked it runs the very same file.
//! - **`forkserver`** (the default) starts, on first use, a copy of the program that takes over
//!   before `main`, stays single-threaded, and forks children on request: fast like `fork`,
//!   safe like `spawn`. It exits when its parent does.
//!
//! The pre-`main` takeover assumes the program's own constructors (C++ statics, `#[ctor]`
//! functions, preloaded libraries) start no threads before `main`; a program where they do
//! should use only the `fork` start method. The spawn child is the program's executable itself,
//! so `multiproc-process` built into a shared library loaded by another host is not supported.
//!
//! Arguments and results are serde values; handles from the `multiproc` crates (which own file
//! descriptors) travel inside them, their descriptors passed out of band
//! (see `multiproc_core::transfer`).
//!
//! # In a tokio program
//!
//! With the `tokio` feature (off by default: `multiproc-process = { version = "0.1", features =
//! ["tokio"] }`), waiting for a child is a future: `Process::join_async`,
//! `JoinHandle::join_async`, and `Process::sentinel_async` (a `Sentinel` to put in
//! `tokio::select!`). The child's pidfd (or, for a fork-server child, its status socket) is
//! registered with tokio's reactor, so a thousand waiting children cost no thread. Dropping
//! such a future stops waiting and changes nothing else. The `fork` start method stays refused
//! inside a multi-threaded runtime, as in any threaded process ([`Error::ForkWithThreads`] says
//! to use `spawn` or `forkserver`); a current-thread runtime adds no thread, so `fork` works
//! there.
//!
//! ```
//! # #[cfg(feature = "tokio")]
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::Duration;
//! use multiproc_process::{Process, spawn};
//!
//! fn square(x: u64) -> u64 { x * x }
//! fn nap(ms: u64) { std::thread::sleep(Duration::from_millis(ms)) }
//!
//! let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
//! rt.block_on(async {
//!     // Children that return values, awaited side by side.
//!     let (a, b) = (spawn(square, 3)?, spawn(square, 4)?);
//!     assert_eq!(a.join_async().await? + b.join_async().await?, 25);
//!
//!     // A child's end beside a timer.
//!     let p = Process::new(nap, 5_000);
//!     p.start()?;
//!     tokio::select! {
//!         _ = p.sentinel_async()? => unreachable!("it naps for 5 s"),
//!         _ = tokio::time::sleep(Duration::from_millis(50)) => p.kill()?,
//!     }
//!     p.join_async().await?;
//!     assert_eq!(p.exitcode(), Some(-9));
//!     Ok::<_, Box<dyn std::error::Error>>(())
//! })
//! # }
//! # #[cfg(not(feature = "tokio"))]
//! # fn main() {}
//! ```
//!
//! # Comparison with Python multiprocessing
//!
//! | Python | `multiproc-process` | note |
//! |---|---|---|
//! | `Process(target=f, args=(x,))` | [`Process::new(f, x)`](Process::new) | `f` is a `fn(A) -> R`; `A` a serde value (a tuple for several) |
//! | `p.start()`, `p.join()`, `p.join(timeout)` | [`start`](Process::start), [`join`](Process::join), [`join_timeout`](Process::join_timeout) | `join_timeout` says whether it ended |
//! | `p.name`, `p.daemon`, `p.pid` | [`name`](Process::name), [`daemon`](Process::daemon), [`pid`](Process::pid) | same default names: `Process-1`, `Process-1:2` |
//! | `p.exitcode`, `p.is_alive()` | [`exitcode`](Process::exitcode), [`is_alive`](Process::is_alive) | `-N` for signal N; 1 after a panic, with [`panic_message`](Process::panic_message) |
//! | `p.terminate()`, `p.kill()`, `p.close()` | [`terminate`](Process::terminate), [`kill`](Process::kill), [`close`](Process::close) | signals go through a pidfd: never to a recycled pid |
//! | `p.sentinel` | [`sentinel`](Process::sentinel) | a pidfd, for `poll`/`epoll` |
//! | `get_context('spawn')`, `get_start_method()`, `get_all_start_methods()` | [`get_context`], [`get_start_method`], [`get_all_start_methods`] | |
//! | `set_start_method(m)`, `set_start_method(m, force=True)` | [`set_start_method`], [`force_start_method`] | set once, before use, as in Python |
//! | `current_process()`, `p.ident` | [`current_process`] (with `ident`), [`Process::ident`] | `ident` is the pid |
//! | `parent_process()` | [`parent_process`] | name, pid, `is_alive`, `join` |
//! | `active_children()` | [`active_children`] | reaps finished children whose handles were dropped |
//! | `cpu_count()` | [`cpu_count`] | CPUs in the system; `available_parallelism` for this process's share |
//! | non-daemon children joined at exit | the same, by default; [`set_children_at_exit`] | `ChildrenAtExit::Leave` lets them run on |
//! | `os.fork()`, `os.waitpid()` | [`fork()`], [`waitpid`] | `fork()` refuses in a multi-threaded process |
//! | *(needs a Queue)* | [`spawn`] → [`JoinHandle::join`] | the child's return value |
//! | *(asyncio: `run_in_executor`)* | `join_async`, `sentinel_async` (feature `tokio`) | no thread per waiting child |
//!
//! # Implementation notes
//!
//! `unsafe` is used for `fork` (with the thread check above), for turning the target's offset
//! back into a function pointer (after the same-executable check), for the `.init_array`
//! registration and the environment edits made there before `main`, and for `dladdr`. OS calls
//! live in one private module, `sys`.

/// The README's example, compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeExample;

mod alive;
mod children;
mod error;
mod forkserver;
mod handle;
mod identity;
mod job;
mod method;
mod parent;
mod process;
#[cfg(feature = "tokio")]
mod sentinel;
mod sys;

pub use children::{
    ActiveChild, ChildrenAtExit, active_children, children_at_exit, join_children,
    set_children_at_exit,
};
pub use error::{CallError, Error, JoinError};
pub use handle::{JoinHandle, spawn};
pub use identity::{CurrentProcess, current_process};
pub use job::RemoteFn;
pub use method::{
    Context, StartMethod, cpu_count, force_start_method, get_all_start_methods, get_context,
    get_start_method, set_start_method,
};
pub use parent::{ParentProcess, parent_process};
pub use process::{Daemon, Fork, Process, fork, waitpid};
#[cfg(feature = "tokio")]
pub use sentinel::Sentinel;
