//! [`Process`]: Python's `multiprocessing.Process`.

use std::fmt;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use multiproc_core::Deadline;

use multiproc_core::transfer::{Channel, PortableFd, spawn_self_with_channel};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::alive;
use crate::children;
use crate::error::Error;
use crate::forkserver::{self, Status};
use crate::identity::{self, Identity};
use crate::job::{self, ClosureJob, FnJob, Job, Keep, Outcome, ROLE_ENV, Request};
use crate::method::{StartMethod, get_start_method};
use crate::sys;

/// How the parent learns that the child ended.
enum Watch {
    /// Our own child (fork, spawn): a pidfd, readable when it exits; `waitid` reaps it.
    Pid(OwnedFd),
    /// A fork-server child: the server reports `Exited` on this channel (and reaps it); the
    /// pidfd (not ours to reap) is for signals.
    Server(Channel, OwnedFd),
}

impl Watch {
    fn fd(&self) -> BorrowedFd<'_> {
        match self {
            Watch::Pid(fd) => fd.as_fd(),
            Watch::Server(ch, _) => ch.as_fd(),
        }
    }
}

/// Whether a child is a daemon (Python's `daemon`): it dies with its parent and may not start
/// children of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Daemon {
    /// A daemon.
    Yes,
    /// Not a daemon: joined when the parent exits (see [`ChildrenAtExit`](crate::ChildrenAtExit)).
    No,
}

/// Whether `start` checks that this process has one thread before `fork`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ForkCheck {
    Threads,
    /// `start_fork_unchecked`: the caller took on the contract.
    Unchecked,
}

/// How a forked daemon learns that its parent is gone.
enum ParentWatch {
    /// Not a daemon.
    None,
    /// `PR_SET_PDEATHSIG` for a child of the main thread (of this pid).
    DeathSignal(u32),
    /// The read end of the "alive" pipe, watched by a thread.
    Pipe(OwnedFd),
}

struct Running {
    pid: u32,
    watch: Watch,
    /// Where the child reports a panic, a failure, or (for [`JoinHandle`](crate::JoinHandle))
    /// its return value.
    report: Option<Channel>,
    exitcode: Option<i32>,
    outcome: Option<Outcome>,
}

struct Inner {
    job: Option<Box<dyn Job>>,
    run: Option<Running>,
    closed: bool,
}

/// A child process running a target, as Python's `multiprocessing.Process`.
///
/// The target is a `fn(A) -> R` with serde arguments (any start method), or a closure
/// ([`from_closure`](Self::from_closure), `fork` only). Its return value is dropped here; use
/// [`spawn`](crate::spawn) / [`JoinHandle`](crate::JoinHandle) to get it back.
///
/// ```
/// use multiproc_process::Process;
///
/// fn work(n: u32) {
///     if n > 3 { std::process::exit(n as i32) }
/// }
///
/// let p = Process::new(work, 7);
/// assert_eq!(p.name(), "Process-1");
/// p.start()?;
/// p.join()?;
/// assert_eq!(p.exitcode(), Some(7));
/// # Ok::<(), multiproc_process::Error>(())
/// ```
///
/// # Exit codes
///
/// [`exitcode`](Self::exitcode) is `None` while the child runs, `Some(0)` after the target
/// returned, `Some(n)` after `std::process::exit(n)`, `Some(1)` after a panic (its message is in
/// [`panic_message`](Self::panic_message)), and `Some(-n)` when signal `n` ended it.
///
/// # When the parent exits
///
/// A **daemon** child ([`set_daemon`](Self::set_daemon)) never outlives its parent process,
/// however the parent ends, `SIGKILL` included: the kernel kills it when the thread that forked
/// it ends (`PR_SET_PDEATHSIG`) where that thread is the main thread or the fork server, and
/// otherwise it holds the read end of a pipe whose write end only the parent holds, and kills
/// itself when that pipe reports end of file.
///
/// A **non-daemon** child is waited for when its parent exits normally (returns from `main`
/// or calls `std::process::exit`), as Python does: an exit hook that the first `start`
/// installs joins every non-daemon child still running.
/// [`set_children_at_exit(ChildrenAtExit::Leave)`](crate::set_children_at_exit) lets them run
/// on instead (re-parented to init), as they do when the parent is killed.
///
/// Dropping a `Process` does not stop its child; a child that ends after its handle was dropped
/// is reaped by the next [`start`](Self::start) of any process (or
/// [`active_children`](crate::active_children)), so no zombie lingers.
pub struct Process {
    name: String,
    path: Vec<u32>,
    daemon: bool,
    method: StartMethod,
    keep: Keep,
    /// The target's return type, so that a [`JoinHandle`](crate::JoinHandle) of another type
    /// is refused.
    returns: std::any::TypeId,
    inner: Mutex<Inner>,
}

