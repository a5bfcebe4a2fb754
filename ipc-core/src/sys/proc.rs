//! Threads and processes: ids and `/proc` stats, randomness, fork hooks, spawning (`posix_spawn`
//! of this very program), pidfds, and the resource tracker process's own setup.

use std::ffi::{CStr, CString};
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::time::Duration;

use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;
use rustix::process::{Pid, PidfdFlags, Signal, WaitId, WaitIdOptions};

use super::retry;
use crate::futex::Deadline;

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

/// `getpid()`.
pub(crate) fn getpid() -> u32 {
    rustix::process::getpid().as_raw_nonzero().get() as u32
}

/// `geteuid()`.
pub(crate) fn euid() -> u32 {
    rustix::process::geteuid().as_raw()
}

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

/// `pthread_atfork(NULL, NULL, child)`: `child` runs in every child made by `fork()`.
pub(crate) fn at_fork_child(child: extern "C" fn()) {
    // SAFETY: registers a handler only; the handler the caller passes does async-signal-safe
    // work only, as a child handler must after a fork from a multi-threaded process.
    unsafe { libc::pthread_atfork(None, None, Some(child)) };
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

/// `posix_spawn("/proc/self/exe")` of the tracker: argument 0 `argv0`, environment `envp`,
/// `listener` as its descriptor `listen_fd` (close-on-exec cleared there only), standard
/// input, output and error on `/dev/null` (so it never holds a pipe its parent's reader waits
/// on), in a session of its own (no terminal's signals reach it), with every signal at its
/// default and none blocked. Returns its pid.
pub(crate) fn spawn_tracker(
    argv0: &CStr,
    envp: &[CString],
    listener: BorrowedFd<'_>,
    listen_fd: RawFd,
) -> io::Result<u32> {
    let argv: [*mut libc::c_char; 2] = [argv0.as_ptr().cast_mut(), std::ptr::null_mut()];
    let mut envp_p: Vec<*mut libc::c_char> = envp.iter().map(|e| e.as_ptr().cast_mut()).collect();
    envp_p.push(std::ptr::null_mut());
    let null = c"/dev/null";
    let fail = |r: libc::c_int| (r != 0).then(|| io::Error::from_raw_os_error(r));
    // SAFETY: the file-actions and attribute objects are initialised before use and destroyed
    // on every path below; the sigsets are local values; `argv`/`envp_p` are NULL-terminated
    // arrays of pointers to NUL-terminated strings that outlive the call; `pid` is a plain
    // out-parameter. posix_spawn is safe to call from a multi-threaded process.
    unsafe {
        let mut actions: libc::posix_spawn_file_actions_t = std::mem::zeroed();
        let mut attr: libc::posix_spawnattr_t = std::mem::zeroed();
        if let Some(e) = fail(libc::posix_spawn_file_actions_init(&mut actions)) {
            return Err(e);
        }
        if let Some(e) = fail(libc::posix_spawnattr_init(&mut attr)) {
            libc::posix_spawn_file_actions_destroy(&mut actions);
            return Err(e);
        }
        let mut none: libc::sigset_t = std::mem::zeroed();
        let mut all: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut none);
        libc::sigfillset(&mut all);
        let flags = libc::POSIX_SPAWN_SETSID
            | libc::POSIX_SPAWN_SETSIGMASK as libc::c_short
            | libc::POSIX_SPAWN_SETSIGDEF as libc::c_short;
        let setup = [
            libc::posix_spawn_file_actions_adddup2(&mut actions, listener.as_raw_fd(), listen_fd),
            libc::posix_spawn_file_actions_addopen(
                &mut actions,
                0,
                null.as_ptr(),
                libc::O_RDONLY,
                0,
            ),
            libc::posix_spawn_file_actions_addopen(
                &mut actions,
                1,
                null.as_ptr(),
                libc::O_WRONLY,
                0,
            ),
            libc::posix_spawn_file_actions_addopen(
                &mut actions,
                2,
                null.as_ptr(),
                libc::O_WRONLY,
                0,
            ),
            libc::posix_spawnattr_setflags(&mut attr, flags),
            libc::posix_spawnattr_setsigmask(&mut attr, &none),
            libc::posix_spawnattr_setsigdefault(&mut attr, &all),
        ];
        let mut result = match setup.iter().find(|&&r| r != 0) {
            Some(&r) => Err(io::Error::from_raw_os_error(r)),
            None => Ok(0),
        };
        if result.is_ok() {
            let mut pid: libc::pid_t = 0;
            let r = libc::posix_spawn(
                &mut pid,
                c"/proc/self/exe".as_ptr(),
                &actions,
                &attr,
                argv.as_ptr(),
                envp_p.as_ptr(),
            );
            result = fail(r).map_or(Ok(pid as u32), Err);
        }
        libc::posix_spawnattr_destroy(&mut attr);
        libc::posix_spawn_file_actions_destroy(&mut actions);
        result
    }
}

