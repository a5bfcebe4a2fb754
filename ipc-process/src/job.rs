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

use multiproc_core::transfer::{self, Channel, Envelope, MovedFds, PortableFd};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::{CallError, Error};
use crate::identity::{self, Identity};
use crate::sys;

/// The environment variable that makes a fresh run of the program a child (`spawn`) or the
/// fork server (`forkserver`) instead of running `main`.
pub(crate) const ROLE_ENV: &str = "IPC_PROCESS_ROLE";

/// Decodes `A` from `bytes`/`fds`, calls the `fn(A) -> R` at `func`, encodes the `R`.
pub(crate) type Trampoline = unsafe fn(usize, &[u8], Vec<OwnedFd>) -> Result<Envelope, CallError>;

/// # Safety
/// `func` must be the address of a `fn(A) -> R` with exactly these `A` and `R`.
unsafe fn trampoline<A: DeserializeOwned, R: Serialize>(
    func: usize,
    bytes: &[u8],
    fds: Vec<OwnedFd>,
) -> Result<Envelope, CallError> {
    // SAFETY: the caller guarantees `func` is a `fn(A) -> R`; fn pointers and usize have the
    // same size on every platform Rust supports.
    let f: fn(A) -> R = unsafe { std::mem::transmute::<usize, fn(A) -> R>(func) };
    let args: A = transfer::from_envelope(bytes, fds).map_err(CallError::Arguments)?;
    let r = f(args);
    transfer::to_envelope(&r).map_err(CallError::Result)
}

/// Decodes a `Vec<A>` from `bytes`/`fds`, calls the `fn(A) -> R` at `func` on each item
/// (catching a panic per item) and encodes a `Result<Vec<R>, Vec<Result<R, String>>>`: `Ok`
/// with every value when no item panicked (the common case, with no per-item tag), `Err` with
/// each item's own result otherwise.
///
/// # Safety
/// As [`trampoline`].
unsafe fn batch_trampoline<A: DeserializeOwned, R: Serialize>(
    func: usize,
    bytes: &[u8],
    fds: Vec<OwnedFd>,
) -> Result<Envelope, CallError> {
    // SAFETY: the caller guarantees `func` is a `fn(A) -> R`.
    let f: fn(A) -> R = unsafe { std::mem::transmute::<usize, fn(A) -> R>(func) };
    let items: Vec<A> = transfer::from_envelope(bytes, fds).map_err(CallError::Arguments)?;
    let mut all: Vec<R> = Vec::with_capacity(items.len());
    let mut each: Option<Vec<Result<R, String>>> = None;
    for a in items {
        let r = std::panic::catch_unwind(AssertUnwindSafe(|| f(a))).map_err(|p| panic_message(&*p));
        match (&mut each, r) {
            (None, Ok(v)) => all.push(v),
            (Some(each), r) => each.push(r),
            (None, Err(m)) => {
                let mut v: Vec<Result<R, String>> = all.drain(..).map(Ok).collect();
                v.push(Err(m));
                each = Some(v);
            }
        }
    }
    let out: Result<&Vec<R>, &Vec<Result<R, String>>> = match &each {
        None => Ok(&all),
        Some(each) => Err(each),
    };
    transfer::to_envelope(&out).map_err(CallError::Result)
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

/// Whether the parent wants the target's return value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Keep {
    /// Send it back ([`JoinHandle`](crate::JoinHandle)).
    Value,
    /// Drop it ([`Process`](crate::Process)).
    Nothing,
}

/// A target bound to its arguments, runnable here (after `fork`) or sendable (spawn, forkserver).
pub(crate) trait Job: Send {
    /// Runs the target in this process (the child of a `fork`); encodes its value if kept.
    fn run_here(self: Box<Self>, keep: Keep) -> Result<Option<Envelope>, String>;
    /// What a fresh process needs to run the target.
    fn to_call(&self) -> Result<Call, Error>;
}

