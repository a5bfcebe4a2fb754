//! `cargo xtask bench`: runs each registered workload in Rust (`multiproc-bench`) and the same
//! workload with Python's `multiprocessing` (`bench/python/bench.py`) in the same run, beside
//! the bare kernel limits, and prints one table; writes it to `target/bench/bench.md` and
//! `target/bench/bench.json`. Records the machine's load before and during the run.
//!
//! To add a workload: a function in `bench/src/<crate>.rs` (listed in `bench/src/main.rs`), its
//! Python twin in `bench/python/bench.py`, and a [`Row`] here.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::util::{self, run_captured};

/// One line of the comparison table.
struct Row {
    /// The id `multiproc-bench` emits.
    rust: &'static str,
    /// The id `bench.py` emits for the same work, if Python has one.
    python: Option<&'static str>,
    /// The bare limit this row is held against.
    limit: Option<&'static str>,
    /// What is measured.
    what: &'static str,
}

const ROWS: &[Row] = &[
    Row {
        rust: "queue.int_1p1c",
        python: Some("py.W3.queue_int_1p1c"),
        limit: None,
        what: "Queue, 1 producer -> 1 consumer, small ints (target >= 5M items/s, 30x Python)",
    },
    Row {
        rust: "queue.bytes64KiB_1p1c",
        python: Some("py.W3.queue_bytes64KiB_1p1c"),
        limit: None,
        what: "Queue, 1 -> 1, 64 KiB Bytes items, MB/s (target >= 5 GB/s)",
    },
    Row {
        rust: "queue.int_2p2c",
        python: Some("py.W3.queue_int_2p2c"),
        limit: None,
        what: "Queue, 2 producers -> 2 consumers, small ints",
    },
    Row {
        rust: "queue.joinable_int_1p1c",
        python: Some("py.W3b.joinablequeue_int_1p1c"),
        limit: None,
        what: "JoinableQueue, get + task_done per item, producer joins",
    },
    Row {
        rust: "queue.rtt_two_queues",
        python: Some("py.queue_rtt_two_queues"),
        limit: Some("L2_futex_pingpong"),
        what: "an int there and back through two Queues (target < 2 us)",
    },
    Row {
        rust: "core.futex_pingpong",
        python: Some("py.W5.event_pingpong"),
        limit: Some("L2_futex_pingpong"),
        what: "futex wake between two processes, round trip (Python: two Events)",
    },
    Row {
        rust: "core.channel_rtt",
        python: Some("py.W1.pipe_rtt_int"),
        limit: Some("L1_unix_stream_pingpong"),
        what: "an integer there and back over a Channel (Python: Pipe send/recv)",
    },
    Row {
        rust: "core.frame_roundtrip",
        python: Some("py.frame_roundtrip"),
        limit: None,
        what: "frame encode + decode of (42, None, \"hello\") (Python: pickle + header)",
    },
    Row {
        rust: "process.fork_start_join",
        python: Some("py.W7.process_fork"),
        limit: Some("L8_fork_exit_wait"),
        what: "Process start + join of a no-op child, fork (W7)",
    },
    Row {
        rust: "process.forkserver_start_join",
        python: Some("py.W7.process_forkserver"),
        limit: Some("L8_fork_exit_wait"),
        what: "Process start + join of a no-op child, forkserver (W7)",
    },
    Row {
        rust: "process.spawn_start_join",
        python: Some("py.W7.process_spawn"),
        limit: None,
        what: "Process start + join of a no-op child, spawn (W7)",
    },
    Row {
        rust: "process.return_1KiB",
        python: Some("py.process_return_1KiB"),
        limit: Some("L8_fork_exit_wait"),
        what: "fork a child that returns 1 KiB; join and get it (Python: Process + Pipe)",
    },
    Row {
        rust: "sync.lock_uncontended",
        python: Some("py.W4.uncontended/lock_acquire_release"),
        limit: Some("L6_cas_lock_uncontended"),
        what: "Lock acquire + release, one process (target: within 3x of the CAS lock)",
    },
    Row {
        rust: "sync.rlock_uncontended",
        python: Some("py.W4.uncontended/rlock_acquire_release"),
        limit: Some("L6_cas_lock_uncontended"),
        what: "RLock acquire + release, one process",
    },
    Row {
        rust: "sync.semaphore_uncontended",
        python: Some("py.W4.uncontended/semaphore_acquire_release"),
        limit: Some("L6_cas_lock_uncontended"),
        what: "Semaphore(1) acquire + release, one process",
    },
    Row {
        rust: "sync.lock_contended_2x1M",
        python: Some("py.W4.contended_lock"),
        limit: Some("L7_contended_futex_mutex3"),
        what: "two processes increment a counter under one Lock, per increment (target: within 1.5x of mutex3)",
    },
    Row {
        rust: "sync.event_pingpong",
        python: Some("py.W5.event_pingpong"),
        limit: Some("L2_futex_pingpong"),
        what: "two Events ping-pong between two processes, round trip (target: within 1.2x)",
    },
    Row {
        rust: "sync.condition_pingpong",
        python: Some("py.W5.condition_pingpong"),
        limit: Some("L2_futex_pingpong"),
        what: "Condition + shared turn ping-pong between two processes, round trip (target: within 1.2x)",
    },
    Row {
        rust: "rpc.seq_add",
        python: Some("py.W10.xmlrpc_seq_single"),
        limit: Some("L10_tcp_loopback_pingpong.rate"),
        what: "sequential add(2, 3), one client, kept-alive connection (Python: SimpleXMLRPCServer + ServerProxy, a connection per call)",
    },
    Row {
        rust: "rpc.seq_add",
        python: Some("py.W10.xmlrpc_seq_threaded"),
        limit: None,
        what: "the same against Python's ThreadingMixIn server",
    },
    Row {
        rust: "rpc.4clients_add",
        python: Some("py.W10.xmlrpc_4clients_single"),
        limit: None,
        what: "4 client processes x add(2, 3), all released together",
    },
    Row {
        rust: "rpc.4clients_add",
        python: Some("py.W10.xmlrpc_4clients_threaded"),
        limit: None,
        what: "the same against Python's ThreadingMixIn server",
    },
    Row {
        rust: "rpc.echo10k",
        python: Some("py.W10.xmlrpc_echo10k_single"),
        limit: None,
        what: "echo of an array of 10,000 ints, there and back, per call",
    },
    Row {
        rust: "rpc.echo10k",
        python: Some("py.W10.xmlrpc_echo10k_threaded"),
        limit: None,
        what: "the same against Python's ThreadingMixIn server",
    },
    Row {
        rust: "pipe.rtt_int",
        python: Some("py.W1.pipe_rtt_int"),
        limit: Some("L1_unix_stream_pingpong"),
        what: "duplex Connection, an integer there and back (W1)",
    },
    Row {
        rust: "pipe.rtt_int_timeout",
        python: Some("py.W1.pipe_rtt_int"),
        limit: Some("L1_unix_stream_pingpong"),
        what: "duplex Connection, an integer there and back through recv_timeout (reads first, polls only when the read would block)",
    },
    Row {
        rust: "pipe.rtt_int_async",
        python: Some("py.W1.pipe_rtt_int"),
        limit: Some("L1_unix_stream_pingpong"),
        what: "duplex AsyncConnection (tokio, current-thread runtime each side), an integer there and back (target: within 1.5x of pipe.rtt_int)",
    },
    Row {
        rust: "pipe.rtt_bytes8",
        python: Some("py.W1.pipe_rtt_bytes8"),
        limit: Some("L1_unix_stream_pingpong"),
        what: "duplex Connection, send_bytes of 8 B there and back (W1)",
    },
    Row {
        rust: "pipe.rtt_oneway_bytes8",
        python: None,
        limit: Some("L1_pipe_pingpong"),
        what: "two one-way Connections, 8 B there and back (target: within 1.1x of the bare pipe ping-pong)",
    },
    Row {
        rust: "pipe.rtt_oneway_int",
        python: None,
        limit: Some("L1_pipe_pingpong"),
        what: "two one-way Connections, an integer there and back through recv",
    },
    Row {
        rust: "pipe.rtt_oneway_int_timeout",
        python: None,
        limit: Some("L1_pipe_pingpong"),
        what: "the same through recv_timeout",
    },
    Row {
        rust: "pipe.tput_64B",
        python: Some("py.W2.pipe_tput_64B"),
        limit: Some("L4_pipe_64B_writes"),
        what: "one-way Connection, 200k messages of 64 B (target: >= 2M msgs/s)",
    },
    Row {
        rust: "pipe.tput_64KiB",
        python: Some("py.W2.pipe_tput_64KiB"),
        limit: Some("L4_pipe_bw"),
        what: "one-way Connection, 4096 messages of 64 KiB",
    },
    Row {
        rust: "pipe.tput_64KiB_duplex",
        python: None,
        limit: Some("L4_unix_stream_bw"),
        what: "duplex Connection, 64 KiB messages (target: within 1.2x of a bare socket pair)",
    },
    Row {
        rust: "fifo.64KiB_writes",
        python: Some("py.W9.fifo_64KiB_writes"),
        limit: Some("L4_pipe_bw"),
        what: "named pipe, 1,024 writes of 64 KiB (target: within 1.2x of a bare pipe)",
    },
    Row {
        rust: "fifo.64B_writes",
        python: Some("py.W9.fifo_64B_writes"),
        limit: Some("L4_pipe_64B_writes"),
        what: "named pipe, 200,000 writes of 64 B, read in 64 KiB blocks (W9)",
    },
    Row {
        rust: "shm.array1M_child_write_parent_sum",
        python: Some("py.W8.array1M_bulk"),
        limit: Some("L5_memcpy_8MB_plus_sum"),
        what: "a child writes 1M f64 into an Array (one memcpy under its lock), the parent sums under the lock; go -> sum done (target: within 2x of memcpy + sum)",
    },
    Row {
        rust: "shm.array1M_child_write_parent_sum_warm",
        python: Some("py.W8.array1M_bulk"),
        limit: Some("L5_memcpy_8MB_plus_sum"),
        what: "the same, the child having touched the array once before the go (no first-touch page faults in the timed region)",
    },
    Row {
        rust: "shm.rawarray1M_loop_child_write_parent_sum",
        python: Some("py.W8.array1M_loop"),
        limit: Some("L5_memcpy_8MB_plus_sum"),
        what: "the same on a RawArray written element by element (atomic stores), summed by iter()",
    },
    Row {
        rust: "shm.value_f64_get_set_lock",
        python: Some("py.W8.value_d/get_set_lock"),
        limit: Some("L6_cas_lock_uncontended"),
        what: "Value<f64> set / get, each taking its RLock, per operation",
    },
    Row {
        rust: "shm.value_f64_get_set_nolock",
        python: Some("py.W8.value_d/get_set_nolock"),
        limit: None,
        what: "RawValue<f64> set / get (relaxed atomics), per operation",
    },
    Row {
        rust: "pool.map_default_chunksize",
        python: Some("py.W6.pool_map_default_chunksize"),
        limit: None,
        what: "Pool(2).map(x*2) over 100k items, default chunksize (target: <= 0.05 us/item)",
    },
    Row {
        rust: "pool.map_chunksize1",
        python: Some("py.W6.pool_map_chunksize1"),
        limit: None,
        what: "Pool(2).map(x*2) over 20k items, chunksize 1 (target: <= 5 us/item)",
    },
    Row {
        rust: "pool.apply_async_get",
        python: Some("py.W6.pool_apply_async_get"),
        limit: Some("L2_futex_pingpong"),
        what: "sequential apply_async(f, 1).get() (target: within 2x of a bare futex ping-pong)",
    },
    Row {
        rust: "pool.fib27x8_speedup",
        python: Some("py.W6.pool_fib27x8"),
        limit: None,
        what: "fib(27) x 8: serial time / Pool(2) time (target: >= 1.9)",
    },
    Row {
        rust: "pool.imap_unordered",
        python: Some("py.W6.pool_imap_unordered"),
        limit: None,
        what: "iterate imap_unordered(x*2) over 100k items, chunksize 1",
    },
    Row {
        rust: "listener.connect_auth_rtt_unix",
        python: Some("py.listener_connect_auth_rtt_unix"),
        limit: Some("L1_unix_stream_pingpong"),
        what: "Client connect + authkey handshake + 8 B round trip + close, Unix socket (target: within 1.5x of 4.5x the limit)",
    },
    Row {
        rust: "listener.connect_auth_rtt_tcp",
        python: Some("py.listener_connect_auth_rtt_tcp"),
        limit: Some("L10_tcp_loopback_pingpong"),
        what: "the same over TCP loopback (Python leaves Nagle on: ~44 ms) (target: within 1.5x of 4.5x the limit)",
    },
    Row {
        rust: "listener.rtt_unix",
        python: Some("py.listener_rtt_unix"),
        limit: Some("L1_unix_stream_pingpong"),
        what: "an int there and back on an authenticated Listener/Client connection, Unix socket (target: within 1.1x)",
    },
    Row {
        rust: "listener.rtt_tcp",
        python: Some("py.listener_rtt_tcp"),
        limit: Some("L10_tcp_loopback_pingpong"),
        what: "the same over TCP loopback (target: within 1.1x)",
    },
    Row {
        rust: "manager.dict_set_get",
        python: Some("py.manager_dict_set_get"),
        limit: Some("L1_unix_stream_pingpong"),
        what: "d[k] = v, then d[k], through a local Manager, per call (target: within 1.3x, >= 3x faster than Python)",
    },
    Row {
        rust: "manager.list_append",
        python: Some("py.manager_list_append"),
        limit: Some("L1_unix_stream_pingpong"),
        what: "l.append(i) through a local Manager, per call (target: within 1.3x, >= 3x faster than Python)",
    },
    Row {
        rust: "manager.namespace_get",
        python: Some("py.manager_namespace_get"),
        limit: Some("L1_unix_stream_pingpong"),
        what: "ns.a through a local Manager, per call (target: within 1.3x, >= 3x faster than Python)",
    },
    Row {
        rust: "manager.queue_put_get",
        python: Some("py.manager_queue_put_get"),
        limit: Some("L1_unix_stream_pingpong"),
        what: "q.put(i), then q.get(), through a local Manager's Queue, per call (target: within 1.3x, >= 3x faster than Python)",
    },
    Row {
        rust: "manager.dict_set_get_tcp",
        python: Some("py.manager_dict_set_get_tcp"),
        limit: Some("L10_tcp_loopback_pingpong"),
        what: "the dict set + get through a Manager on TCP loopback, per call (target: within 1.3x, >= 3x faster than Python)",
    },
    Row {
        rust: "pool.lifecycle",
        python: Some("py.W6.pool_lifecycle"),
        limit: None,
        what: "Pool(2) + close + join, no tasks (target: <= 1 ms)",
    },
];

