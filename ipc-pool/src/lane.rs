//! The lane: a page of shared memory between the pool and one worker. It carries a single task
//! straight from the thread that submits it to an idle worker, and the result straight back to
//! the thread that waits for it — two futex hand-overs, with no pool thread in between — and it
//! is the one place a worker sleeps: the pool rings its doorbell for messages on the worker's
//! connection too.
//!
//! # The words
//!
//! | offset | word | who writes | meaning |
//! |---|---|---|---|
//! | 0 | `bell` | the pool | bumped for every event; the worker sleeps on it |
//! | 4 | `msgs` | both | messages announced on the connection and not yet read by the worker |
//! | 8 | `state` | both | `seq << 8 \| AWAITED \| GETTER \| phase` of the lane's task |
//! | 12 | `size` | the writer of the payload | length of the payload |
//! | 16 | `stop` | the pool | 1: the worker is to exit once it is idle |
//! | 64.. | payload | the pool while `POSTED` is being set up, the worker until `DONE` | the task, then its result |
//!
//! The phase says who owns the payload: the pool writes it before it stores `POSTED`; the
//! worker reads it, runs the task, writes the result and stores `DONE`; whoever collects reads
//! it under the lane's lock and stores `IDLE`. A thread that waits for the result sets `GETTER`
//! (only while the phase is `POSTED`) and sleeps on `state`; the worker's swap to `DONE` tells it
//! whether someone sleeps (then it wakes them) or not (then it tells the pool's thread over the
//! connection). Either the swap sees the bit, or the compare-exchange that sets it sees `DONE`:
//! the result is never left unclaimed.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use multiproc_core::Deadline;
use multiproc_core::SharedMapping;
use multiproc_core::futex;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::TaskError;
use crate::pool::Completion;

/// The lane's size: a header and the payload.
const LEN: usize = 64 * 1024;
const HEADER: usize = 64;
/// The largest task or result that goes through the lane (larger ones, and those that carry
/// descriptors, go over the connection).
pub(crate) const CAP: usize = LEN - HEADER;

const BELL: usize = 0;
const MSGS: usize = 4;
const STATE: usize = 8;
const SIZE: usize = 12;
const STOP: usize = 16;

const IDLE: u32 = 0;
const POSTED: u32 = 1;
const DONE: u32 = 2;
/// The result did not fit (or carries descriptors): it follows over the connection.
const SPILLED: u32 = 3;
const PHASE: u32 = 3;
/// A thread sleeps on `state`, waiting for the result.
const GETTER: u32 = 4;
/// A future awaits the result (feature `tokio`): the worker tells the pool's thread at once
/// instead of watching for a collector first. Only a hint: it changes no ownership.
const AWAITED: u32 = 8;

/// How long a worker watches an unclaimed result before it tells the pool's thread.
const COLLECT_SPIN: std::time::Duration = std::time::Duration::from_micros(5);

fn pack(seq: u32, phase: u32) -> u32 {
    (seq << 8) | phase
}

fn seq_of(state: u32) -> u32 {
    state >> 8
}

/// Sleeps while `word` holds `expected`, until `deadline`; `false` once the deadline passed.
/// The only futex wait of this crate (the bare call: the lane's words are its state).
fn sleep(word: &AtomicU32, expected: u32, deadline: Deadline) -> bool {
    // Woken, the value changed, or a spurious wake-up: the caller looks at the word again.
    futex::wait(word, expected, deadline) != futex::WaitResult::TimedOut
}

fn wake_all(word: &AtomicU32) {
    futex::wake_all(word);
}

/// One lane's part of the pool's lane mapping (one memfd for all the workers' lanes).
#[derive(Clone)]
pub(crate) struct Region {
    map: Arc<SharedMapping>,
    base: usize,
}

impl Region {
    /// The lanes of `n` workers, in one mapping.
    pub(crate) fn many(n: usize) -> std::io::Result<Vec<Region>> {
        let map = Arc::new(SharedMapping::memfd(
            "multiproc-pool-lanes",
            n.max(1) * LEN,
        )?);
        Ok((0..n)
            .map(|i| Region {
                map: map.clone(),
                base: i * LEN,
            })
            .collect())
    }

