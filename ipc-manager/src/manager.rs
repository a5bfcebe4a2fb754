//! [`Manager`]: a handle to a manager's server — one this process started, or one running
//! elsewhere — that creates shared objects and hands out their proxies.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use multiproc_pipe::{Address, Connection, pipe_one_way};
use multiproc_process::{Process, StartMethod};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::client::{self, Authkey, Endpoint};
use crate::error::Error;
use crate::net;
use crate::objects::lock;
use crate::protocol::{AddressValue, Token};
use crate::proxy::{BaseProxy, Proxy};
use crate::registry::Registry;
use crate::ser::to_value;
use crate::server_handle::{Server, ToAddress};
use crate::shared::SharedObject;
use crate::value::PyValue;

/// The type ids a started manager serves: Python's `BaseManager` subclass with its
/// `register` calls. The server process calls [`registry`](Self::registry), so the type ids
/// are the same whatever the start method.
///
/// ```
/// use multiproc_manager::{Registrar, Registry, ServerObject};
/// struct QueueManager;
/// impl Registrar for QueueManager {
///     fn registry() -> Registry {
///         let mut r = Registry::new();
///         r.register_object("get_task_queue", ServerObject::queue(0));
///         r
///     }
/// }
/// ```
pub trait Registrar: 'static {
    /// The type ids, built in the server process.
    fn registry() -> Registry;
}

/// `SyncManager`'s type ids ([`Registry::sync`]): what [`Manager::start`] serves.
#[derive(Debug, Clone, Copy)]
pub struct SyncManager;

impl Registrar for SyncManager {
    fn registry() -> Registry {
        Registry::sync()
    }
}

/// What the server process is started with.
#[derive(serde::Serialize, serde::Deserialize)]
struct ServerArgs {
    address: String,
    authkey: Vec<u8>,
    report: Connection,
}

/// The server process: binds, reports its address (or why not), serves, exits.
fn server_main<R: Registrar>(mut args: ServerArgs) {
    let bound = Server::bind(
        args.address.as_str(),
        args.authkey.as_slice(),
        R::registry(),
    );
    match bound {
        Ok(server) => {
            let _ = args
                .report
                .send(&Ok::<String, String>(server.address().to_string()));
            drop(args.report);
            let _ = server.serve_forever();
        }
        Err(e) => {
            let _ = args.report.send(&Err::<String, String>(e.to_string()));
        }
    }
}

struct Inner {
    /// The address clients reach, as the protocol carries it.
    address: AddressValue,
    /// The same, as `multiproc-pipe` spells it.
    pipe_address: Address,
    authkey: Authkey,
    /// The server process, when this handle started it.
    process: Mutex<Option<Process>>,
    /// The process this handle belongs to: a copy in a forked child never shuts the manager
    /// down when dropped, and does not wait for a process that is not its child.
    owner_pid: u32,
    shut: AtomicBool,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if self.owner_pid == std::process::id() && lock(&self.process).is_some() {
            let _ = shutdown(self);
        }
    }
}

fn shutdown(inner: &Inner) -> Result<(), Error> {
    if inner.shut.swap(true, Ordering::AcqRel) {
        return Ok(());
    }
    let ep = Endpoint {
        address: inner.address.clone(),
        authkey: inner.authkey.clone(),
    };
    let asked = ep.server_detached("shutdown", Vec::new());
    client::forget(&inner.address);
    if inner.owner_pid != std::process::id() {
        return asked.map(|_| ());
    }
    if let Some(p) = lock(&inner.process).take() {
        // As Python's _finalize_manager: ask, wait a second, terminate, kill.
        let ended = matches!(p.join_timeout(Duration::from_secs(1)), Ok(true));
        if !ended {
            let _ = p.terminate();
            if !matches!(p.join_timeout(Duration::from_secs(1)), Ok(true)) {
                let _ = p.kill();
                let _ = p.join();
            }
        }
        return Ok(());
    }
    asked.map(|_| ())
}

/// A manager: a server process holding shared objects, which this handle creates and hands
/// out proxies to. Python's `multiprocessing.Manager()` / `BaseManager`.
///
/// Clones are handles to the same manager. A manager this process started
/// ([`start`](Self::start)) is shut down by [`shutdown`](Self::shutdown) or when its last
/// handle is dropped; one it connected to ([`connect`](Self::connect)) runs on.
#[derive(Clone)]
pub struct Manager {
    inner: Arc<Inner>,
}