/// The bare limits, measured in the same run.
const LIMITS: &[(&str, &str)] = &[
    ("L1_pipe_pingpong", "8 B round trip over two pipes"),
    (
        "L1_unix_stream_pingpong",
        "8 B round trip over a Unix stream socket pair",
    ),
    (
        "L2_futex_pingpong",
        "futex hand-over round trip, one shared word",
    ),
    ("L5_memcpy_64KiB_bw", "memcpy of 64 KiB blocks, one process"),
    (
        "L5_memcpy_8MB_plus_sum",
        "memcpy of 1M f64 (8 MB) and the sum of the copy, one process",
    ),
    (
        "L6_cas_lock_uncontended",
        "compare-exchange lock + unlock, one process",
    ),
    (
        "L7_contended_futex_mutex3",
        "two processes x 1M increments under Drepper's mutex3, per increment",
    ),
    (
        "L4_pipe_bw",
        "64 KiB writes through a default pipe, one process to another",
    ),
    (
        "L4_pipe_64B_writes",
        "72-byte writes (64 B + header) into a pipe, read in 64 KiB blocks",
    ),
    (
        "L4_unix_stream_bw",
        "64 KiB writes through a Unix stream socket pair",
    ),
    ("L8_fork_exit_wait", "fork + _exit + waitpid"),
    (
        "L10_tcp_loopback_pingpong",
        "100 B round trip over TCP loopback, TCP_NODELAY",
    ),
    (
        "L10_tcp_loopback_pingpong.rate",
        "the same as round trips per second",
    ),
];

