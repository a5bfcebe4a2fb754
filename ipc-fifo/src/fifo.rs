//! [`Fifo`], [`FifoReader`], [`FifoWriter`], [`Duplex`].

use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use multiproc_core::stream::{self, MessageReader, StreamKind};
use multiproc_core::{fd, frame, tracker, transfer};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::Error;
use crate::sys;

/// A named pipe on the file system (`mkfifo`): the handle that creates, checks and removes it,
/// and opens its ends.
///
/// Made by [`create`](Self::create) it is removed when dropped (unless
/// [`persist`](Self::persist)), and by the resource tracker of `multiproc-core` if the process
/// dies first; found by [`open_existing`](Self::open_existing) it is left alone.
///
/// # When not to use a fifo
///
/// A fifo is a byte stream with one reader side: several readers steal each other's bytes, and
/// it carries no file descriptors. Between a parent and its children, prefer `multiproc-pipe` (no
/// name to clean up); for many producers and consumers, `multiproc-queue`.
#[derive(Debug)]
pub struct Fifo {
    path: PathBuf,
    remove_on_drop: bool,
}

impl Fifo {
    /// `mkfifo(path, mode)`—Creates a named pipe; it is removed when the `Fifo` drops, or by
    /// the resource tracker (`multiproc_core::tracker`) if this process dies first.
    ///
    /// # Errors
    /// [`Error::AlreadyExists`] when the path is taken; [`Error::PermissionDenied`],
    /// [`Error::NotFound`] (no such directory).
    ///
    /// # References
    /// - [mkfifo(3)](https://man7.org/linux/man-pages/man3/mkfifo.3.html)
    #[doc(alias = "mkfifo")]
    pub fn create(path: impl AsRef<Path>, mode: u32) -> Result<Fifo, Error> {
        let path = path.as_ref();
        sys::mkfifo(path, mode).map_err(|e| Error::at(path, e))?;
        tracker::register(tracker::Kind::Path, path.as_os_str(), None);
        Ok(Fifo {
            path: path.to_path_buf(),
            remove_on_drop: true,
        })
    }

    /// Creates the fifo, or uses the one already there — for two programs either of which may
    /// start first. Only a `Fifo` that created it removes it on drop.
    ///
    /// # Errors
    /// [`Error::NotAFifo`] when something else is at the path.
    pub fn create_or_open(path: impl AsRef<Path>, mode: u32) -> Result<Fifo, Error> {
        let path = path.as_ref();
        match Fifo::create(path, mode) {
            Err(Error::AlreadyExists(_)) => Fifo::open_existing(path),
            other => other,
        }
    }

    /// A fifo that already exists; dropping the handle leaves it in place.
    ///
    /// # Errors
    /// [`Error::NotFound`], or [`Error::NotAFifo`] when the path is a regular file, a
    /// directory, a socket, ….
    pub fn open_existing(path: impl AsRef<Path>) -> Result<Fifo, Error> {
        let path = path.as_ref();
        match sys::is_fifo(path).map_err(|e| Error::at(path, e))? {
            None => Err(Error::NotFound(path.to_path_buf())),
            Some(false) => Err(Error::NotAFifo(path.to_path_buf())),
            Some(true) => Ok(Fifo {
                path: path.to_path_buf(),
                remove_on_drop: false,
            }),
        }
    }

    /// The path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Keeps the fifo on disk when this handle drops, or this process dies.
    pub fn persist(&mut self) {
        if self.remove_on_drop {
            tracker::unregister(tracker::Kind::Path, self.path.as_os_str());
        }
        self.remove_on_drop = false;
    }

    /// Opens the read end, waiting at most `timeout` (`None`: for ever) for a writer.
    ///
    /// # Errors
    /// [`Error::Timeout`] when no writer opened it in time; [`Error::PermissionDenied`].
    pub fn open_reader(&self, timeout: Option<Duration>) -> Result<FifoReader, Error> {
        let fd = open_waiting(&self.path, false, timeout)?;
        Ok(FifoReader::new(fd))
    }

    /// Opens the read end at once, whether or not a writer is there (`O_NONBLOCK` open; the
    /// end is then made blocking, and reads wait for data).
    pub fn open_reader_now(&self) -> Result<FifoReader, Error> {
        let fd = sys::open(&self.path, false, true).map_err(|e| Error::at(&self.path, e))?;
        fd::set_nonblocking(&fd, false)?;
        Ok(FifoReader::new(fd))
    }

