//! `Pool` across real worker processes.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use multiproc_pool::{Error, Pool, TaskError};
use multiproc_process::StartMethod;
use multiproc_testkit::pid_gone_within;

const LIMIT: Duration = Duration::from_secs(20);

fn double(x: u64) -> u64 {
    2 * x
}
fn add((a, b): (u64, u64)) -> u64 {
    a + b
}
fn pid(_: ()) -> u32 {
    std::process::id()
}
fn sleep_then(ms: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(ms));
    ms
}
fn panic_on_odd(x: u64) -> u64 {
    assert!(x.is_multiple_of(2), "odd input {x}");
    x
}
fn die(_: ()) -> u32 {
    // SAFETY: getpid/kill have no memory-safety preconditions.
    unsafe { libc::kill(libc::getpid(), libc::SIGKILL) };
    unreachable!()
}

#[test]
fn map_starmap_apply_and_async_results() {
    let pool = Pool::new(2).unwrap();
    assert_eq!(
        pool.map(double, 0..100).unwrap(),
        (0..100).map(|x| 2 * x).collect::<Vec<_>>()
    );
    assert_eq!(
        pool.map(double, Vec::<u64>::new()).unwrap(),
        Vec::<u64>::new()
    );
    assert_eq!(
        pool.map_chunked(double, 0..10, 1).unwrap(),
        (0..10).map(|x| 2 * x).collect::<Vec<_>>()
    );
    assert_eq!(pool.starmap(add, [(1, 2), (3, 4)]).unwrap(), vec![3, 7]);
    assert_eq!(pool.apply(add, (20, 22)).unwrap(), 42);
    let r = pool.apply_async(sleep_then, 200).unwrap();
    assert!(!r.ready());
    assert_eq!(r.successful(), None);
    let t = Instant::now();
    assert_eq!(
        r.get_timeout(Duration::from_millis(50)),
        Err(TaskError::Timeout)
    );
    let took = t.elapsed();
    assert!(
        took >= Duration::from_millis(50) && took < Duration::from_millis(150),
        "{took:?}"
    );
    assert!(r.wait_timeout(LIMIT));
    assert!(r.ready());
    assert_eq!(r.successful(), Some(true));
    assert_eq!(r.get().unwrap(), 200);
    assert_eq!(r.get(), Err(TaskError::AlreadyTaken));
    let m = pool.map_async(double, [1, 2, 3], Some(2)).unwrap();
    m.wait();
    assert_eq!(m.get().unwrap(), vec![2, 4, 6]);
}

#[test]
fn callbacks_run_in_the_parent_as_tasks_end() {
    let pool = Pool::new(2).unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let errors = Arc::new(Mutex::new(Vec::new()));
    let me = std::process::id();
    let mut results = Vec::new();
    for ms in [150u64, 10, 80] {
        let s = seen.clone();
        let e = errors.clone();
        results.push(
            pool.apply_async_with(
                sleep_then,
                ms,
                move |v: &u64| s.lock().unwrap().push((*v, std::process::id())),
                move |err: &TaskError| e.lock().unwrap().push(err.to_string()),
            )
            .unwrap(),
        );
    }
    let e = errors.clone();
    let bad = pool
        .apply_async_with(
            panic_on_odd,
            3,
            |_: &u64| {},
            move |err: &TaskError| e.lock().unwrap().push(err.to_string()),
        )
        .unwrap();
    for r in &results {
        r.get_timeout(LIMIT).unwrap();
    }
    assert!(bad.wait_timeout(LIMIT));
    assert_eq!(bad.successful(), Some(false));
    let seen = seen.lock().unwrap().clone();
    let order: Vec<u64> = seen.iter().map(|(v, _)| *v).collect();
    assert_eq!(order.len(), 3);
    assert_eq!(order[0], 10, "callbacks come as tasks finish: {order:?}");
    assert!(
        seen.iter().all(|(_, p)| *p == me),
        "callbacks run in the parent"
    );
    let errors = errors.lock().unwrap().clone();
    assert_eq!(errors.len(), 1);
    assert!(errors[0].contains("odd input 3"), "{errors:?}");
}

