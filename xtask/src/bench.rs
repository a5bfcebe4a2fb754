//! `cargo xtask bench`: runs each registered workload in Rust (`ipc-bench`) and the same
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
    /// The id `ipc-bench` emits.
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
        "L6_cas_lock_uncontended",
        "compare-exchange lock + unlock, one process",
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
    unit.ends_with("/s")
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

/// How many times better `ipc` is than `other` (>1: `ipc` wins).
fn advantage(ipc: f64, other: f64, unit: &str) -> f64 {
    if higher_is_better(unit) {
        ipc / other
    } else {
        other / ipc
    }
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
        "ipc-bench",
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
    // The bare limits that the matching rows are held against run too.
    let mut rust_filters = vec![filter.clone()];
    if !filter.is_empty() {
        rust_filters.extend(
            ROWS.iter()
                .filter(|r| r.rust.contains(filter.as_str()))
                .filter_map(|r| r.limit)
                .map(|l| l.trim_end_matches(".rate").to_string()),
        );
    }
    let mut cmd = std::process::Command::new(util::target_dir().join("release").join("ipc-bench"));
    cmd.args(&flag).args(&rust_filters);
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
    // Python's ids differ from ours: pass the filter with `core.` as `py.`, and the Python id
    // of every row whose Rust id matches it (bench.py runs what matches any of its filters).
    let mut py_filters = vec![filter.replace("core.", "py.")];
    if !filter.is_empty() {
        py_filters.extend(
            ROWS.iter()
                .filter(|r| r.rust.contains(filter.as_str()))
                .filter_map(|r| r.python.map(str::to_string)),
        );
    }
    let mut cmd = std::process::Command::new("python3");
    cmd.arg(util::root().join("bench/python/bench.py"))
        .args(&flag)
        .args(&py_filters);
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
    md.push_str("| workload | unit | Python | ipc | ipc vs Python | bare limit | limit | ipc cost vs limit |\n");
    md.push_str("|---|---|---|---|---|---|---|---|\n");
    let mut rows_json = Vec::new();
    for row in ROWS {
        let Some((v, unit)) = rust.get(row.rust) else {
            continue;
        };
        let py = row.python.and_then(|p| python.get(p)).map(|x| x.0);
        let lim = row.limit.and_then(|l| rust.get(l)).map(|x| x.0);
        let vs_py = py.map(|p| advantage(*v, p, unit));
        // Cost relative to the limit: 1.0 is at the limit, 2.0 twice its cost.
        let vs_lim = lim.map(|l| 1.0 / advantage(*v, l, unit));
        md.push_str(&format!(
            "| {} | {unit} | {} | {} | {} | {} | {} | {} |\n",
            row.rust,
            py.map_or("-".into(), fmt_num),
            fmt_num(*v),
            vs_py.map_or("-".into(), |r| format!("{r:.2}x better")),
            row.limit.unwrap_or("-"),
            lim.map_or("-".into(), fmt_num),
            vs_lim.map_or("-".into(), |r| format!("{r:.2}x")),
        ));
        rows_json.push(json!({
            "workload": row.rust, "what": row.what, "unit": unit,
            "ipc": v, "python": py, "python_id": row.python,
            "ipc_vs_python": vs_py, "limit_id": row.limit, "limit": lim, "ipc_cost_vs_limit": vs_lim,
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
