//! Everything Python's `multiprocessing` gives Python programs, for Rust: processes, pools,
//! pipes, named pipes, queues, shared memory and process-shared locks, plus an XML-RPC client
//! and server — each in its own small crate, all re-exported here.
//!
//! # Hello, world!
//!
//! ```
//! use multiproc::transfer::Channel;
//! use multiproc::SharedMapping;
//! use std::sync::atomic::Ordering;
//!
//! // A shared page, sent over a channel: the receiver maps the very same memory.
//! let (mut a, mut b) = Channel::pair()?;
//! let page = SharedMapping::memfd("hello", 4096)?;
//! a.send(&page)?;
//! let same: SharedMapping = b.recv()?;
//! same.atomic_u32(0).store(42, Ordering::Release);
//! assert_eq!(page.atomic_u32(0).load(Ordering::Acquire), 42);
//! # Ok::<(), multiproc::core::Error>(())
//! ```
//!
//! # The crates
//!
//! Each member is a module here, behind a Cargo feature that `default` turns on. A program that
//! needs one primitive can depend on its crate alone.
//!
//! | module | crate | Python counterpart | feature |
//! |---|---|---|---|
//! | [`core`] | `multiproc-core` | `multiprocessing.reduction`, `heap`, `shared_memory`, `Connection`'s framing | `core` |
//! | [`process`] | `multiproc-process` | `Process`, `get_context`, `set_start_method`, `current_process`, `os.fork` | `process` |
//! | [`sync`] | `multiproc-sync` | `Lock`, `RLock`, `Semaphore`, `BoundedSemaphore`, `Event`, `Condition`, `Barrier` | `sync` |
//! | [`queue`] | `multiproc-queue` | `Queue`, `JoinableQueue`, `SimpleQueue` (and the POSIX `mq_open` queue) | `queue` |
//! | [`pipe`](mod@pipe) | `multiproc-pipe` | `Pipe`, `Connection`, `connection.wait`, `connection.Listener` / `Client` (authkey, Python's wire protocol) | `pipe` |
//! | [`fifo`] | `multiproc-fifo` | `os.mkfifo` named pipes | `fifo` |
//! | [`pool`] | `multiproc-pool` | `Pool`: `map`, `imap`, `imap_unordered`, `starmap`, `apply`, `apply_async` | `pool` |
//! | [`manager`] | `multiproc-manager` | `Manager()`, `BaseManager`, `SyncManager`, proxies, managers over TCP | `manager` |
//! | [`rpc`] | `multiproc-rpc` | `xmlrpc.client`, `xmlrpc.server` | `rpc` |
//! | [`shm`] | `multiproc-shm` | `Value`, `Array`, `RawValue`, `RawArray` (`sharedctypes`), `shared_memory.SharedMemory` | `shm` |

//!
//! # Comparison with Python multiprocessing
//!
//! | Python | `multiproc` |
//! |---|---|
//! | `multiprocessing.reduction.send_handle` | [`transfer::send_fds`] |
//! | pickling a `Connection` to a spawned child | [`transfer::Channel`] is serde: send it over another channel |
//! | `multiprocessing.shared_memory.SharedMemory(name, create=True)` | [`SharedMapping::create_named`] |
//! | `Connection.send` framing (length + pickle) | [`stream`]: one framed endpoint, Python's framing or ours (length + postcard) |
//! | `Process(target=f, args=(x,)).start()` | [`Process::new(f, x)`](Process::new)`.start()` |
//! | `get_context('spawn')` | [`get_context`]`(`[`StartMethod::Spawn`]`)` |
//! | `Value('i', 7)`, `Array('d', 10)` | [`Value::new`]`(7)`, [`Array::zeroed`]`(10)` |
//! | `SharedMemory(name, create=True, size=n)` (a block of its own) | [`SharedMemory::create`] |
//! | `with Manager() as m: l = m.list()` | [`Manager::start`]`()?.list(...)` |
//! | `BaseManager(address, authkey).connect()` | [`Manager::connect`]`(address, authkey)` |

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
    Context, JoinHandle, Process, StartMethod, current_process, get_context, set_start_method,
    spawn,
};

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
pub use multiproc_shm::{Array, AtomicElement, RawArray, RawValue, Shareable, SharedMemory, Value};

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
