//! The bare limits: what the kernel and the CPU allow, measured with direct syscalls and no
//! library code. Every `multiproc` row is shown beside one of these.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Instant;

use crate::place::Placement;
use crate::util::{Opts, emit, fork, median, per_op, reap, shared_page, watchdog};
use crate::workload::Workload;

const MSG: usize = 8;

/// `(read, write)` descriptors of one direction.
type Dir = (i32, i32);

fn rw(fd: i32, buf: &mut [u8; MSG], write: bool) {
    let mut done = 0;
    while done < MSG {
        // SAFETY: `buf[done..]` is valid for `MSG - done` bytes.
        let n = unsafe {
            if write {
                libc::write(fd, buf[done..].as_ptr().cast(), MSG - done)
            } else {
                libc::read(fd, buf[done..].as_mut_ptr().cast(), MSG - done)
            }
        };
        assert!(n > 0, "pipe i/o failed or peer gone");
        done += n as usize;
    }
}

/// Ping-pong of 8 bytes over two one-way fds pairs: (parent→child, child→parent).
fn pingpong(id: &str, opts: &Opts, make: fn() -> (Dir, Dir)) {
    let n = opts.n(100_000);
    let warm = 2_000;
    let v = median(opts.reps(), || {
        watchdog(120);
        let ((a_r, a_w), (b_r, b_w)) = make();
        let pid = fork(|| {
            let mut buf = [0u8; MSG];
            for _ in 0..warm + n {
                rw(a_r, &mut buf, false);
                rw(b_w, &mut buf, true);
            }
        });
        let mut buf = [1u8; MSG];
        for _ in 0..warm {
            rw(a_w, &mut buf, true);
            rw(b_r, &mut buf, false);
        }
        let t = Instant::now();
        for _ in 0..n {
            rw(a_w, &mut buf, true);
            rw(b_r, &mut buf, false);
        }
        let d = t.elapsed();
        reap(pid);
        for fd in [a_r, a_w, b_r, b_w] {
            // SAFETY: closing fds this function opened.
            unsafe { libc::close(fd) };
        }
        watchdog(0);
        per_op(d, n, "us")
    });
    emit(id, v, "us");
}

fn two_pipes() -> (Dir, Dir) {
    let mut a = [0; 2];
    let mut b = [0; 2];
    // SAFETY: pipe(2) fills the arrays.
    unsafe {
        assert_eq!(libc::pipe(a.as_mut_ptr()), 0);
        assert_eq!(libc::pipe(b.as_mut_ptr()), 0);
    }
    ((a[0], a[1]), (b[0], b[1]))
}

fn one_socketpair() -> (Dir, Dir) {
    let mut s = [0; 2];
    // SAFETY: socketpair(2) fills the array.
    unsafe {
        assert_eq!(
            libc::socketpair(libc::AF_UNIX, libc::SOCK_STREAM, 0, s.as_mut_ptr()),
            0
        );
    }
    // Parent writes s[0], child reads s[1]; child writes s[1], parent reads s[0].
    ((s[1], s[0]), (s[0], s[1]))
}

/// This module's workloads, in the order they run.
pub const WORKLOADS: &[Workload] = &[
    FUTEX_PINGPONG,
    SPIN_PINGPONG,
    UNIX_STREAM_PINGPONG,
    PIPE_PINGPONG,
    PIPE_64B_WRITES,
    PIPE_BW,
    UNIX_STREAM_BW,
    MEMCPY_BW,
    CAS_LOCK,
    CONTENDED_FUTEX_MUTEX3,
    FORK_EXIT_WAIT,
    MEMCPY_8MB_PLUS_SUM,
];

pub const PIPE_PINGPONG: Workload = Workload {
    id: "L1_pipe_pingpong",
    what: "8 B round trip over two pipes",
    placement: Placement::Apart,
    same_core: true,
    run: pipe_pingpong,
    ..Workload::LIMIT
};

