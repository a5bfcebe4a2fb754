//! Workloads for `multiproc-core`.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use multiproc_core::futex::{self, WaitResult};
use multiproc_core::transfer::Channel;
use multiproc_core::{Deadline, SharedMapping, codec, stream};

use crate::place::Placement;
use crate::util::{Opts, emit, fork, median, per_op, reap, watchdog};
use crate::workload::Workload;

const TIMEOUT: Duration = Duration::from_secs(60);

fn wait_for(word: &std::sync::atomic::AtomicU32, want: u32) {
    loop {
        let cur = word.load(Ordering::Acquire);
        if cur == want {
            return;
        }
        let r = futex::wait(word, cur, Deadline::after(TIMEOUT));
        assert_ne!(r, WaitResult::TimedOut, "peer never answered");
    }
}

/// This module's workloads, in the order they run.
pub const WORKLOADS: &[Workload] = &[FUTEX_PINGPONG, CHANNEL_RTT, FRAME_ROUNDTRIP];

pub const FUTEX_PINGPONG: Workload = Workload {
    id: "core.futex_pingpong",
    what: "futex wake between two processes, round trip (Python: two Events)",
    python: &["py.W5.event_pingpong"],
    limit: Some("L2_futex_pingpong"),
    placement: Placement::Apart,
    busy: true,
    run: futex_pingpong,
    ..Workload::ROW
};

/// `core.futex_pingpong`: the `L2_futex_pingpong` hand-over written with `multiproc_core::futex` on a
/// `SharedMapping` word (µs per round trip). Python's nearest: two `Event`s (W5.event_pingpong).
pub fn futex_pingpong(opts: &Opts) {
    let n = opts.n(100_000);
    let warm = 2_000;
    let map = SharedMapping::anonymous(4096).expect("mapping");
    let word = map.atomic_u32(0);
    let v = median(opts.reps(), || {
        watchdog(120);
        word.store(0, Ordering::SeqCst);
        let pid = fork(|| {
            for _ in 0..warm + n {
                wait_for(word, 1);
                word.store(0, Ordering::Release);
                futex::wake(word, 1);
            }
        });
        let round = || {
            word.store(1, Ordering::Release);
            futex::wake(word, 1);
            wait_for(word, 0);
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
    emit("core.futex_pingpong", v, "us");
}

pub const CHANNEL_RTT: Workload = Workload {
    id: "core.channel_rtt",
    what: "an integer there and back over a Channel (Python: Pipe send/recv)",
    python: &["py.W1.pipe_rtt_int"],
    limit: Some("L1_unix_stream_pingpong"),
    placement: Placement::Apart,
    run: channel_rtt,
    ..Workload::ROW
};

/// `core.channel_rtt`: a `u64` there and back over a `Channel` (framed, serde, `sendmsg`),
/// µs per round trip. Python's: `Pipe()` `send(1)`/`recv()` (W1.pipe_rtt_int).
pub fn channel_rtt(opts: &Opts) {
    let n = opts.n(20_000);
    let warm = 200;
    let v = median(opts.reps(), || {
        watchdog(120);
        let (mut a, mut b) = Channel::pair().expect("pair");
        let pid = fork(|| {
            for _ in 0..warm + n {
                let x: u64 = b.recv().expect("child recv");
                b.send(&x).expect("child send");
            }
        });
        drop(b);
        for i in 0..warm {
            a.send(&(i as u64)).expect("send");
            let _: u64 = a.recv_timeout(TIMEOUT).expect("recv");
        }
        let t = Instant::now();
        for i in 0..n {
            a.send(&(i as u64)).expect("send");
            let back: u64 = a.recv_timeout(TIMEOUT).expect("recv");
            assert_eq!(back, i as u64);
        }
        let d = t.elapsed();
        reap(pid);
        watchdog(0);
        per_op(d, n, "us")
    });
    emit("core.channel_rtt", v, "us");
}

pub const FRAME_ROUNDTRIP: Workload = Workload {
    id: "core.frame_roundtrip",
    what: "frame encode + decode of (42, None, \"hello\") (Python: pickle + header)",
    python: &["py.frame_roundtrip"],
    run: frame_roundtrip,
    ..Workload::ROW
};

/// `core.frame_roundtrip`: encode `(42, None, "hello")` with its message header and decode it
/// again, ns per round trip. Python's: `pickle.loads(pickle.dumps([42, None, "hello"]))` plus
/// the 4-byte header `Connection` adds.
pub fn frame_roundtrip(opts: &Opts) {
    let n = opts.n(2_000_000);
    let mut buf = Vec::with_capacity(64);
    let v = median(opts.reps(), || {
        let t = Instant::now();
        for _ in 0..n {
            buf.clear();
            let value = std::hint::black_box((42u32, None::<u32>, "hello"));
            codec::encode(&value, &mut buf).expect("encode");
            let head = stream::header(buf.len(), 0).expect("header");
            let head = stream::Framing::Native
                .parse_header(std::hint::black_box(&head), stream::DEFAULT_MAX_MESSAGE)
                .expect("header");
            let back: (u32, Option<u32>, String) =
                codec::decode(std::hint::black_box(&buf[..head.payload_len])).expect("decode");
            std::hint::black_box(back);
        }
        per_op(t.elapsed(), n, "ns")
    });
    emit("core.frame_roundtrip", v, "ns");
}
