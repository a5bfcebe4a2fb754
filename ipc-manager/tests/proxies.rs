//! Every proxy of `SyncManager`'s type ids, in this process and in children started by spawn
//! and forkserver (fork: `tests/fork.rs`), with Python's semantics where a caller can see them.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use multiproc_manager::{
    AcquireError, DictProxy, Error, ListProxy, Manager, NamespaceProxy, PyClass, PyValue,
    QueueProxy,
};
use multiproc_process::{JoinHandle, Process, StartMethod};

#[test]
fn list_behaves_as_pythons() {
    let m = Manager::start().unwrap();
    let l = m.list(0..5i64).unwrap();
    assert_eq!(l.len().unwrap(), 5);
    assert_eq!(l.get(-1).unwrap(), Some(4));
    assert_eq!(l.get(5).unwrap(), None);
    l.set(0, &10).unwrap();
    assert!(l.set(7, &1).unwrap_err().is_exception(PyClass::INDEX_ERROR));
    l.append(&5).unwrap();
    l.extend([6, 7]).unwrap();
    l.insert(1, &-1).unwrap();
    assert_eq!(l.to_vec().unwrap(), [10, -1, 1, 2, 3, 4, 5, 6, 7]);
    assert_eq!(l.pop().unwrap(), Some(7));
    assert_eq!(l.pop_at(0).unwrap(), Some(10));
    assert!(l.remove(&-1).unwrap());
    assert!(!l.remove(&42).unwrap());
    assert_eq!(l.index(&3).unwrap(), Some(2));
    assert_eq!(l.index(&42).unwrap(), None);
    assert_eq!(l.count(&3).unwrap(), 1);
    assert!(l.contains(&6).unwrap());
    l.reverse().unwrap();
    assert_eq!(l.to_vec().unwrap(), [6, 5, 4, 3, 2, 1]);
    l.sort().unwrap();
    assert_eq!(l.to_vec().unwrap(), [1, 2, 3, 4, 5, 6]);
    l.sort_descending().unwrap();
    assert_eq!(l.repr().unwrap(), "[6, 5, 4, 3, 2, 1]");
    l.delete(0).unwrap();
    l.clear().unwrap();
    assert!(l.is_empty().unwrap());
    assert_eq!(l.pop().unwrap(), None);

    // Items Python does not order: a TypeError, as in Python.
    let mixed = m.list([PyValue::Int(1), PyValue::str("a")]).unwrap();
    assert!(mixed.sort().unwrap_err().is_exception(PyClass::TYPE_ERROR));
    // Python's repr, not Rust's Debug.
    let s = m.list(["a".to_string(), "it's".to_string()]).unwrap();
    assert_eq!(s.repr().unwrap(), "['a', \"it's\"]");
    assert_eq!(s.base_proxy().str().unwrap(), "['a', \"it's\"]");
}

#[test]
fn dict_behaves_as_pythons() {
    let m = Manager::start().unwrap();
    let d: DictProxy<String, i64> = m.dict().unwrap();
    let k = |s: &str| s.to_string();
    d.set(&k("b"), &2).unwrap();
    d.set(&k("a"), &1).unwrap();
    assert_eq!(d.get(&k("a")).unwrap(), Some(1));
    assert_eq!(d.get(&k("zz")).unwrap(), None);
    assert!(d.contains_key(&k("b")).unwrap());
    assert_eq!(d.len().unwrap(), 2);
    assert_eq!(d.keys().unwrap(), ["b", "a"], "insertion order");
    assert_eq!(d.values().unwrap(), [2, 1]);
    assert_eq!(d.setdefault(&k("c"), &3).unwrap(), 3);
    assert_eq!(d.setdefault(&k("c"), &4).unwrap(), 3);
    d.update([(k("d"), 4)]).unwrap();
    assert_eq!(d.pop(&k("d")).unwrap(), Some(4));
    assert_eq!(d.pop(&k("d")).unwrap(), None);
    assert_eq!(d.popitem().unwrap(), Some((k("c"), 3)));
    assert!(d.delete(&k("b")).unwrap());
    assert!(!d.delete(&k("b")).unwrap());
    let copy: BTreeMap<String, i64> = d.copy().unwrap();
    assert_eq!(copy, BTreeMap::from([(k("a"), 1)]));
    assert_eq!(d.repr().unwrap(), "{'a': 1}");
    d.clear().unwrap();
    assert_eq!(d.popitem().unwrap(), None);

    // Python's keys: 1, 1.0 and True are one key; values of any shape.
    let p: DictProxy<PyValue, PyValue> = m.dict().unwrap();
    p.set(&PyValue::Int(1), &PyValue::str("int")).unwrap();
    p.set(&PyValue::Float(1.0), &PyValue::str("float")).unwrap();
    assert_eq!(p.len().unwrap(), 1);
    assert_eq!(p.repr().unwrap(), "{1: 'float'}");
}

