//! The one wait of the workspace: futex wait and wake on a 32-bit word in shared memory
//! (process-shared, never the `FUTEX_PRIVATE_FLAG` variant), with deadlines.
//!
//! Two layers:
//!
//! - [`WaitWord`] is what every blocking type of the workspace waits on (an event, a semaphore,
//!   a condition, a queue's "data arrived" and "space freed"): a sequence word and a count of
//!   sleepers. A waiter spins as its [`Spin`] policy says, then announces itself and sleeps until
//!   its condition holds or its [`Deadline`] passes; the other side changes its state and calls
//!   [`WaitWord::notify_one`] / [`notify_all`](WaitWord::notify_all), which cost one load
//!   unless somebody sleeps. Each type says only what "ready" means.
//! - [`wait`] and [`wake`] are the bare system call, for a protocol whose word is its state (the
//!   lock word of `multiproc-sync`, whose owner id and waiters bit *are* the futex word).
//!
//! # Not losing a wake-up
//!
//! [`wait`] sleeps only if the word still holds `expected` when the kernel looks, atomically with
//! going to sleep. So the waker changes the word *before* calling [`wake`], and the waiter passes
//! the value it last saw: then either the waiter sees the new value and does not sleep, or it is
//! asleep and the wake finds it. [`WaitWord`] keeps that rule for conditions that are not the word
//! itself (see its docs for the argument), and the protocol is model-checked with `loom`
//! (`cargo xtask test-all` runs the check).
//!
//! ```
//! use multiproc_core::futex::{self, Deadline, WaitResult};
//! use multiproc_core::SharedMapping;
//! use std::sync::atomic::Ordering;
//! use std::time::Duration;
//!
//! let map = SharedMapping::anonymous(4096)?;
//! let word = map.atomic_u32(0);
//! // Nobody changes the word, so this times out.
//! let r = futex::wait(word, 0, Deadline::after(Duration::from_millis(5)));
//! assert_eq!(r, WaitResult::TimedOut);
//! // The value is already different: returns at once.
//! word.store(1, Ordering::Release);
//! assert_eq!(futex::wait(word, 0, Deadline::Forever), WaitResult::ValueChanged);
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! # References
//! - [futex(2)](https://man7.org/linux/man-pages/man2/futex.2.html)
//! - Ulrich Drepper, *Futexes Are Tricky*.

use std::time::{Duration, Instant};

#[cfg(not(loom))]
use std::sync::atomic::{AtomicU32, Ordering, fence};

#[cfg(loom)]
use loom::sync::atomic::{AtomicU32, Ordering, fence};

#[cfg(not(loom))]
use crate::sys;

/// How a [`wait`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitResult {
    /// Woken by [`wake`] (or spuriously: always re-check the word).
    Woken,
    /// The word did not hold `expected`, so the caller never slept.
    ValueChanged,
    /// The deadline passed.
    TimedOut,
}

/// How long an operation may wait: not at all, until an instant, or for ever. The only deadline
/// type of the workspace; public APIs take a `Duration` and make one with
/// [`after`](Self::after) or [`from_timeout`](Self::from_timeout).
///
/// ```
/// use multiproc_core::Deadline;
/// use std::time::Duration;
/// assert!(matches!(Deadline::from_timeout(None), Deadline::Forever));
/// assert!(matches!(Deadline::from_timeout(Some(Duration::ZERO)), Deadline::No));
/// let d = Deadline::after(Duration::from_secs(5));
/// assert!(d.next_sleep(Duration::from_millis(8)).unwrap() <= Duration::from_millis(8));
/// assert!(!d.is_over() && Deadline::No.is_over());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Deadline {
    /// Do not wait.
    No,
    /// Wait until this instant.
    Until(Instant),
    /// Wait without limit.
    Forever,
}

impl Deadline {
    /// `timeout` from now (zero: [`Deadline::No`]; too far to represent: [`Deadline::Forever`]).
    pub fn after(timeout: Duration) -> Deadline {
        if timeout.is_zero() {
            return Deadline::No;
        }
        Instant::now()
            .checked_add(timeout)
            .map_or(Deadline::Forever, Deadline::Until)
    }

    /// `None` waits for ever, zero not at all, anything else until that long from now.
    pub fn from_timeout(timeout: Option<Duration>) -> Deadline {
        timeout.map_or(Deadline::Forever, Deadline::after)
    }

