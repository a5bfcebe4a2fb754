//! Waiting on futex words from `async` code: one helper thread per process sleeps in
//! `futex_waitv(2)` on every word a future waits on, and wakes the futures' wakers.
//!
//! A futex cannot be polled: there is no descriptor to hand to an event loop. Two ways were
//! open. A notification descriptor (an `eventfd` the notifier writes when an async waiter is
//! registered) needs the notifier to find the waiter's descriptor, which lives in another
//! process; every notifier would have to look it up (and keep it open) per waiter process. A
//! thread that sleeps on the words themselves needs nothing from the notifier: the
//! [`WaitWord`](crate::futex::WaitWord) protocol already wakes the word when it has sleepers,
//! and an async waiter counts itself as one. So this module keeps, per process, a registry of
//! armed words and a helper thread that waits on up to [`PER_THREAD`] of them at once with
//! `futex_waitv` (Linux 5.16); more armed words start a second wait set (a second thread, which
//! ends when its set empties). An idle async waiter costs no CPU: the thread sleeps in the
//! kernel. Arming costs a `FUTEX_WAKE` of the helper's own control word, so that it rebuilds
//! its wait set; the synchronous paths do not change at all.
//!
//! The first helper thread never ends once started: async lock guards of `multiproc-sync` name
//! it as their owner (a thread id that lives as long as the process, whichever runtime thread
//! polls the future), so a lock held by a future of a process that dies is seen as its
//! owner's death, as for a thread.
//!
//! The futures themselves are plain [`std::future::Future`]s: they work under any executor
//! (the crates' features are called `tokio` because that is where they are tested).
//!
//! # References
//! - [futex_waitv(2)](https://docs.kernel.org/userspace-api/futex2.html)

use std::any::Any;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::task::Waker;
use std::time::Instant;

use crate::sys;

/// Words one helper thread waits on at once (`futex_waitv` takes 128; one is the thread's
/// control word).
pub const PER_THREAD: usize = 127;

/// How often the helper looks at its words on a kernel without `futex_waitv`.
const POLL: std::time::Duration = std::time::Duration::from_millis(1);

/// A registered word.
struct Entry {
    /// The word's address (kept mapped by the [`AsyncWord`] that armed it).
    addr: usize,
    expected: u32,
    /// When to wake the waker even if the word did not change.
    check: Option<Instant>,
    waker: Waker,
    /// The helper saw the word change (or the check time pass) and woke the waker.
    fired: bool,
    /// Which arming this is (for a stale handle).
    id: u64,
}

/// One helper thread's words.
struct Set {
    /// Bumped (and woken) whenever the set changes, so the thread rebuilds its wait.
    ctl: Arc<AtomicU32>,
    slots: Vec<Option<Entry>>,
    /// Entries not fired yet.
    live: usize,
    running: bool,
}

struct Registry {
    /// The process the registry belongs to (a forked child starts afresh: threads do not
    /// survive `fork`).
    pid: u32,
    sets: Vec<Set>,
    next_id: u64,
}

static REGISTRY: Mutex<Option<Registry>> = Mutex::new(None);

/// The first helper thread's id, per process (pid, tid).
static HELPER: Mutex<Option<(u32, u32)>> = Mutex::new(None);
static HELPER_STARTED: Condvar = Condvar::new();

fn registry() -> MutexGuard<'static, Option<Registry>> {
    let mut g = REGISTRY.lock().unwrap_or_else(|e| e.into_inner());
    let pid = std::process::id();
    if g.as_ref().is_none_or(|r| r.pid != pid) {
        if let Some(old) = g.take() {
            // Inherited from the parent by `fork`: its wakers belong to the parent's runtime,
            // whose threads are gone. Leak them rather than run the parent's code here.
            std::mem::forget(old);
        }
        *g = Some(Registry {
            pid,
            sets: Vec::new(),
            next_id: 1,
        });
    }
    g
}

