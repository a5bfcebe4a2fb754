//! Workloads for `multiproc-queue` (W3, W3b of BENCH-WORKLOADS.md, and a round trip through two
//! queues). Children are forked (this binary is single-threaded); queue handles are inherited.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use multiproc_core::SharedMapping;
use multiproc_queue::{Bytes, JoinableQueue, Queue};

use crate::place::Placement;
use crate::util::{Opts, emit, fork, measured_in_child, median, per_op, reap, runtime, watchdog};
use crate::workload::Workload;

const TIMEOUT: Duration = Duration::from_secs(60);

/// This module's workloads, in the order they run.
pub const WORKLOADS: &[Workload] = &[
    RTT_TWO_QUEUES,
    RTT_TWO_QUEUES_ASYNC,
    INT_1P1C,
    BYTES_1P1C,
    INT_2P2C,
    JOINABLE_1P1C,
];

pub const INT_1P1C: Workload = Workload {
    id: "queue.int_1p1c",
    what: "Queue, 1 producer -> 1 consumer, small ints (target >= 5M items/s, 30x Python)",
    python: &["py.W3.queue_int_1p1c"],
    run: int_1p1c,
    ..Workload::ROW
};

/// `queue.int_1p1c`: a forked producer puts 0..n (u64); the parent gets n; items/s from the
/// first put to the last get. Python's: W3.queue_int_1p1c.
pub fn int_1p1c(opts: &Opts) {
    let n = opts.n(2_000_000) as u64;
    let v = median(opts.reps(), || {
        watchdog(120);
        let q: Queue<u64> = Queue::new().expect("queue");
        let t = Instant::now();
        let pid = fork(|| {
            for i in 0..n {
                q.put(i).expect("put");
            }
        });
        for i in 0..n {
            assert_eq!(q.get_timeout(TIMEOUT).expect("get"), i);
        }
        let secs = t.elapsed().as_secs_f64();
        reap(pid);
        n as f64 / secs
    });
    emit("queue.int_1p1c", v, "items/s");
}

pub const BYTES_1P1C: Workload = Workload {
    id: "queue.bytes64KiB_1p1c",
    what: "Queue, 1 -> 1, 64 KiB Bytes items, MB/s (target >= 5 GB/s)",
    python: &["py.W3.queue_bytes64KiB_1p1c"],
    run: bytes_1p1c,
    ..Workload::ROW
};

/// `queue.bytes64KiB_1p1c`: the same with 64 KiB `Bytes` items (one block each); MB/s.
/// Python's: W3.queue_bytes64KiB_1p1c.
pub fn bytes_1p1c(opts: &Opts) {
    let n = opts.n(8192);
    let v = median(opts.reps(), || {
        watchdog(120);
        let q: Queue<Bytes> = Queue::new().expect("queue");
        let t = Instant::now();
        let pid = fork(|| {
            let block = Bytes(vec![7u8; 64 << 10]);
            for _ in 0..n {
                q.put_ref(&block).expect("put");
            }
        });
        for _ in 0..n {
            let b = q.get_timeout(TIMEOUT).expect("get");
            assert_eq!(b.len(), 64 << 10);
        }
        let secs = t.elapsed().as_secs_f64();
        reap(pid);
        (n * (64 << 10)) as f64 / secs / 1e6
    });
    emit("queue.bytes64KiB_1p1c", v, "MB/s");
}

pub const INT_2P2C: Workload = Workload {
    id: "queue.int_2p2c",
    what: "Queue, 2 producers -> 2 consumers, small ints",
    python: &["py.W3.queue_int_2p2c"],
    run: int_2p2c,
    ..Workload::ROW
};

/// `queue.int_2p2c`: two forked producers put n ints each then `None`; two forked consumers
/// get until they saw one `None`; the counts are checked; items/s.
/// Python's: W3.queue_int_2p2c.
pub fn int_2p2c(opts: &Opts) {
    let n = opts.n(1_000_000) as u64;
    let map = SharedMapping::anonymous(4096).expect("mapping");
    let counts = (map.atomic_u64(0), map.atomic_u64(8));
    let v = median(opts.reps(), || {
        watchdog(120);
        counts.0.store(0, Ordering::SeqCst);
        counts.1.store(0, Ordering::SeqCst);
        let q: Queue<Option<u64>> = Queue::new().expect("queue");
        let t = Instant::now();
        let mut pids = Vec::new();
        for _ in 0..2 {
            pids.push(fork(|| {
                for i in 0..n {
                    q.put(Some(i)).expect("put");
                }
                q.put(None).expect("put");
            }));
        }
        for c in [counts.0, counts.1] {
            pids.push(fork(|| {
                let mut k = 0;
                while q.get_timeout(TIMEOUT).expect("get").is_some() {
                    k += 1;
                }
                c.store(k, Ordering::Release);
            }));
        }
        for pid in pids {
            reap(pid);
        }
        let secs = t.elapsed().as_secs_f64();
        assert_eq!(
            counts.0.load(Ordering::Acquire) + counts.1.load(Ordering::Acquire),
            2 * n
        );
        (2 * n) as f64 / secs
    });
    emit("queue.int_2p2c", v, "items/s");
}