#[test]
fn a_panic_fails_its_task_and_the_worker_lives_on() {
    let pool = Pool::new(1).unwrap();
    let before = pool.apply(pid, ()).unwrap();
    let r = pool.map_chunked(panic_on_odd, [2, 3, 4], 3);
    match r {
        Err(TaskError::Panicked(m)) => assert!(m.contains("odd input 3"), "{m}"),
        other => panic!("{other:?}"),
    }
    // The other items of the batch ran; the worker is the same process.
    let items: Vec<Result<u64, TaskError>> = pool.imap(panic_on_odd, [2, 3, 4], 3).collect();
    assert_eq!(items[0], Ok(2));
    assert!(matches!(items[1], Err(TaskError::Panicked(_))));
    assert_eq!(items[2], Ok(4));
    assert_eq!(pool.apply(pid, ()).unwrap(), before);
}

/// The pids of both workers: two slow tasks at once land on different workers.
fn worker_pids(pool: &Pool) -> Vec<u32> {
    let rs: Vec<_> = (0..2)
        .map(|_| pool.apply_async(slow_pid, 100).unwrap())
        .collect();
    let mut v: Vec<u32> = rs.iter().map(|r| r.get_timeout(LIMIT).unwrap()).collect();
    v.sort_unstable();
    v
}

fn slow_pid(ms: u64) -> u32 {
    std::thread::sleep(Duration::from_millis(ms));
    std::process::id()
}

#[test]
fn a_dead_worker_fails_only_its_task_and_is_replaced() {
    let pool = Pool::new(2).unwrap();
    let before = worker_pids(&pool);
    assert!(before[0] != before[1], "{before:?}");
    let slow: Vec<_> = (0..6)
        .map(|_| pool.apply_async(sleep_then, 30).unwrap())
        .collect();
    match pool.apply(die, ()) {
        Err(TaskError::WorkerDied { exitcode }) => assert_eq!(exitcode, Some(-libc::SIGKILL)),
        other => panic!("{other:?}"),
    }
    for r in slow {
        assert_eq!(
            r.get_timeout(LIMIT).unwrap(),
            30,
            "the other tasks complete"
        );
    }
    assert_eq!(pool.map(double, 0..50).unwrap().len(), 50);
    // Still two workers, one of them new.
    let after = worker_pids(&pool);
    assert!(after[0] != after[1], "{after:?}");
    assert_eq!(
        after.iter().filter(|p| before.contains(p)).count(),
        1,
        "{before:?} {after:?}"
    );
}

#[test]
fn maxtasksperchild_gives_fresh_workers() {
    let pool = Pool::builder()
        .processes(1)
        .maxtasksperchild(1)
        .build()
        .unwrap();
    let pids: Vec<u32> = (0..3).map(|_| pool.apply(pid, ()).unwrap()).collect();
    assert!(pids[0] != pids[1] && pids[1] != pids[2], "{pids:?}");
}

static SEED: AtomicU64 = AtomicU64::new(0);

fn init(seed: u64) {
    SEED.store(seed, Ordering::Relaxed);
}

fn seeded(x: u64) -> u64 {
    SEED.load(Ordering::Relaxed) + x
}

#[test]
fn initializer_gives_workers_state() {
    let pool = Pool::builder()
        .processes(2)
        .initializer(init, 1000)
        .build()
        .unwrap();
    assert_eq!(pool.map(seeded, [1, 2, 3]).unwrap(), vec![1001, 1002, 1003]);
}

#[test]
fn terminate_with_tasks_in_flight() {
    let pool = Pool::new(2).unwrap();
    let pids: Vec<u32> = (0..4).map(|_| pool.apply(pid, ()).unwrap()).collect();
    let pending: Vec<_> = (0..6)
        .map(|_| pool.apply_async(sleep_then, 10_000).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(100));
    let t = Instant::now();
    pool.terminate();
    pool.join().unwrap();
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "terminate does not wait for tasks"
    );
    for r in pending {
        assert_eq!(r.get_timeout(LIMIT), Err(TaskError::Terminated));
    }
    for p in pids {
        assert!(
            pid_gone_within(p, Duration::from_secs(5)),
            "worker {p} still alive"
        );
    }
    assert!(matches!(pool.apply_async(double, 1), Err(Error::Closed)));
}

