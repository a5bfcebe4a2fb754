//! The resource tracker: named objects (shared memory in `/dev/shm`, POSIX message queues,
//! fifos) are removed even when the process that created them is killed before it could.
//!
//! Python's `multiprocessing.resource_tracker`, per process: a creator registers each name it
//! will unlink with a small tracker process, and unregisters it when it unlinks it (or keeps it
//! on purpose: `persist()`). When a process dies — `SIGKILL`, a crash, `_exit` before the
//! destructors ran — the tracker removes every name that process registered and did not
//! unregister, unless a process still alive registered the same object.
//! [`SharedMapping::create_named`](crate::SharedMapping::create_named) registers by itself, as
//! do `multiproc-fifo`'s `Fifo::create` and `multiproc-queue`'s `MessageQueue::create`; a
//! primitive of your own calls [`register`] and [`unregister`].
//!
//! ```
//! use multiproc_core::SharedMapping;
//!
//! # let name = format!("ipc-doc-tracker-{}", std::process::id());
//! let map = SharedMapping::create_named(&name, 4096)?; // registered: removed even if we crash
//! let tracker = multiproc_core::tracker::ensure_running()?;
//! assert_ne!(tracker, std::process::id());
//! drop(map); // unlinked by us, so unregistered
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! # One tracker per program
//!
//! A program and all its children share one tracker, started on first need by whichever of
//! them needs it first. Its address is an abstract Unix socket name, chosen by the first
//! process of the program and handed down in the [`TRACKER_ENV`] environment variable: children
//! started by `multiproc-process` (spawn and forkserver) and by
//! [`transfer::spawn_with_channel`](crate::transfer::spawn_with_channel) get it, as do their own
//! children through the environment; a `fork` child knows it already. Each process connects on
//! its own (a `fork` child closes its inherited copy of its parent's connection, in a
//! `pthread_atfork` handler), so the tracker sees exactly which process registered what, and
//! sees the connection close when that process dies.
//!
//! # What a registration costs
//!
//! Nothing the tracker has to hear about at once: it needs a process's registrations only once
//! that process is gone. So each process keeps them in a ledger, a memfd whose descriptor it
//! gives the tracker when it connects; registering writes a record there (and `fstat`s the
//! object, so that the tracker can later tell it from another of the same name), unregistering
//! marks it removed: stores into this process's own memory, about half a microsecond, with no
//! message and no wake-up of the tracker. When the connection closes, the tracker reads the
//! ledger (with `pread`, so a ledger its writer shrank cannot hurt it) and unlinks what it still
//! holds. A record is written field by field and published last, so a process killed in the
//! middle of one leaves a ledger that reads up to the record before.
//!
//! The tracker exits as soon as its last connection closes: a program that exits leaves no
//! tracker behind. It holds none of the program's descriptors (standard input, output and error
//! are `/dev/null`, everything else is closed), so a harness that reads the program's output
//! sees end of file when the program ends. It runs in a session of its own and ignores
//! `SIGINT`, `SIGTERM` and `SIGHUP`, like Python's: a Ctrl-C that kills the program must not
//! kill the one process that cleans up after it.
//!
//! # How it starts
//!
//! The program may run many threads when a name is first created, so the tracker is not a
//! `fork` running Rust code (a child of a multi-threaded process may touch nothing but
//! async-signal-safe calls, and a tracker needs a heap and a loop). It is a fresh copy of the
//! program — `posix_spawn` of `/proc/self/exe`, safe from any thread — that takes over before
//! `main` through an `.init_array` entry of this crate when its environment says so, as
//! `multiproc-process` does for its spawned children, and never reaches `main`. The process
//! that starts it binds the address first, so two processes that need a tracker at once start
//! one between them, and connects before the copy runs, so the tracker never starts without a
//! client.
//!
//! # When it cannot help
//!
//! Tracking is best effort and never in the way: if no tracker can be started or reached,
//! creating the object still succeeds, untracked, and nothing is printed; a `warn` record goes
//! through the `log` facade (target `multiproc_core::tracker`), as does a `debug` record when a
//! process starts the tracker. The tracker does not
//! run when `multiproc-core` is built into a shared library loaded by a host program (the copy it
//! starts is the host), nor in a program whose own constructors start threads before `main`
//! (the same limits as `multiproc-process`'s spawn start method). Set [`TRACKER_ENV`] to `off`
//! to turn tracking off for a process and its children. A name is removed only if it still
//! names the object that was registered (same device and inode), so a name re-created by
//! someone else since is left alone; between that check and the unlink there is a window of a
//! few system calls. Only processes of the same user may connect.
//!
//! # References
//! - [Python's `resource_tracker`](https://github.com/python/cpython/blob/main/Lib/multiprocessing/resource_tracker.py)
//! - [unix(7)](https://man7.org/linux/man-pages/man7/unix.7.html) (abstract socket addresses,
//!   `SO_PEERCRED`)

