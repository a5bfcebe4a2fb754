//! Workloads for `multiproc-sync` (W4, W5 of BENCH-WORKLOADS.md).

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use multiproc_core::SharedMapping;
use multiproc_sync::{Condition, Event, Lock, RLock, Semaphore};

use crate::place::Placement;
use crate::util::{Opts, emit, fork, measured_in_child, median, per_op, reap, runtime, watchdog};
use crate::workload::Workload;

const TIMEOUT: Duration = Duration::from_secs(60);

/// This module's workloads, in the order they run.
pub const WORKLOADS: &[Workload] = &[
    EVENT_PINGPONG,
    EVENT_PINGPONG_ASYNC,
    CONDITION_PINGPONG,
    LOCK_UNCONTENDED,
    LOCK_TIMEOUT_UNCONTENDED,
    RLOCK_UNCONTENDED,
    SEMAPHORE_UNCONTENDED,
    LOCK_CONTENDED,
    LOCK_TIMEOUT_CONTENDED,
    CREATE_10K_LOCKS,
    SEND_1K_LOCKS_TO_SPAWNED,
];

pub const LOCK_UNCONTENDED: Workload = Workload {
    id: "sync.lock_uncontended",
    what: "Lock acquire + release, one process (target: within 3x of the CAS lock)",
    python: &["py.W4.uncontended/lock_acquire_release"],
    limit: Some("L6_cas_lock_uncontended"),
    run: lock_uncontended,
    ..Workload::ROW
};

/// `sync.lock_uncontended`: `lock()` + drop of the guard, one process, ns per pair.
/// Held against `L6_cas_lock_uncontended`; Python's: W4.uncontended/lock_acquire_release.
pub fn lock_uncontended(opts: &Opts) {
    uncontended("sync.lock_uncontended", opts, |l| {
        drop(std::hint::black_box(l.lock()))
    });
}

pub const LOCK_TIMEOUT_UNCONTENDED: Workload = Workload {
    id: "sync.lock_timeout_uncontended",
    what: "Lock lock_timeout(1 s) + release, one process (the fast path comes before the deadline: about sync.lock_uncontended)",
    limit: Some("L6_cas_lock_uncontended"),
    run: lock_timeout_uncontended,
    ..Workload::ROW
};

/// `sync.lock_timeout_uncontended`: `lock_timeout(1 s)` + drop of the guard, one process.
pub fn lock_timeout_uncontended(opts: &Opts) {
    uncontended("sync.lock_timeout_uncontended", opts, |l| {
        drop(std::hint::black_box(l.lock_timeout(Duration::from_secs(1))))
    });
}

/// `take` (a lock and its release) `n` times on one uncontended `Lock`, ns per pair.
fn uncontended(id: &str, opts: &Opts, take: impl Fn(&Lock)) {
    let n = opts.n(20_000_000);
    let lock = Lock::new().expect("lock");
    let v = median(opts.reps(), || {
        let t = Instant::now();
        for _ in 0..n {
            take(std::hint::black_box(&lock));
        }
        per_op(t.elapsed(), n, "ns")
    });
    emit(id, v, "ns");
}

pub const RLOCK_UNCONTENDED: Workload = Workload {
    id: "sync.rlock_uncontended",
    what: "RLock acquire + release, one process",
    python: &["py.W4.uncontended/rlock_acquire_release"],
    limit: Some("L6_cas_lock_uncontended"),
    run: rlock_uncontended,
    ..Workload::ROW
};

/// `sync.rlock_uncontended`: the same on an `RLock`.
pub fn rlock_uncontended(opts: &Opts) {
    let n = opts.n(20_000_000);
    let lock = RLock::new().expect("rlock");
    let v = median(opts.reps(), || {
        let t = Instant::now();
        for _ in 0..n {
            let g = std::hint::black_box(&lock).lock();
            drop(std::hint::black_box(g));
        }
        per_op(t.elapsed(), n, "ns")
    });
    emit("sync.rlock_uncontended", v, "ns");
}