#[test]
fn namespace_value_array() {
    let m = Manager::start().unwrap();
    let ns: NamespaceProxy = m.namespace().unwrap();
    ns.set("x", &vec![1u8, 2]).unwrap();
    ns.set("name", "n").unwrap();
    assert_eq!(ns.get::<Vec<u8>>("x").unwrap(), Some(vec![1, 2]));
    assert_eq!(ns.get::<u8>("missing").unwrap(), None);
    assert!(ns.delete("x").unwrap());
    assert!(!ns.delete("x").unwrap());
    assert_eq!(ns.repr().unwrap(), "Namespace(name='n')");

    let v = m.value(7i32).unwrap();
    v.set(&(7 * 7)).unwrap();
    assert_eq!(v.get().unwrap(), 49);
    assert_eq!(v.repr().unwrap(), "Value('i', 49)");

    let a = m.array("d", [1.5f64, 2.5]).unwrap();
    assert_eq!(a.len().unwrap(), 2);
    a.set(-1, &-2.5).unwrap();
    assert_eq!(a.get(1).unwrap(), Some(-2.5));
    assert_eq!(a.get(2).unwrap(), None);
    assert_eq!(a.to_vec().unwrap(), [1.5, -2.5]);
    assert_eq!(a.repr().unwrap(), "array('d', [1.5, -2.5])");
    // The type code is kept: a str is not a double.
    let bad = a.base_proxy().clone();
    let strings: multiproc_manager::ArrayProxy<String> = multiproc_manager::Proxy::from_base(bad);
    assert!(
        strings
            .set(0, &"x".into())
            .unwrap_err()
            .is_exception(PyClass::TYPE_ERROR)
    );
}

#[test]
fn queue_put_get_full_empty_join() {
    let m = Manager::start().unwrap();
    let q: QueueProxy<String> = m.queue(1).unwrap();
    q.put(&"a".into()).unwrap();
    assert!(q.full().unwrap());
    assert!(matches!(q.put_nowait(&"b".into()), Err(Error::Full)));
    let t = Instant::now();
    assert!(matches!(
        q.put_timeout(&"b".into(), Duration::from_millis(100)),
        Err(Error::Full)
    ));
    assert!(t.elapsed() >= Duration::from_millis(90));
    assert_eq!(q.qsize().unwrap(), 1);
    assert_eq!(q.get().unwrap(), "a");
    assert!(q.empty().unwrap());
    assert!(matches!(q.get_nowait(), Err(Error::Empty)));
    assert!(matches!(
        q.get_timeout(Duration::from_millis(50)),
        Err(Error::Empty)
    ));

    let jq: QueueProxy<u32> = m.joinable_queue(0).unwrap();
    jq.put(&1).unwrap();
    assert_eq!(jq.get().unwrap(), 1);
    jq.task_done().unwrap();
    jq.join().unwrap();
    assert!(
        jq.task_done()
            .unwrap_err()
            .is_exception(PyClass::VALUE_ERROR)
    );
}

