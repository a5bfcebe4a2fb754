//! Every OS call of `multiproc-fifo`, in one place.

use std::io;
use std::os::fd::OwnedFd;
use std::path::Path;

use rustix::fs::{CWD, FileType, Mode, OFlags};

/// Which end of a fifo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    /// The read end (`O_RDONLY`).
    Read,
    /// The write end (`O_WRONLY`).
    Write,
}

impl Side {
    /// The other end.
    pub(crate) fn other(self) -> Side {
        match self {
            Side::Read => Side::Write,
            Side::Write => Side::Read,
        }
    }
}

/// Whether an `open` may wait for the other end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wait {
    /// A blocking open: returns once the other end is open too.
    Yes,
    /// `O_NONBLOCK`: a read end opens at once; a write end fails with `ENXIO` without a reader.
    No,
}

/// `mkfifo(path, mode)`.
pub(crate) fn mkfifo(path: &Path, mode: u32) -> io::Result<()> {
    rustix::fs::mkfifoat(CWD, path, Mode::from_raw_mode(mode)).map_err(Into::into)
}

/// What is at `path`: `Ok(Some(true))` a fifo, `Ok(Some(false))` something else, `Ok(None)`
/// nothing.
pub(crate) fn is_fifo(path: &Path) -> io::Result<Option<bool>> {
    match rustix::fs::stat(path) {
        Ok(st) => Ok(Some(FileType::from_raw_mode(st.st_mode) == FileType::Fifo)),
        Err(rustix::io::Errno::NOENT) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// `open(path, O_RDONLY or O_WRONLY | O_CLOEXEC [| O_NONBLOCK])`, retrying `EINTR`.
pub(crate) fn open(path: &Path, side: Side, wait: Wait) -> io::Result<OwnedFd> {
    let mut flags = match side {
        Side::Write => OFlags::WRONLY,
        Side::Read => OFlags::RDONLY,
    } | OFlags::CLOEXEC;
    if wait == Wait::No {
        flags |= OFlags::NONBLOCK;
    }
    loop {
        match rustix::fs::open(path, flags, Mode::empty()) {
            Err(rustix::io::Errno::INTR) => continue,
            r => return r.map_err(Into::into),
        }
    }
}

/// `unlink(path)`.
pub(crate) fn unlink(path: &Path) -> io::Result<()> {
    rustix::fs::unlink(path).map_err(Into::into)
}

/// `ENXIO`: opening a fifo for writing without blocking when no reader has it open.
pub(crate) fn is_no_reader(e: &io::Error) -> bool {
    e.raw_os_error() == Some(rustix::io::Errno::NXIO.raw_os_error())
}