impl fmt::Debug for Process {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Process")
            .field("name", &self.name)
            .field("daemon", &self.daemon)
            .field("start_method", &self.method)
            .field("pid", &self.pid())
            .field("exitcode", &self.exitcode())
            .finish()
    }
}

/// Pidfds of children whose handles were dropped while they ran; reaped later.
static DETACHED: Mutex<Vec<OwnedFd>> = Mutex::new(Vec::new());

pub(crate) fn reap_detached() {
    let mut d = DETACHED.lock().unwrap_or_else(|p| p.into_inner());
    d.retain(|fd| matches!(sys::try_reap(fd.as_fd()), Ok(None)));
}

impl Process {
    fn with_job(job: Box<dyn Job>, returns: std::any::TypeId) -> Process {
        let (name, path) = identity::next_child();
        Process {
            name,
            path,
            daemon: identity::me().daemon,
            method: get_start_method(),
            keep: Keep::Nothing,
            returns,
            inner: Mutex::new(Inner {
                job: Some(job),
                run: None,
                closed: false,
            }),
        }
    }

    /// A process that will run `target(args)`, with the default start method
    /// ([`set_start_method`](crate::set_start_method)) and a default name like Python's
    /// (`Process-1`, and `Process-1:2` for the second child of that child).
    pub fn new<A, R>(target: fn(A) -> R, args: A) -> Process
    where
        A: Serialize + DeserializeOwned + Send + 'static,
        R: Serialize + 'static,
    {
        Process::with_job(
            Box::new(FnJob { f: target, args }),
            std::any::TypeId::of::<R>(),
        )
    }

    /// A process that will run a closure. Only the `fork` start method can run it (the
    /// closure does not exist in a freshly started program); the start method is set to `fork`.
    pub fn from_closure<F, R>(f: F) -> Process
    where
        F: FnOnce() -> R + Send + 'static,
        R: Serialize + 'static,
    {
        Process::with_job(Box::new(ClosureJob(f)), std::any::TypeId::of::<R>())
            .with_start_method(StartMethod::Fork)
    }

    /// Sets the name (builder form of [`set_name`](Self::set_name)).
    pub fn with_name(mut self, name: impl Into<String>) -> Process {
        self.name = name.into();
        self
    }

    /// Makes the child a daemon or not (builder form of [`set_daemon`](Self::set_daemon);
    /// Python's `Process(daemon=True)`).
    pub fn with_daemon(mut self, daemon: Daemon) -> Process {
        self.daemon = daemon == Daemon::Yes;
        self
    }

    /// Sets the start method for this process.
    pub fn with_start_method(mut self, method: StartMethod) -> Process {
        self.method = method;
        self
    }

    pub(crate) fn with_result(mut self) -> Process {
        self.keep = Keep::Value;
        self
    }

    pub(crate) fn returns(&self) -> std::any::TypeId {
        self.returns
    }

