//! [`Server`]: Python's `SimpleXMLRPCServer`, over HTTP/1.1 with keep-alive and limits.

use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::conns::{Admit, ConnTable};
use crate::handler::Handler;
use crate::http::{reason, response_bytes};
use crate::registry::{Entry, Registry};
use crate::serve::serve_connection;
use crate::{Fault, Instance, Limits, ServerHandle, Value};

/// An XML-RPC server, like Python's `SimpleXMLRPCServer`: bind, register functions (or an
/// object's methods), then [`serve_forever`](Self::serve_forever) or [`spawn`](Self::spawn).
///
/// It speaks HTTP/1.1 with keep-alive, serves each connection on its own thread up to
/// [`Limits::max_connections`], and holds every client to the [`Limits`]: a client that is
/// slow, sends too much, nests too deep or sends malformed XML gets a fault or a 4xx answer
/// and never delays the others.
///
/// ```
/// use multiproc_rpc::{Client, Server};
///
/// let mut server = Server::bind("127.0.0.1:0")?;
/// server.register_function("add", |x: i32, y: i32| x + y);
/// let handle = server.spawn()?;
///
/// let client = Client::new(&handle.url())?;
/// assert_eq!(client.call::<i32>("add", (2, 3))?, 5);
/// handle.shutdown();
/// # Ok::<(), multiproc_rpc::Error>(())
/// ```
pub struct Server {
    listener: TcpListener,
    registry: Registry,
    limits: Limits,
    rpc_paths: Vec<String>,
    allow_none: bool,
    encode_threshold: Option<usize>,
}

/// What the accept loop and the connection threads share.
pub(crate) struct Shared {
    pub(crate) registry: Registry,
    pub(crate) limits: Limits,
    pub(crate) rpc_paths: Vec<String>,
    pub(crate) allow_none: bool,
    pub(crate) encode_threshold: Option<usize>,
    pub(crate) stopping: AtomicBool,
    /// Open connections.
    pub(crate) conns: ConnTable,
}

impl Server {
    /// A server on `127.0.0.1` with a free port chosen by the system (see
    /// [`local_addr`](Self::local_addr)).
    ///
    /// # Errors
    ///
    /// The socket error, if binding fails.
    pub fn new() -> io::Result<Server> {
        Server::bind("127.0.0.1:0")
    }

    /// A server bound to `addr` (port 0 picks a free port). Connections queue from now on;
    /// they are served once [`serve_forever`](Self::serve_forever) or [`spawn`](Self::spawn)
    /// runs. Like Python, nothing is registered yet, not even introspection.
    ///
    /// # Errors
    ///
    /// The socket error, if binding fails (address in use, ...).
    pub fn bind(addr: impl ToSocketAddrs) -> io::Result<Server> {
        Ok(Server {
            listener: TcpListener::bind(addr)?,
            registry: Registry::default(),
            limits: Limits::default(),
            rpc_paths: vec!["/".into(), "/RPC2".into()],
            allow_none: false,
            encode_threshold: Some(1400),
        })
    }

    /// The address the server is bound to.
    ///
    /// # Errors
    ///
    /// The socket error, if the system cannot tell.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The paths served (Python's `rpc_paths`; default `/` and `/RPC2`). A request to any
    /// other path gets `404 Not Found`. An empty list serves every path.
    pub fn rpc_paths(&mut self, paths: &[&str]) -> &mut Self {
        self.rpc_paths = paths.iter().map(|p| p.to_string()).collect();
        self
    }

    /// The bounds every client is held to (see [`Limits`]).
    pub fn limits(&mut self, limits: Limits) -> &mut Self {
        self.limits = limits;
        self
    }

    /// Whether a result may contain `Nil` (Python's `allow_none`; default `false`, when such a
    /// result becomes Python's `TypeError` fault "cannot marshal None unless allow_none is
    /// enabled"). `nil` in a request is always accepted, as Python accepts it.
    pub fn allow_none(&mut self, allow: bool) -> &mut Self {
        self.allow_none = allow;
        self
    }

    /// Whether a dotted method name `a.b.c` is method `c` of the instance's member `a.b`
    /// (Python's `register_instance(obj, allow_dotted_names=True)`; default `false`, when the
    /// name goes to the instance whole). See [`Instance`] for the rules; only members an
    /// instance hands out through [`Instance::member`] are reachable, so this does not open
    /// what Python's warning is about. `system.listMethods` then lists members' methods as
    /// `member.method` too.
    pub fn allow_dotted_names(&mut self, allow: bool) -> &mut Self {
        self.registry.allow_dotted_names = allow;
        self
    }

    /// Gzips a response larger than `threshold` bytes when the client accepts gzip (Python's
    /// `encode_threshold`: 1400 by default, as Python's server; `None` never compresses).
    /// Gzipped requests are always accepted, and inflated within [`Limits::max_body`].
    pub fn encode_threshold(&mut self, threshold: Option<usize>) -> &mut Self {
        self.encode_threshold = threshold;
        self
    }

    /// Publishes `f` as method `name` (Python's `register_function(f, name)`). `f` is any
    /// `Fn(A, B, ...) -> R` whose arguments are `Deserialize` and whose result is `Serialize`
    /// or `Result<T, Fault>`; see [`Handler`]. Registering a name again replaces the method.
    pub fn register_function<A, M>(&mut self, name: &str, f: impl Handler<A, M>) -> &mut Self {
        self.register_function_with_help(name, "", f)
    }

