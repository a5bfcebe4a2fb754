//! Workloads for `multiproc-pipe`'s `Listener` and `Client`: connect + authenticate + one round
//! trip + close, and the round trip of a small value on an established connection, over a Unix
//! socket and over TCP loopback. The server is a forked child; Python's twins use
//! `multiprocessing.connection.Listener` / `Client` the same way.
//!
//! One connect + authenticate + round trip + close is about nine one-way hops (connect, three
//! handshake messages each way, the message and its echo): the target is within 1.5x of four
//! and a half round trips of the limit it is held against (L1 for Unix, L10 for TCP).

use std::time::Instant;

use multiproc_pipe::{Address, Client, Framing, Listener};

use crate::place::Placement;
use crate::util::{Opts, emit, fork, median, per_op, watchdog};
use crate::workload::Workload;

const KEY: &[u8] = b"bench key, 32 bytes long........";

/// Binds a listener and forks the server: it accepts, echoes every message of each connection
/// until the client closes, and goes on until it is killed.
fn start_server(address: Address) -> (Address, libc::pid_t) {
    let mut l = Listener::bind(address, Framing::Python, Some(KEY)).expect("bind");
    let at = l.address().clone();
    let pid = fork(move || {
        watchdog(600);
        loop {
            let Ok(mut c) = l.accept() else { continue };
            while let Ok(m) = c.recv_bytes() {
                if c.send_bytes(&m).is_err() {
                    break;
                }
            }
        }
    });
    (at, pid)
}

fn stop(pid: libc::pid_t) {
    // SAFETY: kill(2) and waitpid(2) on our own child.
    unsafe {
        libc::kill(pid, libc::SIGKILL);
        libc::waitpid(pid, std::ptr::null_mut(), 0);
    }
}

fn address(tcp: bool) -> Address {
    if tcp {
        "127.0.0.1:0".parse().expect("address")
    } else {
        Address::Abstract(format!("multiproc-bench-{}", std::process::id()).into_bytes())
    }
}

fn connect_cycle(id: &str, opts: &Opts, tcp: bool) {
    let n = opts.n(2_000);
    let v = median(opts.reps(), || {
        watchdog(120);
        let (at, pid) = start_server(address(tcp));
        let cycle = || {
            let mut c = Client::connect(&at, Framing::Python, Some(KEY)).expect("connect");
            c.send_bytes(&[1u8; 8]).expect("send");
            assert_eq!(c.recv_bytes().expect("recv").len(), 8);
        };
        for _ in 0..20 {
            cycle();
        }
        let t = Instant::now();
        for _ in 0..n {
            cycle();
        }
        let d = t.elapsed();
        stop(pid);
        watchdog(0);
        per_op(d, n, "us")
    });
    emit(id, v, "us");
}

/// This module's workloads, in the order they run.
pub const WORKLOADS: &[Workload] = &[
    CONNECT_AUTH_RTT_UNIX,
    RTT_UNIX,
    CONNECT_AUTH_RTT_TCP,
    RTT_TCP,
];

pub const CONNECT_AUTH_RTT_UNIX: Workload = Workload {
    id: "listener.connect_auth_rtt_unix",
    what: "Client connect + authkey handshake + 8 B round trip + close, Unix socket (target: within 1.5x of 4.5x the limit)",
    python: &["py.listener_connect_auth_rtt_unix"],
    limit: Some("L1_unix_stream_pingpong"),
    placement: Placement::Apart,
    run: connect_auth_rtt_unix,
    ..Workload::ROW
};

/// `listener.connect_auth_rtt_unix`: `Client::connect` with an authkey to a `Listener` on a
/// Unix socket (abstract name), 8 bytes there and back, close; µs per cycle.
pub fn connect_auth_rtt_unix(opts: &Opts) {
    connect_cycle("listener.connect_auth_rtt_unix", opts, false);
}

pub const CONNECT_AUTH_RTT_TCP: Workload = Workload {
    id: "listener.connect_auth_rtt_tcp",
    what: "the same over TCP loopback (Python leaves Nagle on: ~44 ms) (target: within 1.5x of 4.5x the limit)",
    python: &["py.listener_connect_auth_rtt_tcp"],
    limit: Some("L10_tcp_loopback_pingpong"),
    placement: Placement::Apart,
    run: connect_auth_rtt_tcp,
    ..Workload::ROW
};

/// `listener.connect_auth_rtt_tcp`: the same over TCP loopback.
pub fn connect_auth_rtt_tcp(opts: &Opts) {
    connect_cycle("listener.connect_auth_rtt_tcp", opts, true);
}

fn rtt(id: &str, opts: &Opts, tcp: bool) {
    let n = opts.n(20_000);
    let v = median(opts.reps(), || {
        watchdog(120);
        let mut l = Listener::bind(address(tcp), Framing::Python, Some(KEY)).expect("bind");
        let at = l.address().clone();
        let pid = fork(move || {
            let mut c = l.accept().expect("accept");
            while let Ok(x) = c.recv::<u64>() {
                if c.send(&x).is_err() {
                    break;
                }
            }
        });
        let mut c = Client::connect(&at, Framing::Python, Some(KEY)).expect("connect");
        for i in 0..200u64 {
            c.send(&i).expect("send");
            assert_eq!(c.recv::<u64>().expect("recv"), i);
        }
        let t = Instant::now();
        for i in 0..n as u64 {
            c.send(&i).expect("send");
            assert_eq!(c.recv::<u64>().expect("recv"), i);
        }
        let d = t.elapsed();
        drop(c);
        crate::util::reap(pid);
        watchdog(0);
        per_op(d, n, "us")
    });
    emit(id, v, "us");
}

pub const RTT_UNIX: Workload = Workload {
    id: "listener.rtt_unix",
    what: "an int there and back on an authenticated Listener/Client connection, Unix socket (target: within 1.1x)",
    python: &["py.listener_rtt_unix"],
    limit: Some("L1_unix_stream_pingpong"),
    placement: Placement::Apart,
    run: rtt_unix,
    ..Workload::ROW
};

/// `listener.rtt_unix`: an int there and back (`send` / `recv`) on an established, authenticated
/// connection over a Unix socket; µs per round trip.
pub fn rtt_unix(opts: &Opts) {
    rtt("listener.rtt_unix", opts, false);
}

pub const RTT_TCP: Workload = Workload {
    id: "listener.rtt_tcp",
    what: "the same over TCP loopback (target: within 1.1x)",
    python: &["py.listener_rtt_tcp"],
    limit: Some("L10_tcp_loopback_pingpong"),
    placement: Placement::Apart,
    run: rtt_tcp,
    ..Workload::ROW
};

/// `listener.rtt_tcp`: the same over TCP loopback (`TCP_NODELAY`).
pub fn rtt_tcp(opts: &Opts) {
    rtt("listener.rtt_tcp", opts, true);
}