pub const JOINABLE_1P1C: Workload = Workload {
    id: "queue.joinable_int_1p1c",
    what: "JoinableQueue, get + task_done per item, producer joins",
    python: &["py.W3b.joinablequeue_int_1p1c"],
    run: joinable_1p1c,
    ..Workload::ROW
};

/// `queue.joinable_int_1p1c`: a forked producer puts n ints into a `JoinableQueue` then
/// `join`s; a forked consumer does `get` + `task_done` n times; items/s until the producer's
/// join returned. Python's: W3b.joinablequeue_int_1p1c.
pub fn joinable_1p1c(opts: &Opts) {
    let n = opts.n(2_000_000) as u64;
    let v = median(opts.reps(), || {
        watchdog(120);
        let q: JoinableQueue<u64> = JoinableQueue::new().expect("queue");
        let t = Instant::now();
        let consumer = fork(|| {
            for _ in 0..n {
                q.get_timeout(TIMEOUT).expect("get");
                q.task_done().expect("task_done");
            }
        });
        let producer = fork(|| {
            for i in 0..n {
                q.put(i).expect("put");
            }
            assert!(q.join_timeout(TIMEOUT));
        });
        reap(producer);
        let secs = t.elapsed().as_secs_f64();
        reap(consumer);
        n as f64 / secs
    });
    emit("queue.joinable_int_1p1c", v, "items/s");
}

pub const RTT_TWO_QUEUES: Workload = Workload {
    id: "queue.rtt_two_queues",
    what: "an int there and back through two Queues (target < 2 us)",
    python: &["py.queue_rtt_two_queues"],
    limit: Some("L2_futex_pingpong"),
    placement: Placement::Apart,
    same_core: true,
    busy: true,
    run: rtt_two_queues,
    ..Workload::ROW
};

/// `queue.rtt_two_queues`: the parent puts an int on one queue, a forked child gets it and
/// puts it on another, the parent gets it: µs per round trip.
pub fn rtt_two_queues(opts: &Opts) {
    let n = opts.n(200_000);
    let v = median(opts.reps(), || {
        watchdog(120);
        let there: Queue<u64> = Queue::new().expect("queue");
        let back: Queue<u64> = Queue::new().expect("queue");
        let pid = fork(|| {
            for _ in 0..n + 100 {
                let x = there.get_timeout(TIMEOUT).expect("get");
                back.put(x).expect("put");
            }
        });
        for i in 0..100 {
            there.put(i).expect("put");
            back.get_timeout(TIMEOUT).expect("get");
        }
        let t = Instant::now();
        for i in 0..n as u64 {
            there.put(i).expect("put");
            assert_eq!(back.get_timeout(TIMEOUT).expect("get"), i);
        }
        let d = t.elapsed();
        reap(pid);
        per_op(d, n, "us")
    });
    emit("queue.rtt_two_queues", v, "us");
}

pub const RTT_TWO_QUEUES_ASYNC: Workload = Workload {
    id: "queue.rtt_two_queues_async",
    what: "queue.rtt_two_queues with put_async/get_async on both sides (tokio, current-thread runtime each process; target: within 1.5x of queue.rtt_two_queues)",
    python: &["py.queue_rtt_two_queues"],
    limit: Some("L2_futex_pingpong"),
    placement: Placement::Apart,
    run: rtt_two_queues_async,
    ..Workload::ROW
};

/// `queue.rtt_two_queues_async`: `queue.rtt_two_queues` with both sides async
/// (`put_async`/`get_async` in a current-thread tokio runtime in each process); µs per round
/// trip.
pub fn rtt_two_queues_async(opts: &Opts) {
    let n = opts.n(100_000);
    let warm = 100;
    let v = median(opts.reps(), || {
        watchdog(120);
        let there: Queue<u64> = Queue::new().expect("queue");
        let back: Queue<u64> = Queue::new().expect("queue");
        let pid = fork(|| {
            runtime().block_on(async {
                for _ in 0..n + warm {
                    let x = there.get_async().await.expect("get");
                    back.put_async(x).await.expect("put");
                }
            })
        });
        // Measured in a child: the futures start a helper thread in the process they run in.
        let d = measured_in_child(|| {
            runtime().block_on(async {
                for i in 0..warm as u64 {
                    there.put_async(i).await.expect("put");
                    back.get_async().await.expect("get");
                }
                let t = Instant::now();
                for i in 0..n as u64 {
                    there.put_async(i).await.expect("put");
                    assert_eq!(back.get_async().await.expect("get"), i);
                }
                t.elapsed()
            })
        });
        reap(pid);
        watchdog(0);
        per_op(d, n, "us")
    });
    emit("queue.rtt_two_queues_async", v, "us");
}
