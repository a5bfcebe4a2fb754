//! Workloads for `multiproc-pipe` (W1, W2 in BENCH-WORKLOADS.md).

use std::time::{Duration, Instant};

use multiproc_pipe::{Connection, pipe, pipe_one_way};

use crate::place::Placement;
use crate::util::{Opts, emit, fork, median, per_op, reap, runtime, watchdog};
use crate::workload::Workload;

const TIMEOUT: Duration = Duration::from_secs(60);

/// How each side receives in a round trip.
#[derive(Clone, Copy, PartialEq)]
enum Receive {
    /// `recv_bytes_into` of 8 bytes.
    Bytes,
    /// `recv()` of an integer, waiting as long as it takes.
    Value,
    /// `recv_timeout()` of an integer.
    ValueTimeout,
}

/// Round trips: the parent sends, the child echoes, `n` times after 200 warm-up rounds.
fn rtt(id: &str, opts: &Opts, duplex: bool, how: Receive) {
    let bytes = how == Receive::Bytes;
    let n = opts.n(20_000);
    let warm = 200;
    let v = median(opts.reps(), || {
        watchdog(120);
        // Parent → child on `a`, child → parent on `b` (the same socket pair when duplex).
        let (mut p_send, mut c_recv, mut c_send, mut p_recv): (
            Connection,
            Connection,
            Option<Connection>,
            Option<Connection>,
        ) = if duplex {
            let (a, b) = pipe().expect("pipe");
            (a, b, None, None)
        } else {
            let (r1, w1) = pipe_one_way().expect("pipe");
            let (r2, w2) = pipe_one_way().expect("pipe");
            (w1, r1, Some(w2), Some(r2))
        };
        let pid = fork(|| {
            let buf = [1u8; 8];
            for _ in 0..warm + n {
                let out = c_send.as_mut();
                if bytes {
                    let mut b = [0u8; 8];
                    c_recv.recv_bytes_into(&mut b, 0).expect("child recv");
                    match out {
                        Some(o) => o.send_bytes(&buf),
                        None => c_recv.send_bytes(&buf),
                    }
                    .expect("child send");
                } else {
                    let x: u64 = match how {
                        Receive::ValueTimeout => c_recv.recv_timeout(TIMEOUT),
                        _ => c_recv.recv(),
                    }
                    .expect("child recv");
                    match out {
                        Some(o) => o.send(&x),
                        None => c_recv.send(&x),
                    }
                    .expect("child send");
                }
            }
        });
        let mut round = |i: u64| {
            if bytes {
                p_send.send_bytes(&[1u8; 8]).expect("send");
            } else {
                p_send.send(&i).expect("send");
            }
            let back = match p_recv.as_mut() {
                Some(r) => r,
                None => &mut p_send,
            };
            if bytes {
                let mut b = [0u8; 8];
                back.recv_bytes_into(&mut b, 0).expect("recv");
            } else {
                let x: u64 = match how {
                    Receive::ValueTimeout => back.recv_timeout(TIMEOUT),
                    _ => back.recv(),
                }
                .expect("recv");
                assert_eq!(x, i);
            }
        };
        for i in 0..warm {
            round(i as u64);
        }
        let t = Instant::now();
        for i in 0..n {
            round(i as u64);
        }
        let d = t.elapsed();
        reap(pid);
        watchdog(0);
        per_op(d, n, "us")
    });
    emit(id, v, "us");
}

/// This module's workloads, in the order they run.
pub const WORKLOADS: &[Workload] = &[
    RTT_INT,
    RTT_INT_TIMEOUT,
    RTT_INT_ASYNC,
    RTT_BYTES8,
    RTT_ONEWAY_BYTES8,
    RTT_ONEWAY_INT,
    RTT_ONEWAY_INT_TIMEOUT,
    TPUT_64B,
    TPUT_64KIB,
    TPUT_64KIB_DUPLEX,
];

pub const RTT_INT: Workload = Workload {
    id: "pipe.rtt_int",
    what: "duplex Connection, an integer there and back (W1)",
    python: &["py.W1.pipe_rtt_int"],
    limit: Some("L1_unix_stream_pingpong"),
    placement: Placement::Apart,
    same_core: true,
    run: rtt_int,
    ..Workload::ROW
};

/// `pipe.rtt_int`: W1.pipe_rtt_int — a duplex `Connection`, `send(i)` / `recv()` there and
/// back; µs per round trip.
pub fn rtt_int(opts: &Opts) {
    rtt("pipe.rtt_int", opts, true, Receive::Value);
}

