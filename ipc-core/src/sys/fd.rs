//! Descriptors: their flags, pipes, reads and writes that never raise `SIGPIPE`, `poll`, and
//! files named by a path.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;
use std::time::{Duration, Instant};

use crate::futex::Deadline;

use rustix::fs::OFlags;
use rustix::io::{Errno, FdFlags};

use super::{id_of, retry};

/// Whether a descriptor flag is to be set or cleared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flag {
    Set,
    Clear,
}

/// `fcntl(F_SETFD)`: sets or clears `FD_CLOEXEC`.
pub(crate) fn set_cloexec(fd: BorrowedFd<'_>, to: Flag) -> io::Result<()> {
    let mut flags = retry(|| rustix::io::fcntl_getfd(fd))?;
    flags.set(FdFlags::CLOEXEC, to == Flag::Set);
    retry(|| rustix::io::fcntl_setfd(fd, flags))
}

pub(crate) fn is_cloexec(fd: BorrowedFd<'_>) -> io::Result<bool> {
    Ok(retry(|| rustix::io::fcntl_getfd(fd))?.contains(FdFlags::CLOEXEC))
}

/// `fcntl(F_SETFL)`: sets or clears `O_NONBLOCK`.
pub(crate) fn set_nonblocking(fd: BorrowedFd<'_>, to: Flag) -> io::Result<()> {
    let mut flags = retry(|| rustix::fs::fcntl_getfl(fd))?;
    flags.set(OFlags::NONBLOCK, to == Flag::Set);
    retry(|| rustix::fs::fcntl_setfl(fd, flags))
}

pub(crate) fn is_nonblocking(fd: BorrowedFd<'_>) -> io::Result<bool> {
    Ok(retry(|| rustix::fs::fcntl_getfl(fd))?.contains(OFlags::NONBLOCK))
}

/// `fcntl(fd, F_GETFD)` on a raw number: `Ok(true)` when it names an open descriptor.
pub(crate) fn raw_fd_is_open(raw: RawFd) -> bool {
    if raw < 0 {
        return false;
    }
    // SAFETY: the borrowed descriptor is used for one `fcntl(F_GETFD)`, which does not act on a
    // closed or foreign number beyond reporting EBADF; it is not kept past this call.
    let fd = unsafe { BorrowedFd::borrow_raw(raw) };
    !matches!(rustix::io::fcntl_getfd(fd), Err(Errno::BADF))
}

pub(crate) fn dup_cloexec(fd: BorrowedFd<'_>) -> io::Result<OwnedFd> {
    retry(|| rustix::io::fcntl_dupfd_cloexec(fd, 0))
}

pub(crate) fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    retry(|| rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC))
}

/// Clears `FD_CLOEXEC` on `fd` in a child between `fork` and `exec`.
/// Only a raw `fcntl`: async-signal-safe.
pub(crate) fn clear_cloexec_raw(fd: RawFd) -> io::Result<()> {
    // SAFETY: called in the child after fork, where `fd` is still open (it was open in the
    // parent and is closed only by exec); used for this one call only.
    let b = unsafe { BorrowedFd::borrow_raw(fd) };
    rustix::io::fcntl_setfd(b, FdFlags::empty()).map_err(io::Error::from)
}

/// Claims descriptor `fd` in the tracker process (inherited from its parent's `posix_spawn`),
/// close-on-exec and non-blocking.
///
/// # Safety
/// Nothing else in this process owns `fd`.
pub(crate) unsafe fn claim(fd: RawFd) -> io::Result<OwnedFd> {
    if !raw_fd_is_open(fd) {
        return Err(io::ErrorKind::NotFound.into());
    }
    // SAFETY: `fd` is open (checked) and owned by nothing else (the caller's contract).
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    set_cloexec(owned.as_fd(), Flag::Set)?;
    set_nonblocking(owned.as_fd(), Flag::Set)?;
    Ok(owned)
}

/// `close(fd)` on a raw number; async-signal-safe (for a `pthread_atfork` child handler).
pub(crate) fn close_raw(fd: RawFd) {
    // SAFETY: `close` on a number is async-signal-safe; the caller owns `fd` and forgets it.
    unsafe { libc::close(fd) };
}