/// Encodes a target's value if the parent wants it (a value nobody reads is not encoded).
fn encode_kept<R: Serialize>(r: &R, keep: Keep) -> Result<Option<Envelope>, String> {
    match keep {
        Keep::Nothing => Ok(None),
        Keep::Value => transfer::to_envelope(r)
            .map(Some)
            .map_err(|e| format!("cannot encode the target's result: {e}")),
    }
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
    fn run_here(self: Box<Self>, keep: Keep) -> Result<Option<Envelope>, String> {
        let r = (self.f)(self.args);
        encode_kept(&r, keep)
    }

    fn to_call(&self) -> Result<Call, Error> {
        // A child's arguments: handles may include what only a child of ours gets.
        let env = transfer::to_child_envelope(&self.args)?;
        Ok(Call {
            f: RemoteFn::new(self.f)?,
            args: env.bytes,
            fds: MovedFds::new(env.fds),
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
    fn run_here(self: Box<Self>, keep: Keep) -> Result<Option<Envelope>, String> {
        let r = (self.0)();
        encode_kept(&r, keep)
    }

    fn to_call(&self) -> Result<Call, Error> {
        Err(Error::NeedsFork)
    }
}

/// A `fn(A) -> R` named so that another process running the same executable can call it:
/// the offsets of the function and of its decoding trampoline from a fixed anchor function,
/// plus the identity of the executable file. It is plain data (serde), so it travels in any
/// message; `multiproc-pool` sends one with every task.
///
/// ```
/// use multiproc_process::RemoteFn;
/// fn double(x: u32) -> u32 { 2 * x }
/// let f = RemoteFn::new(double)?;
/// let arg = multiproc_core::transfer::to_envelope(&21u32)?;
/// // SAFETY: `f` was made by `RemoteFn::new` in this very process.
/// let out = unsafe { f.call(&arg.bytes, arg.fds) }?;
/// let v: u32 = multiproc_core::transfer::from_envelope(&out.bytes, out.fds)?;
/// assert_eq!(v, 42);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteFn {
    exe: [u64; 5],
    trampoline: i64,
    func: i64,
}

impl RemoteFn {
    /// Names `f` (and the code that decodes its `A` and encodes its `R`).
    ///
    /// # Errors
    /// [`Error::NotInExecutable`] when `f` lives in a dynamically loaded library.
    pub fn new<A, R>(f: fn(A) -> R) -> Result<RemoteFn, Error>
    where
        A: DeserializeOwned + 'static,
        R: Serialize + 'static,
    {
        let t: Trampoline = trampoline::<A, R>;
        Ok(RemoteFn {
            exe: sys::exe_identity()?,
            trampoline: offset_of(t as usize)?,
            func: offset_of(f as usize)?,
        })
    }

    /// Names `f` for calls on whole batches: [`call`](Self::call) then takes an encoded
    /// `Vec<A>`, applies `f` to each item — a panic fails only its item — and returns an encoded
    /// `Result<Vec<R>, Vec<Result<R, String>>>`: `Ok` with every value when no item panicked,
    /// otherwise `Err` with each item's result (an `Err` there holds the panic message). What
    /// `multiproc-pool` sends.
    pub fn new_batch<A, R>(f: fn(A) -> R) -> Result<RemoteFn, Error>
    where
        A: DeserializeOwned + 'static,
        R: Serialize + 'static,
    {
        let t: Trampoline = batch_trampoline::<A, R>;
        Ok(RemoteFn {
            exe: sys::exe_identity()?,
            trampoline: offset_of(t as usize)?,
            func: offset_of(f as usize)?,
        })
    }

    /// Calls the function with arguments encoded by `multiproc_core::transfer` (`args` and the
    /// descriptors that came with them); returns its result, encoded the same way. A panic in
    /// the function unwinds out of this call (catch it if you must go on).
    ///
    /// # Errors
    /// [`CallError::OtherExecutable`] when this process runs another executable than the one
    /// that made `self`; [`CallError::Arguments`] when the arguments do not decode,
    /// [`CallError::Result`] when the result does not encode.
    ///
    /// # Safety
    ///
    /// `self` must come from [`RemoteFn::new`] in a process running this same executable
    /// (and not, say, be made up from bytes an untrusted peer sent): the offsets become
    /// function pointers. The executable's identity is checked; the pairing of offsets is not.
    pub unsafe fn call(&self, args: &[u8], fds: Vec<OwnedFd>) -> Result<Envelope, CallError> {
        let here = sys::exe_identity().map_err(CallError::Io)?;
        if here != self.exe {
            return Err(CallError::OtherExecutable);
        }
        let t = address_of(self.trampoline);
        // SAFETY: this process runs the same executable file as the one `RemoteFn::new` ran in
        // (checked above), so the offsets computed there from `trampoline::<A, R>` and the
        // `fn(A) -> R` name the same functions here; the caller guarantees they were made
        // together by `RemoteFn::new`, so `func` has the type the trampoline expects.
        let t: Trampoline = unsafe { std::mem::transmute::<usize, Trampoline>(t) };
        // SAFETY: see above.
        unsafe { t(address_of(self.func), args, fds) }
    }
}

/// A target as it travels: the function and its encoded arguments.
#[derive(Serialize, Deserialize)]
pub(crate) struct Call {
    f: RemoteFn,
    #[serde(with = "serde_bytes")]
    args: Vec<u8>,
    /// Moved into the request message, not duplicated: a child's arguments may hold hundreds
    /// of descriptors, and a low open-files limit must not be hit by holding them twice.
    fds: MovedFds,
}

impl Call {
    /// Runs the call in this process.
    fn run(self) -> Result<Envelope, CallError> {
        let fds = self.fds.into_inner();
        // SAFETY: the request came from our parent (or the fork server relaying it) over a
        // private socket, and the parent made `f` with `RemoteFn::new` for this executable.
        unsafe { self.f.call(&self.args, fds) }
    }
}

/// Everything a fresh child (spawn) or a fork-server child needs.
#[derive(Serialize, Deserialize)]
pub(crate) struct Request {
    pub call: Call,
    pub identity: Identity,
    pub keep: Keep,
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
        #[serde(with = "serde_bytes")]
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
    call: impl FnOnce() -> Result<Option<Envelope>, String>,
    report: Option<&mut Channel>,
    keep: Keep,
) -> i32 {
    let (outcome, code) = match std::panic::catch_unwind(AssertUnwindSafe(call)) {
        Ok(Ok(Some(env))) if keep == Keep::Value => (
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
    run_in_child(
        move || {
            call.run()
                .map(Some)
                .map_err(|e| match std::error::Error::source(&e) {
                    Some(cause) => format!("{e}: {cause}"),
                    None => e.to_string(),
                })
        },
        Some(report),
        req.keep,
    )
}

/// The pre-`main` entry: runs when the program starts, and takes over if the environment says
/// this run is a spawned child or the fork server.
extern "C" fn entry() {
    let Some(role) = std::env::var_os(ROLE_ENV) else {
        return;
    };
    // SAFETY: this runs from `.init_array`, before `main`, in a process that `multiproc-process`
    // itself started (the role variable is set only by `spawn` and the fork server's start);
    // such a process runs this program, whose constructors start no threads before `main` — the
    // precondition for editing the environment. (A program whose own constructors start threads
    // must not use the spawn or forkserver start methods; this is documented at the crate root.)
    unsafe {
        std::env::remove_var(ROLE_ENV);
    }
    let role = role.to_string_lossy().into_owned();
    // SAFETY: the role variable says the parent started us with `spawn_with_channel`, and this
    // runs before `main`, before anything else could claim the descriptor.
    let mut ch = match unsafe { transfer::inherited_channel() } {
        Ok(Some(ch)) => ch,
        _ => {
            let _ = writeln!(
                std::io::stderr(),
                "ipc-process: started as {role} without a channel"
            );
            sys::exit_now(70);
        }
    };
    // SAFETY: as above: before `main`, no other thread of this program exists yet.
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