pub const RTT_INT_TIMEOUT: Workload = Workload {
    id: "pipe.rtt_int_timeout",
    what: "duplex Connection, an integer there and back through recv_timeout (reads first, polls only when the read would block)",
    python: &["py.W1.pipe_rtt_int"],
    limit: Some("L1_unix_stream_pingpong"),
    placement: Placement::Apart,
    run: rtt_int_timeout,
    ..Workload::ROW
};

/// `pipe.rtt_int_timeout`: the same with `recv_timeout` on both sides (a receive that reads
/// first and waits in `poll` only when the read would block).
pub fn rtt_int_timeout(opts: &Opts) {
    rtt("pipe.rtt_int_timeout", opts, true, Receive::ValueTimeout);
}

pub const RTT_ONEWAY_INT: Workload = Workload {
    id: "pipe.rtt_oneway_int",
    what: "two one-way Connections, an integer there and back through recv",
    limit: Some("L1_pipe_pingpong"),
    placement: Placement::Apart,
    run: rtt_oneway_int,
    ..Workload::ROW
};

/// `pipe.rtt_oneway_int`: an integer there and back over two one-way pipes through `recv`,
/// against the bare pipe ping-pong.
pub fn rtt_oneway_int(opts: &Opts) {
    rtt("pipe.rtt_oneway_int", opts, false, Receive::Value);
}

pub const RTT_ONEWAY_INT_TIMEOUT: Workload = Workload {
    id: "pipe.rtt_oneway_int_timeout",
    what: "two one-way Connections, an integer there and back through recv_timeout",
    limit: Some("L1_pipe_pingpong"),
    placement: Placement::Apart,
    run: rtt_oneway_int_timeout,
    ..Workload::ROW
};

/// `pipe.rtt_oneway_int_timeout`: the same through `recv_timeout`.
pub fn rtt_oneway_int_timeout(opts: &Opts) {
    rtt(
        "pipe.rtt_oneway_int_timeout",
        opts,
        false,
        Receive::ValueTimeout,
    );
}

pub const RTT_INT_ASYNC: Workload = Workload {
    id: "pipe.rtt_int_async",
    what: "duplex AsyncConnection (tokio, current-thread runtime each side), an integer there and back (target: within 1.5x of pipe.rtt_int)",
    python: &["py.W1.pipe_rtt_int"],
    limit: Some("L1_unix_stream_pingpong"),
    placement: Placement::Apart,
    run: rtt_int_async,
    ..Workload::ROW
};

/// `pipe.rtt_int_async`: `pipe.rtt_int` with both sides async (`AsyncConnection`, a
/// current-thread tokio runtime in each process); µs per round trip.
pub fn rtt_int_async(opts: &Opts) {
    let n = opts.n(20_000);
    let warm = 200;
    let v = median(opts.reps(), || {
        watchdog(120);
        let (a, b) = pipe().expect("pipe");
        let pid = fork(|| {
            runtime().block_on(async {
                let mut b = b.into_async().expect("async");
                for _ in 0..warm + n {
                    let x: u64 = b.recv().await.expect("child recv");
                    b.send(&x).await.expect("child send");
                }
            })
        });
        let d = runtime().block_on(async {
            let mut a = a.into_async().expect("async");
            for i in 0..warm as u64 {
                a.send(&i).await.expect("send");
                let _: u64 = a.recv().await.expect("recv");
            }
            let t = Instant::now();
            for i in 0..n as u64 {
                a.send(&i).await.expect("send");
                let x: u64 = a.recv().await.expect("recv");
                assert_eq!(x, i);
            }
            t.elapsed()
        });
        reap(pid);
        watchdog(0);
        per_op(d, n, "us")
    });
    emit("pipe.rtt_int_async", v, "us");
}

pub const RTT_BYTES8: Workload = Workload {
    id: "pipe.rtt_bytes8",
    what: "duplex Connection, send_bytes of 8 B there and back (W1)",
    python: &["py.W1.pipe_rtt_bytes8"],
    limit: Some("L1_unix_stream_pingpong"),
    placement: Placement::Apart,
    run: rtt_bytes8,
    ..Workload::ROW
};