/// `L1_pipe_pingpong`: 8 bytes there and back over two `pipe(2)`s, µs per round trip.
pub fn pipe_pingpong(opts: &Opts) {
    pingpong("L1_pipe_pingpong", opts, two_pipes);
}

pub const UNIX_STREAM_PINGPONG: Workload = Workload {
    id: "L1_unix_stream_pingpong",
    what: "8 B round trip over a Unix stream socket pair",
    placement: Placement::Apart,
    same_core: true,
    run: unix_stream_pingpong,
    ..Workload::LIMIT
};

/// `L1_unix_stream_pingpong`: the same over one `socketpair(AF_UNIX, SOCK_STREAM)`.
pub fn unix_stream_pingpong(opts: &Opts) {
    pingpong("L1_unix_stream_pingpong", opts, one_socketpair);
}

fn futex(word: &AtomicU32, op: i32, val: u32) {
    // SAFETY: FUTEX_WAIT/FUTEX_WAKE on a valid, aligned word; no timeout pointer.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            op,
            val,
            std::ptr::null::<libc::timespec>(),
        );
    }
}

pub const FUTEX_PINGPONG: Workload = Workload {
    id: "L2_futex_pingpong",
    what: "futex hand-over round trip, one shared word",
    placement: Placement::Apart,
    same_core: true,
    busy: true,
    run: futex_pingpong,
    ..Workload::LIMIT
};

