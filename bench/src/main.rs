//! The Rust side of `cargo xtask bench`: each workload prints one JSON line
//! `{"id": ..., "value": ..., "unit": ...}`. `cargo xtask bench` runs this beside the Python
//! scripts in `bench/python/` and makes the table.
//!
//! Usage: `ipc-bench [--quick] [FILTER...]` — runs the workloads whose id contains any FILTER.
//!
//! This binary is single-threaded, so `fork` is safe to use freely in it.

mod core;
mod limits;
mod rpc;
mod util;

fn main() {
    let mut quick = false;
    let mut filters = Vec::new();
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--quick" => quick = true,
            "--list" => {
                for (id, _) in workloads() {
                    println!("{id}");
                }
                return;
            }
            other => filters.push(other.to_string()),
        }
    }
    let opts = util::Opts { quick };
    for (id, run) in workloads() {
        if filters.is_empty() || filters.iter().any(|f| id.contains(f.as_str())) {
            run(&opts);
        }
    }
}

type Workload = (&'static str, fn(&util::Opts));

/// Every workload, in the order they run. Ids are prefixes of the ids they emit.
fn workloads() -> Vec<Workload> {
    vec![
        // Each row runs right beside the limit it is held against: the cost of a cross-core
        // wake-up drifts with the machine's state, so neighbours compare best.
        ("L2_futex_pingpong", limits::futex_pingpong),
        ("core.futex_pingpong", core::futex_pingpong),
        ("L1_unix_stream_pingpong", limits::unix_stream_pingpong),
        ("core.channel_rtt", core::channel_rtt),
        ("core.frame_roundtrip", core::frame_roundtrip),
        ("L1_pipe_pingpong", limits::pipe_pingpong),
        ("L5_memcpy_64KiB_bw", limits::memcpy_bw),
        ("L6_cas_lock_uncontended", limits::cas_lock),
        ("L8_fork_exit_wait", limits::fork_exit_wait),
        ("L10_tcp_loopback_pingpong", rpc::tcp_loopback_pingpong),
        ("rpc.seq_add", rpc::seq_add),
        ("rpc.4clients_add", rpc::four_clients),
        ("rpc.echo10k", rpc::echo10k),
    ]
}