    /// The name (Python's `name`). The child sees it as
    /// [`current_process().name`](crate::current_process).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Renames the process. Before `start` it is also the child's own name.
    pub fn set_name(&mut self, name: impl Into<String>) {
        self.name = name.into();
    }

    /// Whether the child is a daemon (Python's `daemon`): it dies with its parent and may not
    /// start children of its own. Inherited from the creating process by default.
    pub fn daemon(&self) -> bool {
        self.daemon
    }

    /// Sets the daemon flag.
    ///
    /// # Errors
    /// [`Error::AlreadyStarted`] once the process is started (Python asserts the same).
    pub fn set_daemon(&mut self, daemon: Daemon) -> Result<(), Error> {
        if self.lock().run.is_some() {
            return Err(Error::AlreadyStarted);
        }
        self.daemon = daemon == Daemon::Yes;
        Ok(())
    }

    /// The start method this process uses.
    pub fn start_method(&self) -> StartMethod {
        self.method
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts the child (Python's `start`).
    ///
    /// # Errors
    /// [`Error::AlreadyStarted`] on a second call; [`Error::ForkWithThreads`] for `fork` in a
    /// process that runs other threads; [`Error::NeedsFork`] for a closure under another start
    /// method; [`Error::DaemonChild`] in a daemon; [`Error::Closed`] after
    /// [`close`](Self::close).
    pub fn start(&self) -> Result<(), Error> {
        self.start_inner(ForkCheck::Threads)
    }

    /// Starts the child with `fork` even though this process may have other threads.
    ///
    /// # Safety
    ///
    /// After `fork` only the calling thread exists in the child, but every lock any other
    /// thread held at that moment stays locked there forever (the allocator's, stdout's, your
    /// own mutexes). The caller guarantees that the target, and `multiproc-process`'s own child set-up
    /// (which allocates and takes an uncontended internal lock), cannot block on such a lock:
    /// for example, the other threads are known to be idle, blocked in a syscall, holding no lock.
    pub unsafe fn start_fork_unchecked(&self) -> Result<(), Error> {
        self.start_inner(ForkCheck::Unchecked)
    }

    fn start_inner(&self, check: ForkCheck) -> Result<(), Error> {
        job::keep_entry();
        reap_detached();
        if identity::me().daemon {
            return Err(Error::DaemonChild);
        }
        let mut inner = self.lock();
        if inner.closed {
            return Err(Error::Closed);
        }
        if inner.run.is_some() {
            return Err(Error::AlreadyStarted);
        }
        let me = identity::me();
        let id = Identity {
            name: self.name.clone(),
            path: self.path.clone(),
            daemon: self.daemon,
            parent: Some((me.name, sys::getpid())),
        };
        let run = match self.method {
            StartMethod::Fork => {
                if check == ForkCheck::Threads {
                    let threads = sys::thread_count();
                    if threads > 1 {
                        return Err(Error::ForkWithThreads { threads });
                    }
                }
                let job = inner.job.take().ok_or(Error::AlreadyStarted)?;
                self.start_fork(job, id)?
            }
            StartMethod::Spawn => {
                let job = inner.job.as_ref().ok_or(Error::AlreadyStarted)?;
                let r = self.start_spawn(&**job, id)?;
                inner.job = None;
                r
            }
            StartMethod::Forkserver => {
                let job = inner.job.as_ref().ok_or(Error::AlreadyStarted)?;
                let r = self.start_forkserver(&**job, id)?;
                inner.job = None;
                r
            }
        };
        let pidfd = match &run.watch {
            Watch::Pid(fd) | Watch::Server(_, fd) => fd,
        };
        // The child runs already: a failure to record it (no descriptor left for the copy)
        // only hides it from `active_children` and the exit hook; the start stands.
        let _ = children::register(&self.name, run.pid, self.daemon, self.method, pidfd);
        inner.run = Some(run);
        Ok(())
    }

    fn start_fork(&self, job: Box<dyn Job>, id: Identity) -> Result<Running, Error> {
        let (ours, mut theirs) = Channel::pair()?;
        // A daemon forked by the main thread dies with it through the kernel (the main thread
        // ends only with the process); one forked by another thread watches the "alive" pipe.
        let watch = match (self.daemon, sys::is_main_thread()) {
            (false, _) => ParentWatch::None,
            (true, true) => ParentWatch::DeathSignal(sys::getpid()),
            (true, false) => ParentWatch::Pipe(alive::reader()?),
        };
        let keep = self.keep;
        // SAFETY: either this process has one thread (checked by the caller), or the caller of
        // `start_fork_unchecked` took on the contract documented there.
        let pid = unsafe { sys::fork() }?;
        if pid == 0 {
            drop(ours);
            alive::forget_in_child();
            forkserver::forget_in_child();
            children::forget_in_child();
            identity::become_child(id);
            match watch {
                ParentWatch::None => {}
                ParentWatch::DeathSignal(parent) => sys::die_with_parent(parent),
                ParentWatch::Pipe(w) => job::watch_parent(w),
            }
            let code = job::run_in_child(move || job.run_here(keep), Some(&mut theirs), keep);
            sys::exit_now(code);
        }
        drop(theirs);
        drop(watch);
        let pidfd = sys::pidfd_open(pid)?;
        Ok(Running {
            pid,
            watch: Watch::Pid(pidfd),
            report: Some(ours),
            exitcode: None,
            outcome: None,
        })
    }

    /// What a fresh child needs; `alive` is the "alive" pipe for a spawned daemon (a fork
    /// server's daemon children die with the server, which dies with us).
    fn request(
        &self,
        job: &dyn Job,
        id: Identity,
        alive: Option<OwnedFd>,
    ) -> Result<Request, Error> {
        Ok(Request {
            call: job.to_call()?,
            identity: id,
            keep: self.keep,
            alive: alive.map(PortableFd::new),
            result: None,
            status: None,
        })
    }

    fn start_spawn(&self, job: &dyn Job, id: Identity) -> Result<Running, Error> {
        let alive = if self.daemon {
            Some(alive::reader()?)
        } else {
            None
        };
        let req = self.request(job, id, alive)?;
        let (pid, mut ch) = spawn_self_with_channel(&[(ROLE_ENV, "spawn")])?;
        let pidfd = sys::pidfd_open(pid)?;
        // A child that died at once shows up as its exit code at join; any other failure to
        // send (a descriptor limit, a value that does not encode) is the caller's to know.
        match ch.send(&req) {
            Err(multiproc_core::Error::Io(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
            Err(e) => {
                // The child waits for a request that will not come: end it now (it is reaped
                // with its pidfd).
                let _ = sys::pidfd_signal(pidfd.as_fd(), rustix::process::Signal::KILL);
                let _ = sys::poll_readable(pidfd.as_fd(), Some(Duration::from_secs(1)));
                let _ = sys::try_reap(pidfd.as_fd());
                return Err(e.into());
            }
            Ok(()) => {}
        }
        Ok(Running {
            pid,
            watch: Watch::Pid(pidfd),
            report: Some(ch),
            exitcode: None,
            outcome: None,
        })
    }

    fn start_forkserver(&self, job: &dyn Job, id: Identity) -> Result<Running, Error> {
        let mut req = self.request(job, id, None)?;
        let (mut status, status_theirs) = Channel::pair()?;
        let (report, report_theirs) = Channel::pair()?;
        req.status = Some(PortableFd::new(status_theirs.into_fd()));
        req.result = Some(PortableFd::new(report_theirs.into_fd()));
        forkserver::submit(&req)?;
        drop(req);
        let (pid, pidfd) = forkserver::await_start(&mut status)?;
        Ok(Running {
            pid,
            watch: Watch::Server(status, pidfd),
            report: Some(report),
            exitcode: None,
            outcome: None,
        })
    }

    /// The child's pid, once started (Python's `pid`).
    pub fn pid(&self) -> Option<u32> {
        self.lock().run.as_ref().map(|r| r.pid)
    }

    /// Python's `ident`: the same as [`pid`](Self::pid).
    pub fn ident(&self) -> Option<u32> {
        self.pid()
    }

    /// Checks (without blocking) whether the child ended; records its exit code if so.
    fn refresh(run: &mut Running) -> Result<(), Error> {
        if run.exitcode.is_some() {
            return Ok(());
        }
        match &mut run.watch {
            Watch::Pid(fd) => {
                if let Some(code) = sys::try_reap(fd.as_fd())? {
                    run.exitcode = Some(code);
                }
            }
            Watch::Server(ch, _) => {
                while ch.poll()? {
                    match ch.recv::<Status>() {
                        Ok(Status::Exited(code)) => {
                            run.exitcode = Some(code);
                            break;
                        }
                        Ok(Status::Started(..)) => {}
                        Err(_) => {
                            // The server died without reporting: the child's fate is unknown;
                            // say it was killed.
                            run.exitcode = Some(-(libc::SIGKILL));
                            break;
                        }
                    }
                }
            }
        }
        if run.exitcode.is_some() && run.outcome.is_none() {
            Self::collect_report(run);
        }
        Ok(())
    }

    /// After the child ended: reads a panic or failure report, if it sent one (a child that
    /// returned normally sent none: its end of the channel just closed).
    fn collect_report(run: &mut Running) {
        if let Some(ch) = run.report.as_mut()
            && sys::has_bytes(ch.as_fd())
            && let Ok(o) = ch.recv::<Outcome>()
        {
            run.outcome = Some(o);
        }
    }

    /// Whether the child is running (Python's `is_alive`): `false` before `start` and after it
    /// ended.
    pub fn is_alive(&self) -> bool {
        let mut inner = self.lock();
        match inner.run.as_mut() {
            None => false,
            Some(run) => {
                let _ = Self::refresh(run);
                run.exitcode.is_none()
            }
        }
    }

    /// The exit code (Python's `exitcode`): `None` while running or before `start`; see the
    /// [type docs](Self#exit-codes).
    pub fn exitcode(&self) -> Option<i32> {
        let mut inner = self.lock();
        let run = inner.run.as_mut()?;
        let _ = Self::refresh(run);
        run.exitcode
    }

    /// The message of the panic that ended the target, if it panicked.
    pub fn panic_message(&self) -> Option<String> {
        let mut inner = self.lock();
        let run = inner.run.as_mut()?;
        let _ = Self::refresh(run);
        match &run.outcome {
            Some(Outcome::Panicked(m)) => Some(m.clone()),
            Some(Outcome::Failed(m)) => Some(m.clone()),
            _ => None,
        }
    }

    /// Waits until the child ends (Python's `join()`).
    ///
    /// # Errors
    /// [`Error::NotStarted`] before `start`; [`Error::JoinSelf`] from the child itself.
    pub fn join(&self) -> Result<(), Error> {
        self.join_until(Deadline::Forever).map(|_| ())
    }

    /// Whether the child has ended, without waiting (`join_timeout(0)`); reaps it if so.
    ///
    /// # Errors
    /// As [`join`](Self::join).
    pub fn try_join(&self) -> Result<bool, Error> {
        self.join_until(Deadline::No)
    }

    /// Waits at most `timeout` (Python's `join(timeout)`); `Ok(true)` if the child ended.
    ///
    /// # Errors
    /// As [`join`](Self::join).
    pub fn join_timeout(&self, timeout: Duration) -> Result<bool, Error> {
        self.join_until(Deadline::from_timeout(Some(timeout)))
    }

    fn join_until(&self, deadline: Deadline) -> Result<bool, Error> {
        loop {
            // Check under the lock, then wait on a duplicate of the sentinel without it, so
            // that other threads can still ask `is_alive`.
            let fd = {
                let mut inner = self.lock();
                if inner.closed {
                    return Err(Error::Closed);
                }
                let run = inner.run.as_mut().ok_or(Error::NotStarted)?;
                if run.pid == sys::getpid() {
                    return Err(Error::JoinSelf);
                }
                Self::refresh(run)?;
                if run.exitcode.is_some() {
                    return Ok(true);
                }
                multiproc_core::fd::dup(run.watch.fd())?
            };
            let Some(left) = deadline.left() else {
                return Ok(false);
            };
            if !sys::poll_readable(fd.as_fd(), left)? {
                return Ok(false);
            }
        }
    }

    /// Sends SIGTERM (Python's `terminate`). Nothing happens if the child already ended.
    pub fn terminate(&self) -> Result<(), Error> {
        self.signal(sys::SIGTERM)
    }

    /// Sends SIGKILL (Python's `kill`).
    pub fn kill(&self) -> Result<(), Error> {
        self.signal(sys::SIGKILL)
    }

    fn signal(&self, sig: rustix::process::Signal) -> Result<(), Error> {
        let mut inner = self.lock();
        let run = inner.run.as_mut().ok_or(Error::NotStarted)?;
        Self::refresh(run)?;
        if run.exitcode.is_some() {
            return Ok(());
        }
        match &run.watch {
            // A pidfd names the very process, even if it has ended and its pid was reused.
            Watch::Pid(fd) | Watch::Server(_, fd) => sys::pidfd_signal(fd.as_fd(), sig)?,
        }
        Ok(())
    }

    /// A descriptor that becomes readable when the child ends (Python's `sentinel`): give it to
    /// `poll`/`epoll` with others. A pidfd for `fork` and `spawn` children; the fork server's
    /// status socket for `forkserver` ones. The returned descriptor is a duplicate owned by the
    /// caller.
    pub fn sentinel(&self) -> Result<OwnedFd, Error> {
        let inner = self.lock();
        let run = inner.run.as_ref().ok_or(Error::NotStarted)?;
        Ok(multiproc_core::fd::dup(run.watch.fd())?)
    }

    /// The child's end as a future ([`Sentinel`](crate::Sentinel)), for `tokio::select!`
    /// (feature `tokio`).
    ///
    /// # Errors
    /// [`Error::NotStarted`] before `start`; [`Error::NoRuntime`] outside a tokio runtime.
    #[cfg(feature = "tokio")]
    pub fn sentinel_async(&self) -> Result<crate::Sentinel, Error> {
        crate::Sentinel::new(self.sentinel()?)
    }

    /// Waits until the child ends, as a future (feature `tokio`): the pidfd (or the fork
    /// server's status socket) is registered with tokio's reactor, so a waiting child costs no
    /// thread. Dropping the future stops waiting and leaves the `Process` as it was.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), multiproc_process::Error> {
    /// use multiproc_process::Process;
    /// fn exit_with(code: i32) { std::process::exit(code) }
    /// let p = Process::new(exit_with, 4);
    /// p.start()?;
    /// p.join_async().await?;
    /// assert_eq!(p.exitcode(), Some(4));
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// As [`join`](Self::join); [`Error::NoRuntime`] outside a tokio runtime.
    #[cfg(feature = "tokio")]
    pub async fn join_async(&self) -> Result<(), Error> {
        while !self.try_join()? {
            self.sentinel_async()?.await?;
        }
        Ok(())
    }

    /// A duplicate of the report channel's descriptor (readable once the child reported or
    /// ended), if there is one.
    #[cfg(feature = "tokio")]
    pub(crate) fn report_fd(&self) -> Result<Option<OwnedFd>, Error> {
        let inner = self.lock();
        let run = inner.run.as_ref().ok_or(Error::NotStarted)?;
        match &run.report {
            Some(ch) => Ok(Some(multiproc_core::fd::dup(ch.as_fd())?)),
            None => Ok(None),
        }
    }

    /// Releases the handle's resources (Python's `close`).
    ///
    /// # Errors
    /// [`Error::StillRunning`] while the child runs.
    pub fn close(&self) -> Result<(), Error> {
        let mut inner = self.lock();
        if let Some(run) = inner.run.as_mut() {
            Self::refresh(run)?;
            if run.exitcode.is_none() {
                return Err(Error::StillRunning);
            }
        }
        inner.closed = true;
        inner.run = None;
        inner.job = None;
        Ok(())
    }

    /// For [`JoinHandle`](crate::JoinHandle): waits for the child's report (its value, panic or
    /// failure), or end of file if it ended without one; gives up at `deadline`.
    pub(crate) fn wait_report(&self, deadline: Deadline) -> Result<Option<Outcome>, Error> {
        let mut inner = self.lock();
        let run = inner.run.as_mut().ok_or(Error::NotStarted)?;
        if let Some(o) = run.outcome.take() {
            return Ok(Some(o));
        }
        let Some(ch) = run.report.as_mut() else {
            return Ok(None);
        };
        match deadline.left() {
            None => match ch.poll()? {
                true => Ok(ch.recv::<Outcome>().ok()),
                false => Err(Error::Timeout),
            },
            Some(Some(left)) => match ch.recv_timeout::<Outcome>(left) {
                Ok(o) => Ok(Some(o)),
                Err(multiproc_core::Error::Timeout) => Err(Error::Timeout),
                Err(_) => Ok(None),
            },
            Some(None) => Ok(ch.recv::<Outcome>().ok()),
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let inner = self.inner.get_mut().unwrap_or_else(|p| p.into_inner());
        if let Some(mut run) = inner.run.take() {
            let _ = Self::refresh(&mut run);
            if run.exitcode.is_none()
                && let Watch::Pid(fd) = run.watch
            {
                DETACHED.lock().unwrap_or_else(|p| p.into_inner()).push(fd);
            }
        }
    }
}

/// `fork()` as Python's `os.fork()`: which side of the fork this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fork {
    /// In the parent, with the child's pid.
    Parent {
        /// The child's pid.
        child: u32,
    },
    /// In the child.
    Child,
}

/// `fork()`—Splits the process in two (Python's `os.fork()`); the caller must `wait` for the
/// child (e.g. with [`waitpid`]).
///
/// # Errors
/// [`Error::ForkWithThreads`] when this process runs other threads: forking then is unsound in
/// general. Use a [`Process`] with `spawn` or `forkserver` instead.
///
/// # References
/// - [fork(2)](https://man7.org/linux/man-pages/man2/fork.2.html)
pub fn fork() -> Result<Fork, Error> {
    let threads = sys::thread_count();
    if threads > 1 {
        return Err(Error::ForkWithThreads { threads });
    }
    // SAFETY: this process has one thread (checked just above), so the child may run anything.
    let pid = unsafe { sys::fork() }?;
    if pid == 0 {
        alive::forget_in_child();
        forkserver::forget_in_child();
        children::forget_in_child();
        Ok(Fork::Child)
    } else {
        Ok(Fork::Parent { child: pid })
    }
}

/// `waitpid(pid, 0)`—Waits for a child made by [`fork()`]; returns its exit code in Python's
/// form (`n` for `exit(n)`, `-s` for signal `s`).
pub fn waitpid(pid: u32) -> Result<i32, Error> {
    let fd = sys::pidfd_open(pid)?;
    loop {
        if let Some(code) = sys::try_reap(fd.as_fd())? {
            return Ok(code);
        }
        sys::poll_readable(fd.as_fd(), None)?;
    }
}

// A `Process` can be shared between threads (e.g. one joins while another polls `is_alive`).
const _: fn() = || {
    fn is<T: Send + Sync>() {}
    is::<Process>();
};
