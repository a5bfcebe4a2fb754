//! `multiproc-sync` across real processes: children started by `exec` that receive the primitives
//! through `multiproc_core::transfer`, and forked children that do only async-signal-safe work
//! (atomics, futex, taking a lock, `_exit`).

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use multiproc_core::Deadline;
use multiproc_core::SharedMapping;
use multiproc_core::futex;
use multiproc_core::transfer::{Channel, inherited_channel, spawn_with_channel};
use multiproc_sync::{
    Barrier, BoundedSemaphore, BrokenBarrier, Condition, Error, Event, Lock, RLock, Semaphore,
    TryLockError,
};
use multiproc_testkit::{child_command, role, wait_timeout};

const LIMIT: Duration = Duration::from_secs(20);
const N: u32 = 20_000;

fn child_channel() -> Channel {
    // SAFETY: this test process was started by `spawn_with_channel`; nothing else claims the fd.
    unsafe { inherited_channel() }
        .expect("channel")
        .expect("started with a channel")
}

/// Waits (futex, with a deadline) until `word == want`.
fn wait_eq(word: &AtomicU32, want: u32) {
    let deadline = Instant::now() + LIMIT;
    loop {
        let v = word.load(Ordering::Acquire);
        if v == want {
            return;
        }
        assert!(Instant::now() < deadline, "word stayed {v}, wanted {want}");
        let _ = futex::wait(word, v, Deadline::Until(deadline));
    }
}

fn put(word: &AtomicU32, v: u32) {
    word.store(v, Ordering::Release);
    futex::wake_all(word);
}

/// Forks a child that runs `f` (async-signal-safe work only) and `_exit`s with its result.
fn fork_child(f: impl FnOnce() -> i32) -> libc::pid_t {
    // SAFETY: every caller's child does only atomics, futex calls, lock operations (atomics,
    // futex, an allocation-free /proc read) and `_exit`: async-signal-safe.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        let code = f();
        // SAFETY: ends the child without running the parent's handlers.
        unsafe { libc::_exit(code) };
    }
    pid
}

fn kill_and_reap(pid: libc::pid_t) {
    // SAFETY: signalling and reaping our own child.
    unsafe {
        libc::kill(pid, libc::SIGKILL);
        libc::waitpid(pid, std::ptr::null_mut(), 0);
    }
}

