//! Processes that die in the middle of a queue operation: SIGKILLed producers (in small puts
//! and in chunked ones) and a consumer killed asleep in `get`. Counts what was delivered.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use multiproc_core::SharedMapping;
use multiproc_process::Process;
use multiproc_queue::{Bytes, GetError, PutError, Queue};

const LIMIT: Duration = Duration::from_secs(20);

/// Item `i`: small most of the time, larger than a quarter of the ring (chunked) every 5th.
fn item(i: u64) -> (u64, Bytes) {
    let len = if i % 5 == 4 {
        40_000
    } else {
        50 + (i % 300) as usize
    };
    (i, Bytes(vec![(i % 251) as u8; len]))
}

/// Puts items 0, 1, 2, … for ever, recording in `progress` how many `put`s returned.
fn producer((q, progress): (Queue<(u64, Bytes)>, SharedMapping)) {
    let done = progress.atomic_u64(0);
    for i in 0.. {
        q.put(item(i)).unwrap();
        done.store(i + 1, Ordering::Release);
    }
}

fn sentinel(q: Queue<(u64, Bytes)>) {
    q.put((u64::MAX, Bytes::default())).unwrap();
}

#[test]
fn sigkilled_producers_lose_nothing_that_was_put_and_leave_nothing_torn() {
    for (round, kill_after) in [3u64, 11, 29, 47].into_iter().enumerate() {
        // A 64 KiB ring: the producer is often blocked for room or in the middle of a copy.
        let q: Queue<(u64, Bytes)> = Queue::with_capacity(0, 64 << 10).unwrap();
        let progress = SharedMapping::memfd("progress", 4096).unwrap();
        let p = Process::new(producer, (q.clone(), progress.try_clone().unwrap()));
        p.start().unwrap();
        // Consume for a while, checking every item, then kill the producer mid-stream.
        let mut next = 0u64;
        let stop = Instant::now() + Duration::from_millis(kill_after);
        while Instant::now() < stop || next < 20 {
            let (i, data) = q.get_timeout(LIMIT).unwrap();
            assert_eq!((i, data), item(next));
            next += 1;
        }
        p.kill().unwrap();
        assert!(p.join_timeout(LIMIT).unwrap());
        assert_eq!(p.exitcode(), Some(-9));
        let returned = progress.atomic_u64(0).load(Ordering::Acquire);
        // The queue still works for a new producer, which takes the lock over if it was held.
        let p2 = Process::new(sentinel, q.clone());
        p2.start().unwrap();
        loop {
            let (i, data) = q.get_timeout(LIMIT).unwrap();
            if i == u64::MAX {
                break;
            }
            assert_eq!((i, data), item(next), "delivered in order, intact, once");
            next += 1;
        }
        assert!(p2.join_timeout(LIMIT).unwrap());
        // Every put that returned was delivered; at most the one in flight besides.
        assert!(
            next == returned || next == returned + 1,
            "round {round}: {next} delivered, {returned} puts returned"
        );
        assert!(q.empty());
        eprintln!("round {round}: killed after {returned} puts returned; {next} delivered");
    }
}

fn blocked_consumer(q: Queue<u32>) {
    let _ = q.get();
    unreachable!("nothing is ever put before the kill");
}

#[test]
fn a_consumer_killed_asleep_in_get_stops_no_one() {
    let q: Queue<u32> = Queue::new().unwrap();
    let p = Process::new(blocked_consumer, q.clone());
    p.start().unwrap();
    std::thread::sleep(Duration::from_millis(100)); // asleep in get, holding the get lock
    p.kill().unwrap();
    assert!(p.join_timeout(LIMIT).unwrap());
    q.put(5).unwrap();
    let start = Instant::now();
    assert_eq!(q.get_timeout(LIMIT).unwrap(), 5);
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "{:?}",
        start.elapsed()
    );
}

/// How far past its deadline a `get_timeout` may return (the design: a small margin;
/// generous here, as the machine is shared).
const MARGIN: Duration = Duration::from_millis(500);

/// Runs `f` on a thread and returns its result; fails the test if it takes longer than
/// `bound` (the thread is left behind: the old code hung for ever there).
fn within<R: Send + 'static>(
    bound: Duration,
    what: &str,
    f: impl FnOnce() -> R + Send + 'static,
) -> R {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(bound) {
        Ok(r) => r,
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
            panic!("{what}: no return within {bound:?}")
        }
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => panic!("{what}: panicked"),
    }
}

fn endless_producer(q: Queue<Vec<u8>>) {
    loop {
        q.put(vec![7u8; 3000]).unwrap();
    }
}

fn put_all((q, items): (Queue<Vec<u8>>, Vec<Vec<u8>>)) {
    for item in items {
        q.put(item).unwrap();
    }
}