    /// Opens the write end, waiting at most `timeout` (`None`: for ever) for a reader.
    ///
    /// # Errors
    /// [`Error::Timeout`] when no reader opened it in time; [`Error::PermissionDenied`].
    pub fn open_writer(&self, timeout: Option<Duration>) -> Result<FifoWriter, Error> {
        // Fast path: a reader is already there.
        match sys::open(&self.path, true, true) {
            Ok(fd) => {
                fd::set_nonblocking(&fd, false)?;
                return Ok(FifoWriter::new(fd));
            }
            Err(e) if sys::is_no_reader(&e) => {}
            Err(e) => return Err(Error::at(&self.path, e)),
        }
        let fd = open_waiting(&self.path, true, timeout)?;
        Ok(FifoWriter::new(fd))
    }
}

impl Drop for Fifo {
    fn drop(&mut self) {
        if self.remove_on_drop {
            let _ = sys::unlink(&self.path);
            tracker::unregister(tracker::Kind::Path, self.path.as_os_str());
        }
    }
}

/// A blocking `open` of one end, which the kernel lets through only when the other end is
/// opened too, bounded by `timeout`: the open runs on a helper thread; on timeout this process
/// briefly opens the other end itself (without blocking) to release it, then closes both.
fn open_waiting(path: &Path, write: bool, timeout: Option<Duration>) -> Result<OwnedFd, Error> {
    let Some(timeout) = timeout else {
        return sys::open(path, write, false).map_err(|e| Error::at(path, e));
    };
    let (tx, rx) = mpsc::channel();
    let p = path.to_path_buf();
    let helper = std::thread::Builder::new()
        .name("ipc-fifo-open".into())
        .spawn(move || {
            let _ = tx.send(sys::open(&p, write, false));
        })?;
    match rx.recv_timeout(timeout) {
        Ok(r) => {
            let _ = helper.join();
            r.map_err(|e| Error::at(path, e))
        }
        Err(_) => {
            // Play the missing peer for an instant. A non-blocking read open always succeeds; a
            // non-blocking write open succeeds because our helper is a reader waiting in open.
            let peer = sys::open(path, !write, true);
            let late = rx.recv_timeout(Duration::from_secs(5));
            drop(peer);
            drop(late);
            let _ = helper.join();
            Err(Error::Timeout)
        }
    }
}

/// The read end of a fifo: raw bytes ([`Read`]) or framed messages ([`recv`](Self::recv)) —
/// use one or the other on a given end.
///
/// When every writer has closed, a read gives end of stream: `Ok(0)` from [`Read`], `Ok(None)`
/// from `recv`. That is not an error: a later writer may open the fifo again.
#[derive(Debug)]
pub struct FifoReader {
    fd: OwnedFd,
    reader: MessageReader,
}

impl FifoReader {
    fn new(fd: OwnedFd) -> FifoReader {
        FifoReader {
            fd,
            reader: MessageReader::new(frame::DEFAULT_MAX_FRAME),
        }
    }

    /// Sets the largest message accepted (default 1 GiB).
    pub fn set_max_message(&mut self, max: usize) {
        self.reader.set_max(max);
    }

