//! Named pipes (`mkfifo`) between programs that are not parent and child: create, open with a
//! timeout, and talk — raw bytes through [`Read`](std::io::Read)/[`Write`](std::io::Write), or
//! framed serde messages (the framing of `multiproc-pipe`); plus [`Duplex`], two fifos as one
//! two-way channel.
//!
//! # Hello, world!
//!
//! ```
//! use std::time::Duration;
//! use multiproc_fifo::Fifo;
//! use multiproc_process::Process;
//!
//! fn writer(path: String) {
//!     let fifo = Fifo::open(&path).unwrap();
//!     let mut w = fifo.open_writer_timeout(Duration::from_secs(10)).unwrap();
//!     w.send("hello, world").unwrap();
//! }
//!
//! let path = std::env::temp_dir().join(format!("ipc-doc-fifo-{}", std::process::id()));
//! let fifo = Fifo::create(&path, 0o600)?; // removed when `fifo` drops
//! let p = Process::new(writer, path.to_string_lossy().into_owned());
//! p.start()?;
//! let mut r = fifo.open_reader_timeout(Duration::from_secs(10))?;
//! assert_eq!(r.recv::<String>()?, Some("hello, world".to_string()));
//! assert_eq!(r.recv::<String>()?, None); // the writer closed: end of stream
//! p.join()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Using it
//!
//! ```toml
//! [dependencies]
//! multiproc-fifo = "0.1"      # features = ["tokio"] for async opens and messages
//! multiproc-process = "0.1"   # for the examples only: Process
//! ```
//!
//! # Opening, and peers that never come
//!
//! The kernel lets a fifo's read end open only once a writer opens it, and the other way
//! round. [`Fifo::open_reader_timeout`] and [`Fifo::open_writer_timeout`] wait at most a
//! timeout for the peer and say [`Error::Timeout`] if it never comes, instead of hanging
//! ([`open_reader`](Fifo::open_reader) waits as long as it takes,
//! [`try_open_writer`](Fifo::try_open_writer) not at all); a writer whose reader is gone gets
//! [`Error::Disconnected`], never a `SIGPIPE`; a reader whose writers all closed between
//! messages gets end of stream, which is not an error.
//!
//! # Messages
//!
//! [`FifoWriter::send`] and [`FifoReader::recv`] carry whole serde values in the framing of
//! `multiproc-pipe` (the framed endpoint of `multiproc_core::stream`), with the same limit
//! ([`set_max_message`](FifoReader::set_max_message)), the same outcomes and the same shapes:
//! `recv`, `try_recv`, `recv_timeout`. A writer that went away in the middle of a message is
//! [`Error::Disconnected`], as on a pipe.
//!
//! # In a tokio program
//!
//! With the `tokio` feature (off by default), [`Fifo::open_reader_async`] and
//! [`Fifo::open_writer_async`] open either end without holding a runtime thread (either side
//! may come first; the `_timeout_async` forms give up with [`Error::Timeout`] as the
//! synchronous ones do), and [`AsyncFifoReader`] / [`AsyncFifoWriter`] carry framed messages
//! (`recv`, `send`) or raw bytes (tokio's `AsyncRead` / `AsyncWrite`). A dropped future loses
//! nothing: a pending open is released, a receive keeps what arrived of its message.
//!
//! ```
//! # #[cfg(feature = "tokio")] {
//! use multiproc_fifo::Fifo;
//! use multiproc_process::Process;
//! use std::time::Duration;
//!
//! fn writer(path: String) {
//!     let mut w = Fifo::open(&path).unwrap().open_writer_timeout(Duration::from_secs(10)).unwrap();
//!     w.send(&"from a synchronous process").unwrap();
//! }
//!
//! let path = std::env::temp_dir().join(format!("multiproc-doc-afifo-{}", std::process::id()));
//! let fifo = Fifo::create(&path, 0o600)?;
//! let p = Process::new(writer, path.to_string_lossy().into_owned());
//! p.start()?;
//! let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
//! rt.block_on(async {
//!     let mut r = fifo.open_reader_timeout_async(Duration::from_secs(10)).await?;
//!     assert_eq!(r.recv::<String>().await?.as_deref(), Some("from a synchronous process"));
//!     assert_eq!(r.recv::<String>().await?, None);
//!     Ok::<(), multiproc_fifo::Error>(())
//! })?;
//! p.join()?;
//! # }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Comparison with Python multiprocessing
//!
//! Python has no fifo type: a Python program uses `os.mkfifo` and `open`.
//!
//! | Python | `multiproc-fifo` | note |
//! |---|---|---|
//! | `os.mkfifo(path)` | [`Fifo::create`], [`Fifo::create_or_open`] | removed on drop by its creator, or by the resource tracker (`multiproc_core::tracker`) if the creator dies first |
//! | `os.path.exists(path)` and a check of its type | [`Fifo::open`] | [`Error::NotAFifo`] for anything else |
//! | `os.unlink(path)` | [`Fifo::unlink`], [`Fifo::unlink_name`] | |
//! | `open(path, 'r')` / `open(path, 'w')` | [`Fifo::open_reader`] / [`Fifo::open_writer`], and `_timeout` | with a timeout, a peer that never comes is an error, not a hang |
//! | `os.open(path, os.O_RDONLY \| os.O_NONBLOCK)` | [`Fifo::try_open_reader`] | |
//! | `f.read()`, `f.write(s)` | [`Read`](std::io::Read), [`Write`](std::io::Write) | |
//! | pickling onto the stream | [`FifoWriter::send`] / [`FifoReader::recv`], [`try_recv`](FifoReader::try_recv), [`recv_timeout`](FifoReader::recv_timeout) | framed: a message arrives whole |
//! | two fifos, opened in the right order by hand | [`Duplex::connect`] | works whichever program starts first |
//! | `BrokenPipeError` / `SIGPIPE` | [`Error::Disconnected`] | |

#[cfg(feature = "tokio")]
mod async_fifo;
mod duplex;
mod error;
mod fifo;
mod reader;
mod sys;
mod writer;

#[cfg(feature = "tokio")]
pub use async_fifo::{AsyncFifoReader, AsyncFifoWriter};
pub use duplex::Duplex;
pub use error::{CorruptReason, Error};
pub use fifo::Fifo;
pub use reader::FifoReader;
pub use writer::FifoWriter;

/// The examples of `README.md`, run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