/// `read(fd, buf)`, retrying `EINTR`. `WouldBlock` comes back as an error.
pub(crate) fn read(fd: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<usize> {
    retry(|| rustix::io::read(fd, &mut *buf))
}

/// `preadv2(fd, buf, -1, RWF_NOWAIT)`—A read that does not wait, on a pipe whose descriptor
/// may be blocking: `WouldBlock` when nothing is there. `Unsupported` where the kernel cannot
/// (Linux before 5.8 for pipes): the caller then polls first.
pub(crate) fn read_nowait(fd: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<usize> {
    use rustix::io::ReadWriteFlags;
    let r = retry(|| {
        let mut iov = [io::IoSliceMut::new(&mut *buf)];
        rustix::io::preadv2(fd, &mut iov, u64::MAX, ReadWriteFlags::NOWAIT)
    });
    match r {
        Err(e) if e.raw_os_error() == Some(Errno::OPNOTSUPP.raw_os_error()) => {
            Err(io::ErrorKind::Unsupported.into())
        }
        other => other,
    }
}

/// `pwritev2(fd, iov, -1, RWF_NOWAIT)`—A write that does not wait on a pipe whose
/// descriptor may be blocking: `WouldBlock` when it is full; never `SIGPIPE` (see
/// [`writev_nosigpipe`]). `Unsupported` where the kernel cannot.
pub(crate) fn writev_nowait(fd: BorrowedFd<'_>, iov: &[io::IoSlice<'_>]) -> io::Result<usize> {
    use rustix::io::ReadWriteFlags;
    let r = without_sigpipe(|| {
        retry(|| rustix::io::pwritev2(fd, iov, u64::MAX, ReadWriteFlags::NOWAIT))
    });
    match r {
        Err(e) if e.raw_os_error() == Some(Errno::OPNOTSUPP.raw_os_error()) => {
            Err(io::ErrorKind::Unsupported.into())
        }
        other => other,
    }
}

/// Whether this process ignores `SIGPIPE` (Rust's `main` sets that up; a program that restored
/// the default would be killed by a write to a pipe whose reader is gone).
pub(crate) fn sigpipe_ignored() -> bool {
    use std::sync::atomic::{AtomicU8, Ordering};
    static CACHE: AtomicU8 = AtomicU8::new(0);
    match CACHE.load(Ordering::Relaxed) {
        1 => return true,
        2 => return false,
        _ => {}
    }
    // SAFETY: a query only (`act == NULL`); `old` is a plain out-parameter.
    let ignored = unsafe {
        let mut old: libc::sigaction = std::mem::zeroed();
        libc::sigaction(libc::SIGPIPE, std::ptr::null(), &mut old) == 0
            && old.sa_sigaction == libc::SIG_IGN
    };
    CACHE.store(if ignored { 1 } else { 2 }, Ordering::Relaxed);
    ignored
}

/// `writev(fd, iov)` that never raises `SIGPIPE`: a reader that is gone is `EPIPE`.
pub(crate) fn writev_nosigpipe(fd: BorrowedFd<'_>, iov: &[io::IoSlice<'_>]) -> io::Result<usize> {
    without_sigpipe(|| retry(|| rustix::io::writev(fd, iov)))
}

/// Runs `write` (a write to a pipe) so that it cannot raise `SIGPIPE`.
///
/// When the process ignores `SIGPIPE` (every Rust program started through `main`) this is the
/// write alone. Otherwise `SIGPIPE` is blocked for this thread around the write and a `SIGPIPE`
/// it raised is consumed before unblocking, the standard way to write to a pipe safely.
fn without_sigpipe(write: impl FnOnce() -> io::Result<usize>) -> io::Result<usize> {
    if sigpipe_ignored() {
        return write();
    }
    // SAFETY: sigset manipulation on local values; pthread_sigmask affects this thread only and
    // the previous mask is restored below on every path.
    unsafe {
        let mut block: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut block);
        libc::sigaddset(&mut block, libc::SIGPIPE);
        let mut pending: libc::sigset_t = std::mem::zeroed();
        libc::sigpending(&mut pending);
        let was_pending = libc::sigismember(&pending, libc::SIGPIPE) == 1;
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::pthread_sigmask(libc::SIG_BLOCK, &block, &mut old);
        let r = write();
        if matches!(&r, Err(e) if e.raw_os_error() == Some(libc::EPIPE)) && !was_pending {
            let zero = libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            };
            libc::sigtimedwait(&block, std::ptr::null_mut(), &zero);
        }
        libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
        r
    }
}

