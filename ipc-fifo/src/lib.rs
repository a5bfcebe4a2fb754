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
//! # Opening, and peers that never come
//!
//! The kernel lets a fifo's read end open only once a writer opens it, and the other way
//! round. [`Fifo::open_reader`] and [`Fifo::open_writer`] wait at most a timeout for the peer
//! and say [`Error::Timeout`] if it never comes, instead of hanging; a writer whose reader is
//! gone gets [`Error::Disconnected`], never a `SIGPIPE`; a reader whose writers all closed gets
//! end of stream, which is not an error.
//!
//! # Comparison with Python multiprocessing
//!
//! Python has no fifo type: the seed uses `os.mkfifo` and `open`.
//!
//! | Python | `multiproc-fifo` | note |
//! |---|---|---|
//! | `os.mkfifo(path)` | [`Fifo::create`], [`Fifo::create_or_open`] | removed on drop by its creator, or by the resource tracker (`multiproc_core::tracker`) if the creator dies first |
//! | `open(path, 'r')` / `open(path, 'w')` | [`Fifo::open_reader`] / [`Fifo::open_writer`] | with a timeout: a peer that never comes is an error, not a hang |
//! | `os.open(path, os.O_RDONLY \| os.O_NONBLOCK)` | [`Fifo::open_reader_now`] | |
//! | `f.read()`, `f.write(s)` | [`Read`](std::io::Read), [`Write`](std::io::Write) | |
//! | pickling onto the stream | [`FifoWriter::send`] / [`FifoReader::recv`] | framed: a message arrives whole |
//! | two fifos, opened in the right order by hand | [`Duplex::connect`] | works whichever program starts first |
//! | `BrokenPipeError` / `SIGPIPE` | [`Error::Disconnected`] | |

mod duplex;
mod error;
mod fifo;
mod reader;
mod sys;
mod writer;

pub use duplex::Duplex;
pub use error::{CorruptReason, Error};
pub use fifo::Fifo;
pub use reader::FifoReader;
pub use writer::FifoWriter;
