//! What a child runs, how it is named across `exec`, and the code that takes over a spawned
//! child (or the fork server) before `main`.
//!
//! A target is a `fn(A) -> R`. Across `exec` a function pointer means nothing, but with one
//! executable image a function's address minus the address of a fixed anchor function is the
//! same in every run (ASLR moves the whole image). So the parent sends two offsets — the user's
//! `fn`, and the monomorphised [`trampoline`] that decodes `A`, calls it and encodes `R` — plus
//! the identity of its executable file. The child is started from `/proc/self/exe` (the very
//! file the parent runs, even if the path was replaced since) and checks that identity before it
//! turns an offset back into a pointer.

use std::any::Any;
use std::io::Write;
use std::os::fd::OwnedFd;
use std::panic::AssertUnwindSafe;
use std::time::Duration;

use ipc_core::transfer::{self, Channel, Envelope, PortableFd};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::identity::{self, Identity};
use crate::sys;

/// The environment variable that makes a fresh run of the program a child (`spawn`) or the
/// fork server (`forkserver`) instead of running `main`.
pub(crate) const ROLE_ENV: &str = "IPC_PROCESS_ROLE";

/// Decodes `A` from `bytes`/`fds`, calls the `fn(A) -> R` at `func`, encodes the `R`.
pub(crate) type Trampoline = unsafe fn(usize, &[u8], Vec<OwnedFd>) -> Result<Envelope, String>;

/// # Safety
/// `func` must be the address of a `fn(A) -> R` with exactly these `A` and `R`.
unsafe fn trampoline<A: DeserializeOwned, R: Serialize>(
    func: usize,
    bytes: &[u8],
    fds: Vec<OwnedFd>,
) -> Result<Envelope, String> {
    // SAFETY: the caller guarantees `func` is a `fn(A) -> R`; fn pointers and usize have the
    // same size on every platform Rust supports.
    let f: fn(A) -> R = unsafe { std::mem::transmute::<usize, fn(A) -> R>(func) };
    let args: A = transfer::from_envelope(bytes, fds)
        .map_err(|e| format!("cannot decode the target's arguments: {e}"))?;
    let r = f(args);
    transfer::to_envelope(&r).map_err(|e| format!("cannot encode the target's result: {e}"))
}

#[inline(never)]
fn anchor() {
    std::hint::black_box(());
}

fn offset_of(addr: usize) -> Result<i64, Error> {
    let a = anchor as fn() as usize;
    match (sys::object_base(addr), sys::object_base(a)) {
        (Some(x), Some(y)) if x == y => Ok(addr as i64 - a as i64),
        _ => Err(Error::NotInExecutable),
    }
}

fn address_of(offset: i64) -> usize {
    (anchor as fn() as usize as i64 + offset) as usize
}

/// A target bound to its arguments, runnable here (after `fork`) or sendable (spawn, forkserver).
pub(crate) trait Job: Send {
    /// Runs the target in this process (the child of a `fork`).
    fn run_here(self: Box<Self>) -> Result<Envelope, String>;
    /// What a fresh process needs to run the target.
    fn to_call(&self) -> Result<Call, Error>;
}

/// A `fn(A) -> R` with its arguments.
pub(crate) struct FnJob<A, R> {
    pub f: fn(A) -> R,
    pub args: A,
}

impl<A, R> Job for FnJob<A, R>
where
    A: Serialize + DeserializeOwned + Send + 'static,
    R: Serialize + 'static,
{
    fn run_here(self: Box<Self>) -> Result<Envelope, String> {
        let r = (self.f)(self.args);
        transfer::to_envelope(&r).map_err(|e| format!("cannot encode the target's result: {e}"))
    }

    fn to_call(&self) -> Result<Call, Error> {
        let t: Trampoline = trampoline::<A, R>;
        let env = transfer::to_envelope(&self.args)?;
        Ok(Call {
            exe: sys::exe_identity()?,
            trampoline: offset_of(t as usize)?,
            func: offset_of(self.f as usize)?,
            args: env.bytes,
            fds: env.fds.into_iter().map(PortableFd::new).collect(),
        })
    }
}

/// A closure: only `fork` can run it.
pub(crate) struct ClosureJob<F>(pub F);

impl<F, R> Job for ClosureJob<F>
where
    F: FnOnce() -> R + Send + 'static,
    R: Serialize + 'static,
{
    fn run_here(self: Box<Self>) -> Result<Envelope, String> {
        let r = (self.0)();
        transfer::to_envelope(&r).map_err(|e| format!("cannot encode the target's result: {e}"))
    }

    fn to_call(&self) -> Result<Call, Error> {
        Err(Error::NeedsFork)
    }
}

/// A target as it travels: offsets, the executable's identity, the encoded arguments.
#[derive(Serialize, Deserialize)]
pub(crate) struct Call {
    exe: [u64; 5],
    trampoline: i64,
    func: i64,
    args: Vec<u8>,
    fds: Vec<PortableFd>,
}

