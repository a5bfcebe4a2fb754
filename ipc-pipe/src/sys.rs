//! Every OS call of `multiproc-pipe` that `std` and `multiproc-core` do not make for it.

use std::io;

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