mod ledger;
mod server;
mod wire;

use std::ffi::{CString, OsStr};
use std::io;
use std::os::fd::{AsFd, BorrowedFd, IntoRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::Path;
use std::sync::atomic::{AtomicI32, AtomicU32, Ordering};
use std::sync::{Mutex, Once, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use crate::sys;
use ledger::Ledger;

/// The environment variable that names the tracker's address for a process and its children.
/// `off` turns tracking off.
pub const TRACKER_ENV: &str = "IPC_CORE_TRACKER";

/// Set only in the tracker process itself: its listening socket is descriptor [`LISTEN_FD`].
const LISTEN_ENV: &str = "IPC_CORE_TRACKER_LISTEN";
const LISTEN_FD: RawFd = 3;
/// How long a process waits for the greeting of a tracker it started (which must be loaded
/// first) and of one that runs already.
const NEW_GREETING: Duration = Duration::from_secs(5);
const GREETING: Duration = Duration::from_secs(2);
/// After a failed start or connection, how long registrations go untracked before the next
/// attempt: doubled after each failure in a row, up to `MAX_RETRY_AFTER`.
const RETRY_AFTER: Duration = Duration::from_secs(1);
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);
/// How often a registration checks that the tracker still listens (it could have been
/// killed): at most once per this interval.
const CHECK_EVERY: Duration = Duration::from_secs(1);

/// What kind of name a registration is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Kind {
    /// A POSIX shared memory object (`shm_open` name, with its leading `/`): `shm_unlink`.
    SharedMemory,
    /// A POSIX message queue (`mq_open` name, with its leading `/`): `mq_unlink`.
    MessageQueue,
    /// A file-system entry, such as a fifo (made absolute against the current directory when
    /// registered): `unlink`.
    Path,
}

/// The address of this program's tracker; `None` when tracking is off (or the inherited
/// address is malformed).
fn address() -> Option<&'static str> {
    static ADDRESS: OnceLock<Option<String>> = OnceLock::new();
    ADDRESS
        .get_or_init(|| match std::env::var_os(TRACKER_ENV) {
            Some(v) => v
                .to_str()
                .filter(|s| {
                    *s != "off"
                        && !s.is_empty()
                        && s.len() <= 100
                        && s.bytes().all(|b| b.is_ascii_graphic())
                })
                .map(str::to_owned),
            None => {
                use std::hash::BuildHasher;
                let pid = sys::proc::getpid();
                let salt = std::collections::hash_map::RandomState::new().hash_one(pid);
                Some(format!("multiproc-tracker-{pid}-{salt:016x}"))
            }
        })
        .as_deref()
}

/// The environment variable (name, value) that puts a child in this program's tracker family;
/// `None` when tracking is off. `multiproc`'s own ways of starting a program add it; add it to a
/// [`Command`](std::process::Command) of your own to share the tracker with that child.
pub fn child_env() -> Option<(&'static str, &'static str)> {
    address().map(|a| (TRACKER_ENV, a))
}

/// Registers `name`, which this process created and will unlink: if the process dies first, the
/// tracker unlinks it. `object` is a descriptor of it (a shared memory object, a message queue)
/// by which the tracker recognises the very object; a [`Kind::Path`] without one is recognised
/// by the file at the path now.
///
/// Never fails and never prints: when no tracker can be reached the name is simply not tracked
/// (and a `warn` record says so through the `log` facade).
/// The first registration of a program starts the tracker (a few milliseconds); later ones
/// write a record into this process's own memory, which the tracker reads once the process is
/// gone: no message, no system call beyond the `fstat` that identifies the object.
pub fn register(kind: Kind, name: &OsStr, object: Option<BorrowedFd<'_>>) {
    let Some(addr) = address() else {
        return;
    };
    let name = normalise(kind, name);
    if !wire::valid_name(&name) {
        return;
    }
    let id = match (object, kind) {
        (Some(fd), _) => sys::fd::file_identity(fd).unwrap_or((0, 0)),
        (None, Kind::Path) => {
            sys::fd::path_identity(Path::new(OsStr::from_bytes(&name))).unwrap_or((0, 0))
        }
        (None, _) => (0, 0),
    };
    with_client(|c| {
        let Some(ledger) = c.ledger() else {
            return;
        };
        match ledger.add(kind, name, id) {
            Ok(true) => c.hand_over(addr),
            Ok(false) => c.keep_connected(addr),
            Err(_) => {}
        }
    });
}