    fn word(&self, offset: usize) -> &AtomicU32 {
        self.map.atomic_u32(self.base + offset)
    }

    /// Zeroes the header (for a worker that takes over the lane of a dead one).
    fn reset(&self) {
        for off in [BELL, MSGS, SIZE, STOP] {
            self.word(off).store(0, Ordering::Relaxed);
        }
    }

    /// Copies `len` bytes of the payload out (`len` is checked against [`CAP`]).
    fn read_payload(&self, len: usize) -> Vec<u8> {
        let len = len.min(CAP);
        // SAFETY: the caller owns the payload by the protocol above (the phase says the other
        // side is done writing it and will not touch it until the phase changes again), and the
        // range is inside the mapping (`HEADER + CAP == LEN`; `slice` checks it too).
        unsafe { self.map.slice(self.base + HEADER, len) }.to_vec()
    }

    fn write_payload(&self, bytes: &[u8]) {
        debug_assert!(bytes.len() <= CAP);
        // SAFETY: as in `read_payload`: by the protocol only this side touches the payload now.
        let dst = unsafe { self.map.slice_mut(self.base + HEADER, bytes.len()) };
        dst.copy_from_slice(bytes);
        self.word(SIZE).store(bytes.len() as u32, Ordering::Relaxed);
    }
}

impl Serialize for Region {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        (&*self.map, self.base).serialize(s)
    }
}

impl<'de> Deserialize<'de> for Region {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let (map, base) = <(SharedMapping, usize)>::deserialize(d)?;
        if base % LEN != 0 || base.checked_add(LEN).is_none_or(|end| end > map.len()) {
            return Err(serde::de::Error::custom("lane outside its mapping"));
        }
        Ok(Region {
            map: Arc::new(map),
            base,
        })
    }
}

/// What the pool knows about its lane's worker.
pub(crate) enum Mode {
    /// Idle: a submitter may post a task.
    Free,
    /// The pool's thread has batches on the connection.
    Busy,
    /// A task went through the lane.
    Fast(FastTask),
    /// The worker is gone (or going): nothing more goes to it.
    Gone,
}

/// The task in the lane, as the pool sees it.
pub(crate) struct FastTask {
    seq: u32,
    done: Completion,
}

pub(crate) struct LaneState {
    pub mode: Mode,
    /// Batches and tasks handed to this worker in all (for `maxtasksperchild`).
    pub sent: u64,
    seq: u32,
}

/// The pool's side of a lane.
pub(crate) struct Lane {
    map: Region,
    st: Mutex<LaneState>,
}

/// How a wait for a lane's result ended.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Waited {
    /// The result is in the lane: collect it.
    Done,
    /// The task is no longer in the lane (collected by another, failed, or its result comes
    /// over the connection): its slot is, or will be, fulfilled by someone else.
    Moved,
    /// The deadline passed first.
    Timeout,
}

impl Lane {
    /// The pool's side of `region`, for a new worker. `after` is the sequence number of the
    /// region's last task (a new worker in a dead one's region numbers on, so that a thread
    /// still looking at the old task never mistakes a new one for it).
    pub(crate) fn new(region: Region, after: u32) -> Lane {
        region.reset();
        region
            .word(STATE)
            .store(pack(after, IDLE), Ordering::Release);
        Lane {
            map: region,
            st: Mutex::new(LaneState {
                mode: Mode::Free,
                sent: 0,
                seq: after,
            }),
        }
    }

