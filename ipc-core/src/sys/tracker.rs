//! OS calls of the resource tracker ([`crate::tracker`]): its Unix socket (an abstract
//! `SOCK_SEQPACKET` address), starting it (`posix_spawn` of `/proc/self/exe`), the tracker
//! process's own setup, watching and reaping it through a pidfd, and removing the names it is
//! left with.

use std::ffi::{CStr, CString};
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;
use std::time::Duration;

use rustix::io::Errno;
use rustix::net::{AddressFamily, RecvFlags, SendFlags, SocketAddrUnix, SocketFlags, SocketType};
use rustix::process::{Pid, PidfdFlags, Signal, WaitId, WaitIdOptions};

use super::retry;

fn abstract_addr(name: &[u8]) -> io::Result<SocketAddrUnix> {
    SocketAddrUnix::new_abstract_name(name).map_err(Into::into)
}

fn seqpacket(extra: SocketFlags) -> io::Result<OwnedFd> {
    retry(|| {
        rustix::net::socket_with(
            AddressFamily::UNIX,
            SocketType::SEQPACKET,
            SocketFlags::CLOEXEC | extra,
            None,
        )
    })
}

/// `socket(AF_UNIX, SOCK_SEQPACKET)` + `bind(@name)` + `listen`. `AddrInUse` when another
/// process holds the address.
pub(crate) fn listen(name: &[u8]) -> io::Result<OwnedFd> {
    let fd = seqpacket(SocketFlags::empty())?;
    rustix::net::bind(&fd, &abstract_addr(name)?)?;
    // The backlog also bounds each connection's queue of unread messages (a `SOCK_SEQPACKET`
    // socket counts them against it): the kernel caps it at `net.core.somaxconn`.
    rustix::net::listen(&fd, i32::MAX)?;
    Ok(fd)
}

/// `socket(AF_UNIX, SOCK_SEQPACKET)` + `connect(@name)`. `ConnectionRefused` when nobody
/// listens there.
pub(crate) fn connect(name: &[u8]) -> io::Result<OwnedFd> {
    let fd = seqpacket(SocketFlags::empty())?;
    let addr = abstract_addr(name)?;
    match rustix::net::connect(&fd, &addr) {
        // A Unix socket connects at once; an interrupted call has connected or failed.
        Ok(()) | Err(Errno::INTR) | Err(Errno::ISCONN) => Ok(fd),
        Err(e) => Err(e.into()),
    }
}

/// The user id of the process at the other end of a connected Unix socket (`SO_PEERCRED`):
/// for a client, the process that called `listen`.
pub(crate) fn peer_uid(sock: BorrowedFd<'_>) -> io::Result<u32> {
    Ok(rustix::net::sockopt::socket_peercred(sock)?.uid.as_raw())
}

/// `geteuid()`.
pub(crate) fn euid() -> u32 {
    rustix::process::geteuid().as_raw()
}

/// `getpid()`.
pub(crate) fn getpid() -> u32 {
    rustix::process::getpid().as_raw_nonzero().get() as u32
}

/// `send(MSG_DONTWAIT | MSG_NOSIGNAL)` of one whole message: never blocks, never raises
/// `SIGPIPE`. `WouldBlock` when the peer's queue is full.
pub(crate) fn send_now(sock: BorrowedFd<'_>, msg: &[u8]) -> io::Result<()> {
    retry(|| rustix::net::send(sock, msg, SendFlags::DONTWAIT | SendFlags::NOSIGNAL)).map(drop)
}

/// `recv(MSG_DONTWAIT | MSG_TRUNC)` of one message into `buf`: `(copied, whole length)`;
/// `(0, 0)` at end of stream. `WouldBlock` when nothing is waiting.
pub(crate) fn recv_now(sock: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<(usize, usize)> {
    let (got, whole) = retry(|| {
        rustix::net::recv(
            sock,
            &mut *buf,
            RecvFlags::DONTWAIT | RecvFlags::TRUNC | RecvFlags::CMSG_CLOEXEC,
        )
    })?;
    Ok((got, whole))
}

/// `accept4(SOCK_CLOEXEC | SOCK_NONBLOCK)` on a non-blocking listener: `Ok(None)` when no
/// connection is waiting.
pub(crate) fn accept_now(listener: BorrowedFd<'_>) -> io::Result<Option<OwnedFd>> {
    match retry(|| rustix::net::accept_with(listener, SocketFlags::CLOEXEC | SocketFlags::NONBLOCK))
    {
        Ok(fd) => Ok(Some(fd)),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
        // The client went away before we accepted it: nothing to serve.
        Err(e) if e.raw_os_error() == Some(Errno::CONNABORTED.raw_os_error()) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Whether the peer of `sock` is still there: no hang-up and nothing to read (the tracker
/// says nothing after its greeting), checked without waiting.
pub(crate) fn still_open(sock: BorrowedFd<'_>) -> bool {
    !super::poll_readable(sock, Some(Duration::ZERO)).unwrap_or(true)
}

/// Whether `fd` is a socket in the listening state (`SO_ACCEPTCONN`).
pub(crate) fn is_listening(fd: BorrowedFd<'_>) -> bool {
    rustix::net::sockopt::socket_acceptconn(fd).unwrap_or(false)
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
    !limit.is_zero() && super::poll_readable(pidfd, Some(limit)).unwrap_or(false) && try_once()
}

/// `close(fd)` on a raw number; async-signal-safe (for a `pthread_atfork` child handler).
pub(crate) fn close_raw(fd: RawFd) {
    // SAFETY: `close` on a number is async-signal-safe; the caller owns `fd` and forgets it.
    unsafe { libc::close(fd) };
}

/// `pthread_atfork(NULL, NULL, child)`: `child` runs in every child made by `fork()`.
pub(crate) fn at_fork_child(child: extern "C" fn()) {
    // SAFETY: registers a handler only; the handler the caller passes does async-signal-safe
    // work only, as a child handler must after a fork from a multi-threaded process.
    unsafe { libc::pthread_atfork(None, None, Some(child)) };
}

// ---------------------------------------------------------------------------------------------
// The tracker process itself
// ---------------------------------------------------------------------------------------------

/// Claims descriptor `fd` in the tracker process (inherited from its parent's `posix_spawn`).
///
/// # Safety
/// Nothing else in this process owns `fd`.
pub(crate) unsafe fn claim(fd: RawFd) -> io::Result<OwnedFd> {
    if !super::raw_fd_is_open(fd) {
        return Err(io::ErrorKind::NotFound.into());
    }
    // SAFETY: `fd` is open (checked) and owned by nothing else (the caller's contract).
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    super::set_cloexec(owned.as_fd(), true)?;
    super::set_nonblocking(owned.as_fd(), true)?;
    Ok(owned)
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
            close_raw(fd);
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

/// (device, inode) from a stat result.
fn id_of(st: &rustix::fs::Stat) -> (u64, u64) {
    (st.st_dev, st.st_ino)
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

/// (device, inode) of the file at `path` itself (`lstat`).
pub(crate) fn path_identity(path: &Path) -> io::Result<(u64, u64)> {
    Ok(id_of(&retry(|| rustix::fs::lstat(path))?))
}
