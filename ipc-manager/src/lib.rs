//! Python's `multiprocessing` managers for Rust: a server process holds shared objects —
//! `list`, `dict`, `Namespace`, `Queue`, locks, events, your own types — and other processes,
//! children or programs on other machines, in Rust or in Python, use them through proxies.
//!
//! # Hello, world!
//!
//! ```
//! use multiproc_manager::{DictProxy, ListProxy, Manager, NamespaceProxy};
//! use multiproc_process::Process;
//!
//! fn modify((ns, l, d): (NamespaceProxy, ListProxy<String>, DictProxy<String, i64>)) {
//!     let a: i64 = ns.get("a").unwrap().unwrap();
//!     ns.set("a", &(a + 1)).unwrap();
//!     l.extend(["b".to_string(), "c".to_string()]).unwrap();
//!     d.set(&"b".to_string(), &0).unwrap();
//! }
//!
//! let manager = Manager::start()?; // a server process
//! let ns = manager.namespace()?;
//! ns.set("a", &1)?;
//! let l = manager.list(["a".to_string()])?;
//! let d = manager.dict::<String, i64>()?;
//!
//! // A child process changes them through its copies of the proxies.
//! let p = Process::new(modify, (ns.clone(), l.clone(), d.clone()));
//! p.start()?;
//! p.join()?;
//! assert_eq!(ns.get::<i64>("a")?, Some(2));
//! assert_eq!(l.to_vec()?, ["a", "b", "c"]);
//! assert_eq!(d.repr()?, "{'b': 0}"); // Python's repr, as a Python client prints it
//! manager.shutdown()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ```toml
//! [dependencies]
//! multiproc-manager = "0.1"
//! multiproc-process = "0.1"   # to start children, as the example does
//! serde = { version = "1", features = ["derive"] }   # for values of your own types
//! ```
//!
//! # Managers, proxies and values
//!
//! [`Manager::start`] starts a server process (through `multiproc-process`, by any start
//! method) serving `SyncManager`'s type ids; it is shut down by [`Manager::shutdown`] or when
//! the last `Manager` handle is dropped. [`Manager::connect`] reaches a manager that runs
//! elsewhere — ours or Python's — and [`serve`] / [`Server`] run one in the foreground (Python's
//! `get_server().serve_forever()`), on a TCP address, a Unix socket path, or a Linux abstract
//! socket (`@name`).
//!
//! Each `Manager` method that creates an object returns a typed proxy: [`ListProxy`],
//! [`DictProxy`], [`NamespaceProxy`], [`QueueProxy`], [`AcquirerProxy`] (locks and semaphores),
//! [`ConditionProxy`], [`EventProxy`], [`BarrierProxy`], [`ValueProxy`], [`ArrayProxy`]. A proxy
//! is a serde handle like every other primitive of `multiproc`: it reaches a child by `fork`,
//! `spawn` and `forkserver`, and another machine by being sent, and reconnects there to the
//! manager's address.
//!
//! The manager holds values in Python's data model ([`PyValue`]), so that a Python client and
//! a Rust client see the same list. A Rust value goes in through its `Serialize` and comes out
//! through its `Deserialize` ([`to_value`], [`from_value`]) with serde's JSON mapping and no
//! loss between Rust peers (128-bit integers, nested `Option`s, enums). What Python's protocol
//! cannot carry: a Python peer sees a nested `Some(None)` as `None`, and integers above 128
//! bits, Python objects other than plain data (functions, instances of your classes) and handles
//! that own file descriptors (a `multiproc` `Lock`, a pipe end) do not go into a manager.
//!
//! # Types of your own
//!
//! Put [`shared`] on an `impl` block: its public methods are served, and a typed proxy named
//! `<Type>Proxy` calls them (Python's `BaseManager.register` with `exposed`). A method marked
//! `#[proxy]` returns another shared type, which the manager serves as a new object (Python's
//! `method_to_typeid`). A [`Registrar`] says which type ids a started manager serves.
//!
//! ```
//! use multiproc_manager::{Manager, Registrar, Registry, shared};
//!
//! pub struct Counter { n: i64 }
//!
//! #[shared]
//! impl Counter {
//!     pub fn add(&mut self, by: i64) -> i64 { self.n += by; self.n }
//!     pub fn get(&self) -> i64 { self.n }
//! }
//!
//! struct MyManager;
//! impl Registrar for MyManager {
//!     fn registry() -> Registry {
//!         let mut r = Registry::sync(); // SyncManager's type ids too
//!         r.register(|start: i64| Counter { n: start });
//!         r
//!     }
//! }
//!
//! let m = Manager::builder().start_with::<MyManager>()?;
//! let c: CounterProxy = m.create::<Counter, _>(40)?;
//! assert_eq!(c.add(2)?, 42);
//! # Ok::<(), multiproc_manager::Error>(())
//! ```
//!
//! # Object lifetime
//!
//! The server counts references to each object, as Python's does, and frees an object when the
//! last is given back. In one process, clones of a proxy share one reference. A Rust client
//! holds one session per process and manager — a connection kept open — and every reference it
//! holds belongs to that session, so when the process dies or disconnects its references are
//! released: [`Manager::number_of_objects`] comes back to where it was however Rust clients come
//! and go. A proxy written for a child that `multiproc-process` starts takes a reference for the
//! child first, which the child gives back once it holds its own: the object outlives the
//! parent's last drop. (A `fork` child's copy takes its reference when first used; drop the
//! parent's copy only after that, as in Python.)
//!
//! Python clients take references over connections they close at once (`create`, `incref`
//! and `decref` each use a fresh connection), so the server cannot tell when a Python client
//! dies: its references last until shutdown — as with Python's own server.
//!
//! # The protocol
//!
//! Python's, so that Python and Rust programs share managers. Every connection starts with the
//! HMAC handshake of `multiprocessing.connection` (both ways; see `multiproc-pipe`) and frames
//! messages as Python does (a 4-byte big-endian length). Then:
//!
//! - A **request** is `(id, methodname, args, kwds)`; `id` is `None` for the server's own
//!   methods. A **reply** is `(kind, result)`: `#RETURN` and the value; `#ERROR` and the
//!   exception the method raised (`KeyError('x')`, `queue.Empty()`); `#TRACEBACK` and text when
//!   the server failed (an unknown type id or method, a method that panicked);
//!   `#UNSERIALIZABLE` when the result cannot be encoded; `#PROXY` and
//!   `(exposed, Token(typeid, address, id))` when the method's result is served as a new object.
//! - The server's own methods: `create(typeid, *args, **kwds)` → `(id, exposed)` with one
//!   reference; `incref(id)`, `decref(id)`; `get_methods(token)`; `number_of_objects()`,
//!   `debug_info()`, `dummy()`, `shutdown()`; and `accept_connection(name)`, after which the
//!   connection carries calls on objects until it closes. `__repr__`, `__str__` and
//!   `#GETVALUE` are served for every object even when not exposed.
//! - **Python clients** send one server method per connection, and calls on objects on one
//!   connection per thread opened with `accept_connection`; their messages are pickles. The
//!   pickle reader takes only plain values and an allow-list of globals — the builtin
//!   exceptions, `queue.Empty` / `queue.Full` (`_queue.Empty` in CPython 3.11),
//!   `threading.BrokenBarrierError`, `multiprocessing.managers.Token`, `slice`, and the builtins
//!   `list`, `set`, `frozenset`, `bytearray`, `range` applied at once — and never imports or runs
//!   anything; anything else is refused by name, and the reply is a `#TRACEBACK`. It limits
//!   nesting (128 levels), integers (128 bits), and what memo references may copy.
//! - **Rust clients** open the first message of a connection with `\0MPM1` (no pickle starts
//!   with a zero byte) and a hello — a session, or a request connection of a session — and
//!   speak postcard from then on; the server's own methods go on the same connection. A Rust
//!   client that meets a Python server (which answers the hello with a pickled traceback)
//!   speaks Python to it.
//!
//! The HMAC authenticates the handshake only: the traffic is neither encrypted nor
//! authenticated after it. Across a network you do not trust, reach the manager through an
//! SSH tunnel or a VPN.
//!
//! # When things go wrong
//!
//! | what happens | what you get | Python |
//! |---|---|---|
//! | the server's process dies (or shuts down) | every call, a waiting one included, returns [`Error::Disconnected`] at once | `EOFError` / `ConnectionRefusedError` |
//! | a wrong authkey, on either side | [`Error::AuthenticationError`] with the reason | `AuthenticationError` |
//! | a proxy that came over a pipe or queue, in a process that knows no key for its manager | [`Error::NoAuthkey`]; a proxy written for a child of ours carries the key | `AuthenticationError` (the process's own key is tried) |
//! | a method raises (`KeyError`, `IndexError`, ...) | `None` / `false` where the proxy method returns an `Option` or `bool`; else [`Error::Exception`], [`Error::Empty`], [`Error::Full`], [`Error::BrokenBarrier`] | the exception, re-raised |
//! | an unknown type id or method, bad arguments | [`Error::Fault`] with [`Fault::UnknownTypeid`], [`Fault::UnknownMethod`], [`Fault::BadArguments`]; the server goes on | `RemoteError` with the traceback |
//! | a method panics | [`Error::Fault`] with [`Fault::Panicked`] and the message; the server and the object go on | `RemoteError` |
//! | a call waits (`QueueProxy::get`, `AcquirerProxy::acquire`, `EventProxy::wait`) | it blocks its own connection only; other threads and processes are served | the same |
//! | a client dies holding a `Lock` or `RLock` | the lock is released; the next acquirer gets [`AcquireError::OwnerDied`] with the lock held | the lock stays held for ever |
//! | a client is SIGKILLed in the middle of a call | the server's thread for it notices within half a second and ends; nothing else changes | the thread waits for ever |
//! | a Rust client dies holding references | its session ends and its references are released | (Python clients: kept until shutdown, here too) |
//! | garbage before or after authentication, a pickle with another global | the connection is dropped, or the reply is `#TRACEBACK`; the server goes on | the same |
//! | 1,000 connections opened and dropped | the server serves on; its memory stays flat (tested within 4 MiB) | the same |
//!
//! # Comparison with Python multiprocessing
//!
//! | Python | `multiproc-manager` | note |
//! |---|---|---|
//! | `multiprocessing.Manager()`, `with Manager() as m:` | [`Manager::start`], [`Manager::shutdown`] / drop | |
//! | `BaseManager(address, authkey)`, `.start()`, `.connect()` | [`Manager::builder`]`.address(..).authkey(..).start_with::<R>()`, [`Manager::connect`] | |
//! | `BaseManager.register(typeid, callable, exposed, method_to_typeid)` | [`Registry::register`] with [`shared`], [`Registry::register_object`], [`Registrar`] | typed proxies, no strings in calls |
//! | `mgr.get_server().serve_forever()` | [`Server::bind`]`(..).`[`serve_forever`](Server::serve_forever), [`serve`] | |
//! | `m.list()`, `m.dict()`, `m.Namespace()`, `m.Queue()`, `m.JoinableQueue()` | [`Manager::list`], [`dict`](Manager::dict), [`namespace`](Manager::namespace), [`queue`](Manager::queue), [`joinable_queue`](Manager::joinable_queue) | |
//! | `m.Lock()`, `RLock`, `Semaphore`, `BoundedSemaphore`, `Condition`, `Event`, `Barrier` | [`Manager::lock`], [`rlock`](Manager::rlock), [`semaphore`](Manager::semaphore), [`bounded_semaphore`](Manager::bounded_semaphore), [`condition`](Manager::condition), [`event`](Manager::event), [`barrier`](Manager::barrier) | a dead holder's lock is released (`OwnerDied`) |
//! | `m.Value(typecode, v)`, `m.Array(typecode, seq)` | [`Manager::value`], [`Manager::array`] | |
//! | `ListProxy`, `DictProxy`, `NamespaceProxy`, `AcquirerProxy`, ... | [`ListProxy`], [`DictProxy`], [`NamespaceProxy`], [`AcquirerProxy`], ... | `None` for a missing item instead of `KeyError`/`IndexError` |
//! | `str(proxy)`, `proxy._getvalue()`, `proxy._token` | [`BaseProxy::repr`], [`BaseProxy::getvalue`], [`BaseProxy::token`] | |
//! | `m._number_of_objects()`, `m._debug_info()` | [`Manager::number_of_objects`], [`Manager::debug_info`] | |
//! | pickled values | [`PyValue`], [`to_value`], [`from_value`] | serde; pickle only for Python peers |
//! | `RemoteError` | [`Error::Fault`] | typed |
//! | `util.log_to_stderr()` shows the server's work | `log` records, target `multiproc_manager::…`: a client process connected (`info`), disconnected (`info`), went away holding references, which are released (`warn`); a refused connection (`info`) | records of a server process reach the logger that process has (`fork` inherits one; see `multiproc::log_to_stderr`) |

