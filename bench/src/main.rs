//! The Rust side of `cargo xtask bench`: each workload prints one JSON line
//! `{"id": ..., "value": ..., "unit": ...}`. `cargo xtask bench` runs this beside the Python
//! scripts in `bench/python/` and makes the table.
//!
//! Usage: `multiproc-bench [--quick] [--busy] [FILTER...]` runs the workloads whose id contains
//! any FILTER (all of them without one) and the limits they are held against; `--busy` runs only
//! the rows that declare `busy` (and their limits) beside a process that keeps the peers' core
//! busy. `--list` prints the ids, `--describe` every declaration as JSON.
//!
//! Each workload is declared next to its function (a [`Workload`] const in `bench/src/*.rs`,
//! listed in its module's `WORKLOADS`); adding a row touches that file and `bench.py`.
//!
//! This binary is single-threaded, so `fork` is safe to use freely in it.

mod core;
mod fifo;
mod limits;
mod listener;
mod manager;
mod pipe;
mod place;
mod pool;
mod process;
mod queue;
mod rpc;
mod shm;
mod sync;
mod util;
mod workload;

use workload::{Variant, Workload};

/// Every module's workloads; the limits first.
const MODULES: &[&[Workload]] = &[
    limits::WORKLOADS,
    core::WORKLOADS,
    sync::WORKLOADS,
    pool::WORKLOADS,
    listener::WORKLOADS,
    manager::WORKLOADS,
    pipe::WORKLOADS,
    fifo::WORKLOADS,
    process::WORKLOADS,
    rpc::WORKLOADS,
    queue::WORKLOADS,
    shm::WORKLOADS,
];

fn main() {
    if std::env::var_os(process::FIRST_START_ROLE).is_some() {
        process::first_start_child();
        return;
    }
    let mut quick = false;
    let mut busy = false;
    let mut filters: Vec<String> = Vec::new();
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--quick" => quick = true,
            "--busy" => busy = true,
            "--list" => {
                plan(&[], false).iter().for_each(|v| println!("{}", v.id()));
                return;
            }
            "--describe" => {
                plan(&[], false)
                    .iter()
                    .for_each(|v| println!("{}", v.describe()));
                return;
            }
            other if other.starts_with('-') => {
                eprintln!("multiproc-bench: unknown option {other:?}");
                std::process::exit(2);
            }
            other => filters.push(other.to_string()),
        }
    }
    let opts = util::Opts { quick };
    let _hog = busy.then(place::Hog::start);
    for v in plan(&filters, busy) {
        place::set(v.placement);
        (v.w.run)(&opts);
    }
    place::set(place::Placement::Free);
}

/// The runs, in order: each limit, right followed by the rows held against it (the cost of a
/// cross-core wake-up drifts with the machine's state, so neighbours compare best), then the
/// rows held against none. With filters: the rows whose id contains one, the limits they are
/// held against, and the limits whose id contains one. With `busy`: only the rows that declare
/// it, and their limits.
fn plan(filters: &[String], busy: bool) -> Vec<Variant> {
    let all: Vec<Variant> = MODULES
        .iter()
        .flat_map(|m| m.iter())
        .flat_map(Workload::variants)
        .collect();
    let matches =
        |v: &Variant| filters.is_empty() || filters.iter().any(|f| v.id().contains(f.as_str()));
    let rows: Vec<Variant> = all
        .iter()
        .filter(|v| !v.w.is_limit() && matches(v) && (!busy || v.w.busy))
        .copied()
        .collect();
    let mut order = Vec::new();
    for limit in all.iter().filter(|v| v.w.is_limit()) {
        let held: Vec<Variant> = rows
            .iter()
            .filter(|r| r.held_against(limit))
            .copied()
            .collect();
        if !held.is_empty() || (!busy && matches(limit)) {
            order.push(*limit);
        }
        order.extend(held);
    }
    order.extend(
        rows.iter()
            .filter(|r| !all.iter().any(|l| l.w.is_limit() && r.held_against(l))),
    );
    order
}
