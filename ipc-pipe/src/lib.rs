//! Python's `multiprocessing.Pipe` for Rust: two connected ends that carry whole messages —
//! serde values (handles with file descriptors included, on a duplex pipe) or raw bytes — and
//! [`wait`] on many of them at once.
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
//! let (mut parent, child_end) = pipe(true)?;
//! let p = Process::new(child, child_end);
//! p.start()?;
//! let got: Vec<String> = parent.recv()?;
//! assert_eq!(got, ["hello"]);
//! p.join()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Messages, bytes, and what can go wrong
//!
//! Every message is framed (an 8-byte header, then the payload), so a receive gives exactly
//! one whole message: [`Connection::send`]/[`recv`](Connection::recv) for serde values,
//! [`send_bytes`](Connection::send_bytes)/[`recv_bytes`](Connection::recv_bytes)/
//! [`recv_bytes_into`](Connection::recv_bytes_into) for bytes, with no copy beyond the
//! kernel's on the send side and for large messages on the receive side. A peer that closed
//! or died is [`Error::Disconnected`] — on `recv` and on `send`, never a `SIGPIPE`, never a
//! hang; a message cut off by a peer's death is never delivered. A message above the limit
//! ([`Connection::set_max_message`], default 1 GiB) is refused by the sender before anything is
//! written and by the receiver from its header, before anything is allocated.
//!
//! # Comparison with Python multiprocessing
//!
//! | Python | `multiproc-pipe` | note |
//! |---|---|---|
//! | `Pipe()` / `Pipe(duplex=False)` | [`pipe(true)`](pipe) / [`pipe(false)`](pipe) | one-way returns `(reader, writer)` too |
//! | `conn.send(obj)`, `conn.recv()` | [`send`](Connection::send), [`recv`](Connection::recv), [`recv_timeout`](Connection::recv_timeout) | serde + postcard instead of pickle |
//! | `send_bytes(buf, offset, size)` | [`send_bytes`](Connection::send_bytes), [`send_bytes_range`](Connection::send_bytes_range) | one `writev`, no copy |
//! | `recv_bytes(maxlength)` | [`recv_bytes`](Connection::recv_bytes), [`recv_bytes_max`](Connection::recv_bytes_max) | too long: an error, and the connection stays usable |
//! | `recv_bytes_into(buf, offset)` | [`recv_bytes_into`](Connection::recv_bytes_into) | `BufferTooShort` carries the message, as in Python |
//! | `poll(timeout)` | [`poll`](Connection::poll) | |
//! | `EOFError`, `BrokenPipeError` | [`Error::Disconnected`] | also when the peer died mid-message |
//! | `connection.wait(objects, timeout)` | [`wait`] | connections, sentinels, any fd |
//! | sending a `Connection` to a child | a `Connection` is serde: a [`Process`](https://docs.rs/multiproc-process) argument, or a message on another duplex connection | |

mod connection;
mod error;
mod wait;

pub use connection::{Connection, Pipe, pipe};
pub use error::Error;
pub use wait::{Waitable, wait};
