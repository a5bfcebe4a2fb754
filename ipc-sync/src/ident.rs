//! Who the calling thread is (its id and start time, cached per thread and refreshed after
//! `fork`), and whether the thread that owns a lock still lives.

use std::cell::Cell;
use std::sync::Once;
use std::sync::atomic::{AtomicU64, Ordering};

use multiproc_core::task::{self, TaskState};

use crate::sys;

/// The calling thread, as a lock records its owner.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Me {
    /// Kernel thread id (never 0, below 2^30).
    pub tid: u32,
    /// `tid << 32 | low 32 bits of the thread's start time`: tells this thread from a later
    /// one that reuses the id.
    pub stamp: u64,
}

thread_local! {
    // (tid, stamp, fork generation it was read in); tid 0 means not yet read.
    static ME: Cell<(u32, u64, u32)> = const { Cell::new((0, 0, 0)) };
}

static HOOK: Once = Once::new();

/// The calling thread. A few nanoseconds once cached; the first call in a thread (and the first
/// after `fork`) reads `/proc` (allocation-free, so a forked child may call it).
#[inline]
pub(crate) fn me() -> Me {
    let (tid, stamp, generation) = ME.with(Cell::get);
    if tid != 0 && generation == sys::FORK_GENERATION.load(Ordering::Relaxed) {
        return Me { tid, stamp };
    }
    me_slow()
}

#[cold]
fn me_slow() -> Me {
    HOOK.call_once(sys::register_fork_hook);
    let generation = sys::FORK_GENERATION.load(Ordering::Relaxed);
    let tid = task::current_tid();
    let start = match task::task_state(tid) {
        Ok(TaskState::Alive { start_time }) => start_time,
        // Without /proc the start time is unknown; liveness then rests on the id alone.
        _ => 0,
    };
    let stamp = (u64::from(tid) << 32) | (start & 0xffff_ffff);
    ME.with(|c| c.set((tid, stamp, generation)));
    Me { tid, stamp }
}

/// Whether the owner `tid`, whose stamp a lock keeps in `stamp`, is dead for sure.
///
/// Dead means: no thread has that id, or it is a zombie, or a thread with that id runs but
/// started at another time than the one the lock recorded (the id was reused). When `/proc`
/// cannot be read, the owner is taken to be alive: a lock never takes over from an owner it
/// cannot prove dead.
pub(crate) fn owner_is_dead(tid: u32, stamp: &AtomicU64) -> bool {
    let before = stamp.load(Ordering::Acquire);
    match task::task_state(tid) {
        Ok(TaskState::Gone) => true,
        Ok(TaskState::Alive { start_time }) => {
            // The stamp is written just after the lock word: judge by it only when it is the
            // owner's (its tid part matches) and did not change while we read /proc.
            let after = stamp.load(Ordering::Acquire);
            before == after
                && (before >> 32) as u32 == tid
                && (before & 0xffff_ffff) != (start_time & 0xffff_ffff)
                && (before & 0xffff_ffff) != 0
        }
        Err(_) => false,
    }
}

/// The owner a lock held by a future records: the process's first `multiproc_core::waiter`
/// helper thread, which lives as long as the process, whichever runtime thread polls the future
/// or drops its guard.
#[cfg(feature = "tokio")]
pub(crate) fn async_owner() -> Me {
    use std::cell::Cell;
    use std::sync::Mutex;
    thread_local! {
        /// This thread's copy of the answer (pid, owner): no lock on a future's every poll.
        static CACHED: Cell<Option<(u32, Me)>> = const { Cell::new(None) };
    }
    static OWNER: Mutex<Option<(u32, Me)>> = Mutex::new(None);
    let pid = std::process::id();
    if let Some((p, me)) = CACHED.get()
        && p == pid
    {
        return me;
    }
    let mut g = OWNER.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((p, me)) = *g
        && p == pid
    {
        CACHED.set(Some((pid, me)));
        return me;
    }
    let tid = multiproc_core::waiter::helper_thread_id();
    let start = match task::task_state(tid) {
        Ok(TaskState::Alive { start_time }) => start_time,
        _ => 0,
    };
    let me = Me {
        tid,
        stamp: (u64::from(tid) << 32) | (start & 0xffff_ffff),
    };
    *g = Some((pid, me));
    CACHED.set(Some((pid, me)));
    me
}
