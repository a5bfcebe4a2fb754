//! Process-shared [`Lock`], [`RLock`], [`Semaphore`], [`BoundedSemaphore`], [`Event`],
//! [`Condition`] and [`Barrier`]: every synchronisation primitive of Python's
//! `multiprocessing`, blocking on futexes in shared memory, with a lock whose owner died
//! telling the next acquirer instead of hanging it.
//!
//! # Hello, world!
//!
//! A child process takes a [`Lock`], says hello and sets an [`Event`] the parent waits for.
//!
//! ```
//! use multiproc_process::Process;
//! use multiproc_sync::{Event, Lock};
//! use std::time::Duration;
//!
//! fn child((lock, done): (Lock, Event)) {
//!     let _held = lock.lock().unwrap();
//!     println!("Hello, world! from {}", std::process::id());
//!     done.set();
//! }
//!
//! let (lock, done) = (Lock::new()?, Event::new()?);
//! let p = Process::new(child, (lock.clone(), done.clone()));
//! p.start()?;
//! assert!(done.wait_timeout(Duration::from_secs(10)), "Hello, world! never came");
//! p.join()?;
//! assert_eq!(p.exitcode(), Some(0));
//! assert!(lock.try_lock().is_ok(), "the child released the lock");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Using it
//!
//! ```toml
//! [dependencies]
//! multiproc-sync = "0.1"       # features = ["tokio"] for the futures (see "In a tokio program")
//! multiproc-process = "0.1"   # to start children, as the examples do
//! ```
//!
//! Or the whole family through the umbrella crate `multiproc` (`multiproc::sync`). The one
//! feature, `tokio` (off by default), adds the futures; Linux is the platform built and tested.
//!
//! Every primitive is a handle to a slot of `multiproc-core`'s shared heap
//! ([`multiproc_core::heap`]): [`Clone`] shares it within a process, `fork` inherits it, and it
//! travels to any other process through [`multiproc_core::transfer`] (serde; its arena's
//! descriptor goes out of band, once per message however many primitives share the arena), which
//! is how `multiproc-process` hands it to a `spawn` or `forkserver` child. The `lock_print`
//! example starts ten processes that print under one lock.
//!
//! # What one primitive costs
//!
//! A primitive is a 64-byte slot (header and state) in a 1 MiB arena that thousands share; the
//! slot is freed, and reused, when the last handle to it in every process is dropped.
//!
//! | | `multiproc-sync` | Python `multiprocessing` |
//! |---|---|---|
//! | memory per `Lock`, `RLock`, `Semaphore`, `Event`, `Condition`, `Barrier` | 64 bytes (a `Condition` over a new `RLock`: 128) | a named POSIX semaphore: one 4 KiB mapping each |
//! | descriptors | one per arena (16,382 slots), none per primitive | none (the semaphore's descriptor is closed) |
//! | mappings | one per arena | one per `Lock` |
//! | 10,000 `Lock`s | 1 descriptor, 1 mapping | 10,000 mappings |
//! | sending 1,000 `Lock`s in one message | one descriptor | each pickled by name |
//!
//! # Waiting
//!
//! Every wait is a `FUTEX_WAIT` on a word of the shared state, after a bounded spin (up to 50 µs,
//! and only while spinning has paid on that word: see
//! [`multiproc_core::futex::Spin`]) that lets a hand-over between processes running on two cores
//! skip the syscall; events,
//! semaphores, conditions and barriers sleep on a [`multiproc_core::futex::WaitWord`], the one
//! wait protocol of the workspace, and the lock on its own word (it never spins). No waiter
//! polls or burns a core. Every wait has a timeout variant; a timeout is a `FUTEX_WAIT` timeout,
//! so it is as precise as the kernel's timers (well within a millisecond here).
//!
//! # A holder that dies
//!
//! If a thread dies holding a [`Lock`] or [`RLock`] (its process SIGKILLed in the middle of the
//! critical section, or a thread that exits without releasing), the next acquirer gets the lock
//! with an [`OwnerDied`] outcome — `Err(OwnerDied(guard))` from `lock()`,
//! [`TryLockError::OwnerDied`] from the timed forms — and can repair the guarded state.
//!
//! **Mechanism.** The lock word holds the owner's kernel thread id (TID, bits 0–29) and a
//! waiters bit (bit 31), and beside it the owner's *stamp*: its TID and the low 32 bits of its
//! start time (from `/proc/<tid>/stat`, read once per thread and cached; the cache is refreshed
//! after `fork` by a `pthread_atfork` hook). An acquirer that finds the lock held sleeps on the
//! futex with a bounded timeout; when a whole interval passes with the same owner, it asks
//! [`multiproc_core::task::task_state`] whether that TID still lives. If the TID is gone, a zombie, or
//! now belongs to a thread that started at another time (the TID was reused), the owner is dead,
//! and one compare-exchange of the word from the dead owner to the acquirer takes the lock over
//! (exactly one acquirer wins).
//!
//! **How fast.** The first check comes after 1 ms of sleep, then at doubling intervals up to
//! 8 ms: an acquirer notices a death at most ~8 ms after it happened (about 1 ms when it
//! arrives after the death); the tests see a few milliseconds. An acquire that gives up — a
//! failed [`Lock::try_lock`], a [`Lock::lock_timeout`] that ran out, however short — checks
//! too, at most once per millisecond per lock (the lock records when it was last checked, for
//! every process that polls it): a program that polls learns of the death about a millisecond
//! after it, and a tight polling loop still makes almost no syscalls. Why not instantly: the kernel
//! tells nobody when a thread dies except through its robust-futex list, which glibc owns for
//! its own `pthread_mutex`es (registering ours would clobber it), and a pidfd cannot be waited
//! on together with a futex. Why not less often: a check is one read of a small `/proc` file
//! (a few microseconds), so even a lock held for seconds costs its waiters almost nothing.
//!
//! **Caveats.** All parties must share a PID namespace (the TIDs are compared). Without a
//! readable `/proc`, owners are presumed alive: death then goes unnoticed, but no live owner is
//! ever robbed. A process that makes children with a raw `clone(2)` (not libc's `fork`, which
//! runs the atfork hook) and takes locks in them is not supported.
//!
//! A [`Condition`] uses such a lock, so a waiter re-acquiring it after a notification learns of
//! a dead holder the same way (`wait` returns `Err(OwnerDied(notified))`). A waiter that dies
//! inside [`ConditionGuard::wait`] or [`Barrier::wait`] holds nothing: the kernel drops it from
//! the futex queue, so it absorbs no `notify`, and a barrier has already counted its arrival.
//! If the party running a barrier's action dies, the waiters notice as above and the barrier
//! breaks. A [`Semaphore`] has no owner (as in Python): a unit taken by a process that dies is
//! not given back.
//!
//! # In a tokio program
//!
//! With the `tokio` feature (off by default: `multiproc-sync = { version = "0.1", features =
//! ["tokio"] }`), a task waits without holding a thread: [`Event::wait_async`],
//! [`Lock::lock_async`] and [`RLock::lock_async`] (an [`AsyncLockGuard`] /
//! [`AsyncRLockGuard`], `Send`, that may be held across `.await`s) and
//! [`Semaphore::acquire_async`]. They are plain `std` futures (no tokio types; any executor
//! runs them). Any of them may be dropped — `tokio::time::timeout`, `select!`, a runtime shut
//! down — leaving the primitive as it was: a dropped acquire took nothing, and a wake-up it had
//! been given is passed on to another waiter.
//!
//! A futex has no descriptor an event loop could poll, so one helper thread per process (not
//! per future) sleeps in `futex_waitv(2)` on every word a future waits on and wakes the
//! futures' tasks ([`multiproc_core::waiter`]; Linux 5.16 or later). An idle waiting future
//! costs no CPU; the synchronous operations and the notifying side do not change at all (a
//! waiting future counts as one more sleeper of the word). A future's lock is recorded as
//! held by that helper thread, which lives as long as the process: [`OwnerDied`] is reported
//! when the process dies, whichever runtime thread polled the future. Once a process has a
//! helper thread it is multi-threaded, so `multiproc-process` refuses `fork` there (use
//! `spawn` or `forkserver`).
//!
//! ```
//! # #[cfg(feature = "tokio")] {
//! use multiproc_process::Process;
//! use multiproc_sync::{Event, Lock};
//! use std::time::Duration;
//!
//! // A synchronous child: takes the lock, says so, releases it a little later.
//! fn child((lock, ready): (Lock, Event)) {
//!     let guard = lock.lock().unwrap();
//!     ready.set();
//!     std::thread::sleep(Duration::from_millis(20));
//!     drop(guard);
//! }
//!
//! let (lock, ready) = (Lock::new()?, Event::new()?);
//! let p = Process::new(child, (lock.clone(), ready.clone()));
//! p.start()?;
//! let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
//! rt.block_on(async {
//!     tokio::time::timeout(Duration::from_secs(10), ready.wait_async()).await?;
//!     // The child holds the lock: this task waits for it, without blocking the thread.
//!     let guard = tokio::time::timeout(Duration::from_secs(10), lock.lock_async()).await?;
//!     assert!(guard.is_ok());
//!     Ok::<(), tokio::time::error::Elapsed>(())
//! })?;
//! p.join()?;
//! # }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Comparison with Python multiprocessing
//!
//! | Python | `multiproc-sync` | note |
//! |---|---|---|
//! | `Lock()` | [`Lock::new`] | only the holder may release ([`Error::NotOwner`]) |
//! | `with lock:` | [`Lock::lock`] → [`LockGuard`] | `#[must_use]` guard, released on drop |
//! | `lock.acquire(block=False)` | [`Lock::try_lock`], [`Lock::try_acquire`] | |
//! | `lock.acquire(timeout=t)` | [`Lock::lock_timeout`], [`Lock::acquire_timeout`] | |
//! | `lock.release()` | [`Lock::release`] | |
//! | (hangs forever when the holder died) | [`OwnerDied`] | noticed within ~8 ms |
//! | `RLock()` | [`RLock`] | re-entrant per thread; [`RLock::depth`] |
//! | `Semaphore(n)`, `get_value()` | [`Semaphore::new`], [`Semaphore::value`] | [`Semaphore::acquire_timeout`] returns `bool` |
//! | `BoundedSemaphore(n)` | [`BoundedSemaphore`] | over-release is [`Error::BoundExceeded`] (Python: `ValueError`) |
//! | `Event()`: `set`, `clear`, `is_set`, `wait()`, `wait(t)` | [`Event`]: the same, and [`Event::wait_timeout`] | |
//! | `Condition(lock=None)` | [`Condition::new`] (over an [`RLock`]), [`Condition::with_lock`] | |
//! | `cond.wait()`, `wait(t)`, `wait_for(pred)`, `wait_for(pred, t)` | [`ConditionGuard::wait`], [`wait_timeout`](ConditionGuard::wait_timeout), [`wait_for`](ConditionGuard::wait_for), [`wait_for_timeout`](ConditionGuard::wait_for_timeout) | on the guard: the lock is held, statically |
//! | `cond.notify(n)`, `notify_all()` | [`ConditionGuard::notify`], [`ConditionGuard::notify_all`] | |
//! | `Barrier(parties, action, timeout)` | [`Barrier::new`], [`Barrier::with_action`], [`Barrier::with_timeout`] | the action is per handle |
//! | `barrier.wait(t)` | [`Barrier::wait`], [`Barrier::wait_timeout`] | arrival index, or [`BrokenBarrier`] |
//! | `abort()`, `reset()`, `broken`, `n_waiting`, `parties` | same names | |
//! | `BrokenBarrierError` | [`BrokenBarrier`] | |
//! | `Value(…, lock=…)`'s lock argument | [`AnyLock`]: a [`Lock`] or an [`RLock`] | |
//! | `loop.run_in_executor(None, lock.acquire)`, `event.wait` (asyncio) | [`Lock::lock_async`], [`RLock::lock_async`], [`Semaphore::acquire_async`], [`Event::wait_async`] (feature `tokio`) | no thread per waiter: one helper per process |
//!
//! # Implementation notes
//!
//! The state of each primitive is a `#[repr(C)]` struct of atomics in a shared-heap slot (the
//! storage), apart from the handle that views it (lock_api's and iceoryx2's split): a
//! [`multiproc_core::heap::Shared`], whose header (kind, layout, generation) is checked when a
//! handle is rebuilt from the wire. This crate's only `unsafe` is the `SharedState` promise of
//! each state type (all atomics) and the one `pthread_atfork` call in `sys.rs`; futexes, the
//! heap and `/proc` come from `multiproc-core`.
//! Guards are not `Send`: a lock belongs to the thread that took it.