/// `pidfd_open(pid)`.
pub(crate) fn pidfd_open(pid: u32) -> io::Result<OwnedFd> {
    let pid = Pid::from_raw(pid as i32).ok_or(io::ErrorKind::InvalidInput)?;
    retry(|| rustix::process::pidfd_open(pid, PidfdFlags::empty()))
}

/// Kills (`SIGKILL`) the process behind `pidfd` and reaps it, waiting at most `limit` for it to
/// end. Only for a child of this process.
pub(crate) fn kill_and_reap(pidfd: BorrowedFd<'_>, limit: Duration) {
    let _ = rustix::process::pidfd_send_signal(pidfd, Signal::KILL);
    reap(pidfd, limit);
}

/// Reaps the child behind `pidfd` if it has ended or ends within `limit`
/// (`waitid(P_PIDFD, WEXITED | WNOHANG)`); `true` once it is reaped (or cannot be: not ours).
pub(crate) fn reap(pidfd: BorrowedFd<'_>, limit: Duration) -> bool {
    let try_once = || loop {
        match rustix::process::waitid(
            WaitId::PidFd(pidfd),
            WaitIdOptions::EXITED | WaitIdOptions::NOHANG,
        ) {
            // WNOHANG with nothing to report fills a zeroed siginfo: not yet.
            Ok(Some(st)) => return st.exited() || st.killed() || st.dumped(),
            Ok(None) => return false,
            Err(Errno::INTR) => continue,
            // ECHILD: not our child (or reaped by someone else): nothing left to do.
            Err(_) => return true,
        }
    };
    if try_once() {
        return true;
    }
    !limit.is_zero()
        && super::fd::poll_readable(pidfd, Deadline::after(limit)).unwrap_or(false)
        && try_once()
}

/// The tracker's setup before it serves: closes every descriptor from `first` up (what the
/// program left open without close-on-exec), ignores the signals that would end it before its
/// clients (`SIGINT`, `SIGTERM`, `SIGHUP`: it exits when they are gone) and `SIGPIPE`, and names
/// the process `comm` (seen in `ps`, `/proc/<pid>/comm`).
pub(crate) fn become_tracker(first: RawFd, comm: &CStr) {
    // SAFETY: `close_range(2)` (the raw system call: glibc has a wrapper only since 2.34)
    // closes descriptors this process inherited and does not use (the caller keeps only those
    // below `first`); nothing in the process owns them, since it has not reached `main`.
    let r = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            first as libc::c_uint,
            libc::c_uint::MAX,
            0 as libc::c_uint,
        )
    };
    if r != 0 {
        for fd in first..1024 {
            super::fd::close_raw(fd);
        }
    }
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGPIPE] {
        // SAFETY: installs SIG_IGN, no handler code; the process is single-threaded here.
        unsafe { libc::signal(sig, libc::SIG_IGN) };
    }
    let _ = rustix::thread::set_name(comm);
}

/// `_exit(code)`: ends the tracker without running the program's exit handlers.
pub(crate) fn exit_now(code: i32) -> ! {
    // SAFETY: `_exit` ends the process at once; nothing runs after it.
    unsafe { libc::_exit(code) }
}

/// `sched_getcpu()`—The CPU the calling thread runs on (a vDSO call, no syscall; the answer
/// may be stale as soon as it is given). `None` where the kernel cannot say.
pub(crate) fn current_cpu() -> Option<u32> {
    // SAFETY: sched_getcpu has no preconditions; it returns -1 on failure.
    let cpu = unsafe { libc::sched_getcpu() };
    u32::try_from(cpu).ok()
}
