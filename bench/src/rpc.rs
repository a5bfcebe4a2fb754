//! Workloads for `multiproc-rpc` (W10 of BENCH-WORKLOADS.md) and the TCP loopback limit.
//!
//! The server runs in a forked child process (bound before the fork, so its port is known);
//! it serves with a thread per connection, HTTP/1.1 keep-alive. Clients are this process or
//! forked children, each with one `Client` (one kept-alive connection).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use multiproc_rpc::{Client, Server};

use crate::place::Placement;
use crate::util::{Opts, emit, fork, median, per_op, watchdog};
use crate::workload::Workload;

fn start_server() -> (SocketAddr, libc::pid_t) {
    let mut s = Server::bind("127.0.0.1:0").expect("bind");
    s.register_function("add", |x: i32, y: i32| x + y)
        .register_function("echo", |v: Vec<i32>| v);
    let addr = s.local_addr().expect("addr");
    // The parent's copy of the listener closes when the closure is dropped unrun.
    let pid = fork(move || {
        let _ = s.serve_forever();
    });
    (addr, pid)
}

fn stop(pid: libc::pid_t) {
    // SAFETY: kill(2) and waitpid(2) on our own child.
    unsafe {
        libc::kill(pid, libc::SIGKILL);
        libc::waitpid(pid, std::ptr::null_mut(), 0);
    }
}

fn client(addr: SocketAddr) -> Client {
    Client::new(&format!("http://{addr}/RPC2"))
        .expect("url")
        .timeout(Duration::from_secs(60))
}

/// This module's workloads, in the order they run.
pub const WORKLOADS: &[Workload] = &[TCP_LOOPBACK_PINGPONG, SEQ_ADD, FOUR_CLIENTS, ECHO10K];

pub const SEQ_ADD: Workload = Workload {
    id: "rpc.seq_add",
    what: "sequential add(2, 3), one client, kept-alive connection (Python: SimpleXMLRPCServer + ServerProxy, a connection per call; the second Python row: its ThreadingMixIn server)",
    python: &["py.W10.xmlrpc_seq_single", "py.W10.xmlrpc_seq_threaded"],
    limit: Some("L10_tcp_loopback_pingpong.rate"),
    placement: Placement::Apart,
    run: seq_add,
    ..Workload::ROW
};

/// `rpc.seq_add`: W10.xmlrpc_seq — 2,000 sequential `add(2, 3)` from one client over one
/// kept-alive connection after 20 warm-up calls; calls/s. (`--quick` keeps the count: it takes
/// a tenth of a second, and fewer calls only measure noise.)
pub fn seq_add(opts: &Opts) {
    let n = 2_000;
    let v = median(opts.reps(), || {
        watchdog(120);
        let (addr, pid) = start_server();
        let c = client(addr);
        for _ in 0..20 {
            assert_eq!(c.call::<i32>("add", (2, 3)).expect("call"), 5);
        }
        let t = Instant::now();
        for _ in 0..n {
            assert_eq!(c.call::<i32>("add", (2, 3)).expect("call"), 5);
        }
        let d = t.elapsed();
        stop(pid);
        watchdog(0);
        n as f64 / d.as_secs_f64()
    });
    emit("rpc.seq_add", v, "calls/s");
}

fn pipe() -> (i32, i32) {
    let mut p = [0; 2];
    // SAFETY: pipe(2) fills the array.
    assert_eq!(unsafe { libc::pipe(p.as_mut_ptr()) }, 0);
    (p[0], p[1])
}

fn put(fd: i32, n: usize) {
    let buf = vec![1u8; n];
    // SAFETY: `buf` is valid for `n` bytes; n <= PIPE_BUF so the write is whole.
    let r = unsafe { libc::write(fd, buf.as_ptr().cast(), n) };
    assert_eq!(r, n as isize);
}

fn take(fd: i32, n: usize) {
    let mut got = 0;
    let mut buf = vec![0u8; n];
    while got < n {
        // SAFETY: `buf[got..]` is valid for `n - got` bytes.
        let r = unsafe { libc::read(fd, buf[got..].as_mut_ptr().cast(), n - got) };
        assert!(r > 0, "peer gone");
        got += r as usize;
    }
}