/// The thread id of the process's first helper thread, starting it if needed: the owner that
/// `multiproc-sync` records for a lock held by a future. The thread lives until the process
/// ends.
pub fn helper_thread_id() -> u32 {
    let pid = std::process::id();
    {
        let g = HELPER.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((p, tid)) = *g
            && p == pid
        {
            return tid;
        }
    }
    {
        let mut reg = registry();
        let reg = reg.as_mut().expect("registry");
        if reg.sets.is_empty() {
            reg.sets.push(new_set());
        }
        start_thread(reg, 0);
    }
    let mut g = HELPER.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        if let Some((p, tid)) = *g
            && p == pid
        {
            return tid;
        }
        g = HELPER_STARTED.wait(g).unwrap_or_else(|e| e.into_inner());
    }
}

fn new_set() -> Set {
    Set {
        ctl: Arc::new(AtomicU32::new(0)),
        slots: Vec::new(),
        live: 0,
        running: false,
    }
}

fn start_thread(reg: &mut Registry, i: usize) {
    if reg.sets[i].running {
        return;
    }
    reg.sets[i].running = true;
    let ctl = Arc::clone(&reg.sets[i].ctl);
    let r = std::thread::Builder::new()
        .name(format!("multiproc-wait-{i}"))
        .spawn(move || helper(i, &ctl));
    if r.is_err() {
        // No thread: the futures armed on this set are woken at once and poll again (they
        // spin through the executor instead of sleeping; nothing is lost).
        reg.sets[i].running = false;
        for e in reg.sets[i].slots.iter_mut().flatten() {
            e.fired = true;
            e.waker.wake_by_ref();
        }
    }
}

/// Tells set `i`'s thread to rebuild its wait.
fn kick(set: &Set) {
    set.ctl.fetch_add(1, Ordering::SeqCst);
    sys::futex::wake(&set.ctl, 1);
}

/// A helper thread: waits on the words of set `i`, wakes the wakers of those that changed.
fn helper(i: usize, ctl: &AtomicU32) {
    if i == 0 {
        let mut g = HELPER.lock().unwrap_or_else(|e| e.into_inner());
        *g = Some((std::process::id(), crate::task::current_tid()));
        HELPER_STARTED.notify_all();
    }
    let mut words: Vec<(usize, u32)> = Vec::with_capacity(PER_THREAD + 1);
    loop {
        words.clear();
        let mut next_check: Option<Instant> = None;
        {
            let mut reg = registry();
            let reg = reg.as_mut().expect("registry");
            let set = &mut reg.sets[i];
            if set.live == 0 && i != 0 {
                set.running = false;
                return;
            }
            words.push((ctl.as_ptr() as usize, ctl.load(Ordering::SeqCst)));
            for e in set.slots.iter().flatten().filter(|e| !e.fired) {
                words.push((e.addr, e.expected));
                if let Some(c) = e.check {
                    next_check = Some(next_check.map_or(c, |n| n.min(c)));
                }
            }
        }
        let timeout = next_check.map(|c| c.saturating_duration_since(Instant::now()));
        if timeout.is_none_or(|t| !t.is_zero()) {
            // The outcome does not matter: every entry is looked at below. A kernel without
            // futex_waitv (before 5.16) makes this a polling thread, every millisecond, rather
            // than a spinning one.
            if sys::futex::waitv(&words, timeout) == Err(rustix::io::Errno::NOSYS) {
                std::thread::sleep(timeout.map_or(POLL, |t| t.min(POLL)));
            }
        }
        fire(i);
    }
}

/// Fires every entry of set `i` whose word changed or whose check time passed.
fn fire(i: usize) {
    let mut wake = Vec::new();
    {
        let mut reg = registry();
        let reg = reg.as_mut().expect("registry");
        let set = &mut reg.sets[i];
        let now = Instant::now();
        for e in set.slots.iter_mut().flatten().filter(|e| !e.fired) {
            // SAFETY: the entry is registered, so the `AsyncWord` that armed it has not been
            // disarmed (disarming removes it under this lock), and that `AsyncWord` keeps the
            // memory of the word mapped (its `keep`); the address is a live `AtomicU32`.
            let now_value = unsafe { (*(e.addr as *const AtomicU32)).load(Ordering::SeqCst) };
            if now_value != e.expected || e.check.is_some_and(|c| c <= now) {
                e.fired = true;
                wake.push(e.waker.clone());
            }
        }
        set.live = set.slots.iter().flatten().filter(|e| !e.fired).count();
    }
    for w in wake {
        w.wake();
    }
}

