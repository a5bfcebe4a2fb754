//! [`Barrier`].

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use multiproc_core::futex::{Spin, WaitWord};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::BrokenBarrier;
use crate::ident;
use crate::raw_lock::{CHECK_FIRST, CHECK_MAX, Deadline};
use multiproc_core::heap::{Kind, Shared, SharedState};

// The state word: generation (bits 17..32) | last generation ended broken (bit 16) |
// broken (bit 15) | arrivals in this generation (bits 0..15).
const COUNT_MASK: u32 = (1 << 15) - 1;
const BROKEN: u32 = 1 << 15;
const LAST_BROKEN: u32 = 1 << 16;
const GEN_SHIFT: u32 = 17;
/// The most parties a barrier can have.
pub const MAX_PARTIES: u32 = COUNT_MASK - 1;

fn generation(s: u32) -> u32 {
    s >> GEN_SHIFT
}

fn next_generation(s: u32, last_broken: bool) -> u32 {
    let g = (generation(s) + 1) & ((1 << (32 - GEN_SHIFT)) - 1);
    (g << GEN_SHIFT) | if last_broken { LAST_BROKEN } else { 0 }
}

#[repr(C)]
pub(crate) struct BarrierState {
    /// See the constants above.
    state: AtomicU32,
    parties: AtomicU32,
    /// A generation ended by reset or break (for a waiter that wakes two generations late).
    broken_gen: AtomicU32,
    _pad: AtomicU32,
    /// Default timeout in nanoseconds, `u64::MAX` for none.
    timeout_ns: AtomicU64,
    /// The stamp of the party running the action (its liveness is checked by the others).
    runner: AtomicU64,
    /// Where parties sleep until `state` changes.
    wake: WaitWord,
}

// SAFETY: `#[repr(C)]`, atomics only, 48 bytes, alignment 8.
unsafe impl SharedState for BarrierState {
    const KIND: Kind = Kind::new(*b"Barr");
}

type Action = Arc<dyn Fn() + Send + Sync>;

/// A meeting point for a fixed number of parties: Python's `multiprocessing.Barrier`.
///
/// Each party calls [`wait`](Self::wait); the last to arrive runs the action (if its handle has
/// one), then all are released and [`wait`](Self::wait) returns each party's arrival index
/// (`0..parties`, the last arrival `parties - 1`). The barrier is then ready for the next round.
///
/// As in Python, a timeout, an [`abort`](Self::abort) or an action that panics *breaks* it:
/// every waiter, and every later arrival until [`reset`](Self::reset), gets [`BrokenBarrier`].
/// A waiter that dies has already been counted, so the others are released when the rest
/// arrive; if the party running the action dies, the waiters notice within a few milliseconds
/// (as for a lock's owner) and the barrier breaks.
///
/// The action is a closure of this handle, not of the shared state: a handle that reaches
/// another process through [`multiproc_core::transfer`] arrives without one (set one there with
/// [`set_action`](Self::set_action)); a `fork`ed child keeps its copy.
///
/// ```
/// let b = multiproc_sync::Barrier::new(1)?;
/// assert_eq!(b.wait(), Ok(0));
/// b.abort();
/// assert!(b.broken() && b.wait().is_err());
/// b.reset();
/// assert_eq!(b.wait(), Ok(0));
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone)]
pub struct Barrier {
    state: Shared<BarrierState>,
    action: Option<Action>,
}

impl fmt::Debug for Barrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Barrier")
            .field("parties", &self.parties())
            .field("n_waiting", &self.n_waiting())
            .field("broken", &self.broken())
            .finish()
    }
}

impl Serialize for Barrier {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.state.serialize(s)
    }
}

impl<'de> Deserialize<'de> for Barrier {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Barrier {
            state: Shared::deserialize(d)?,
            action: None,
        })
    }
}

/// Breaks the barrier if the action unwinds.
struct BreakOnUnwind<'a>(&'a Barrier, bool);

impl Drop for BreakOnUnwind<'_> {
    fn drop(&mut self) {
        if !self.1 {
            self.0.abort();
        }
    }
}

impl Barrier {
    /// A barrier for `parties` parties, whose [`wait`](Self::wait) waits as long as it takes
    /// (Python's `Barrier(parties)`).
    ///
    /// # Errors
    /// [`std::io::ErrorKind::InvalidInput`] for 0 parties or more than [`MAX_PARTIES`].
    pub fn new(parties: u32) -> std::io::Result<Barrier> {
        Barrier::build(parties, None)
    }