    /// The region, and the last sequence number used in it (for a successor).
    pub(crate) fn region(&self) -> (Region, u32) {
        (self.map.clone(), self.lock().seq)
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, LaneState> {
        self.st.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn state(&self) -> &AtomicU32 {
        self.map.word(STATE)
    }

    /// Wakes the worker.
    fn ring(&self) {
        let bell = self.map.word(BELL);
        bell.fetch_add(1, Ordering::Release);
        futex::wake(bell, 1);
    }

    /// Tells the worker that one more message is (about to be) on its connection. Call before
    /// sending, so that a message larger than the socket's buffer finds the worker reading.
    pub(crate) fn announce_message(&self) {
        self.map.word(MSGS).fetch_add(1, Ordering::AcqRel);
        self.ring();
    }

    /// Tells the worker to exit once it has nothing more to do.
    pub(crate) fn stop(&self) {
        self.map.word(STOP).store(1, Ordering::Release);
        self.ring();
    }

    /// Posts `task` (an encoded `Task`) if the worker is idle and under its task limit; gives
    /// back `done` otherwise.
    pub(crate) fn try_post(
        &self,
        task: &[u8],
        done: Completion,
        max_tasks: Option<u64>,
    ) -> Result<u32, Completion> {
        if task.len() > CAP {
            return Err(done);
        }
        let Ok(mut st) = self.st.try_lock() else {
            return Err(done);
        };
        if !matches!(st.mode, Mode::Free) || max_tasks.is_some_and(|m| st.sent >= m) {
            return Err(done);
        }
        st.seq = st.seq.wrapping_add(1) & 0x00ff_ffff;
        let seq = st.seq;
        self.map.write_payload(task);
        self.state().store(pack(seq, POSTED), Ordering::Release);
        st.mode = Mode::Fast(FastTask { seq, done });
        st.sent += 1;
        drop(st);
        self.ring();
        Ok(seq)
    }

    /// Waits until task `seq`'s result is in the lane, or it left the lane, or `deadline`.
    pub(crate) fn wait_result(&self, seq: u32, deadline: Deadline) -> Waited {
        let state = self.state();
        loop {
            let s = state.load(Ordering::Acquire);
            if seq_of(s) != seq {
                return Waited::Moved;
            }
            match s & PHASE {
                DONE => return Waited::Done,
                POSTED => {}
                _ => return Waited::Moved,
            }
            if s & GETTER == 0
                && state
                    .compare_exchange(s, s | GETTER, Ordering::AcqRel, Ordering::Acquire)
                    .is_err()
            {
                continue;
            }
            if !sleep(state, s | GETTER, deadline) {
                // Out of time: take the bit back so that the worker tells the pool's thread
                // instead. If the worker was quicker, the result is there: collect it.
                let cleared = state.fetch_update(Ordering::AcqRel, Ordering::Acquire, |s| {
                    (seq_of(s) == seq && s & PHASE == POSTED).then_some(s & !GETTER)
                });
                return match cleared {
                    Ok(_) => Waited::Timeout,
                    Err(now) if seq_of(now) == seq && now & PHASE == DONE => Waited::Done,
                    Err(_) => Waited::Moved,
                };
            }
        }
    }

    /// Marks task `seq` as awaited by a future (see [`AWAITED`]), if it is still running.
    #[cfg(feature = "tokio")]
    pub(crate) fn mark_awaited(&self, seq: u32) {
        let _ = self
            .state()
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |s| {
                (seq_of(s) == seq && s & PHASE == POSTED && s & AWAITED == 0).then_some(s | AWAITED)
            });
    }

    /// Collects task `seq`'s result if it is in the lane (`None`: any task that is): completes
    /// the task and frees the lane. Whether it collected.
    pub(crate) fn collect(&self, seq: Option<u32>) -> bool {
        let (task, bytes) = {
            let mut st = self.lock();
            let Mode::Fast(t) = &st.mode else {
                return false;
            };
            let s = self.state().load(Ordering::Acquire);
            if seq.is_some_and(|q| q != t.seq) || seq_of(s) != t.seq || s & PHASE != DONE {
                return false;
            }
            let len = self.map.word(SIZE).load(Ordering::Relaxed) as usize;
            let bytes = self.map.read_payload(len);
            self.state().store(pack(t.seq, IDLE), Ordering::Release);
            let Mode::Fast(t) = std::mem::replace(&mut st.mode, Mode::Free) else {
                unreachable!("matched above")
            };
            (t, bytes)
        };
        (task.done)(Ok((bytes, Vec::new())));
        true
    }

    /// The lane's task, whose result came over the connection (spilled): frees the lane.
    pub(crate) fn take_spilled(&self) -> Option<Completion> {
        let mut st = self.lock();
        if !matches!(st.mode, Mode::Fast(_)) {
            return None;
        }
        let Mode::Fast(t) = std::mem::replace(&mut st.mode, Mode::Free) else {
            unreachable!("matched above")
        };
        self.state().store(pack(t.seq, IDLE), Ordering::Release);
        Some(t.done)
    }

    /// The worker is gone: its lane task (if any) gets its result if the worker had finished
    /// it, `err` otherwise; nothing more is posted here.
    pub(crate) fn retire(&self, err: TaskError) {
        if self.collect(None) {
            self.lock().mode = Mode::Gone;
            return;
        }
        let task = {
            let mut st = self.lock();
            match std::mem::replace(&mut st.mode, Mode::Gone) {
                Mode::Fast(t) => Some(t),
                _ => None,
            }
        };
        if let Some(t) = task {
            // The slot first, then the word: a waiter woken by the word finds its result.
            (t.done)(Err(err));
            self.state().store(pack(t.seq, IDLE), Ordering::Release);
            wake_all(self.state());
        }
    }

    /// Whether a task is in the lane.
    pub(crate) fn has_task(&self) -> bool {
        matches!(self.lock().mode, Mode::Fast(_))
    }
}

/// The worker's side of a lane.
pub(crate) struct WorkerLane {
    map: Region,
}

/// What a worker did with a result.
pub(crate) enum Finished {
    /// A waiting thread was woken: it collects.
    Woken,
    /// Nobody waits: the pool's thread must be told.
    Unclaimed,
}

impl WorkerLane {
    pub(crate) fn new(map: Region) -> WorkerLane {
        WorkerLane { map }
    }