    /// The time left: `None` when it is up, `Some(None)` for no limit.
    pub fn left(self) -> Option<Option<Duration>> {
        match self {
            Deadline::No => None,
            Deadline::Forever => Some(None),
            Deadline::Until(d) => {
                let left = d.checked_duration_since(Instant::now())?;
                (!left.is_zero()).then_some(Some(left))
            }
        }
    }

    /// Whether the time is up.
    pub fn is_over(self) -> bool {
        self.left().is_none()
    }

    /// How long the next sleep may last, at most `cap`; `None` when the time is up.
    pub fn next_sleep(self, cap: Duration) -> Option<Duration> {
        self.left().map(|l| l.map_or(cap, |l| l.min(cap)))
    }

    /// The earlier of `self` and `cap` from now: for a wait that must come back to check
    /// something (a lock owner's liveness) at least that often.
    pub fn capped(self, cap: Duration) -> Deadline {
        match self {
            Deadline::No => Deadline::No,
            _ => match (self, Deadline::after(cap)) {
                (Deadline::Until(a), Deadline::Until(b)) => Deadline::Until(a.min(b)),
                (Deadline::Forever, c) | (c, Deadline::Forever) => c,
                (_, c) => c,
            },
        }
    }
}

/// `futex(word, FUTEX_WAIT, expected, …)`—Sleeps while `*word == expected`, until `deadline`.
///
/// A signal does not end the sleep early (the remaining time is recomputed), and the kernel's
/// other failures cannot happen for a valid `&AtomicU32`, so the outcome is one of three.
/// Spurious wake-ups are reported as [`WaitResult::Woken`]: always re-check the word.
#[doc(alias = "FUTEX_WAIT")]
#[cfg(not(loom))]
pub fn wait(word: &AtomicU32, expected: u32, deadline: Deadline) -> WaitResult {
    use rustix::io::Errno;
    loop {
        let Some(timeout) = deadline.left() else {
            return WaitResult::TimedOut;
        };
        match sys::futex::wait(word, expected, timeout) {
            Ok(()) => return WaitResult::Woken,
            Err(Errno::AGAIN) => return WaitResult::ValueChanged,
            Err(Errno::TIMEDOUT) => return WaitResult::TimedOut,
            Err(Errno::INTR) => continue,
            // EFAULT/EINVAL/ENOSYS cannot happen for a live, aligned word; treat anything
            // else as a spurious wake-up, which every caller already handles.
            Err(_) => return WaitResult::Woken,
        }
    }
}

/// `futex(word, FUTEX_WAKE, n)`—Wakes at most `n` processes or threads waiting on `word`;
/// returns how many were woken.
#[doc(alias = "FUTEX_WAKE")]
#[cfg(not(loom))]
pub fn wake(word: &AtomicU32, n: u32) -> usize {
    sys::futex::wake(word, n)
}

/// Wakes every waiter on `word`; returns how many were woken.
#[cfg(not(loom))]
pub fn wake_all(word: &AtomicU32) -> usize {
    sys::futex::wake(word, i32::MAX as u32)
}

#[cfg(loom)]
pub use model::{wait, wake, wake_all};

/// How a [`WaitWord`] waiter spins (re-checking its condition) before it sleeps. Each use sets
/// its own; the policy itself is this module's, one for the workspace.
///
/// Spinning pays only while the side that will make the condition true runs on another core: a
/// hand-over then costs no system call on either side. It costs the spinner's core, and worse,
/// the other side's time slice when both share a core (or the other side's core is kept busy by
/// another process): the other side cannot make progress while the spinner holds the CPU it
/// needs. So [`Spin::Adaptive`] learns, per [`WaitWord`] (in the word itself, shared by every
/// process that waits on it), how long spinning has paid:
///
/// - a spin that saw the condition come true after `t` keeps a budget of at least `2t`;
/// - a spin that ran out of budget halves it; one that was descheduled while it spun (the clock
///   jumps between two checks: its core is wanted by someone else, who may be the very side it
///   waits for) halves it twice; after a few such failures the waiter sleeps at once, like a
///   futex waiter;
/// - a waiter that has learnt not to spin still spins the whole budget now and then (a
///   *probe*: once in [`PROBE_EVERY`] such waits of its thread, and half as often after each
///   probe that failed, down to once in [`PROBE_EVERY_MAX`]), so that it notices when the other
///   side runs on its own core again (its budget then jumps back to what that spin needed); but
///   not while the notifier that last woke the waiter's thread ran on the CPU it woke on (a
///   notifier records its CPU in the word when it wakes someone, which costs nothing beside the
///   system call): the two share a core, where a spin never pays.
///
/// The learning costs the notifier nothing (it never reads it) and the waiter one relaxed load,
/// plus a store when the budget changes. A waiter whose condition holds at once never spins.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Spin {
    /// Sleep at once (a lock under contention: spinning only steals the holder's cache line).
    Never,
    /// Spin for up to this long, while spinning pays on this word (see above).
    Adaptive(Duration),
}