#[test]
fn close_join_finishes_queued_work_and_drop_leaves_no_worker() {
    let pool = Pool::new(2).unwrap();
    assert!(matches!(pool.join(), Err(Error::StillRunning)));
    let rs: Vec<_> = (0..5)
        .map(|_| pool.apply_async(sleep_then, 50).unwrap())
        .collect();
    pool.close();
    assert!(matches!(pool.apply_async(double, 1), Err(Error::Closed)));
    pool.join().unwrap();
    for r in rs {
        assert!(r.ready(), "join waited for queued work");
        assert_eq!(r.get().unwrap(), 50);
    }
    let pool = Pool::new(2).unwrap();
    let pids: Vec<u32> = (0..4).map(|_| pool.apply(pid, ()).unwrap()).collect();
    drop(pool);
    for p in pids {
        assert!(
            pid_gone_within(p, Duration::from_secs(5)),
            "worker {p} outlived the pool"
        );
    }
}

#[test]
fn imap_over_an_endless_input_and_imap_unordered() {
    let pool = Pool::new(2).unwrap();
    let got: Vec<u64> = pool
        .imap(double, 0u64.., 7)
        .take(1000)
        .map(Result::unwrap)
        .collect();
    assert_eq!(got, (0..1000).map(|x| 2 * x).collect::<Vec<_>>());
    let mut un: Vec<u64> = pool
        .imap_unordered(sleep_then, [600, 10, 30], 1)
        .map(Result::unwrap)
        .collect();
    assert_ne!(
        un[0], 600,
        "unordered does not wait for the slow first input: {un:?}"
    );
    un.sort_unstable();
    assert_eq!(un, vec![10, 30, 600]);
}

#[test]
fn a_spawn_pool_works_too() {
    let pool = Pool::builder()
        .processes(2)
        .start_method(StartMethod::Spawn)
        .build()
        .unwrap();
    assert_eq!(pool.map(double, 0..20).unwrap().iter().sum::<u64>(), 380);
}

// ---------------------------------------------------------------------------------------
// Tasks that go straight to an idle worker through its lane (shared memory), and whose
// result comes straight back to the waiting thread.
// ---------------------------------------------------------------------------------------

fn echo_len(v: Vec<u8>) -> Vec<u8> {
    v
}

#[test]
fn a_worker_that_dies_on_a_lane_task_fails_only_that_task() {
    let pool = Pool::new(1).unwrap();
    // The pool is idle: the task goes through the lane, and the waiting thread sleeps there.
    let t = Instant::now();
    match pool.apply(die, ()) {
        Err(TaskError::WorkerDied { exitcode }) => assert_eq!(exitcode, Some(-libc::SIGKILL)),
        other => panic!("{other:?}"),
    }
    assert!(t.elapsed() < LIMIT);
    // A replacement runs the next one.
    assert_eq!(pool.apply(double, 21).unwrap(), 42);
    // And a waiter that came after the death is told too.
    let r = pool.apply_async(die, ()).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    assert!(matches!(
        r.get_timeout(LIMIT),
        Err(TaskError::WorkerDied { .. })
    ));
    assert_eq!(pool.apply(double, 1).unwrap(), 2);
}

