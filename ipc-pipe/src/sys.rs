//! Every OS call of `multiproc-pipe` that `std` and `multiproc-core` do not make for it.

use std::io;
use std::os::fd::BorrowedFd;

use rustix::io::Errno;

/// `getrandom(buf, 0)`—Fills `buf` from the kernel's random source (the same source as
/// Python's `os.urandom`), retrying `EINTR` and short reads.
///
/// # References
/// - [getrandom(2)](https://man7.org/linux/man-pages/man2/getrandom.2.html)
pub(crate) fn random_bytes(buf: &mut [u8]) -> io::Result<()> {
    let mut filled = 0;
    while filled < buf.len() {
        match rustix::rand::getrandom(&mut buf[filled..], rustix::rand::GetRandomFlags::empty()) {
            Ok(n) => filled += n,
            Err(Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// `read(fd, buf)` on a non-blocking descriptor: `Ok(None)` when nothing is there yet
/// (`EAGAIN`), `Ok(Some(0))` at end of stream.
pub(crate) fn read_nonblocking(fd: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<Option<usize>> {
    loop {
        match rustix::io::read(fd, &mut *buf) {
            Ok(n) => return Ok(Some(n)),
            Err(Errno::INTR) => {}
            Err(Errno::AGAIN) => return Ok(None),
            Err(e) => return Err(e.into()),
        }
    }
}