    /// The doorbell's value, to sleep on after finding no work.
    pub(crate) fn bell(&self) -> u32 {
        self.map.word(BELL).load(Ordering::Acquire)
    }

    /// Sleeps until the doorbell moves on from `seen`.
    pub(crate) fn sleep(&self, seen: u32) {
        let bell = self.map.word(BELL);
        while bell.load(Ordering::Acquire) == seen {
            sleep(bell, seen, Deadline::Forever);
        }
    }

    /// Whether the pool said stop.
    pub(crate) fn stopped(&self) -> bool {
        self.map.word(STOP).load(Ordering::Acquire) != 0
    }

    /// How many messages were announced since the last call.
    pub(crate) fn take_messages(&self) -> u32 {
        self.map.word(MSGS).swap(0, Ordering::AcqRel)
    }

    /// The posted task, if there is one: its sequence number and bytes.
    pub(crate) fn take_task(&self) -> Option<(u32, Vec<u8>)> {
        let s = self.map.word(STATE).load(Ordering::Acquire);
        if s & PHASE != POSTED {
            return None;
        }
        let len = self.map.word(SIZE).load(Ordering::Relaxed) as usize;
        Some((seq_of(s), self.map.read_payload(len)))
    }

    /// Puts the result of task `seq` in the lane.
    pub(crate) fn finish(&self, seq: u32, result: &[u8]) -> Finished {
        self.map.write_payload(result);
        self.publish(seq, DONE)
    }

    /// Says that task `seq`'s result follows over the connection.
    pub(crate) fn spill(&self, seq: u32) {
        self.publish(seq, SPILLED);
    }

    fn publish(&self, seq: u32, phase: u32) -> Finished {
        let state = self.map.word(STATE);
        let old = state.swap(pack(seq, phase), Ordering::AcqRel);
        if old & GETTER != 0 {
            wake_all(state);
            return Finished::Woken;
        }
        if phase == DONE && old & AWAITED == 0 && self.collected_soon(seq) {
            return Finished::Woken;
        }
        Finished::Unclaimed
    }

    /// Whether somebody collects result `seq` within a few microseconds. A caller that submits
    /// and at once waits (`apply`, `apply_async(..).get()`) may find the result already there
    /// when it looks; a short look here spares the pool's thread a wake-up for it.
    fn collected_soon(&self, seq: u32) -> bool {
        let state = self.map.word(STATE);
        let start = std::time::Instant::now();
        loop {
            for _ in 0..64 {
                std::hint::spin_loop();
            }
            if state.load(Ordering::Acquire) != pack(seq, DONE) {
                return true;
            }
            if start.elapsed() >= COLLECT_SPIN {
                return false;
            }
        }
    }
}