/// `pipe.rtt_bytes8`: W1.pipe_rtt_bytes8 — 8 bytes with `send_bytes` / `recv_bytes_into` on a
/// duplex connection.
pub fn rtt_bytes8(opts: &Opts) {
    rtt("pipe.rtt_bytes8", opts, true, Receive::Bytes);
}

pub const RTT_ONEWAY_BYTES8: Workload = Workload {
    id: "pipe.rtt_oneway_bytes8",
    what: "two one-way Connections, 8 B there and back (target: within 1.1x of the bare pipe ping-pong)",
    limit: Some("L1_pipe_pingpong"),
    placement: Placement::Apart,
    same_core: true,
    run: rtt_oneway_bytes8,
    ..Workload::ROW
};

/// `pipe.rtt_oneway_bytes8`: the same over two one-way pipes, against the bare pipe ping-pong.
pub fn rtt_oneway_bytes8(opts: &Opts) {
    rtt("pipe.rtt_oneway_bytes8", opts, false, Receive::Bytes);
}

/// One-way throughput: a child `send_bytes` `count` messages of `size` bytes back to back; the
/// parent receives each. Time from start to the last message.
fn tput(id: &str, opts: &Opts, duplex: bool, size: usize, count: usize) -> f64 {
    let v = median(opts.reps(), || {
        watchdog(120);
        let (mut r, mut w) = if duplex {
            pipe().expect("pipe")
        } else {
            pipe_one_way().expect("pipe")
        };
        let go = pipe_one_way().expect("pipe");
        let (mut go_r, mut go_w) = go;
        let pid = fork(|| {
            let msg = vec![0x5au8; size];
            let _: u8 = go_r.recv().expect("go");
            for _ in 0..count {
                w.send_bytes(&msg).expect("send");
            }
        });
        let mut buf = vec![0u8; size];
        go_w.send(&1u8).expect("go");
        let t = Instant::now();
        for _ in 0..count {
            let n = r.recv_bytes_into(&mut buf, 0).expect("recv");
            assert_eq!(n, size);
        }
        let d = t.elapsed();
        reap(pid);
        watchdog(0);
        d.as_secs_f64()
    });
    let _ = id;
    v
}

pub const TPUT_64B: Workload = Workload {
    id: "pipe.tput_64B",
    what: "one-way Connection, 200k messages of 64 B (target: >= 2M msgs/s)",
    python: &["py.W2.pipe_tput_64B"],
    limit: Some("L4_pipe_64B_writes"),
    run: tput_64b,
    ..Workload::ROW
};

/// `pipe.tput_64B`: W2.pipe_tput_64B — 200,000 messages of 64 B over a one-way pipe; msgs/s.
pub fn tput_64b(opts: &Opts) {
    let count = opts.n(200_000);
    let secs = tput("pipe.tput_64B", opts, false, 64, count);
    emit("pipe.tput_64B", count as f64 / secs, "msgs/s");
}

pub const TPUT_64KIB: Workload = Workload {
    id: "pipe.tput_64KiB",
    what: "one-way Connection, 4096 messages of 64 KiB",
    python: &["py.W2.pipe_tput_64KiB"],
    limit: Some("L4_pipe_bw"),
    run: tput_64kib,
    ..Workload::ROW
};

/// `pipe.tput_64KiB`: W2.pipe_tput_64KiB — 4,096 messages of 64 KiB over a one-way pipe; GB/s.
pub fn tput_64kib(opts: &Opts) {
    let count = opts.n(4_096).max(1_024);
    let secs = tput("pipe.tput_64KiB", opts, false, 64 * 1024, count);
    emit(
        "pipe.tput_64KiB",
        (count * 64 * 1024) as f64 / secs / 1e9,
        "GB/s",
    );
}

pub const TPUT_64KIB_DUPLEX: Workload = Workload {
    id: "pipe.tput_64KiB_duplex",
    what: "duplex Connection, 64 KiB messages (target: within 1.2x of a bare socket pair)",
    limit: Some("L4_unix_stream_bw"),
    run: tput_64kib_duplex,
    ..Workload::ROW
};

/// `pipe.tput_64KiB_duplex`: the same over a duplex connection (a socket pair).
pub fn tput_64kib_duplex(opts: &Opts) {
    let count = opts.n(4_096).max(1_024);
    let secs = tput("pipe.tput_64KiB_duplex", opts, true, 64 * 1024, count);
    emit(
        "pipe.tput_64KiB_duplex",
        (count * 64 * 1024) as f64 / secs / 1e9,
        "GB/s",
    );
}
