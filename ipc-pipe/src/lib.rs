//! Python's `multiprocessing.connection` for Rust: [`pipe`]s with two connected ends that carry
//! whole messages — serde values (handles with file descriptors included, on a duplex pipe) or
//! raw bytes — [`wait`] on many of them at once, and a [`Listener`] and [`Client`] that connect
//! programs by address (a Unix socket, a Linux abstract name, TCP), authenticated with a shared
//! key and speaking Python's wire protocol, so that the other end can be a Python program.
//!
//! # Hello, world!
//!
//! ```
//! use multiproc_process::Process;
//! use multiproc_pipe::{pipe, Connection};
//!
//! fn child(mut conn: Connection) {
//!     conn.send(&vec!["hello".to_string()]).unwrap();
//! }
//!
//! let (mut parent, child_end) = pipe()?;
//! let p = Process::new(child, child_end);
//! p.start()?;
//! let got: Vec<String> = parent.recv()?;
//! assert_eq!(got, ["hello"]);
//! p.join()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Using it
//!
//! ```toml
//! [dependencies]
//! multiproc-pipe = "0.1"      # features = ["pickle"] to exchange values with Python, "tokio" for async
//! multiproc-process = "0.1"   # for the examples: Process
//! ```
//!
//! # Messages, bytes, and what can go wrong
//!
//! Every message is framed (a header, then the payload: see [`Framing`]), so a receive gives exactly
//! one whole message: [`Connection::send`]/[`recv`](Connection::recv) for serde values,
//! [`send_bytes`](Connection::send_bytes)/[`recv_bytes`](Connection::recv_bytes)/
//! [`recv_bytes_into`](Connection::recv_bytes_into) for bytes, with no copy beyond the
//! kernel's on the send side and for large messages on the receive side. A peer that closed
//! or died is [`Error::Disconnected`] — on `recv` and on `send`, never a `SIGPIPE`, never a
//! hang; a message cut off by a peer's death is never delivered. A message above the limit
//! ([`Connection::set_max_message`], default 1 GiB) is refused by the sender before anything is
//! written and by the receiver from its header, before anything is allocated.
//!
//! # Listener and Client
//!
//! A [`Listener`] binds an [`Address`] and gives a [`Connection`] for each client that
//! [`Client::connect`] connects; both take an optional authkey (Python's `authkey=`), and with
//! it run Python's HMAC challenge in both directions ([`deliver_challenge`],
//! [`answer_challenge`]): a wrong key is [`Error::AuthenticationError`] on both sides. A
//! connection got this way does what a duplex pipe's does: values, bytes, `poll`, [`wait`], and
//! — on a Unix socket in the native framing — handles with their descriptors.
//!
//! ```
//! use multiproc_pipe::{Address, Client, Framing, Listener};
//! let mut listener = Listener::bind("@multiproc-pipe-doc".parse::<Address>()?, Framing::Native, Some(b"key"))?;
//! let address = listener.address().clone();
//! let client = std::thread::spawn(move || -> Result<u64, multiproc_pipe::Error> {
//!     let mut conn = Client::connect(&address, Framing::Native, Some(b"key"))?;
//!     conn.send(&20u64)?;
//!     conn.recv()
//! });
//! let mut conn = listener.accept()?;
//! let n: u64 = conn.recv()?;
//! conn.send(&(n + 1))?;
//! assert_eq!(client.join().unwrap()?, 21);
//! # Ok::<(), multiproc_pipe::Error>(())
//! ```
//!
//! ## Which framing
//!
//! Both ends must use the same [`Framing`], chosen explicitly at [`Listener::bind`] and
//! [`Client::connect`]:
//!
//! - [`Framing::Python`] when the other end may be a Python program
//!   (`multiprocessing.connection.Listener` or `Client`): a 4-byte big-endian length per message,
//!   as Python writes it. Handles cannot travel ([`Error::CannotSendFds`]).
//! - [`Framing::Native`] between Rust programs on a Unix socket that pass handles (a `Lock`, a
//!   `Queue`, a `Connection`) over the connection: the length and the descriptor count, with
//!   the descriptors alongside.
//!
//! Over TCP neither carries handles: descriptors do not cross machines.
//!
//! ## Values with a Python peer
//!
//! With the `pickle` feature, `Connection::send_pickle` and `Connection::recv_pickle`
//! exchange plain values (ints, floats, str, bytes, None, bool, lists, tuples, dicts) with
//! Python's `send(obj)` and `recv()`, through `serde-pickle`, with a check of depth and decoded
//! size before decoding. [`send`](Connection::send)/[`recv`](Connection::recv) stay postcard,
//! for Rust peers; [`send_bytes`](Connection::send_bytes)/[`recv_bytes`](Connection::recv_bytes)
//! are the same bytes on both sides.
//!
//! # In a tokio program
//!
//! With the `tokio` feature (off by default: `multiproc-pipe = { version = "0.1", features =
//! ["tokio"] }`), [`Connection::into_async`] gives an [`AsyncConnection`] whose `send`, `recv`,
//! `send_bytes` and `recv_bytes` are futures on tokio's `AsyncFd` — a waiting task holds no
//! thread — [`wait_async`] waits on many, [`AsyncListener::accept`] and
//! [`Client::connect_async`] accept and connect. The peer may be synchronous, async or Python.
//! Any of these futures may be dropped (`select!`, `tokio::time::timeout`, a runtime shutting
//! down) without losing a message or leaving the connection out of step: see
//! [`AsyncConnection`].
//!
//! ```
//! # #[cfg(feature = "tokio")] {
//! use multiproc_pipe::{pipe, Connection};
//! use multiproc_process::Process;
//! use std::time::Duration;
//!
//! // A synchronous child: it doubles what it receives.
//! fn double(mut conn: Connection) {
//!     while let Ok(n) = conn.recv::<u64>() {
//!         conn.send(&(n * 2)).unwrap();
//!     }
//! }
//!
//! let (ours, theirs) = pipe()?;
//! let child = Process::new(double, theirs);
//! child.start()?;
//! let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
//! rt.block_on(async {
//!     let mut conn = ours.into_async()?;
//!     conn.send(&21u64).await?;
//!     let answer = tokio::time::timeout(Duration::from_secs(10), conn.recv::<u64>()).await;
//!     assert_eq!(answer.expect("in time")?, 42);
//!     Ok::<(), multiproc_pipe::Error>(())
//! })?;
//! child.join()?;
//! # }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Security
//!
//! The authkey authenticates the handshake only: each side proves it holds the key (an HMAC
//! over 40 fresh random bytes, compared in constant time), and that is all. **The traffic
//! after it is neither encrypted nor authenticated**: anyone on the path can read it, and
//! anyone who can inject packets into the TCP stream can change or add messages once the
//! handshake is done. The same holds for Python's own `multiprocessing.connection`. So:
//!
//! - on one machine, prefer a Unix socket (a path whose directory only the intended users can
//!   enter, or an abstract name) — the kernel's permissions then guard it, and the key is a
//!   second check;
//! - across machines, use TCP only on a network where every host is trusted, or carry the
//!   connection inside something that encrypts and authenticates every byte: an SSH tunnel
//!   (`ssh -L`), WireGuard or another VPN, or a TLS proxy (stunnel);
//! - keep the authkey secret and long (32 random bytes, as Python's `os.urandom(32)`); a
//!   listener without one on TCP must be asked for by name
//!   ([`Listener::bind_tcp_without_authkey`]);
//! - never unpickle from a peer you do not trust in Python; this crate's pickle decoder accepts
//!   plain values only and never runs code, but the Python side's `recv()` does unpickle
//!   anything.
//!
//! # Comparison with Python multiprocessing
//!
//! | Python | `multiproc-pipe` | note |
//! |---|---|---|
//! | `Pipe()` / `Pipe(duplex=False)` | [`pipe()`](pipe) / [`pipe_one_way()`](pipe_one_way) | one-way returns `(reader, writer)`, as Python does |
//! | `conn.send(obj)`, `conn.recv()` | [`send`](Connection::send), [`recv`](Connection::recv), [`try_recv`](Connection::try_recv), [`recv_timeout`](Connection::recv_timeout) | serde + postcard instead of pickle |
//! | `send_bytes(buf, offset, size)` | [`send_bytes`](Connection::send_bytes), [`send_bytes_range`](Connection::send_bytes_range) | one `writev`, no copy |
//! | `recv_bytes(maxlength)` | [`recv_bytes`](Connection::recv_bytes), [`recv_bytes_max`](Connection::recv_bytes_max) | too long: an error from the header, and the connection stays usable |
//! | `recv_bytes_into(buf, offset)` | [`recv_bytes_into`](Connection::recv_bytes_into) | `BufferTooShort` carries the message, as in Python |
//! | `poll()`, `poll(timeout)` | [`poll`](Connection::poll), [`poll_timeout`](Connection::poll_timeout) | `Duration::MAX` for `poll(None)` |
//! | `EOFError`, `BrokenPipeError` | [`Error::Disconnected`] | also when the peer died mid-message |
//! | `connection.wait(objects)`, `wait(objects, timeout)` | [`wait`], [`wait_timeout`] | connections, sentinels, any fd |
//! | `Listener(address, authkey=k)` | [`Listener::bind(address, framing, Some(k))`](Listener::bind) | the framing is explicit; TCP needs a key or [`bind_tcp_without_authkey`](Listener::bind_tcp_without_authkey) |
//! | `listener.accept()`, `address`, `last_accepted`, `close()` | [`accept`](Listener::accept), [`accept_timeout`](Listener::accept_timeout), [`address`](Listener::address), [`last_accepted`](Listener::last_accepted), [`close`](Listener::close) | handshakes of many clients run side by side; a silent one is dropped after a timeout |
//! | `Client(address, authkey=k)` | [`Client::connect(address, framing, Some(k))`](Client::connect), [`connect_timeout`](Client::connect_timeout) | TCP sets `TCP_NODELAY` |
//! | `deliver_challenge(conn, key)`, `answer_challenge(conn, key)` | [`deliver_challenge`], [`answer_challenge`] | both generations (`{sha256}` and bare HMAC-MD5) |
//! | `AuthenticationError` | [`Error::AuthenticationError`] with an [`AuthFailure`] | on both sides |
//! | `conn.send(obj)` / `recv()` to a Python peer (pickle) | `send_pickle` / `recv_pickle` (feature `pickle`) | plain values; depth and size checked first |
//! | (no async in Python's `multiprocessing`) | [`AsyncConnection`], [`wait_async`], [`AsyncListener`], [`Client::connect_async`] (feature `tokio`) | |
//! | sending a `Connection` to a child | a `Connection` is serde: a [`Process`](https://docs.rs/multiproc-process) argument, or a message on another duplex connection | |

mod address;
#[cfg(feature = "tokio")]
mod async_connection;
#[cfg(feature = "tokio")]
mod async_listener;
mod auth;
mod client;
mod connection;
mod error;
mod listener;
#[cfg(feature = "pickle")]
mod pickle;
mod sys;
mod wait;

pub use address::Address;
#[cfg(feature = "tokio")]
pub use async_connection::{AsyncConnection, wait_async};
#[cfg(feature = "tokio")]
pub use async_listener::AsyncListener;
pub use auth::{AuthFailure, PRE_AUTH_MAX, answer_challenge, deliver_challenge};
pub use client::Client;
pub use connection::{Connection, pipe, pipe_one_way};
pub use error::{CorruptReason, EncodeError, Error};
pub use listener::Listener;
pub use multiproc_core::stream::Framing;
#[cfg(feature = "pickle")]
pub use pickle::{PICKLE_MAX_DEPTH, PickleRule};
#[cfg(feature = "pickle")]
pub use serde_pickle;
pub use wait::{Waitable, wait, wait_timeout};

/// The examples of `README.md`, run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
