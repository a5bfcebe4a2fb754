//! Memory: memfd and POSIX shared-memory objects, their seals and sizes, `mmap`, copies
//! through the descriptor for memory whose size another process may change, and the removal
//! of named POSIX IPC objects (shared memory, message queues).

use std::ffi::CStr;
use std::io;
use std::os::fd::{BorrowedFd, FromRawFd, OwnedFd};
use std::ptr::NonNull;

use rustix::fs::{Mode, SealFlags};
use rustix::io::Errno;
use rustix::mm::{MapFlags, ProtFlags};

use super::{id_of, retry};

pub(crate) fn memfd_create(name: &CStr) -> io::Result<OwnedFd> {
    retry(|| {
        rustix::fs::memfd_create(
            name,
            rustix::fs::MemfdFlags::CLOEXEC | rustix::fs::MemfdFlags::ALLOW_SEALING,
        )
    })
}

/// `fcntl(F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)`: the memfd's size is final,
/// so no holder can shrink it under another's mapping (which would make every access past the
/// new end a SIGBUS).
pub(crate) fn seal_size(fd: BorrowedFd<'_>) -> io::Result<()> {
    use rustix::fs::SealFlags;
    retry(|| rustix::fs::fcntl_add_seals(fd, SealFlags::SHRINK | SealFlags::GROW | SealFlags::SEAL))
}

pub(crate) fn shm_open_create(name: &CStr) -> io::Result<OwnedFd> {
    retry(|| {
        rustix::shm::open(
            name,
            rustix::shm::OFlags::CREATE | rustix::shm::OFlags::EXCL | rustix::shm::OFlags::RDWR,
            Mode::RUSR | Mode::WUSR,
        )
    })
}

pub(crate) fn shm_open_existing(name: &CStr) -> io::Result<OwnedFd> {
    retry(|| rustix::shm::open(name, rustix::shm::OFlags::RDWR, Mode::empty()))
}

pub(crate) fn shm_unlink(name: &CStr) -> io::Result<()> {
    retry(|| rustix::shm::unlink(name))
}

pub(crate) fn ftruncate(fd: BorrowedFd<'_>, len: u64) -> io::Result<()> {
    retry(|| rustix::fs::ftruncate(fd, len))
}

pub(crate) fn file_size(fd: BorrowedFd<'_>) -> io::Result<u64> {
    let st = retry(|| rustix::fs::fstat(fd))?;
    u64::try_from(st.st_size).map_err(|_| io::Error::from(io::ErrorKind::InvalidData))
}

/// `mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED [| MAP_ANONYMOUS], fd, 0)`.
pub(crate) fn map_shared(fd: Option<BorrowedFd<'_>>, len: usize) -> io::Result<NonNull<u8>> {
    let prot = ProtFlags::READ | ProtFlags::WRITE;
    let ptr = match fd {
        // SAFETY: a fresh mapping at an address the kernel chooses (NULL hint) cannot overlap
        // any memory that Rust code already references.
        Some(fd) => unsafe {
            rustix::mm::mmap(std::ptr::null_mut(), len, prot, MapFlags::SHARED, fd, 0)
        },
        // SAFETY: as above, for an anonymous shared mapping.
        None => unsafe {
            rustix::mm::mmap_anonymous(std::ptr::null_mut(), len, prot, MapFlags::SHARED)
        },
    }?;
    NonNull::new(ptr.cast::<u8>()).ok_or_else(|| io::Error::other("mmap returned NULL"))
}

/// `munmap(ptr, len)`.
///
/// # Safety
///
/// `ptr..ptr+len` must be a mapping made by [`map_shared`] that nothing references any more.
pub(crate) unsafe fn unmap(ptr: NonNull<u8>, len: usize) {
    // SAFETY: the caller guarantees the range is our mapping and unreferenced.
    let _ = unsafe { rustix::mm::munmap(ptr.as_ptr().cast(), len) };
}

/// `madvise(ptr, len, MADV_POPULATE_WRITE)`: allocates (and zeroes) every page of a shared
/// mapping now, so that the processes using it later take only cheap minor faults. A kernel
/// older than 5.14 says `EINVAL`: the pages are then simply faulted in on first use.
///
/// # Safety
/// `ptr..ptr+len` is a mapping made by [`map_shared`].
pub(crate) unsafe fn populate(ptr: NonNull<u8>, len: usize) -> io::Result<()> {
    // SAFETY: the caller guarantees the range is our mapping; populating writes nothing that
    // Rust code can observe (the pages read as zero before and after).
    match unsafe {
        rustix::mm::madvise(
            ptr.as_ptr().cast(),
            len,
            rustix::mm::Advice::LinuxPopulateWrite,
        )
    } {
        Ok(()) | Err(Errno::INVAL) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

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

/// `shm_unlink(name)` if `name` still names the object `id` (checked by `shm_open` +
/// `fstat`; `(0, 0)` skips the check). `Ok(false)` when it is gone or is another object.
pub(crate) fn unlink_shm(name: &CStr, id: (u64, u64)) -> io::Result<bool> {
    if id != (0, 0) {
        let fd = match retry(|| {
            rustix::shm::open(name, rustix::shm::OFlags::RDONLY, rustix::fs::Mode::empty())
        }) {
            Ok(fd) => fd,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(e),
        };
        if id_of(&retry(|| rustix::fs::fstat(&fd))?) != id {
            return Ok(false);
        }
    }
    match retry(|| rustix::shm::unlink(name)) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

/// `mq_unlink(name)` if `name` still names the queue `id` (checked by `mq_open` + `fstat`;
/// `(0, 0)` skips the check). `Ok(false)` when it is gone or is another queue.
pub(crate) fn unlink_mqueue(name: &CStr, id: (u64, u64)) -> io::Result<bool> {
    if id != (0, 0) {
        // SAFETY: `name` is NUL-terminated; a read-only open without O_CREAT takes no more
        // arguments.
        let raw = unsafe { libc::mq_open(name.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
        if raw < 0 {
            let e = io::Error::last_os_error();
            return if e.kind() == io::ErrorKind::NotFound {
                Ok(false)
            } else {
                Err(e)
            };
        }
        // SAFETY: `mq_open` just returned this descriptor; nothing else owns it.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        if id_of(&retry(|| rustix::fs::fstat(&fd))?) != id {
            return Ok(false);
        }
    }
    // SAFETY: `name` is NUL-terminated.
    if unsafe { libc::mq_unlink(name.as_ptr()) } == 0 {
        return Ok(true);
    }
    let e = io::Error::last_os_error();
    if e.kind() == io::ErrorKind::NotFound {
        Ok(false)
    } else {
        Err(e)
    }
}
