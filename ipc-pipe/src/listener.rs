//! [`Listener`]: accepts connections on an address, authenticating each one.

use std::collections::VecDeque;
use std::fmt;
use std::net::TcpListener;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr as UnixAddr, UnixListener};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use multiproc_core::stream::{Endpoint, Framing, StreamKind};
use multiproc_core::{Deadline, fd};

use crate::address::Address;
use crate::auth::Handshake;
use crate::client::{after_auth, before_auth};
use crate::connection::{Connection, SocketKind};
use crate::error::Error;

/// How long a client may take over the handshake, by default.
const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The most handshakes under way at once; past it the oldest is dropped.
const MAX_PENDING: usize = 128;

enum Socket {
    Unix(UnixListener),
    Tcp(TcpListener),
}

/// A client whose handshake is under way.
struct Pending {
    /// The client's socket, refusing descriptors and messages above
    /// [`PRE_AUTH_MAX`](crate::PRE_AUTH_MAX) until the handshake is done.
    end: Endpoint,
    kind: SocketKind,
    peer: Address,
    handshake: Handshake,
    deadline: Instant,
}

/// What one step of a pending handshake came to.
enum Step {
    Waiting,
    Done(Connection),
    Failed(Error),
}

/// Python's `multiprocessing.connection.Listener`: a bound, listening socket that gives a
/// [`Connection`] for each client, after an authentication handshake when it has an authkey.
///
/// # Addresses and framing
///
/// An [`Address`] is a Unix socket path (removed again when the listener that made it is
/// dropped), a Linux abstract name, or TCP `host:port` (port 0 picks a free port;
/// [`address`](Self::address) tells the real one). The [`Framing`] is chosen at `bind` and
/// applies to every connection: [`Framing::Python`] when Python programs may connect
/// (`multiprocessing.connection.Client`), [`Framing::Native`] when Rust peers on a Unix socket
/// pass handles (values that own descriptors) over the connections. TCP connections never
/// carry handles ([`Error::CannotSendFds`]), and set `TCP_NODELAY`.
///
/// # Authentication, and clients that say nothing
///
/// With an authkey, each client is challenged and must challenge back, exactly as Python's
/// `Listener.accept` and `Client` do it (see [`deliver_challenge`](crate::deliver_challenge)).
/// Python runs the handshake inside `accept`, one client at a time, so a client that connects
/// and says nothing holds up every other. Here the handshakes of all clients that have
/// connected run side by side inside `accept`, on non-blocking sockets: `accept` returns the
/// first client to complete its handshake, whatever the others do. A client that has not
/// completed it within the [handshake timeout](Self::set_handshake_timeout) (10 s by
/// default) is dropped; so is the oldest one when 128 are under way. A client's messages
/// before it is authenticated may hold at most
/// [`PRE_AUTH_MAX`](crate::PRE_AUTH_MAX) bytes: a longer one is refused from its
/// header, before anything is allocated.
///
/// `accept` returns [`Error::AuthenticationError`] for a client with a wrong key (as Python
/// raises `AuthenticationError`), and [`Error::TooLarge`] or [`Error::Corrupt`] for one that
/// breaks the protocol; the listener stays usable: call `accept` again. A client that hangs
/// up during its handshake is dropped without a word.
///
/// A TCP listener needs an authkey, or the explicit
/// [`bind_tcp_without_authkey`](Self::bind_tcp_without_authkey). See the crate's security
/// section for what the authkey does and does not protect.
///
/// ```
/// use multiproc_pipe::{Address, Client, Framing, Listener};
/// let dir = std::env::temp_dir().join(format!("listener-doc-{}", std::process::id()));
/// let mut listener = Listener::bind(dir.clone(), Framing::Native, Some(b"secret"))?;
/// let address = listener.address().clone();
/// let t = std::thread::spawn(move || {
///     let mut c = Client::connect(&address, Framing::Native, Some(b"secret")).unwrap();
///     c.send(&(1u8, "one")).unwrap();
/// });
/// let mut conn = listener.accept()?;
/// assert_eq!(conn.recv::<(u8, String)>()?, (1, "one".to_string()));
/// t.join().unwrap();
/// drop(listener);
/// assert!(!dir.exists(), "the socket file is removed with the listener");
/// # Ok::<(), multiproc_pipe::Error>(())
/// ```
pub struct Listener {
    sock: Socket,
    address: Address,
    framing: Framing,
    authkey: Option<Vec<u8>>,
    pending: VecDeque<Pending>,
    handshake_timeout: Duration,
    max_message: usize,
    last_accepted: Option<Address>,
    /// The socket file to remove on drop, and the process that made it (a forked child's copy
    /// must not remove its parent's file).
    unlink: Option<(PathBuf, u32)>,
}

