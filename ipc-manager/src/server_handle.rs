//! [`Server`] and [`serve`]: a manager served by this process (Python's
//! `get_server().serve_forever()`).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use multiproc_core::stream::Framing;
use multiproc_pipe::{Address, Listener};

use crate::client::Authkey;
use crate::error::Error;
use crate::net::{self, Link};
use crate::registry::Registry;
use crate::server::{Core, serve_connection};

/// How long `serve_forever` waits in one `accept` before it looks whether it was asked to stop.
const ACCEPT_SLICE: Duration = Duration::from_millis(200);

/// Stack of a thread serving one connection (values nest at most 128 levels).
const CONNECTION_STACK: usize = 512 * 1024;

/// A manager's server, bound and ready to serve in this process: Python's
/// `BaseManager.get_server()`.
///
/// ```no_run
/// use multiproc_manager::{Registry, Server, ServerObject};
/// let mut registry = Registry::new();
/// registry.register_object("get_list", ServerObject::list(Vec::new()));
/// let server = Server::bind("127.0.0.1:9030", "secret", registry)?;
/// println!("listening on {}", server.address());
/// server.serve_forever()?;
/// # Ok::<(), multiproc_manager::Error>(())
/// ```
pub struct Server {
    listener: Listener,
    core: Arc<Core>,
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("address", self.listener.address())
            .finish()
    }
}

impl Server {
    /// Binds `address` (a TCP `host:port`, port 0 for any free port; a Unix socket path; or
    /// `@name` for a Linux abstract socket) with `authkey`, serving the type ids of
    /// `registry`.
    ///
    /// # Errors
    /// [`Error::Io`] when the address is in use or cannot be bound.
    pub fn bind(
        address: impl ToAddress,
        authkey: impl Into<Authkey>,
        registry: Registry,
    ) -> Result<Server, Error> {
        let address = address.to_address()?;
        let authkey = authkey.into();
        let listener = Listener::bind(address, Framing::Python, Some(authkey.as_bytes()))?;
        let core = Core::new(registry, net::from_pipe(listener.address()));
        Ok(Server { listener, core })
    }

    /// The address the server is bound to (with the port the kernel chose for port 0).
    pub fn address(&self) -> &Address {
        self.listener.address()
    }

    /// Serves until a client asks the server to `shutdown`; every connection is served by a
    /// thread of its own. Connections being served when it returns are served on until they
    /// close.
    ///
    /// # Errors
    /// None in practice: a client that fails to authenticate or breaks the protocol is
    /// dropped and the server goes on.
    pub fn serve_forever(mut self) -> Result<(), Error> {
        while !self.core.stopping() {
            match self.listener.accept_timeout(ACCEPT_SLICE) {
                Ok(conn) => {
                    let core = self.core.clone();
                    let spawned = std::thread::Builder::new()
                        .name("manager-connection".into())
                        .stack_size(CONNECTION_STACK)
                        .spawn(move || serve_connection(&core, &mut Link(conn)));
                    if let Err(e) = spawned {
                        // Out of threads: this client is dropped; the next may fare better.
                        log::warn!("dropped a connection: no thread to serve it: {e}");
                        std::thread::sleep(Duration::from_millis(10));
                    }
                }
                Err(multiproc_pipe::Error::Io(e)) if e.raw_os_error() == Some(24) => {
                    // Out of descriptors: give the connections being served time to close.
                    log::warn!("out of descriptors: waiting for connections to close");
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(multiproc_pipe::Error::Timeout) => {}
                Err(e) => log::info!("refused a connection: {e}"),
            }
        }
        Ok(())
    }

    /// How many objects the server holds references to (Python's `number_of_objects`).
    pub fn number_of_objects(&self) -> usize {
        self.core.number_of_objects()
    }
}

/// Something that names a manager's address: `"127.0.0.1:9030"`, `"/tmp/m.sock"`,
/// `"@name"` (a Linux abstract socket), a [`multiproc_pipe::Address`] or a `SocketAddr`.
pub trait ToAddress {
    /// The address.
    ///
    /// # Errors
    /// [`Error::Io`] when a host name does not resolve.
    fn to_address(self) -> Result<Address, Error>;
}

impl ToAddress for &str {
    fn to_address(self) -> Result<Address, Error> {
        self.parse::<Address>().map_err(Error::from)
    }
}

impl ToAddress for String {
    fn to_address(self) -> Result<Address, Error> {
        self.as_str().to_address()
    }
}

impl ToAddress for &String {
    fn to_address(self) -> Result<Address, Error> {
        self.as_str().to_address()
    }
}

impl ToAddress for Address {
    fn to_address(self) -> Result<Address, Error> {
        Ok(self)
    }
}

impl ToAddress for &Address {
    fn to_address(self) -> Result<Address, Error> {
        Ok(self.clone())
    }
}

impl ToAddress for std::net::SocketAddr {
    fn to_address(self) -> Result<Address, Error> {
        Ok(Address::Tcp(self))
    }
}

/// Serves a manager at `address` with `authkey` and `registry` in the foreground until a
/// client asks it to shut down: [`Server::bind`] then [`Server::serve_forever`].
pub fn serve(
    address: impl ToAddress,
    authkey: impl Into<Authkey>,
    registry: Registry,
) -> Result<(), Error> {
    Server::bind(address, authkey, registry)?.serve_forever()
}
