//! Every OS call of `multiproc-process`, in one place.

use std::io;
use std::os::fd::{BorrowedFd, OwnedFd, RawFd};
use std::time::Duration;

use rustix::process::{Pid, PidfdFlags, Signal, WaitId, WaitIdOptions};

/// How a process ended, as Python's `exitcode` says it: `N` for `exit(N)`, `-S` for signal `S`.
pub(crate) fn exitcode_of(status: &rustix::process::WaitIdStatus) -> i32 {
    if let Some(sig) = status.terminating_signal() {
        -sig
    } else {
        status.exit_status().unwrap_or(0)
    }
}

/// `pidfd_open(pid, 0)`.
pub(crate) fn pidfd_open(pid: u32) -> io::Result<OwnedFd> {
    let pid =
        Pid::from_raw(pid as i32).ok_or_else(|| io::Error::from(io::ErrorKind::InvalidInput))?;
    rustix::process::pidfd_open(pid, PidfdFlags::empty()).map_err(Into::into)
}

/// `waitid(P_PIDFD, fd, WEXITED | WNOHANG)`: the exit code if the child has ended (and reaps it).
pub(crate) fn try_reap(pidfd: BorrowedFd<'_>) -> io::Result<Option<i32>> {
    loop {
        match rustix::process::waitid(
            WaitId::PidFd(pidfd),
            WaitIdOptions::EXITED | WaitIdOptions::NOHANG,
        ) {
            Ok(Some(st)) => {
                // WNOHANG with nothing to report fills a zeroed siginfo: pid 0 → not yet.
                if st.exited() || st.killed() || st.dumped() {
                    return Ok(Some(exitcode_of(&st)));
                }
                return Ok(None);
            }
            Ok(None) => return Ok(None),
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

/// `poll` for readability of one descriptor; `Ok(false)` on timeout. `None` waits forever.
pub(crate) fn poll_readable(fd: BorrowedFd<'_>, timeout: Option<Duration>) -> io::Result<bool> {
    Ok(
        !multiproc_core::fd::wait_readable(&[fd], multiproc_core::Deadline::from_timeout(timeout))?
            .is_empty(),
    )
}

/// `poll` on many descriptors; returns the indices that are readable (or hung up).
pub(crate) fn poll_many(
    fds: &[BorrowedFd<'_>],
    timeout: Option<Duration>,
) -> io::Result<Vec<usize>> {
    multiproc_core::fd::wait_readable(fds, multiproc_core::Deadline::from_timeout(timeout))
}

/// `pidfd_send_signal(fd, sig)`.
pub(crate) fn pidfd_signal(pidfd: BorrowedFd<'_>, sig: Signal) -> io::Result<()> {
    match rustix::process::pidfd_send_signal(pidfd, sig) {
        Ok(()) | Err(rustix::io::Errno::SRCH) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// `kill(pid, sig)`; a process that is already gone is not an error.
pub(crate) fn kill(pid: u32, sig: Signal) -> io::Result<()> {
    let Some(pid) = Pid::from_raw(pid as i32) else {
        return Err(io::ErrorKind::InvalidInput.into());
    };
    match rustix::process::kill_process(pid, sig) {
        Ok(()) | Err(rustix::io::Errno::SRCH) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

pub(crate) const SIGTERM: Signal = Signal::TERM;
pub(crate) const SIGKILL: Signal = Signal::KILL;

/// How many threads this process has (`/proc/self/task`). When that cannot be read (no
/// `/proc`, no descriptors left) the answer is `usize::MAX`: the fork check fails closed.
///
/// A thread that was just joined can still be listed for a moment (the kernel wakes the joiner
/// before it removes the exiting task), so a count above one is looked at again, for at most a
/// millisecond, before it is believed.
pub(crate) fn thread_count() -> usize {
    let count = || threads_from_stat().unwrap_or(usize::MAX);
    let mut n = count();
    let deadline = std::time::Instant::now() + Duration::from_millis(1);
    while n > 1 && n != usize::MAX && std::time::Instant::now() < deadline {
        std::thread::yield_now();
        n = count();
    }
    n
}

/// `num_threads` from `/proc/self/stat` (field 20; the command name before it is in
/// parentheses and may contain anything, so fields are counted from the last `)`).
fn threads_from_stat() -> Option<usize> {
    use std::io::Read;
    let mut buf = [0u8; 1024];
    let mut f = std::fs::File::open("/proc/self/stat").ok()?;
    let n = f.read(&mut buf).ok()?;
    let text = std::str::from_utf8(&buf[..n]).ok()?;
    let after = &text[text.rfind(')')? + 1..];
    // After the name: state (3), ppid (4), …, num_threads (20).
    after.split_ascii_whitespace().nth(17)?.parse().ok()
}

/// Whether a stream socket has bytes to read now (`recv(MSG_PEEK | MSG_DONTWAIT)`); `false` at
/// end of file, on error, or when nothing is there yet.
pub(crate) fn has_bytes(fd: BorrowedFd<'_>) -> bool {
    use rustix::net::RecvFlags;
    let mut b = [0u8; 1];
    matches!(
        rustix::net::recv(fd, &mut b, RecvFlags::PEEK | RecvFlags::DONTWAIT),
        Ok((n, _)) if n > 0
    )
}

/// `fork()`. Returns 0 in the child.
///
/// # Safety
/// The caller makes sure the child may run what it will run: if this process has other threads,
/// only async-signal-safe code until `exec` or `_exit`.
pub(crate) unsafe fn fork() -> io::Result<u32> {
    // SAFETY: the caller upholds the contract above.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(pid as u32)
}

/// `_exit(code)`: ends the process without running exit handlers (for forked children).
pub(crate) fn exit_now(code: i32) -> ! {
    // `_exit` runs no `atexit` hook: give back the shared-heap objects this child still holds
    // (its copies of its parent's handles among them) first, or they would never be freed.
    multiproc_core::heap::release_process_references();
    // SAFETY: `_exit` is always safe to call; it does not return.
    unsafe { libc::_exit(code) }
}

/// `close(fd)` on a raw number (in a forked child, for descriptors owned by the parent's
/// objects that the child must not keep open).
pub(crate) fn close_raw(fd: RawFd) {
    // SAFETY: used in a freshly forked child on a descriptor inherited from the parent whose
    // owning object is never dropped in the child (the child ends with `_exit`).
    unsafe { libc::close(fd) };
}

/// The process's pid.
pub(crate) fn getpid() -> u32 {
    rustix::process::getpid().as_raw_nonzero().get() as u32
}

/// Identity of the running executable: (device, inode, size, mtime seconds, mtime nanoseconds).
/// Read once per process image (it cannot change without an `exec`, which starts afresh; a
/// forked child shares the parent's image and so its answer).
pub(crate) fn exe_identity() -> io::Result<[u64; 5]> {
    static CACHE: std::sync::OnceLock<[u64; 5]> = std::sync::OnceLock::new();
    if let Some(id) = CACHE.get() {
        return Ok(*id);
    }
    let id = read_exe_identity()?;
    Ok(*CACHE.get_or_init(|| id))
}

fn read_exe_identity() -> io::Result<[u64; 5]> {
    let st = rustix::fs::stat("/proc/self/exe")?;
    Ok([
        st.st_dev,
        st.st_ino,
        st.st_size as u64,
        st.st_mtime as u64,
        st.st_mtime_nsec as u64,
    ])
}

/// The base address of the loaded object (executable or library) that contains `addr`, cached
/// for the last few addresses asked about (a pool names the same few functions again and
/// again; objects are never unloaded while their functions are referenced).
pub(crate) fn object_base(addr: usize) -> Option<usize> {
    use std::sync::Mutex;
    static CACHE: Mutex<[(usize, usize); 8]> = Mutex::new([(0, 0); 8]);
    {
        let c = CACHE.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(&(_, base)) = c.iter().find(|(a, _)| *a == addr && addr != 0) {
            return Some(base);
        }
    }
    let base = object_base_uncached(addr)?;
    let mut c = CACHE.lock().unwrap_or_else(|p| p.into_inner());
    c.rotate_right(1);
    c[0] = (addr, base);
    Some(base)
}

fn object_base_uncached(addr: usize) -> Option<usize> {
    // SAFETY: `dladdr` only reads the dynamic linker's tables; `info` is a plain out-parameter.
    unsafe {
        let mut info: libc::Dl_info = std::mem::zeroed();
        if libc::dladdr(addr as *const libc::c_void, &mut info) == 0 {
            return None;
        }
        Some(info.dli_fbase as usize)
    }
}

/// Blocks until `fd` reaches end of file (every write end closed); for the daemon watcher.
pub(crate) fn wait_eof(fd: BorrowedFd<'_>) {
    let mut buf = [0u8; 16];
    loop {
        match rustix::io::read(fd, &mut buf) {
            Ok(0) => return,
            Ok(_) | Err(rustix::io::Errno::INTR) => continue,
            Err(_) => return,
        }
    }
}

/// Whether the calling thread is the process's main thread (`gettid() == getpid()`).
pub(crate) fn is_main_thread() -> bool {
    rustix::thread::gettid() == rustix::process::getpid()
}

/// In a freshly forked child: `prctl(PR_SET_PDEATHSIG, SIGKILL)`, so that the kernel kills this
/// process when the thread that forked it ends; then, if the parent `parent` is already gone,
/// dies at once (its death may have come before the `prctl`). Sound only where the forking
/// thread lives as long as its process: the main thread (whose end ends the process) or the
/// single-threaded fork server.
pub(crate) fn die_with_parent(parent: u32) {
    if rustix::process::set_parent_process_death_signal(Some(SIGKILL)).is_err() {
        return;
    }
    let still =
        rustix::process::getppid().is_some_and(|p| p.as_raw_nonzero().get() as u32 == parent);
    if !still {
        kill_self();
    }
}

/// `atexit(f)`: `f` runs when the process exits through `exit` (a return from `main` included).
pub(crate) fn atexit(f: extern "C" fn()) {
    // SAFETY: registers a plain `extern "C" fn()` with no captured state; the C library calls it
    // once, during `exit`.
    unsafe { libc::atexit(f) };
}

/// The number of CPUs online (`sysconf(_SC_NPROCESSORS_ONLN)`); `None` if unknown.
pub(crate) fn cpus_online() -> Option<usize> {
    // SAFETY: `sysconf` only reads a system setting.
    let n = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
    (n > 0).then_some(n as usize)
}

/// `raise(SIGKILL)` on ourselves.
pub(crate) fn kill_self() -> ! {
    let _ = kill(getpid(), SIGKILL);
    exit_now(137)
}