impl fmt::Debug for Listener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Listener")
            .field("address", &self.address)
            .field("framing", &self.framing)
            .field("authenticated", &self.authkey.is_some())
            .field("pending", &self.pending.len())
            .finish()
    }
}

fn unix_peer(a: &UnixAddr) -> Address {
    if let Some(p) = a.as_pathname() {
        return Address::Unix(p.to_path_buf());
    }
    match a.as_abstract_name() {
        Some(name) => Address::Abstract(name.to_vec()),
        None => Address::Unix(PathBuf::new()),
    }
}

impl Listener {
    /// Binds `address` and listens (Python's `Listener(address, authkey=authkey)`), with the
    /// [`Framing`] every connection will use. With `authkey`, every client is authenticated in
    /// [`accept`](Self::accept).
    ///
    /// # Errors
    /// [`Error::AuthkeyRequired`] for a TCP address without an authkey;
    /// [`Error::Io`] when the address is in use (`AddrInUse`) or cannot be bound.
    pub fn bind(
        address: impl Into<Address>,
        framing: Framing,
        authkey: Option<&[u8]>,
    ) -> Result<Listener, Error> {
        let address = address.into();
        if address.is_tcp() && authkey.is_none() {
            return Err(Error::AuthkeyRequired);
        }
        Self::bind_any(address, framing, authkey)
    }

    /// Binds a TCP `address` with no authentication at all: anyone who can reach the port gets a
    /// connection. Only for a network where every host is trusted; see the crate's security
    /// section.
    pub fn bind_tcp_without_authkey(
        address: impl Into<Address>,
        framing: Framing,
    ) -> Result<Listener, Error> {
        Self::bind_any(address.into(), framing, None)
    }

    fn bind_any(
        address: Address,
        framing: Framing,
        authkey: Option<&[u8]>,
    ) -> Result<Listener, Error> {
        let (sock, real, unlink) = match &address {
            Address::Unix(p) => {
                let l = UnixListener::bind(p)?;
                let unlink = Some((p.clone(), std::process::id()));
                (Socket::Unix(l), address.clone(), unlink)
            }
            Address::Abstract(name) => {
                let l = UnixListener::bind_addr(&UnixAddr::from_abstract_name(name)?)?;
                (Socket::Unix(l), address.clone(), None)
            }
            Address::Tcp(a) => {
                let l = TcpListener::bind(a)?;
                let real = Address::Tcp(l.local_addr()?);
                (Socket::Tcp(l), real, None)
            }
        };
        let listener = Listener {
            sock,
            address: real,
            framing,
            authkey: authkey.map(<[u8]>::to_vec),
            pending: VecDeque::new(),
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
            max_message: multiproc_core::stream::DEFAULT_MAX_MESSAGE,
            last_accepted: None,
            unlink,
        };
        fd::set_nonblocking(listener.as_fd())?;
        Ok(listener)
    }

    /// The address this listener is bound to: with TCP port 0, the port the kernel chose
    /// (Python's `address`).
    pub fn address(&self) -> &Address {
        &self.address
    }

