//! Workloads for `multiproc-shm` (W8 of BENCH-WORKLOADS.md).

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use multiproc_core::Deadline;
use multiproc_core::{SharedMapping, futex};
use multiproc_shm::{Array, RawArray, RawValue, Value};

use crate::util::{Opts, emit, fork, median, per_op, reap, watchdog};
use crate::workload::Workload;

/// This module's workloads, in the order they run.
pub const WORKLOADS: &[Workload] = &[
    ARRAY_CHILD_WRITE_PARENT_SUM,
    RAWARRAY_LOOP_CHILD_WRITE_PARENT_SUM,
    VALUE_GET_SET_LOCK,
    VALUE_GET_SET_NOLOCK,
    CREATE_10K_VALUES,
];

/// Elements of the array rows: 1M `f64` (8 MB), in `--quick` too (a run takes milliseconds).
pub const N: usize = 1_000_000;
const TIMEOUT: Duration = Duration::from_secs(60);

fn wait_for(word: &AtomicU32, value: u32) {
    while word.load(Ordering::Acquire) != value {
        let seen = word.load(Ordering::Acquire);
        if seen != value {
            futex::wait(word, seen, Deadline::after(TIMEOUT));
        }
    }
}

fn set_and_wake(word: &AtomicU32, value: u32) {
    word.store(value, Ordering::Release);
    futex::wake(word, 1);
}

fn expected_sum() -> f64 {
    (N as f64) * (N as f64 - 1.0) / 2.0
}

/// A forked child writes `0..N` into the array (`write`), the parent waits for it and sums
/// (`sum`); ms from the go signal to the sum done. The child prepares its data before the go.
/// With `warm`, the child writes once before the go, so that its page tables are filled
/// (a fresh process takes a page fault per 4 KiB page of shared memory it first touches).
fn child_write_parent_sum(warm: bool, write: impl Fn(&[f64]), sum: impl Fn() -> f64) -> f64 {
    watchdog(120);
    let page = SharedMapping::anonymous(4096).expect("mapping");
    let (ready, go, done) = (page.atomic_u32(0), page.atomic_u32(4), page.atomic_u32(8));
    let pid = fork(|| {
        let src: Vec<f64> = (0..N).map(|i| i as f64).collect();
        if warm {
            write(&src);
        }
        set_and_wake(ready, 1);
        wait_for(go, 1);
        write(&src);
        set_and_wake(done, 1);
    });
    wait_for(ready, 1);
    let t = Instant::now();
    set_and_wake(go, 1);
    wait_for(done, 1);
    let s = sum();
    let d = t.elapsed();
    assert_eq!(s, expected_sum());
    reap(pid);
    watchdog(0);
    d.as_secs_f64() * 1e3
}

pub const ARRAY_CHILD_WRITE_PARENT_SUM: Workload = Workload {
    id: "shm.array1M_child_write_parent_sum",
    what: "a child writes 1M f64 into an Array (one memcpy under its lock), the parent sums under the lock; go -> sum done (target: within 2x of memcpy + sum)",
    python: &["py.W8.array1M_bulk"],
    limit: Some("L5_memcpy_8MB_plus_sum"),
    run: array_child_write_parent_sum,
    ..Workload::ROW
};

/// `shm.array1M_child_write_parent_sum`: `Array<f64>` (with its RLock) of 1M; the child copies
/// its data in under the lock (one `memcpy`), the parent sums under the lock
/// (`ArrayGuard::iter`, 4 KiB chunks). Held against `L5_memcpy_8MB_plus_sum`; Python's:
/// W8.array1M_bulk. `..._warm`: the same after the child has touched the array once (no page
/// faults in the timed region), to show what the faults cost.
pub fn array_child_write_parent_sum(opts: &Opts) {
    let arr = Array::<f64>::zeroed(N).expect("array");
    arr.copy_from_slice(&vec![0.0; N]).expect("same length"); // touch every page once
    for (warm, id) in [
        (false, "shm.array1M_child_write_parent_sum"),
        (true, "shm.array1M_child_write_parent_sum_warm"),
    ] {
        let v = median(opts.reps(), || {
            child_write_parent_sum(
                warm,
                |src| {
                    arr.lock()
                        .expect("lock")
                        .copy_from_slice(src)
                        .expect("length")
                },
                || arr.lock().expect("lock").iter().sum(),
            )
        });
        emit(id, v, "ms");
    }
}

