//! [`Client`]: connects to a [`Listener`](crate::Listener) (ours or Python's).

use std::net::TcpStream;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr as UnixAddr, UnixStream};
use std::time::{Duration, Instant};

use multiproc_core::fd;
use multiproc_core::stream::{self, Framing, StreamKind};

use crate::address::Address;
use crate::auth::{Handshake, PreAuthReader};
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
        connect_until(&address.into(), framing, authkey, None)
    }

    /// [`connect`](Self::connect), giving up with [`Error::Timeout`] when the connection and
    /// the handshake together take longer than `timeout`.
    pub fn connect_timeout(
        address: impl Into<Address>,
        framing: Framing,
        authkey: Option<&[u8]>,
        timeout: Duration,
    ) -> Result<Connection, Error> {
        connect_until(
            &address.into(),
            framing,
            authkey,
            Some(Instant::now() + timeout),
        )
    }
}

fn left(deadline: Option<Instant>) -> Result<Option<Duration>, Error> {
    match deadline {
        None => Ok(None),
        Some(d) => match d.checked_duration_since(Instant::now()) {
            Some(l) if !l.is_zero() => Ok(Some(l)),
            _ => Err(Error::Timeout),
        },
    }
}

fn connect_until(
    address: &Address,
    framing: Framing,
    authkey: Option<&[u8]>,
    deadline: Option<Instant>,
) -> Result<Connection, Error> {
    let (fd, kind): (OwnedFd, SocketKind) = match address {
        Address::Unix(p) => (UnixStream::connect(p)?.into(), SocketKind::Unix),
        Address::Abstract(name) => {
            let a = UnixAddr::from_abstract_name(name)?;
            (UnixStream::connect_addr(&a)?.into(), SocketKind::Unix)
        }
        Address::Tcp(a) => {
            let s = match left(deadline)? {
                Some(t) => TcpStream::connect_timeout(a, t),
                None => TcpStream::connect(a),
            }
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => Error::Timeout,
                _ => e.into(),
            })?;
            s.set_nodelay(true)?;
            (s.into(), SocketKind::Tcp)
        }
    };
    if let Some(key) = authkey {
        fd::set_nonblocking(&fd, true)?;
        run_client_handshake(fd.as_fd(), framing, key, deadline)?;
        fd::set_nonblocking(&fd, false)?;
    }
    Ok(Connection::from_socket(fd, kind, framing))
}

/// Sends one handshake message on a socket.
pub(crate) fn send_pre_auth(fd: BorrowedFd<'_>, framing: Framing, msg: &[u8]) -> Result<(), Error> {
    Ok(stream::send_framed(
        fd,
        StreamKind::Socket,
        framing,
        msg,
        &[],
    )?)
}

/// The client's side of the handshake on a non-blocking socket, until `deadline`.
fn run_client_handshake(
    fd: BorrowedFd<'_>,
    framing: Framing,
    key: &[u8],
    deadline: Option<Instant>,
) -> Result<(), Error> {
    let mut hs = Handshake::client(key)?;
    let mut rd = PreAuthReader::new(framing);
    while !hs.done() {
        let Some(msg) = rd.read(fd)? else {
            if fd::wait_readable(&[fd], left(deadline)?)?.is_empty() {
                return Err(Error::Timeout);
            }
            continue;
        };
        match hs.feed(&msg) {
            Ok(replies) => {
                for r in replies {
                    send_pre_auth(fd, framing, &r)?;
                }
            }
            Err(failed) => {
                if let Some(reply) = failed.reply {
                    let _ = send_pre_auth(fd, framing, reply);
                }
                return Err(failed.error);
            }
        }
    }
    Ok(())
}