    /// Like [`register_function`](Self::register_function), with the text
    /// `system.methodHelp` returns for it (Python takes it from the docstring).
    pub fn register_function_with_help<A, M>(
        &mut self,
        name: &str,
        help: &str,
        f: impl Handler<A, M>,
    ) -> &mut Self {
        self.registry.funcs.insert(
            name.to_string(),
            Entry::User(Box::new(move |n, p| f.call(n, p)), help.to_string()),
        );
        self
    }

    /// Publishes `f` as method `name`, taking the parameters as they came.
    pub fn register_raw(
        &mut self,
        name: &str,
        f: impl Fn(Vec<Value>) -> Result<Value, Fault> + Send + Sync + 'static,
    ) -> &mut Self {
        self.registry.funcs.insert(
            name.to_string(),
            Entry::User(Box::new(move |_, p| f(p)), String::new()),
        );
        self
    }

    /// Publishes an object's methods (Python's `register_instance`): a method that is not a
    /// registered function is looked up here. Only one instance is kept; registering another
    /// replaces it. Dotted names are traversed only with
    /// [`allow_dotted_names`](Self::allow_dotted_names).
    pub fn register_instance(&mut self, instance: impl Instance) -> &mut Self {
        self.registry.instance = Some(Box::new(instance));
        self
    }

    /// Adds `system.listMethods`, `system.methodHelp` and `system.methodSignature`, as
    /// Python's `register_introspection_functions` does.
    pub fn register_introspection_functions(&mut self) -> &mut Self {
        let f = &mut self.registry.funcs;
        f.insert("system.listMethods".into(), Entry::ListMethods);
        f.insert("system.methodHelp".into(), Entry::MethodHelp);
        f.insert("system.methodSignature".into(), Entry::MethodSignature);
        self
    }

    /// Adds `system.multicall`, as Python's `register_multicall_functions` does.
    pub fn register_multicall_functions(&mut self) -> &mut Self {
        self.registry
            .funcs
            .insert("system.multicall".into(), Entry::MultiCall);
        self
    }

    /// Calls `method` here, without the network: what a request for it would answer.
    pub fn dispatch(&self, method: &str, params: Vec<Value>) -> Result<Value, Fault> {
        self.registry.dispatch(method, params)
    }

    fn into_shared(self) -> (TcpListener, Arc<Shared>) {
        let shared = Arc::new(Shared {
            registry: self.registry,
            limits: self.limits,
            rpc_paths: self.rpc_paths,
            allow_none: self.allow_none,
            encode_threshold: self.encode_threshold,
            stopping: AtomicBool::new(false),
            conns: ConnTable::default(),
        });
        (self.listener, shared)
    }

    /// Serves on this thread until the process ends (Python's `serve_forever`).
    ///
    /// # Errors
    ///
    /// Only a failure of the listening socket itself; errors on one connection never end it.
    pub fn serve_forever(self) -> io::Result<()> {
        let (listener, shared) = self.into_shared();
        accept_loop(&listener, &shared)
    }

    /// Serves on a thread of its own; the returned handle stops it gracefully (also when
    /// dropped).
    ///
    /// # Errors
    ///
    /// If the thread cannot be started or the address is unknown.
    pub fn spawn(self) -> io::Result<ServerHandle> {
        let addr = self.local_addr()?;
        let (listener, shared) = self.into_shared();
        let s = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("rpc accept".into())
            .spawn(move || {
                let _ = accept_loop(&listener, &s);
            })?;
        Ok(ServerHandle::new(addr, shared, thread))
    }
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("addr", &self.listener.local_addr().ok())
            .field("rpc_paths", &self.rpc_paths)
            .field("limits", &self.limits)
            .field("allow_none", &self.allow_none)
            .field("methods", &self.registry.list_methods())
            .finish()
    }
}

fn accept_loop(listener: &TcpListener, shared: &Arc<Shared>) -> io::Result<()> {
    loop {
        let stream = match listener.accept() {
            Ok((s, _)) => s,
            Err(e) => match e.kind() {
                // One connection's trouble; also EMFILE: back off a little.
                io::ErrorKind::ConnectionAborted
                | io::ErrorKind::ConnectionReset
                | io::ErrorKind::Interrupted => continue,
                _ if e.raw_os_error() == Some(24) || e.raw_os_error() == Some(23) => {
                    log::warn!("accept: {e}; retrying in 10 ms");
                    std::thread::sleep(Duration::from_millis(10));
                    continue;
                }
                _ => return Err(e),
            },
        };
        if shared.stopping.load(Ordering::Acquire) {
            return Ok(());
        }
        let id = match shared.conns.admit(&stream, shared.limits.max_connections) {
            Ok(Admit::Yes(id)) => id,
            Ok(Admit::Full) => {
                refuse(stream, 503);
                continue;
            }
            Err(_) => continue,
        };
        let s = Arc::clone(shared);
        let refused = stream.try_clone();
        let spawned = std::thread::Builder::new()
            .name("rpc conn".into())
            .spawn(move || {
                serve_connection(&s, stream, id);
                s.conns.remove(id);
            });
        if spawned.is_err() {
            shared.conns.remove(id);
            if let Ok(stream) = refused {
                refuse(stream, 503);
            }
        }
    }
}

/// Answers `status` with no further ado and closes.
fn refuse(mut stream: TcpStream, status: u16) {
    use std::io::Write;
    let _ = stream.set_write_timeout(Some(Duration::from_millis(200)));
    let body = format!("{status} {}\n", reason(status));
    let headers = [("Content-Type", "text/plain"), ("Connection", "close")];
    let _ = stream.write_all(&response_bytes(status, &headers, body.as_bytes()));
}