fn reap_ok(pid: libc::pid_t) {
    let deadline = Instant::now() + LIMIT;
    loop {
        let mut st = 0;
        // SAFETY: non-blocking waitpid on our own child.
        let r = unsafe { libc::waitpid(pid, &mut st, libc::WNOHANG) };
        if r == pid {
            assert!(
                libc::WIFEXITED(st) && libc::WEXITSTATUS(st) == 0,
                "child failed: {st:#x}"
            );
            return;
        }
        if Instant::now() > deadline {
            kill_and_reap(pid);
            panic!("forked child {pid} still running");
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

type Kit = (
    Lock,
    RLock,
    Semaphore,
    BoundedSemaphore,
    Event,
    Event,
    Condition,
    Barrier,
    SharedMapping,
);

/// Every primitive, sent to a spawned (exec'd) child, used from both sides.
#[test]
fn every_primitive_works_with_a_spawned_child() {
    if role().as_deref() == Some("kit") {
        let mut ch = child_channel();
        let (lock, rlock, sem, bsem, ev1, ev2, cond, barrier, map): Kit =
            ch.recv_timeout(LIMIT).unwrap();
        let counter = map.atomic_u32(0);
        let turn = map.atomic_u32(4);
        // Lock and RLock: increments that are not atomic on their own.
        for _ in 0..N {
            let _g = lock.lock().unwrap();
            counter.store(counter.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
        }
        let counter = map.atomic_u32(8);
        for _ in 0..N {
            let _g = rlock.lock().unwrap();
            let _g2 = rlock.lock().unwrap();
            counter.store(counter.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
        }
        // Semaphores: three units for the parent; the bounded one back to its bound.
        for _ in 0..3 {
            sem.release();
        }
        bsem.release().unwrap();
        // Events.
        assert!(ev1.wait_timeout(LIMIT));
        ev2.set();
        // Condition ping-pong.
        for i in 0..50 {
            let mut g = cond.lock().unwrap();
            assert!(
                g.wait_for_timeout(|| turn.load(Ordering::Relaxed) == 2 * i + 1, LIMIT)
                    .unwrap()
            );
            turn.store(2 * i + 2, Ordering::Relaxed);
            g.notify(1);
        }
        // Barrier rounds.
        for _ in 0..5 {
            barrier.wait().unwrap();
        }
        return;
    }

    let lock = Lock::new().unwrap();
    let rlock = RLock::new().unwrap();
    let sem = Semaphore::new(0).unwrap();
    let bsem = BoundedSemaphore::new(2).unwrap();
    assert!(bsem.try_acquire());
    let (ev1, ev2) = (Event::new().unwrap(), Event::new().unwrap());
    let cond = Condition::new().unwrap();
    let barrier = Barrier::with_timeout(2, LIMIT).unwrap();
    let map = SharedMapping::memfd("kit", 4096).unwrap();
    let (mut child, mut ch) = spawn_with_channel(child_command(
        "every_primitive_works_with_a_spawned_child",
        "kit",
    ))
    .unwrap();
    ch.send(&(
        &lock, &rlock, &sem, &bsem, &ev1, &ev2, &cond, &barrier, &map,
    ))
    .unwrap();
    let counter = map.atomic_u32(0);
    let turn = map.atomic_u32(4);
    for _ in 0..N {
        let _g = lock.lock().unwrap();
        counter.store(counter.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
    }
    let counter2 = map.atomic_u32(8);
    for _ in 0..N {
        rlock.acquire().unwrap();
        rlock.acquire().unwrap();
        counter2.store(counter2.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
        rlock.release().unwrap();
        rlock.release().unwrap();
    }
    for _ in 0..3 {
        assert!(sem.acquire_timeout(LIMIT));
    }
    assert!(!sem.try_acquire());
    let deadline = Instant::now() + LIMIT;
    while bsem.value() != 2 {
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(bsem.release(), Err(Error::BoundExceeded { bound: 2 }));
    ev1.set();
    assert!(ev2.wait_timeout(LIMIT));
    for i in 0..50 {
        let mut g = cond.lock().unwrap();
        turn.store(2 * i + 1, Ordering::Relaxed);
        g.notify_all();
        assert!(
            g.wait_for_timeout(|| turn.load(Ordering::Relaxed) == 2 * i + 2, LIMIT)
                .unwrap()
        );
    }
    let mut indices = Vec::new();
    for _ in 0..5 {
        indices.push(barrier.wait().unwrap());
    }
    assert!(indices.iter().all(|&i| i < 2));
    assert!(wait_timeout(&mut child, LIMIT).success());
    assert_eq!(
        counter.load(Ordering::Relaxed),
        2 * N,
        "every increment counted"
    );
    assert_eq!(
        counter2.load(Ordering::Relaxed),
        2 * N,
        "every increment counted"
    );
    assert!(!lock.is_locked() && !rlock.is_locked());
}

/// A child SIGKILLed while holding a lock: the next acquirer gets OwnerDied, quickly.
#[test]
fn lock_and_rlock_owner_died() {
    let map = SharedMapping::anonymous(4096).unwrap();
    let holding = map.atomic_u32(0);
    let lock = Lock::new().unwrap();
    let rlock = RLock::new().unwrap();
    let pid = fork_child(|| {
        std::mem::forget(lock.lock());
        std::mem::forget(rlock.lock());
        std::mem::forget(rlock.lock());
        put(holding, 1);
        let _ = futex::wait(holding, 1, Deadline::after(LIMIT));
        0
    });
    wait_eq(holding, 1);
    assert!(matches!(lock.try_lock(), Err(TryLockError::Timeout)));
    assert_eq!(lock.release(), Err(Error::NotOwner), "we are not the owner");
    assert_eq!(rlock.release(), Err(Error::NotOwner));
    kill_and_reap(pid);
    let t = Instant::now();
    let g = match lock.lock_timeout(LIMIT) {
        Err(TryLockError::OwnerDied(g)) => g,
        other => panic!("expected OwnerDied, got {other:?}"),
    };
    let noticed = t.elapsed();
    assert!(noticed < Duration::from_millis(100), "took {noticed:?}");
    drop(g);
    // Once taken over, the lock is an ordinary one again.
    drop(lock.lock().unwrap());
    let g = rlock.lock().expect_err("owner died").into_inner();
    assert_eq!(rlock.depth(), 1, "a fresh depth, not the dead owner's 2");
    drop(g);
    assert!(!rlock.is_locked());
}

/// The holder dies while another process already sleeps in acquire.
#[test]
fn sleeping_acquirer_notices_death() {
    let map = SharedMapping::anonymous(4096).unwrap();
    let holding = map.atomic_u32(0);
    let lock = Lock::new().unwrap();
    let pid = fork_child(|| {
        std::mem::forget(lock.lock());
        put(holding, 1);
        let _ = futex::wait(holding, 1, Deadline::after(Duration::from_millis(50)));
        // Dies holding the lock, while the parent sleeps in `lock()`.
        // SAFETY: raising SIGKILL on ourselves.
        unsafe { libc::raise(libc::SIGKILL) };
        0
    });
    wait_eq(holding, 1);
    let t = Instant::now();
    assert!(lock.lock().is_err(), "OwnerDied");
    assert!(t.elapsed() < Duration::from_secs(2));
    kill_and_reap(pid);
}

/// A thread that exits holding the lock counts as a dead owner too.
#[test]
fn thread_that_exits_holding_the_lock() {
    let lock = Lock::new().unwrap();
    let l2 = lock.clone();
    std::thread::spawn(move || std::mem::forget(l2.lock().unwrap()))
        .join()
        .unwrap();
    assert!(lock.is_locked());
    assert!(
        lock.lock_timeout(LIMIT)
            .is_err_and(|e| e.into_owner_died().is_some())
    );
}

#[test]
fn release_by_another_thread_is_an_error() {
    let lock = Lock::new().unwrap();
    let rlock = RLock::new().unwrap();
    lock.acquire().unwrap();
    rlock.acquire().unwrap();
    let (l2, r2) = (lock.clone(), rlock.clone());
    std::thread::spawn(move || {
        assert_eq!(l2.release(), Err(Error::NotOwner));
        assert_eq!(r2.release(), Err(Error::NotOwner));
        assert!(matches!(r2.try_lock(), Err(TryLockError::Timeout)));
    })
    .join()
    .unwrap();
    lock.release().unwrap();
    rlock.release().unwrap();
    assert_eq!(lock.release(), Err(Error::NotOwner));
}

fn assert_close(took: Duration, asked: Duration) {
    assert!(took >= asked, "{took:?} < {asked:?}");
    assert!(
        took < asked + Duration::from_millis(15),
        "{took:?} is far above {asked:?}"
    );
}

#[test]
fn timeouts_are_close_to_what_was_asked() {
    let asked = Duration::from_millis(30);
    let map = SharedMapping::anonymous(4096).unwrap();
    let (holding, release) = (map.atomic_u32(0), map.atomic_u32(4));
    let lock = Lock::new().unwrap();
    let rlock = RLock::new().unwrap();
    let pid = fork_child(|| {
        let g = lock.lock();
        let r = rlock.lock();
        put(holding, 1);
        let _ = futex::wait(release, 0, Deadline::after(LIMIT));
        drop((g, r));
        0
    });
    wait_eq(holding, 1);
    let t = Instant::now();
    assert!(matches!(
        lock.lock_timeout(asked),
        Err(TryLockError::Timeout)
    ));
    assert_close(t.elapsed(), asked);
    let t = Instant::now();
    assert!(matches!(
        rlock.acquire_timeout(asked),
        Err(TryLockError::Timeout)
    ));
    assert_close(t.elapsed(), asked);
    put(release, 1);
    reap_ok(pid);

    let sem = Semaphore::new(0).unwrap();
    let t = Instant::now();
    assert!(!sem.acquire_timeout(asked));
    assert_close(t.elapsed(), asked);
    let bsem = BoundedSemaphore::new(0).unwrap();
    let t = Instant::now();
    assert!(!bsem.acquire_timeout(asked));
    assert_close(t.elapsed(), asked);
    let ev = Event::new().unwrap();
    let t = Instant::now();
    assert!(!ev.wait_timeout(asked));
    assert_close(t.elapsed(), asked);
    let cond = Condition::with_lock(Lock::new().unwrap()).unwrap();
    let mut g = cond.lock().unwrap();
    let t = Instant::now();
    assert_eq!(g.wait_timeout(asked), Ok(false));
    assert_close(t.elapsed(), asked);
    let t = Instant::now();
    assert_eq!(g.wait_for_timeout(|| false, asked), Ok(false));
    assert_close(t.elapsed(), asked);
    drop(g);
    let b = Barrier::with_timeout(2, asked).unwrap();
    let t = Instant::now();
    assert_eq!(b.wait(), Err(BrokenBarrier));
    assert_close(t.elapsed(), asked);
    assert!(b.broken(), "a timeout breaks the barrier");
}

/// Forked children sleep in Condition::wait; one is killed there; notify still reaches the
/// other. Then a child dies holding the condition's lock.
#[test]
fn condition_waiter_death_and_owner_death() {
    let map = SharedMapping::anonymous(4096).unwrap();
    let (ready, woken, holding) = (map.atomic_u32(0), map.atomic_u32(4), map.atomic_u32(8));
    let cond = Condition::new().unwrap();
    let spawn_waiter = || {
        fork_child(|| {
            let mut g = match cond.lock() {
                Ok(g) => g,
                Err(e) => e.into_inner(),
            };
            ready.fetch_add(1, Ordering::AcqRel);
            futex::wake_all(ready);
            let notified = g.wait_timeout(LIMIT).unwrap_or(false);
            drop(g);
            if notified {
                woken.fetch_add(1, Ordering::AcqRel);
                futex::wake_all(woken);
            }
            0
        })
    };
    let a = spawn_waiter();
    wait_eq(ready, 1);
    let b = spawn_waiter();
    wait_eq(ready, 2);
    // Both are in wait once they could take the lock (each released it to sleep).
    drop(cond.lock().unwrap());
    std::thread::sleep(Duration::from_millis(20));
    kill_and_reap(a);
    cond.lock().unwrap().notify(1);
    wait_eq(woken, 1);
    reap_ok(b);

    // The holder of the condition's lock dies: the next locker is told.
    let c = fork_child(|| {
        std::mem::forget(cond.lock());
        put(holding, 1);
        let _ = futex::wait(holding, 1, Deadline::after(LIMIT));
        0
    });
    wait_eq(holding, 1);
    kill_and_reap(c);
    let mut g = cond.lock().expect_err("owner died").into_inner();
    g.notify_all();
    assert_eq!(g.wait_timeout(Duration::from_millis(1)), Ok(false));
}

/// A party killed while waiting at the barrier was counted: the others are released. The party
/// running the action dies: the barrier breaks for the waiter.
#[test]
fn barrier_with_dead_parties() {
    let map = std::sync::Arc::new(SharedMapping::anonymous(4096).unwrap());
    let (arrived, in_action) = (map.atomic_u32(0), map.atomic_u32(4));
    let b = Barrier::with_timeout(3, LIMIT).unwrap();
    let a = fork_child(|| {
        put(arrived, 1);
        match b.wait() {
            Ok(_) => 0,
            Err(_) => 1,
        }
    });
    wait_eq(arrived, 1);
    let deadline = Instant::now() + LIMIT;
    while b.n_waiting() != 1 {
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(1));
    }
    kill_and_reap(a);
    let c = fork_child(|| match b.wait() {
        Ok(i) if i < 3 => 0,
        _ => 1,
    });
    let mine = b.wait().unwrap();
    assert!(mine < 3);
    reap_ok(c);
    assert_eq!(b.n_waiting(), 0);
    assert!(!b.broken());

    // The action runner dies mid-action.
    let mut b2 = Barrier::with_timeout(2, LIMIT).unwrap();
    let m2 = map.clone();
    b2.set_action(move || {
        let in_action = m2.atomic_u32(4);
        in_action.store(1, Ordering::Release);
        futex::wake_all(in_action);
        let _ = futex::wait(in_action, 1, Deadline::after(LIMIT));
    });
    let waiter = b2.clone();
    let t = std::thread::spawn(move || waiter.wait_timeout(LIMIT));
    let deadline = Instant::now() + LIMIT;
    while b2.n_waiting() != 1 {
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(1));
    }
    let runner = fork_child(|| {
        let _ = b2.wait();
        0
    });
    wait_eq(in_action, 1);
    kill_and_reap(runner);
    let t0 = Instant::now();
    assert_eq!(t.join().unwrap(), Err(BrokenBarrier));
    assert!(t0.elapsed() < Duration::from_secs(1));
    assert!(b2.broken());
    b2.reset();
    assert!(!b2.broken());
}

#[test]
fn barrier_abort_reset_and_action_across_fork() {
    let map = std::sync::Arc::new(SharedMapping::anonymous(4096).unwrap());
    let ran = map.atomic_u32(0);
    let m2 = map.clone();
    let mut b = Barrier::with_timeout(2, LIMIT).unwrap();
    b.set_action(move || {
        m2.atomic_u32(0).fetch_add(1, Ordering::AcqRel);
    });
    let c = fork_child(|| match (b.wait(), b.wait()) {
        (Ok(_), Err(_)) => 0,
        _ => 1,
    });
    let i = b.wait().unwrap();
    assert!(i < 2);
    // Round two: the child waits, we abort.
    let deadline = Instant::now() + LIMIT;
    while b.n_waiting() != 1 {
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(1));
    }
    b.abort();
    reap_ok(c);
    assert_eq!(ran.load(Ordering::Acquire), 1, "the action ran once");
    assert!(b.broken() && b.wait().is_err());
    b.reset();
    // Reset breaks current waiters.
    let c = fork_child(|| match b.wait() {
        Err(_) => 0,
        Ok(_) => 1,
    });
    while b.n_waiting() != 1 {
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(1));
    }
    b.reset();
    reap_ok(c);
    assert!(!b.broken());
    assert_eq!(b.parties(), 2);
}

#[test]
fn semaphore_wakes_a_forked_waiter_and_event_clear() {
    let sem = Semaphore::new(0).unwrap();
    let ev = Event::new().unwrap();
    let c = fork_child(|| {
        if !sem.acquire_timeout(LIMIT) {
            return 1;
        }
        ev.set();
        0
    });
    std::thread::sleep(Duration::from_millis(5));
    sem.release();
    assert!(ev.wait_timeout(LIMIT));
    reap_ok(c);
    assert_eq!(sem.value(), 0);
    ev.clear();
    assert!(!ev.is_set());
    let g = Semaphore::new(1).unwrap();
    {
        let _u = g.guard();
        assert_eq!(g.value(), 0);
    }
    assert_eq!(g.value(), 1);
}
