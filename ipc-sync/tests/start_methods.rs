//! Every primitive reaches children by every `multiproc-process` start method and works there.
//! (`fork` is covered by the fork-based tests in `cross_process.rs`; the test harness runs tests
//! on threads, where `multiproc-process` refuses `fork`.)

use std::sync::atomic::Ordering;
use std::time::Duration;

use multiproc_core::SharedMapping;
use multiproc_process::{StartMethod, get_context};
use multiproc_sync::{Barrier, Condition, Event, Lock, RLock, Semaphore};

const N: u32 = 2_000;

/// Increments a plain (non-atomic read-modify-write) counter N times under the lock.
fn count_under_lock((lock, map): (Lock, SharedMapping)) {
    let c = map.atomic_u32(0);
    for _ in 0..N {
        let _g = lock.lock().unwrap();
        let v = c.load(Ordering::Relaxed);
        c.store(v + 1, Ordering::Relaxed);
    }
}

fn count_under_rlock((lock, map): (RLock, SharedMapping)) {
    let c = map.atomic_u32(0);
    for _ in 0..N {
        let _outer = lock.lock().unwrap();
        let _inner = lock.lock().unwrap(); // re-entrant
        let v = c.load(Ordering::Relaxed);
        c.store(v + 1, Ordering::Relaxed);
    }
}

fn signal((ev, sem, barrier): (Event, Semaphore, Barrier)) -> u32 {
    sem.release();
    assert!(ev.wait_timeout(Duration::from_secs(10)));
    barrier.wait().unwrap()
}

fn cond_child((cond, map): (Condition, SharedMapping)) {
    let turn = map.atomic_u32(0);
    let mut g = cond.lock().unwrap();
    let ok = g.wait_for_timeout(
        || turn.load(Ordering::Acquire) == 1,
        Duration::from_secs(10),
    );
    assert!(ok.unwrap());
    turn.store(2, Ordering::Release);
    g.notify_all();
}

#[test]
fn primitives_work_under_spawn_and_forkserver() {
    for m in [StartMethod::Spawn, StartMethod::Forkserver] {
        let ctx = get_context(m);
        // Lock and RLock: two children and the parent count, exactly.
        let lock = Lock::new().unwrap();
        let map = SharedMapping::memfd("count", 4096).unwrap();
        let kids: Vec<_> = (0..2)
            .map(|_| {
                ctx.spawn(count_under_lock, (lock.clone(), map.try_clone().unwrap()))
                    .unwrap()
            })
            .collect();
        count_under_lock((lock.clone(), map.try_clone().unwrap()));
        for k in kids {
            k.join().unwrap();
        }
        assert_eq!(
            map.atomic_u32(0).load(Ordering::Acquire),
            3 * N,
            "{m:?} Lock"
        );

        let rlock = RLock::new().unwrap();
        let map = SharedMapping::memfd("count", 4096).unwrap();
        let k = ctx
            .spawn(count_under_rlock, (rlock.clone(), map.try_clone().unwrap()))
            .unwrap();
        count_under_rlock((rlock, map.try_clone().unwrap()));
        k.join().unwrap();
        assert_eq!(
            map.atomic_u32(0).load(Ordering::Acquire),
            2 * N,
            "{m:?} RLock"
        );

        // Semaphore, Event, Barrier.
        let ev = Event::new().unwrap();
        let sem = Semaphore::new(0).unwrap();
        let barrier = Barrier::with_timeout(2, Duration::from_secs(10)).unwrap();
        let k = ctx
            .spawn(signal, (ev.clone(), sem.clone(), barrier.clone()))
            .unwrap();
        assert!(sem.acquire_timeout(Duration::from_secs(10)));
        ev.set();
        let mine = barrier.wait().unwrap();
        let theirs = k.join().unwrap();
        assert_eq!(mine + theirs, 1, "{m:?}: arrival indices 0 and 1");

        // Condition.
        let cond = Condition::new().unwrap();
        let map = SharedMapping::memfd("turn", 4096).unwrap();
        let k = ctx
            .spawn(cond_child, (cond.clone(), map.try_clone().unwrap()))
            .unwrap();
        {
            let g = cond.lock().unwrap();
            map.atomic_u32(0).store(1, Ordering::Release);
            g.notify_all();
        }
        let mut g = cond.lock().unwrap();
        let turn = map.atomic_u32(0);
        let ok = g.wait_for_timeout(
            || turn.load(Ordering::Acquire) == 2,
            Duration::from_secs(10),
        );
        assert!(ok.unwrap(), "{m:?}: the child's notify arrived");
        drop(g);
        k.join().unwrap();
    }
}