mod client;
mod de;
mod error;
mod manager;
mod net;
mod objects;
mod pickle;
mod protocol;
mod proxies;
mod proxy;
mod registry;
mod ser;
mod server;
mod server_handle;
mod shared;
mod value;
mod wire;

pub use client::Authkey;
pub use de::from_value;
pub use error::{AcquireError, DecodeError, Error, PickleError};
pub use manager::{Manager, ManagerBuilder, Registrar, SyncManager};
pub use multiproc_manager_derive::shared;
pub use protocol::{AddressValue, Fault, Token};
pub use proxies::{
    AcquireGuard, AcquirerProxy, ArrayProxy, BarrierProxy, ConditionProxy, DictProxy, EventProxy,
    ListProxy, NamespaceProxy, QueueProxy, ValueProxy,
};
pub use proxy::{BaseProxy, Proxy};
pub use registry::{Registry, ServerObject};
pub use ser::{ValueError, to_value};
pub use server_handle::{Server, ToAddress, serve};
pub use shared::SharedObject;
pub use value::{PyClass, PyObject, PyValue};

/// What the code `#[shared]` writes needs; not for direct use.
#[doc(hidden)]
pub mod __private {
    pub use crate::objects::{Outcome, Raise};
    pub use crate::proxy::arg;
    pub use crate::shared::{MethodArgs, no_method, ret, ret_object};
    pub use serde;
}

/// The examples of README.md (this crate's crates.io page) compile and run.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeExamples;