/// `poll` for readability (or hang-up) of one descriptor until `deadline` (`Deadline::No`
/// looks once without waiting), retrying `EINTR` with the time left. `Ok(false)` on timeout.
pub(crate) fn poll_readable(fd: BorrowedFd<'_>, deadline: Deadline) -> io::Result<bool> {
    Ok(!poll_many(&[fd], deadline)?.is_empty())
}

/// `poll` for writability (or an error or hang-up) of one descriptor until `deadline`.
/// `Ok(false)` on timeout.
pub(crate) fn poll_writable(fd: BorrowedFd<'_>, deadline: Deadline) -> io::Result<bool> {
    use rustix::event::{PollFd, PollFlags};
    let mut pfd = [PollFd::new(&fd, PollFlags::OUT)];
    poll_until(&mut pfd, deadline)?;
    Ok(!pfd[0].revents().is_empty())
}

/// `poll` on many descriptors for readability (or hang-up); the indices that are ready, `[]` on
/// timeout. `EINTR` is retried with the time left.
pub(crate) fn poll_many(fds: &[BorrowedFd<'_>], deadline: Deadline) -> io::Result<Vec<usize>> {
    use rustix::event::{PollFd, PollFlags};
    let mut pfds: Vec<PollFd<'_>> = fds.iter().map(|f| PollFd::new(f, PollFlags::IN)).collect();
    poll_until(&mut pfds, deadline)?;
    Ok(pfds
        .iter()
        .enumerate()
        .filter(|(_, p)| !p.revents().is_empty())
        .map(|(i, _)| i)
        .collect())
}

/// `poll(fds)` until one is ready or `deadline` passes, retrying `EINTR` with the time left.
fn poll_until(fds: &mut [rustix::event::PollFd<'_>], deadline: Deadline) -> io::Result<()> {
    loop {
        let ts = match deadline {
            Deadline::Forever => None,
            Deadline::No => Some(Duration::ZERO),
            Deadline::Until(t) => Some(t.saturating_duration_since(Instant::now())),
        }
        .map(|d| rustix::time::Timespec {
            tv_sec: d.as_secs().min(i64::MAX as u64) as i64,
            tv_nsec: i64::from(d.subsec_nanos()),
        });
        match rustix::event::poll(fds, ts.as_ref()) {
            Ok(_) => return Ok(()),
            Err(Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

/// `fstat(fd)`: (device, inode) — which file this is, the same in every process that has it.
pub(crate) fn file_identity(fd: BorrowedFd<'_>) -> io::Result<(u64, u64)> {
    let st = retry(|| rustix::fs::fstat(fd))?;
    Ok((st.st_dev, st.st_ino))
}

/// (device, inode) of the file at `path` itself (`lstat`).
pub(crate) fn path_identity(path: &Path) -> io::Result<(u64, u64)> {
    Ok(id_of(&retry(|| rustix::fs::lstat(path))?))
}

/// `unlink(path)` if `path` is still the file `id` (checked by `lstat`; `(0, 0)` skips the
/// check). `Ok(false)` when it is gone or is another file.
pub(crate) fn unlink_path(path: &Path, id: (u64, u64)) -> io::Result<bool> {
    if id != (0, 0) {
        match retry(|| rustix::fs::lstat(path)) {
            Ok(st) if id_of(&st) == id => {}
            Ok(_) => return Ok(false),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(e),
        }
    }
    match retry(|| rustix::fs::unlink(path)) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}
