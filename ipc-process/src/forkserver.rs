//! The fork server: a single-threaded copy of the program, started on first use, that forks
//! children on request. Its children start as fast as `fork` children, and as safely as `spawn`
//! ones: the server took over before `main` and never starts a thread, so forking it is sound.
//!
//! The server exits when the channel from its parent closes (the parent exited or was killed),
//! and kills its daemon children then.

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::sync::Mutex;
use std::time::Duration;

use multiproc_core::transfer::{Channel, PortableFd, spawn_self_with_channel};
use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::job::{self, ROLE_ENV, Request};
use crate::sys;

/// What the server tells the parent about one child, on that child's status channel.
#[derive(Serialize, Deserialize, Debug)]
pub(crate) enum Status {
    /// The child's pid, and a pidfd for it: the parent signals through the pidfd, which can
    /// never reach another process that later gets the same pid.
    Started(u32, PortableFd),
    Exited(i32),
}

struct Client {
    ch: Channel,
    /// A pidfd for the server (to kill and reap it if it stops answering).
    pidfd: OwnedFd,
    /// The process that started the server: a forked child inherits this `Client` but must
    /// not use it (two processes writing one stream would interleave their requests).
    owner: u32,
}

static SERVER: Mutex<Option<Client>> = Mutex::new(None);

/// Starts the server: `posix_spawn` of `/proc/self/exe` (no copy of this process's page
/// tables, unlike `fork` + `exec`), which takes over before `main`.
fn start_server() -> Result<Client, Error> {
    let (pid, ch) = spawn_self_with_channel(&[(ROLE_ENV, "forkserver")])?;
    let pidfd = sys::pidfd_open(pid)?;
    Ok(Client {
        ch,
        pidfd,
        owner: sys::getpid(),
    })
}

/// Drops an inherited client without touching the parent's server: closes our copies of the
/// socket and the pidfd (closing a pidfd neither signals nor reaps).
fn forget(c: Option<Client>) {
    drop(c);
}

/// Kills a server that stopped answering, and reaps it.
fn discard(c: Client) {
    let _ = sys::pidfd_signal(c.pidfd.as_fd(), sys::SIGKILL);
    let _ = sys::poll_readable(c.pidfd.as_fd(), Some(Duration::from_secs(10)));
    let _ = sys::try_reap(c.pidfd.as_fd());
}

/// In a freshly forked child: lets go of the parent's fork server (see [`Client::owner`]).
pub(crate) fn forget_in_child() {
    let mut g = SERVER.lock().unwrap_or_else(|p| p.into_inner());
    forget(g.take());
}

/// Sends `req` to the fork server, starting it (or restarting it, if it died) as needed.
pub(crate) fn submit(req: &Request) -> Result<(), Error> {
    job::keep_entry();
    let mut g = SERVER.lock().unwrap_or_else(|p| p.into_inner());
    if g.as_ref().is_some_and(|c| c.owner != sys::getpid()) {
        // Inherited through fork: close our copy of the parent's socket, start our own server.
        forget(g.take());
    }
    for attempt in 0..2 {
        if g.is_none() {
            *g = Some(start_server()?);
        }
        let client = g.as_mut().expect("just set");
        match client.ch.send(req) {
            Ok(()) => return Ok(()),
            Err(e) if attempt == 0 => {
                // The server is gone: reap it and start another.
                discard(g.take().expect("present"));
                drop(e);
            }
            Err(e) => return Err(e.into()),
        }
    }
    unreachable!("the loop returns on its second attempt")
}

struct Kid {
    pidfd: OwnedFd,
    status: Channel,
    daemon: bool,
}

/// The server's loop. Never returns.
pub(crate) fn serve(mut listener: Channel) -> ! {
    let mut kids: Vec<Kid> = Vec::new();
    loop {
        let ready = {
            let mut fds = vec![listener.as_fd()];
            fds.extend(kids.iter().map(|k| k.pidfd.as_fd()));
            match sys::poll_many(&fds, None) {
                Ok(r) => r,
                Err(_) => sys::exit_now(71),
            }
        };
        // Children that ended: report and forget (highest index first, for swap_remove).
        for &i in ready.iter().rev() {
            if i == 0 {
                continue;
            }
            if let Ok(Some(code)) = sys::try_reap(kids[i - 1].pidfd.as_fd()) {
                let mut kid = kids.swap_remove(i - 1);
                let _ = kid.status.send(&Status::Exited(code));
            }
        }
        if ready.first() == Some(&0) {
            match listener.recv::<Request>() {
                Ok(req) => {
                    if let Err(e) = start_kid(req, &listener, &mut kids) {
                        eprintln!("ipc-process fork server: cannot start a child: {e}");
                    }
                }
                Err(_) => {
                    // The parent is gone (or spoke nonsense): take the daemons with us.
                    for k in &kids {
                        if k.daemon {
                            let _ = sys::pidfd_signal(k.pidfd.as_fd(), sys::SIGKILL);
                        }
                    }
                    sys::exit_now(0);
                }
            }
        }
    }
}

fn start_kid(mut req: Request, listener: &Channel, kids: &mut Vec<Kid>) -> Result<(), Error> {
    let status = req.status.take().ok_or(Error::NotStarted)?;
    let mut status = Channel::from_fd(status.into_inner())?;
    let result = req.result.take().ok_or(Error::NotStarted)?;
    let daemon = req.identity.daemon;
    let server = sys::getpid();
    // SAFETY: the fork server never starts a thread (it took over before `main` and only runs
    // this loop), so the child may run any code.
    let pid = unsafe { sys::fork() }?;
    if pid == 0 {
        // A daemon dies with the server (which kills its daemons when our parent goes, and
        // whose only thread forked us).
        if daemon {
            sys::die_with_parent(server);
        }
        // The child keeps nothing of the server's.
        sys::close_raw(listener.as_fd().as_raw_fd());
        for k in kids.iter() {
            sys::close_raw(k.pidfd.as_raw_fd());
            sys::close_raw(k.status.as_fd().as_raw_fd());
        }
        drop(status);
        let mut report = match Channel::from_fd(result.into_inner()) {
            Ok(ch) => ch,
            Err(_) => sys::exit_now(70),
        };
        let code = job::serve_request(req, &mut report);
        sys::exit_now(code);
    }
    drop(result);
    let pidfd = sys::pidfd_open(pid)?;
    let for_parent = multiproc_core::fd::dup(&pidfd)?;
    let _ = status.send(&Status::Started(pid, PortableFd::new(for_parent)));
    kids.push(Kid {
        pidfd,
        status,
        daemon,
    });
    Ok(())
}

/// Waits for the `Started` report on a fresh status channel: the pid and a pidfd.
pub(crate) fn await_start(status: &mut Channel) -> Result<(u32, OwnedFd), Error> {
    match status.recv_timeout::<Status>(Duration::from_secs(30))? {
        Status::Started(pid, fd) => Ok((pid, fd.into_inner())),
        Status::Exited(_) => Err(Error::NotStarted),
    }
}