#[test]
fn locks_semaphores_event_condition_barrier() {
    let m = Manager::start().unwrap();
    let lock = m.lock().unwrap();
    {
        let _g = lock.lock().unwrap();
        assert!(matches!(lock.try_acquire(), Err(AcquireError::Timeout)));
    }
    assert!(
        lock.release()
            .unwrap_err()
            .is_exception(PyClass::RUNTIME_ERROR)
    );

    let r = m.rlock().unwrap();
    r.acquire().unwrap();
    r.acquire().unwrap(); // the same thread again
    r.release().unwrap();
    r.release().unwrap();
    assert!(
        r.release()
            .unwrap_err()
            .is_exception(PyClass::RUNTIME_ERROR)
    );

    let s = m.semaphore(2).unwrap();
    s.acquire().unwrap();
    s.acquire().unwrap();
    assert!(matches!(
        s.acquire_timeout(Duration::from_millis(20)),
        Err(AcquireError::Timeout)
    ));
    s.release().unwrap();
    let b = m.bounded_semaphore(1).unwrap();
    assert!(b.release().unwrap_err().is_exception(PyClass::VALUE_ERROR));

    let e = m.event().unwrap();
    assert!(!e.is_set().unwrap());
    assert!(!e.wait_timeout(Duration::from_millis(20)).unwrap());
    e.set().unwrap();
    e.wait().unwrap();
    e.clear().unwrap();
    assert!(!e.is_set().unwrap());

    let c = m.condition().unwrap();
    assert!(
        c.wait_timeout(Duration::ZERO)
            .unwrap_err()
            .is_exception(PyClass::RUNTIME_ERROR)
    );
    c.acquire().unwrap();
    assert!(!c.wait_timeout(Duration::from_millis(20)).unwrap());
    assert!(c.wait_for(|| true, None).unwrap());
    c.notify_all().unwrap();
    c.release().unwrap();

    let bar = m.barrier(1, None).unwrap();
    assert_eq!(bar.parties().unwrap(), 1);
    assert_eq!(bar.wait().unwrap(), 0);
    let bar2 = m.barrier(2, None).unwrap();
    assert!(matches!(
        bar2.wait_timeout(Duration::from_millis(50)),
        Err(Error::BrokenBarrier)
    ));
    assert!(bar2.broken().unwrap());
    bar2.reset().unwrap();
    assert!(!bar2.broken().unwrap());
    assert_eq!(bar2.n_waiting().unwrap(), 0);
}

/// Seed 000's child, under each start method.
fn modify((ns, l, d): (NamespaceProxy, ListProxy<String>, DictProxy<String, i64>)) -> u32 {
    let a: i64 = ns.get("a").unwrap().unwrap();
    ns.set("a", &(a * 3)).unwrap();
    l.extend(["b".to_string(), "c".to_string()]).unwrap();
    d.set(&"b".to_string(), &0).unwrap();
    std::process::id()
}

#[test]
fn proxies_reach_children_by_spawn_and_forkserver() {
    let m = Manager::start().unwrap();
    for method in [StartMethod::Spawn, StartMethod::Forkserver] {
        let ns = m.namespace().unwrap();
        ns.set("a", &2).unwrap();
        let l = m.list(["a".to_string()]).unwrap();
        let d = m.dict::<String, i64>().unwrap();
        let p = Process::new(modify, (ns.clone(), l.clone(), d.clone())).with_start_method(method);
        let pid = JoinHandle::<u32>::start(p).unwrap().join().unwrap();
        assert_ne!(pid, std::process::id());
        assert_eq!(ns.get::<i64>("a").unwrap(), Some(6), "{method:?}");
        assert_eq!(l.to_vec().unwrap(), ["a", "b", "c"]);
        assert_eq!(d.get(&"b".to_string()).unwrap(), Some(0));
    }
}

fn append_after_parent_dropped(l: ListProxy<u8>) -> usize {
    l.append(&9).unwrap();
    l.len().unwrap()
}