fn higher_is_better(unit: &str) -> bool {
    unit.ends_with("/s") || unit == "x"
}

#[derive(Clone, Copy)]
struct CpuTimes {
    busy: u64,
    total: u64,
}

fn cpu_times() -> Option<CpuTimes> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().next()?;
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    let total: u64 = v.iter().take(8).sum();
    let idle = v.get(3)? + v.get(4).unwrap_or(&0);
    Some(CpuTimes {
        busy: total - idle,
        total,
    })
}

/// Busy cores between two samples (0.0 = idle machine, `nproc` = every core busy).
fn busy_cores(a: CpuTimes, b: CpuTimes) -> f64 {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    let dt = b.total.saturating_sub(a.total).max(1) as f64;
    b.busy.saturating_sub(a.busy) as f64 / dt * cores
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn parse_results(out: &str) -> BTreeMap<String, (f64, String)> {
    out.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|v| {
            Some((
                v["id"].as_str()?.to_string(),
                (v["value"].as_f64()?, v["unit"].as_str()?.to_string()),
            ))
        })
        .collect()
}

fn fmt_num(v: f64) -> String {
    if v >= 1000.0 {
        format!("{v:.0}")
    } else if v >= 100.0 {
        format!("{v:.1}")
    } else if v >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

/// A value in its unit's base (seconds for times, the unit itself otherwise), so that rows and
/// limits measured in different units compare.
fn base((value, unit): &(f64, String)) -> f64 {
    match unit.as_str() {
        "ns" => value * 1e-9,
        "us" => value * 1e-6,
        "ms" => value * 1e-3,
        _ => *value,
    }
}

/// How many times better `multiproc` is than `other` (>1: `multiproc` wins); both in base units.
fn advantage(ipc: f64, other: f64, unit: &str) -> f64 {
    if higher_is_better(unit) {
        ipc / other
    } else {
        other / ipc
    }
}

/// The filter for `bench.py`: a crate name (`core`, `sync`, `process`, …) selects its group
/// there too; a dotted Rust id (`sync.event_pingpong`) selects the whole group of its crate,
/// whose Python ids differ; a limit id (`L…`) has no Python twin.
fn python_filter(filter: &str) -> String {
    match filter.split_once('.') {
        Some((group, _)) => group.to_string(),
        None if filter.starts_with('L') => "no-python-twin".to_string(),
        None => filter.to_string(),
    }
}

/// The workload ids `ipc-bench --list` and `bench.py --list` print.
pub fn listed_ids() -> Result<(Vec<String>, Vec<String>), String> {
    let out = util::cargo()
        .args([
            "run",
            "--quiet",
            "--package",
            "multiproc-bench",
            "--",
            "--list",
        ])
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!(
            "ipc-bench --list failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let rust = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    let out = std::process::Command::new("python3")
        .arg(util::root().join("bench/python/bench.py"))
        .arg("--list")
        .output()
        .map_err(|e| format!("cannot run python3: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "bench.py --list failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let python = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    Ok((rust, python))
}

/// Rows (and limits) whose ids no listed workload produces. A workload id is a prefix of the ids
/// it emits (`py.W4.uncontended` emits `py.W4.uncontended/lock_acquire_release`).
pub fn unmatched_rows(rust: &[String], python: &[String]) -> Vec<String> {
    let has = |list: &[String], id: &str| list.iter().any(|w| id.starts_with(w.as_str()));
    let mut missing = Vec::new();
    for row in ROWS {
        if !has(rust, row.rust) {
            missing.push(row.rust.to_string());
        }
        if let Some(p) = row.python
            && !has(python, p)
        {
            missing.push(p.to_string());
        }
        if let Some(l) = row.limit
            && !has(rust, l)
        {
            missing.push(l.to_string());
        }
    }
    for (id, _) in LIMITS {
        if !has(rust, id) {
            missing.push(id.to_string());
        }
    }
    missing
}

/// Runs the bench. Arguments: `--quick`, and an optional filter on workload ids.
pub fn run(args: &[String]) -> Result<(), String> {
    let quick = args.iter().any(|a| a == "--quick");
    let filter = args
        .iter()
        .find(|a| !a.starts_with("--"))
        .cloned()
        .unwrap_or_default();
    let t_all = Instant::now();
    println!("==> building ipc-bench (release)");
    util::run_status(util::cargo().args([
        "build",
        "--quiet",
        "--release",
        "--package",
        "multiproc-bench",
    ]))?;

    // Background load: what the machine does before we start.
    let idle_for = if quick {
        Duration::from_millis(300)
    } else {
        Duration::from_secs(1)
    };
    let a = cpu_times();
    std::thread::sleep(idle_for);
    let b = cpu_times();
    let background = a.zip(b).map_or(f64::NAN, |(a, b)| busy_cores(a, b));
    let load_start = loadavg();
    println!(
        "    background load before the run: {background:.2} busy cores (loadavg {load_start})"
    );

    let mut flag = vec![];
    if quick {
        flag.push("--quick".to_string());
    }
    let limit = Duration::from_secs(if quick { 120 } else { 900 });

    let during_a = cpu_times();
    println!("==> Rust workloads and bare limits");
    let mut cmd =
        std::process::Command::new(util::target_dir().join("release").join("multiproc-bench"));
    // The rows the filter selects, and the limits they are held against.
    let mut wanted: Vec<String> = Vec::new();
    if !filter.is_empty() {
        wanted.push(filter.clone());
        for row in ROWS.iter().filter(|r| r.rust.contains(filter.as_str())) {
            wanted.extend(row.limit.map(str::to_string));
        }
    }
    cmd.args(&flag).args(&wanted);
    let rust_out = run_captured(&mut cmd, limit)?;
    if !rust_out.success {
        return Err(format!(
            "ipc-bench failed{}:\n{}\n{}",
            if rust_out.timed_out {
                " (timed out)"
            } else {
                ""
            },
            rust_out.stdout,
            rust_out.stderr
        ));
    }
    let rust = parse_results(&rust_out.stdout);

    println!("==> Python multiprocessing workloads");
    let mut cmd = std::process::Command::new("python3");
    cmd.arg(util::root().join("bench/python/bench.py"))
        .args(&flag)
        .arg(python_filter(&filter));
    let py_out = run_captured(&mut cmd, limit)?;
    if !py_out.success {
        return Err(format!(
            "bench.py failed{}:\n{}\n{}",
            if py_out.timed_out { " (timed out)" } else { "" },
            py_out.stdout,
            py_out.stderr
        ));
    }
    let python = parse_results(&py_out.stdout);
    let during_b = cpu_times();
    let during = during_a
        .zip(during_b)
        .map_or(f64::NAN, |(a, b)| busy_cores(a, b));
    let load_end = loadavg();

    // The table.
    let mut md = String::new();
    md.push_str(&format!(
        "# cargo xtask bench{}\n\nMachine: {} cores; background load before the run {background:.2} busy cores; \
         during the run {during:.2} busy cores (ours included); loadavg {load_start} -> {load_end}.\n\n",
        if quick { " --quick" } else { "" },
        std::thread::available_parallelism().map_or(1, |n| n.get()),
    ));
    md.push_str("| workload | unit | Python | ipc | ipc vs Python | bare limit | limit (its unit) | ipc cost vs limit |\n");
    md.push_str("|---|---|---|---|---|---|---|---|\n");
    let mut rows_json = Vec::new();
    for row in ROWS {
        let Some(ours) = rust.get(row.rust) else {
            continue;
        };
        let (v, unit) = (&ours.0, &ours.1);
        let py_raw = row.python.and_then(|p| python.get(p));
        let lim_raw = row.limit.and_then(|l| rust.get(l));
        let py = py_raw.map(|x| x.0);
        let lim = lim_raw.map(|x| x.0);
        let vs_py = py_raw.map(|p| advantage(base(ours), base(p), unit));
        // Cost relative to the limit: 1.0 is at the limit, 2.0 twice its cost.
        let vs_lim = lim_raw.map(|l| 1.0 / advantage(base(ours), base(l), unit));
        md.push_str(&format!(
            "| {} | {unit} | {} | {} | {} | {} | {} | {} |\n",
            row.rust,
            py.map_or("-".into(), fmt_num),
            fmt_num(*v),
            vs_py.map_or("-".into(), |r| format!("{r:.2}x better")),
            row.limit.unwrap_or("-"),
            lim_raw.map_or("-".into(), |l| format!("{} {}", fmt_num(l.0), l.1)),
            vs_lim.map_or("-".into(), |r| format!("{r:.2}x")),
        ));
        rows_json.push(json!({
            "workload": row.rust, "what": row.what, "unit": unit,
            "ipc": v, "python": py, "python_id": row.python,
            "ipc_vs_python": vs_py, "limit_id": row.limit, "limit": lim,
            "limit_unit": lim_raw.map(|l| l.1.clone()), "ipc_cost_vs_limit": vs_lim,
        }));
    }
    md.push_str("\n| bare limit | unit | value | what |\n|---|---|---|---|\n");
    let mut limits_json = Vec::new();
    for (id, what) in LIMITS {
        if let Some((v, unit)) = rust.get(*id) {
            md.push_str(&format!("| {id} | {unit} | {} | {what} |\n", fmt_num(*v)));
            limits_json.push(json!({"id": id, "unit": unit, "value": v, "what": what}));
        }
    }
    md.push_str("\nRows:\n\n");
    for row in ROWS {
        md.push_str(&format!("- `{}`: {}\n", row.rust, row.what));
    }
    println!("\n{md}");
    let dir = util::target_dir().join("bench");
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    std::fs::write(dir.join("bench.md"), &md).map_err(|e| e.to_string())?;
    let doc = json!({
        "quick": quick,
        "background_busy_cores": background,
        "during_busy_cores": during,
        "loadavg_start": load_start,
        "loadavg_end": load_end,
        "rows": rows_json,
        "limits": limits_json,
        "raw": { "rust": rust, "python": python },
    });
    std::fs::write(
        dir.join("bench.json"),
        serde_json::to_string_pretty(&doc).map_err(|e| e.to_string())?,
    )
    .map_err(|e| e.to_string())?;
    println!(
        "wrote {} and bench.json in {}",
        dir.join("bench.md").display(),
        util::secs(t_all.elapsed())
    );
    Ok(())
}
