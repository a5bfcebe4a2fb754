//! Workloads for `multiproc-manager`: one proxy call per operation through a manager's server
//! process — a `dict` set + get, a `list` append, a `Namespace` attribute read, a `Queue`
//! put + get — on a local (Unix, abstract) socket, and a `dict` op over TCP loopback. Each
//! operation is one round trip, held against the matching socket limit (L1, L10); Python's
//! twins use `multiprocessing.Manager()` the same way.

use std::time::Instant;

use multiproc_manager::Manager;

use crate::place::Placement;
use crate::util::{Opts, emit, median, per_op, watchdog};
use crate::workload::Workload;

fn manager(tcp: bool) -> Manager {
    let b = Manager::builder();
    let b = if tcp { b.address("127.0.0.1:0") } else { b };
    b.start().expect("manager")
}

/// Makes the operation to time from a manager.
type Setup = fn(&Manager) -> Box<dyn FnMut(u64)>;

/// Runs `op` (which makes `calls` proxy calls) `n` times after a warm-up; µs per call.
fn per_call(id: &str, opts: &Opts, tcp: bool, calls: usize, op: Setup) {
    let n = opts.n(20_000);
    let v = median(opts.reps(), || {
        watchdog(120);
        let m = manager(tcp);
        let mut f = op(&m);
        // The server (every thread of it) runs on the peers' core, as the limit's child does.
        crate::place::pin_peers();
        for i in 0..200 {
            f(i);
        }
        let t = Instant::now();
        for i in 0..n as u64 {
            f(i);
        }
        let d = t.elapsed();
        drop(f);
        m.shutdown().expect("shutdown");
        watchdog(0);
        per_op(d, n * calls, "us")
    });
    emit(id, v, "us");
}

fn dict_set_get(m: &Manager) -> Box<dyn FnMut(u64)> {
    let d = m.dict::<u64, u64>().expect("dict");
    Box::new(move |i| {
        d.set(&(i % 64), &i).expect("set");
        assert_eq!(d.get(&(i % 64)).expect("get"), Some(i));
    })
}

/// This module's workloads, in the order they run.
pub const WORKLOADS: &[Workload] = &[
    DICT_SET_GET_LOCAL,
    LIST_APPEND,
    NAMESPACE_GET,
    QUEUE_PUT_GET,
    DICT_SET_GET_TCP,
];

pub const DICT_SET_GET_LOCAL: Workload = Workload {
    id: "manager.dict_set_get",
    what: "d[k] = v, then d[k], through a local Manager, per call (target: within 1.3x, >= 3x faster than Python)",
    python: &["py.manager_dict_set_get"],
    limit: Some("L1_unix_stream_pingpong"),
    placement: Placement::Apart,
    run: dict_set_get_local,
    ..Workload::ROW
};

/// `manager.dict_set_get`: `d[k] = i; d[k]` through a local manager; µs per call.
pub fn dict_set_get_local(opts: &Opts) {
    per_call("manager.dict_set_get", opts, false, 2, dict_set_get);
}

pub const DICT_SET_GET_TCP: Workload = Workload {
    id: "manager.dict_set_get_tcp",
    what: "the dict set + get through a Manager on TCP loopback, per call (target: within 1.3x, >= 3x faster than Python)",
    python: &["py.manager_dict_set_get_tcp"],
    limit: Some("L10_tcp_loopback_pingpong"),
    placement: Placement::Apart,
    run: dict_set_get_tcp,
    ..Workload::ROW
};

/// `manager.dict_set_get_tcp`: the same through a manager on TCP loopback.
pub fn dict_set_get_tcp(opts: &Opts) {
    per_call("manager.dict_set_get_tcp", opts, true, 2, dict_set_get);
}

pub const LIST_APPEND: Workload = Workload {
    id: "manager.list_append",
    what: "l.append(i) through a local Manager, per call (target: within 1.3x, >= 3x faster than Python)",
    python: &["py.manager_list_append"],
    limit: Some("L1_unix_stream_pingpong"),
    placement: Placement::Apart,
    run: list_append,
    ..Workload::ROW
};

/// `manager.list_append`: `l.append(i)` (the list cleared every 1,000); µs per call.
pub fn list_append(opts: &Opts) {
    per_call("manager.list_append", opts, false, 1, |m| {
        let l = m.list(Vec::<u64>::new()).expect("list");
        Box::new(move |i| {
            l.append(&i).expect("append");
            if i % 1000 == 999 {
                l.clear().expect("clear");
            }
        })
    });
}

pub const NAMESPACE_GET: Workload = Workload {
    id: "manager.namespace_get",
    what: "ns.a through a local Manager, per call (target: within 1.3x, >= 3x faster than Python)",
    python: &["py.manager_namespace_get"],
    limit: Some("L1_unix_stream_pingpong"),
    placement: Placement::Apart,
    run: namespace_get,
    ..Workload::ROW
};

/// `manager.namespace_get`: `ns.a`; µs per call.
pub fn namespace_get(opts: &Opts) {
    per_call("manager.namespace_get", opts, false, 1, |m| {
        let ns = m.namespace().expect("namespace");
        ns.set("a", &1u64).expect("set");
        Box::new(move |_| {
            assert_eq!(ns.get::<u64>("a").expect("get"), Some(1));
        })
    });
}

pub const QUEUE_PUT_GET: Workload = Workload {
    id: "manager.queue_put_get",
    what: "q.put(i), then q.get(), through a local Manager's Queue, per call (target: within 1.3x, >= 3x faster than Python)",
    python: &["py.manager_queue_put_get"],
    limit: Some("L1_unix_stream_pingpong"),
    placement: Placement::Apart,
    run: queue_put_get,
    ..Workload::ROW
};

/// `manager.queue_put_get`: `q.put(i); q.get()`; µs per call.
pub fn queue_put_get(opts: &Opts) {
    per_call("manager.queue_put_get", opts, false, 2, |m| {
        let q = m.queue::<u64>(0).expect("queue");
        Box::new(move |i| {
            q.put(&i).expect("put");
            assert_eq!(q.get().expect("get"), i);
        })
    });
}
