//! Every OS call of `multiproc-core`, in one place, so that another Unix can follow by replacing this
//! module alone. Everything here is a thin wrapper over `rustix`; nothing else in the crate names
//! a syscall.

use std::ffi::CStr;
use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{BorrowedFd, OwnedFd, RawFd};
use std::ptr::NonNull;
use std::sync::atomic::AtomicU32;
use std::time::Duration;

use rustix::fs::{Mode, OFlags};
use rustix::io::{Errno, FdFlags};
use rustix::mm::{MapFlags, ProtFlags};
use rustix::net::{
    AddressFamily, RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, ReturnFlags,
    SendAncillaryBuffer, SendAncillaryMessage, SendFlags, SocketFlags, SocketType,
};

pub(crate) mod named;
pub(crate) mod tracker;

/// The largest number of descriptors Linux passes in one `SCM_RIGHTS` message (`SCM_MAX_FD`).
pub(crate) const MAX_FDS_PER_MESSAGE: usize = 253;

/// Runs `f` again for as long as it fails with `EINTR`.
pub(crate) fn retry<T>(mut f: impl FnMut() -> rustix::io::Result<T>) -> io::Result<T> {
    loop {
        match f() {
            Err(Errno::INTR) => continue,
            other => return other.map_err(io::Error::from),
        }
    }
}

pub(crate) fn set_cloexec(fd: BorrowedFd<'_>, on: bool) -> io::Result<()> {
    let mut flags = retry(|| rustix::io::fcntl_getfd(fd))?;
    flags.set(FdFlags::CLOEXEC, on);
    retry(|| rustix::io::fcntl_setfd(fd, flags))
}

pub(crate) fn is_cloexec(fd: BorrowedFd<'_>) -> io::Result<bool> {
    Ok(retry(|| rustix::io::fcntl_getfd(fd))?.contains(FdFlags::CLOEXEC))
}

pub(crate) fn set_nonblocking(fd: BorrowedFd<'_>, on: bool) -> io::Result<()> {
    let mut flags = retry(|| rustix::fs::fcntl_getfl(fd))?;
    flags.set(OFlags::NONBLOCK, on);
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

pub(crate) fn is_socket(fd: BorrowedFd<'_>) -> io::Result<bool> {
    let st = retry(|| rustix::fs::fstat(fd))?;
    Ok(rustix::fs::FileType::from_raw_mode(st.st_mode) == rustix::fs::FileType::Socket)
}

pub(crate) fn dup_cloexec(fd: BorrowedFd<'_>) -> io::Result<OwnedFd> {
    retry(|| rustix::io::fcntl_dupfd_cloexec(fd, 0))
}

pub(crate) fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    retry(|| rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC))
}

pub(crate) fn socketpair_stream() -> io::Result<(OwnedFd, OwnedFd)> {
    retry(|| {
        rustix::net::socketpair(
            AddressFamily::UNIX,
            SocketType::STREAM,
            SocketFlags::CLOEXEC,
            None,
        )
    })
}

// ---------------------------------------------------------------------------------------------
// Shared memory
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// Futex
// ---------------------------------------------------------------------------------------------

/// `FUTEX_WAIT` (shared, not `FUTEX_PRIVATE_FLAG`) with a relative timeout.
/// Returns the raw outcome: `Ok(())` when woken (or spuriously), or the errno.
pub(crate) fn futex_wait(
    word: &AtomicU32,
    expected: u32,
    timeout: Option<Duration>,
) -> Result<(), Errno> {
    let ts = timeout.map(|d| rustix::time::Timespec {
        tv_sec: d.as_secs().min(i64::MAX as u64) as i64,
        tv_nsec: i64::from(d.subsec_nanos()),
    });
    rustix::thread::futex::wait(
        word,
        rustix::thread::futex::Flags::empty(),
        expected,
        ts.as_ref(),
    )
}

