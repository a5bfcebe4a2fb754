//! [`Limits`]: what a server accepts before it refuses.

use std::time::Duration;

/// The bounds a [`Server`](crate::Server) holds every client to, so that bad or slow input
/// cannot hurt it or the other clients. Set with [`Server::limits`](crate::Server::limits).
///
/// ```
/// use std::time::Duration;
/// let limits = multiproc_rpc::Limits {
///     max_body: 1 << 20,
///     read_timeout: Duration::from_secs(2),
///     ..Default::default()
/// };
/// assert_eq!(limits.max_connections, 256);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest request body in bytes; a bigger `Content-Length` gets `413` before a byte of
    /// the body is read. Default 16 MiB.
    pub max_body: usize,
    /// Largest request head (request line and headers) in bytes; more gets `431`. Default
    /// 16 KiB.
    pub max_head: usize,
    /// Deepest nesting of arrays and structs in a request; deeper is a fault. Default 64.
    pub max_depth: usize,
    /// Time a client has to send a whole request once its first byte arrived; after it the
    /// server answers `408` and closes the connection. Default 10 s.
    pub read_timeout: Duration,
    /// Time a new connection has to send its first request whole (request line and headers);
    /// one that sends nothing by then is closed, one that is inside its head gets `408`. It
    /// keeps connections that never speak from holding places long. Default 5 s.
    pub first_request_timeout: Duration,
    /// Time a kept-alive connection may sit idle between requests before the server closes
    /// it. Default 30 s.
    pub idle_timeout: Duration,
    /// Time the server waits for a client to take a response off its socket. Default 10 s.
    pub write_timeout: Duration,
    /// Most connections served at once. When all places are taken, a new connection takes the
    /// place of the one that has waited longest for a request (kept-alive or never used),
    /// which is closed; only if every connection is inside a request does the new one get
    /// `503` and is closed. Default 256.
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body: 16 << 20,
            max_head: 16 << 10,
            max_depth: 64,
            read_timeout: Duration::from_secs(10),
            first_request_timeout: Duration::from_secs(5),
            idle_timeout: Duration::from_secs(30),
            write_timeout: Duration::from_secs(10),
            max_connections: 256,
        }
    }
}
