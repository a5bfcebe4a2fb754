//! [`Client`]: connects to a [`Listener`](crate::Listener) (ours or Python's).

use std::net::TcpStream;
use std::os::fd::OwnedFd;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr as UnixAddr, UnixStream};
use std::time::Duration;

use multiproc_core::Deadline;
use multiproc_core::stream::{DEFAULT_MAX_MESSAGE, Endpoint, Framing, ReadAhead, StreamKind};

use crate::address::Address;
use crate::auth::Handshake;
use crate::connection::{Connection, SocketKind};
use crate::error::Error;

/// Python's `multiprocessing.connection.Client(address, authkey=...)`: connects to a
/// [`Listener`](crate::Listener), ours or Python's, and gives a [`Connection`].
///
/// With an authkey, the handshake runs as Python's `Client` runs it: first the listener's
/// challenge is answered, then the listener is challenged in turn (see
/// [`answer_challenge`](crate::answer_challenge)); a wrong key on either side is
/// [`Error::AuthenticationError`].
///
/// Pick the [`Framing`] the listener uses: [`Framing::Python`] to talk to a Python listener (or
/// to one of ours that faces Python clients), [`Framing::Native`] to pass handles between Rust
/// peers on a Unix socket.
///
/// ```
/// use multiproc_pipe::{Address, Client, Framing, Listener};
/// let mut listener = Listener::bind("127.0.0.1:0".parse::<Address>()?, Framing::Python, Some(b"key"))?;
/// let address = listener.address().clone();
/// let t = std::thread::spawn(move || -> Result<Vec<u8>, multiproc_pipe::Error> {
///     let mut conn = Client::connect(&address, Framing::Python, Some(b"key"))?;
///     conn.send_bytes(b"ping")?;
///     conn.recv_bytes()
/// });
/// let mut conn = listener.accept()?;
/// let got = conn.recv_bytes()?;
/// conn.send_bytes(&got)?;
/// assert_eq!(t.join().unwrap()?, b"ping");
/// # Ok::<(), multiproc_pipe::Error>(())
/// ```
#[derive(Debug)]
pub struct Client {
    _not_constructed: (),
}

impl Client {
    /// Connects to `address` and, with an `authkey`, authenticates both ways. Waits as long as
    /// the connection and the handshake take.
    ///
    /// # Errors
    /// [`Error::AuthenticationError`] for a wrong key (on either side);
    /// [`Error::TooLarge`] for a handshake message above
    /// [`PRE_AUTH_MAX`](crate::PRE_AUTH_MAX) bytes; [`Error::Disconnected`] when the
    /// listener closes during the handshake; [`Error::Io`] when nothing listens there.
    pub fn connect(
        address: impl Into<Address>,
        framing: Framing,
        authkey: Option<&[u8]>,
    ) -> Result<Connection, Error> {
        connect_until(&address.into(), framing, authkey, Deadline::Forever)
    }

    /// [`connect`](Self::connect), giving up with [`Error::Timeout`] when the connection and
    /// the handshake together take longer than `timeout`.
    pub fn connect_timeout(
        address: impl Into<Address>,
        framing: Framing,
        authkey: Option<&[u8]>,
        timeout: Duration,
    ) -> Result<Connection, Error> {
        connect_until(&address.into(), framing, authkey, Deadline::after(timeout))
    }
}

fn connect_until(
    address: &Address,
    framing: Framing,
    authkey: Option<&[u8]>,
    deadline: Deadline,
) -> Result<Connection, Error> {
    let (fd, kind) = connect_socket(address, deadline)?;
    let mut end = Endpoint::new(fd, StreamKind::SocketWithoutFds, framing);
    if let Some(key) = authkey {
        run_client_handshake(&mut end, key, deadline)?;
    }
    end.set_kind(kind.stream_kind());
    Ok(Connection::from_endpoint(end))
}

/// A connected socket to `address`; a TCP connection gives up at `deadline`.
pub(crate) fn connect_socket(
    address: &Address,
    deadline: Deadline,
) -> Result<(OwnedFd, SocketKind), Error> {
    Ok(match address {
        Address::Unix(p) => (UnixStream::connect(p)?.into(), SocketKind::Unix),
        Address::Abstract(name) => {
            let a = UnixAddr::from_abstract_name(name)?;
            (UnixStream::connect_addr(&a)?.into(), SocketKind::Unix)
        }
        Address::Tcp(a) => {
            let s = match deadline {
                Deadline::Forever => TcpStream::connect(a),
                d => TcpStream::connect_timeout(a, d.left().flatten().ok_or(Error::Timeout)?),
            }
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => Error::Timeout,
                _ => e.into(),
            })?;
            s.set_nodelay(true)?;
            (s.into(), SocketKind::Tcp)
        }
    })
}

/// The client's side of the handshake, until `deadline`: messages of at most
/// [`PRE_AUTH_MAX`](crate::PRE_AUTH_MAX) bytes, no descriptors.
pub(crate) fn run_client_handshake(
    end: &mut Endpoint,
    key: &[u8],
    deadline: Deadline,
) -> Result<(), Error> {
    let mut hs = Handshake::client(key)?;
    before_auth(end);
    while !hs.done() {
        let msg = end.recv_bytes_until(deadline)?;
        hs.answer(&msg).send_with(|r| Ok(end.send_bytes(r)?))?;
    }
    after_auth(end);
    Ok(())
}

/// An endpoint before its peer is authenticated: messages of at most
/// [`PRE_AUTH_MAX`](crate::PRE_AUTH_MAX) bytes, and no byte read past each (the first message
/// after the handshake may carry descriptors, which only the connection may take).
pub(crate) fn before_auth(end: &mut Endpoint) {
    end.set_max_message(crate::PRE_AUTH_MAX);
    end.set_read_ahead(ReadAhead::No);
}

/// An endpoint whose peer is authenticated: the default limit, reads ahead again.
pub(crate) fn after_auth(end: &mut Endpoint) {
    end.set_max_message(DEFAULT_MAX_MESSAGE);
    end.set_read_ahead(ReadAhead::Yes);
}