/// Forgets this process's registration of `name` (after unlinking it, or to keep it on
/// purpose). Does nothing for a name this process did not register.
pub fn unregister(kind: Kind, name: &OsStr) {
    if address().is_none() {
        return;
    }
    let name = normalise(kind, name);
    with_client(|c| {
        if let Some(l) = &mut c.ledger {
            l.remove(kind, &name);
        }
    });
}

/// Connects this process to its program's tracker, starting it if none runs; returns the
/// tracker's pid.
///
/// [`register`] does this by itself; call it to learn whether tracking works, or to start the
/// tracker before the program starts threads of its own.
///
/// # Errors
/// [`io::ErrorKind::Unsupported`] when tracking is off ([`TRACKER_ENV`]); the reason the
/// tracker could not be started or reached otherwise.
pub fn ensure_running() -> io::Result<u32> {
    let Some(addr) = address() else {
        return Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "resource tracking is off (IPC_CORE_TRACKER=off)",
        ));
    };
    with_client(|c| {
        if c.ledger.is_none() {
            c.ledger = Some(Ledger::new()?);
        }
        if conn().is_some_and(|fd| !sys::net::still_open(fd)) {
            c.disconnect();
        }
        if conn().is_none() {
            c.retry_at = None;
            c.connect(addr)?;
        }
        c.tracker
            .ok_or_else(|| io::Error::other("not connected to a tracker"))
    })
}

/// A name as the tracker stores it: a path made absolute, anything else as given.
fn normalise(kind: Kind, name: &OsStr) -> Vec<u8> {
    match kind {
        Kind::Path => std::path::absolute(Path::new(name))
            .map(|p| p.into_os_string().into_vec())
            .unwrap_or_else(|_| name.as_bytes().to_vec()),
        _ => name.as_bytes().to_vec(),
    }
}

/// This process's connection to the tracker, as a raw descriptor (-1: none), so that a `fork`
/// child handler can close its copy without touching the heap.
static CONN: AtomicI32 = AtomicI32::new(-1);
/// How many `fork`s this process's memory went through: a client state made under another
/// count was inherited from a parent.
static FORKS: AtomicU32 = AtomicU32::new(0);
static CLIENT: Mutex<Option<Client>> = Mutex::new(None);
static AT_FORK: Once = Once::new();

/// Closes the connection, if any (a raw `close`: async-signal-safe).
fn close_conn() {
    let fd = CONN.swap(-1, Ordering::AcqRel);
    if fd >= 0 {
        sys::fd::close_raw(fd);
    }
}

/// In a child made by `fork()`: closes the inherited copy of the parent's connection, so that
/// the parent's death is seen by the tracker even while the child lives, and marks the client
/// state as inherited. Async-signal-safe.
extern "C" fn in_fork_child() {
    close_conn();
    FORKS.fetch_add(1, Ordering::AcqRel);
}

/// One process's side of the tracker.
struct Client {
    /// The [`FORKS`] count this state belongs to (a `fork` child inherits it and starts
    /// afresh).
    generation: u32,
    /// This process's registrations, shared with the tracker.
    ledger: Option<Ledger>,
    /// The tracker's pid, while connected.
    tracker: Option<u32>,
    /// Pidfds of trackers this process started (its children), to reap them once they end.
    started: Vec<OwnedFd>,
    /// No new attempt to connect before this instant, after a failed one.
    retry_at: Option<Instant>,
    /// Failed attempts in a row.
    failures: u32,
    /// When the connection was last found open.
    checked: Instant,
}

/// Runs `f` on this process's client state (made fresh after a `fork`).
fn with_client<R>(f: impl FnOnce(&mut Client) -> R) -> R {
    AT_FORK.call_once(|| sys::proc::at_fork_child(in_fork_child));
    let mut g = CLIENT.lock().unwrap_or_else(PoisonError::into_inner);
    let now = FORKS.load(Ordering::Acquire);
    let c = g.get_or_insert_with(|| Client::new(now));
    if c.generation != now {
        // Inherited through `fork`: the parent's ledger, connection and trackers are not
        // ours (dropping our copies touches nothing of the parent's).
        *c = Client::new(now);
    }
    f(c)
}