impl Call {
    /// Runs the call in this process.
    fn run(self) -> Result<Envelope, String> {
        let here = sys::exe_identity().map_err(|e| e.to_string())?;
        if here != self.exe {
            return Err("the child runs a different executable than its parent".into());
        }
        let t = address_of(self.trampoline);
        // SAFETY: this process runs the same executable file as the parent (checked above), so
        // the offsets the parent computed from its `trampoline::<A, R>` and `fn(A) -> R` name the
        // same functions here; the parent built the pair together, so `func` has the type the
        // trampoline expects.
        let t: Trampoline = unsafe { std::mem::transmute::<usize, Trampoline>(t) };
        let fds = self.fds.into_iter().map(PortableFd::into_inner).collect();
        // SAFETY: see above: `func` is the `fn(A) -> R` this trampoline was instantiated for.
        unsafe { t(address_of(self.func), &self.args, fds) }
    }
}

/// Everything a fresh child (spawn) or a fork-server child needs.
#[derive(Serialize, Deserialize)]
pub(crate) struct Request {
    pub call: Call,
    pub identity: Identity,
    pub want_result: bool,
    /// For daemons: the read end of the parent's "alive" pipe; end of file means the parent
    /// process is gone, and the daemon kills itself.
    pub alive: Option<PortableFd>,
    /// Fork server only: where the child sends its outcome.
    pub result: Option<PortableFd>,
    /// Fork server only: where the server reports the child's pid and exit status.
    pub status: Option<PortableFd>,
}

/// What a child tells its parent at the end.
#[derive(Serialize, Deserialize)]
pub(crate) enum Outcome {
    Returned {
        bytes: Vec<u8>,
        fds: Vec<PortableFd>,
    },
    Panicked(String),
    Failed(String),
}

pub(crate) fn panic_message(p: &(dyn Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic with a non-string payload".to_string()
    }
}

/// Runs a target in the child, reports to the parent, returns the exit code (0, or 1 after a
/// panic or failure, as Python's exitcode).
pub(crate) fn run_in_child(
    call: impl FnOnce() -> Result<Envelope, String>,
    report: Option<&mut Channel>,
    want_result: bool,
) -> i32 {
    let (outcome, code) = match std::panic::catch_unwind(AssertUnwindSafe(call)) {
        Ok(Ok(env)) if want_result => (
            Some(Outcome::Returned {
                bytes: env.bytes,
                fds: env.fds.into_iter().map(PortableFd::new).collect(),
            }),
            0,
        ),
        Ok(Ok(_)) => (None, 0),
        Ok(Err(msg)) => {
            let _ = writeln!(std::io::stderr(), "ipc-process: {msg}");
            (Some(Outcome::Failed(msg)), 1)
        }
        // The panic hook already printed the message to stderr, as Python prints a traceback.
        Err(p) => (Some(Outcome::Panicked(panic_message(&*p))), 1),
    };
    if let (Some(o), Some(ch)) = (outcome, report) {
        let _ = ch.send(&o);
    }
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    code
}

/// Starts the thread that kills this daemon when its parent process is gone.
pub(crate) fn watch_parent(alive: OwnedFd) {
    let _ = std::thread::Builder::new()
        .name("ipc-parent-watch".into())
        .spawn(move || {
            use std::os::fd::AsFd;
            sys::wait_eof(alive.as_fd());
            sys::kill_self();
        });
}

/// Runs a request in this (fresh or forked) process; returns the exit code.
pub(crate) fn serve_request(req: Request, report: &mut Channel) -> i32 {
    let daemon = req.identity.daemon;
    identity::become_child(req.identity);
    if daemon && let Some(alive) = req.alive {
        watch_parent(alive.into_inner());
    }
    let call = req.call;
    run_in_child(move || call.run(), Some(report), req.want_result)
}

/// The pre-`main` entry: runs when the program starts, and takes over if the environment says
/// this run is a spawned child or the fork server.
extern "C" fn entry() {
    let Some(role) = std::env::var_os(ROLE_ENV) else {
        return;
    };
    // SAFETY: this runs from `.init_array`, before `main`, when the process has one thread, so
    // nothing can read the environment concurrently.
    unsafe {
        std::env::remove_var(ROLE_ENV);
    }
    let role = role.to_string_lossy().into_owned();
    let mut ch = match transfer::inherited_channel() {
        Ok(Some(ch)) => ch,
        _ => {
            let _ = writeln!(
                std::io::stderr(),
                "ipc-process: started as {role} without a channel"
            );
            sys::exit_now(70);
        }
    };
    // SAFETY: as above, single-threaded before `main`.
    unsafe {
        std::env::remove_var(transfer::CHANNEL_FD_ENV);
    }
    match role.as_str() {
        "spawn" => {
            let req: Request = match ch.recv_timeout(Duration::from_secs(60)) {
                Ok(r) => r,
                Err(e) => {
                    let _ = writeln!(
                        std::io::stderr(),
                        "ipc-process: no request from the parent: {e}"
                    );
                    sys::exit_now(70);
                }
            };
            let code = serve_request(req, &mut ch);
            std::process::exit(code);
        }
        "forkserver" => crate::forkserver::serve(ch),
        _ => sys::exit_now(70),
    }
}

/// Registered in `.init_array`, so the dynamic loader calls [`entry`] before `main` in every
/// program that links this crate. [`keep_entry`] makes sure the linker keeps it.
#[used]
#[unsafe(link_section = ".init_array")]
static ENTRY: extern "C" fn() = entry;

/// Referenced from every start path, so that any program that can start a child also contains
/// the entry that lets the child take over.
pub(crate) fn keep_entry() {
    std::hint::black_box(&ENTRY);
}