pub const RAWARRAY_LOOP_CHILD_WRITE_PARENT_SUM: Workload = Workload {
    id: "shm.rawarray1M_loop_child_write_parent_sum",
    what: "the same on a RawArray written element by element (atomic stores), summed by iter()",
    python: &["py.W8.array1M_loop"],
    limit: Some("L5_memcpy_8MB_plus_sum"),
    run: rawarray_loop_child_write_parent_sum,
    ..Workload::ROW
};

/// `shm.rawarray1M_loop_child_write_parent_sum`: the same with a `RawArray<f64>` written
/// element by element (`set(i, x)`, a relaxed atomic store each) and summed by `iter()`.
/// Python's: W8.array1M_loop (`arr[i] = i` on a `lock=False` array).
pub fn rawarray_loop_child_write_parent_sum(opts: &Opts) {
    let arr = RawArray::<f64>::zeroed(N).expect("array");
    arr.copy_from_slice(&vec![0.0; N]).expect("same length");
    let v = median(opts.reps(), || {
        child_write_parent_sum(
            false,
            |src| {
                for (i, x) in src.iter().enumerate() {
                    arr.set(i, *x).expect("in bounds");
                }
            },
            || arr.iter().sum(),
        )
    });
    emit("shm.rawarray1M_loop_child_write_parent_sum", v, "ms");
}

pub const VALUE_GET_SET_LOCK: Workload = Workload {
    id: "shm.value_f64_get_set_lock",
    what: "Value<f64> set / get, each taking its RLock, per operation",
    python: &["py.W8.value_d/get_set_lock"],
    limit: Some("L6_cas_lock_uncontended"),
    run: value_get_set_lock,
    ..Workload::ROW
};

/// `shm.value_f64_get_set_lock`: `n` x `set(1.5)` then `n` x `get()` on a `Value<f64>` (each
/// takes and releases its RLock), ns per operation. Python's: W8.value_d (lock=True).
pub fn value_get_set_lock(opts: &Opts) {
    let n = opts.n(10_000_000);
    let v = Value::new(0.0f64).expect("value");
    let r = median(opts.reps(), || {
        let t = Instant::now();
        for _ in 0..n {
            std::hint::black_box(&v).set(std::hint::black_box(1.5));
        }
        let mut acc = 0.0;
        for _ in 0..n {
            acc += std::hint::black_box(&v).get();
        }
        assert_eq!(acc, 1.5 * n as f64);
        per_op(t.elapsed(), 2 * n, "ns")
    });
    emit("shm.value_f64_get_set_lock", r, "ns");
}

pub const VALUE_GET_SET_NOLOCK: Workload = Workload {
    id: "shm.value_f64_get_set_nolock",
    what: "RawValue<f64> set / get (relaxed atomics), per operation",
    python: &["py.W8.value_d/get_set_nolock"],
    run: value_get_set_nolock,
    ..Workload::ROW
};

/// `shm.value_f64_get_set_nolock`: the same on a `RawValue<f64>` (relaxed atomic load and
/// store). Python's: W8.value_d (lock=False).
pub fn value_get_set_nolock(opts: &Opts) {
    let n = opts.n(100_000_000);
    let v = RawValue::new(0.0f64).expect("value");
    let r = median(opts.reps(), || {
        let t = Instant::now();
        for _ in 0..n {
            std::hint::black_box(&v).set(std::hint::black_box(1.5));
        }
        let mut acc = 0.0;
        for _ in 0..n {
            acc += std::hint::black_box(&v).get();
        }
        assert_eq!(acc, 1.5 * n as f64);
        per_op(t.elapsed(), 2 * n, "ns")
    });
    emit("shm.value_f64_get_set_nolock", r, "ns");
}

pub const CREATE_10K_VALUES: Workload = Workload {
    id: "shm.create_10k_values",
    what: "create 10,000 Value<f64> with their RLocks and keep them, for the 10,000",
    python: &["py.create_10k_values"],
    run: create_10k_values,
    ..Workload::ROW
};

/// `shm.create_10k_values`: `Value::new(0.0f64)` (each with its own `RLock`, as Python's
/// `Value('d', 0.0)`) 10,000 times, kept alive, then dropped; µs for the 10,000.
pub fn create_10k_values(opts: &Opts) {
    let n = opts.n(10_000).max(1000);
    let v = median(opts.reps(), || {
        let t = Instant::now();
        let values: Vec<multiproc_shm::Value<f64>> = (0..n)
            .map(|_| multiproc_shm::Value::new(0.0).expect("value"))
            .collect();
        let took = t.elapsed();
        drop(std::hint::black_box(values));
        took.as_secs_f64() * 1e6 * 10_000.0 / n as f64
    });
    emit("shm.create_10k_values", v, "us");
}
