//! The OS layer of the [`multiproc`](https://docs.rs/multiproc) workspace: owned file descriptors, shared
//! memory mappings, process-shared futexes, the one framed endpoint, descriptor passing, and the
//! one mechanism by which a handle that owns descriptors reaches another process.
//!
//! Every other `multiproc` crate stands on this one. Most users want those crates (`multiproc-sync`,
//! `multiproc-queue`, …); reach for `multiproc-core` to build a primitive of your own.
//!
//! # Hello, world!
//!
//! A shared page and a futex word between a parent and a forked child: the child writes a
//! greeting into the page, then wakes the parent, which sleeps on the word until it changes.
//!
//! ```
//! use multiproc_core::{futex, Deadline, SharedMapping};
//! use std::sync::atomic::Ordering;
//! use std::time::Duration;
//!
//! let map = SharedMapping::anonymous(4096)?;
//! let (ready, text) = (map.atomic_u32(0), map.atomic_bytes(8, 13));
//! // SAFETY: the child does only atomic stores, a futex wake and `_exit`: async-signal-safe.
//! match unsafe { libc::fork() } {
//!     -1 => panic!("fork failed"),
//!     0 => {
//!         for (cell, b) in text.iter().zip(b"Hello, world!") {
//!             cell.store(*b, Ordering::Relaxed);
//!         }
//!         ready.store(1, Ordering::Release);
//!         futex::wake(ready, 1);
//!         // SAFETY: `_exit` ends the child without running the parent's exit handlers.
//!         unsafe { libc::_exit(0) };
//!     }
//!     child => {
//!         while ready.load(Ordering::Acquire) == 0 {
//!             futex::wait(ready, 0, Deadline::after(Duration::from_secs(10)));
//!         }
//!         let got: Vec<u8> = text.iter().map(|c| c.load(Ordering::Relaxed)).collect();
//!         assert_eq!(got, b"Hello, world!");
//!         // SAFETY: reaps our own child; a null status pointer is allowed.
//!         unsafe { libc::waitpid(child, std::ptr::null_mut(), 0) };
//!     }
//! }
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! # Using it
//!
//! ```toml
//! [dependencies]
//! multiproc-core = "0.1"
//! libc = "0.2"              # for the example above only: fork, _exit, waitpid
//! ```
//!
//! Across `exec` (a process that did not fork from us), handles travel through
//! [`transfer`]: see its docs and the `handoff` example, which sends a memfd mapping and a pipe
//! end to a freshly started copy of itself.
//!
//! # What is here
//!
//! | module | what it gives |
//! |---|---|
//! | [`fd`] | close-on-exec pipes and socket pairs, flag helpers, `EINTR` retry, a checked claim of an inherited descriptor |
//! | [`SharedMapping`] | shared memory: anonymous (inherited by `fork`), memfd (sendable, sealed against shrinking), named (`shm_open`, unlinked by its creator on drop or by the tracker after its death; copies that survive another process shrinking it) |
//! | [`futex`] | wait / wake on an `AtomicU32` in shared memory, with timeouts |
//! | [`codec`] | the postcard payload of every message; typed errors for bytes that do not decode |
//! | [`stream`] | the one framed [`Endpoint`](stream::Endpoint) on a socket, pipe or fifo, in this workspace's framing (with descriptors) or Python's (`multiprocessing.connection`), as a [`Framing`](stream::Framing) parameter; one limit, one error set, one deadline |
//! | [`task`] | the calling thread's id; whether a thread of any process still lives (for locks whose owner may die) |
//! | [`tracker`] | the resource tracker: names in `/dev/shm`, `/dev/mqueue` and the file system removed when their creator dies without removing them |
//! | [`transfer`] | `SCM_RIGHTS` descriptor passing; serde values that own descriptors; [`Channel`](transfer::Channel) (an endpoint on a Unix socket); a channel for a spawned child |
//!
//! # In a tokio program
//!
//! With the `tokio` feature (off by default), [`stream::AsyncEndpoint`] makes any endpoint's
//! sends and receives futures on tokio's `AsyncFd`; `multiproc-pipe` and `multiproc-fifo` build
//! their async connections and fifo ends on it. A dropped future loses no message: see its
//! docs.
//!
//! ```
//! # #[cfg(feature = "tokio")] {
//! use multiproc_core::stream::{AsyncEndpoint, Endpoint, Framing};
//!
//! let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
//! rt.block_on(async {
//!     let (a, b) = Endpoint::pair(Framing::Native)?;
//!     let mut b = AsyncEndpoint::new(b)?;
//!     // A synchronous sender on a thread, an async receiver.
//!     let t = std::thread::spawn(move || {
//!         let mut a = a;
//!         a.send(&"hello")
//!     });
//!     assert_eq!(b.recv::<String>().await?, "hello");
//!     t.join().unwrap()?;
//!     Ok::<(), multiproc_core::Error>(())
//! })?;
//! # }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Comparison with Python multiprocessing
//!
//! | Python | `multiproc-core` | note |
//! |---|---|---|
//! | `multiprocessing.reduction.send_handle` / `recv_handle` | [`transfer::send_fds`] / [`transfer::recv_fds`] | up to 253 fds per `sendmsg`; a [`Channel`](transfer::Channel) message carries any number (up to 65,536), in several |
//! | `ForkingPickler` + `resource_sharer` (how a `Connection` or `Lock` reaches a spawned child) | [`transfer::to_envelope`], [`transfer::Channel`] | bytes say which fd is which; fds travel out of band |
//! | `multiprocessing.heap.Arena` (an mmap of a temp file) | [`SharedMapping::memfd`] | no file on disk |
//! | `multiprocessing.shared_memory.SharedMemory` | [`SharedMapping::create_named`] / [`open_named`](SharedMapping::open_named) | unlinked by the creator on drop |
//! | `multiprocessing.resource_tracker` | [`tracker`] | per process: a dead creator's names go at once, not when the whole program ends |
//! | the resource tracker's warnings on stderr | `log` records, target `multiproc_core::tracker`: the tracker started (`debug`), out of reach (`warn`) | printed only through a logger the program installs |
//! | `Connection` wire format (4-byte big-endian length + pickle) | [`stream`] with [`Framing::Python`](stream::Framing::Python) (the same bytes), or [`Framing::Native`](stream::Framing::Native) (length + descriptor count + postcard) | limit checked before allocating |
//! | `_multiprocessing.SemLock` (a POSIX semaphore) | [`futex`] | what `multiproc-sync` builds its locks on |
//!
//! # Implementation notes
//!
//! All syscalls go through one private module, `sys`, split by subsystem as `rustix` splits its
//! backend (`sys::fd`, `sys::mem`, `sys::futex`, `sys::net`, `sys::proc`), on `rustix`. `unsafe` is confined to mapping and unmapping memory, handing
//! out atomics inside a mapping (bounds and alignment checked, and on a named mapping only after
//! the `unsafe` [`SharedMapping::assume_fixed_size`]: another process may shrink a named object,
//! and a touch past its end is a `SIGBUS`), the `unsafe` slice accessors whose callers promise
//! exclusion (and, on a named mapping, a fixed size), claiming an inherited descriptor, the
//! `pre_exec` hook of [`transfer::spawn_with_channel`], and the tracker's machinery: its
//! `.init_array` entry, `posix_spawn`, the `pthread_atfork` handler that closes a `fork` child's
//! copy of the tracker connection, and the tracker process's own setup (closing inherited
//! descriptors, ignoring signals); each block says why it is sound.

pub mod codec;
pub mod error;
pub mod fd;
pub mod futex;
pub mod heap;
mod mapping;
mod mapping_copy;
pub mod stream;
mod sys;
pub mod task;
pub mod tracker;
pub mod transfer;
#[cfg(all(feature = "async", not(loom)))]
pub mod waiter;

pub use error::{CorruptReason, Error, Result};
pub use futex::Deadline;
pub use mapping::SharedMapping;

/// The examples of `README.md`, run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
