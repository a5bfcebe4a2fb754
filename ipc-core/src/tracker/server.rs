//! The tracker process: a copy of the program that takes over before `main` (an `.init_array`
//! entry) when its environment says so, keeps each client's ledger descriptor, and, when a
//! client's connection closes, unlinks what that client's ledger still holds. It exits when the
//! last client is gone.

use std::collections::HashSet;
use std::ffi::{CString, OsStr};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use super::wire::{self, Record};
use super::{Kind, LISTEN_ENV, LISTEN_FD};
use crate::sys;

/// The largest ledger read (a million registrations of long names): what lies beyond is not
/// read.
const MAX_LEDGER: u64 = 256 << 20;

/// One client process, by its connection.
struct Conn {
    fd: OwnedFd,
    /// The memfd in which the client keeps its registrations (the last one it sent).
    ledger: Option<OwnedFd>,
}

/// The pre-`main` entry: returns at once unless this process was started as the tracker.
extern "C" fn entry() {
    if std::env::var_os(LISTEN_ENV).is_none() {
        return;
    }
    // SAFETY: borrowed for one `getsockopt`; not kept.
    let inherited = unsafe { BorrowedFd::borrow_raw(LISTEN_FD) };
    if !sys::fd::raw_fd_is_open(LISTEN_FD) || !sys::net::is_listening(inherited) {
        // The variable came from somewhere else: this is an ordinary run of the program.
        return;
    }
    // SAFETY: our parent's `posix_spawn` put the listening socket at `LISTEN_FD` (checked to be
    // one just above); this runs before `main`, so nothing else in the process owns it.
    let listener = match unsafe { sys::fd::claim(LISTEN_FD) } {
        Ok(fd) => fd,
        Err(_) => sys::proc::exit_now(70),
    };
    sys::proc::become_tracker(LISTEN_FD + 1, c"multiproc-track");
    let code = std::panic::catch_unwind(move || serve(&listener)).unwrap_or(70);
    sys::proc::exit_now(code)
}

/// Registered in `.init_array`, so the loader calls [`entry`] before `main` in every program
/// that can start a tracker ([`keep_entry`] makes the linker keep it).
#[used]
#[unsafe(link_section = ".init_array")]
static ENTRY: extern "C" fn() = entry;

/// Referenced from the path that starts a tracker, so that a program able to start one also
/// contains the entry that makes the started copy a tracker.
pub(crate) fn keep_entry() {
    std::hint::black_box(&ENTRY);
}

/// Serves until no client is left; returns the exit code.
fn serve(listener: &OwnedFd) -> i32 {
    let me = sys::proc::getpid();
    let uid = sys::proc::euid();
    let mut conns: Vec<Conn> = Vec::new();
    let mut ready = vec![0];
    loop {
        if ready.first() == Some(&0) || conns.is_empty() {
            accept_all(listener.as_fd(), &mut conns, me, uid);
        }
        if conns.is_empty() {
            // The last client left and none is waiting to be accepted: exit (the listening
            // socket closes with us, freeing the address for the next tracker).
            return 0;
        }
        ready = {
            let mut fds = vec![listener.as_fd()];
            fds.extend(conns.iter().map(|c| c.fd.as_fd()));
            match sys::fd::poll_many(&fds, crate::Deadline::Forever) {
                Ok(r) => r,
                Err(_) => return 71,
            }
        };
        let mut closed: Vec<usize> = ready
            .iter()
            .copied()
            .filter(|&i| i > 0 && !drain(&mut conns[i - 1]))
            .map(|i| i - 1)
            .collect();
        closed.sort_unstable();
        for i in closed.into_iter().rev() {
            let dead = conns.swap_remove(i);
            release(dead, &conns);
        }
    }
}

/// Accepts every waiting connection from a process of our user, greeting each with our pid.
fn accept_all(listener: BorrowedFd<'_>, conns: &mut Vec<Conn>, me: u32, uid: u32) {
    while let Ok(Some(fd)) = sys::net::accept_now(listener) {
        if sys::net::peer_uid(fd.as_fd()).ok() != Some(uid) {
            continue; // another user's process may not make us unlink names
        }
        if sys::net::send_now(fd.as_fd(), &wire::hello(me)).is_ok() {
            conns.push(Conn { fd, ledger: None });
        }
    }
}

/// Takes every message waiting on `conn` (each a new ledger); `false` once the client is gone.
fn drain(conn: &mut Conn) -> bool {
    let mut buf = [0u8; 16];
    loop {
        let mut fds = Vec::new();
        match sys::net::recv_with_fds(conn.fd.as_fd(), &mut buf, &mut fds, 1) {
            // End of stream: the client closed its end, or died.
            Ok(0) if fds.is_empty() => return false,
            Ok(n) => {
                if &buf[..n] == wire::LEDGER && fds.len() == 1 {
                    conn.ledger = fds.pop();
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return true,
            Err(_) => return false,
        }
    }
}

/// The live records of a ledger (none if it cannot be read).
fn read_ledger(fd: BorrowedFd<'_>) -> Vec<Record> {
    let Ok(size) = sys::mem::file_size(fd) else {
        return Vec::new();
    };
    let mut bytes = vec![0u8; size.min(MAX_LEDGER) as usize];
    match sys::mem::pread_all(fd, &mut bytes, 0) {
        Ok(n) => wire::live_records(&bytes[..n]),
        Err(_) => Vec::new(),
    }
}

/// A client is gone: unlinks each name its ledger still holds, unless a live client
/// registered the same object too.
fn release(dead: Conn, live: &[Conn]) {
    let Some(ledger) = dead.ledger else {
        return;
    };
    let mine = read_ledger(ledger.as_fd());
    if mine.is_empty() {
        return;
    }
    let others: HashSet<Record> = live
        .iter()
        .filter_map(|c| c.ledger.as_ref())
        .flat_map(|l| read_ledger(l.as_fd()))
        .collect();
    for r in mine {
        if !others.contains(&r) {
            unlink(&r);
        }
    }
}

/// Removes one name, if it still names the registered object.
fn unlink(r: &Record) {
    let Ok(cname) = CString::new(r.name.clone()) else {
        return;
    };
    let _ = match r.kind {
        Kind::SharedMemory => sys::mem::unlink_shm(&cname, r.id),
        Kind::MessageQueue => sys::mem::unlink_mqueue(&cname, r.id),
        Kind::Path => sys::fd::unlink_path(Path::new(OsStr::from_bytes(&r.name)), r.id),
    };
}
