//! [`ServerHandle`]: a running server, and its graceful shutdown.

use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread::JoinHandle;
use std::time::Duration;

use crate::server::Shared;

/// A server running on threads of its own, from [`Server::spawn`](crate::Server::spawn).
/// Dropping it shuts the server down, as [`shutdown`](Self::shutdown) does.
pub struct ServerHandle {
    addr: SocketAddr,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl ServerHandle {
    pub(crate) fn new(addr: SocketAddr, shared: Arc<Shared>, thread: JoinHandle<()>) -> Self {
        ServerHandle {
            addr,
            shared,
            thread: Some(thread),
        }
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://HOST:PORT/RPC2`, for a [`Client`](crate::Client) (an unspecified address such as
    /// `0.0.0.0` is given as loopback).
    pub fn url(&self) -> String {
        let mut a = self.addr;
        if a.ip().is_unspecified() {
            a.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
        }
        format!("http://{a}/RPC2")
    }

    /// How many connections are open now.
    pub fn connections(&self) -> usize {
        self.shared.conns.len()
    }

    /// Stops gracefully: accepts no more connections, lets every call in progress finish and
    /// send its answer, closes idle kept-alive connections, and waits (up to 5 s) for every
    /// connection thread to end.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        let Some(thread) = self.thread.take() else {
            return;
        };
        self.shared.stopping.store(true, Ordering::Release);
        // Wake the accept loop with a connection of our own.
        let mut wake = self.addr;
        if wake.ip().is_unspecified() {
            wake.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
        }
        let _ = TcpStream::connect_timeout(&wake, Duration::from_secs(1));
        let _ = thread.join();
        // Connections waiting for a request see end-of-file; one whose call is running still
        // writes its answer, then ends because the server is stopping.
        self.shared.conns.close_all(Duration::from_secs(5));
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        self.stop();
    }
}

impl std::fmt::Debug for ServerHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerHandle")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}