/// The parent's only proxy is moved into the child and dropped here when the child starts:
/// the reference handed to the child keeps the list alive until the child holds its own.
#[test]
fn a_proxy_handed_to_a_child_survives_the_parents_drop() {
    let m = Manager::start().unwrap();
    let before = m.number_of_objects().unwrap();
    let l = m.list([1u8]).unwrap();
    let p = Process::new(append_after_parent_dropped, l).with_start_method(StartMethod::Spawn);
    let h = JoinHandle::<usize>::start(p).unwrap();
    assert_eq!(h.join().unwrap(), 2);
    // Every reference is gone now: the parent's, the hand-off, the child's (its session ended).
    let deadline = Instant::now() + Duration::from_secs(10);
    while m.number_of_objects().unwrap() != before {
        assert!(Instant::now() < deadline, "{}", m.debug_info().unwrap());
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn blocked_get(q: QueueProxy<u32>) -> u32 {
    q.get().unwrap()
}

/// A call that waits blocks its own connection only: while a child waits in `get` (and this
/// process's other thread waits in `acquire`), the same manager serves every other call.
#[test]
fn a_blocking_call_blocks_only_its_connection() {
    let m = Manager::start().unwrap();
    let q: QueueProxy<u32> = m.queue(0).unwrap();
    let child = JoinHandle::<u32>::start(
        Process::new(blocked_get, q.clone()).with_start_method(StartMethod::Spawn),
    )
    .unwrap();
    let lock = m.lock().unwrap();
    lock.acquire().unwrap();
    let l2 = lock.clone();
    let waiter = std::thread::spawn(move || {
        l2.acquire().unwrap();
        let got = Instant::now();
        l2.release().unwrap();
        got
    });
    // Meanwhile, everything else goes on.
    let d = m.dict::<u32, u32>().unwrap();
    for i in 0..50 {
        d.set(&i, &i).unwrap();
    }
    assert_eq!(d.len().unwrap(), 50);
    std::thread::sleep(Duration::from_millis(100));
    let released = Instant::now();
    lock.release().unwrap();
    // The other thread's acquire returned only after the release (a measure that holds however
    // late that thread was scheduled).
    assert!(waiter.join().unwrap() >= released);
    q.put(&42).unwrap();
    assert_eq!(child.join().unwrap(), 42);
}

fn try_without_key(l: ListProxy<u8>) -> String {
    match l.len() {
        Ok(n) => format!("len {n}"),
        Err(e) => format!("{e:?}"),
    }
}

#[test]
fn the_authkey_travels_only_to_a_child() {
    let m = Manager::builder()
        .authkey("a very recognisable key")
        .start()
        .unwrap();
    let l = m.list([1u8]).unwrap();
    let key = b"a very recognisable key";
    let has_key = |b: &[u8]| b.windows(key.len()).any(|w| w == key);
    let plain = multiproc_core::transfer::to_envelope(&l).unwrap();
    assert!(
        !has_key(&plain.bytes),
        "a proxy sent anywhere carries no key"
    );
    let for_child = multiproc_core::transfer::to_child_envelope(&l).unwrap();
    assert!(
        has_key(&for_child.bytes),
        "a proxy for a child carries the key"
    );
    // Rebuild the child's copy here to give its hand-off reference back.
    let back: ListProxy<u8> =
        multiproc_core::transfer::from_envelope(&for_child.bytes, for_child.fds).unwrap();
    drop(back);

    // A process that got the proxy without the key (over a pipe) and knows none cannot use it.
    let (mut a, b) = multiproc_pipe::pipe().unwrap();
    let p = Process::new(
        |(mut conn,): (multiproc_pipe::Connection,)| {
            let l: ListProxy<u8> = conn.recv().unwrap();
            try_without_key(l)
        },
        (b,),
    )
    .with_start_method(StartMethod::Spawn);
    let h = JoinHandle::<String>::start(p).unwrap();
    a.send(&l).unwrap();
    assert_eq!(h.join().unwrap(), "NoAuthkey");
}