/// The reproduction of the report: items larger than a quarter of a 4 KiB ring (so chunked),
/// a producer that loops on `put` SIGKILLed after 300 ms. The consumer's `get_timeout(1 s)`
/// loop must come back (it used to wait for the rest of the dead producer's item for ever,
/// about one run in three), then the next items come. In the first round the consumer stops
/// taking items 50 ms before the kill, so that the producer surely dies in the middle of one
/// (blocked for room for its second chunk): that round hung every time.
#[test]
fn a_consumer_outlives_a_producer_killed_inside_a_chunked_put() {
    let item = vec![7u8; 3000];
    for round in 0..3 {
        let q: Queue<Vec<u8>> = Queue::with_capacity(0, 4096).unwrap();
        let p =
            Process::new(endless_producer, q.clone()).with_daemon(multiproc_process::Daemon::Yes);
        p.start().unwrap();
        let stop = Instant::now() + Duration::from_millis(300);
        let mut got = 0u64;
        while Instant::now() < stop {
            assert_eq!(q.get_timeout(LIMIT).unwrap(), item);
            got += 1;
        }
        if round == 0 {
            std::thread::sleep(Duration::from_millis(50));
        }
        p.kill().unwrap();
        assert!(p.join_timeout(LIMIT).unwrap());
        let (q2, item2) = (q.clone(), item.clone());
        let (drained, last) = within(LIMIT, "draining after the kill", move || {
            let mut n = 0u64;
            loop {
                let t = Instant::now();
                match q2.get_timeout(Duration::from_secs(1)) {
                    Ok(v) => {
                        assert_eq!(v, item2, "intact");
                        n += 1;
                    }
                    Err(GetError::Empty) => return (n, t.elapsed()),
                    Err(e) => panic!("{e}"),
                }
            }
        });
        assert!(
            last < Duration::from_secs(1) + MARGIN,
            "Empty after {last:?}"
        );
        // A 4 KiB ring holds at most one whole item beside the start of the next.
        assert!(drained <= 1, "{drained} items after the kill");
        assert_eq!(
            q.qsize(),
            0,
            "the dead producer's partial item is not counted"
        );
        assert!(q.empty(), "the dead producer's partial item was dropped");
        // The queue goes on: a new producer's items arrive whole, in order, counted.
        let next = vec![vec![1u8; 3000], vec![2u8; 5], vec![3u8; 9000]];
        let p2 = Process::new(put_all, (q.clone(), next.clone()))
            .with_daemon(multiproc_process::Daemon::Yes);
        p2.start().unwrap();
        for want in &next {
            assert_eq!(&q.get_timeout(LIMIT).unwrap(), want);
        }
        assert!(p2.join_timeout(LIMIT).unwrap());
        assert_eq!(p2.exitcode(), Some(0));
        assert_eq!(q.qsize(), 0);
        assert!(matches!(q.get_nowait(), Err(GetError::Empty)));
        eprintln!("round {round}: {got} items before the kill, {drained} after");
    }
}

/// A producer killed in the middle of a chunked item that fits in the ring: the consumer,
/// which keeps such an item's chunks in the ring while it waits for the rest, notices the death
/// (the design says within about 10 ms; 200 ms here) and drops them: `get_timeout(200 ms)`
/// returns `Empty` with the ring emptied. It used to wait for the rest for ever.
#[test]
fn a_producer_killed_inside_a_chunked_put_is_noticed_and_its_item_dropped() {
    let q: Queue<Vec<u8>> = Queue::with_capacity(0, 4096).unwrap();
    let (a, b) = (vec![1u8; 3000], vec![2u8; 3000]);
    let p = Process::new(put_all, (q.clone(), vec![a.clone(), b]))
        .with_daemon(multiproc_process::Daemon::Yes);
    p.start().unwrap();
    // A is in whole, then B's first chunk; the producer waits for room for the rest of B.
    wait_until("A put", || q.qsize() == 1);
    std::thread::sleep(Duration::from_millis(100));
    p.kill().unwrap();
    assert!(p.join_timeout(LIMIT).unwrap());
    assert_eq!(q.get_timeout(LIMIT).unwrap(), a);
    assert!(!q.empty(), "B's first chunk is in the ring");
    let q2 = q.clone();
    let (r, took) = within(
        Duration::from_millis(200) + MARGIN,
        "get after the kill",
        move || {
            let t = Instant::now();
            (q2.get_timeout(Duration::from_millis(200)), t.elapsed())
        },
    );
    assert!(matches!(r, Err(GetError::Empty)), "{r:?}");
    eprintln!("Empty after {took:?}");
    assert!(
        q.empty(),
        "the dead producer's B was not dropped within 200 ms"
    );
    assert_eq!(q.qsize(), 0);
    // The put lock was taken over from the dead producer: a put goes through at once.
    q.put_nowait(vec![3u8; 3000]).unwrap();
    assert_eq!(q.get_nowait().unwrap(), vec![3u8; 3000]);
}