/// A waiter that learnt not to spin on a word still spins once in this many waits (per thread),
/// after a probe that paid.
pub const PROBE_EVERY: u32 = 64;
/// ... and at least once in this many, after probes that did not.
pub const PROBE_EVERY_MAX: u32 = 1024;

/// How many halvings of the budget a word may learn; one more means "do not spin".
const CUTS: u32 = 8;
const NO_SPIN: u32 = CUTS + 1;
/// A spinner checks the clock once in this many checks of its condition (about half a
/// microsecond).
const CLOCK_EVERY: u32 = 16;
/// A gap this long between two clock checks of a spinner (several times what they take) means
/// it was descheduled meanwhile.
const DESCHEDULED: Duration = Duration::from_micros(4);

/// How a spin ended.
enum Spun {
    /// The condition came true after this long, the spinner never descheduled.
    Ready(Duration),
    /// The condition came true, but the spinner was descheduled meanwhile: the other side ran
    /// in its place, so spinning did not pay.
    ReadyLate,
    /// The budget ran out: sleep.
    Failed,
    /// The spinner was descheduled (its core is wanted): sleep.
    Descheduled,
}

impl Spin {
    /// Spins for at most `budget`, until `ready()`.
    #[inline]
    fn run(budget: Duration, ready: &mut impl FnMut() -> bool) -> Spun {
        let start = Instant::now();
        let mut last = start;
        let mut n = 0u32;
        loop {
            // One `pause` between checks (tens of cycles): a spinner sees the other side's
            // store within a check.
            std::hint::spin_loop();
            if ready() {
                let now = Instant::now();
                return if now.duration_since(last) >= DESCHEDULED {
                    Spun::ReadyLate
                } else {
                    Spun::Ready(now.duration_since(start))
                };
            }
            n = n.wrapping_add(1);
            if n.is_multiple_of(CLOCK_EVERY) {
                let now = Instant::now();
                if now.duration_since(last) >= DESCHEDULED {
                    return Spun::Descheduled;
                }
                if now.duration_since(start) >= budget {
                    return Spun::Failed;
                }
                last = now;
            }
        }
    }
}

