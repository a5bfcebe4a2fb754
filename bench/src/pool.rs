//! Workloads for `multiproc-pool` (W6 in BENCH-WORKLOADS.md).

use std::time::{Duration, Instant};

use multiproc_pool::Pool;
use multiproc_process::StartMethod;

use crate::place::Placement;
use crate::util::{Opts, emit, median, per_op, watchdog};
use crate::workload::Workload;

fn double(x: u64) -> u64 {
    x * 2
}

fn fib(n: u64) -> u64 {
    if n < 2 { n } else { fib(n - 1) + fib(n - 2) }
}

/// A warmed 2-worker pool (a 100-item map, untimed), as W6 prescribes. `fork` workers: this
/// binary is single-threaded when the pool starts.
fn pool2() -> Pool {
    let pool = Pool::builder()
        .processes(2)
        .start_method(StartMethod::Fork)
        .build()
        .expect("pool");
    pool.map(double, 0..100).expect("warm-up");
    pool
}

/// This module's workloads, in the order they run.
pub const WORKLOADS: &[Workload] = &[
    APPLY_ASYNC_GET,
    APPLY_ASYNC_AWAIT,
    MAP_DEFAULT,
    MAP_CHUNKSIZE1,
    IMAP_UNORDERED,
    FIB27X8,
    FIB27X8_SERIAL,
    FIB27X8_N,
    LIFECYCLE,
];

pub const MAP_DEFAULT: Workload = Workload {
    id: "pool.map_default_chunksize",
    what: "Pool(2).map(x*2) over 100k items, default chunksize (target: <= 0.03 us/item)",
    python: &["py.W6.pool_map_default_chunksize"],
    run: map_default,
    ..Workload::ROW
};

/// `pool.map_default_chunksize`: W6 — `map(x*2)` over 100,000 items, default chunksize; µs
/// per item.
pub fn map_default(opts: &Opts) {
    let n = opts.n(100_000).max(10_000) as u64;
    let pool = pool2();
    let v = median(opts.reps(), || {
        watchdog(120);
        let t = Instant::now();
        let r = pool.map(double, 0..n).expect("map");
        let d = t.elapsed();
        assert_eq!(r.len() as u64, n);
        watchdog(0);
        per_op(d, n as usize, "us")
    });
    emit("pool.map_default_chunksize", v, "us");
}

pub const MAP_CHUNKSIZE1: Workload = Workload {
    id: "pool.map_chunksize1",
    what: "Pool(2).map(x*2) over 20k items, chunksize 1 (target: <= 5 us/item)",
    python: &["py.W6.pool_map_chunksize1"],
    run: map_chunksize1,
    ..Workload::ROW
};

/// `pool.map_chunksize1`: W6 — `map(x*2, range(20,000), chunksize=1)`; µs per item.
pub fn map_chunksize1(opts: &Opts) {
    let n = opts.n(20_000).max(2_000) as u64;
    let pool = pool2();
    let v = median(opts.reps(), || {
        watchdog(120);
        let t = Instant::now();
        let r = pool.map_chunked(double, 0..n, 1).expect("map");
        let d = t.elapsed();
        assert_eq!(r.len() as u64, n);
        watchdog(0);
        per_op(d, n as usize, "us")
    });
    emit("pool.map_chunksize1", v, "us");
}

pub const APPLY_ASYNC_GET: Workload = Workload {
    id: "pool.apply_async_get",
    what: "sequential apply_async(f, 1).get() (target: within 1.5x of a bare futex ping-pong)",
    python: &["py.W6.pool_apply_async_get"],
    limit: Some("L2_futex_pingpong"),
    placement: Placement::Apart,
    run: apply_async_get,
    ..Workload::ROW
};

/// `pool.apply_async_get`: W6 — 5,000 sequential `apply_async(f, 1).get()`; µs per call.
pub fn apply_async_get(opts: &Opts) {
    let n = opts.n(5_000).max(500);
    let pool = pool2();
    // The workers run on the peers' core, as the limit's child does.
    crate::place::pin_peers();
    for _ in 0..200 {
        pool.apply(double, 1).expect("warm");
    }
    let v = median(opts.reps(), || {
        watchdog(120);
        let t = Instant::now();
        for _ in 0..n {
            assert_eq!(
                pool.apply_async(double, 1)
                    .expect("submit")
                    .get()
                    .expect("get"),
                2
            );
        }
        watchdog(0);
        per_op(t.elapsed(), n, "us")
    });
    emit("pool.apply_async_get", v, "us");
}

pub const APPLY_ASYNC_AWAIT: Workload = Workload {
    id: "pool.apply_async_await",
    what: "the same awaited on a current-thread tokio runtime (feature tokio; the pool's thread wakes the task)",
    limit: Some("L2_futex_pingpong"),
    placement: Placement::Apart,
    run: apply_async_await,
    ..Workload::ROW
};

/// `pool.apply_async_await`: the async twin of `pool.apply_async_get` — 5,000 sequential
/// `apply_async(f, 1)?.await` on a current-thread tokio runtime (feature `tokio`); µs per call.
pub fn apply_async_await(opts: &Opts) {
    let n = opts.n(5_000).max(500);
    let pool = pool2();
    crate::place::pin_peers();
    let rt = crate::util::runtime();
    let v = rt.block_on(async {
        for _ in 0..200 {
            pool.apply_async(double, 1)
                .expect("warm")
                .await
                .expect("warm");
        }
        let mut runs = Vec::new();
        for _ in 0..opts.reps() {
            watchdog(120);
            let t = Instant::now();
            for _ in 0..n {
                let r = pool.apply_async(double, 1).expect("submit").await;
                assert_eq!(r, Ok(2));
            }
            watchdog(0);
            runs.push(per_op(t.elapsed(), n, "us"));
        }
        runs.sort_by(f64::total_cmp);
        runs[runs.len() / 2]
    });
    emit("pool.apply_async_await", v, "us");
}

