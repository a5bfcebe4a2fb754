//! The OS layer of the [`ipc`](https://docs.rs/ipc) workspace: owned file descriptors, shared
//! memory mappings, process-shared futexes, length-prefixed postcard frames, descriptor passing,
//! and the one mechanism by which a handle that owns descriptors reaches another process.
//!
//! Every other `ipc` crate stands on this one. Most users want those crates (`ipc-sync`,
//! `ipc-queue`, …); reach for `ipc-core` to build a primitive of your own.
//!
//! # Hello, world!
//!
//! A mapping and a pipe end sent to another process over a [`Channel`](transfer::Channel):
//! the child writes into the shared page and the pipe, the parent sees both.
//!
//! ```
//! use ipc_core::{fd, transfer::Channel, SharedMapping};
//! use std::io::{Read, Write};
//! use std::sync::atomic::Ordering;
//! use std::fs::File;
//!
//! let (mut parent, mut child) = Channel::pair()?;
//! let map = SharedMapping::memfd("hello", 4096)?;
//! let (r, w) = fd::pipe()?;
//! parent.send(&(&map, ipc_core::transfer::PortableFd::new(w)))?;
//!
//! // In a real program this half runs in another process (see `transfer::spawn_with_channel`).
//! let worker = std::thread::spawn(move || -> Result<(), ipc_core::Error> {
//!     let (m, w): (SharedMapping, ipc_core::transfer::PortableFd) = child.recv()?;
//!     m.atomic_u32(0).store(0xC0FFEE, Ordering::Release);
//!     File::from(w.into_inner()).write_all(b"hello, world")?;
//!     Ok(())
//! });
//! worker.join().unwrap()?;
//!
//! let mut text = String::new();
//! File::from(r).read_to_string(&mut text)?;
//! assert_eq!(text, "hello, world");
//! assert_eq!(map.atomic_u32(0).load(Ordering::Acquire), 0xC0FFEE);
//! # Ok::<(), ipc_core::Error>(())
//! ```
//!
//! # What is here
//!
//! | module | what it gives |
//! |---|---|
//! | [`fd`] | close-on-exec pipes and socket pairs, flag helpers, `EINTR` retry, a checked claim of an inherited descriptor |
//! | [`SharedMapping`] | shared memory: anonymous (inherited by `fork`), memfd (sendable), named (`shm_open`, unlinked by its creator on drop) |
//! | [`futex`] | wait / wake on an `AtomicU32` in shared memory, with timeouts |
//! | [`frame`] | length prefix + postcard; typed errors for corrupt, truncated, oversized frames |
//! | [`transfer`] | `SCM_RIGHTS` descriptor passing; serde values that own descriptors; [`Channel`](transfer::Channel); a channel for a spawned child |
//!
//! # Comparison with Python multiprocessing
//!
//! | Python | `ipc-core` | note |
//! |---|---|---|
//! | `multiprocessing.reduction.send_handle` / `recv_handle` | [`transfer::send_fds`] / [`transfer::recv_fds`] | any number of fds (up to 253) per message |
//! | `ForkingPickler` + `resource_sharer` (how a `Connection` or `Lock` reaches a spawned child) | [`transfer::to_envelope`], [`transfer::Channel`] | bytes say which fd is which; fds travel out of band |
//! | `multiprocessing.heap.Arena` (an mmap of a temp file) | [`SharedMapping::memfd`] | no file on disk |
//! | `multiprocessing.shared_memory.SharedMemory` | [`SharedMapping::create_named`] / [`open_named`](SharedMapping::open_named) | unlinked by the creator on drop |
//! | `Connection` wire format (4-byte length + pickle) | [`frame`] (4-byte length + postcard) | limit checked before allocating |
//! | `_multiprocessing.SemLock` (a POSIX semaphore) | [`futex`] | what `ipc-sync` builds its locks on |
//!
//! # Implementation notes
//!
//! All syscalls go through one private module (`sys.rs`), on `rustix`. `unsafe` is confined to
//! mapping and unmapping memory, handing out atomics inside a mapping (bounds and alignment
//! checked), the `unsafe` slice accessors whose callers promise exclusion, claiming an inherited
//! descriptor, and the `pre_exec` hook of [`transfer::spawn_with_channel`]; each block says why
//! it is sound.

pub mod error;
pub mod fd;
pub mod frame;
pub mod futex;
mod mapping;
mod sys;
pub mod transfer;

pub use error::{Error, Result};
pub use mapping::SharedMapping;