#[cfg(not(loom))]
thread_local! {
    /// Waits this thread made on words that had learnt not to spin since its last probe, and
    /// how many such waits it lets pass between probes (see [`Spin`]).
    static PROBE: std::cell::Cell<(u32, u32)> = const { std::cell::Cell::new((0, PROBE_EVERY)) };
    /// Whether this thread woke a sleeper since its last wait.
    static WOKE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether a waiter on a word that learnt not to spin probes this time. A thread that has just
/// woken a sleeper probes sixteen times as often: the side it woke is likely the side it now
/// waits for, and both sleeping (each waking the other, each too slow for the other's spin)
/// is the state a probe must get them out of.
#[cfg(not(loom))]
fn probe_due() -> bool {
    let woke = WOKE.with(|w| w.replace(false));
    PROBE.with(|c| {
        let (n, every) = c.get();
        let due = n + 1 >= every || (woke && n + 1 >= every / 16);
        c.set((if due { 0 } else { n + 1 }, every));
        due
    })
}

/// Notes that this thread woke a sleeper.
#[cfg(not(loom))]
fn woke_someone() {
    WOKE.with(|w| w.set(true));
}

#[cfg(not(loom))]
thread_local! {
    /// Whether the notifier that last woke this thread ran on the CPU this thread woke on.
    static SAME_CPU: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Notes who woke this thread: the notifier's CPU plus one (0: unknown).
#[cfg(not(loom))]
fn was_woken_from(cpu: u32) {
    SAME_CPU.with(|s| s.set(cpu != 0 && cpu == current_cpu()));
}

/// Whether the notifier that last woke this thread ran on its CPU: then it cannot run while
/// this thread spins (they share a core), and a probe would only waste the core.
#[cfg(not(loom))]
fn woken_from_this_cpu() -> bool {
    SAME_CPU.with(std::cell::Cell::get)
}

#[cfg(loom)]
fn was_woken_from(_cpu: u32) {}

#[cfg(loom)]
fn woken_from_this_cpu() -> bool {
    false
}

/// Learns from a probe: one that paid probes often again, one that did not half as often.
#[cfg(not(loom))]
fn probed(paid: bool) {
    PROBE.with(|c| {
        let every = if paid {
            PROBE_EVERY
        } else {
            (c.get().1 * 2).min(PROBE_EVERY_MAX)
        };
        c.set((0, every));
    });
}

#[cfg(loom)]
fn probe_due() -> bool {
    false
}

#[cfg(loom)]
fn probed(_paid: bool) {}

#[cfg(loom)]
fn woke_someone() {}

/// The calling thread's CPU plus one (0: unknown).
#[cfg(not(loom))]
fn current_cpu() -> u32 {
    sys::proc::current_cpu().map_or(0, |c| c.wrapping_add(1))
}

#[cfg(loom)]
fn current_cpu() -> u32 {
    0
}

/// The fewest halvings of `max` that still leave at least `need`.
fn cuts_for(need: Duration, max: Duration) -> u32 {
    let mut cut = 0;
    while cut < CUTS && max / (1 << (cut + 1)) >= need {
        cut += 1;
    }
    cut
}

/// A futex word with its count of sleepers: the place where every blocking type of the
/// workspace sleeps. Lives in shared memory (`#[repr(C)]`, four `u32`s, all zero is valid), inside
/// a type's state.
///
/// The waiter's side is [`wait_until`](Self::wait_until); the other side changes the state the
/// waiter's `ready` looks at **with a `SeqCst` store or read-modify-write**, then calls
/// [`notify_one`](Self::notify_one) or [`notify_all`](Self::notify_all), which do nothing but
/// one load when nobody sleeps.
///
/// Why no wake-up is lost: the waiter reads the sequence, counts itself in `sleepers` (`SeqCst`),
/// fences (`SeqCst`), and only then checks `ready`; the notifier changes the state (`SeqCst`) and
/// only then reads `sleepers` (`SeqCst`). In the single order of `SeqCst` operations either the
/// notifier's read comes after the waiter's count — it sees the sleeper, bumps the sequence and
/// wakes it (and a waiter that has not reached the kernel yet finds the sequence changed and does
/// not sleep) — or it comes before, and then the state change precedes the waiter's fence, so
/// the waiter's check sees it. A sleeper that dies (or times
/// out) takes itself out of the count; one killed inside the kernel leaves the count one too
/// high, which costs later notifiers a needless wake-up, never a lost one.
///
/// ```
/// use multiproc_core::futex::{Spin, WaitWord};
/// use multiproc_core::{Deadline, SharedMapping};
/// use std::sync::atomic::{AtomicU32, Ordering};
/// use std::time::Duration;
///
/// #[repr(C)]
/// struct Flag { set: AtomicU32, wake: WaitWord }
///
/// let flag = Flag { set: AtomicU32::new(0), wake: WaitWord::new() };
/// std::thread::scope(|s| {
///     s.spawn(|| {
///         flag.set.store(1, Ordering::SeqCst);
///         flag.wake.notify_all();
///     });
///     let ready = || flag.set.load(Ordering::Acquire) == 1;
///     assert!(flag.wake.wait_until(ready, Deadline::after(Duration::from_secs(10)), Spin::Adaptive(Duration::from_micros(50))));
/// });
/// ```
#[repr(C)]
#[derive(Debug, Default)]
pub struct WaitWord {
    /// Bumped by a notifier that saw a sleeper: the futex word.
    seq: AtomicU32,
    /// Waiters between announcing themselves and leaving.
    sleepers: AtomicU32,
    /// What [`Spin::Adaptive`] learnt: how many times its budget is halved (0: the whole
    /// budget; more than `CUTS`: do not spin). Any value is safe.
    cut: AtomicU32,
    /// The CPU (plus one; 0: none yet) of the last notifier that woke a sleeper, for the
    /// sleeper to compare with its own (see [`Spin`]). Any value is safe.
    waker_cpu: AtomicU32,
}

#[cfg(not(loom))]
static_assertions::assert_eq_size!(WaitWord, [u64; 2]);

impl WaitWord {
    /// A word with no sleepers.
    #[cfg(not(loom))]
    pub const fn new() -> WaitWord {
        WaitWord {
            seq: AtomicU32::new(0),
            sleepers: AtomicU32::new(0),
            cut: AtomicU32::new(0),
            waker_cpu: AtomicU32::new(0),
        }
    }

    /// A word with no sleepers.
    #[cfg(loom)]
    pub fn new() -> WaitWord {
        WaitWord {
            seq: AtomicU32::new(0),
            sleepers: AtomicU32::new(0),
            cut: AtomicU32::new(0),
            waker_cpu: AtomicU32::new(0),
        }
    }

    /// Waits until `ready()` holds: checks it, spins as `spin` says, then sleeps (re-checking
    /// after every wake-up) until it holds or `deadline` passes. Returns `ready()`'s last answer,
    /// so `false` means the deadline passed with the condition still false.
    #[inline]
    pub fn wait_until(
        &self,
        mut ready: impl FnMut() -> bool,
        deadline: Deadline,
        spin: Spin,
    ) -> bool {
        if ready() {
            return true;
        }
        // A deadline already past (or none at all) does not spin.
        if deadline.is_over() {
            return false;
        }
        if self.spin_until(&mut ready, spin) {
            return true;
        }
        self.sleep_until(ready, deadline)
    }

    /// Spins until `ready()` as `spin` and what this word learnt allow, without sleeping;
    /// returns `ready()`'s last answer. For a wait that goes on elsewhere: a condition's waiter,
    /// notified, spins here for the lock its notifier is about to release (and teaches the
    /// word whether that pays).
    pub fn spin_until(&self, mut ready: impl FnMut() -> bool, spin: Spin) -> bool {
        let Spin::Adaptive(max) = spin else {
            return false;
        };
        let cut = self.cut.load(Ordering::Relaxed);
        let budget = if cut < NO_SPIN {
            max / (1 << cut.min(CUTS))
        } else if probe_due() && !woken_from_this_cpu() {
            max
        } else {
            return false;
        };
        let (ready, learnt) = match Spin::run(budget, &mut ready) {
            Spun::Ready(t) => (true, cut.min(cuts_for(t * 2, max))),
            Spun::ReadyLate => (true, (cut + 2).min(NO_SPIN)),
            Spun::Descheduled => (false, (cut + 2).min(NO_SPIN)),
            Spun::Failed => (false, (cut + 1).min(NO_SPIN)),
        };
        if cut >= NO_SPIN {
            probed(learnt < NO_SPIN);
        }
        if learnt != cut {
            self.cut.store(learnt, Ordering::Relaxed);
        }
        ready
    }

    /// Announces a sleeper: reads the sequence, counts it in `sleepers`, fences. The caller
    /// then checks its condition and sleeps on `seq` while it holds the value returned (or,
    /// condition true, leaves). An async waiter does the same, its helper thread sleeping for it.
    fn announce(&self) -> u32 {
        let seen = self.seq.load(Ordering::Acquire);
        self.sleepers.fetch_add(1, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        seen
    }

    #[cold]
    fn sleep_until(&self, mut ready: impl FnMut() -> bool, deadline: Deadline) -> bool {
        loop {
            let seen = self.announce();
            if ready() {
                self.sleepers.fetch_sub(1, Ordering::Relaxed);
                return true;
            }
            let r = wait(&self.seq, seen, deadline);
            self.sleepers.fetch_sub(1, Ordering::Relaxed);
            if r == WaitResult::Woken {
                was_woken_from(self.waker_cpu.load(Ordering::Relaxed));
            }
            if ready() {
                return true;
            }
            if r == WaitResult::TimedOut || deadline.is_over() {
                return false;
            }
        }
    }

    /// Wakes one sleeper, if any. Call after the `SeqCst` store (or read-modify-write) that
    /// made a waiter's condition true.
    #[inline]
    pub fn notify_one(&self) {
        self.notify(1);
    }

    /// Wakes every sleeper, if any. Call after the `SeqCst` store (or read-modify-write) that
    /// made their condition true.
    #[inline]
    pub fn notify_all(&self) {
        self.notify(i32::MAX as u32);
    }

    /// Wakes up to `n` sleepers, if any (Python's `Condition.notify(n)`). Call after the
    /// `SeqCst` store (or read-modify-write) that made their condition true.
    #[inline]
    pub fn notify(&self, n: u32) {
        // loom treats `SeqCst` loads and stores as acquire/release, weaker than the language
        // guarantees, so the model checks the fenced form; with the caller's `SeqCst` store the
        // `SeqCst` load below is equivalent to it (see the type's docs) and costs no fence.
        #[cfg(loom)]
        fence(Ordering::SeqCst);
        if self.sleepers.load(Ordering::SeqCst) != 0 {
            let cpu = current_cpu();
            if self.waker_cpu.load(Ordering::Relaxed) != cpu {
                self.waker_cpu.store(cpu, Ordering::Relaxed);
            }
            self.seq.fetch_add(1, Ordering::Release);
            wake(&self.seq, n);
            woke_someone();
        }
    }

    /// Whether a waiter has announced itself (and not left): for a notifier that must do more
    /// than wake (a queue that counts waiters for its `qsize`).
    pub fn has_sleepers(&self) -> bool {
        #[cfg(loom)]
        fence(Ordering::SeqCst);
        self.sleepers.load(Ordering::SeqCst) != 0
    }
}

#[cfg(all(feature = "async", not(loom)))]
pub use self::asynch::AsyncWait;

#[cfg(all(feature = "async", not(loom)))]
mod asynch {
    use std::ptr::NonNull;
    use std::sync::Arc;
    use std::sync::atomic::Ordering;
    use std::task::{Context, Poll, Waker};
    use std::time::{Duration, Instant};

    use super::{CUTS, NO_SPIN, Spin, WaitWord, cuts_for, probe_due, probed};
    use crate::waiter::AsyncWord;

    /// The longest a future's poll spins before it goes round the executor (other tasks of its
    /// thread wait that long at most).
    const SPIN_SLICE: Duration = Duration::from_micros(4);

    /// A [`WaitWord`] wait for a future (feature `async`): [`poll_until`](Self::poll_until)
    /// from the future's `poll`.
    ///
    /// It spins the way [`Spin`] says and the word learnt: up to `SPIN_SLICE` (4 us) inside a
    /// poll, then through the executor (it wakes its own task and returns `Pending`, so other
    /// tasks run meanwhile), so a hand-over between two running processes costs no system call. Then it counts itself as a sleeper of the
    /// word, exactly as a sleeping thread does (so the word's notifiers wake it), and arms the
    /// word with the process's helper thread ([`crate::waiter`]), which wakes the task when a
    /// notifier bumps the sequence. Dropping it (a cancelled future) takes it out of the
    /// sleepers, and passes a wake-up it had received but not used on to another sleeper.
    pub struct AsyncWait {
        seq: AsyncWord,
        word: NonNull<WaitWord>,
        /// The sequence seen when it counted itself as a sleeper (`None`: not counted).
        seen: Option<u32>,
        waker: Option<Waker>,
        /// The spin in progress: when it started, its budget, and the policy's longest.
        spin: Option<(Instant, Duration, Duration)>,
    }

    // SAFETY: `word` points into memory kept alive by `seq`'s owner (`Send + Sync`); it is only
    // used as `&WaitWord`, whose fields are atomics.
    unsafe impl Send for AsyncWait {}
    // SAFETY: as above.
    unsafe impl Sync for AsyncWait {}

    impl std::fmt::Debug for AsyncWait {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("AsyncWait")
                .field("sleeping", &self.seen.is_some())
                .finish()
        }
    }

    impl AsyncWait {
        /// A wait on `word(&owner)`, which `owner` keeps mapped.
        pub fn new<T: Send + Sync + 'static>(
            owner: Arc<T>,
            word: impl for<'a> Fn(&'a T) -> &'a WaitWord,
        ) -> AsyncWait {
            let w = NonNull::from(word(&owner));
            AsyncWait {
                seq: AsyncWord::new(owner, |o| &word(o).seq),
                word: w,
                seen: None,
                waker: None,
                spin: None,
            }
        }

        fn word(&self) -> &WaitWord {
            // SAFETY: borrowed from the owner that `seq` keeps alive as long as `self`.
            unsafe { self.word.as_ref() }
        }

        /// One poll of a wait until `ready()`: `Ready` once it holds (checked first), else
        /// `Pending` with the task's waker registered. `ready()` may be called more than once
        /// in a poll, but never again after it returned `true`, so it may act (take a unit).
        pub fn poll_until(
            &mut self,
            cx: &mut Context<'_>,
            spin: Spin,
            ready: impl FnMut() -> bool,
        ) -> Poll<()> {
            self.poll_until_or(cx, spin, None, ready).map(|_| ())
        }

        /// [`poll_until`](Self::poll_until) that also comes back at `check` (for a wait that
        /// must look at something now and then, as a producer's liveness): `Ready(true)` when
        /// `ready()` holds, `Ready(false)` when `check` passed first.
        pub fn poll_until_or(
            &mut self,
            cx: &mut Context<'_>,
            spin: Spin,
            check: Option<Instant>,
            mut ready: impl FnMut() -> bool,
        ) -> Poll<bool> {
            if self.seen.is_some() {
                if !self.seq.fired() {
                    // Polled before the helper saw a change. `ready()` may act (a semaphore's
                    // take): it is called once, and its outcome stands.
                    if !ready() {
                        self.rearm_if_moved(cx, check);
                        return Poll::Pending;
                    }
                    self.leave();
                    return Poll::Ready(true);
                }
                self.leave();
            }
            if ready() {
                self.spun(true);
                return Poll::Ready(true);
            }
            if check.is_some_and(|c| Instant::now() >= c) {
                self.spin = None;
                return Poll::Ready(false);
            }
            if self.spinning(spin) {
                // A slice of the spin in this poll: the other side is often well under a
                // microsecond away, and a round through the executor costs about as much (a
                // `block_on` future's self-wake goes through the runtime's driver).
                let slice = Instant::now() + SPIN_SLICE;
                loop {
                    std::hint::spin_loop();
                    if ready() {
                        self.spun(true);
                        return Poll::Ready(true);
                    }
                    if Instant::now() >= slice {
                        break;
                    }
                }
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            let seen = self.word().announce();
            if ready() {
                self.word().sleepers.fetch_sub(1, Ordering::Relaxed);
                return Poll::Ready(true);
            }
            self.seen = Some(seen);
            self.waker = Some(cx.waker().clone());
            self.seq.arm(seen, check, cx.waker());
            Poll::Pending
        }

        /// Whether to go on spinning (through the executor); starts a spin if none is going.
        fn spinning(&mut self, spin: Spin) -> bool {
            let Spin::Adaptive(max) = spin else {
                return false;
            };
            let now = Instant::now();
            let (start, budget) = match self.spin {
                Some((start, budget, _)) => (start, budget),
                None => {
                    let cut = self.word().cut.load(Ordering::Relaxed);
                    let budget = if cut < NO_SPIN {
                        max / (1 << cut.min(CUTS))
                    } else if probe_due() {
                        max
                    } else {
                        return false;
                    };
                    self.spin = Some((now, budget, max));
                    (now, budget)
                }
            };
            if now.duration_since(start) < budget {
                return true;
            }
            self.spun(false);
            false
        }

        /// Learns from the spin in progress, if any (as a thread's spin does).
        fn spun(&mut self, paid: bool) {
            let Some((start, _, max)) = self.spin.take() else {
                return;
            };
            let w = self.word();
            let cut = w.cut.load(Ordering::Relaxed);
            let learnt = if paid {
                cut.min(cuts_for(start.elapsed() * 2, max))
            } else {
                (cut + 1).min(NO_SPIN)
            };
            if cut >= NO_SPIN {
                probed(paid);
            }
            if learnt != cut {
                w.cut.store(learnt, Ordering::Relaxed);
            }
        }

        fn rearm_if_moved(&mut self, cx: &mut Context<'_>, check: Option<Instant>) {
            if self.waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                return;
            }
            if let Some(seen) = self.seen {
                self.waker = Some(cx.waker().clone());
                self.seq.arm(seen, check, cx.waker());
            }
        }

        /// Stops counting as a sleeper; whether a wake-up had come for it.
        fn leave(&mut self) -> bool {
            if self.seen.take().is_none() {
                return false;
            }
            let fired = self.seq.disarm();
            self.word().sleepers.fetch_sub(1, Ordering::Relaxed);
            self.waker = None;
            fired
        }
    }

    impl Drop for AsyncWait {
        fn drop(&mut self) {
            if self.leave() {
                // A notify_one meant for this waiter would be lost with it: pass it on.
                self.word().notify(1);
            }
        }
    }
}

