//! Python's `multiprocessing` queues for Rust — [`Queue`], [`JoinableQueue`], [`SimpleQueue`] —
//! as a ring in shared memory with futex waits, that no dying process can corrupt or wedge;
//! and the kernel's named POSIX message queue, [`MessageQueue`].
//!
//! # Hello, world!
//!
//! A child process puts a greeting; the parent gets it.
//!
//! ```
//! use multiproc_process::Process;
//! use multiproc_queue::Queue;
//!
//! fn child(q: Queue<String>) {
//!     q.put(format!("Hello, world! from pid {}", std::process::id())).unwrap();
//! }
//!
//! let q = Queue::new()?;
//! let p = Process::new(child, q.clone());
//! p.start()?;
//! let got = q.get_timeout(std::time::Duration::from_secs(10))?;
//! assert_eq!(got, format!("Hello, world! from pid {}", p.pid().unwrap()));
//! p.join()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Using it
//!
//! ```toml
//! [dependencies]
//! multiproc-queue = "0.1"      # features = ["tokio"] for the futures (see "In a tokio program")
//! multiproc-process = "0.1"   # to start children, as the examples do
//! ```
//!
//! Or the whole family through the umbrella crate `multiproc` (`multiproc::queue`). The one
//! feature, `tokio` (off by default), adds the futures; Linux is the platform built and tested.
//!
//! A queue handle is a serde value: it reaches a child as an argument by every start method
//! (`fork`, `spawn`, `forkserver`), its ring's memfd and its locks' heap arena travelling out of band
//! (`multiproc_core::transfer`). The examples `queue_hello`, `write_read`, `square_list`,
//! `full_empty` and `producer_consumer` are the seed programs.
//!
//! # How it works
//!
//! Each queue is one memfd mapping — a typed header naming its two locks, a page of atomics
//! and a byte ring (1 MiB by default) — and two locks in `multiproc-core`'s shared heap: one
//! descriptor and one mapping per queue, plus the heap's arenas that thousands of objects share. A `put` encodes the item with postcard, takes the *producer lock* (an
//! `multiproc_sync::Lock`), copies the bytes in as one record and publishes it with a single store
//! of the ring's head; a `get` takes the *consumer lock*, decodes the record in place and frees
//! it with a single store of the tail. With one producer and one consumer, both locks are
//! uncontended (one compare-exchange each). A side that must wait spins first, up to ~50 µs,
//! while spinning pays (so a hand-over between processes running on two cores costs no syscall;
//! when they share a core, or the other side's core is busy, the spin is learnt away and the
//! waiter sleeps at once), then sleeps on a [`WaitWord`](multiproc_core::futex::WaitWord) after
//! saying so; the other side calls `FUTEX_WAKE` only then. A waiter that waits long uses no CPU.
//!
//! # When a process dies
//!
//! | who dies, when | what the others see |
//! |---|---|
//! | producer, before or during the copy of a `put` | nothing: the record was never published; the next producer takes the lock over (`OwnerDied`, within ~8 ms) and writes over it |
//! | producer, after the publishing store | the item is in the queue and is delivered exactly once |
//! | producer, half-way through a chunked (> ¼ buffer) item | the consumer waiting for the rest notices within ~10 ms and drops the partial item |
//! | consumer, before freeing the record it read | the item stays; the next consumer takes the lock over and gets it |
//! | consumer, asleep in `get` | it holds the consumer lock: the next consumer takes it over within ~8 ms |
//! | consumer, half-way through a chunked item | an item still whole in the buffer (up to ~¾ of it) goes to the next consumer; a larger one is lost with it, the next consumer skipping its remaining chunks |
//! | producer, stopped (SIGSTOP) half-way through a chunked item | a `get` still returns by its deadline; the item arrives whole once the producer runs again |
//!
//! The `Process` tests SIGKILL producers in the middle of a stream of puts and count what
//! arrives: every item whose `put` returned arrives once, in order, intact.
//!
//! Items are copied into shared memory as bytes, so an item that *holds* a descriptor
//! (a `SharedMapping`, a `Lock`, another queue) cannot go through a queue: `put` gives
//! [`PutError::Encode`] with the item. Pass such handles as process arguments.
//!
//! # In a tokio program
//!
//! With the `tokio` feature (off by default: `multiproc-queue = { version = "0.1", features =
//! ["tokio"] }`), [`Queue::put_async`] and [`Queue::get_async`] (and [`SimpleQueue`]'s,
//! [`JoinableQueue::join_async`]) wait without holding a thread. The other side may be
//! synchronous or async, in any process. They are plain `std` futures, so any executor runs
//! them. Dropping one (`tokio::time::timeout`, `select!`, a runtime shut down) loses nothing:
//! an item is taken (put) only in the poll that returns it, so a cancelled `get_async` has
//! taken no item and a cancelled `put_async` has put none (its item is dropped with it).
//!
//! The waits go through `multiproc-sync`'s machinery: the queue's producer (consumer) lock is
//! taken with [`Lock::lock_async`](multiproc_sync::Lock::lock_async), and the wait for room
//! (an item) is on the ring's futex word, which one helper thread per process watches with
//! `futex_waitv(2)` for every waiting future ([`multiproc_core::waiter`]). An idle waiting
//! future costs no CPU, and `put`, `get` and the notifications they send do not change. Items
//! larger than a quarter of the buffer are the exception to "no thread waits": see
//! [`Queue::get_async`].
//!
//! ```
//! # #[cfg(feature = "tokio")] {
//! use multiproc_process::Process;
//! use multiproc_queue::Queue;
//! use std::time::Duration;
//!
//! // A synchronous child: squares what it gets until the queue is closed.
//! fn square((jobs, results): (Queue<u64>, Queue<u64>)) {
//!     while let Ok(n) = jobs.get_timeout(Duration::from_secs(10)) {
//!         results.put(n * n).unwrap();
//!     }
//! }
//!
//! let (jobs, results) = (Queue::new()?, Queue::new()?);
//! let p = Process::new(square, (jobs.clone(), results.clone()));
//! p.start()?;
//! let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
//! rt.block_on(async {
//!     for n in 1..=3u64 {
//!         jobs.put_async(n).await?;
//!         let r = tokio::time::timeout(Duration::from_secs(10), results.get_async()).await?;
//!         assert_eq!(r?, n * n);
//!     }
//!     Ok::<(), Box<dyn std::error::Error>>(())
//! })?;
//! jobs.close();
//! p.join()?;
//! # }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Comparison with Python multiprocessing
//!
//! | Python | `multiproc-queue` | note |
//! |---|---|---|
//! | `Queue(maxsize=0)` | [`Queue::new`], [`Queue::with_maxsize`], [`Queue::with_capacity`] | items are any serde type |
//! | `q.put(x)`, `put(x, timeout=t)`, `put_nowait(x)` | [`put`](Queue::put), [`put_timeout`](Queue::put_timeout), [`try_put`](Queue::try_put) (alias [`put_nowait`](Queue::put_nowait)) | [`PutError::Full`] hands the item back |
//! | `q.get()`, `get(timeout=t)`, `get_nowait()` | [`get`](Queue::get), [`get_timeout`](Queue::get_timeout), [`try_get`](Queue::try_get) (alias [`get_nowait`](Queue::get_nowait)) | [`GetError::Empty`] |
//! | `queue.Full`, `queue.Empty` | [`PutError::Full`], [`GetError::Empty`] | |
//! | `qsize()`, `empty()`, `full()` | same names | snapshots, as in Python |
//! | unbounded `put` never blocks (feeder thread) | an unbounded queue is bounded by its buffer | `put` waits for room; `put_nowait` may be `Full` |
//! | `close()` (this process puts no more); `get` then blocks forever | [`Queue::close`] closes for every process | consumers drain, then [`GetError::Closed`] |
//! | `join_thread()`, `cancel_join_thread()` | — | no feeder thread to join |
//! | `JoinableQueue`: `task_done()`, `join()` | [`JoinableQueue::task_done`], [`join`](JoinableQueue::join), [`join_timeout`](JoinableQueue::join_timeout) | too many `task_done` is [`TaskDoneError`] (Python: `ValueError`) |
//! | `SimpleQueue`: `put`, `get`, `empty`, `close` | [`SimpleQueue`] | |
//! | `loop.run_in_executor(None, q.get)` (asyncio) | [`Queue::get_async`], [`Queue::put_async`], [`JoinableQueue::join_async`] (feature `tokio`) | no thread per waiter: one helper per process |
//! | a `bytes` item | [`Bytes`] | a `Vec<u8>` that travels as one block (serde sees a `Vec<u8>` as numbers) |
//! | a producer killed in `put` may corrupt the pipe or hold the lock forever | never a torn item; the lock is taken over | see above |
//! | `posix_ipc.MessageQueue` (third party) | [`MessageQueue`] | priorities; the kernel's [`MqLimits`]; a dead creator's queue is removed by the resource tracker |
//!
//! # Implementation notes
//!
//! `unsafe` is confined to the ring (`ring.rs`): the view of the header page (all atomics), the
//! copies into free space of the ring (which only the producer-lock holder writes and nobody
//! reads until published) and the reads of published records (which only the consumer-lock
//! holder frees); and to the libc calls of the message queue in `sys.rs`. Each block says why.

mod bytes;
mod error;
mod joinable_queue;
mod message_queue;
mod queue;
#[cfg(feature = "tokio")]
mod queue_async;
mod ring;
mod simple_queue;
mod sys;

pub use bytes::Bytes;
pub use error::{Error, GetError, PutError, TaskDoneError};
pub use joinable_queue::JoinableQueue;
pub use message_queue::{MessageQueue, MqAttributes, MqLimits};
pub use queue::Queue;
pub use simple_queue::SimpleQueue;

/// The examples of README.md (this crate's crates.io page) compile and run.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeExamples;