pub const FIB27X8: Workload = Workload {
    id: "pool.fib27x8_speedup",
    what: "fib x 8: serial time / Pool(2) time, at equal work: Rust's n is picked so that its serial time is about Python's fib(27) x 8 in the same run (target: >= 1.9)",
    python: &["py.W6.pool_fib27x8"],
    run: fib27x8,
    ..Workload::ROW
};

pub const FIB27X8_SERIAL: Workload = Workload {
    id: "pool.fib27x8_serial",
    what: "the serial time of the fib x 8 row on each side (they should be about equal)",
    python: &["py.W6.pool_fib27x8_serial"],
    run: nothing,
    ..Workload::ROW
};

pub const FIB27X8_N: Workload = Workload {
    id: "pool.fib27x8_n",
    what: "the n of Rust's fib(n) in the fib x 8 row (Python's is 27)",
    run: nothing,
    ..Workload::ROW
};

/// Emitted by [`fib27x8`].
fn nothing(_: &Opts) {}

/// The `n` for which eight serial `fib(n)` take about `target` (Python's eight `fib(27)` in the
/// same run, handed over by `cargo xtask bench` in `IPC_BENCH_FIB_SERIAL_MS`): Rust's fib(27)
/// takes about a millisecond, Python's about forty, so equal `n` would compare per-task
/// overheads, not parallel speedup.
fn fib_n_for(target: Duration) -> u64 {
    let mut best = (27, Duration::MAX);
    for n in 20..45 {
        let t = Instant::now();
        std::hint::black_box(fib(std::hint::black_box(n)));
        let eight = t.elapsed() * 8;
        let off = eight.abs_diff(target);
        if off < best.1 {
            best = (n, off);
        }
        if eight > target {
            break;
        }
    }
    best.0
}

/// `pool.fib27x8_speedup`: W6 — `fib(n)` × 8 serially, then `map(fib, [n]*8, chunksize=1)` on 2
/// workers; serial time / pool time, at equal work: `n` is picked so that the serial time is
/// about Python's `fib(27)` × 8 in the same run. Also emits that serial time
/// (`pool.fib27x8_serial`, ms) and `n` (`pool.fib27x8_n`).
pub fn fib27x8(opts: &Opts) {
    let target_ms: f64 = std::env::var("IPC_BENCH_FIB_SERIAL_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(330.0);
    let n = fib_n_for(Duration::from_secs_f64(target_ms / 1e3));
    let expect = fib(n);
    let pool = pool2();
    let mut serials = Vec::new();
    let v = median(opts.reps().max(3), || {
        watchdog(120);
        let t = Instant::now();
        for _ in 0..8 {
            std::hint::black_box(fib(std::hint::black_box(n)));
        }
        let serial = t.elapsed();
        serials.push(serial.as_secs_f64() * 1e3);
        let t = Instant::now();
        let r = pool.map_chunked(fib, [n; 8], 1).expect("map");
        let parallel = t.elapsed();
        assert_eq!(r, vec![expect; 8]);
        watchdog(0);
        serial.as_secs_f64() / parallel.as_secs_f64()
    });
    emit("pool.fib27x8_speedup", v, "x");
    serials.sort_by(f64::total_cmp);
    emit("pool.fib27x8_serial", serials[serials.len() / 2], "ms");
    emit("pool.fib27x8_n", n as f64, "n");
}

pub const IMAP_UNORDERED: Workload = Workload {
    id: "pool.imap_unordered",
    what: "iterate imap_unordered(x*2) over 100k items, chunksize 1",
    python: &["py.W6.pool_imap_unordered"],
    run: imap_unordered,
    ..Workload::ROW
};

/// `pool.imap_unordered`: W6 — iterate `imap_unordered(x*2, range(100,000))`, chunksize 1; µs
/// per item.
pub fn imap_unordered(opts: &Opts) {
    let n = opts.n(100_000).max(5_000) as u64;
    let pool = pool2();
    let v = median(opts.reps(), || {
        watchdog(120);
        let t = Instant::now();
        let sum: u64 = pool
            .imap_unordered(double, 0..n, 1)
            .map(|r| r.expect("item"))
            .sum();
        let d = t.elapsed();
        assert_eq!(sum, n * (n - 1));
        watchdog(0);
        per_op(d, n as usize, "us")
    });
    emit("pool.imap_unordered", v, "us");
}

pub const LIFECYCLE: Workload = Workload {
    id: "pool.lifecycle",
    what: "Pool(2) + close + join, no tasks (target: <= 0.5 ms)",
    python: &["py.W6.pool_lifecycle"],
    run: lifecycle,
    ..Workload::ROW
};

/// `pool.lifecycle`: W6 — `Pool(2)` then `close()` then `join()`, no tasks, 10 cycles; ms per
/// cycle (fork workers, like Python's default here).
pub fn lifecycle(opts: &Opts) {
    let cycles = 10;
    let v = median(opts.reps(), || {
        watchdog(120);
        let t = Instant::now();
        for _ in 0..cycles {
            let pool = Pool::builder()
                .processes(2)
                .start_method(StartMethod::Fork)
                .build()
                .expect("pool");
            pool.close();
            pool.join().expect("join");
        }
        watchdog(0);
        per_op(t.elapsed(), cycles, "ms")
    });
    emit("pool.lifecycle", v, "ms");
}
