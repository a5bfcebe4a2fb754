//! [`AsyncConnection`] and [`wait_async`]: connections in a tokio program (feature `tokio`).

use std::future::poll_fn;
use std::os::fd::{AsFd, BorrowedFd};
use std::task::Poll;

use multiproc_core::stream::{AsyncEndpoint, Framing};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::connection::Connection;
use crate::error::Error;

/// A [`Connection`] whose sends and receives are futures, on tokio's `AsyncFd`: a task that
/// waits for a message holds no thread, and an idle connection costs no CPU.
///
/// Make one with [`Connection::into_async`] inside a tokio runtime with I/O enabled (current-
/// thread or multi-thread), from any connection: either end of a [`pipe`](crate::pipe) or
/// [`pipe_one_way`](crate::pipe_one_way), one sent to this process, one from a
/// [`Listener`](crate::Listener) or a [`Client`](crate::Client). The peer may be synchronous,
/// async, or Python: the bytes are the same.
///
/// # Cancellation
///
/// Every future may be dropped at any `.await` — by `select!`, `tokio::time::timeout`, or a
/// runtime that shuts down — and the connection stays usable and in step, losing no message:
/// a dropped receive keeps what arrived of its message for the next one; a dropped send
/// either sent nothing (its message is dropped, never to arrive) or had begun, and then the
/// rest goes out before the next message (next send, [`flush`](Self::flush), or a synchronous
/// send after [`into_connection`](Self::into_connection)).
///
/// ```
/// use multiproc_pipe::pipe;
///
/// let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
/// rt.block_on(async {
///     let (a, b) = pipe()?;
///     let (mut a, mut b) = (a.into_async()?, b.into_async()?);
///     a.send(&"ping").await?;
///     assert_eq!(b.recv::<String>().await?, "ping");
///     // A receive bounded by tokio's timeout: nothing is lost when it runs out.
///     let late = tokio::time::timeout(std::time::Duration::from_millis(10), b.recv::<u8>()).await;
///     assert!(late.is_err());
///     a.send(&7u8).await?;
///     assert_eq!(b.recv::<u8>().await?, 7);
///     Ok::<(), multiproc_pipe::Error>(())
/// })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct AsyncConnection {
    end: AsyncEndpoint,
    readable: bool,
    writable: bool,
}

impl Connection {
    /// This connection with futures for its sends and receives (see [`AsyncConnection`]).
    ///
    /// # Errors
    /// [`Error::Io`] when the runtime's I/O driver refuses the descriptor.
    ///
    /// # Panics
    /// Outside a tokio runtime.
    pub fn into_async(self) -> Result<AsyncConnection, Error> {
        AsyncConnection::new(self)
    }
}

impl AsyncConnection {
    /// Registers `conn` with the current tokio runtime (see [`Connection::into_async`]).
    pub fn new(conn: Connection) -> Result<AsyncConnection, Error> {
        let (end, readable, writable) = conn.into_parts();
        Ok(AsyncConnection {
            end: AsyncEndpoint::new(end)?,
            readable,
            writable,
        })
    }

    /// The synchronous connection again (deregistered, blocking).
    pub fn into_connection(self) -> Connection {
        Connection::from_parts(self.end.into_inner(), self.readable, self.writable)
    }

    fn check_readable(&self) -> Result<(), Error> {
        if self.readable {
            Ok(())
        } else {
            Err(Error::NotReadable)
        }
    }

    fn check_writable(&self) -> Result<(), Error> {
        if self.writable {
            Ok(())
        } else {
            Err(Error::NotWritable)
        }
    }

    /// Sends a serde value (see [`Connection::send`]), waiting for room as long as it takes.
    pub async fn send<T: Serialize + ?Sized>(&mut self, obj: &T) -> Result<(), Error> {
        self.check_writable()?;
        Ok(self.end.send(obj).await?)
    }

    /// Sends `buf` as one message (see [`Connection::send_bytes`]).
    pub async fn send_bytes(&mut self, buf: &[u8]) -> Result<(), Error> {
        self.check_writable()?;
        Ok(self.end.send_bytes(buf).await?)
    }

    /// Sends what a dropped send left (nothing, usually).
    pub async fn flush(&mut self) -> Result<(), Error> {
        Ok(self.end.flush().await?)
    }

    /// Receives a serde value (see [`Connection::recv`]), waiting as long as it takes; bound
    /// the wait with `tokio::time::timeout`.
    pub async fn recv<T: DeserializeOwned>(&mut self) -> Result<T, Error> {
        self.check_readable()?;
        Ok(self.end.recv().await?)
    }

    /// Receives one message as bytes (see [`Connection::recv_bytes`]).
    pub async fn recv_bytes(&mut self) -> Result<Vec<u8>, Error> {
        self.check_readable()?;
        Ok(self.end.recv_bytes().await?)
    }

    /// Waits until a message (or the end of the stream) is there (Python's `poll(None)`);
    /// receives nothing.
    pub async fn ready(&self) -> Result<(), Error> {
        self.check_readable()?;
        Ok(self.end.readable().await?)
    }

    /// Whether this end can receive (Python's `readable`).
    pub fn readable(&self) -> bool {
        self.readable
    }

    /// Whether this end can send (Python's `writable`).
    pub fn writable(&self) -> bool {
        self.writable
    }

    /// How messages are laid out on this connection.
    pub fn framing(&self) -> Framing {
        self.end.get_ref().framing()
    }

    /// Whether handles (values that own descriptors) travel on this connection.
    pub fn carries_fds(&self) -> bool {
        self.end.get_ref().carries_fds()
    }

    /// The largest message this end sends or accepts.
    pub fn max_message(&self) -> usize {
        self.end.get_ref().max_message()
    }

    /// Sets the largest message this end sends or accepts (see
    /// [`Connection::set_max_message`]).
    pub fn set_max_message(&mut self, max: usize) {
        self.end.set_max_message(max);
    }
}

impl AsFd for AsyncConnection {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.end.as_fd()
    }
}

/// [`wait`](crate::wait) as a future: waits until at least one connection has a message (or
/// its peer closed), and gives the indices of those that have. Receives nothing: a receive on
/// a connection it names does not wait.
///
/// ```
/// use multiproc_pipe::{pipe, wait_async};
///
/// let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
/// rt.block_on(async {
///     let (a, b) = pipe()?;
///     let (c, d) = pipe()?;
///     let (mut a, b, c, mut d) = (a.into_async()?, b.into_async()?, c.into_async()?, d.into_async()?);
///     d.send(&1u8).await?;
///     assert_eq!(wait_async(&[&b, &c]).await?, vec![1]);
///     # a.send(&0u8).await?;
///     Ok::<(), multiproc_pipe::Error>(())
/// })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub async fn wait_async(connections: &[&AsyncConnection]) -> Result<Vec<usize>, Error> {
    poll_fn(|cx| {
        let mut ready = Vec::new();
        for (i, c) in connections.iter().enumerate() {
            match c.end.poll_readable(cx) {
                Poll::Ready(Ok(())) => ready.push(i),
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e.into())),
                Poll::Pending => {}
            }
        }
        if ready.is_empty() {
            Poll::Pending
        } else {
            Poll::Ready(Ok(ready))
        }
    })
    .await
}
