//! A program that polls a lock — `try_lock`, or `lock_timeout` with timeouts of a millisecond
//! or none — whose holder was SIGKILLed must learn of the death (`OwnerDied`), not time out for
//! ever; and polling a lock whose holder lives must not turn into a loop of `/proc` reads.
//! Holders are real processes started by `multiproc-process`.

use std::time::{Duration, Instant};

use multiproc_process::Process;
use multiproc_sync::{Condition, Event, Lock, RLock, TryLockError};

const LIMIT: Duration = Duration::from_secs(20);
/// How soon a poller must see `OwnerDied` after the holder is reaped. The design says about a
/// millisecond (10 ms at most); measured generously, as the machine is shared.
const NOTICE: Duration = Duration::from_millis(500);

fn hold_lock((lock, held): (Lock, Event)) {
    std::mem::forget(lock.lock().unwrap());
    held.set();
    std::thread::sleep(LIMIT);
}

fn hold_rlock((lock, held): (RLock, Event)) {
    std::mem::forget(lock.lock().unwrap());
    std::mem::forget(lock.lock().unwrap());
    held.set();
    std::thread::sleep(LIMIT);
}

fn hold_condition((cond, held): (Condition, Event)) {
    std::mem::forget(cond.lock().unwrap());
    held.set();
    std::thread::sleep(LIMIT);
}

/// Starts `holder` (which takes the lock, sets the event and sleeps), waits until it holds the
/// lock, SIGKILLs it and waits until it is gone.
fn kill_holder<A>(holder: fn((A, Event)), primitive: A)
where
    A: serde::Serialize + serde::de::DeserializeOwned + Send + 'static,
{
    let held = Event::new().unwrap();
    let p =
        Process::new(holder, (primitive, held.clone())).with_daemon(multiproc_process::Daemon::Yes);
    p.start().unwrap();
    assert!(held.wait_timeout(LIMIT), "the holder never took the lock");
    p.kill().unwrap();
    assert!(
        p.join_timeout(LIMIT).unwrap(),
        "the killed holder did not end"
    );
}

/// What one polling attempt gave.
#[derive(Debug, PartialEq)]
enum Poll {
    Timeout,
    OwnerDied,
    /// Acquired with no word of the death: wrong, the holder died holding it.
    Plain,
}

fn poll<G>(r: Result<G, TryLockError<G>>) -> Poll {
    match r {
        Ok(_) => Poll::Plain,
        Err(TryLockError::Timeout) => Poll::Timeout,
        Err(TryLockError::OwnerDied(_)) => Poll::OwnerDied,
    }
}

/// Polls until an attempt reports `OwnerDied`; fails if one acquires plainly first or if
/// [`NOTICE`] passes. Returns how many attempts timed out before.
fn poll_until_owner_died(what: &str, mut attempt: impl FnMut() -> Poll) -> u64 {
    let start = Instant::now();
    let mut timeouts = 0u64;
    loop {
        match attempt() {
            Poll::OwnerDied => {
                eprintln!(
                    "{what}: OwnerDied after {:?} ({timeouts} timeouts before)",
                    start.elapsed()
                );
                return timeouts;
            }
            Poll::Plain => panic!("{what}: acquired without OwnerDied from a dead holder"),
            Poll::Timeout => timeouts += 1,
        }
        assert!(
            start.elapsed() < NOTICE,
            "{what}: still Timeout {:?} after the holder died ({timeouts} attempts)",
            start.elapsed()
        );
    }
}

#[test]
fn polling_a_lock_whose_holder_was_killed_reports_owner_died() {
    let lock = Lock::new().unwrap();
    kill_holder(hold_lock, lock.clone());
    poll_until_owner_died("Lock::try_lock", || poll(lock.try_lock()));
    assert!(lock.try_lock().is_ok(), "an ordinary lock again");

    kill_holder(hold_lock, lock.clone());
    poll_until_owner_died("Lock::lock_timeout(1ms)", || {
        poll(lock.lock_timeout(Duration::from_millis(1)))
    });
    kill_holder(hold_lock, lock.clone());
    poll_until_owner_died("Lock::try_acquire()", || match lock.try_acquire() {
        Ok(()) => Poll::Plain,
        Err(TryLockError::Timeout) => Poll::Timeout,
        Err(TryLockError::OwnerDied(())) => {
            lock.release().unwrap();
            Poll::OwnerDied
        }
    });
    assert!(!lock.is_locked());
}

