//! Workloads for `multiproc-fifo` (W9 in BENCH-WORKLOADS.md): raw writes through a named pipe.

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use multiproc_fifo::Fifo;

use crate::util::{Opts, emit, fork, median, reap, watchdog};
use crate::workload::Workload;

const WAIT: Duration = Duration::from_secs(60);

/// A child opens the fifo for writing and `write`s `count` blocks of `size` bytes; the parent
/// reads 64 KiB at a time until end of stream. Seconds from the open to the last byte.
fn run(opts: &Opts, size: usize, count: usize) -> f64 {
    median(opts.reps(), || {
        watchdog(120);
        let path = std::env::temp_dir().join(format!("ipc-bench-fifo-{}", std::process::id()));
        let fifo = Fifo::create(&path, 0o600).expect("mkfifo");
        let pid = fork(|| {
            let mut w = fifo.open_writer_timeout(WAIT).expect("open writer");
            let block = vec![0x5au8; size];
            for _ in 0..count {
                w.write_all(&block).expect("write");
            }
        });
        let mut r = fifo.open_reader_timeout(WAIT).expect("open reader");
        let mut buf = vec![0u8; 64 * 1024];
        let t = Instant::now();
        let mut got = 0;
        loop {
            let n = r.read(&mut buf).expect("read");
            if n == 0 {
                break;
            }
            got += n;
        }
        let d = t.elapsed();
        assert_eq!(got, size * count);
        reap(pid);
        watchdog(0);
        d.as_secs_f64()
    })
}

/// This module's workloads, in the order they run.
pub const WORKLOADS: &[Workload] = &[WRITES_64B, WRITES_64KIB];

pub const WRITES_64KIB: Workload = Workload {
    id: "fifo.64KiB_writes",
    what: "named pipe, 1,024 writes of 64 KiB (target: within 1.2x of a bare pipe)",
    python: &["py.W9.fifo_64KiB_writes"],
    limit: Some("L4_pipe_bw"),
    run: writes_64kib,
    ..Workload::ROW
};

/// `fifo.64KiB_writes`: W9.fifo_64KiB_writes — 1,024 writes of 64 KiB; GB/s.
pub fn writes_64kib(opts: &Opts) {
    // Always 64 MiB: fewer bytes measure start-up, not the stream.
    let count = 1_024;
    let secs = run(opts, 64 * 1024, count);
    emit(
        "fifo.64KiB_writes",
        (count * 64 * 1024) as f64 / secs / 1e9,
        "GB/s",
    );
}

pub const WRITES_64B: Workload = Workload {
    id: "fifo.64B_writes",
    what: "named pipe, 200,000 writes of 64 B, read in 64 KiB blocks (W9)",
    python: &["py.W9.fifo_64B_writes"],
    limit: Some("L4_pipe_64B_writes"),
    run: writes_64b,
    ..Workload::ROW
};

/// `fifo.64B_writes`: W9.fifo_64B_writes — 200,000 writes of 64 B, read in 64 KiB blocks;
/// writes/s.
pub fn writes_64b(opts: &Opts) {
    let count = opts.n(200_000);
    let secs = run(opts, 64, count);
    emit("fifo.64B_writes", count as f64 / secs, "msgs/s");
}
