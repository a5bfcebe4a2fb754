//! Every OS call of `multiproc-fifo`, in one place.

use std::io;
use std::os::fd::OwnedFd;
use std::path::Path;

use rustix::fs::{CWD, FileType, Mode, OFlags};

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
pub(crate) fn open(path: &Path, write: bool, nonblock: bool) -> io::Result<OwnedFd> {
    let mut flags = if write {
        OFlags::WRONLY
    } else {
        OFlags::RDONLY
    } | OFlags::CLOEXEC;
    if nonblock {
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