/// `futex_waitv(2)` (shared, 32-bit words)—Sleeps until one of `words` no longer holds its
/// expected value (or is woken), or `timeout` passes. `Ok(i)`: word `i` was woken; the error
/// `AGAIN` when a word did not hold its value at the call, `TIMEDOUT`, `INTR`. Linux 5.16+.
///
/// An address that is not mapped makes the call fail with `FAULT`, nothing worse: the kernel
/// reads the words itself.
#[cfg(feature = "async")]
pub(crate) fn futex_waitv(
    words: &[(usize, u32)],
    timeout: Option<Duration>,
) -> Result<usize, Errno> {
    use rustix::thread::futex::{Wait, WaitFlags, WaitPtr, WaitvFlags};
    let waits: Vec<Wait> = words
        .iter()
        .map(|&(addr, val)| {
            let mut w = Wait::new();
            w.val = u64::from(val);
            w.uaddr = WaitPtr::new(addr as *mut std::ffi::c_void);
            w.flags = WaitFlags::SIZE_U32;
            w
        })
        .collect();
    // The timeout of futex_waitv is absolute, on the clock named.
    let at = timeout.map(|d| {
        let now = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
        let d = Duration::new(now.tv_sec.max(0) as u64, now.tv_nsec as u32).saturating_add(d);
        rustix::time::Timespec {
            tv_sec: d.as_secs().min(i64::MAX as u64) as i64,
            tv_nsec: i64::from(d.subsec_nanos()),
        }
    });
    rustix::thread::futex::waitv(
        &waits,
        WaitvFlags::empty(),
        at.as_ref(),
        rustix::time::ClockId::Monotonic,
    )
}

/// `sched_getcpu()`—The CPU the calling thread runs on (a vDSO call, no syscall; the answer
/// may be stale as soon as it is given). `None` where the kernel cannot say.
pub(crate) fn current_cpu() -> Option<u32> {
    // SAFETY: sched_getcpu has no preconditions; it returns -1 on failure.
    let cpu = unsafe { libc::sched_getcpu() };
    u32::try_from(cpu).ok()
}

/// `FUTEX_WAKE` (shared): wakes up to `n` waiters, returns how many were woken.
pub(crate) fn futex_wake(word: &AtomicU32, n: u32) -> usize {
    // FUTEX_WAKE fails only for a bad address, which a reference cannot be.
    rustix::thread::futex::wake(word, rustix::thread::futex::Flags::empty(), n).unwrap_or(0)
}

// ---------------------------------------------------------------------------------------------
// Descriptor passing
// ---------------------------------------------------------------------------------------------

/// `sendmsg` of `data` with `fds` attached as `SCM_RIGHTS`. Returns the bytes sent (which may be
/// fewer than `data.len()` on a stream socket; the descriptors went with the first byte).
pub(crate) fn send_with_fds(
    sock: BorrowedFd<'_>,
    data: &[u8],
    fds: &[BorrowedFd<'_>],
) -> io::Result<usize> {
    sendmsg_iov(sock, &[io::IoSlice::new(data)], fds)
}

/// `recvmsg` into `buf`, appending any descriptors received (close-on-exec) to `fds`.
/// Fails with `InvalidData` when the kernel had to drop descriptors (`MSG_CTRUNC`).
pub(crate) fn recv_with_fds(
    sock: BorrowedFd<'_>,
    buf: &mut [u8],
    fds: &mut Vec<OwnedFd>,
    max_fds: usize,
) -> io::Result<usize> {
    let (n, truncated) = recvmsg_fds(sock, buf, fds, max_fds)?;
    if truncated {
        return Err(ctrunc_error());
    }
    Ok(n)
}

/// The error for a `recvmsg` whose descriptors the kernel had to drop.
pub(crate) fn ctrunc_error() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        "descriptors were dropped by the kernel (control message truncated)",
    )
}

