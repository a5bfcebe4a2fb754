#!/usr/bin/env python3
"""Python multiprocessing baselines for `cargo xtask bench`.

Each workload prints one JSON line {"id", "value", "unit"}, like the Rust side (ipc-bench).
Definitions follow ../shared/BENCH-WORKLOADS.md (start method fork, a Barrier before the timed
region, warm-up round trips, a watchdog on every repetition).

Usage: python3 bench.py [--quick] [--apart=ID,ID...] [FILTER]

--apart names the workloads whose processes run pinned apart, as their Rust rows and limits do:
this process on one core, every process it starts on another (see bench/src/place.rs).
"""
import array
import json
import multiprocessing as mp
import multiprocessing.process
import os
import pickle
import signal
import statistics
import struct
import subprocess
import sys
import time

QUICK = "--quick" in sys.argv
ARGS = [a for a in sys.argv[1:] if not a.startswith("--")]
FILTER = ARGS[0] if ARGS else ""
REPS = 1 if QUICK else 3
WAIT = 60  # seconds: every blocking wait has this timeout
ctx = mp.get_context("fork")
APART = [a for arg in sys.argv[1:] if arg.startswith("--apart=")
         for a in arg[len("--apart="):].split(",") if a]

# Placement: the CPUs we may use, and where started processes go (None: anywhere).
CPUS = sorted(os.sched_getaffinity(0))
PEER_CPU = None


def _pin_all_threads(pid, cpus):
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            os.sched_setaffinity(int(tid), cpus)
        except OSError:
            pass  # the thread is gone


def place(apart):
    """Pins this process to the first CPU and every process it starts to the second (apart), or
    lets both go anywhere."""
    global PEER_CPU
    if apart and len(CPUS) >= 2:
        PEER_CPU = CPUS[1]
        _pin_all_threads(os.getpid(), {CPUS[0]})
    else:
        PEER_CPU = None
        _pin_all_threads(os.getpid(), set(CPUS))


_start = multiprocessing.process.BaseProcess.start


def _placed_start(self):
    _start(self)
    if PEER_CPU is not None and self.pid is not None:
        try:
            _pin_all_threads(self.pid, {PEER_CPU})
        except OSError:
            pass  # already gone


multiprocessing.process.BaseProcess.start = _placed_start


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


# (id, function, groups): a filter selects a workload when it occurs in the id or names one
# of its groups (the Rust crate whose rows compare against it).
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


_FIRST_START = (
    "import multiprocessing as mp, time\n"
    "t = time.perf_counter()\n"
    "p = mp.get_context('forkserver').Process(target=time.sleep, args=(0,))\n"
    "p.start()\n"
    "p.join()\n"
    "assert p.exitcode == 0\n"
    "print((time.perf_counter() - t) * 1e3)\n"
)