pub const SEMAPHORE_UNCONTENDED: Workload = Workload {
    id: "sync.semaphore_uncontended",
    what: "Semaphore(1) acquire + release, one process",
    python: &["py.W4.uncontended/semaphore_acquire_release"],
    limit: Some("L6_cas_lock_uncontended"),
    run: semaphore_uncontended,
    ..Workload::ROW
};

/// `sync.semaphore_uncontended`: `acquire` + `release` on `Semaphore(1)`.
pub fn semaphore_uncontended(opts: &Opts) {
    let n = opts.n(20_000_000);
    let sem = Semaphore::new(1).expect("semaphore");
    let v = median(opts.reps(), || {
        let t = Instant::now();
        for _ in 0..n {
            let s = std::hint::black_box(&sem);
            assert!(s.try_acquire());
            s.release();
        }
        per_op(t.elapsed(), n, "ns")
    });
    emit("sync.semaphore_uncontended", v, "ns");
}

pub const LOCK_CONTENDED: Workload = Workload {
    id: "sync.lock_contended_2x1M",
    what: "two processes increment a counter under one Lock, per increment (target: within 1.5x of mutex3)",
    python: &["py.W4.contended_lock"],
    limit: Some("L7_contended_futex_mutex3"),
    placement: Placement::Apart,
    run: lock_contended,
    ..Workload::ROW
};

/// `sync.lock_contended_2x1M`: parent and a forked child each increment a shared (non-atomic)
/// counter 1M times under one `Lock`, starting together; wall time / 2M, ns per increment; the
/// count is checked. Held against `L7_contended_futex_mutex3`; Python's: W4.contended_lock.
pub fn lock_contended(opts: &Opts) {
    contended("sync.lock_contended_2x1M", opts, |l| {
        l.lock().expect("no owner dies here")
    });
}

pub const LOCK_TIMEOUT_CONTENDED: Workload = Workload {
    id: "sync.lock_timeout_contended_2x1M",
    what: "the same through lock_timeout(10 s) (target: about sync.lock_contended_2x1M)",
    limit: Some("L7_contended_futex_mutex3"),
    placement: Placement::Apart,
    run: lock_timeout_contended,
    ..Workload::ROW
};

/// `sync.lock_timeout_contended_2x1M`: `sync.lock_contended_2x1M` through `lock_timeout`.
pub fn lock_timeout_contended(opts: &Opts) {
    contended("sync.lock_timeout_contended_2x1M", opts, |l| {
        l.lock_timeout(Duration::from_secs(10))
            .expect("no owner dies here, no timeout")
    });
}