/// `recvmsg` into `buf`, appending any descriptors received (close-on-exec) to `fds`; returns
/// the bytes received and whether the kernel dropped descriptors (`MSG_CTRUNC`: more than
/// `max_fds`, or none could be installed), in which case the bytes were still consumed.
pub(crate) fn recvmsg_fds(
    sock: BorrowedFd<'_>,
    buf: &mut [u8],
    fds: &mut Vec<OwnedFd>,
    max_fds: usize,
) -> io::Result<(usize, bool)> {
    let max_fds = max_fds.min(MAX_FDS_PER_MESSAGE);
    let mut space = vec![MaybeUninit::<u8>::uninit(); rustix::cmsg_space!(ScmRights(max_fds))];
    let mut control = RecvAncillaryBuffer::new(&mut space);
    let mut iov = [io::IoSliceMut::new(buf)];
    let msg =
        retry(|| rustix::net::recvmsg(sock, &mut iov, &mut control, RecvFlags::CMSG_CLOEXEC))?;
    for m in control.drain() {
        if let RecvAncillaryMessage::ScmRights(received) = m {
            fds.extend(received);
        }
    }
    Ok((msg.bytes, msg.flags.contains(ReturnFlags::CTRUNC)))
}

/// Clears `FD_CLOEXEC` on `fd` in a child between `fork` and `exec`.
/// Only a raw `fcntl`: async-signal-safe.
pub(crate) fn clear_cloexec_raw(fd: RawFd) -> io::Result<()> {
    // SAFETY: called in the child after fork, where `fd` is still open (it was open in the
    // parent and is closed only by exec); used for this one call only.
    let b = unsafe { BorrowedFd::borrow_raw(fd) };
    rustix::io::fcntl_setfd(b, FdFlags::empty()).map_err(io::Error::from)
}

/// `poll` for readability (or hang-up) of one descriptor, retrying `EINTR` with the time left.
/// `Ok(false)` on timeout.
pub(crate) fn poll_readable(fd: BorrowedFd<'_>, timeout: Option<Duration>) -> io::Result<bool> {
    Ok(!poll_many(&[fd], timeout)?.is_empty())
}

// ---------------------------------------------------------------------------------------------
// Streams
// ---------------------------------------------------------------------------------------------