impl fmt::Debug for Manager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Manager")
            .field("address", &self.inner.pipe_address)
            .field("started_here", &lock(&self.inner.process).is_some())
            .finish()
    }
}

static STARTED: AtomicU32 = AtomicU32::new(0);

/// Options for starting or connecting a manager: address, key, start method.
#[derive(Debug, Default)]
pub struct ManagerBuilder {
    address: Option<String>,
    authkey: Option<Authkey>,
    method: Option<StartMethod>,
}

impl ManagerBuilder {
    /// The address to serve at (default: a fresh Linux abstract socket name, reachable from
    /// this machine only). A TCP `host:port` makes it reachable from other machines (port 0:
    /// any free port; [`Manager::address`] says which).
    pub fn address(mut self, address: impl Into<String>) -> Self {
        self.address = Some(address.into());
        self
    }

    /// The key clients authenticate with (default: 32 random bytes).
    pub fn authkey(mut self, key: impl Into<Authkey>) -> Self {
        self.authkey = Some(key.into());
        self
    }

    /// How the server process is started (default: `multiproc-process`'s default).
    pub fn start_method(mut self, method: StartMethod) -> Self {
        self.method = Some(method);
        self
    }

    /// Starts a server process serving `SyncManager`'s type ids.
    pub fn start(self) -> Result<Manager, Error> {
        self.start_with::<SyncManager>()
    }

    /// Starts a server process serving `R`'s type ids.
    ///
    /// # Errors
    /// [`Error::Start`] when the process cannot be started; [`Error::Io`] when it cannot bind
    /// the address.
    pub fn start_with<R: Registrar>(self) -> Result<Manager, Error> {
        let authkey = match self.authkey {
            Some(k) => k,
            None => Authkey::random()?,
        };
        let address = match self.address {
            Some(a) => a,
            None => {
                let mut r = [0u8; 6];
                client::random_bytes(&mut r)?;
                let hex: String = r.iter().map(|b| format!("{b:02x}")).collect();
                format!(
                    "@multiproc-manager-{}-{}-{hex}",
                    std::process::id(),
                    STARTED.fetch_add(1, Ordering::Relaxed)
                )
            }
        };
        let (mut reader, writer) = pipe_one_way()?;
        let args = ServerArgs {
            address,
            authkey: authkey.as_bytes().to_vec(),
            report: writer,
        };
        let n = STARTED.load(Ordering::Relaxed);
        let mut p = Process::new(server_main::<R>, args)
            .with_daemon(multiproc_process::Daemon::Yes)
            .with_name(format!("SyncManager-{n}"));
        if let Some(m) = self.method {
            p = p.with_start_method(m);
        }
        p.start().map_err(Error::Start)?;
        let reported: Result<String, String> = match reader.recv_timeout(Duration::from_secs(30)) {
            Ok(r) => r,
            Err(e) => {
                let _ = p.kill();
                let _ = p.join();
                return Err(Error::from(e));
            }
        };
        let bound = match reported {
            Ok(a) => a,
            Err(why) => {
                let _ = p.join();
                return Err(Error::Io(std::io::Error::other(why)));
            }
        };
        let pipe_address: Address = bound.parse()?;
        let address = net::from_pipe(&pipe_address);
        client::remember_key(&address, &authkey);
        Ok(Manager {
            inner: Arc::new(Inner {
                address,
                pipe_address,
                authkey,
                process: Mutex::new(Some(p)),
                owner_pid: std::process::id(),
                shut: AtomicBool::new(false),
            }),
        })
    }
}

impl Manager {
    /// Starts a server process serving `SyncManager`'s type ids, at a fresh local address with
    /// a random key: Python's `multiprocessing.Manager()`.
    pub fn start() -> Result<Manager, Error> {
        Manager::builder().start()
    }

    /// Options: address, key, start method, then [`ManagerBuilder::start`] or
    /// [`ManagerBuilder::start_with`].
    pub fn builder() -> ManagerBuilder {
        ManagerBuilder::default()
    }