    fn recv_deadline<T: DeserializeOwned>(
        &mut self,
        deadline: Option<Instant>,
    ) -> Result<Option<T>, Error> {
        match self
            .reader
            .recv_with(self.fd.as_fd(), StreamKind::Pipe, deadline, |bytes, fds| {
                transfer::from_envelope::<T>(bytes, fds)
            }) {
            Ok(v) => Ok(Some(v?)),
            Err(multiproc_core::Error::Closed) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Receives one message written by [`FifoWriter::send`]; `Ok(None)` at end of stream.
    pub fn recv<T: DeserializeOwned>(&mut self) -> Result<Option<T>, Error> {
        self.recv_deadline(None)
    }

    /// [`recv`](Self::recv), giving up with [`Error::Timeout`] after `timeout`.
    pub fn recv_timeout<T: DeserializeOwned>(
        &mut self,
        timeout: Duration,
    ) -> Result<Option<T>, Error> {
        self.recv_deadline(Some(Instant::now() + timeout))
    }

    /// Receives one message written by [`FifoWriter::send_bytes`]; `Ok(None)` at end of stream.
    pub fn recv_bytes(&mut self) -> Result<Option<Vec<u8>>, Error> {
        let mut out = Vec::new();
        let mut fds = Vec::new();
        match self
            .reader
            .recv_into_vec(self.fd.as_fd(), StreamKind::Pipe, None, &mut out, &mut fds)
        {
            Ok(_) => Ok(Some(out)),
            Err(multiproc_core::Error::Closed) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}

impl Read for FifoReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        fd::retry_eintr(|| rustix::io::read(&self.fd, &mut *buf).map_err(Into::into))
    }
}

impl AsFd for FifoReader {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// The write end of a fifo: raw bytes ([`Write`]) or framed messages ([`send`](Self::send)).
/// A write after the reader is gone is [`Error::Disconnected`] (`BrokenPipe` from [`Write`]),
/// never a `SIGPIPE`.
#[derive(Debug)]
pub struct FifoWriter {
    fd: OwnedFd,
    wbuf: Vec<u8>,
    max: usize,
}

impl FifoWriter {
    fn new(fd: OwnedFd) -> FifoWriter {
        FifoWriter {
            fd,
            wbuf: Vec::new(),
            max: frame::DEFAULT_MAX_FRAME,
        }
    }

    /// Sets the largest message sent (default 1 GiB).
    pub fn set_max_message(&mut self, max: usize) {
        self.max = max;
    }

    /// Sends a serde value as one framed message (the same framing as `multiproc-pipe`). Messages up
    /// to `PIPE_BUF` (4096 bytes) with their 8-byte header are written atomically, so several
    /// writers do not interleave them.
    pub fn send<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        let mut buf = std::mem::take(&mut self.wbuf);
        buf.clear();
        let r = transfer::serialize_into(value, &mut buf)
            .map_err(Error::from)
            .and_then(|fds| {
                if !fds.is_empty() {
                    return Err(Error::CannotSendFds);
                }
                self.send_bytes(&buf)
            });
        self.wbuf = buf;
        r
    }

    /// Sends `buf` as one framed message.
    pub fn send_bytes(&mut self, buf: &[u8]) -> Result<(), Error> {
        if buf.len() > self.max {
            return Err(Error::TooLarge {
                len: buf.len() as u64,
                max: self.max,
            });
        }
        Ok(stream::send_message(
            self.fd.as_fd(),
            StreamKind::Pipe,
            buf,
            &[],
        )?)
    }
}

impl Write for FifoWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        fd::write_nosigpipe(&self.fd, buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl AsFd for FifoWriter {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// Two fifos used as one two-way channel between two programs, as in the seed's conversation:
/// this side reads `read_path` and writes `write_path`; the peer the other way round.
#[derive(Debug)]
pub struct Duplex {
    /// Where the peer's messages arrive.
    pub reader: FifoReader,
    /// Where this side's messages go.
    pub writer: FifoWriter,
    _fifos: [Fifo; 2],
}

impl Duplex {
    /// Creates the two fifos if needed (mode 0600) and opens both ends, waiting at most
    /// `timeout` for the peer.
    ///
    /// Works whichever program starts first: both sides create what is missing, and both open
    /// the two fifos in the same order — sorted by path — so neither waits on an open the other
    /// will only make later. The side that created a fifo removes it when dropped.
    pub fn connect(
        read_path: impl AsRef<Path>,
        write_path: impl AsRef<Path>,
        timeout: Option<Duration>,
    ) -> Result<Duplex, Error> {
        let (rp, wp) = (read_path.as_ref(), write_path.as_ref());
        let rf = Fifo::create_or_open(rp, 0o600)?;
        let wf = Fifo::create_or_open(wp, 0o600)?;
        let deadline = timeout.map(|t| Instant::now() + t);
        let left = || deadline.map(|d| d.saturating_duration_since(Instant::now()));
        let (reader, writer) = if rp <= wp {
            let r = rf.open_reader(left())?;
            (r, wf.open_writer(left())?)
        } else {
            let w = wf.open_writer(left())?;
            (rf.open_reader(left())?, w)
        };
        Ok(Duplex {
            reader,
            writer,
            _fifos: [rf, wf],
        })
    }

    /// Sends a value to the peer.
    pub fn send<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.writer.send(value)
    }

    /// Receives a value from the peer; `Ok(None)` when it closed its end.
    pub fn recv_timeout<T: DeserializeOwned>(
        &mut self,
        timeout: Duration,
    ) -> Result<Option<T>, Error> {
        self.reader.recv_timeout(timeout)
    }
}