/// `read(fd, buf)`, retrying `EINTR`. `WouldBlock` comes back as an error.
pub(crate) fn read(fd: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<usize> {
    retry(|| rustix::io::read(fd, &mut *buf))
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
///
/// When the process ignores `SIGPIPE` (every Rust program started through `main`) this is one
/// `writev`. Otherwise `SIGPIPE` is blocked for this thread around the write and a `SIGPIPE`
/// it raised is consumed before unblocking, the standard way to write to a pipe safely.
pub(crate) fn writev_nosigpipe(fd: BorrowedFd<'_>, iov: &[io::IoSlice<'_>]) -> io::Result<usize> {
    if sigpipe_ignored() {
        return retry(|| rustix::io::writev(fd, iov));
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
        let r = retry(|| rustix::io::writev(fd, iov));
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

/// `sendmsg` of several slices with `fds` (`MSG_NOSIGNAL`).
pub(crate) fn sendmsg_iov(
    sock: BorrowedFd<'_>,
    iov: &[io::IoSlice<'_>],
    fds: &[BorrowedFd<'_>],
) -> io::Result<usize> {
    if fds.is_empty() {
        return retry(|| {
            rustix::net::sendmsg(
                sock,
                iov,
                &mut SendAncillaryBuffer::default(),
                SendFlags::NOSIGNAL,
            )
        });
    }
    if fds.len() > MAX_FDS_PER_MESSAGE {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("at most {MAX_FDS_PER_MESSAGE} descriptors go in one message"),
        ));
    }
    let mut space = vec![MaybeUninit::<u8>::uninit(); rustix::cmsg_space!(ScmRights(fds.len()))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    if !control.push(SendAncillaryMessage::ScmRights(fds)) {
        return Err(io::Error::other("control buffer too small for descriptors"));
    }
    retry(|| rustix::net::sendmsg(sock, iov, &mut control, SendFlags::NOSIGNAL))
}

// ---------------------------------------------------------------------------------------------
// Threads and their liveness
// ---------------------------------------------------------------------------------------------

/// `gettid()`.
pub(crate) fn gettid() -> u32 {
    rustix::thread::gettid().as_raw_nonzero().get() as u32
}

/// Reads `/proc/<tid>/stat` without allocating (a stack buffer; only `open`, `read`, `close`,
/// which are async-signal-safe) and returns its state letter and start time (field 22, clock
/// ticks since boot). `Ok(None)` when the task does not exist.
pub(crate) fn proc_task_stat(tid: u32) -> io::Result<Option<(u8, u64)>> {
    // "/proc/" + up to 10 digits + "/stat" + NUL.
    let mut path = [0u8; 32];
    let mut n = 0;
    for b in b"/proc/" {
        path[n] = *b;
        n += 1;
    }
    let mut digits = [0u8; 10];
    let mut d = 0;
    let mut v = tid;
    loop {
        digits[d] = b'0' + (v % 10) as u8;
        d += 1;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    while d > 0 {
        d -= 1;
        path[n] = digits[d];
        n += 1;
    }
    for b in b"/stat" {
        path[n] = *b;
        n += 1;
    }
    let cpath = CStr::from_bytes_with_nul(&path[..=n]).map_err(io::Error::other)?;
    let fd =
        match retry(|| rustix::fs::open(cpath, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())) {
            Ok(fd) => fd,
            Err(e) if e.raw_os_error() == Some(Errno::NOENT.raw_os_error()) => return Ok(None),
            Err(e) if e.raw_os_error() == Some(Errno::SRCH.raw_os_error()) => return Ok(None),
            Err(e) => return Err(e),
        };
    let mut buf = [0u8; 1024];
    let mut len = 0;
    while len < buf.len() {
        match retry(|| rustix::io::read(&fd, &mut buf[len..])) {
            Ok(0) => break,
            Ok(k) => len += k,
            // The task went away between open and read.
            Err(e) if e.raw_os_error() == Some(Errno::SRCH.raw_os_error()) => return Ok(None),
            Err(e) => return Err(e),
        }
    }
    parse_stat(&buf[..len])
        .map(Some)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "unexpected /proc stat format"))
}

/// Field 3 (state) and field 22 (starttime) of a `/proc/<pid>/stat` line. The command name
/// (field 2) may hold spaces and parentheses, so fields are counted after the last `)`.
pub(crate) fn parse_stat(line: &[u8]) -> Option<(u8, u64)> {
    let close = line.iter().rposition(|&b| b == b')')?;
    let mut fields = line[close + 1..]
        .split(|&b| b == b' ')
        .filter(|f| !f.is_empty());
    let state = *fields.next()?.first()?;
    // After the state (field 3) come fields 4..; starttime is field 22, the 19th after state.
    let start = fields.nth(18)?;
    let mut v: u64 = 0;
    for &b in start {
        if !b.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    Some((state, v))
}

/// `poll` on many descriptors for readability (or hang-up); the indices that are ready, `[]` on
/// timeout. `EINTR` is retried with the time left.
pub(crate) fn poll_many(
    fds: &[BorrowedFd<'_>],
    timeout: Option<Duration>,
) -> io::Result<Vec<usize>> {
    use rustix::event::{PollFd, PollFlags};
    let deadline = timeout.map(|t| std::time::Instant::now() + t);
    let mut pfds: Vec<PollFd<'_>> = fds.iter().map(|f| PollFd::new(f, PollFlags::IN)).collect();
    loop {
        let left = deadline.map(|d| d.saturating_duration_since(std::time::Instant::now()));
        let ts = left.map(|d| rustix::time::Timespec {
            tv_sec: d.as_secs() as i64,
            tv_nsec: i64::from(d.subsec_nanos()),
        });
        match rustix::event::poll(&mut pfds, ts.as_ref()) {
            Ok(_) => break,
            Err(Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Ok(pfds
        .iter()
        .enumerate()
        .filter(|(_, p)| !p.revents().is_empty())
        .map(|(i, _)| i)
        .collect())
}

/// `setsockopt(SO_SNDBUF / SO_RCVBUF)`: asks for socket buffers of `bytes` each way (the kernel
/// may cap it at `net.core.wmem_max` / `rmem_max`).
pub(crate) fn set_socket_buffers(sock: BorrowedFd<'_>, bytes: usize) -> io::Result<()> {
    rustix::net::sockopt::set_socket_send_buffer_size(sock, bytes)?;
    rustix::net::sockopt::set_socket_recv_buffer_size(sock, bytes)?;
    Ok(())
}

/// `fstat(fd)`: (device, inode) — which file this is, the same in every process that has it.
pub(crate) fn file_identity(fd: BorrowedFd<'_>) -> io::Result<(u64, u64)> {
    let st = retry(|| rustix::fs::fstat(fd))?;
    Ok((st.st_dev, st.st_ino))
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

/// `posix_spawn(path, argv, envp)` with one file action, `dup2(fd, fd)`, which clears
/// `FD_CLOEXEC` on `fd` in the child only (glibc >= 2.29; POSIX.1-2024). Cheaper than
/// `fork` + `exec` for a large parent: glibc spawns with `CLONE_VM | CLONE_VFORK`.
pub(crate) fn posix_spawn_keep_fd(
    path: &CStr,
    argv: &[&CStr],
    envp: &[std::ffi::CString],
    fd: BorrowedFd<'_>,
) -> io::Result<u32> {
    use std::os::fd::AsRawFd;
    let raw = fd.as_raw_fd();
    let mut argv_p: Vec<*mut libc::c_char> = argv.iter().map(|a| a.as_ptr().cast_mut()).collect();
    argv_p.push(std::ptr::null_mut());
    let mut envp_p: Vec<*mut libc::c_char> = envp.iter().map(|e| e.as_ptr().cast_mut()).collect();
    envp_p.push(std::ptr::null_mut());
    // SAFETY: the file-actions object is initialised before use and destroyed on every path;
    // `argv_p`/`envp_p` are NULL-terminated arrays of pointers to NUL-terminated strings that
    // outlive the call; `pid` is a plain out-parameter.
    unsafe {
        let mut actions: libc::posix_spawn_file_actions_t = std::mem::zeroed();
        if libc::posix_spawn_file_actions_init(&mut actions) != 0 {
            return Err(io::Error::last_os_error());
        }
        let r = libc::posix_spawn_file_actions_adddup2(&mut actions, raw, raw);
        if r != 0 {
            libc::posix_spawn_file_actions_destroy(&mut actions);
            return Err(io::Error::from_raw_os_error(r));
        }
        let mut pid: libc::pid_t = 0;
        let r = libc::posix_spawn(
            &mut pid,
            path.as_ptr(),
            &actions,
            std::ptr::null(),
            argv_p.as_ptr(),
            envp_p.as_ptr(),
        );
        libc::posix_spawn_file_actions_destroy(&mut actions);
        if r != 0 {
            return Err(io::Error::from_raw_os_error(r));
        }
        Ok(pid as u32)
    }
}

// ---------------------------------------------------------------------------------------------
// Randomness and fork hooks
// ---------------------------------------------------------------------------------------------

/// `getrandom(8 bytes)`—A random 64-bit number from the kernel's source.
pub(crate) fn random_u64() -> io::Result<u64> {
    let mut b = [0u8; 8];
    let mut filled = 0;
    while filled < b.len() {
        filled += retry(|| {
            rustix::rand::getrandom(&mut b[filled..], rustix::rand::GetRandomFlags::empty())
        })?;
    }
    Ok(u64::from_ne_bytes(b))
}

/// `pthread_atfork(prepare, parent, child)`—Runs `prepare` in the forking thread before every
/// `fork()` of this process, then `parent` in the parent and `child` in the child after it.
pub(crate) fn register_atfork(
    prepare: unsafe extern "C" fn(),
    parent: unsafe extern "C" fn(),
    child: unsafe extern "C" fn(),
) -> io::Result<()> {
    // SAFETY: the three are `extern "C"` functions that live for the whole program; glibc calls
    // them around `fork()` as documented.
    let r = unsafe { libc::pthread_atfork(Some(prepare), Some(parent), Some(child)) };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::from_raw_os_error(r))
    }
}
