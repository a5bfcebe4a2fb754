//! Workloads for `multiproc-process` (W7 in BENCH-WORKLOADS.md): start + join of a no-op child by each
//! start method, and a child that returns 1 KiB.

use std::time::Instant;

use multiproc_process::{StartMethod, get_context};

use crate::util::{Opts, emit, median, per_op, watchdog};
use crate::workload::Workload;

fn noop(_: ()) {}

fn kilobyte(_: ()) -> Vec<u8> {
    vec![7u8; 1024]
}

fn start_join(id: &str, method: StartMethod, full: usize, opts: &Opts) {
    let n = opts.n(full).max(5);
    let ctx = get_context(method);
    // One untimed warm-up child (for forkserver it starts the server).
    let p = ctx.process(noop, ());
    p.start().expect("start");
    p.join().expect("join");
    let v = median(opts.reps(), || {
        watchdog(120);
        let t = Instant::now();
        for _ in 0..n {
            let p = ctx.process(noop, ());
            p.start().expect("start");
            p.join().expect("join");
            assert_eq!(p.exitcode(), Some(0));
        }
        watchdog(0);
        per_op(t.elapsed(), n, "ms")
    });
    emit(id, v, "ms");
}

/// This module's workloads, in the order they run.
pub const WORKLOADS: &[Workload] = &[
    FORK_START_JOIN,
    FORKSERVER_START_JOIN,
    SPAWN_START_JOIN,
    RETURN_1KIB,
    FIRST_START,
];

pub const FORK_START_JOIN: Workload = Workload {
    id: "process.fork_start_join",
    what: "Process start + join of a no-op child, fork (W7)",
    python: &["py.W7.process_fork"],
    limit: Some("L8_fork_exit_wait"),
    run: fork_start_join,
    ..Workload::ROW
};

/// `process.fork_start_join`: W7.process_fork, 100 processes.
pub fn fork_start_join(opts: &Opts) {
    start_join("process.fork_start_join", StartMethod::Fork, 100, opts);
}

pub const SPAWN_START_JOIN: Workload = Workload {
    id: "process.spawn_start_join",
    what: "Process start + join of a no-op child, spawn (W7)",
    python: &["py.W7.process_spawn"],
    run: spawn_start_join,
    ..Workload::ROW
};

/// `process.spawn_start_join`: W7.process_spawn, 20 processes.
pub fn spawn_start_join(opts: &Opts) {
    start_join("process.spawn_start_join", StartMethod::Spawn, 20, opts);
}

pub const FORKSERVER_START_JOIN: Workload = Workload {
    id: "process.forkserver_start_join",
    what: "Process start + join of a no-op child, forkserver (W7)",
    python: &["py.W7.process_forkserver"],
    limit: Some("L8_fork_exit_wait"),
    run: forkserver_start_join,
    ..Workload::ROW
};

/// `process.forkserver_start_join`: W7.process_forkserver, 20 processes (server started by the
/// warm-up).
pub fn forkserver_start_join(opts: &Opts) {
    start_join(
        "process.forkserver_start_join",
        StartMethod::Forkserver,
        20,
        opts,
    );
}

pub const RETURN_1KIB: Workload = Workload {
    id: "process.return_1KiB",
    what: "fork a child that returns 1 KiB; join and get it (Python: Process + Pipe)",
    python: &["py.process_return_1KiB"],
    limit: Some("L8_fork_exit_wait"),
    run: return_1kib,
    ..Workload::ROW
};

/// `process.return_1KiB`: start a fork child that returns 1 KiB, join, get the value.
/// Python's: a fork `Process` that sends 1 KiB over a `Pipe`, `recv` + `join`.
pub fn return_1kib(opts: &Opts) {
    let n = opts.n(100).max(5);
    let ctx = get_context(StartMethod::Fork);
    let v = median(opts.reps(), || {
        watchdog(120);
        let t = Instant::now();
        for _ in 0..n {
            let v = ctx
                .spawn(kilobyte, ())
                .expect("spawn")
                .join()
                .expect("join");
            assert_eq!(v.len(), 1024);
        }
        watchdog(0);
        per_op(t.elapsed(), n, "ms")
    });
    emit("process.return_1KiB", v, "ms");
}

/// The environment variable that makes a run of this binary the fresh program of
/// [`first_start`].
pub const FIRST_START_ROLE: &str = "IPC_BENCH_FIRST_START";

/// In a fresh run of this binary: the first forkserver `Process` start + join of the program
/// (the fork server boots in it), printed in ms.
pub fn first_start_child() {
    let t = Instant::now();
    let p = get_context(StartMethod::Forkserver).process(noop, ());
    p.start().expect("start");
    p.join().expect("join");
    assert_eq!(p.exitcode(), Some(0));
    println!("{}", t.elapsed().as_secs_f64() * 1e3);
}

pub const FIRST_START: Workload = Workload {
    id: "process.first_start_forkserver",
    what: "the first forkserver Process start + join of a fresh program: the fork server boots (target: <= 2 ms)",
    python: &["py.process_first_start_forkserver"],
    run: first_start,
    ..Workload::ROW
};

/// `process.first_start_forkserver`: the first `Process` start + join of a program, which boots
/// the fork server (a fresh run of this binary for each sample, timed inside it from before
/// `start` to after `join`); median of 10 programs. Python's twin does the same with its
/// forkserver in a fresh interpreter.
pub fn first_start(opts: &Opts) {
    let runs = opts.n(10).max(3);
    let exe = std::env::current_exe().expect("own path");
    watchdog(120);
    let mut v: Vec<f64> = (0..runs)
        .map(|_| {
            let out = std::process::Command::new(&exe)
                .env(FIRST_START_ROLE, "1")
                .output()
                .expect("run");
            assert!(out.status.success(), "first-start run failed: {out:?}");
            String::from_utf8_lossy(&out.stdout)
                .trim()
                .parse()
                .expect("a time")
        })
        .collect();
    watchdog(0);
    v.sort_by(f64::total_cmp);
    emit("process.first_start_forkserver", v[v.len() / 2], "ms");
}
