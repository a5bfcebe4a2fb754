//! Owned file descriptors and the helpers every crate needs around them.
//!
//! Descriptors are [`std::os::fd::OwnedFd`]: this module adds the flag helpers, an `EINTR` retry,
//! pipes and socket pairs that are close-on-exec from birth, and the one checked way to take
//! ownership of a descriptor number handed down by a parent.

use std::io;
use std::os::fd::{AsFd, FromRawFd, OwnedFd, RawFd};

use crate::error::{Error, Result};
use crate::futex::Deadline;
use crate::sys;
use crate::sys::fd::Flag;

/// Runs `f` again for as long as it fails with [`io::ErrorKind::Interrupted`] (`EINTR`).
///
/// Every call in `multiproc-core` already retries; this is for callers' own syscalls.
///
/// ```
/// use std::io::Read;
/// let mut buf = [0u8; 4];
/// let n = multiproc_core::fd::retry_eintr(|| (&b"abcd"[..]).read(&mut buf))?;
/// assert_eq!(n, 4);
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn retry_eintr<T>(mut f: impl FnMut() -> io::Result<T>) -> io::Result<T> {
    loop {
        match f() {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

/// `fcntl(fd, F_SETFD, FD_CLOEXEC)`—Sets close-on-exec: the descriptor is closed in a program
/// this process `exec`s.
///
/// Every descriptor `multiproc` creates is close-on-exec already.
///
/// # References
/// - [fcntl(2)](https://man7.org/linux/man-pages/man2/fcntl.2.html)
#[doc(alias = "FD_CLOEXEC")]
pub fn set_cloexec(fd: impl AsFd) -> io::Result<()> {
    sys::fd::set_cloexec(fd.as_fd(), Flag::Set)
}

/// `fcntl(fd, F_SETFD, 0)`—Clears close-on-exec: a program this process `exec`s inherits the
/// descriptor.
///
/// Clear it only for a descriptor a child should inherit across `exec` (and prefer
/// [`crate::transfer::spawn_with_channel`], which clears it in the child only).
///
/// # References
/// - [fcntl(2)](https://man7.org/linux/man-pages/man2/fcntl.2.html)
pub fn clear_cloexec(fd: impl AsFd) -> io::Result<()> {
    sys::fd::set_cloexec(fd.as_fd(), Flag::Clear)
}

/// Whether close-on-exec is set on `fd`.
pub fn is_cloexec(fd: impl AsFd) -> io::Result<bool> {
    sys::fd::is_cloexec(fd.as_fd())
}

/// `fcntl(fd, F_SETFL, O_NONBLOCK)`—Makes reads and writes on `fd` fail with
/// [`io::ErrorKind::WouldBlock`] instead of waiting.
///
/// The flag belongs to the open file, so every process that shares it sees it.
///
/// # References
/// - [fcntl(2)](https://man7.org/linux/man-pages/man2/fcntl.2.html)
#[doc(alias = "O_NONBLOCK")]
pub fn set_nonblocking(fd: impl AsFd) -> io::Result<()> {
    sys::fd::set_nonblocking(fd.as_fd(), Flag::Set)
}

/// `fcntl(fd, F_SETFL, flags & !O_NONBLOCK)`—Makes reads and writes on `fd` wait again.
///
/// # References
/// - [fcntl(2)](https://man7.org/linux/man-pages/man2/fcntl.2.html)
pub fn set_blocking(fd: impl AsFd) -> io::Result<()> {
    sys::fd::set_nonblocking(fd.as_fd(), Flag::Clear)
}

/// Whether `O_NONBLOCK` is set on `fd`.
pub fn is_nonblocking(fd: impl AsFd) -> io::Result<bool> {
    sys::fd::is_nonblocking(fd.as_fd())
}

/// `fcntl(fd, F_DUPFD_CLOEXEC, 0)`—A new descriptor for the same open file, close-on-exec.
#[doc(alias = "F_DUPFD_CLOEXEC")]
pub fn dup(fd: impl AsFd) -> io::Result<OwnedFd> {
    sys::fd::dup_cloexec(fd.as_fd())
}

/// `pipe2(O_CLOEXEC)`—Creates a pipe; returns `(read end, write end)`.
///
/// # References
/// - [pipe(2)](https://man7.org/linux/man-pages/man2/pipe.2.html)
#[doc(alias = "pipe2")]
pub fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    sys::fd::pipe()
}

/// `socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC)`—Two connected Unix stream sockets.
///
/// # References
/// - [socketpair(2)](https://man7.org/linux/man-pages/man2/socketpair.2.html)
pub fn socketpair() -> io::Result<(OwnedFd, OwnedFd)> {
    sys::net::socketpair_stream()
}

/// Whether the raw number `fd` names an open descriptor of this process.
pub fn is_open(fd: RawFd) -> bool {
    sys::fd::raw_fd_is_open(fd)
}

/// Takes ownership of a descriptor this process inherited under the number `raw`, after checking
/// that it is open; a closed or negative number is [`Error::BadFd`], not undefined behaviour.
/// The descriptor is made close-on-exec, so it does not leak further.
///
/// # Safety
///
/// Nothing else in this process may own `raw` (no other `OwnedFd`, `File`, … for it), now or
/// later: the returned `OwnedFd` closes it on drop.
///
/// ```
/// // A number that is certainly not open.
/// // SAFETY: nothing in this process owns descriptor 1,000,000; the call must refuse it.
/// let err = unsafe { multiproc_core::fd::claim_inherited(1_000_000) }.unwrap_err();
/// assert!(matches!(err, multiproc_core::Error::BadFd(1_000_000)));
/// ```
pub unsafe fn claim_inherited(raw: RawFd) -> Result<OwnedFd> {
    if !sys::fd::raw_fd_is_open(raw) {
        return Err(Error::BadFd(raw));
    }
    // SAFETY: `raw` is open (checked just above) and the caller guarantees nothing else owns it.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    sys::fd::set_cloexec(fd.as_fd(), Flag::Set)?;
    Ok(fd)
}

/// `poll`—Waits until at least one of `fds` is readable (or its peer hung up), at most until
/// `deadline` ([`Deadline::No`] looks without waiting, [`Deadline::Forever`] has no limit);
/// returns the indices of those that are, `[]` when the deadline passed.
///
/// ```
/// use multiproc_core::Deadline;
/// use std::io::Write;
/// use std::os::fd::AsFd;
/// use std::time::Duration;
/// let (r1, _w1) = multiproc_core::fd::pipe()?;
/// let (r2, w2) = multiproc_core::fd::pipe()?;
/// std::fs::File::from(w2).write_all(b"x")?;
/// let ready = multiproc_core::fd::wait_readable(
///     &[r1.as_fd(), r2.as_fd()],
///     Deadline::after(Duration::from_secs(1)),
/// )?;
/// assert_eq!(ready, vec![1]);
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// # References
/// - [poll(2)](https://man7.org/linux/man-pages/man2/poll.2.html)
#[doc(alias = "poll")]
pub fn wait_readable(
    fds: &[std::os::fd::BorrowedFd<'_>],
    deadline: Deadline,
) -> io::Result<Vec<usize>> {
    sys::fd::poll_many(fds, deadline)
}

/// `setsockopt(SO_SNDBUF, SO_RCVBUF)`—Asks for socket buffers of `bytes` in each direction
/// (capped by the kernel's `net.core.wmem_max` / `rmem_max`). Larger buffers let a stream of
/// 64 KiB messages flow without the writer stalling on every one.
///
/// # References
/// - [socket(7)](https://man7.org/linux/man-pages/man7/socket.7.html)
#[doc(alias = "SO_SNDBUF")]
pub fn set_socket_buffers(sock: impl AsFd, bytes: usize) -> io::Result<()> {
    sys::net::set_socket_buffers(sock.as_fd(), bytes)
}

/// `write(fd, buf)` that never raises `SIGPIPE`: a pipe or fifo whose reader is gone gives
/// [`io::ErrorKind::BrokenPipe`] instead, even in a process that did not ignore `SIGPIPE`.
/// Returns the bytes written (possibly fewer than `buf.len()`).
pub fn write_nosigpipe(fd: impl AsFd, buf: &[u8]) -> io::Result<usize> {
    sys::fd::writev_nosigpipe(fd.as_fd(), &[io::IoSlice::new(buf)])
}