    /// The peer address of the last connection [`accept`](Self::accept) returned (Python's
    /// `last_accepted`); an unnamed Unix client is `Address::Unix("")`.
    pub fn last_accepted(&self) -> Option<&Address> {
        self.last_accepted.as_ref()
    }

    /// The framing of every connection this listener gives.
    pub fn framing(&self) -> Framing {
        self.framing
    }

    /// How long a client may take to complete the handshake before it is dropped (default
    /// 10 s).
    pub fn set_handshake_timeout(&mut self, timeout: Duration) {
        self.handshake_timeout = timeout;
    }

    /// The handshake timeout.
    pub fn handshake_timeout(&self) -> Duration {
        self.handshake_timeout
    }

    /// Sets the largest message the connections this listener gives send or accept, in bytes
    /// (default 1 GiB); see [`Connection::set_max_message`]. Handshake messages are limited to
    /// [`PRE_AUTH_MAX`](crate::PRE_AUTH_MAX) bytes whatever this says.
    pub fn set_max_message(&mut self, max: usize) {
        self.max_message = max;
    }

    /// The largest message the connections this listener gives send or accept.
    pub fn max_message(&self) -> usize {
        self.max_message
    }

    /// Waits for a client and returns its connection, authenticated when this listener has an
    /// authkey (Python's `accept`). See the [type docs](Self) for how clients that say nothing
    /// are handled.
    ///
    /// # Errors
    /// [`Error::AuthenticationError`] for a client with a wrong key, [`Error::TooLarge`] /
    /// [`Error::Corrupt`] for one that breaks the protocol (the listener stays usable);
    /// [`Error::Io`] when `accept` fails (for example, out of descriptors).
    pub fn accept(&mut self) -> Result<Connection, Error> {
        self.accept_until(Deadline::Forever)
    }

    /// [`accept`](Self::accept), giving up with [`Error::Timeout`] after `timeout`; handshakes
    /// under way carry on in the next call.
    pub fn accept_timeout(&mut self, timeout: Duration) -> Result<Connection, Error> {
        self.accept_until(Deadline::after(timeout))
    }

    /// [`accept`](Self::accept) without waiting: a client whose handshake completes with what
    /// has already arrived, or [`Error::Timeout`].
    pub fn try_accept(&mut self) -> Result<Connection, Error> {
        self.accept_until(Deadline::No)
    }

    /// Closes the listener (Python's `close`): clients whose handshake is under way are
    /// dropped, and a Unix socket file this listener made is removed.
    pub fn close(self) {}

    /// The sockets of the clients whose handshake is under way.
    #[cfg(feature = "tokio")]
    pub(crate) fn pending_fds(&self) -> Vec<std::os::fd::RawFd> {
        use std::os::fd::AsRawFd;
        self.pending.iter().map(|p| p.end.as_raw_fd()).collect()
    }

    /// When the next client whose handshake is under way runs out of time.
    #[cfg(feature = "tokio")]
    pub(crate) fn next_handshake_deadline(&self) -> Option<Instant> {
        self.pending.iter().map(|p| p.deadline).min()
    }

    fn accept_until(&mut self, deadline: Deadline) -> Result<Connection, Error> {
        loop {
            let now = Instant::now();
            // Clients that did not complete their handshake in time are dropped.
            self.pending.retain(|p| p.deadline > now);
            let wake = self
                .pending
                .iter()
                .map(|p| p.deadline)
                .fold(deadline, earlier);
            let ready = {
                let mut fds: Vec<BorrowedFd<'_>> = vec![self.as_fd()];
                fds.extend(self.pending.iter().map(|p| p.end.as_fd()));
                fd::wait_readable(&fds, wake)?
            };
            // Handshakes first, last index first so that removals keep the others' indices.
            for &i in ready.iter().rev().filter(|&&i| i > 0) {
                match self.step(i - 1) {
                    Step::Waiting | Step::Failed(Error::Disconnected) => {}
                    Step::Done(conn) => return Ok(conn),
                    Step::Failed(e) => return Err(e),
                }
            }
            if ready.first() == Some(&0)
                && let Some(conn) = self.accept_new()?
            {
                return Ok(conn);
            }
            if deadline.is_over() {
                return Err(Error::Timeout);
            }
        }
    }