/// Where an [`AsyncWord`] is registered.
#[derive(Clone, Copy)]
struct Armed {
    set: usize,
    slot: usize,
    id: u64,
}

/// A futex word in shared memory that a future waits on through the process's helper thread
/// (see the [module docs](self)): [`arm`](Self::arm) it with the value the future saw and its
/// waker; the helper wakes the waker once the word holds something else (or at a check time).
///
/// Holds the owner of the word's memory, so the word stays mapped while it is armed, whatever
/// happens to the future (a leaked future leaks the mapping with it, never a dangling address).
/// Dropping it disarms it.
pub struct AsyncWord {
    /// Keeps the memory of `word` mapped.
    _keep: Arc<dyn Any + Send + Sync>,
    word: NonNull<AtomicU32>,
    armed: Option<Armed>,
}

// SAFETY: `word` points into memory owned by `keep` (`Send + Sync`), and is only used as a
// shared `&AtomicU32`, which is `Send + Sync`.
unsafe impl Send for AsyncWord {}
// SAFETY: as above; `&AsyncWord` only reads the word.
unsafe impl Sync for AsyncWord {}

impl std::fmt::Debug for AsyncWord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncWord")
            .field("armed", &self.armed.is_some())
            .finish()
    }
}

impl AsyncWord {
    /// The word `word(&owner)`, kept mapped by `owner`.
    pub fn new<T: Send + Sync + 'static>(
        owner: Arc<T>,
        word: impl for<'a> FnOnce(&'a T) -> &'a AtomicU32,
    ) -> AsyncWord {
        let w = NonNull::from(word(&owner));
        AsyncWord {
            _keep: owner,
            word: w,
            armed: None,
        }
    }

    /// The word.
    pub fn word(&self) -> &AtomicU32 {
        // SAFETY: `word` was borrowed from `keep`, which lives as long as `self`; the lifetime
        // of the `for<'a>` closure made sure it was not borrowed from anything shorter-lived.
        unsafe { self.word.as_ref() }
    }

    /// Whether it is armed (and not fired yet or fired but not disarmed).
    pub fn is_armed(&self) -> bool {
        self.armed.is_some()
    }

    /// Asks the helper to wake `waker` once the word no longer holds `expected`, or once
    /// `check` passes. Arming again replaces the earlier arming (and its waker).
    pub fn arm(&mut self, expected: u32, check: Option<Instant>, waker: &Waker) {
        let mut g = registry();
        let reg = g.as_mut().expect("registry");
        if let Some(a) = self.armed.take() {
            remove(reg, a);
        }
        let id = reg.next_id;
        reg.next_id += 1;
        let i = match reg.sets.iter().position(|s| s.live < PER_THREAD) {
            Some(i) => i,
            None => {
                reg.sets.push(new_set());
                reg.sets.len() - 1
            }
        };
        let set = &mut reg.sets[i];
        let entry = Entry {
            addr: self.word.as_ptr() as usize,
            expected,
            check,
            waker: waker.clone(),
            fired: false,
            id,
        };
        let slot = match set.slots.iter().position(Option::is_none) {
            Some(s) => {
                set.slots[s] = Some(entry);
                s
            }
            None => {
                set.slots.push(Some(entry));
                set.slots.len() - 1
            }
        };
        set.live += 1;
        self.armed = Some(Armed { set: i, slot, id });
        if reg.sets[i].running {
            kick(&reg.sets[i]);
        } else {
            start_thread(reg, i);
        }
    }

    /// Whether the helper has woken the waker (the word changed, or the check time passed).
    pub fn fired(&self) -> bool {
        let Some(a) = self.armed else {
            return false;
        };
        let g = registry();
        let reg = g.as_ref().expect("registry");
        entry(reg, a).is_none_or(|e| e.fired)
    }

    /// Takes the registration back; `true` when the helper had fired it (the caller was meant
    /// to be woken: a caller that will not act on it should pass the wake-up on).
    pub fn disarm(&mut self) -> bool {
        let Some(a) = self.armed.take() else {
            return false;
        };
        let mut g = registry();
        let reg = g.as_mut().expect("registry");
        remove(reg, a)
    }
}

fn entry(reg: &Registry, a: Armed) -> Option<&Entry> {
    reg.sets
        .get(a.set)?
        .slots
        .get(a.slot)?
        .as_ref()
        .filter(|e| e.id == a.id)
}

