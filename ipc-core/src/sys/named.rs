//! OS calls for memory whose size another process may change: copying through the descriptor
//! (`pread`/`pwrite`, which report the end of the object instead of faulting on it) and reading
//! a memfd's seals.

use std::io;
use std::os::fd::BorrowedFd;

use rustix::fs::SealFlags;

use super::retry;

/// `pread` until `buf` is full or the object ends; returns the bytes read (fewer than
/// `buf.len()` only at the end of the object).
pub(crate) fn pread_all(fd: BorrowedFd<'_>, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    let mut done = 0;
    while done < buf.len() {
        let at = offset + done as u64;
        match retry(|| rustix::io::pread(fd, &mut buf[done..], at))? {
            0 => break,
            n => done += n,
        }
    }
    Ok(done)
}

/// `pwrite` of all of `data` at `offset`; returns the bytes written.
pub(crate) fn pwrite_all(fd: BorrowedFd<'_>, data: &[u8], offset: u64) -> io::Result<usize> {
    let mut done = 0;
    while done < data.len() {
        let at = offset + done as u64;
        match retry(|| rustix::io::pwrite(fd, &data[done..], at))? {
            0 => break,
            n => done += n,
        }
    }
    Ok(done)
}

/// `fcntl(fd, F_GET_SEALS)` contains `F_SEAL_SHRINK`: no holder of the descriptor can make the
/// object smaller, so a mapping of its current size never faults past its end. `false` for a
/// descriptor that cannot carry seals (a named object, a plain file, a socket).
pub(crate) fn is_shrink_sealed(fd: BorrowedFd<'_>) -> bool {
    retry(|| rustix::fs::fcntl_get_seals(fd)).is_ok_and(|s| s.contains(SealFlags::SHRINK))
}