    /// A handle to the manager serving at `address` (ours or Python's), checked with one
    /// round trip: Python's `BaseManager(address, authkey).connect()`.
    ///
    /// # Errors
    /// [`Error::AuthenticationError`] for a wrong key; [`Error::Disconnected`] when nothing
    /// serves there.
    pub fn connect(address: impl ToAddress, authkey: impl Into<Authkey>) -> Result<Manager, Error> {
        let pipe_address = address.to_address()?;
        let address = net::from_pipe(&pipe_address);
        let authkey = authkey.into();
        let m = Manager {
            inner: Arc::new(Inner {
                address,
                pipe_address,
                authkey: authkey.clone(),
                process: Mutex::new(None),
                owner_pid: std::process::id(),
                shut: AtomicBool::new(false),
            }),
        };
        m.endpoint().server("dummy", Vec::new())?;
        client::remember_key(&m.inner.address, &authkey);
        Ok(m)
    }

    fn endpoint(&self) -> Endpoint {
        Endpoint {
            address: self.inner.address.clone(),
            authkey: self.inner.authkey.clone(),
        }
    }

    fn check_open(&self) -> Result<(), Error> {
        if self.inner.shut.load(Ordering::Acquire) {
            return Err(Error::Closed);
        }
        Ok(())
    }

    /// The address the server listens at.
    pub fn address(&self) -> &Address {
        &self.inner.pipe_address
    }

    /// The key clients authenticate with.
    pub fn authkey(&self) -> &Authkey {
        &self.inner.authkey
    }

    /// The server process's pid, when this handle started it.
    pub fn pid(&self) -> Option<u32> {
        lock(&self.inner.process).as_ref().and_then(Process::pid)
    }

    /// Asks the server to stop, and for one this process started, waits for its process to
    /// end (terminating it after a second, as Python does). Every proxy of it then fails with
    /// [`Error::Disconnected`].
    pub fn shutdown(&self) -> Result<(), Error> {
        shutdown(&self.inner)
    }

    /// How many objects the server holds (Python's `_number_of_objects`).
    pub fn number_of_objects(&self) -> Result<usize, Error> {
        self.check_open()?;
        let v = self.endpoint().server("number_of_objects", Vec::new())?;
        Ok(crate::from_value(v)?)
    }

    /// What the server holds, one object per line with its reference count (Python's
    /// `_debug_info`).
    pub fn debug_info(&self) -> Result<String, Error> {
        self.check_open()?;
        let v = self.endpoint().server("debug_info", Vec::new())?;
        Ok(crate::from_value(v)?)
    }

    /// Creates an object of `typeid` from `args` (none: `()`; several: a tuple) and returns a
    /// proxy of type `P` for it: Python's `manager.<typeid>(*args)`.
    pub fn create_as<P: Proxy, A: Serialize>(&self, typeid: &str, args: A) -> Result<P, Error> {
        let args = match to_value(&args)? {
            PyValue::None => Vec::new(),
            PyValue::Tuple(t) => t,
            one => vec![one],
        };
        self.create_raw(typeid, args).map(P::from_base)
    }

    /// Creates an object of a type of your own (registered with
    /// [`Registry::register`]) and returns its typed proxy.
    pub fn create<T: SharedObject, A: Serialize>(&self, args: A) -> Result<T::Proxy, Error> {
        self.create_as(T::TYPEID, args)
    }

    pub(crate) fn create_raw(
        &self,
        typeid: &str,
        mut args: Vec<PyValue>,
    ) -> Result<BaseProxy, Error> {
        self.check_open()?;
        args.insert(0, PyValue::str(typeid));
        let v = self.endpoint().server("create", args)?;
        let (id, exposed): (String, Vec<String>) = crate::from_value(v)?;
        let token = Token {
            typeid: typeid.to_owned(),
            address: self.inner.address.clone(),
            id,
        };
        Ok(BaseProxy::adopt(token, exposed, self.inner.authkey.clone()))
    }

    /// A proxy to a new `list` holding `items`.
    pub fn list<T: Serialize + DeserializeOwned>(
        &self,
        items: impl IntoIterator<Item = T>,
    ) -> Result<crate::ListProxy<T>, Error> {
        let items: Vec<PyValue> = items
            .into_iter()
            .map(|x| to_value(&x))
            .collect::<Result<_, _>>()?;
        self.create_raw("list", vec![PyValue::List(items)])
            .map(Proxy::from_base)
    }

    /// A proxy to a new, empty `dict`.
    pub fn dict<K: Serialize + DeserializeOwned, V: Serialize + DeserializeOwned>(
        &self,
    ) -> Result<crate::DictProxy<K, V>, Error> {
        self.create_raw("dict", Vec::new()).map(Proxy::from_base)
    }

