//! Copying into and out of a [`SharedMapping`] through its descriptor (`pread`/`pwrite`): safe
//! on every mapping, named ones included, because the kernel stops at the object's current end
//! where a load or store through the mapping would die of `SIGBUS`.

use std::io;
use std::os::fd::BorrowedFd;
use std::sync::atomic::Ordering;

use crate::SharedMapping;
use crate::sys;

fn check_range(map: &SharedMapping, offset: usize, len: usize) -> io::Result<()> {
    match offset.checked_add(len) {
        Some(end) if end <= map.len() => Ok(()),
        _ => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "range {offset}..{offset}+{len} is outside a mapping of {} bytes",
                map.len()
            ),
        )),
    }
}

/// [`sys::mem::pread_all`], arranged so that the kernel's copy is never 4K-aliased.
///
/// The kernel copies each page with `rep movsb`, which on some CPUs (AMD Zen among them: ten
/// times slower, measured) crawls when the destination lies 1 to 63 bytes past the source
/// modulo 4096. That is the common case of a heap buffer (16 bytes into its page) read from
/// offset 0. Then the bulk is read `shift` bytes further on in `buf`, moved back in user space
/// (`memmove` avoids the trap), and the last `shift` bytes are read in place.
fn pread_unaliased(fd: BorrowedFd<'_>, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    let skew = (buf.as_ptr() as u64).wrapping_sub(offset) % 4096;
    let n = buf.len();
    if n <= 4096 || skew == 0 || skew >= 64 {
        return sys::mem::pread_all(fd, buf, offset);
    }
    let shift = (64 - skew) as usize;
    let got = sys::mem::pread_all(fd, &mut buf[shift..], offset)?;
    buf.copy_within(shift..shift + got, 0);
    if got < n - shift {
        return Ok(got); // the object ends there
    }
    let tail = sys::mem::pread_all(fd, &mut buf[n - shift..], offset + (n - shift) as u64)?;
    Ok(n - shift + tail)
}

impl SharedMapping {
    /// `fstat`—The size of the object now, in bytes: [`len`](Self::len) unless another process
    /// resized a named object since it was mapped (a memfd made or received here is sealed
    /// against that; an anonymous mapping has no object and reports its length).
    #[doc(alias = "fstat")]
    pub fn current_len(&self) -> io::Result<u64> {
        match self.fd() {
            Some(fd) => sys::mem::file_size(fd),
            None => Ok(self.len() as u64),
        }
    }

    /// `pread`—Copies `buf.len()` bytes from `offset` into `buf`; returns how many were there.
    ///
    /// Fewer than `buf.len()` means the object now ends at `offset + n`: another process shrank
    /// it (`ftruncate`). Safe whatever other processes do to the object, unlike a load through
    /// the mapping, which would die of `SIGBUS` past its end: the way to read a named mapping.
    /// An anonymous mapping (no descriptor, never shrinks) is copied byte by byte.
    ///
    /// Each call is a system call or two: for a few bytes, an atomic of a
    /// [fixed-size](Self::size_is_fixed) mapping is far cheaper (nanoseconds, against a
    /// microsecond or two); from a few kilobytes up, this copy is faster than copying byte by
    /// byte through atomics (three to five times for 64 KiB to 1 MiB, measured).
    ///
    /// # Errors
    /// [`io::ErrorKind::InvalidInput`] when the range is not inside the mapping.
    ///
    /// # References
    /// - [pread(2)](https://man7.org/linux/man-pages/man2/pread.2.html)
    #[doc(alias = "pread")]
    pub fn read_at(&self, offset: usize, buf: &mut [u8]) -> io::Result<usize> {
        check_range(self, offset, buf.len())?;
        match self.fd() {
            Some(fd) => pread_unaliased(fd, buf, offset as u64),
            None => {
                let src = self.atomic_bytes(offset, buf.len());
                for (o, s) in buf.iter_mut().zip(src) {
                    *o = s.load(Ordering::Relaxed);
                }
                Ok(buf.len())
            }
        }
    }

    /// `pwrite`—Copies `data` into the mapping at `offset`; returns how many bytes were
    /// written.
    ///
    /// Fewer than `data.len()` means the object now ends at `offset + n` (another process
    /// shrank it): nothing is written past its end. Safe whatever other processes do to the
    /// object; see [`read_at`](Self::read_at). If the object shrinks during the call itself,
    /// the write may grow it back (with zeros before `offset`) instead.
    ///
    /// # Errors
    /// [`io::ErrorKind::InvalidInput`] when the range is not inside the mapping.
    ///
    /// # References
    /// - [pwrite(2)](https://man7.org/linux/man-pages/man2/pwrite.2.html)
    #[doc(alias = "pwrite")]
    pub fn write_at(&self, offset: usize, data: &[u8]) -> io::Result<usize> {
        check_range(self, offset, data.len())?;
        match self.fd() {
            Some(fd) => {
                let size = sys::mem::file_size(fd)?;
                let room =
                    usize::try_from(size.saturating_sub(offset as u64)).unwrap_or(usize::MAX);
                let n = data.len().min(room);
                sys::mem::pwrite_all(fd, &data[..n], offset as u64)
            }
            None => {
                for (d, s) in self.atomic_bytes(offset, data.len()).iter().zip(data) {
                    d.store(*s, Ordering::Relaxed);
                }
                Ok(data.len())
            }
        }
    }
}
