//! `multiproc-sync` inside tokio programs (feature `tokio`): `Event::wait_async`,
//! `Lock::lock_async`, `RLock::lock_async` and `Semaphore::acquire_async` against children
//! started by `multiproc-process` (spawn), on a current-thread and a multi-thread runtime:
//! cancellation, `tokio::time::timeout`, a runtime shut down with waiters pending, a lock held
//! by a future of a SIGKILLed process, one helper thread per process and no CPU while idle.
#![cfg(feature = "tokio")]

use std::future::{Future, poll_fn};
use std::pin::pin;
use std::sync::atomic::Ordering;
use std::task::Poll;
use std::time::{Duration, Instant};

use multiproc_core::SharedMapping;
use multiproc_process::spawn;
use multiproc_sync::{Event, Lock, RLock, Semaphore};
use multiproc_testkit::runtime::{current_thread, multi_thread, on_both};

/// The bound of every wait across processes.
const LIMIT: Duration = Duration::from_secs(20);
const N: u32 = 2_000;

/// Polls `fut` once; whether it completed.
async fn poll_once<F: Future>(fut: std::pin::Pin<&mut F>) -> bool {
    let mut fut = fut;
    poll_fn(|cx| Poll::Ready(fut.as_mut().poll(cx).is_ready())).await
}