/// Parent and a forked child each `take` the lock and increment under it, 1M times each.
fn contended(id: &str, opts: &Opts, take: impl Fn(&Lock) -> multiproc_sync::LockGuard<'_>) {
    let n = opts.n(1_000_000) as u32;
    let map = SharedMapping::anonymous(4096).expect("mapping");
    let (start, ready, counter) = (map.atomic_u32(0), map.atomic_u32(4), map.atomic_u32(8));
    let v = median(opts.reps(), || {
        watchdog(120);
        let lock = Lock::new().expect("lock");
        start.store(0, Ordering::SeqCst);
        ready.store(0, Ordering::SeqCst);
        counter.store(0, Ordering::SeqCst);
        let bump = || {
            for _ in 0..n {
                let _g = take(&lock);
                counter.store(counter.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
            }
        };
        let pid = fork(|| {
            ready.store(1, Ordering::Release);
            while start.load(Ordering::Acquire) == 0 {
                std::hint::spin_loop();
            }
            bump();
        });
        while ready.load(Ordering::Acquire) == 0 {
            std::hint::spin_loop();
        }
        let t = Instant::now();
        start.store(1, Ordering::Release);
        bump();
        reap(pid);
        let d = t.elapsed();
        assert_eq!(counter.load(Ordering::Relaxed), 2 * n, "count not exact");
        watchdog(0);
        per_op(d, 2 * n as usize, "ns")
    });
    emit(id, v, "ns");
}

pub const EVENT_PINGPONG: Workload = Workload {
    id: "sync.event_pingpong",
    what: "two Events ping-pong between two processes, round trip (target: within 1.2x)",
    python: &["py.W5.event_pingpong"],
    limit: Some("L2_futex_pingpong"),
    placement: Placement::Apart,
    busy: true,
    run: event_pingpong,
    ..Workload::ROW
};

/// `sync.event_pingpong`: two `Event`s; parent `ping.set(); pong.wait(); pong.clear()`, child
/// `ping.wait(); ping.clear(); pong.set()`. µs per round trip. Held against
/// `L2_futex_pingpong`; Python's: W5.event_pingpong.
pub fn event_pingpong(opts: &Opts) {
    let n = opts.n(20_000);
    let warm = 200;
    let v = median(opts.reps(), || {
        watchdog(120);
        let (ping, pong) = (Event::new().expect("event"), Event::new().expect("event"));
        let pid = fork(|| {
            for _ in 0..warm + n {
                assert!(ping.wait_timeout(TIMEOUT));
                ping.clear();
                pong.set();
            }
        });
        let round = || {
            ping.set();
            assert!(pong.wait_timeout(TIMEOUT));
            pong.clear();
        };
        for _ in 0..warm {
            round();
        }
        let t = Instant::now();
        for _ in 0..n {
            round();
        }
        let d = t.elapsed();
        reap(pid);
        watchdog(0);
        per_op(d, n, "us")
    });
    emit("sync.event_pingpong", v, "us");
}

pub const EVENT_PINGPONG_ASYNC: Workload = Workload {
    id: "sync.event_pingpong_async",
    what: "sync.event_pingpong with Event::wait_async on both sides (tokio, current-thread runtime each process)",
    python: &["py.W5.event_pingpong"],
    limit: Some("L2_futex_pingpong"),
    placement: Placement::Apart,
    run: event_pingpong_async,
    ..Workload::ROW
};

/// `sync.event_pingpong_async`: `sync.event_pingpong` with both sides waiting through
/// `Event::wait_async` in a current-thread tokio runtime; µs per round trip.
pub fn event_pingpong_async(opts: &Opts) {
    let n = opts.n(20_000);
    let warm = 200;
    let v = median(opts.reps(), || {
        watchdog(120);
        let (ping, pong) = (Event::new().expect("event"), Event::new().expect("event"));
        let pid = fork(|| {
            runtime().block_on(async {
                for _ in 0..warm + n {
                    ping.wait_async().await;
                    ping.clear();
                    pong.set();
                }
            })
        });
        // Measured in a child: the futures start a helper thread in the process they run in.
        let d = measured_in_child(|| {
            runtime().block_on(async {
                for _ in 0..warm {
                    ping.set();
                    pong.wait_async().await;
                    pong.clear();
                }
                let t = Instant::now();
                for _ in 0..n {
                    ping.set();
                    pong.wait_async().await;
                    pong.clear();
                }
                t.elapsed()
            })
        });
        reap(pid);
        watchdog(0);
        per_op(d, n, "us")
    });
    emit("sync.event_pingpong_async", v, "us");
}

pub const CONDITION_PINGPONG: Workload = Workload {
    id: "sync.condition_pingpong",
    what: "Condition + shared turn ping-pong between two processes, round trip (target: within 1.2x)",
    python: &["py.W5.condition_pingpong"],
    limit: Some("L2_futex_pingpong"),
    placement: Placement::Apart,
    same_core: true,
    busy: true,
    run: condition_pingpong,
    ..Workload::ROW
};

/// `sync.condition_pingpong`: one `Condition` (over an `RLock`) and a shared `turn`; the parent
/// sets `turn = 1`, notifies and waits for `turn == 0`; the child waits for `turn == 1`, sets 0,
/// notifies. µs per round trip. Held against `L2_futex_pingpong`; Python's:
/// W5.condition_pingpong.
pub fn condition_pingpong(opts: &Opts) {
    let n = opts.n(20_000);
    let warm = 200;
    let map = SharedMapping::anonymous(4096).expect("mapping");
    let turn: &AtomicU32 = map.atomic_u32(0);
    let v = median(opts.reps(), || {
        watchdog(120);
        turn.store(0, Ordering::SeqCst);
        let cond = Condition::new().expect("condition");
        let pid = fork(|| {
            for _ in 0..warm + n {
                let mut g = cond.lock().expect("lock");
                assert!(
                    g.wait_for_timeout(|| turn.load(Ordering::Relaxed) == 1, TIMEOUT)
                        .expect("lock")
                );
                turn.store(0, Ordering::Relaxed);
                g.notify(1);
            }
        });
        let round = || {
            let mut g = cond.lock().expect("lock");
            turn.store(1, Ordering::Relaxed);
            g.notify(1);
            assert!(
                g.wait_for_timeout(|| turn.load(Ordering::Relaxed) == 0, TIMEOUT)
                    .expect("lock")
            );
        };
        for _ in 0..warm {
            round();
        }
        let t = Instant::now();
        for _ in 0..n {
            round();
        }
        let d = t.elapsed();
        reap(pid);
        watchdog(0);
        per_op(d, n, "us")
    });
    emit("sync.condition_pingpong", v, "us");
}

pub const CREATE_10K_LOCKS: Workload = Workload {
    id: "sync.create_10k_locks",
    what: "create 10,000 Locks and keep them (a shared-heap slot each; Python: a semaphore each), for the 10,000",
    python: &["py.create_10k_locks"],
    run: create_10k_locks,
    ..Workload::ROW
};

/// `sync.create_10k_locks`: `Lock::new()` 10,000 times, all kept alive, then dropped; µs for the
/// 10,000. Python's: `ctx.Lock()` 10,000 times.
pub fn create_10k_locks(opts: &Opts) {
    let n = opts.n(10_000).max(1000);
    let v = median(opts.reps(), || {
        let t = Instant::now();
        let locks: Vec<Lock> = (0..n).map(|_| Lock::new().expect("lock")).collect();
        let took = t.elapsed();
        drop(std::hint::black_box(locks));
        took.as_secs_f64() * 1e6 * 10_000.0 / n as f64
    });
    emit("sync.create_10k_locks", v, "us");
}

pub const SEND_1K_LOCKS_TO_SPAWNED: Workload = Workload {
    id: "sync.send_1k_locks_to_spawned",
    what: "send 1,000 Locks to a spawned child in one message (its arguments); it takes and releases each; start + join",
    python: &["py.send_1k_locks_to_spawned"],
    run: send_1k_locks_to_spawned,
    ..Workload::ROW
};

/// `sync.send_1k_locks_to_spawned`: 1,000 Locks sent to a `spawn`ed child in one message (its
/// arguments), which takes and releases each and returns; ms for start + join. Python's: the
/// same `Process(target, args=(locks,))` under spawn.
pub fn send_1k_locks_to_spawned(opts: &Opts) {
    use multiproc_process::{StartMethod, get_context};
    fn take_each(locks: Vec<Lock>) -> usize {
        for l in &locks {
            drop(l.lock().expect("lock"));
        }
        locks.len()
    }
    let locks: Vec<Lock> = (0..1000).map(|_| Lock::new().expect("lock")).collect();
    let ctx = get_context(StartMethod::Spawn);
    let v = median(opts.reps(), || {
        let t = Instant::now();
        let h = ctx.spawn(take_each, locks.clone()).expect("spawn");
        assert_eq!(h.join().expect("join"), 1000);
        t.elapsed().as_secs_f64() * 1e3
    });
    emit("sync.send_1k_locks_to_spawned", v, "ms");
}