/// A stopped process (SIGSTOP) that is continued when this is dropped, test failure included.
struct Stopped(libc::pid_t);

impl Stopped {
    fn new(pid: u32) -> Stopped {
        let pid = pid as libc::pid_t;
        // SAFETY: signals our own child, which is alive (it was not joined).
        assert_eq!(unsafe { libc::kill(pid, libc::SIGSTOP) }, 0);
        Stopped(pid)
    }
}

impl Drop for Stopped {
    fn drop(&mut self) {
        // SAFETY: signals our own child; harmless if it already ended.
        unsafe { libc::kill(self.0, libc::SIGCONT) };
    }
}

/// `get_timeout(500 ms)` gives `Empty` within its deadline plus [`MARGIN`].
fn expect_empty_in_time(q: &Queue<Vec<u8>>, what: &str) {
    let asked = Duration::from_millis(500);
    let q = q.clone();
    let (r, took) = within(asked + MARGIN, what, move || {
        let t = Instant::now();
        let r = q.get_timeout(asked);
        (r.map(|v| v.len()), t.elapsed())
    });
    assert!(matches!(r, Err(GetError::Empty)), "{what}: {r:?}");
    assert!(took >= asked, "{what}: Empty after {took:?}");
    eprintln!("{what}: Empty after {took:?}");
}

