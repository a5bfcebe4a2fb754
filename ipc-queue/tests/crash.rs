//! Processes that die in the middle of a queue operation: SIGKILLed producers (in small puts
//! and in chunked ones) and a consumer killed asleep in `get`. Counts what was delivered.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use multiproc_core::SharedMapping;
use multiproc_process::Process;
use multiproc_queue::{Bytes, Queue};

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
