//! Everything Python's `multiprocessing` gives Python programs, for Rust: processes, pools,
//! pipes, named pipes, queues, shared memory and process-shared locks, plus an XML-RPC client
//! and server — each in its own small crate, all re-exported here.
//!
//! # Hello, world!
//!
//! ```
//! use ipc::transfer::Channel;
//! use ipc::SharedMapping;
//! use std::sync::atomic::Ordering;
//!
//! // A shared page, sent over a channel: the receiver maps the very same memory.
//! let (mut a, mut b) = Channel::pair()?;
//! let page = SharedMapping::memfd("hello", 4096)?;
//! a.send(&page)?;
//! let same: SharedMapping = b.recv()?;
//! same.atomic_u32(0).store(42, Ordering::Release);
//! assert_eq!(page.atomic_u32(0).load(Ordering::Acquire), 42);
//! # Ok::<(), ipc::core::Error>(())
//! ```
//!
//! # The crates
//!
//! Each member is a module here, behind a Cargo feature that `default` turns on. A program that
//! needs one primitive can depend on its crate alone.
//!
//! | module | crate | Python counterpart | feature |
//! |---|---|---|---|
//! | [`core`] | `ipc-core` | `multiprocessing.reduction`, `heap`, `shared_memory`, `Connection`'s framing | `core` |
//! | [`process`] | `ipc-process` | `Process`, `get_context`, `set_start_method`, `current_process`, `os.fork` | `process` |
//! | [`sync`] | `ipc-sync` | `Lock`, `RLock`, `Semaphore`, `BoundedSemaphore`, `Event`, `Condition`, `Barrier` | `sync` |
//! | [`queue`] | `ipc-queue` | `Queue`, `JoinableQueue`, `SimpleQueue` (and the POSIX `mq_open` queue) | `queue` |
//! | [`pipe`] | `ipc-pipe` | `Pipe`, `Connection`, `connection.wait` | `pipe` |
//! | [`fifo`] | `ipc-fifo` | `os.mkfifo` named pipes | `fifo` |
//! | [`pool`] | `ipc-pool` | `Pool`: `map`, `imap`, `imap_unordered`, `starmap`, `apply`, `apply_async` | `pool` |
//! | [`rpc`] | `ipc-rpc` | `xmlrpc.client`, `xmlrpc.server` | `rpc` |
//! | [`shm`] | `ipc-shm` | `Value`, `Array`, `RawValue`, `RawArray` (`sharedctypes`), `shared_memory.SharedMemory` | `shm` |

//!
//! # Comparison with Python multiprocessing
//!
//! | Python | `ipc` |
//! |---|---|
//! | `multiprocessing.reduction.send_handle` | [`transfer::send_fds`] |
//! | pickling a `Connection` to a spawned child | [`transfer::Channel`] is serde: send it over another channel |
//! | `multiprocessing.shared_memory.SharedMemory(name, create=True)` | [`SharedMapping::create_named`] |
//! | `Connection.send` framing (length + pickle) | [`frame`] (length + postcard) |
//! | `Process(target=f, args=(x,)).start()` | [`Process::new(f, x)`](Process::new)`.start()` |
//! | `get_context('spawn')` | [`get_context`]`(`[`StartMethod::Spawn`]`)` |
//! | `Value('i', 7)`, `Array('d', 10)` | [`Value::new`]`(7)`, [`Array::zeroed`]`(10)` |
//! | `SharedMemory(name, create=True, size=n)` (a block of its own) | [`SharedMemory::create`] |

#[cfg(feature = "core")]
#[doc(inline)]
pub use ipc_core as core;

#[cfg(feature = "rpc")]
#[doc(inline)]
pub use ipc_rpc as rpc;

#[cfg(feature = "core")]
#[doc(inline)]
pub use ipc_core::{Error as CoreError, SharedMapping, frame, futex, transfer};

#[cfg(feature = "process")]
#[doc(inline)]
pub use ipc_process as process;

#[cfg(feature = "process")]
#[doc(inline)]
pub use ipc_process::{
    Context, JoinHandle, Process, StartMethod, current_process, get_context, set_start_method,
    spawn,
};

#[cfg(feature = "sync")]
#[doc(inline)]
pub use ipc_sync as sync;

#[cfg(feature = "sync")]
#[doc(inline)]
pub use ipc_sync::{
    Barrier, BoundedSemaphore, BrokenBarrier, Condition, Event, Lock, OwnerDied, RLock, Semaphore,
};

#[cfg(feature = "pipe")]
#[doc(inline)]
pub use ipc_pipe as pipe;

#[cfg(feature = "pipe")]
#[doc(inline)]
pub use ipc_pipe::{Connection, Pipe, wait};

#[cfg(feature = "fifo")]
#[doc(inline)]
pub use ipc_fifo as fifo;

#[cfg(feature = "fifo")]
#[doc(inline)]
pub use ipc_fifo::Fifo;

#[cfg(feature = "queue")]
#[doc(inline)]
pub use ipc_queue as queue;

#[cfg(feature = "queue")]
#[doc(inline)]
pub use ipc_queue::{JoinableQueue, Queue, SimpleQueue};
#[cfg(feature = "shm")]
#[doc(inline)]
pub use ipc_shm as shm;

#[cfg(feature = "shm")]
#[doc(inline)]
pub use ipc_shm::{Array, AtomicElement, RawArray, RawValue, Shareable, SharedMemory, Value};

#[cfg(feature = "pool")]
#[doc(inline)]
pub use ipc_pool as pool;

#[cfg(feature = "pool")]
#[doc(inline)]
pub use ipc_pool::{AsyncResult, Pool};