    /// Accepts every client waiting in the backlog; starts the handshake of each, or, without
    /// an authkey, returns the first.
    fn accept_new(&mut self) -> Result<Option<Connection>, Error> {
        loop {
            let accepted = match &self.sock {
                Socket::Unix(l) => l
                    .accept()
                    .map(|(s, a)| (OwnedFd::from(s), SocketKind::Unix, unix_peer(&a))),
                Socket::Tcp(l) => l.accept().and_then(|(s, a)| {
                    s.set_nodelay(true)?;
                    Ok((OwnedFd::from(s), SocketKind::Tcp, Address::Tcp(a)))
                }),
            };
            let (sock, kind, peer) = match accepted {
                Ok(a) => a,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Ok(None),
                // The client went away between connect and accept.
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionAborted => continue,
                Err(e) => return Err(e.into()),
            };
            let Some(key) = &self.authkey else {
                let end = Endpoint::new(sock, kind.stream_kind(), self.framing);
                return Ok(Some(self.finish(end, peer)));
            };
            let (handshake, challenge) = Handshake::listener(key)?;
            // No descriptors and no byte past each handshake message: the client's first
            // message after it may carry descriptors, which only the connection may take.
            let mut end = Endpoint::new(sock, StreamKind::SocketWithoutFds, self.framing);
            before_auth(&mut end);
            if end.send_bytes(&challenge).is_err() {
                continue;
            }
            if self.pending.len() == MAX_PENDING {
                self.pending.pop_front();
            }
            self.pending.push_back(Pending {
                end,
                kind,
                peer,
                handshake,
                deadline: Instant::now() + self.handshake_timeout,
            });
        }
    }

    /// Reads what client `i` sent and moves its handshake on.
    fn step(&mut self, i: usize) -> Step {
        let p = &mut self.pending[i];
        let outcome = loop {
            if p.handshake.done() {
                break Ok(true);
            }
            let msg = match p.end.recv_bytes_until(Deadline::No) {
                Ok(m) => m,
                Err(multiproc_core::Error::Timeout) => break Ok(false),
                Err(e) => break Err(Error::from(e)),
            };
            let end = &mut p.end;
            if let Err(e) = p
                .handshake
                .answer(&msg)
                .send_with(|r| Ok(end.send_bytes(r)?))
            {
                break Err(e);
            }
        };
        match outcome {
            Ok(false) => Step::Waiting,
            Ok(true) => {
                let mut p = self.pending.remove(i).expect("index in range");
                p.end.set_kind(p.kind.stream_kind());
                after_auth(&mut p.end);
                Step::Done(self.finish(p.end, p.peer))
            }
            Err(e) => {
                self.pending.remove(i);
                Step::Failed(e)
            }
        }
    }

    fn finish(&mut self, mut end: Endpoint, peer: Address) -> Connection {
        self.last_accepted = Some(peer);
        end.set_max_message(self.max_message);
        Connection::from_endpoint(end)
    }
}

/// The earlier of `deadline` and `t`.
fn earlier(deadline: Deadline, t: Instant) -> Deadline {
    match deadline {
        Deadline::Until(d) => Deadline::Until(d.min(t)),
        Deadline::Forever => Deadline::Until(t),
        other => other,
    }
}

impl AsFd for Listener {
    /// The listening socket (readable when a client is waiting to be accepted).
    fn as_fd(&self) -> BorrowedFd<'_> {
        match &self.sock {
            Socket::Unix(l) => l.as_fd(),
            Socket::Tcp(l) => l.as_fd(),
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        if let Some((path, pid)) = self.unlink.take()
            && pid == std::process::id()
        {
            let _ = std::fs::remove_file(path);
        }
    }
}
