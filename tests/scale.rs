//! Thousands of locks and values without a descriptor each, under a low open-files limit, as
//! Python's shared heap allows: created, used from a spawned child, and dropped, with the
//! process's descriptors and mappings counted before and after.

use std::time::Duration;

use multiproc::{Lock, Queue, StartMethod, Value, get_context};
use multiproc_testkit::{child_command, role, wait_timeout};

const LOCKS: usize = 10_000;
const VALUES: usize = 10_000;
const QUEUES: usize = 100;
const NOFILE: u64 = 256;

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

fn mappings() -> usize {
    std::fs::read_to_string("/proc/self/maps")
        .unwrap()
        .lines()
        .count()
}

type Objects = (Vec<Lock>, Vec<Value<f64>>, Vec<Queue<u32>>);

/// In the spawned child: take every lock, set every value to its index, put its index on every
/// queue; returns how many objects it used and the child's own descriptor count.
fn use_them((locks, values, queues): Objects) -> (usize, usize) {
    for l in &locks {
        drop(l.lock().expect("lock"));
    }
    for (i, v) in values.iter().enumerate() {
        v.set(i as f64);
    }
    for (i, q) in queues.iter().enumerate() {
        q.put(i as u32).expect("put");
    }
    (locks.len() + values.len() + queues.len(), open_fds())
}

fn limit_open_files(n: u64) {
    let lim = libc::rlimit {
        rlim_cur: n,
        rlim_max: n,
    };
    // SAFETY: a valid resource and a pointer to a live rlimit.
    let r = unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) };
    assert_eq!(r, 0, "setrlimit: {}", std::io::Error::last_os_error());
}

#[test]
fn ten_thousand_locks_and_values_under_ulimit_256() {
    if role().as_deref() != Some("scale") {
        // The limit is set in a process of the test's own, not in the test runner.
        let mut child = child_command("ten_thousand_locks_and_values_under_ulimit_256", "scale")
            .spawn()
            .unwrap();
        let status = wait_timeout(&mut child, Duration::from_secs(240));
        assert!(status.success(), "{status}");
        return;
    }
    limit_open_files(NOFILE);
    let (fds0, maps0) = (open_fds(), mappings());

    let locks: Vec<Lock> = (0..LOCKS).map(|_| Lock::new().unwrap()).collect();
    let values: Vec<Value<f64>> = (0..VALUES).map(|_| Value::new(-1.0).unwrap()).collect();
    let queues: Vec<Queue<u32>> = (0..QUEUES)
        .map(|_| Queue::with_capacity(0, 4096).unwrap())
        .collect();
    let (fds1, maps1) = (open_fds(), mappings());
    // At most one descriptor and one mapping per 1,000 small objects, one per queue ring, and
    // a small constant (a value is two objects: its memory and its lock).
    let small = LOCKS + 2 * VALUES;
    let allowed = small / 1000 + QUEUES + 8;
    assert!(
        fds1 - fds0 <= allowed,
        "{} descriptors for {small} small objects and {QUEUES} queues",
        fds1 - fds0
    );
    assert!(
        maps1 - maps0 <= allowed,
        "{} mappings for {small} small objects and {QUEUES} queues",
        maps1 - maps0
    );

    // All of them to a spawned child in one message (a fresh program: no fork inheritance).
    let h = get_context(StartMethod::Spawn)
        .spawn(use_them, (locks.clone(), values.clone(), queues.clone()))
        .unwrap();
    let (used, child_fds) = h.join().unwrap();
    assert_eq!(used, LOCKS + VALUES + QUEUES);
    assert!(
        child_fds < NOFILE as usize,
        "the child held {child_fds} descriptors"
    );
    for (i, v) in values.iter().enumerate() {
        assert_eq!(v.get(), i as f64, "value {i}");
    }
    for (i, q) in queues.iter().enumerate() {
        assert_eq!(q.get_timeout(Duration::from_secs(5)).unwrap(), i as u32);
    }
    for l in &locks {
        assert!(l.try_lock().is_ok(), "the child released every lock");
    }

    drop((locks, values, queues));
    let (fds2, maps2) = (open_fds(), mappings());
    // Back to the start, but for the heap's current arena (kept for the next object) and the
    // process machinery the spawn started (its fork server, if any).
    assert!(fds2 <= fds0 + 3, "{fds0} descriptors before, {fds2} after");
    assert!(maps2 <= maps0 + 3, "{maps0} mappings before, {maps2} after");
}
