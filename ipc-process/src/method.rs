//! Start methods and contexts (Python's `get_context`, `set_start_method`).

use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::Error;
use crate::handle::JoinHandle;
use crate::process::Process;

/// How a child process comes to be.
///
/// | method | how | safe from a multi-threaded parent | cost (this machine) |
/// |---|---|---|---|
/// | [`Fork`](Self::Fork) | `fork()`; the child runs the target in a copy of the parent | no: refused while other threads run | ≈ a bare `fork` |
/// | [`Spawn`](Self::Spawn) | a fresh run of the program (`/proc/self/exe`) that takes over before `main` | yes | one `exec` and program start |
/// | [`Forkserver`](Self::Forkserver) | a single-threaded server (started on first use) forks the child | yes | ≈ a `fork` of a small process |
///
/// `fork` also runs closures; `spawn` and `forkserver` run a `fn(A) -> R` with serde arguments,
/// since the closure does not exist in the new program image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StartMethod {
    /// `fork()` the calling process.
    Fork,
    /// Start the program afresh.
    Spawn,
    /// Ask the fork server.
    Forkserver,
}

impl StartMethod {
    /// Python's name for it: `"fork"`, `"spawn"` or `"forkserver"`.
    pub fn name(self) -> &'static str {
        match self {
            StartMethod::Fork => "fork",
            StartMethod::Spawn => "spawn",
            StartMethod::Forkserver => "forkserver",
        }
    }

    /// Parses Python's name.
    pub fn from_name(name: &str) -> Option<StartMethod> {
        match name {
            "fork" => Some(StartMethod::Fork),
            "spawn" => Some(StartMethod::Spawn),
            "forkserver" => Some(StartMethod::Forkserver),
            _ => None,
        }
    }

    fn to_u8(self) -> u8 {
        self as u8
    }

    fn from_u8(v: u8) -> StartMethod {
        match v {
            0 => StartMethod::Fork,
            1 => StartMethod::Spawn,
            _ => StartMethod::Forkserver,
        }
    }
}

/// The default start method, and whether it is fixed (set, or used).
static DEFAULT: AtomicU8 = AtomicU8::new(StartMethod::Forkserver as u8);
static FIXED: AtomicBool = AtomicBool::new(false);

/// Sets the start method that [`Process::new`] and [`spawn`](crate::spawn) use (default:
/// [`StartMethod::Forkserver`], Python 3.14's default on Linux). As in Python it is set once,
/// before use: a second call, or a call after a process was created with the default, is
/// refused; [`force_start_method`] overrides.
///
/// ```
/// use multiproc_process::{Error, StartMethod, get_start_method, set_start_method};
/// set_start_method(StartMethod::Spawn)?;
/// assert_eq!(get_start_method(), StartMethod::Spawn);
/// assert!(matches!(
///     set_start_method(StartMethod::Fork),
///     Err(Error::StartMethodFixed { current: StartMethod::Spawn })
/// ));
/// # Ok::<(), Error>(())
/// ```
///
/// # Errors
/// [`Error::StartMethodFixed`] when the start method was already set or used.
pub fn set_start_method(method: StartMethod) -> Result<(), Error> {
    if FIXED.swap(true, Ordering::AcqRel) {
        return Err(Error::StartMethodFixed {
            current: StartMethod::from_u8(DEFAULT.load(Ordering::Relaxed)),
        });
    }
    DEFAULT.store(method.to_u8(), Ordering::Relaxed);
    Ok(())
}

/// Sets the default start method even if it was set or used before (Python's
/// `set_start_method(method, force=True)`). Processes already created keep theirs.
pub fn force_start_method(method: StartMethod) {
    DEFAULT.store(method.to_u8(), Ordering::Relaxed);
    FIXED.store(true, Ordering::Release);
}

/// The default start method. Reading it fixes it, as in Python: a later
/// [`set_start_method`] is refused.
pub fn get_start_method() -> StartMethod {
    FIXED.store(true, Ordering::Release);
    StartMethod::from_u8(DEFAULT.load(Ordering::Relaxed))
}

/// Every start method this platform has (Python's `get_all_start_methods()`), the default
/// first.
pub fn get_all_start_methods() -> Vec<StartMethod> {
    vec![
        StartMethod::Forkserver,
        StartMethod::Spawn,
        StartMethod::Fork,
    ]
}

/// The number of CPUs in the system (Python's `cpu_count()`, which is `os.cpu_count()`). The
/// CPUs this process may run on can be fewer (affinity, cgroup quotas):
/// [`std::thread::available_parallelism`] says how many, as Python's `os.process_cpu_count()`.
///
/// ```
/// assert!(multiproc_process::cpu_count() >= 1);
/// ```
pub fn cpu_count() -> usize {
    crate::sys::cpus_online()
        .or_else(|| std::thread::available_parallelism().ok().map(|n| n.get()))
        .unwrap_or(1)
}

/// A start method to create processes with (Python's `multiprocessing.get_context(method)`).
///
/// ```
/// use multiproc_process::{get_context, StartMethod};
/// fn square(x: u64) -> u64 { x * x }
/// let ctx = get_context(StartMethod::Forkserver);
/// assert_eq!(ctx.spawn(square, 12)?.join()?, 144);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Context {
    method: StartMethod,
}

/// A context for `method` (Python's `get_context`).
pub fn get_context(method: StartMethod) -> Context {
    Context { method }
}

impl Context {
    /// The context's start method.
    pub fn start_method(&self) -> StartMethod {
        self.method
    }

    /// A process (not yet started) that will run `target(args)` with this start method.
    pub fn process<A, R>(&self, target: fn(A) -> R, args: A) -> Process
    where
        A: Serialize + DeserializeOwned + Send + 'static,
        R: Serialize + 'static,
    {
        Process::new(target, args).with_start_method(self.method)
    }

    /// Starts `target(args)` with this start method; `join` gives its return value.
    pub fn spawn<A, R>(&self, target: fn(A) -> R, args: A) -> Result<JoinHandle<R>, Error>
    where
        A: Serialize + DeserializeOwned + Send + 'static,
        R: Serialize + DeserializeOwned + 'static,
    {
        JoinHandle::start(Process::new(target, args).with_start_method(self.method))
    }
}