pub const FOUR_CLIENTS: Workload = Workload {
    id: "rpc.4clients_add",
    what: "4 client processes x add(2, 3), all released together (Python: its single-threaded server, then its ThreadingMixIn one)",
    python: &[
        "py.W10.xmlrpc_4clients_single",
        "py.W10.xmlrpc_4clients_threaded",
    ],
    run: four_clients,
    ..Workload::ROW
};

/// `rpc.4clients_add`: W10.xmlrpc_4clients — 4 client processes, each its own `Client`,
/// 1,000 sequential `add(2, 3)` each, released together; calls/s over all 4,000 (the full
/// count also with `--quick`).
pub fn four_clients(opts: &Opts) {
    let per = 1_000;
    let v = median(opts.reps(), || {
        watchdog(120);
        let (addr, server) = start_server();
        let (ready_r, ready_w) = pipe();
        let (go_r, go_w) = pipe();
        let (done_r, done_w) = pipe();
        let kids: Vec<_> = (0..4)
            .map(|_| {
                fork(move || {
                    let c = client(addr);
                    for _ in 0..20 {
                        c.call::<i32>("add", (2, 3)).expect("call");
                    }
                    put(ready_w, 1);
                    take(go_r, 1);
                    for _ in 0..per {
                        assert_eq!(c.call::<i32>("add", (2, 3)).expect("call"), 5);
                    }
                    put(done_w, 1);
                })
            })
            .collect();
        take(ready_r, 4);
        let t = Instant::now();
        put(go_w, 4);
        take(done_r, 4);
        let d = t.elapsed();
        for k in kids {
            crate::util::reap(k);
        }
        stop(server);
        for fd in [ready_r, ready_w, go_r, go_w, done_r, done_w] {
            // SAFETY: closing fds this function opened.
            unsafe { libc::close(fd) };
        }
        watchdog(0);
        (4 * per) as f64 / d.as_secs_f64()
    });
    emit("rpc.4clients_add", v, "calls/s");
}

pub const ECHO10K: Workload = Workload {
    id: "rpc.echo10k",
    what: "echo of an array of 10,000 ints, there and back, per call (Python: its single-threaded server, then its ThreadingMixIn one)",
    python: &[
        "py.W10.xmlrpc_echo10k_single",
        "py.W10.xmlrpc_echo10k_threaded",
    ],
    placement: Placement::Apart,
    run: echo10k,
    ..Workload::ROW
};

/// `rpc.echo10k`: W10.xmlrpc_echo10k — `echo` of the 10,000 integers `0..10000`, there and
/// back; 10 calls (also with `--quick`), ms per call.
pub fn echo10k(opts: &Opts) {
    let calls = 10;
    let data: Vec<i32> = (0..10_000).collect();
    let v = median(opts.reps(), || {
        watchdog(120);
        let (addr, pid) = start_server();
        let c = client(addr);
        for _ in 0..2 {
            c.call::<Vec<i32>>("echo", (&data,)).expect("call");
        }
        let t = Instant::now();
        for _ in 0..calls {
            let back: Vec<i32> = c.call("echo", (&data,)).expect("call");
            assert_eq!(back.len(), data.len());
        }
        let d = t.elapsed();
        stop(pid);
        watchdog(0);
        per_op(d, calls, "ms")
    });
    emit("rpc.echo10k", v, "ms");
}

const L10_MSG: usize = 100;

fn exact(fd: i32, buf: &mut [u8; L10_MSG], write: bool) {
    let mut done = 0;
    while done < L10_MSG {
        // SAFETY: `buf[done..]` is valid for `L10_MSG - done` bytes.
        let n = unsafe {
            if write {
                libc::write(fd, buf[done..].as_ptr().cast(), L10_MSG - done)
            } else {
                libc::read(fd, buf[done..].as_mut_ptr().cast(), L10_MSG - done)
            }
        };
        assert!(n > 0, "socket i/o failed or peer gone");
        done += n as usize;
    }
}