/// The connection, borrowed.
fn conn() -> Option<BorrowedFd<'static>> {
    let fd = CONN.load(Ordering::Acquire);
    // SAFETY: a non-negative `CONN` is a socket this module owns; it is closed only under the
    // `CLIENT` lock (held by every caller) or in a fork child before any other code runs.
    (fd >= 0).then(|| unsafe { BorrowedFd::borrow_raw(fd) })
}

struct Opened {
    fd: OwnedFd,
    pid: u32,
    started: Option<OwnedFd>,
}

impl Client {
    fn new(generation: u32) -> Client {
        Client {
            generation,
            ledger: None,
            tracker: None,
            started: Vec::new(),
            retry_at: None,
            failures: 0,
            checked: Instant::now(),
        }
    }

    /// The ledger, made on first use; `None` if no memfd can be made.
    fn ledger(&mut self) -> Option<&mut Ledger> {
        if self.ledger.is_none() {
            self.ledger = Ledger::new().ok();
        }
        self.ledger.as_mut()
    }

    /// Makes sure a tracker has our ledger: connects if not connected, and now and then checks
    /// that the tracker still listens (it may have been killed; a new one gets the ledger).
    fn keep_connected(&mut self, addr: &str) {
        match conn() {
            None => {
                let _ = self.connect(addr);
            }
            Some(fd) if self.checked.elapsed() >= CHECK_EVERY => {
                self.checked = Instant::now();
                if !sys::net::still_open(fd) {
                    self.disconnect();
                    let _ = self.connect(addr);
                }
            }
            Some(_) => {}
        }
    }

    /// The ledger moved to a new memfd: gives it to the tracker (connecting if need be).
    fn hand_over(&mut self, addr: &str) {
        if conn().is_some() && self.send_ledger().is_ok() {
            return;
        }
        self.disconnect();
        let _ = self.connect(addr);
    }

    fn send_ledger(&self) -> io::Result<()> {
        let (Some(fd), Some(ledger)) = (conn(), &self.ledger) else {
            return Err(io::ErrorKind::NotConnected.into());
        };
        sys::net::send_with_fds(fd, wire::LEDGER, &[ledger.fd()]).map(drop)
    }

    fn disconnect(&mut self) {
        close_conn();
        self.tracker = None;
        self.reap_ended();
    }

    /// Reaps the trackers this process started that have ended, so none stays a zombie.
    fn reap_ended(&mut self) {
        self.started
            .retain(|p| !sys::proc::reap(p.as_fd(), Duration::ZERO));
    }

    /// Connects (starting a tracker if none answers) and hands over the ledger.
    fn connect(&mut self, addr: &str) -> io::Result<()> {
        if self.retry_at.is_some_and(|t| Instant::now() < t) {
            return Err(io::Error::other("the tracker failed a moment ago"));
        }
        self.reap_ended();
        let opened = match open(addr) {
            Ok(o) => o,
            Err(e) => {
                self.back_off();
                log::warn!(
                    "resource tracker unreachable ({e}): names created in the next {:?} are not \
                     removed if this process dies",
                    self.retry_at
                        .map(|t| t.saturating_duration_since(Instant::now()))
                        .unwrap_or_default()
                );
                return Err(e);
            }
        };
        if opened.started.is_some() {
            log::debug!(
                "started the resource tracker (pid {}) at @{addr}",
                opened.pid
            );
        }
        CONN.store(opened.fd.into_raw_fd(), Ordering::Release);
        self.tracker = Some(opened.pid);
        self.started.extend(opened.started);
        self.checked = Instant::now();
        if let Err(e) = self.send_ledger() {
            self.disconnect();
            self.back_off();
            return Err(e);
        }
        self.retry_at = None;
        self.failures = 0;
        Ok(())
    }

    /// After a failure: no new attempt for a while, longer after each failure in a row (a
    /// tracker that cannot be reached must not cost every creation a wait).
    fn back_off(&mut self) {
        let wait = RETRY_AFTER
            .saturating_mul(1 << self.failures.min(6))
            .min(MAX_RETRY_AFTER);
        self.failures = self.failures.saturating_add(1);
        self.retry_at = Some(Instant::now() + wait);
    }
}