#[test]
fn polling_an_rlock_whose_holder_was_killed_reports_owner_died() {
    let lock = RLock::new().unwrap();
    kill_holder(hold_rlock, lock.clone());
    poll_until_owner_died("RLock::try_lock", || poll(lock.try_lock()));
    kill_holder(hold_rlock, lock.clone());
    poll_until_owner_died("RLock::lock_timeout(1ms)", || {
        match lock.lock_timeout(Duration::from_millis(1)) {
            Err(TryLockError::OwnerDied(g)) => {
                assert_eq!(
                    lock.depth(),
                    1,
                    "held once, whatever the dead owner's depth"
                );
                drop(g);
                Poll::OwnerDied
            }
            other => poll(other),
        }
    });
    assert!(!lock.is_locked());
}

#[test]
fn polling_a_condition_whose_holder_was_killed_reports_owner_died() {
    let cond = Condition::new().unwrap();
    kill_holder(hold_condition, cond.clone());
    poll_until_owner_died("Condition::lock_timeout(0)", || {
        poll(cond.lock_timeout(Duration::ZERO))
    });
    kill_holder(hold_condition, cond.clone());
    poll_until_owner_died("Condition::lock_timeout(1ms)", || {
        poll(cond.lock_timeout(Duration::from_millis(1)))
    });
    // An ordinary condition again: a wait times out holding the lock.
    let mut g = cond.lock().unwrap();
    assert_eq!(g.wait_timeout(Duration::from_millis(1)), Ok(false));
}

/// The read syscalls this thread made so far (`/proc/thread-self/io`, `syscr`).
fn reads_so_far() -> u64 {
    let io = std::fs::read_to_string("/proc/thread-self/io").unwrap();
    io.lines()
        .find_map(|l| l.strip_prefix("syscr: "))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

fn hold_until_set((lock, held, done): (Lock, Event, Event)) {
    let _g = lock.lock().unwrap();
    held.set();
    assert!(done.wait_timeout(LIMIT));
}

/// A tight `try_lock` loop on a lock whose holder lives checks the holder's liveness (one
/// `/proc` read) about once per millisecond, not once per attempt.
#[test]
fn a_tight_polling_loop_is_not_a_syscall_loop() {
    let lock = Lock::new().unwrap();
    let (held, done) = (Event::new().unwrap(), Event::new().unwrap());
    let p = Process::new(hold_until_set, (lock.clone(), held.clone(), done.clone()))
        .with_daemon(multiproc_process::Daemon::Yes);
    p.start().unwrap();
    assert!(held.wait_timeout(LIMIT));
    let attempts = 200_000u64;
    let before = reads_so_far();
    let start = Instant::now();
    for _ in 0..attempts {
        assert!(matches!(lock.try_lock(), Err(TryLockError::Timeout)));
    }
    let took = start.elapsed();
    // A check reads the holder's `/proc/<tid>/stat` in two `read`s (the line, then the end
    // of the file); `reads_so_far` itself reads once.
    let reads = reads_so_far() - before;
    done.set();
    assert!(p.join_timeout(LIMIT).unwrap());
    let checks_allowed = took.as_millis() as u64 + 5;
    let allowed = 2 * checks_allowed + 1;
    eprintln!("{attempts} failed try_locks in {took:?}: {reads} reads (allowed {allowed})");
    assert!(
        reads <= allowed,
        "{reads} reads in {took:?}: the liveness check is not rate-limited"
    );
    assert!(lock.try_lock().is_ok(), "released by its live holder");
}
