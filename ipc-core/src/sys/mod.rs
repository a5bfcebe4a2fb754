//! Every OS call of `multiproc-core`, one module per subsystem (as `rustix` splits its
//! backend), so that another Unix can follow by replacing these modules alone. Everything here
//! is a thin wrapper over `rustix` (or `libc` where `rustix` has no wrapper); nothing else in
//! the crate names a syscall.
//!
//! | module | what |
//! |---|---|
//! | [`fd`] | descriptor flags, pipes, `read`/`write`, `poll`, files by path |
//! | [`mem`] | memfd, POSIX shared memory and message-queue names, `mmap`, copies through a descriptor |
//! | [`futex`] | `FUTEX_WAIT` / `FUTEX_WAKE` |
//! | [`net`] | Unix sockets: pairs, `sendmsg`/`recvmsg` with descriptors, the tracker's `SOCK_SEQPACKET` socket |
//! | [`proc`] | threads and processes: ids, `/proc` stats, spawning, pidfds, fork hooks, randomness |

use std::io;

use rustix::io::Errno;

pub(crate) mod fd;
pub(crate) mod futex;
pub(crate) mod mem;
pub(crate) mod net;
pub(crate) mod proc;

/// Runs `f` again for as long as it fails with `EINTR`.
pub(crate) fn retry<T>(mut f: impl FnMut() -> rustix::io::Result<T>) -> io::Result<T> {
    loop {
        match f() {
            Err(Errno::INTR) => continue,
            other => return other.map_err(io::Error::from),
        }
    }
}

/// Whether a read or write on a socket may wait (`MSG_DONTWAIT` when not), whatever the
/// descriptor's own `O_NONBLOCK` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// As the descriptor says (waits on a blocking descriptor).
    Wait,
    /// `WouldBlock` instead of waiting.
    NoWait,
}

/// (device, inode) from a stat result.
pub(crate) fn id_of(st: &rustix::fs::Stat) -> (u64, u64) {
    (st.st_dev, st.st_ino)
}