/// Connects to the tracker at `addr`, or starts one there.
fn open(addr: &str) -> io::Result<Opened> {
    for _ in 0..3 {
        match sys::net::connect_seqpacket(addr.as_bytes()) {
            Ok(fd) => match greeting(fd.as_fd(), None) {
                Ok(pid) => {
                    return Ok(Opened {
                        fd,
                        pid,
                        started: None,
                    });
                }
                // A tracker that was exiting as we connected: try again (or start one).
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => continue,
                Err(e) => return Err(e),
            },
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::ConnectionRefused | io::ErrorKind::NotFound
                ) =>
            {
                match start(addr) {
                    Ok(o) => return Ok(o),
                    // Another process of the program started one meanwhile: connect to it.
                    Err(e) if e.kind() == io::ErrorKind::AddrInUse => continue,
                    Err(e) => return Err(e),
                }
            }
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::other("no tracker answered at its address"))
}

/// Starts a tracker at `addr`: binds the address, connects to it (the connection waits in the
/// backlog), spawns the tracker with the listening socket, and waits for its greeting.
fn start(addr: &str) -> io::Result<Opened> {
    server::keep_entry();
    let listener = sys::net::listen_seqpacket(addr.as_bytes())?;
    let fd = sys::net::connect_seqpacket(addr.as_bytes())?;
    let pid = sys::proc::spawn_tracker(
        c"multiproc-tracker",
        &tracker_env(addr)?,
        listener.as_fd(),
        LISTEN_FD,
    )?;
    let pidfd = sys::proc::pidfd_open(pid).ok();
    drop(listener); // the tracker has its own copy
    match greeting(fd.as_fd(), pidfd.as_ref().map(AsFd::as_fd)) {
        Ok(pid) => Ok(Opened {
            fd,
            pid,
            started: pidfd,
        }),
        Err(e) => {
            if let Some(p) = &pidfd {
                sys::proc::kill_and_reap(p.as_fd(), Duration::from_secs(1));
            }
            Err(e)
        }
    }
}

/// The tracker's environment: ours, with its address and the descriptor it listens on.
fn tracker_env(addr: &str) -> io::Result<Vec<CString>> {
    let mut env: Vec<CString> = std::env::vars_os()
        .filter(|(k, _)| k != TRACKER_ENV && k != LISTEN_ENV)
        .filter_map(|(k, v)| {
            let mut kv = k.into_vec();
            kv.push(b'=');
            kv.extend_from_slice(v.as_bytes());
            CString::new(kv).ok()
        })
        .collect();
    let nul = |e| io::Error::new(io::ErrorKind::InvalidInput, e);
    env.push(CString::new(format!("{TRACKER_ENV}={addr}")).map_err(nul)?);
    env.push(CString::new(format!("{LISTEN_ENV}={LISTEN_FD}")).map_err(nul)?);
    Ok(env)
}

/// Waits for the tracker's greeting on a new connection; returns its pid. Fails fast when the
/// tracker closes the connection (`UnexpectedEof`) or, for one we started, when it exits.
fn greeting(fd: BorrowedFd<'_>, started: Option<BorrowedFd<'_>>) -> io::Result<u32> {
    if sys::net::peer_uid(fd)? != sys::proc::euid() {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            "the tracker's address is held by another user",
        ));
    }
    let deadline = Instant::now()
        + if started.is_some() {
            NEW_GREETING
        } else {
            GREETING
        };
    let mut fds = vec![fd];
    fds.extend(started);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let ready = sys::fd::poll_many(&fds, crate::Deadline::after(left))?;
        if ready.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the tracker did not answer",
            ));
        }
        if ready.contains(&0) {
            let mut buf = [0u8; 2 * wire::HELLO_LEN];
            match sys::net::recv_now(fd, &mut buf) {
                Ok((0, 0)) => return Err(io::ErrorKind::UnexpectedEof.into()),
                Ok((n, whole)) if n == whole => {
                    return wire::parse_hello(&buf[..n]).ok_or_else(|| {
                        io::Error::new(io::ErrorKind::InvalidData, "not a tracker")
                    });
                }
                Ok(_) => return Err(io::Error::new(io::ErrorKind::InvalidData, "not a tracker")),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => return Err(e),
            }
        }
        // Only the pidfd is ready: the tracker we started exited without a word.
        return Err(io::Error::other("the tracker exited as it started"));
    }
}