/// `L2_futex_pingpong`: one word in a shared page; parent sets 1 and wakes, child waits for 1,
/// sets 0 and wakes. µs per round trip.
pub fn futex_pingpong(opts: &Opts) {
    let n = opts.n(100_000);
    let warm = 2_000;
    let page = shared_page(4096);
    // SAFETY: the page is 4096 bytes, aligned, zeroed, and lives for the process.
    let word: &AtomicU32 = unsafe { &*page.cast::<AtomicU32>() };
    let v = median(opts.reps(), || {
        watchdog(120);
        word.store(0, Ordering::SeqCst);
        let pid = fork(|| {
            for _ in 0..warm + n {
                while word.load(Ordering::Acquire) != 1 {
                    futex(word, libc::FUTEX_WAIT, 0);
                }
                word.store(0, Ordering::Release);
                futex(word, libc::FUTEX_WAKE, 1);
            }
        });
        let round = || {
            word.store(1, Ordering::Release);
            futex(word, libc::FUTEX_WAKE, 1);
            while word.load(Ordering::Acquire) != 0 {
                futex(word, libc::FUTEX_WAIT, 1);
            }
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
    emit("L2_futex_pingpong", v, "us");
}

pub const SPIN_PINGPONG: Workload = Workload {
    id: "L3_spin_pingpong",
    what: "cache-line hand-over round trip, both processes spinning on their cores (the floor of a round trip between two running processes)",
    placement: Placement::Apart,
    run: spin_pingpong,
    ..Workload::LIMIT
};

/// `L3_spin_pingpong`: two words on two cache lines of a shared page; the parent stores `i` in
/// one and spins until the child, spinning on it, stores `i` in the other. µs per round trip.
/// Both processes must keep their cores: on one core (or beside a busy process) each hand-over
/// waits for a time slice, so this limit has no same-core or `--busy` run.
pub fn spin_pingpong(opts: &Opts) {
    let n = opts.n(1_000_000) as u64;
    let warm = 10_000;
    let page = shared_page(4096);
    // SAFETY: the page is 4096 bytes, aligned, zeroed, and lives for the process; the two words
    // are 128 bytes apart (two lines, and not a prefetcher's pair).
    let (ping, pong): (&AtomicU64, &AtomicU64) = unsafe {
        (
            &*page.cast::<AtomicU64>(),
            &*page.add(128).cast::<AtomicU64>(),
        )
    };
    let v = median(opts.reps(), || {
        watchdog(120);
        ping.store(0, Ordering::SeqCst);
        pong.store(0, Ordering::SeqCst);
        let pid = fork(|| {
            for i in 1..=warm + n {
                while ping.load(Ordering::Acquire) != i {
                    std::hint::spin_loop();
                }
                pong.store(i, Ordering::Release);
            }
        });
        let round = |i: u64| {
            ping.store(i, Ordering::Release);
            while pong.load(Ordering::Acquire) != i {
                std::hint::spin_loop();
            }
        };
        (1..=warm).for_each(round);
        let t = Instant::now();
        (warm + 1..=warm + n).for_each(round);
        let d = t.elapsed();
        reap(pid);
        watchdog(0);
        per_op(d, n as usize, "us")
    });
    emit("L3_spin_pingpong", v, "us");
}

pub const MEMCPY_BW: Workload = Workload {
    id: "L5_memcpy_64KiB_bw",
    what: "memcpy of 64 KiB blocks, one process",
    run: memcpy_bw,
    ..Workload::LIMIT
};

/// `L5_memcpy_64KiB_bw`: one process copies a 64 KiB block into a 16 × 64 KiB region, cycling,
/// 1 GiB in all. GB/s.
pub fn memcpy_bw(opts: &Opts) {
    const BLOCK: usize = 64 * 1024;
    let total: usize = if opts.quick { 256 << 20 } else { 1 << 30 };
    let src = vec![0x5au8; BLOCK];
    let mut dst = vec![0u8; 16 * BLOCK];
    let v = median(opts.reps(), || {
        let t = Instant::now();
        for i in 0..total / BLOCK {
            let off = (i % 16) * BLOCK;
            dst[off..off + BLOCK].copy_from_slice(std::hint::black_box(&src));
            std::hint::black_box(&mut dst);
        }
        total as f64 / t.elapsed().as_secs_f64() / 1e9
    });
    emit("L5_memcpy_64KiB_bw", v, "GB/s");
}

pub const MEMCPY_8MB_PLUS_SUM: Workload = Workload {
    id: "L5_memcpy_8MB_plus_sum",
    what: "memcpy of 1M f64 (8 MB) and the sum of the copy, one process",
    run: memcpy_8mb_plus_sum,
    ..Workload::LIMIT
};

/// `L5_memcpy_8MB_plus_sum`: one process copies 1M `f64` (8 MB, both buffers touched before)
/// and sums the copy, ms: what the `shm.array1M_*` rows would cost with no second process and
/// no lock.
pub fn memcpy_8mb_plus_sum(opts: &Opts) {
    const N: usize = crate::shm::N;
    let src: Vec<f64> = (0..N).map(|i| i as f64).collect();
    let mut dst = vec![0.0f64; N];
    let v = median(opts.reps().max(3), || {
        let t = Instant::now();
        dst.copy_from_slice(std::hint::black_box(&src));
        let s: f64 = std::hint::black_box(&dst).iter().sum();
        let d = t.elapsed();
        assert_eq!(s, (N as f64) * (N as f64 - 1.0) / 2.0);
        d.as_secs_f64() * 1e3
    });
    emit("L5_memcpy_8MB_plus_sum", v, "ms");
}

pub const CAS_LOCK: Workload = Workload {
    id: "L6_cas_lock_uncontended",
    what: "compare-exchange lock + unlock, one process",
    run: cas_lock,
    ..Workload::LIMIT
};

/// `L6_cas_lock_uncontended`: compare-exchange 0→1 (acquire) + store 0 (release), ns per pair.
pub fn cas_lock(opts: &Opts) {
    let n = opts.n(20_000_000);
    let lock = AtomicU32::new(0);
    let v = median(opts.reps(), || {
        let t = Instant::now();
        for _ in 0..n {
            let l = std::hint::black_box(&lock);
            while l
                .compare_exchange(0, 1, Ordering::Acquire, Ordering::Relaxed)
                .is_err()
            {}
            l.store(0, Ordering::Release);
        }
        per_op(t.elapsed(), n, "ns")
    });
    emit("L6_cas_lock_uncontended", v, "ns");
}

/// Drepper's "mutex3" (*Futexes Are Tricky*): 0 free, 1 locked, 2 locked with waiters.
fn mutex3_lock(word: &AtomicU32) {
    let mut c = match word.compare_exchange(0, 1, Ordering::Acquire, Ordering::Relaxed) {
        Ok(_) => return,
        Err(c) => c,
    };
    if c != 2 {
        c = word.swap(2, Ordering::Acquire);
    }
    while c != 0 {
        futex(word, libc::FUTEX_WAIT, 2);
        c = word.swap(2, Ordering::Acquire);
    }
}

fn mutex3_unlock(word: &AtomicU32) {
    if word.fetch_sub(1, Ordering::Release) != 1 {
        word.store(0, Ordering::Release);
        futex(word, libc::FUTEX_WAKE, 1);
    }
}

pub const CONTENDED_FUTEX_MUTEX3: Workload = Workload {
    id: "L7_contended_futex_mutex3",
    what: "two processes x 1M increments under Drepper's mutex3, per increment",
    placement: Placement::Apart,
    run: contended_futex_mutex3,
    ..Workload::LIMIT
};

/// `L7_contended_futex_mutex3`: parent and a forked child each increment a shared counter 1M
/// times under mutex3, starting together; wall time / 2M, ns per increment; count checked.
pub fn contended_futex_mutex3(opts: &Opts) {
    let n = opts.n(1_000_000) as u32;
    let page = shared_page(4096);
    // SAFETY: the page is 4096 bytes, aligned, zeroed, and lives for the process.
    let words: &[AtomicU32; 4] = unsafe { &*page.cast::<[AtomicU32; 4]>() };
    let (lock, start, ready, counter) = (&words[0], &words[1], &words[2], &words[3]);
    let v = median(opts.reps(), || {
        watchdog(120);
        for w in words {
            w.store(0, Ordering::SeqCst);
        }
        let bump = || {
            for _ in 0..n {
                mutex3_lock(lock);
                counter.store(counter.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
                mutex3_unlock(lock);
            }
        };
        let pid = fork(|| {
            ready.store(1, Ordering::Release);
            while start.load(Ordering::Acquire) == 0 {
                std::hint::spin_loop();
            }
            bump();
        });
        while ready.load(Ordering::Acquire) == 0 {
            std::hint::spin_loop();
        }
        let t = Instant::now();
        start.store(1, Ordering::Release);
        bump();
        reap(pid);
        let d = t.elapsed();
        assert_eq!(counter.load(Ordering::Relaxed), 2 * n, "count not exact");
        watchdog(0);
        per_op(d, 2 * n as usize, "ns")
    });
    emit("L7_contended_futex_mutex3", v, "ns");
}

pub const FORK_EXIT_WAIT: Workload = Workload {
    id: "L8_fork_exit_wait",
    what: "fork + _exit + waitpid",
    run: fork_exit_wait,
    ..Workload::LIMIT
};

/// `L8_fork_exit_wait`: `fork()`, child `_exit(0)`, `waitpid`. µs per process.
pub fn fork_exit_wait(opts: &Opts) {
    let n = opts.n(3_000);
    let v = median(opts.reps(), || {
        watchdog(120);
        let t = Instant::now();
        for _ in 0..n {
            // SAFETY: single-threaded process; the child only calls `_exit`.
            let pid = unsafe { libc::fork() };
            if pid == 0 {
                // SAFETY: `_exit` is async-signal-safe.
                unsafe { libc::_exit(0) };
            }
            assert!(pid > 0);
            let mut st = 0;
            // SAFETY: waitpid on our own child.
            unsafe { libc::waitpid(pid, &mut st, 0) };
        }
        watchdog(0);
        per_op(t.elapsed(), n, "us")
    });
    emit("L8_fork_exit_wait", v, "us");
}

/// Streams `total` bytes in 64 KiB `write`s from a child into `w`, the parent `read`s them from
/// `r` 64 KiB at a time; GB/s from start to the last byte.
fn stream_bw(id: &str, opts: &Opts, make: fn() -> (Dir, Dir)) {
    const BLOCK: usize = 64 * 1024;
    let total: usize = if opts.quick { 256 << 20 } else { 1 << 30 };
    let v = median(opts.reps(), || {
        watchdog(120);
        let ((r, w), (x, y)) = make();
        let pid = fork(|| {
            let buf = vec![0x5au8; BLOCK];
            let mut sent = 0;
            while sent < total {
                // SAFETY: `buf` is valid for BLOCK bytes.
                let n = unsafe { libc::write(w, buf.as_ptr().cast(), BLOCK) };
                assert!(n > 0, "write");
                sent += n as usize;
            }
        });
        let mut buf = vec![0u8; BLOCK];
        let t = Instant::now();
        let mut got = 0;
        while got < total {
            // SAFETY: `buf` is valid for BLOCK bytes.
            let n = unsafe { libc::read(r, buf.as_mut_ptr().cast(), BLOCK) };
            assert!(n > 0, "read");
            got += n as usize;
        }
        let d = t.elapsed();
        reap(pid);
        for fd in [r, w, x, y] {
            // SAFETY: closing fds this function opened.
            unsafe { libc::close(fd) };
        }
        watchdog(0);
        total as f64 / d.as_secs_f64() / 1e9
    });
    emit(id, v, "GB/s");
}

pub const PIPE_BW: Workload = Workload {
    id: "L4_pipe_bw",
    what: "64 KiB writes through a default pipe, one process to another",
    run: pipe_bw,
    ..Workload::LIMIT
};

/// `L4_pipe_bw`: 64 KiB `write`s through a default pipe, 1 GiB. GB/s.
pub fn pipe_bw(opts: &Opts) {
    stream_bw("L4_pipe_bw", opts, two_pipes);
}

pub const UNIX_STREAM_BW: Workload = Workload {
    id: "L4_unix_stream_bw",
    what: "64 KiB writes through a Unix stream socket pair",
    run: unix_stream_bw,
    ..Workload::LIMIT
};

/// `L4_unix_stream_bw`: the same over `socketpair(AF_UNIX, SOCK_STREAM)`.
pub fn unix_stream_bw(opts: &Opts) {
    stream_bw("L4_unix_stream_bw", opts, one_socketpair);
}

pub const PIPE_64B_WRITES: Workload = Workload {
    id: "L4_pipe_64B_writes",
    what: "72-byte writes (64 B + header) into a pipe, read in 64 KiB blocks",
    run: pipe_64b_writes,
    ..Workload::LIMIT
};

/// `L4_pipe_64B_writes`: a child `write`s 200,000 blocks of 72 bytes (a 64 B message and its
/// 8-byte header) into a pipe, the parent reads 64 KiB at a time until it has them all; writes
/// per second. The floor for one-way small messages that are each handed to the kernel at once.
pub fn pipe_64b_writes(opts: &Opts) {
    const MSG: usize = 72;
    let count = opts.n(200_000);
    let v = median(opts.reps(), || {
        watchdog(120);
        let ((r, w), (x, y)) = two_pipes();
        let pid = fork(|| {
            let buf = [0x5au8; MSG];
            for _ in 0..count {
                // SAFETY: `buf` is valid for MSG bytes.
                let n = unsafe { libc::write(w, buf.as_ptr().cast(), MSG) };
                assert_eq!(n, MSG as isize, "write");
            }
        });
        let mut buf = vec![0u8; 64 * 1024];
        let t = Instant::now();
        let mut got = 0;
        while got < count * MSG {
            // SAFETY: `buf` is valid for its length.
            let n = unsafe { libc::read(r, buf.as_mut_ptr().cast(), buf.len()) };
            assert!(n > 0, "read");
            got += n as usize;
        }
        let d = t.elapsed();
        reap(pid);
        for fd in [r, w, x, y] {
            // SAFETY: closing fds this function opened.
            unsafe { libc::close(fd) };
        }
        watchdog(0);
        count as f64 / d.as_secs_f64()
    });
    emit("L4_pipe_64B_writes", v, "msgs/s");
}