/// The futex system call modelled for `loom`: a word's sleepers park on a condition variable,
/// and a wake notifies it. `wait` never times out in the model (a deadline is either `No` or
/// the model's "for ever").
#[cfg(loom)]
mod model {
    use super::{AtomicU32, Deadline, Ordering, WaitResult};
    use loom::sync::{Condvar, Mutex};

    loom::lazy_static! {
        static ref KERNEL: (Mutex<()>, Condvar) = (Mutex::new(()), Condvar::new());
    }

    pub fn wait(word: &AtomicU32, expected: u32, deadline: Deadline) -> WaitResult {
        let (m, cv) = &*KERNEL;
        let g = m.lock().unwrap();
        if word.load(Ordering::SeqCst) != expected {
            return WaitResult::ValueChanged;
        }
        if deadline == Deadline::No {
            return WaitResult::TimedOut;
        }
        drop(cv.wait(g).unwrap());
        WaitResult::Woken
    }

    pub fn wake(_word: &AtomicU32, _n: u32) -> usize {
        let (m, cv) = &*KERNEL;
        let _g = m.lock().unwrap();
        cv.notify_all();
        1
    }

    pub fn wake_all(word: &AtomicU32) -> usize {
        wake(word, u32::MAX)
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    //! `RUSTFLAGS="--cfg loom" cargo test -p multiproc-core --lib --release loom_tests`
    use super::*;
    use loom::sync::Arc;
    use loom::sync::atomic::AtomicU32;

    struct Flag {
        set: AtomicU32,
        wake: WaitWord,
    }

    impl Flag {
        /// A flag not set yet, shared by the model's threads.
        fn new() -> Arc<Flag> {
            Arc::new(Flag {
                set: AtomicU32::new(0),
                wake: WaitWord::new(),
            })
        }
    }

    /// Every interleaving with up to `bound` preemptions (the bugs of a wait/notify protocol
    /// show within two or three; an unbounded search of three threads takes minutes).
    fn model(bound: usize, f: impl Fn() + Sync + Send + 'static) {
        let mut b = loom::model::Builder::new();
        b.preemption_bound = Some(bound);
        b.check(f);
    }

    /// A waiter with no deadline always learns of a store made by a notifier on another
    /// thread: no interleaving leaves it asleep.
    #[test]
    fn no_lost_wakeup() {
        model(3, || {
            let f = Flag::new();
            let g = Arc::clone(&f);
            let t = loom::thread::spawn(move || {
                g.set.store(1, Ordering::SeqCst);
                g.wake.notify_one();
            });
            let ready = || f.set.load(Ordering::Acquire) == 1;
            assert!(f.wake.wait_until(ready, Deadline::Forever, Spin::Never));
            t.join().unwrap();
        });
    }

    /// Two waiters and `notify_all`: both wake.
    #[test]
    fn notify_all_wakes_every_waiter() {
        model(2, || {
            let f = Flag::new();
            let waiters: Vec<_> = (0..2)
                .map(|_| {
                    let g = Arc::clone(&f);
                    loom::thread::spawn(move || {
                        let ready = || g.set.load(Ordering::Acquire) == 1;
                        assert!(g.wake.wait_until(ready, Deadline::Forever, Spin::Never));
                    })
                })
                .collect();
            f.set.store(1, Ordering::SeqCst);
            f.wake.notify_all();
            for w in waiters {
                w.join().unwrap();
            }
        });
    }

    /// A waiter whose time runs out leaves no sleeper behind.
    #[test]
    fn timeout_leaves_no_sleeper() {
        model(3, || {
            let f = Flag::new();
            let g = Arc::clone(&f);
            let t = loom::thread::spawn(move || {
                g.set.store(1, Ordering::SeqCst);
                g.wake.notify_one();
            });
            let ready = || f.set.load(Ordering::Acquire) == 1;
            let _ = f.wake.sleep_until(ready, Deadline::No);
            t.join().unwrap();
            assert_eq!(f.wake.sleepers.load(Ordering::SeqCst), 0);
        });
    }
}
