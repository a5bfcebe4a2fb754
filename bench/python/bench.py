#!/usr/bin/env python3
"""Python multiprocessing baselines for `cargo xtask bench`.

Each workload prints one JSON line {"id", "value", "unit"}, like the Rust side (ipc-bench).
Definitions follow ../shared/BENCH-WORKLOADS.md (start method fork, a Barrier before the timed
region, warm-up round trips, a watchdog on every repetition).

Usage: python3 bench.py [--quick] [FILTER]
"""
import array
import json
import multiprocessing as mp
import pickle
import signal
import statistics
import struct
import sys
import time

QUICK = "--quick" in sys.argv
ARGS = [a for a in sys.argv[1:] if not a.startswith("--")]
FILTER = ARGS[0] if ARGS else ""
REPS = 1 if QUICK else 3
WAIT = 60  # seconds: every blocking wait has this timeout
ctx = mp.get_context("fork")


def n(full):
    return max(1, full // 10) if QUICK else full


def emit(id_, value, unit):
    print(json.dumps({"id": id_, "value": value, "unit": unit}), flush=True)


def watchdog(secs):
    signal.alarm(secs)


def median(f):
    return statistics.median(f() for _ in range(REPS))


# ---------------------------------------------------------------------------------------------
# ipc-core rows
# ---------------------------------------------------------------------------------------------

def _pipe_child(conn, barrier, count):
    watchdog(120)
    barrier.wait(WAIT)
    for _ in range(count):
        conn.send(conn.recv())


def pipe_rtt_int():
    """W1.pipe_rtt_int: Pipe() (duplex), send(1)/recv() there and back, us per round trip."""
    count, warm = n(20_000), 200

    def once():
        watchdog(120)
        a, b = ctx.Pipe()
        barrier = ctx.Barrier(2)
        p = ctx.Process(target=_pipe_child, args=(b, barrier, warm + count))
        p.start()
        barrier.wait(WAIT)
        for _ in range(warm):
            a.send(1)
            a.recv()
        t = time.perf_counter()
        for _ in range(count):
            a.send(1)
            if not a.poll(WAIT):
                raise TimeoutError("child did not answer")
            a.recv()
        d = time.perf_counter() - t
        p.join(WAIT)
        watchdog(0)
        return d / count * 1e6

    emit("py.W1.pipe_rtt_int", median(once), "us")


def _event_child(ping, pong, barrier, count):
    watchdog(120)
    barrier.wait(WAIT)
    for _ in range(count):
        if not ping.wait(WAIT):
            raise TimeoutError
        ping.clear()
        pong.set()


def event_pingpong():
    """W5.event_pingpong: two Events; parent ping.set(); pong.wait(); pong.clear()."""
    count, warm = n(20_000), 200

    def once():
        watchdog(120)
        ping, pong = ctx.Event(), ctx.Event()
        barrier = ctx.Barrier(2)
        p = ctx.Process(target=_event_child, args=(ping, pong, barrier, warm + count))
        p.start()
        barrier.wait(WAIT)

        def round_():
            ping.set()
            if not pong.wait(WAIT):
                raise TimeoutError
            pong.clear()

        for _ in range(warm):
            round_()
        t = time.perf_counter()
        for _ in range(count):
            round_()
        d = time.perf_counter() - t
        p.join(WAIT)
        watchdog(0)
        return d / count * 1e6

    emit("py.W5.event_pingpong", median(once), "us")


def pickle_roundtrip():
    """What Connection.send/recv do to a value: pickle + 4-byte header, then unpickle."""
    count = n(1_000_000)
    dumps, loads, pack, unpack = pickle.dumps, pickle.loads, struct.pack, struct.unpack

    def once():
        value = [42, None, "hello"]
        t = time.perf_counter()
        for _ in range(count):
            b = dumps(value)
            frame = pack("!i", len(b)) + b
            (size,) = unpack("!i", frame[:4])
            loads(frame[4:4 + size])
        return (time.perf_counter() - t) / count * 1e9

    emit("py.frame_roundtrip", median(once), "ns")


# ---------------------------------------------------------------------------------------------
# ipc-process rows (W7)
# ---------------------------------------------------------------------------------------------

def _noop():
    pass


def _start_join(id_, method, full):
    count = max(5, n(full))
    c = mp.get_context(method)

    def one():
        p = c.Process(target=_noop)
        p.start()
        p.join(WAIT)
        assert p.exitcode == 0

    one()  # warm-up (starts the fork server for forkserver)

    def once():
        watchdog(120)
        t = time.perf_counter()
        for _ in range(count):
            one()
        watchdog(0)
        return (time.perf_counter() - t) / count * 1e3

    emit(id_, median(once), "ms")


def process_fork():
    """W7.process_fork: Process(target=noop) start + join, 100 processes."""
    _start_join("py.W7.process_fork", "fork", 100)


def process_spawn():
    """W7.process_spawn: the same with spawn, 20 processes."""
    _start_join("py.W7.process_spawn", "spawn", 20)


def process_forkserver():
    """W7.process_forkserver: the same with forkserver, 20 processes."""
    _start_join("py.W7.process_forkserver", "forkserver", 20)


def _send_kib(conn):
    conn.send_bytes(bytes(1024))
    conn.close()


def process_return_1kib():
    """A fork child that hands 1 KiB back over a Pipe; parent recv + join."""
    count = max(5, n(100))

    def once():
        watchdog(120)
        t = time.perf_counter()
        for _ in range(count):
            a, b = ctx.Pipe(duplex=False)
            p = ctx.Process(target=_send_kib, args=(b,))
            p.start()
            b.close()
            if not a.poll(WAIT):
                raise TimeoutError
            assert len(a.recv_bytes()) == 1024
            p.join(WAIT)
        watchdog(0)
        return (time.perf_counter() - t) / count * 1e3

    emit("py.process_return_1KiB", median(once), "ms")


# ---------------------------------------------------------------------------------------------
# ipc-sync rows
# ---------------------------------------------------------------------------------------------

def uncontended():
    """W4.uncontended: 1M x acquire(); release() on Lock, RLock, Semaphore(1), bound methods
    hoisted; plus the empty loop."""
    count = n(1_000_000)
    for name, prim in (("lock", ctx.Lock()), ("rlock", ctx.RLock()), ("semaphore", ctx.Semaphore(1))):
        acq, rel = prim.acquire, prim.release

        def once():
            t = time.perf_counter()
            for _ in range(count):
                acq()
                rel()
            return (time.perf_counter() - t) / count * 1e9

        emit(f"py.W4.uncontended/{name}_acquire_release", median(once), "ns")

    def empty():
        t = time.perf_counter()
        for _ in range(count):
            pass
        return (time.perf_counter() - t) / count * 1e9

    emit("py.W4.uncontended/empty_loop_overhead", median(empty), "ns")


def _contended_child(lock, value, barrier, done, count):
    watchdog(120)
    barrier.wait(WAIT)
    for _ in range(count):
        with lock:
            value.value += 1
    done.send(1)


def contended_lock():
    """W4.contended_lock: 2 children x 200,000 `with lock: v.value += 1`, ns per increment."""
    count = n(200_000)

    def once():
        watchdog(120)
        lock = ctx.Lock()
        value = ctx.Value("i", 0, lock=False)
        barrier = ctx.Barrier(3)
        pipes = [ctx.Pipe(duplex=False) for _ in range(2)]
        ps = [ctx.Process(target=_contended_child, args=(lock, value, barrier, w, count))
              for (_, w) in pipes]
        for p in ps:
            p.start()
        barrier.wait(WAIT)
        t = time.perf_counter()
        for r, _ in pipes:
            if not r.poll(WAIT):
                raise TimeoutError
            r.recv()
        d = time.perf_counter() - t
        for p in ps:
            p.join(WAIT)
        assert value.value == 2 * count, value.value
        watchdog(0)
        return d / (2 * count) * 1e9

    emit("py.W4.contended_lock", median(once), "ns")


def _condition_child(cond, turn, barrier, count):
    watchdog(120)
    barrier.wait(WAIT)
    for _ in range(count):
        with cond:
            if not cond.wait_for(lambda: turn.value == 1, WAIT):
                raise TimeoutError
            turn.value = 0
            cond.notify()


def condition_pingpong():
    """W5.condition_pingpong: one Condition (RLock) + RawValue turn; parent sets turn=1 and
    notifies, then waits for turn==0; us per round trip."""
    count, warm = n(20_000), 200

    def once():
        watchdog(120)
        cond = ctx.Condition()
        turn = ctx.RawValue("i", 0)
        barrier = ctx.Barrier(2)
        p = ctx.Process(target=_condition_child, args=(cond, turn, barrier, warm + count))
        p.start()
        barrier.wait(WAIT)

        def round_():
            with cond:
                turn.value = 1
                cond.notify()
                if not cond.wait_for(lambda: turn.value == 0, WAIT):
                    raise TimeoutError

        for _ in range(warm):
            round_()
        t = time.perf_counter()
        for _ in range(count):
            round_()
        d = time.perf_counter() - t
        p.join(WAIT)
        watchdog(0)
        return d / count * 1e6

    emit("py.W5.condition_pingpong", median(once), "us")


# ---------------------------------------------------------------------------------------------
# ipc-shm rows
# ---------------------------------------------------------------------------------------------

ARRAY_N = 1_000_000  # in --quick too, like the Rust side


def _array_child(arr, barrier, done, bulk):
    watchdog(120)
    if bulk:
        src = array.array("d", range(ARRAY_N))
    barrier.wait(WAIT)
    if bulk:
        memoryview(arr).cast("B")[:] = memoryview(src).cast("B")
    else:
        for i in range(ARRAY_N):
            arr[i] = i
    done.set()


def _array1m(id_, bulk):
    arr = ctx.Array("d", ARRAY_N, lock=False)

    def once():
        watchdog(120)
        barrier = ctx.Barrier(2)
        done = ctx.Event()
        p = ctx.Process(target=_array_child, args=(arr, barrier, done, bulk))
        p.start()
        barrier.wait(WAIT)
        t = time.perf_counter()
        if not done.wait(WAIT):
            raise TimeoutError
        if bulk:
            s = sum(memoryview(arr).cast("B").cast("d"))
        else:
            s = sum(arr)
        d = time.perf_counter() - t
        assert s == ARRAY_N * (ARRAY_N - 1) / 2, s
        p.join(WAIT)
        watchdog(0)
        return d * 1e3

    emit(id_, median(once), "ms")


def array1m_bulk():
    """W8.array1M_bulk: a child copies 1M doubles into a lock=False Array with one memcpy, the
    parent sums through a memoryview; ms from the barrier to the sum done."""
    _array1m("py.W8.array1M_bulk", True)


def array1m_loop():
    """W8.array1M_loop: the same, the child writing arr[i] = i element by element, the parent
    summing with sum(arr)."""
    _array1m("py.W8.array1M_loop", False)


def value_d():
    """W8.value_d: v.value = 1.5 then x = v.value, n times each, on Value('d', lock=False) and
    Value('d') (an RLock per access); ns per operation (mean of the write and the read)."""
    count = n(1_000_000)
    for lock, suffix in ((True, "lock"), (False, "nolock")):
        v = ctx.Value("d", 0.0, lock=lock)

        def once():
            t = time.perf_counter()
            for _ in range(count):
                v.value = 1.5
            for _ in range(count):
                x = v.value
            assert x == 1.5
            return (time.perf_counter() - t) / (2 * count) * 1e9

        emit("py.W8.value_d/get_set_" + suffix, median(once), "ns")


# (id, function, groups): a filter selects a workload when it occurs in the id or names one
# of its groups (the Rust crate whose rows compare against it).
WORKLOADS = [
    ("py.W1.pipe_rtt_int", pipe_rtt_int, "core"),
    ("py.W5.event_pingpong", event_pingpong, "core sync"),
    ("py.frame_roundtrip", pickle_roundtrip, "core"),
    ("py.W4.uncontended", uncontended, "sync"),
    ("py.W4.contended_lock", contended_lock, "sync"),
    ("py.W5.condition_pingpong", condition_pingpong, "sync"),
    ("py.W7.process_fork", process_fork, "process"),
    ("py.W7.process_forkserver", process_forkserver, "process"),
    ("py.W7.process_spawn", process_spawn, "process"),
    ("py.process_return_1KiB", process_return_1kib, "process"),
    ("py.W8.array1M_bulk", array1m_bulk, "shm"),
    ("py.W8.array1M_loop", array1m_loop, "shm"),
    ("py.W8.value_d", value_d, "shm"),
]

if __name__ == "__main__":
    if "--list" in sys.argv:
        for id_, _, _ in WORKLOADS:
            print(id_)
        sys.exit(0)
    for id_, f, groups in WORKLOADS:
        if FILTER in id_ or FILTER in groups.split():
            f()