#[test]
fn a_lane_result_nobody_waits_for_is_collected_by_the_pool() {
    let pool = Pool::new(2).unwrap();
    // Not waited for: the pool's thread collects it, so close + join end.
    let r = pool.apply_async(double, 5).unwrap();
    let deadline = Instant::now() + LIMIT;
    while !r.ready() {
        assert!(Instant::now() < deadline, "nobody collected the result");
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(r.get().unwrap(), 10);
    // A wait that times out leaves the result to whoever comes later.
    let r = pool.apply_async(sleep_then, 150).unwrap();
    assert_eq!(
        r.get_timeout(Duration::from_millis(20)),
        Err(TaskError::Timeout)
    );
    assert_eq!(r.get_timeout(LIMIT).unwrap(), 150);
    let unwaited = pool.apply_async(sleep_then, 50).unwrap();
    pool.close();
    pool.join().unwrap();
    assert!(unwaited.ready(), "join waited for the lane task");
    assert_eq!(unwaited.get().unwrap(), 50);
}

#[test]
fn lane_tasks_from_many_threads_and_results_larger_than_the_lane() {
    let pool = Arc::new(Pool::new(2).unwrap());
    let threads: Vec<_> = (0..4u64)
        .map(|t| {
            let pool = pool.clone();
            std::thread::spawn(move || {
                for i in 0..200 {
                    assert_eq!(
                        pool.apply(double, t * 1000 + i).unwrap(),
                        2 * (t * 1000 + i)
                    );
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    // 1 MiB there and back: larger than a lane, so it goes over the connection.
    let big: Vec<u8> = (0..1 << 20).map(|i| i as u8).collect();
    assert_eq!(pool.apply(echo_len, big.clone()).unwrap(), big);
    // A small argument with a large result: the result spills.
    fn grow(n: usize) -> Vec<u8> {
        vec![7; n]
    }
    assert_eq!(pool.apply(grow, 200_000).unwrap().len(), 200_000);
    // Several waiters on one result: all wake.
    let r = Arc::new(pool.apply_async(sleep_then, 100).unwrap());
    let waiters: Vec<_> = (0..3)
        .map(|_| {
            let r = r.clone();
            std::thread::spawn(move || r.wait_timeout(LIMIT))
        })
        .collect();
    for w in waiters {
        assert!(w.join().unwrap());
    }
    assert_eq!(r.get().unwrap(), 100);
}

#[test]
fn terminate_wakes_a_thread_waiting_in_a_lane() {
    let pool = Arc::new(Pool::new(1).unwrap());
    let r = pool.apply_async(sleep_then, 10_000).unwrap();
    let waiter = std::thread::spawn(move || r.get_timeout(LIMIT));
    std::thread::sleep(Duration::from_millis(100));
    pool.terminate();
    pool.join().unwrap();
    assert_eq!(waiter.join().unwrap(), Err(TaskError::Terminated));
}

#[test]
fn map_async_and_starmap_async_with_callbacks() {
    let pool = Pool::new(2).unwrap();
    let me = std::process::id();
    let (tx, rx) = std::sync::mpsc::channel();
    let tx2 = tx.clone();
    let r = pool
        .map_async_with(
            double,
            0..10,
            Some(3),
            move |v: &Vec<u64>| tx.send(Ok((v.clone(), std::process::id()))).unwrap(),
            move |e: &TaskError| tx2.send(Err(e.clone())).unwrap(),
        )
        .unwrap();
    let (seen, pid) = rx.recv_timeout(LIMIT).unwrap().unwrap();
    assert_eq!(seen, (0..10).map(|x| 2 * x).collect::<Vec<_>>());
    assert_eq!(pid, me, "the callback runs in the parent");
    assert_eq!(r.get_timeout(LIMIT).unwrap(), seen);
    // A failing item: the error callback, with the first failure in order, and no callback.
    let (tx, rx) = std::sync::mpsc::channel();
    let tx2 = tx.clone();
    let r = pool
        .map_async_with(
            panic_on_odd,
            [2, 4, 5, 7],
            Some(1),
            move |_: &Vec<u64>| tx.send("callback".to_string()).unwrap(),
            move |e: &TaskError| tx2.send(e.to_string()).unwrap(),
        )
        .unwrap();
    let got = rx.recv_timeout(LIMIT).unwrap();
    assert!(got.contains("odd input 5"), "{got}");
    assert!(matches!(r.get_timeout(LIMIT), Err(TaskError::Panicked(_))));
    assert!(
        rx.recv_timeout(Duration::from_millis(100)).is_err(),
        "one callback only"
    );
    // starmap_async, with and without callbacks; an empty input calls back at once.
    let r = pool.starmap_async(add, [(1, 2), (3, 4)], None).unwrap();
    assert_eq!(r.get_timeout(LIMIT).unwrap(), vec![3, 7]);
    let (tx, rx) = std::sync::mpsc::channel();
    let r = pool
        .starmap_async_with(
            add,
            Vec::<(u64, u64)>::new(),
            None,
            move |v: &Vec<u64>| tx.send(v.len()).unwrap(),
            |_: &TaskError| {},
        )
        .unwrap();
    assert_eq!(rx.recv_timeout(LIMIT).unwrap(), 0);
    assert_eq!(r.get().unwrap(), Vec::<u64>::new());
}