fn nodelay(fd: i32) {
    let one: libc::c_int = 1;
    // SAFETY: setsockopt with a valid int option value.
    let r = unsafe {
        libc::setsockopt(
            fd,
            libc::IPPROTO_TCP,
            libc::TCP_NODELAY,
            (&one as *const libc::c_int).cast(),
            size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    assert_eq!(r, 0, "TCP_NODELAY");
}

pub const TCP_LOOPBACK_PINGPONG: Workload = Workload {
    id: "L10_tcp_loopback_pingpong",
    what: "100 B round trip over TCP loopback, TCP_NODELAY",
    placement: Placement::Apart,
    run: tcp_loopback_pingpong,
    also: &[(
        "L10_tcp_loopback_pingpong.rate",
        "the same as round trips per second",
    )],
    ..Workload::LIMIT
};

/// `L10_tcp_loopback_pingpong`: TCP on 127.0.0.1, `TCP_NODELAY` both ends; the client sends
/// 100 B, the server (a forked child) reads 100 B and answers 100 B; 50k round trips after 2k
/// warm-up, direct syscalls. Emitted in µs and as round trips per second (`.rate`), the
/// ceiling for one sequential RPC per round trip.
pub fn tcp_loopback_pingpong(opts: &Opts) {
    let n = opts.n(50_000);
    let warm = 2_000;
    let mut rates = Vec::new();
    let v = median(opts.reps(), || {
        watchdog(120);
        // SAFETY: plain socket syscalls on descriptors this function owns; the sockaddr is a
        // properly initialised sockaddr_in.
        let (listener, port) = unsafe {
            let l = libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0);
            assert!(l >= 0);
            let mut sa: libc::sockaddr_in = std::mem::zeroed();
            sa.sin_family = libc::AF_INET as libc::sa_family_t;
            sa.sin_addr.s_addr = u32::from_ne_bytes([127, 0, 0, 1]);
            sa.sin_port = 0;
            let len = size_of::<libc::sockaddr_in>() as libc::socklen_t;
            assert_eq!(
                libc::bind(l, (&sa as *const libc::sockaddr_in).cast(), len),
                0
            );
            assert_eq!(libc::listen(l, 1), 0);
            let mut got: libc::sockaddr_in = std::mem::zeroed();
            let mut glen = len;
            assert_eq!(
                libc::getsockname(l, (&mut got as *mut libc::sockaddr_in).cast(), &mut glen),
                0
            );
            (l, got.sin_port)
        };
        let pid = fork(|| {
            // SAFETY: accept on our listening socket.
            let s = unsafe { libc::accept(listener, std::ptr::null_mut(), std::ptr::null_mut()) };
            assert!(s >= 0);
            nodelay(s);
            let mut buf = [0u8; L10_MSG];
            for _ in 0..warm + n {
                exact(s, &mut buf, false);
                exact(s, &mut buf, true);
            }
        });
        // SAFETY: connect a fresh socket to the child's port.
        let s = unsafe {
            let s = libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0);
            assert!(s >= 0);
            let mut sa: libc::sockaddr_in = std::mem::zeroed();
            sa.sin_family = libc::AF_INET as libc::sa_family_t;
            sa.sin_addr.s_addr = u32::from_ne_bytes([127, 0, 0, 1]);
            sa.sin_port = port;
            let len = size_of::<libc::sockaddr_in>() as libc::socklen_t;
            assert_eq!(
                libc::connect(s, (&sa as *const libc::sockaddr_in).cast(), len),
                0
            );
            s
        };
        nodelay(s);
        let mut buf = [7u8; L10_MSG];
        for _ in 0..warm {
            exact(s, &mut buf, true);
            exact(s, &mut buf, false);
        }
        let t = Instant::now();
        for _ in 0..n {
            exact(s, &mut buf, true);
            exact(s, &mut buf, false);
        }
        let d = t.elapsed();
        crate::util::reap(pid);
        // SAFETY: closing fds this function opened.
        unsafe {
            libc::close(s);
            libc::close(listener);
        }
        watchdog(0);
        rates.push(n as f64 / d.as_secs_f64());
        per_op(d, n, "us")
    });
    emit("L10_tcp_loopback_pingpong", v, "us");
    rates.sort_by(|a, b| a.total_cmp(b));
    emit(
        "L10_tcp_loopback_pingpong.rate",
        rates[rates.len() / 2],
        "calls/s",
    );
}
