//! The Rust side of `cargo xtask bench`: each workload prints one JSON line
//! `{"id": ..., "value": ..., "unit": ...}`. `cargo xtask bench` runs this beside the Python
//! scripts in `bench/python/` and makes the table.
//!
//! Usage: `ipc-bench [--quick] [FILTER...]` — runs the workloads whose id contains any FILTER
//! (all of them without one).
//!
//! This binary is single-threaded, so `fork` is safe to use freely in it.

mod core;
mod fifo;
mod limits;
mod listener;
mod manager;
mod pipe;
mod pool;
mod process;
mod queue;
mod rpc;
mod shm;
mod sync;
mod util;

fn main() {
    let mut quick = false;
    let mut filters: Vec<String> = Vec::new();
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--quick" => quick = true,
            "--list" => {
                for (id, _, _) in workloads() {
                    println!("{id}");
                }
                return;
            }
            other => filters.push(other.to_string()),
        }
    }
    let opts = util::Opts { quick };
    for (id, groups, run) in workloads() {
        let wanted = filters.is_empty()
            || filters
                .iter()
                .any(|f| id.contains(f.as_str()) || groups.split(' ').any(|g| g == f));
        if wanted {
            run(&opts);
        }
    }
}

/// An id, the groups (crates) whose rows need it — a filter that names a group runs the limits
/// its rows are held against — and the function.
type Workload = (&'static str, &'static str, fn(&util::Opts));

/// Every workload, in the order they run. Ids are prefixes of the ids they emit.
fn workloads() -> Vec<Workload> {
    vec![
        // Each row runs right beside the limit it is held against: the cost of a cross-core
        // wake-up drifts with the machine's state, so neighbours compare best.
        (
            "L2_futex_pingpong",
            "core sync pool",
            limits::futex_pingpong,
        ),
        ("core.futex_pingpong", "core", core::futex_pingpong),
        ("sync.event_pingpong", "sync", sync::event_pingpong),
        ("pool.apply_async_get", "pool", pool::apply_async_get),
        ("sync.condition_pingpong", "sync", sync::condition_pingpong),
        (
            "L1_unix_stream_pingpong",
            "core pipe listener manager",
            limits::unix_stream_pingpong,
        ),
        (
            "listener.connect_auth_rtt_unix",
            "listener",
            listener::connect_auth_rtt_unix,
        ),
        ("listener.rtt_unix", "listener", listener::rtt_unix),
        (
            "manager.dict_set_get",
            "manager",
            manager::dict_set_get_local,
        ),
        ("manager.list_append", "manager", manager::list_append),
        ("manager.namespace_get", "manager", manager::namespace_get),
        ("manager.queue_put_get", "manager", manager::queue_put_get),
        ("core.channel_rtt", "core", core::channel_rtt),
        ("core.frame_roundtrip", "core", core::frame_roundtrip),
        ("pipe.rtt_int", "pipe", pipe::rtt_int),
        ("pipe.rtt_int_timeout", "pipe", pipe::rtt_int_timeout),
        ("pipe.rtt_int_async", "pipe", pipe::rtt_int_async),
        ("pipe.rtt_bytes8", "pipe", pipe::rtt_bytes8),
        ("L1_pipe_pingpong", "core pipe", limits::pipe_pingpong),
        ("pipe.rtt_oneway_bytes8", "pipe", pipe::rtt_oneway_bytes8),
        ("pipe.rtt_oneway_int", "pipe", pipe::rtt_oneway_int),
        (
            "pipe.rtt_oneway_int_timeout",
            "pipe",
            pipe::rtt_oneway_int_timeout,
        ),
        ("L4_pipe_64B_writes", "pipe fifo", limits::pipe_64b_writes),
        ("pipe.tput_64B", "pipe", pipe::tput_64b),
        ("fifo.64B_writes", "fifo", fifo::writes_64b),
        ("L4_pipe_bw", "pipe fifo", limits::pipe_bw),
        ("fifo.64KiB_writes", "fifo", fifo::writes_64kib),
        ("pipe.tput_64KiB", "pipe", pipe::tput_64kib),
        ("L4_unix_stream_bw", "pipe", limits::unix_stream_bw),
        ("pipe.tput_64KiB_duplex", "pipe", pipe::tput_64kib_duplex),
        ("L5_memcpy_64KiB_bw", "core", limits::memcpy_bw),
        ("L6_cas_lock_uncontended", "core sync", limits::cas_lock),
        ("sync.lock_uncontended", "sync", sync::lock_uncontended),
        ("sync.rlock_uncontended", "sync", sync::rlock_uncontended),
        (
            "sync.semaphore_uncontended",
            "sync",
            sync::semaphore_uncontended,
        ),
        (
            "L7_contended_futex_mutex3",
            "sync",
            limits::contended_futex_mutex3,
        ),
        ("sync.lock_contended_2x1M", "sync", sync::lock_contended),
        ("L8_fork_exit_wait", "core process", limits::fork_exit_wait),
        (
            "process.fork_start_join",
            "process",
            process::fork_start_join,
        ),
        (
            "process.forkserver_start_join",
            "process",
            process::forkserver_start_join,
        ),
        (
            "process.spawn_start_join",
            "process",
            process::spawn_start_join,
        ),
        ("process.return_1KiB", "process", process::return_1kib),
        ("pool.map_default_chunksize", "pool", pool::map_default),
        ("pool.map_chunksize1", "pool", pool::map_chunksize1),
        ("pool.imap_unordered", "pool", pool::imap_unordered),
        ("pool.fib27x8_speedup", "pool", pool::fib27x8),
        ("pool.lifecycle", "pool", pool::lifecycle),
        (
            "L10_tcp_loopback_pingpong",
            "rpc listener manager",
            rpc::tcp_loopback_pingpong,
        ),
        (
            "listener.connect_auth_rtt_tcp",
            "listener",
            listener::connect_auth_rtt_tcp,
        ),
        ("listener.rtt_tcp", "listener", listener::rtt_tcp),
        (
            "manager.dict_set_get_tcp",
            "manager",
            manager::dict_set_get_tcp,
        ),
        ("rpc.seq_add", "rpc", rpc::seq_add),
        ("rpc.4clients_add", "rpc", rpc::four_clients),
        ("rpc.echo10k", "rpc", rpc::echo10k),
        ("queue.rtt_two_queues", "queue", queue::rtt_two_queues),
        ("queue.int_1p1c", "queue", queue::int_1p1c),
        ("queue.bytes64KiB_1p1c", "queue", queue::bytes_1p1c),
        ("queue.int_2p2c", "queue", queue::int_2p2c),
        ("queue.joinable_int_1p1c", "queue", queue::joinable_1p1c),
        ("L5_memcpy_8MB_plus_sum", "shm", limits::memcpy_8mb_plus_sum),
        (
            "shm.array1M_child_write_parent_sum",
            "shm",
            shm::array_child_write_parent_sum,
        ),
        (
            "shm.rawarray1M_loop_child_write_parent_sum",
            "shm",
            shm::rawarray_loop_child_write_parent_sum,
        ),
        ("shm.value_f64_get_set_lock", "shm", shm::value_get_set_lock),
        (
            "shm.value_f64_get_set_nolock",
            "shm",
            shm::value_get_set_nolock,
        ),
    ]
}
