//! Proxies under the `fork` start method, in a test binary without the libtest harness
//! (`harness = false`), so that this process really has one thread and `fork` is allowed.

use std::time::{Duration, Instant};

use multiproc_manager::{DictProxy, ListProxy, Manager, NamespaceProxy};
use multiproc_process::{Process, StartMethod, get_context};

fn modify((ns, l, d): (NamespaceProxy, ListProxy<String>, DictProxy<String, i64>)) {
    let a: i64 = ns.get("a").unwrap().unwrap();
    ns.set("a", &a.pow(2)).unwrap();
    l.extend(["b".to_string(), "c".to_string()]).unwrap();
    d.set(&"b".to_string(), &0).unwrap();
}

fn wait_objects(m: &Manager, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while m.number_of_objects().unwrap() != n {
        assert!(Instant::now() < deadline, "{}", m.debug_info().unwrap());
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Seed 000's example by fork: the child's copies take references of their own (its session)
/// on first use, and give them back when it exits; the parent's stay.
fn seed_by_fork() {
    let m = Manager::start().unwrap();
    let ns = m.namespace().unwrap();
    ns.set("a", &3).unwrap();
    let l = m.list(["a".to_string()]).unwrap();
    let d = m.dict::<String, i64>().unwrap();
    d.set(&"b".to_string(), &2).unwrap();
    get_context(StartMethod::Fork)
        .spawn(modify, (ns.clone(), l.clone(), d.clone()))
        .unwrap()
        .join()
        .unwrap();
    assert_eq!(ns.get::<i64>("a").unwrap(), Some(9));
    assert_eq!(l.to_vec().unwrap(), ["a", "b", "c"]);
    assert_eq!(d.repr().unwrap(), "{'b': 0}");
    wait_objects(&m, 3);

    // A closure captures proxies as they are: copied by fork, not serialised.
    let (l2, d2) = (l.clone(), d.clone());
    let p = Process::from_closure(move || {
        l2.append(&"forked".to_string()).unwrap();
        d2.set(&"c".to_string(), &3).unwrap();
    });
    p.start().unwrap();
    p.join().unwrap();
    assert_eq!(p.exitcode(), Some(0));
    assert_eq!(l.get(-1).unwrap().as_deref(), Some("forked"));
    assert_eq!(d.len().unwrap(), 2);
    wait_objects(&m, 3);

    drop((ns, l, d));
    wait_objects(&m, 0);
    m.shutdown().unwrap();
}

fn main() {
    multiproc_testkit::run_single_threaded(&[("seed_by_fork", seed_by_fork)]);
}