/// Waits until `cond()` holds (polling; a bounded wait).
fn wait_until(what: &str, cond: impl Fn() -> bool) {
    let deadline = Instant::now() + LIMIT;
    while !cond() {
        assert!(Instant::now() < deadline, "{what}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// A producer stopped (SIGSTOP) in the middle of a chunked item: a consumer's `get_timeout`
/// returns at its deadline instead of waiting for the rest (a 500 ms get used to return
/// after 8 s), and the item arrives whole once the producer is continued. Both cases: an item
/// that fits in the ring (the consumer leaves it there) and one ten times the ring (the
/// consumer had to free its front and hands it back to the producer, who sends it again).
#[test]
fn a_get_timeout_returns_in_time_while_its_producer_is_stopped_inside_a_chunked_put() {
    let q: Queue<Vec<u8>> = Queue::with_capacity(0, 4096).unwrap();
    let a = vec![1u8; 3000];
    let b = vec![2u8; 3000];
    let c: Vec<u8> = (0..40_000u32).map(|i| (i % 251) as u8).collect();
    let d = vec![4u8; 10];
    let items = vec![a.clone(), b.clone(), c.clone(), d.clone()];
    let p = Process::new(put_all, (q.clone(), items)).with_daemon(multiproc_process::Daemon::Yes);
    p.start().unwrap();
    let pid = p.pid().unwrap();

    // A is in whole, then B's first chunk; the producer waits for room for the rest of B
    // (it writes at memory speed: 100 ms is ample).
    wait_until("A put", || q.qsize() == 1);
    std::thread::sleep(Duration::from_millis(100));
    let stopped = Stopped::new(pid);
    assert_eq!(q.get_timeout(LIMIT).unwrap(), a);
    expect_empty_in_time(&q, "B begun, producer stopped");
    assert!(!q.empty(), "B's front is left in the ring");
    drop(stopped);
    assert_eq!(q.get_timeout(LIMIT).unwrap(), b, "B whole");

    // The producer goes on into C and fills the ring with its front.
    std::thread::sleep(Duration::from_millis(100));
    let stopped = Stopped::new(pid);
    expect_empty_in_time(&q, "C begun, ring full, producer stopped");
    assert!(
        q.empty(),
        "C's front was freed (to make room) and handed back"
    );
    assert_eq!(q.qsize(), 0, "C not counted before it is whole");
    drop(stopped);
    assert_eq!(q.get_timeout(LIMIT).unwrap(), c, "C whole, sent again");
    assert_eq!(q.get_timeout(LIMIT).unwrap(), d);
    assert!(p.join_timeout(LIMIT).unwrap());
    assert_eq!(p.exitcode(), Some(0));
    assert_eq!(q.qsize(), 0);
    assert!(q.empty());
}

/// Item `i` of the stop-and-go test: a small item, chunked items that fit in a 4 KiB ring, and
/// items from twice to ten times the ring.
fn mixed(i: u64) -> (u64, Bytes) {
    let len = [60, 1500, 3000, 9000, 40_000][(i % 5) as usize];
    (i, Bytes(vec![(i % 251) as u8; len]))
}

fn put_mixed((q, n): (Queue<(u64, Bytes)>, u64)) {
    for i in 0..n {
        q.put(mixed(i)).unwrap();
    }
}

/// Consumers whose gets keep running out of time in the middle of chunked items (get_nowait,
/// 1 ms and 3 ms timeouts, beside gets that wait), while the producer is stopped and continued
/// every few milliseconds: every item arrives once, in order, intact, and the counts agree.
#[test]
fn short_gets_beside_a_stop_and_go_producer_lose_and_tear_nothing() {
    let n = 200u64;
    let q: Queue<(u64, Bytes)> = Queue::with_capacity(0, 4096).unwrap();
    let p = Process::new(put_mixed, (q.clone(), n)).with_daemon(multiproc_process::Daemon::Yes);
    p.start().unwrap();
    let pid = p.pid().unwrap();
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let toggler = {
        let done = done.clone();
        std::thread::spawn(move || {
            while !done.load(Ordering::Acquire) {
                let stopped = Stopped::new(pid);
                std::thread::sleep(Duration::from_millis(2));
                drop(stopped);
                std::thread::sleep(Duration::from_millis(3));
            }
        })
    };
    let start = Instant::now();
    let (mut next, mut empties) = (0u64, 0u64);
    for k in 0u64.. {
        if next == n {
            break;
        }
        assert!(start.elapsed() < 3 * LIMIT, "{next} of {n} items arrived");
        let r = match k % 4 {
            0 => q.get_nowait(),
            1 => q.get_timeout(Duration::from_millis(1)),
            2 => q.get_timeout(Duration::from_millis(3)),
            _ => q.get_timeout(LIMIT),
        };
        match r {
            Ok(got) => {
                assert_eq!(got, mixed(next), "in order, intact, once");
                next += 1;
            }
            Err(GetError::Empty) => empties += 1,
            Err(e) => panic!("{e}"),
        }
    }
    done.store(true, Ordering::Release);
    toggler.join().unwrap();
    assert!(p.join_timeout(LIMIT).unwrap());
    assert_eq!(p.exitcode(), Some(0));
    assert_eq!(q.qsize(), 0);
    assert!(q.empty());
    assert!(matches!(q.get_nowait(), Err(GetError::Empty)));
    eprintln!(
        "{n} items in {:?}, {empties} gets ran out of time",
        start.elapsed()
    );
}

fn put_forever(q: Queue<u64>) {
    for i in 0.. {
        q.put(i).unwrap();
    }
}

/// Polls `attempt` until it gives `Some`; fails after 500 ms (the design: about a millisecond
/// after the death; generous here).
fn poll_until<R>(what: &str, mut attempt: impl FnMut() -> Option<R>) -> R {
    let start = Instant::now();
    loop {
        if let Some(r) = attempt() {
            eprintln!("{what}: after {:?}", start.elapsed());
            return r;
        }
        assert!(
            start.elapsed() < Duration::from_millis(500),
            "{what}: nothing after {:?}",
            start.elapsed()
        );
    }
}

/// `put_nowait` and `get_nowait` in a loop, on a queue whose producer (consumer) was SIGKILLed
/// holding the put (get) lock: the poll takes the lock over within milliseconds. Both used to
/// fail for ever (`Full`, `Empty`): a failed try never checked the holder's liveness.
#[test]
fn nowait_polling_takes_the_locks_over_from_killed_holders() {
    // A producer blocked for room (maxsize 4) holds the put lock.
    let q: Queue<u64> = Queue::with_capacity(4, 4096).unwrap();
    let p = Process::new(put_forever, q.clone()).with_daemon(multiproc_process::Daemon::Yes);
    p.start().unwrap();
    wait_until("4 items put", || q.qsize() == 4);
    std::thread::sleep(Duration::from_millis(50));
    p.kill().unwrap();
    assert!(p.join_timeout(LIMIT).unwrap());
    assert_eq!(q.get_nowait().unwrap(), 0);
    poll_until("put_nowait", || match q.put_nowait(99) {
        Ok(()) => Some(()),
        Err(PutError::Full(_)) => None,
        Err(e) => panic!("{e}"),
    });
    for want in [1, 2, 3, 99] {
        assert_eq!(q.get_nowait().unwrap(), want);
    }
    assert_eq!(q.qsize(), 0);

    // A consumer asleep in `get` holds the get lock.
    let q: Queue<u32> = Queue::new().unwrap();
    let c = Process::new(blocked_consumer, q.clone()).with_daemon(multiproc_process::Daemon::Yes);
    c.start().unwrap();
    std::thread::sleep(Duration::from_millis(100));
    c.kill().unwrap();
    assert!(c.join_timeout(LIMIT).unwrap());
    q.put(5).unwrap();
    let got = poll_until("get_nowait", || match q.get_nowait() {
        Ok(v) => Some(v),
        Err(GetError::Empty) => None,
        Err(e) => panic!("{e}"),
    });
    assert_eq!(got, 5);
}
