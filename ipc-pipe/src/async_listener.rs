//! [`AsyncListener`] and [`Client::connect_async`]: listeners and clients in a tokio program
//! (feature `tokio`).

use std::future::poll_fn;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::task::Poll;

use multiproc_core::stream::{AsyncEndpoint, Endpoint, Framing, StreamKind};
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

use crate::address::Address;
use crate::async_connection::AsyncConnection;
use crate::auth::Handshake;
use crate::client::{Client, after_auth, before_auth, connect_socket};
use crate::connection::{Connection, SocketKind};
use crate::error::Error;
use crate::listener::Listener;

/// A [`Listener`] whose [`accept`](Self::accept) is a future: the handshakes of all clients
/// that connected run side by side, as in the synchronous listener, while the task waits
/// without a thread.
///
/// ```
/// use multiproc_pipe::{Address, AsyncListener, Client, Framing, Listener};
///
/// let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
/// rt.block_on(async {
///     let listener = Listener::bind("@multiproc-pipe-async-doc".parse::<Address>()?, Framing::Native, Some(b"key"))?;
///     let address = listener.address().clone();
///     let mut listener = AsyncListener::new(listener);
///     let client = tokio::spawn(async move {
///         let mut c = Client::connect_async(&address, Framing::Native, Some(b"key")).await?;
///         c.send(&20u64).await?;
///         c.recv::<u64>().await
///     });
///     let mut conn = listener.accept().await?;
///     let n: u64 = conn.recv().await?;
///     conn.send(&(n + 1)).await?;
///     assert_eq!(client.await.unwrap()?, 21);
///     Ok::<(), multiproc_pipe::Error>(())
/// })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct AsyncListener {
    listener: Listener,
}

impl AsyncListener {
    /// Wraps a bound listener (its socket is non-blocking already).
    pub fn new(listener: Listener) -> AsyncListener {
        AsyncListener { listener }
    }

    /// The synchronous listener again.
    pub fn into_inner(self) -> Listener {
        self.listener
    }

    /// The listener (its address, framing, limits).
    pub fn get_ref(&self) -> &Listener {
        &self.listener
    }

    /// The listener, to change its handshake timeout or limit.
    pub fn get_mut(&mut self) -> &mut Listener {
        &mut self.listener
    }

    /// Waits for a client and returns its connection, authenticated when the listener has an
    /// authkey (see [`Listener::accept`]). Dropping the future drops nothing: handshakes under
    /// way carry on in the next call.
    ///
    /// # Errors
    /// As [`Listener::accept`]: [`Error::AuthenticationError`] for a client with a wrong key,
    /// the listener staying usable.
    pub async fn accept(&mut self) -> Result<AsyncConnection, Error> {
        loop {
            match self.listener.try_accept() {
                Ok(conn) => return conn.into_async(),
                Err(Error::Timeout) => {}
                Err(e) => return Err(e),
            }
            self.activity().await?;
        }
    }

    /// Waits until the listening socket or a client under way has something to read, or a
    /// handshake runs out of time.
    async fn activity(&self) -> Result<(), Error> {
        let fds: Vec<RawFd> = std::iter::once(self.listener.as_fd().as_raw_fd())
            .chain(self.listener.pending_fds())
            .collect();
        let mut watched = Vec::with_capacity(fds.len());
        for fd in fds {
            // SAFETY: `fd` is the listening socket or a pending client's, owned by
            // `self.listener`, which this call borrows for as long as the registration lives
            // (it is dropped at the end of this function): the number stays open and the same.
            let r = unsafe { AsyncFd::register_with_interest(fd, Interest::READABLE) };
            watched.push(r.map_err(|e| Error::Io(e.into()))?);
        }
        let any = poll_fn(|cx| {
            for w in &watched {
                match w.poll_read_ready(cx) {
                    Poll::Ready(Ok(_)) => return Poll::Ready(Ok(())),
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(Error::Io(e))),
                    Poll::Pending => {}
                }
            }
            Poll::Pending
        });
        match self.listener.next_handshake_deadline() {
            Some(d) => Ok(tokio::time::timeout_at(d.into(), any)
                .await
                .unwrap_or(Ok(()))?),
            None => any.await,
        }
    }
}

impl Client {
    /// [`Client::connect`] as a future: connects to `address` and, with an `authkey`,
    /// authenticates both ways, without holding a thread. Bound the wait with
    /// `tokio::time::timeout`; a dropped future closes the socket.
    ///
    /// # Errors
    /// As [`Client::connect`].
    pub async fn connect_async(
        address: impl Into<Address>,
        framing: Framing,
        authkey: Option<&[u8]>,
    ) -> Result<AsyncConnection, Error> {
        let address = address.into();
        let (fd, kind) = match &address {
            Address::Tcp(a) => {
                let s = tokio::net::TcpStream::connect(a).await?;
                s.set_nodelay(true)?;
                (OwnedFd::from(s.into_std()?), SocketKind::Tcp)
            }
            // A Unix socket connects at once (or fails at once).
            unix => connect_socket(unix, multiproc_core::Deadline::Forever)?,
        };
        let mut end = Endpoint::new(fd, StreamKind::SocketWithoutFds, framing);
        if let Some(key) = authkey {
            let mut hs = Handshake::client(key)?;
            before_auth(&mut end);
            let mut a = AsyncEndpoint::new(end)?;
            while !hs.done() {
                let msg = a.recv_bytes().await?;
                let answer = hs.answer(&msg);
                for r in &answer.replies {
                    let sent = a.send_bytes(r).await;
                    if answer.failed.is_none() {
                        sent?;
                    }
                }
                if let Some(e) = answer.failed {
                    return Err(e);
                }
            }
            end = a.into_inner();
            after_auth(&mut end);
        }
        end.set_kind(kind.stream_kind());
        Connection::from_endpoint(end).into_async()
    }
}