mod any_lock;
mod barrier;
mod bounded_semaphore;
mod condition;
mod error;
mod event;
#[cfg(feature = "tokio")]
mod event_wait;
mod ident;
mod lock;
#[cfg(feature = "tokio")]
mod lock_async;
mod raw_lock;
mod rlock;
#[cfg(feature = "tokio")]
mod rlock_async;
mod semaphore;
#[cfg(feature = "tokio")]
mod semaphore_acquire;
mod sys;

pub use any_lock::{AnyLock, AnyLockGuard};
pub use barrier::{Barrier, MAX_PARTIES};
pub use bounded_semaphore::{BoundedSemaphore, BoundedSemaphoreGuard};
pub use condition::{Condition, ConditionGuard, ConditionLock};
pub use error::{BrokenBarrier, Error, LockResult, OwnerDied, TryLockError};
pub use event::Event;
#[cfg(feature = "tokio")]
pub use event_wait::EventWait;
pub use lock::{Lock, LockGuard};
#[cfg(feature = "tokio")]
pub use lock_async::{AsyncLockGuard, LockAsync};
pub use rlock::{RLock, RLockGuard};
#[cfg(feature = "tokio")]
pub use rlock_async::{AsyncRLockGuard, RLockAsync};
pub use semaphore::{Semaphore, SemaphoreGuard};
#[cfg(feature = "tokio")]
pub use semaphore_acquire::SemaphoreAcquire;

/// The examples of README.md (this crate's crates.io page) compile and run.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeExamples;
