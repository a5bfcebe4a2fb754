//! [`Fifo`]: a named pipe on the file system, and how its ends are opened.

use std::io;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use multiproc_core::{Deadline, fd, tracker};

use crate::error::Error;
use crate::reader::FifoReader;
use crate::sys::{self, Side, Wait};
use crate::writer::FifoWriter;

/// A named pipe on the file system (`mkfifo`): the handle that creates, checks and removes it,
/// and opens its ends.
///
/// Made by [`create`](Self::create) it is removed when dropped (unless
/// [`persist`](Self::persist)), and by the resource tracker of `multiproc-core` if the process
/// dies first; found by [`open`](Self::open) it is left alone.
///
/// Each end opens in the workspace's three shapes: [`open_reader`](Self::open_reader) waits
/// for a writer as long as it takes, [`try_open_reader`](Self::try_open_reader) never waits,
/// [`open_reader_timeout`](Self::open_reader_timeout) waits at most that long (and the same
/// for the writer).
///
/// # When not to use a fifo
///
/// A fifo is a byte stream with one reader side: several readers steal each other's bytes, and
/// it carries no file descriptors. Between a parent and its children, prefer `multiproc-pipe` (no
/// name to clean up); for many producers and consumers, `multiproc-queue`.
#[derive(Debug)]
pub struct Fifo {
    pub(crate) path: PathBuf,
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
            Err(Error::AlreadyExists(_)) => Fifo::open(path),
            other => other,
        }
    }

    /// A fifo that already exists; dropping the handle leaves it in place.
    ///
    /// # Errors
    /// [`Error::NotFound`], or [`Error::NotAFifo`] when the path is a regular file, a
    /// directory, a socket, ….
    pub fn open(path: impl AsRef<Path>) -> Result<Fifo, Error> {
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

    /// `unlink(path)`—Removes the fifo at `path`, whoever made it. Ends already open stay
    /// usable.
    ///
    /// # Errors
    /// [`Error::NotFound`], [`Error::PermissionDenied`].
    #[doc(alias = "unlink")]
    pub fn unlink_name(path: impl AsRef<Path>) -> Result<(), Error> {
        let path = path.as_ref();
        sys::unlink(path).map_err(|e| Error::at(path, e))
    }

    /// Removes this fifo's name now (whoever made it); ends already open stay usable.
    ///
    /// # Errors
    /// [`Error::NotFound`] when the name is already gone; [`Error::PermissionDenied`].
    pub fn unlink(mut self) -> Result<(), Error> {
        self.persist();
        Fifo::unlink_name(&self.path)
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

    /// Opens the read end, waiting as long as it takes for a writer.
    ///
    /// # Errors
    /// [`Error::PermissionDenied`], [`Error::NotFound`].
    pub fn open_reader(&self) -> Result<FifoReader, Error> {
        self.open_reader_until(Deadline::Forever)
    }

    /// Opens the read end at once, whether or not a writer is there (an `O_NONBLOCK` open; the
    /// end is then made blocking, and receives wait for data).
    pub fn try_open_reader(&self) -> Result<FifoReader, Error> {
        self.open_reader_until(Deadline::No)
    }

    /// Opens the read end, waiting at most `timeout` for a writer.
    ///
    /// # Errors
    /// [`Error::Timeout`] when no writer opened it in time; as [`open_reader`](Self::open_reader).
    pub fn open_reader_timeout(&self, timeout: Duration) -> Result<FifoReader, Error> {
        self.open_reader_until(Deadline::after(timeout))
    }

    pub(crate) fn open_reader_until(&self, deadline: Deadline) -> Result<FifoReader, Error> {
        Ok(FifoReader::new(open_end(&self.path, Side::Read, deadline)?))
    }

    /// Opens the write end, waiting as long as it takes for a reader.
    ///
    /// # Errors
    /// [`Error::PermissionDenied`], [`Error::NotFound`].
    pub fn open_writer(&self) -> Result<FifoWriter, Error> {
        self.open_writer_until(Deadline::Forever)
    }

    /// Opens the write end if a reader has the fifo open now; [`Error::Timeout`] if none has.
    pub fn try_open_writer(&self) -> Result<FifoWriter, Error> {
        self.open_writer_until(Deadline::No)
    }

    /// Opens the write end, waiting at most `timeout` for a reader.
    ///
    /// # Errors
    /// [`Error::Timeout`] when no reader opened it in time; as [`open_writer`](Self::open_writer).
    pub fn open_writer_timeout(&self, timeout: Duration) -> Result<FifoWriter, Error> {
        self.open_writer_until(Deadline::after(timeout))
    }

    pub(crate) fn open_writer_until(&self, deadline: Deadline) -> Result<FifoWriter, Error> {
        Ok(FifoWriter::new(open_end(
            &self.path,
            Side::Write,
            deadline,
        )?))
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

/// Opens one end of the fifo at `path`, which the kernel lets through only when the other end
/// is open too, waiting at most until `deadline`; the end is blocking.
///
/// A write end first tries a non-blocking open, which succeeds when a reader is there; with
/// [`Deadline::No`] a read end opens that way at once, writer or not. Otherwise, with time to
/// wait, a blocking open on a helper thread, bounded by the deadline: when it passes, this
/// process briefly opens the other end itself (without blocking) to release the helper, then
/// closes both.
pub(crate) fn open_end(path: &Path, side: Side, deadline: Deadline) -> Result<OwnedFd, Error> {
    if side == Side::Write || deadline == Deadline::No {
        match sys::open(path, side, Wait::No) {
            Ok(fd) => {
                fd::set_blocking(&fd)?;
                return Ok(fd);
            }
            Err(e) if sys::is_no_reader(&e) => {}
            Err(e) => return Err(Error::at(path, e)),
        }
    }
    let timeout = match deadline {
        Deadline::Forever => {
            return sys::open(path, side, Wait::Yes).map_err(|e| Error::at(path, e));
        }
        d => d.left().flatten().ok_or(Error::Timeout)?,
    };
    let (tx, rx) = mpsc::channel();
    let p = path.to_path_buf();
    let helper = std::thread::Builder::new()
        .name("multiproc-fifo-open".into())
        .spawn(move || {
            let _ = tx.send(sys::open(&p, side, Wait::Yes));
        })?;
    match rx.recv_timeout(timeout) {
        Ok(r) => {
            let _ = helper.join();
            r.map_err(|e| Error::at(path, e))
        }
        Err(_) => {
            release(path, side, &rx);
            let _ = helper.join();
            Err(Error::Timeout)
        }
    }
}

/// Lets a blocking open of `side` that nobody will meet return: plays the missing peer for an
/// instant. A non-blocking read open always succeeds; a non-blocking write open succeeds
/// because the helper is a reader waiting in `open`. What the helper opened is closed.
pub(crate) fn release(path: &Path, side: Side, opened: &mpsc::Receiver<io::Result<OwnedFd>>) {
    let peer = sys::open(path, side.other(), Wait::No);
    let late = opened.recv_timeout(Duration::from_secs(5));
    drop(peer);
    drop(late);
}