    /// A barrier whose [`wait`](Self::wait) breaks it after `timeout` (Python's
    /// `Barrier(parties, timeout=…)`).
    ///
    /// # Errors
    /// As [`new`](Self::new).
    pub fn with_timeout(parties: u32, timeout: Duration) -> std::io::Result<Barrier> {
        Barrier::build(parties, Some(timeout))
    }

    fn build(parties: u32, timeout: Option<Duration>) -> std::io::Result<Barrier> {
        if parties == 0 || parties > MAX_PARTIES {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("a barrier needs 1 to {MAX_PARTIES} parties"),
            ));
        }
        let ns = timeout.map_or(u64::MAX, |t| t.as_nanos().min(u64::MAX as u128 - 1) as u64);
        Ok(Barrier {
            state: Shared::new(|s: &BarrierState| {
                s.parties.store(parties, Ordering::Relaxed);
                s.broken_gen.store(u32::MAX, Ordering::Relaxed);
                s.timeout_ns.store(ns, Ordering::Release);
            })?,
            action: None,
        })
    }

    /// [`new`](Self::new) with an action, run by the last party to arrive before the others
    /// are released (Python's `Barrier(parties, action)`; a default timeout is
    /// [`with_timeout`](Self::with_timeout) then [`set_action`](Self::set_action)).
    pub fn with_action(
        parties: u32,
        action: impl Fn() + Send + Sync + 'static,
    ) -> std::io::Result<Barrier> {
        let mut b = Barrier::new(parties)?;
        b.set_action(action);
        Ok(b)
    }

    /// Sets this handle's action (and its clones' made afterwards).
    pub fn set_action(&mut self, action: impl Fn() + Send + Sync + 'static) {
        self.action = Some(Arc::new(action));
    }

    fn s(&self) -> &BarrierState {
        self.state.get()
    }

    /// The number of parties.
    pub fn parties(&self) -> u32 {
        self.s().parties.load(Ordering::Relaxed)
    }

    /// How many parties wait now.
    pub fn n_waiting(&self) -> u32 {
        let s = self.s().state.load(Ordering::Acquire);
        (s & COUNT_MASK).min(self.parties().saturating_sub(1))
    }

    /// Whether the barrier is broken.
    pub fn broken(&self) -> bool {
        self.s().state.load(Ordering::Acquire) & BROKEN != 0
    }

    /// The default timeout given to [`new`](Self::new).
    pub fn timeout(&self) -> Option<Duration> {
        match self.s().timeout_ns.load(Ordering::Relaxed) {
            u64::MAX => None,
            ns => Some(Duration::from_nanos(ns)),
        }
    }

    /// Waits for all parties, for at most the barrier's default timeout (none: as long as it
    /// takes). Returns the arrival index (Python's `wait()`).
    ///
    /// # Errors
    /// [`BrokenBarrier`] when the barrier is or becomes broken (this wait timing out breaks it).
    pub fn wait(&self) -> Result<u32, BrokenBarrier> {
        self.wait_deadline(Deadline::from_timeout(self.timeout()))
    }

    /// Waits for all parties, for at most `timeout`. Returns the arrival index (Python's
    /// `wait(timeout)`).
    ///
    /// # Errors
    /// [`BrokenBarrier`] when the barrier is or becomes broken (this wait timing out breaks it).
    pub fn wait_timeout(&self, timeout: Duration) -> Result<u32, BrokenBarrier> {
        self.wait_deadline(Deadline::after(timeout))
    }

    fn wait_deadline(&self, wait: Deadline) -> Result<u32, BrokenBarrier> {
        let (mine, index) = self.arrive(wait)?;
        if index + 1 == self.parties() {
            self.trip(mine, index)
        } else {
            self.await_trip(mine, index, wait)
        }
    }

    /// Counts this party in; returns the state it made and its arrival index. Waits while the
    /// previous round's last party runs the action (this party belongs to the next round).
    fn arrive(&self, wait: Deadline) -> Result<(u32, u32), BrokenBarrier> {
        let st = self.s();
        let parties = self.parties();
        loop {
            let s = st.state.load(Ordering::Acquire);
            if s & BROKEN != 0 {
                return Err(BrokenBarrier);
            }
            let count = s & COUNT_MASK;
            if count >= parties {
                let changed = || st.state.load(Ordering::Acquire) != s;
                if !st
                    .wake
                    .wait_until(changed, wait.capped(CHECK_MAX), Spin::Never)
                    && wait.is_over()
                {
                    self.break_gen(s);
                    return Err(BrokenBarrier);
                }
                continue;
            }
            if st
                .state
                .compare_exchange(s, s + 1, Ordering::SeqCst, Ordering::Acquire)
                .is_ok()
            {
                return Ok((s + 1, count));
            }
        }
    }

    /// The last party: runs the action, then starts the next generation, releasing everyone.
    fn trip(&self, mine: u32, index: u32) -> Result<u32, BrokenBarrier> {
        let st = self.s();
        if let Some(action) = &self.action {
            st.runner.store(ident::me().stamp, Ordering::Release);
            // Let the sleepers see that the action runs, so they watch the runner's life.
            st.wake.notify_all();
            let mut guard = BreakOnUnwind(self, false);
            action();
            guard.1 = true;
        }
        let tripped = st
            .state
            .compare_exchange(
                mine,
                next_generation(mine, false),
                Ordering::SeqCst,
                Ordering::Acquire,
            )
            .is_ok();
        st.wake.notify_all();
        if tripped {
            Ok(index)
        } else {
            Err(BrokenBarrier)
        }
    }

    /// Every other party: waits for the trip or a break, watching the life of the party that
    /// runs the action.
    fn await_trip(&self, mine: u32, index: u32, wait: Deadline) -> Result<u32, BrokenBarrier> {
        let st = self.s();
        let parties = self.parties();
        let my_gen = generation(mine);
        let mut interval = CHECK_FIRST;
        loop {
            let s = st.state.load(Ordering::Acquire);
            if generation(s) != my_gen {
                return self.outcome(s, my_gen, index);
            }
            if s & BROKEN != 0 {
                return Err(BrokenBarrier);
            }
            if wait.is_over() {
                self.break_gen(s);
                return Err(BrokenBarrier);
            }
            let running = s & COUNT_MASK >= parties;
            let nap = if running { wait.capped(interval) } else { wait };
            let changed = || st.state.load(Ordering::Acquire) != s;
            if st.wake.wait_until(changed, nap, Spin::Never) || !running || wait.is_over() {
                continue;
            }
            // The action has run for a while: does the party running it still live?
            let stamp = st.runner.load(Ordering::Acquire);
            if stamp != 0 && ident::owner_is_dead((stamp >> 32) as u32, &st.runner) {
                self.break_gen(s);
                return Err(BrokenBarrier);
            }
            interval = (interval * 2).min(CHECK_MAX);
        }
    }

    /// How the generation `my_gen` ended, seen from state `s` of a later one.
    fn outcome(&self, s: u32, my_gen: u32, index: u32) -> Result<u32, BrokenBarrier> {
        let broken = if generation(s) == (my_gen + 1) & ((1 << (32 - GEN_SHIFT)) - 1) {
            s & LAST_BROKEN != 0
        } else {
            self.s().broken_gen.load(Ordering::Acquire) == my_gen
        };
        if broken {
            Err(BrokenBarrier)
        } else {
            Ok(index)
        }
    }

    /// Sets the broken bit on the generation whose state was `seen` (if it is still current).
    fn break_gen(&self, seen: u32) {
        let st = self.s();
        let mut s = seen;
        while generation(s) == generation(seen) && s & BROKEN == 0 {
            match st
                .state
                .compare_exchange(s, s | BROKEN, Ordering::SeqCst, Ordering::Acquire)
            {
                Ok(_) => break,
                Err(now) => s = now,
            }
        }
        st.wake.notify_all();
    }

    /// Breaks the barrier: every waiter, and every later [`wait`](Self::wait) until
    /// [`reset`](Self::reset), gets [`BrokenBarrier`].
    pub fn abort(&self) {
        let s = self.s().state.load(Ordering::Acquire);
        self.break_gen(s);
        // A trip may have raced with us; break whatever generation is current now.
        let now = self.s().state.load(Ordering::Acquire);
        if generation(now) != generation(s) {
            self.break_gen(now);
        }
    }

    /// Returns the barrier to its empty, unbroken state. Parties waiting now get
    /// [`BrokenBarrier`].
    pub fn reset(&self) {
        let st = self.s();
        let mut s = st.state.load(Ordering::Acquire);
        loop {
            let had_waiters = s & COUNT_MASK != 0 || s & BROKEN != 0;
            if had_waiters {
                st.broken_gen.store(generation(s), Ordering::SeqCst);
            }
            match st.state.compare_exchange(
                s,
                next_generation(s, had_waiters),
                Ordering::SeqCst,
                Ordering::Acquire,
            ) {
                Ok(_) => break,
                Err(now) => s = now,
            }
        }
        st.wake.notify_all();
    }
}