    /// A proxy to a new, empty `Namespace`.
    pub fn namespace(&self) -> Result<crate::NamespaceProxy, Error> {
        self.create_raw("Namespace", Vec::new())
            .map(Proxy::from_base)
    }

    /// A proxy to a new `Queue` holding at most `maxsize` items (0: no limit).
    pub fn queue<T: Serialize + DeserializeOwned>(
        &self,
        maxsize: usize,
    ) -> Result<crate::QueueProxy<T>, Error> {
        self.create_raw("Queue", vec![PyValue::Int(maxsize as i128)])
            .map(Proxy::from_base)
    }

    /// A proxy to a new `JoinableQueue` (`task_done` and `join` work on both kinds).
    pub fn joinable_queue<T: Serialize + DeserializeOwned>(
        &self,
        maxsize: usize,
    ) -> Result<crate::QueueProxy<T>, Error> {
        self.create_raw("JoinableQueue", vec![PyValue::Int(maxsize as i128)])
            .map(Proxy::from_base)
    }

    /// A proxy to a new `Lock`.
    pub fn lock(&self) -> Result<crate::AcquirerProxy, Error> {
        self.create_raw("Lock", Vec::new()).map(Proxy::from_base)
    }

    /// A proxy to a new `RLock` (held per thread of the caller).
    pub fn rlock(&self) -> Result<crate::AcquirerProxy, Error> {
        self.create_raw("RLock", Vec::new()).map(Proxy::from_base)
    }

    /// A proxy to a new `Semaphore` with `value` permits.
    pub fn semaphore(&self, value: u32) -> Result<crate::AcquirerProxy, Error> {
        self.create_raw("Semaphore", vec![PyValue::Int(value.into())])
            .map(Proxy::from_base)
    }

    /// A proxy to a new `BoundedSemaphore` with `value` permits.
    pub fn bounded_semaphore(&self, value: u32) -> Result<crate::AcquirerProxy, Error> {
        self.create_raw("BoundedSemaphore", vec![PyValue::Int(value.into())])
            .map(Proxy::from_base)
    }

    /// A proxy to a new `Condition` (with its own `RLock`).
    pub fn condition(&self) -> Result<crate::ConditionProxy, Error> {
        self.create_raw("Condition", Vec::new())
            .map(Proxy::from_base)
    }

    /// A proxy to a new `Event`.
    pub fn event(&self) -> Result<crate::EventProxy, Error> {
        self.create_raw("Event", Vec::new()).map(Proxy::from_base)
    }

    /// A proxy to a new `Barrier` for `parties` callers, with a default timeout for `wait`.
    pub fn barrier(
        &self,
        parties: u32,
        timeout: Option<Duration>,
    ) -> Result<crate::BarrierProxy, Error> {
        let t = timeout.map_or(PyValue::None, |d| PyValue::Float(d.as_secs_f64()));
        self.create_raw(
            "Barrier",
            vec![PyValue::Int(parties.into()), PyValue::None, t],
        )
        .map(Proxy::from_base)
    }

    /// A proxy to a new `Value` holding `value` (Python's `manager.Value(typecode, value)`;
    /// the type code is what Python would pick for the value).
    pub fn value<T: Serialize + DeserializeOwned>(
        &self,
        value: T,
    ) -> Result<crate::ValueProxy<T>, Error> {
        let v = to_value(&value)?;
        let code = typecode(&v);
        self.create_raw("Value", vec![PyValue::str(code), v])
            .map(Proxy::from_base)
    }

    /// A proxy to a new `Array` with type code `typecode` (`'i'`, `'d'`, ...) holding `items`.
    pub fn array<T: Serialize + DeserializeOwned>(
        &self,
        typecode: &str,
        items: impl IntoIterator<Item = T>,
    ) -> Result<crate::ArrayProxy<T>, Error> {
        let items: Vec<PyValue> = items
            .into_iter()
            .map(|x| to_value(&x))
            .collect::<Result<_, _>>()?;
        self.create_raw("Array", vec![PyValue::str(typecode), PyValue::List(items)])
            .map(Proxy::from_base)
    }
}

fn typecode(v: &PyValue) -> &'static str {
    match v {
        PyValue::Int(_) => "i",
        PyValue::Float(_) => "d",
        PyValue::Bool(_) => "?",
        PyValue::Bytes(_) => "c",
        PyValue::Str(_) => "u",
        _ => "O",
    }
}