/// Removes an arming; whether it had fired. (An arming from before a `fork` is gone: fired.)
fn remove(reg: &mut Registry, a: Armed) -> bool {
    if entry(reg, a).is_none() {
        return true;
    }
    let set = &mut reg.sets[a.set];
    let e = set.slots[a.slot].take().expect("entry");
    if !e.fired {
        set.live -= 1;
        if set.running {
            kick(set);
        }
    }
    e.fired
}

impl Drop for AsyncWord {
    fn drop(&mut self) {
        self.disarm();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
    use std::task::{Wake, Waker};
    use std::time::{Duration, Instant};

    use super::{AsyncWord, PER_THREAD};

    struct Count(AtomicUsize);

    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !cond() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// More armed words than one `futex_waitv` takes: a second wait set (and thread) takes
    /// the rest, every change is seen once, and a disarmed word is not woken.
    #[test]
    fn words_beyond_one_wait_set_all_fire() {
        let n = PER_THREAD + 40;
        let words: Arc<Vec<AtomicU32>> = Arc::new((0..n).map(|_| AtomicU32::new(0)).collect());
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(Arc::clone(&count));
        let mut armed: Vec<AsyncWord> = (0..n)
            .map(|i| {
                let mut w = AsyncWord::new(Arc::clone(&words), move |v: &Vec<AtomicU32>| &v[i]);
                w.arm(0, None, &waker);
                w
            })
            .collect();
        // One of them is taken back before its word changes: never woken.
        assert!(!armed[3].disarm());
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(count.0.load(Ordering::SeqCst), 0, "nothing changed yet");
        for w in words.iter() {
            w.store(1, Ordering::SeqCst);
            crate::futex::wake_all(w);
        }
        wait_for("every armed word", || {
            count.0.load(Ordering::SeqCst) == n - 1
        });
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(count.0.load(Ordering::SeqCst), n - 1, "each woken once");
        for (i, w) in armed.iter().enumerate() {
            assert_eq!(w.fired(), i != 3, "word {i}");
        }
        for w in &mut armed {
            w.disarm();
        }
    }

    /// A check time wakes the waker though the word never changes.
    #[test]
    fn a_check_time_wakes_without_a_change() {
        let word = Arc::new(AtomicU32::new(7));
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(Arc::clone(&count));
        let mut w = AsyncWord::new(Arc::clone(&word), |w: &AtomicU32| w);
        let t = Instant::now();
        w.arm(7, Some(t + Duration::from_millis(30)), &waker);
        wait_for("the check time", || count.0.load(Ordering::SeqCst) == 1);
        assert!(t.elapsed() >= Duration::from_millis(30));
        assert!(w.disarm(), "fired");
    }

    /// A future polled again before any notification (a spurious poll, or one for another
    /// reason) finds its condition true: `ready()` — which may act, as a semaphore's take
    /// does — runs once, and the poll is `Ready`. (It used to run twice: two units taken, or
    /// one lost.)
    #[test]
    fn an_acting_ready_runs_once_per_success() {
        use crate::futex::{AsyncWait, Spin, WaitWord};
        use std::task::{Context, Poll};

        let word = Arc::new(WaitWord::new());
        let units = Arc::new(AtomicU32::new(0));
        let taken = AtomicUsize::new(0);
        let take = || {
            let ok = units
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |u| u.checked_sub(1))
                .is_ok();
            if ok {
                taken.fetch_add(1, Ordering::SeqCst);
            }
            ok
        };
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(Arc::clone(&count));
        let mut cx = Context::from_waker(&waker);
        let mut wait = AsyncWait::new(Arc::clone(&word), |w: &WaitWord| w);
        // Nothing to take: it counts itself as a sleeper and arms the word.
        assert!(wait.poll_until(&mut cx, Spin::Never, take).is_pending());
        // Two units appear without a notification: the helper has nothing to fire.
        units.store(2, Ordering::SeqCst);
        assert_eq!(wait.poll_until(&mut cx, Spin::Never, take), Poll::Ready(()));
        assert_eq!(taken.load(Ordering::SeqCst), 1, "one success, one unit");
        assert_eq!(units.load(Ordering::SeqCst), 1);
        drop(wait);
    }
}