def process_first_start():
    """The first Process start + join of a fresh interpreter with the forkserver method (the
    server boots in it), timed inside it; median of 10 interpreters."""
    runs = max(3, n(10))
    watchdog(120)
    times = sorted(
        float(subprocess.run([sys.executable, "-c", _FIRST_START], check=True,
                             capture_output=True, text=True).stdout)
        for _ in range(runs)
    )
    watchdog(0)
    emit("py.process_first_start_forkserver", times[len(times) // 2], "ms")


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
# ipc-rpc rows (W10): xmlrpc.server in a child process, xmlrpc.client in the parent / children
# ---------------------------------------------------------------------------------------------

def _xmlrpc_server(conn, threaded):
    watchdog(300)
    import socketserver
    from xmlrpc.server import SimpleXMLRPCServer

    if threaded:
        class S(socketserver.ThreadingMixIn, SimpleXMLRPCServer):
            daemon_threads = True
    else:
        S = SimpleXMLRPCServer
    server = S(("127.0.0.1", 0), logRequests=False)
    server.register_function(lambda x, y: x + y, "add")
    server.register_function(lambda x: x, "echo")
    conn.send(server.server_address[1])
    server.serve_forever()


def _with_server(threaded, f):
    a, b = ctx.Pipe()
    p = ctx.Process(target=_xmlrpc_server, args=(b, threaded), daemon=True)
    p.start()
    if not a.poll(WAIT):
        raise TimeoutError("server did not start")
    url = "http://127.0.0.1:%d/RPC2" % a.recv()
    try:
        return f(url)
    finally:
        p.terminate()
        p.join(WAIT)


def xmlrpc_seq(threaded):
    """W10.xmlrpc_seq_*: 2,000 sequential add(2, 3) from one ServerProxy; calls/s."""
    import xmlrpc.client
    count = n(2_000)

    def once():
        watchdog(120)

        def run(url):
            proxy = xmlrpc.client.ServerProxy(url)
            for _ in range(20):
                proxy.add(2, 3)
            t = time.perf_counter()
            for _ in range(count):
                proxy.add(2, 3)
            return count / (time.perf_counter() - t)

        r = _with_server(threaded, run)
        watchdog(0)
        return r

    suffix = "threaded" if threaded else "single"
    emit("py.W10.xmlrpc_seq_" + suffix, median(once), "calls/s")


def _xmlrpc_client(url, barrier, done, count):
    import xmlrpc.client
    watchdog(120)
    proxy = xmlrpc.client.ServerProxy(url)
    for _ in range(20):
        proxy.add(2, 3)
    barrier.wait(WAIT)
    for _ in range(count):
        proxy.add(2, 3)
    done.send(1)


def xmlrpc_4clients(threaded):
    """W10.xmlrpc_4clients_*: 4 client processes x 1,000 add(2, 3), released by a barrier."""
    count = n(1_000)

    def once():
        watchdog(120)

        def run(url):
            barrier = ctx.Barrier(5)
            pipes = [ctx.Pipe(duplex=False) for _ in range(4)]
            kids = [ctx.Process(target=_xmlrpc_client, args=(url, barrier, w, count))
                    for (_, w) in pipes]
            for k in kids:
                k.start()
            barrier.wait(WAIT)
            t = time.perf_counter()
            for r, _ in pipes:
                if not r.poll(WAIT):
                    raise TimeoutError("client did not finish")
                r.recv()
            d = time.perf_counter() - t
            for k in kids:
                k.join(WAIT)
            return 4 * count / d

        r = _with_server(threaded, run)
        watchdog(0)
        return r

    suffix = "threaded" if threaded else "single"
    emit("py.W10.xmlrpc_4clients_" + suffix, median(once), "calls/s")


def xmlrpc_echo10k(threaded):
    """W10.xmlrpc_echo10k_*: echo(list(range(10_000))) there and back, 10 calls; ms per call."""
    import xmlrpc.client
    calls = n(10)
    data = list(range(10_000))

    def once():
        watchdog(120)

        def run(url):
            proxy = xmlrpc.client.ServerProxy(url)
            for _ in range(2):
                proxy.echo(data)
            t = time.perf_counter()
            for _ in range(calls):
                assert len(proxy.echo(data)) == len(data)
            return (time.perf_counter() - t) / calls * 1e3

        r = _with_server(threaded, run)
        watchdog(0)
        return r

    suffix = "threaded" if threaded else "single"
    emit("py.W10.xmlrpc_echo10k_" + suffix, median(once), "ms")


# ---------------------------------------------------------------------------------------------
# ipc-pipe rows (W1, W2)
# ---------------------------------------------------------------------------------------------

def _bytes_echo_child(conn, barrier, count):
    watchdog(120)
    barrier.wait(WAIT)
    for _ in range(count):
        conn.send_bytes(conn.recv_bytes())


def pipe_rtt_bytes8():
    """W1.pipe_rtt_bytes8: send_bytes(8 B) / recv_bytes() there and back on a duplex Pipe."""
    count, warm = n(20_000), 200
    msg = b"\x01" * 8

    def once():
        watchdog(120)
        a, b = ctx.Pipe()
        barrier = ctx.Barrier(2)
        p = ctx.Process(target=_bytes_echo_child, args=(b, barrier, warm + count))
        p.start()
        barrier.wait(WAIT)
        for _ in range(warm):
            a.send_bytes(msg)
            a.recv_bytes()
        t = time.perf_counter()
        for _ in range(count):
            a.send_bytes(msg)
            a.recv_bytes()
        d = time.perf_counter() - t
        p.join(WAIT)
        watchdog(0)
        return d / count * 1e6

    emit("py.W1.pipe_rtt_bytes8", median(once), "us")


def _tput_child(w, barrier, size, count):
    watchdog(120)
    msg = b"\x5a" * size
    barrier.wait(WAIT)
    for _ in range(count):
        w.send_bytes(msg)


def _pipe_tput(size, count):
    def once():
        watchdog(120)
        r, w = ctx.Pipe(duplex=False)
        barrier = ctx.Barrier(2)
        p = ctx.Process(target=_tput_child, args=(w, barrier, size, count))
        p.start()
        barrier.wait(WAIT)
        t = time.perf_counter()
        for _ in range(count):
            r.recv_bytes()
        d = time.perf_counter() - t
        p.join(WAIT)
        watchdog(0)
        return d

    return median(once)


def pipe_tput_64b():
    """W2.pipe_tput_64B: 200,000 messages of 64 B over Pipe(duplex=False); msgs/s."""
    count = n(200_000)
    emit("py.W2.pipe_tput_64B", count / _pipe_tput(64, count), "msgs/s")


def pipe_tput_64kib():
    """W2.pipe_tput_64KiB: 4,096 messages of 64 KiB over Pipe(duplex=False); GB/s."""
    count = max(1024, n(4096))
    emit("py.W2.pipe_tput_64KiB", count * 65536 / _pipe_tput(65536, count) / 1e9, "GB/s")


# ---------------------------------------------------------------------------------------------
# ipc-fifo rows (W9)
# ---------------------------------------------------------------------------------------------

def _fifo_writer(path, size, count):
    watchdog(120)
    import os
    fd = os.open(path, os.O_WRONLY)
    block = b"\x5a" * size
    for _ in range(count):
        os.write(fd, block)
    os.close(fd)


def _fifo_run(size, count):
    import os
    import tempfile

    def once():
        watchdog(120)
        d = tempfile.mkdtemp(prefix="ipc-bench-")
        path = os.path.join(d, "fifo")
        os.mkfifo(path)
        try:
            p = ctx.Process(target=_fifo_writer, args=(path, size, count))
            p.start()
            fd = os.open(path, os.O_RDONLY)
            t = time.perf_counter()
            got = 0
            while True:
                b = os.read(fd, 65536)
                if not b:
                    break
                got += len(b)
            dt = time.perf_counter() - t
            os.close(fd)
            p.join(WAIT)
            assert got == size * count
        finally:
            os.unlink(path)
            os.rmdir(d)
        watchdog(0)
        return dt

    return median(once)


def fifo_64kib():
    """W9.fifo_64KiB_writes: 1,024 x 64 KiB os.write into a fifo; GB/s."""
    count = 1024  # always 64 MiB: fewer bytes measure start-up, not the stream
    emit("py.W9.fifo_64KiB_writes", count * 65536 / _fifo_run(65536, count) / 1e9, "GB/s")


def fifo_64b():
    """W9.fifo_64B_writes: 200,000 x 64 B os.write; writes/s."""
    count = n(200_000)
    emit("py.W9.fifo_64B_writes", count / _fifo_run(64, count), "msgs/s")


# ---------------------------------------------------------------------------------------------
# ipc-queue rows
# ---------------------------------------------------------------------------------------------

def _q_put(q, count, item, marker):
    watchdog(120)
    for i in range(count):
        q.put(i if item is None else item)
    if marker:
        q.put(None)


def _q_get(q, count, got):
    watchdog(120)
    k = 0
    if count is None:
        while q.get(timeout=WAIT) is not None:
            k += 1
    else:
        for _ in range(count):
            q.get(timeout=WAIT)
            k += 1
    got.value += k


def _queue_1p1c(id_, make, count, item, unit):
    def once():
        watchdog(120)
        q = make()
        got = ctx.Value("q", 0)
        t = time.perf_counter()
        p = ctx.Process(target=_q_put, args=(q, count, item, False))
        c = ctx.Process(target=_q_get, args=(q, count, got))
        p.start(); c.start()
        c.join(WAIT); p.join(WAIT)
        d = time.perf_counter() - t
        watchdog(0)
        assert got.value == count
        return count * (len(item) / 1e6 if item is not None else 1) / d

    emit(id_, median(once), unit)


def queue_int_1p1c():
    """W3.queue_int_1p1c: Queue(), 1 producer puts ints, 1 consumer gets them; items/s."""
    _queue_1p1c("py.W3.queue_int_1p1c", ctx.Queue, n(200_000), None, "items/s")


def queue_bytes_1p1c():
    """W3.queue_bytes64KiB_1p1c: the same with 64 KiB bytes items; MB/s."""
    _queue_1p1c("py.W3.queue_bytes64KiB_1p1c", ctx.Queue, n(4096), b"\x07" * 65536, "MB/s")


def simplequeue_int_1p1c():
    """W3c.simplequeue_int_1p1c: SimpleQueue, 1 producer, 1 consumer, ints; items/s."""
    count = n(200_000)

    def once():
        watchdog(120)
        q = ctx.SimpleQueue()
        t = time.perf_counter()
        p = ctx.Process(target=_sq_put, args=(q, count))
        p.start()
        for _ in range(count):
            q.get()
        d = time.perf_counter() - t
        p.join(WAIT)
        watchdog(0)
        return count / d

    emit("py.W3c.simplequeue_int_1p1c", median(once), "items/s")


def _sq_put(q, count):
    watchdog(120)
    for i in range(count):
        q.put(i)


def queue_int_2p2c():
    """W3.queue_int_2p2c: 2 producers put n/2 ints then None; 2 consumers get until None."""
    each = n(100_000)

    def once():
        watchdog(120)
        q = ctx.Queue()
        got = ctx.Value("q", 0)
        t = time.perf_counter()
        ps = [ctx.Process(target=_q_put, args=(q, each, None, True)) for _ in range(2)]
        ps += [ctx.Process(target=_q_get, args=(q, None, got)) for _ in range(2)]
        for p in ps:
            p.start()
        for p in ps:
            p.join(WAIT)
        d = time.perf_counter() - t
        watchdog(0)
        assert got.value == 2 * each
        return 2 * each / d

    emit("py.W3.queue_int_2p2c", median(once), "items/s")


def _jq_put(q, count):
    watchdog(120)
    for i in range(count):
        q.put(i)
    q.join()


def _jq_get(q, count):
    watchdog(120)
    for _ in range(count):
        q.get(timeout=WAIT)
        q.task_done()


def joinablequeue_int_1p1c():
    """W3b.joinablequeue_int_1p1c: put n then join(); the consumer get + task_done n times."""
    count = n(200_000)

    def once():
        watchdog(120)
        q = ctx.JoinableQueue()
        t = time.perf_counter()
        c = ctx.Process(target=_jq_get, args=(q, count))
        p = ctx.Process(target=_jq_put, args=(q, count))
        c.start(); p.start()
        p.join(WAIT)
        d = time.perf_counter() - t
        c.join(WAIT)
        watchdog(0)
        return count / d

    emit("py.W3b.joinablequeue_int_1p1c", median(once), "items/s")


def _q_echo(a, b, count):
    watchdog(120)
    for _ in range(count):
        b.put(a.get(timeout=WAIT))


def queue_rtt_two_queues():
    """An int there and back through two Queues; us per round trip."""
    count = n(20_000)

    def once():
        watchdog(120)
        a, b = ctx.Queue(), ctx.Queue()
        p = ctx.Process(target=_q_echo, args=(a, b, count + 100))
        p.start()
        for i in range(100):
            a.put(i); b.get(timeout=WAIT)
        t = time.perf_counter()
        for i in range(count):
            a.put(i); b.get(timeout=WAIT)
        d = time.perf_counter() - t
        p.join(WAIT)
        watchdog(0)
        return d / count * 1e6

    emit("py.queue_rtt_two_queues", median(once), "us")


# (id, function, groups): a filter selects a workload when it occurs in the id or names one
# of its groups (the Rust crate whose rows compare against it).
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


# ---------------------------------------------------------------------------------------------
# Scale rows: many small objects
# ---------------------------------------------------------------------------------------------

def create_10k_locks():
    """10,000 ctx.Lock(), all kept alive; us for the 10,000."""
    def once():
        t = time.perf_counter()
        locks = [ctx.Lock() for _ in range(10_000)]
        took = time.perf_counter() - t
        del locks
        return took * 1e6

    emit("py.create_10k_locks", median(once), "us")


def create_10k_values():
    """10,000 ctx.Value('d', 0.0) (each with its RLock), all kept alive; us for the 10,000."""
    def once():
        t = time.perf_counter()
        values = [ctx.Value("d", 0.0) for _ in range(10_000)]
        took = time.perf_counter() - t
        del values
        return took * 1e6

    emit("py.create_10k_values", median(once), "us")


def _take_each(locks):
    for lock in locks:
        with lock:
            pass


def send_1k_locks_to_spawned():
    """1,000 Locks as the args of a spawn Process that takes and releases each; ms for start +
    join."""
    c = mp.get_context("spawn")
    locks = [c.Lock() for _ in range(1000)]

    def once():
        t = time.perf_counter()
        p = c.Process(target=_take_each, args=(locks,))
        p.start()
        p.join(WAIT)
        assert p.exitcode == 0, p.exitcode
        return (time.perf_counter() - t) * 1e3

    emit("py.send_1k_locks_to_spawned", median(once), "ms")


# (id, function, groups): a filter selects a workload when it occurs in the id or names one
# of its groups (the Rust crate whose rows compare against it).
# ---------------------------------------------------------------------------------------------
# ipc-pool rows (W6)
# ---------------------------------------------------------------------------------------------

def _double(x):
    return x * 2


def _fib(n):
    return n if n < 2 else _fib(n - 1) + _fib(n - 2)


def _pool2():
    pool = ctx.Pool(2)
    pool.map(_double, range(100))
    return pool


def pool_map_default():
    """W6.pool_map_default_chunksize: map(x*2) over 100,000 items; us per item."""
    count = max(10_000, n(100_000))
    with _pool2() as pool:
        def once():
            watchdog(120)
            t = time.perf_counter()
            pool.map(_double, range(count))
            watchdog(0)
            return (time.perf_counter() - t) / count * 1e6
        emit("py.W6.pool_map_default_chunksize", median(once), "us")


def pool_map_chunksize1():
    """W6.pool_map_chunksize1: map(x*2, range(20,000), chunksize=1); us per item."""
    count = max(2_000, n(20_000))
    with _pool2() as pool:
        def once():
            watchdog(120)
            t = time.perf_counter()
            pool.map(_double, range(count), chunksize=1)
            watchdog(0)
            return (time.perf_counter() - t) / count * 1e6
        emit("py.W6.pool_map_chunksize1", median(once), "us")


def pool_apply_async_get():
    """W6.pool_apply_async_get: 5,000 sequential apply_async(f, (1,)).get(); us per call."""
    count = max(500, n(5_000))
    with _pool2() as pool:
        for _ in range(200):
            pool.apply_async(_double, (1,)).get(WAIT)
        def once():
            watchdog(120)
            t = time.perf_counter()
            for _ in range(count):
                pool.apply_async(_double, (1,)).get(WAIT)
            watchdog(0)
            return (time.perf_counter() - t) / count * 1e6
        emit("py.W6.pool_apply_async_get", median(once), "us")


def pool_fib27x8():
    """W6.pool_fib27x8: fib(27) x 8 serially, then pool.map(fib, [27]*8, chunksize=1); speedup.
    Also emits the serial time (py.W6.pool_fib27x8_serial, ms): the Rust row picks its n so that
    its serial time is about this one."""
    serials = []
    with _pool2() as pool:
        def once():
            watchdog(120)
            t = time.perf_counter()
            for _ in range(8):
                _fib(27)
            serial = time.perf_counter() - t
            serials.append(serial * 1e3)
            t = time.perf_counter()
            pool.map(_fib, [27] * 8, chunksize=1)
            par = time.perf_counter() - t
            watchdog(0)
            return serial / par
        emit("py.W6.pool_fib27x8", statistics.median(once() for _ in range(max(REPS, 3))), "x")
    emit("py.W6.pool_fib27x8_serial", statistics.median(serials), "ms")


def fib_serial_ms():
    """Eight fib(27), once, in ms: what `cargo xtask bench` hands the Rust fib row as its
    target serial time."""
    t = time.perf_counter()
    for _ in range(8):
        _fib(27)
    return (time.perf_counter() - t) * 1e3


def pool_imap_unordered():
    """W6.pool_imap_unordered: iterate imap_unordered(x*2, range(100,000)), chunksize 1."""
    count = max(5_000, n(100_000))
    with _pool2() as pool:
        def once():
            watchdog(120)
            t = time.perf_counter()
            for _ in pool.imap_unordered(_double, range(count)):
                pass
            watchdog(0)
            return (time.perf_counter() - t) / count * 1e6
        emit("py.W6.pool_imap_unordered", median(once), "us")


def pool_lifecycle():
    """W6.pool_lifecycle: Pool(2), close(), join(), 10 cycles; ms per cycle."""
    def once():
        watchdog(120)
        t = time.perf_counter()
        for _ in range(10):
            p = ctx.Pool(2)
            p.close()
            p.join()
        watchdog(0)
        return (time.perf_counter() - t) / 10 * 1e3
    emit("py.W6.pool_lifecycle", median(once), "ms")


# ---------------------------------------------------------------------------------------------
# multiprocessing.connection Listener / Client rows
# ---------------------------------------------------------------------------------------------

LISTENER_KEY = b"bench key, 32 bytes long........"


def _listener_address(tcp):
    return ("127.0.0.1", 0) if tcp else "\0multiproc-bench-py-%d" % time.monotonic_ns()


def _echo_server(listener):
    watchdog(600)
    while True:
        try:
            c = listener.accept()
        except Exception:
            continue
        try:
            while True:
                c.send_bytes(c.recv_bytes())
        except (EOFError, OSError):
            c.close()


def _listener_connect_cycle(id_, tcp):
    """Client(address, authkey) + 8 B there and back + close, against a Listener in a forked
    child; us per cycle."""
    from multiprocessing.connection import Client, Listener
    # Python's TCP handshake waits on Nagle's algorithm (~44 ms): fewer rounds there.
    count = n(100) if tcp else n(2_000)

    def once():
        watchdog(300)
        listener = Listener(_listener_address(tcp), authkey=LISTENER_KEY)
        address = listener.address
        p = ctx.Process(target=_echo_server, args=(listener,), daemon=True)
        p.start()
        listener.close()  # the child serves on its copy
        for _ in range(min(count, 20)):
            with Client(address, authkey=LISTENER_KEY) as c:
                c.send_bytes(b"\1" * 8)
                c.recv_bytes()
        t = time.perf_counter()
        for _ in range(count):
            with Client(address, authkey=LISTENER_KEY) as c:
                c.send_bytes(b"\1" * 8)
                c.recv_bytes()
        d = time.perf_counter() - t
        p.terminate()
        p.join(WAIT)
        watchdog(0)
        return d / count * 1e6

    emit(id_, median(once), "us")


def _rtt_server(listener):
    watchdog(300)
    c = listener.accept()
    try:
        while True:
            c.send(c.recv())
    except EOFError:
        pass


def _listener_rtt(id_, tcp):
    """send(i) / recv() on an established, authenticated connection; us per round trip."""
    from multiprocessing.connection import Client, Listener
    count, warm = n(20_000), 200

    def once():
        watchdog(300)
        listener = Listener(_listener_address(tcp), authkey=LISTENER_KEY)
        p = ctx.Process(target=_rtt_server, args=(listener,))
        p.start()
        c = Client(listener.address, authkey=LISTENER_KEY)
        for i in range(warm):
            c.send(i)
            c.recv()
        t = time.perf_counter()
        for i in range(count):
            c.send(i)
            c.recv()
        d = time.perf_counter() - t
        c.close()
        p.join(WAIT)
        listener.close()
        watchdog(0)
        return d / count * 1e6

    emit(id_, median(once), "us")


# ---------------------------------------------------------------------------------------------
# multiprocessing.managers rows
# ---------------------------------------------------------------------------------------------


def _manager_rows(id_, tcp, calls, setup):
    """One proxy call per operation through a Manager's server process; us per call."""
    from multiprocessing.managers import SyncManager
    count = n(20_000)

    def once():
        watchdog(300)
        if tcp:
            m = SyncManager(address=("127.0.0.1", 0), authkey=LISTENER_KEY)
        else:
            m = SyncManager()
        m.start()
        f = setup(m)
        for i in range(200):
            f(i)
        t = time.perf_counter()
        for i in range(count):
            f(i)
        d = time.perf_counter() - t
        m.shutdown()
        watchdog(0)
        return d / (count * calls) * 1e6

    emit(id_, median(once), "us")


def _dict_set_get(m):
    d = m.dict()

    def f(i):
        d[i % 64] = i
        assert d[i % 64] == i
    return f


def _list_append(m):
    l = m.list()

    def f(i):
        l.append(i)
        if i % 1000 == 999:
            del l[:]
    return f


def _namespace_get(m):
    ns = m.Namespace()
    ns.a = 1

    def f(i):
        assert ns.a == 1
    return f


def _queue_put_get(m):
    q = m.Queue()

    def f(i):
        q.put(i)
        assert q.get() == i
    return f


WORKLOADS = [
    ("py.manager_dict_set_get",
     lambda: _manager_rows("py.manager_dict_set_get", False, 2, _dict_set_get), "manager"),
    ("py.manager_list_append",
     lambda: _manager_rows("py.manager_list_append", False, 1, _list_append), "manager"),
    ("py.manager_namespace_get",
     lambda: _manager_rows("py.manager_namespace_get", False, 1, _namespace_get), "manager"),
    ("py.manager_queue_put_get",
     lambda: _manager_rows("py.manager_queue_put_get", False, 2, _queue_put_get), "manager"),
    ("py.manager_dict_set_get_tcp",
     lambda: _manager_rows("py.manager_dict_set_get_tcp", True, 2, _dict_set_get), "manager"),
    ("py.W1.pipe_rtt_int", pipe_rtt_int, "core pipe"),
    ("py.W1.pipe_rtt_bytes8", pipe_rtt_bytes8, "pipe"),
    ("py.W2.pipe_tput_64B", pipe_tput_64b, "pipe"),
    ("py.W2.pipe_tput_64KiB", pipe_tput_64kib, "pipe"),
    ("py.W9.fifo_64KiB_writes", fifo_64kib, "fifo"),
    ("py.W9.fifo_64B_writes", fifo_64b, "fifo"),
    ("py.W6.pool_map_default_chunksize", pool_map_default, "pool"),
    ("py.W6.pool_map_chunksize1", pool_map_chunksize1, "pool"),
    ("py.W6.pool_apply_async_get", pool_apply_async_get, "pool"),
    ("py.W6.pool_fib27x8", pool_fib27x8, "pool"),
    ("py.W6.pool_imap_unordered", pool_imap_unordered, "pool"),
    ("py.W6.pool_lifecycle", pool_lifecycle, "pool"),
    ("py.W8.array1M_bulk", array1m_bulk, "shm"),
    ("py.W8.array1M_loop", array1m_loop, "shm"),
    ("py.W8.value_d", value_d, "shm"),
    ("py.create_10k_values", create_10k_values, "shm"),
    ("py.create_10k_locks", create_10k_locks, "sync"),
    ("py.send_1k_locks_to_spawned", send_1k_locks_to_spawned, "sync"),
    ("py.queue_rtt_two_queues", queue_rtt_two_queues, "queue"),
    ("py.W3.queue_int_1p1c", queue_int_1p1c, "queue"),
    ("py.W3.queue_bytes64KiB_1p1c", queue_bytes_1p1c, "queue"),
    ("py.W3.queue_int_2p2c", queue_int_2p2c, "queue"),
    ("py.W3b.joinablequeue_int_1p1c", joinablequeue_int_1p1c, "queue"),
    ("py.W3c.simplequeue_int_1p1c", simplequeue_int_1p1c, "queue"),
    ("py.W5.event_pingpong", event_pingpong, "core sync"),
    ("py.frame_roundtrip", pickle_roundtrip, "core"),
    ("py.W4.uncontended", uncontended, "sync"),
    ("py.W4.contended_lock", contended_lock, "sync"),
    ("py.W5.condition_pingpong", condition_pingpong, "sync"),
    ("py.W7.process_fork", process_fork, "process"),
    ("py.W7.process_forkserver", process_forkserver, "process"),
    ("py.W7.process_spawn", process_spawn, "process"),
    ("py.process_return_1KiB", process_return_1kib, "process"),
    ("py.process_first_start_forkserver", process_first_start, "process"),
    ("py.W10.xmlrpc_seq_single", lambda: xmlrpc_seq(False), "rpc"),
    ("py.W10.xmlrpc_seq_threaded", lambda: xmlrpc_seq(True), "rpc"),
    ("py.W10.xmlrpc_4clients_single", lambda: xmlrpc_4clients(False), "rpc"),
    ("py.W10.xmlrpc_4clients_threaded", lambda: xmlrpc_4clients(True), "rpc"),
    ("py.W10.xmlrpc_echo10k_single", lambda: xmlrpc_echo10k(False), "rpc"),
    ("py.W10.xmlrpc_echo10k_threaded", lambda: xmlrpc_echo10k(True), "rpc"),
    ("py.listener_connect_auth_rtt_unix",
     lambda: _listener_connect_cycle("py.listener_connect_auth_rtt_unix", False), "listener"),
    ("py.listener_connect_auth_rtt_tcp",
     lambda: _listener_connect_cycle("py.listener_connect_auth_rtt_tcp", True), "listener"),
    ("py.listener_rtt_unix", lambda: _listener_rtt("py.listener_rtt_unix", False), "listener"),
    ("py.listener_rtt_tcp", lambda: _listener_rtt("py.listener_rtt_tcp", True), "listener"),
]

if __name__ == "__main__":
    if "--fib-serial-ms" in sys.argv:
        print(fib_serial_ms())
        sys.exit(0)
    if "--list" in sys.argv:
        for id_, _, _ in WORKLOADS:
            print(id_)
        sys.exit(0)
    for id_, f, groups in WORKLOADS:
        if FILTER in id_ or FILTER in groups.split():
            place(any(a.startswith(id_) for a in APART))
            f()