/// Polls `cond` every millisecond (without blocking the runtime) until it holds; panics after
/// [`LIMIT`].
async fn until(mut cond: impl FnMut() -> bool, what: &str) {
    let deadline = Instant::now() + LIMIT;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

fn set_after((ev, ms): (Event, u64)) {
    std::thread::sleep(Duration::from_millis(ms));
    ev.set();
}

/// Takes the lock, says so, holds it until `go` is set (at most LIMIT), releases.
fn hold_lock_until((lock, held, go): (Lock, Event, Event)) {
    let g = lock.lock().unwrap();
    held.set();
    assert!(go.wait_timeout(LIMIT));
    drop(g);
}

/// Counts N times under the lock (a plain read-modify-write).
fn count_under_lock((lock, map): (Lock, SharedMapping)) {
    let c = map.atomic_u32(0);
    for _ in 0..N {
        let _g = lock.lock().unwrap();
        let v = c.load(Ordering::Relaxed);
        c.store(v + 1, Ordering::Relaxed);
    }
}

fn release_after((sem, ms): (Semaphore, u64)) {
    std::thread::sleep(Duration::from_millis(ms));
    sem.release();
}

/// Takes the lock with `lock_async` in a current-thread runtime, says so, then waits to be
/// killed.
fn hold_lock_async_then_sleep((lock, held): (Lock, Event)) {
    current_thread().block_on(async {
        let g = lock.lock_async().await.unwrap();
        held.set();
        tokio::time::sleep(LIMIT).await;
        drop(g);
    });
}

#[test]
fn event_wait_async_wakes_on_a_set_in_another_process() {
    on_both(|| async {
        let ev = Event::new().unwrap();
        let child = spawn(set_after, (ev.clone(), 50)).unwrap();
        tokio::time::timeout(LIMIT, ev.wait_async())
            .await
            .expect("the child's set wakes the future");
        assert!(ev.is_set());
        child.join_timeout(LIMIT).expect("child ends").unwrap();
        // Set already: ready at once.
        tokio::time::timeout(Duration::from_secs(1), ev.wait_async())
            .await
            .unwrap();
    });
}

#[test]
fn event_wait_async_times_out_and_is_cancellation_safe() {
    on_both(|| async {
        let ev = Event::new().unwrap();
        let t = Instant::now();
        let r = tokio::time::timeout(Duration::from_millis(50), ev.wait_async()).await;
        assert!(r.is_err(), "nobody set it");
        assert!(t.elapsed() >= Duration::from_millis(50));
        // Many waiters dropped while armed leave the event as it was and usable.
        for _ in 0..20 {
            let mut f = pin!(ev.wait_async());
            assert!(!poll_once(f.as_mut()).await);
        }
        assert!(!ev.is_set());
        let child = spawn(set_after, (ev.clone(), 20)).unwrap();
        tokio::time::timeout(LIMIT, ev.wait_async()).await.unwrap();
        assert!(ev.wait_timeout(Duration::ZERO));
        child.join_timeout(LIMIT).expect("child ends").unwrap();
    });
}

#[test]
fn lock_async_excludes_tasks_and_other_processes() {
    on_both(|| async {
        let lock = Lock::new().unwrap();
        let map = SharedMapping::memfd("count", 4096).unwrap();
        let kids: Vec<_> = (0..2)
            .map(|_| spawn(count_under_lock, (lock.clone(), map.try_clone().unwrap())).unwrap())
            .collect();
        let tasks: Vec<_> = (0..3)
            .map(|_| {
                let (lock, map) = (lock.clone(), map.try_clone().unwrap());
                tokio::spawn(async move {
                    let c = map.atomic_u32(0);
                    for i in 0..N {
                        let g = lock.lock_async().await.unwrap();
                        let v = c.load(Ordering::Relaxed);
                        if i % 64 == 0 {
                            // Held across an await: others must wait.
                            tokio::task::yield_now().await;
                        }
                        c.store(v + 1, Ordering::Relaxed);
                        drop(g);
                    }
                })
            })
            .collect();
        for t in tasks {
            tokio::time::timeout(LIMIT, t)
                .await
                .expect("in time")
                .unwrap();
        }
        for k in kids {
            k.join_timeout(LIMIT).expect("child ends").unwrap();
        }
        assert_eq!(map.atomic_u32(0).load(Ordering::Acquire), 5 * N);
        assert!(!lock.is_locked());
    });
}

#[test]
fn lock_async_cancelled_or_timed_out_leaves_the_lock_usable() {
    on_both(|| async {
        let (lock, held, go) = (
            Lock::new().unwrap(),
            Event::new().unwrap(),
            Event::new().unwrap(),
        );
        let child = spawn(hold_lock_until, (lock.clone(), held.clone(), go.clone())).unwrap();
        tokio::time::timeout(LIMIT, held.wait_async())
            .await
            .unwrap();
        let r = tokio::time::timeout(Duration::from_millis(50), lock.lock_async()).await;
        assert!(r.is_err(), "the child holds it");
        // A future armed when the child releases, then dropped unpolled: the wake-up it got
        // is passed on, so a thread blocked in `lock` still gets the lock.
        let mut f = Box::pin(lock.lock_async());
        assert!(!poll_once(f.as_mut()).await);
        let blocked = {
            let lock = lock.clone();
            std::thread::spawn(move || lock.lock_timeout(LIMIT).is_ok())
        };
        std::thread::sleep(Duration::from_millis(50));
        go.set();
        child.join_timeout(LIMIT).expect("child ends").unwrap();
        std::thread::sleep(Duration::from_millis(20));
        drop(f);
        assert!(blocked.join().unwrap(), "the blocked thread got the lock");
        let g = tokio::time::timeout(LIMIT, lock.lock_async())
            .await
            .expect("free")
            .unwrap();
        assert!(lock.is_locked());
        drop(g);
        assert!(!lock.is_locked());
    });
}

#[test]
fn rlock_async_excludes_another_process() {
    on_both(|| async {
        let lock = RLock::new().unwrap();
        let g = tokio::time::timeout(LIMIT, lock.lock_async())
            .await
            .unwrap()
            .unwrap();
        assert!(lock.is_locked());
        assert_eq!(lock.depth(), 0, "held for the process, not this thread");
        let other = lock.clone();
        let t = std::thread::spawn(move || other.try_lock().is_err());
        assert!(t.join().unwrap(), "another thread cannot take it");
        drop(g);
        assert!(!lock.is_locked());
        let sync = lock.lock().unwrap();
        drop(sync);
    });
}

#[test]
fn semaphore_acquire_async_cancelled_takes_nothing() {
    on_both(|| async {
        let sem = Semaphore::new(0).unwrap();
        let r = tokio::time::timeout(Duration::from_millis(30), sem.acquire_async()).await;
        assert!(r.is_err());
        // Armed, then woken by the child's release, then dropped without being polled again:
        // the unit is still there.
        let mut f = Box::pin(sem.acquire_async());
        assert!(!poll_once(f.as_mut()).await);
        let child = spawn(release_after, (sem.clone(), 10)).unwrap();
        child.join_timeout(LIMIT).expect("child ends").unwrap();
        until(|| sem.value() == 1, "the release").await;
        drop(f);
        assert_eq!(sem.value(), 1, "a dropped future took a unit");
        tokio::time::timeout(LIMIT, sem.acquire_async())
            .await
            .unwrap();
        assert_eq!(sem.value(), 0);
        // A pending acquire completes on a release from another process.
        let child = spawn(release_after, (sem.clone(), 30)).unwrap();
        tokio::time::timeout(LIMIT, sem.acquire_async())
            .await
            .unwrap();
        child.join_timeout(LIMIT).expect("child ends").unwrap();
        assert_eq!(sem.value(), 0);
    });
}

#[test]
fn a_runtime_shut_down_with_waiters_pending_leaves_everything_usable() {
    for rt in [current_thread(), multi_thread()] {
        let (ev, sem, lock) = (
            Event::new().unwrap(),
            Semaphore::new(0).unwrap(),
            Lock::new().unwrap(),
        );
        let (held, go) = (Event::new().unwrap(), Event::new().unwrap());
        let child = spawn(hold_lock_until, (lock.clone(), held.clone(), go.clone())).unwrap();
        assert!(held.wait_timeout(LIMIT));
        for _ in 0..4 {
            let (ev, sem, lock) = (ev.clone(), sem.clone(), lock.clone());
            rt.spawn(async move { ev.wait_async().await });
            rt.spawn(async move { sem.acquire_async().await });
            rt.spawn(async move { drop(lock.lock_async().await) });
        }
        // Let every task arm its wait, then shut the runtime down under them.
        rt.block_on(async { tokio::time::sleep(Duration::from_millis(50)).await });
        rt.shutdown_timeout(LIMIT);
        sem.release();
        assert!(
            sem.acquire_timeout(Duration::ZERO),
            "a dropped acquire took the unit"
        );
        go.set();
        child.join_timeout(LIMIT).expect("child ends").unwrap();
        let g = lock.lock_timeout(LIMIT).expect("the lock is free again");
        drop(g);
        ev.set();
        assert!(ev.wait_timeout(Duration::ZERO));
    }
}

#[test]
fn a_lock_held_by_a_future_of_a_killed_process_is_owner_died() {
    on_both(|| async {
        let (lock, held) = (Lock::new().unwrap(), Event::new().unwrap());
        let child = spawn(hold_lock_async_then_sleep, (lock.clone(), held.clone())).unwrap();
        tokio::time::timeout(LIMIT, held.wait_async())
            .await
            .unwrap();
        assert!(lock.is_locked());
        // A future waits on it while the holder dies.
        let waiter = {
            let lock = lock.clone();
            tokio::spawn(async move { lock.lock_async().await.is_err() })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        child.process().kill().unwrap();
        let died = tokio::time::timeout(LIMIT, waiter)
            .await
            .expect("the waiter notices the death")
            .unwrap();
        assert!(died, "OwnerDied reported to the next acquirer");
        let _ = child.join_timeout(LIMIT);
        assert!(!lock.is_locked());
    });
}

/// Threads of this process named like the waiter's helper.
fn helper_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter(|t| {
            let comm = t.as_ref().unwrap().path().join("comm");
            std::fs::read_to_string(comm).is_ok_and(|c| c.starts_with("multiproc-wait"))
        })
        .count()
}

/// CPU time of this process so far.
fn cpu_time() -> Duration {
    let mut ru = std::mem::MaybeUninit::<libc::rusage>::uninit();
    // SAFETY: getrusage writes the struct it is given.
    let ru = unsafe {
        assert_eq!(libc::getrusage(libc::RUSAGE_SELF, ru.as_mut_ptr()), 0);
        ru.assume_init()
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

#[test]
fn idle_waiters_share_one_helper_thread_and_use_no_cpu() {
    let rt = multi_thread();
    let events: Vec<Event> = (0..100).map(|_| Event::new().unwrap()).collect();
    let tasks: Vec<_> = events
        .iter()
        .map(|ev| {
            let ev = ev.clone();
            rt.spawn(async move { ev.wait_async().await })
        })
        .collect();
    rt.block_on(async { tokio::time::sleep(Duration::from_millis(100)).await });
    assert_eq!(helper_threads(), 1, "one helper for 100 waiting futures");
    let before = cpu_time();
    std::thread::sleep(Duration::from_millis(500));
    let used = cpu_time() - before;
    // Generous: a spinning waiter would use ~500 ms per core here.
    assert!(
        used < Duration::from_millis(100),
        "idle waiters used {used:?} of CPU"
    );
    let child = spawn(set_after, (events[57].clone(), 0)).unwrap();
    child.join_timeout(LIMIT).expect("child ends").unwrap();
    for ev in &events {
        ev.set();
    }
    rt.block_on(async {
        for t in tasks {
            tokio::time::timeout(LIMIT, t).await.unwrap().unwrap();
        }
    });
    assert_eq!(helper_threads(), 1);
}
