//! What the context tests check, for one context: every factory's object used by a child
//! started with each start method given, a pool whose workers run by the context's method,
//! and a manager whose server does.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use multiproc::pipe::Connection;
use multiproc::{
    Array, Barrier, BoundedSemaphore, Condition, Context, Event, JoinableQueue, Lock, Queue, RLock,
    RawArray, RawValue, Semaphore, SimpleQueue, StartMethod, Value,
};
use serde::{Deserialize, Serialize};

pub const LIMIT: Duration = Duration::from_secs(20);

/// Set in the parent before it starts children: a `fork` child sees it, others do not.
pub static MARK: AtomicU32 = AtomicU32::new(0);

/// One object from each factory.
#[derive(Serialize, Deserialize)]
pub struct Made {
    queue: Queue<u32>,
    bounded: Queue<u32>,
    joinable: JoinableQueue<u32>,
    simple: SimpleQueue<u32>,
    lock: Lock,
    rlock: RLock,
    semaphore: Semaphore,
    bounded_semaphore: BoundedSemaphore,
    event: Event,
    condition: Condition,
    barrier: Barrier,
    value: Value<i64>,
    array: Array<i32>,
    raw_value: RawValue<u64>,
    raw_array: RawArray<u32>,
    duplex: Connection,
    writer: Connection,
}

/// The parent's ends of the pipes, beside the objects it sends.
pub struct Kept {
    duplex: Connection,
    reader: Connection,
}

pub fn make(ctx: &Context) -> (Made, Kept) {
    let (duplex, theirs) = ctx.pipe().unwrap();
    let (reader, writer) = ctx.pipe_one_way().unwrap();
    let made = Made {
        queue: ctx.queue().unwrap(),
        bounded: ctx.queue_with_maxsize(1).unwrap(),
        joinable: ctx.joinable_queue().unwrap(),
        simple: ctx.simple_queue().unwrap(),
        lock: ctx.lock().unwrap(),
        rlock: ctx.rlock().unwrap(),
        semaphore: ctx.semaphore(0).unwrap(),
        bounded_semaphore: ctx.bounded_semaphore(1).unwrap(),
        event: ctx.event().unwrap(),
        condition: ctx.condition().unwrap(),
        barrier: ctx.barrier(2).unwrap(),
        value: ctx.value(40).unwrap(),
        array: ctx.array(&[0, 0, 0]).unwrap(),
        raw_value: ctx.raw_value(0).unwrap(),
        raw_array: ctx.raw_array(&[0, 0]).unwrap(),
        duplex: theirs,
        writer,
    };
    (made, Kept { duplex, reader })
}

/// The child: uses every object; returns its parent's pid and what it saw of [`MARK`].
pub fn use_all(mut m: Made) -> (u32, u32) {
    m.queue.put(1).unwrap();
    m.bounded.put(2).unwrap();
    m.joinable.put(3).unwrap();
    m.simple.put(4).unwrap();
    drop(m.lock.lock().unwrap());
    {
        let _a = m.rlock.lock().unwrap();
        let _b = m.rlock.lock().unwrap();
    }
    m.semaphore.release();
    m.bounded_semaphore.acquire();
    m.event.set();
    m.condition.lock().unwrap().notify_all();
    m.barrier.wait_timeout(LIMIT).unwrap();
    m.value.update(|v| *v += 2);
    m.array.set(1, 7).unwrap();
    m.raw_value.set(9);
    m.raw_array.set(1, 11).unwrap();
    let hello: String = m.duplex.recv().unwrap();
    m.duplex.send(&format!("{hello}, back")).unwrap();
    m.writer.send(&5u8).unwrap();
    (
        std::os::unix::process::parent_id(),
        MARK.load(Ordering::Relaxed),
    )
}

/// Starts a child by `child_ctx` on objects made by `made_by`, and checks that it used each.
pub fn objects_reach_a_child(made_by: &Context, child_ctx: &Context) {
    let what = format!(
        "made by {:?}, child by {:?}",
        made_by.start_method(),
        child_ctx.start_method()
    );
    let (made, mut kept) = make(made_by);
    let handles = (
        made.queue.clone(),
        made.bounded.clone(),
        made.joinable.clone(),
        made.simple.clone(),
        made.semaphore.clone(),
        made.bounded_semaphore.clone(),
        made.event.clone(),
        made.barrier.clone(),
        made.value.clone(),
        made.array.clone(),
        made.raw_value.clone(),
        made.raw_array.clone(),
    );
    kept.duplex.send(&"hello".to_string()).unwrap();
    let child = child_ctx.spawn(use_all, made).unwrap();
    let (q, bq, jq, sq, sem, bsem, ev, barrier, value, array, raw_value, raw_array) = handles;
    barrier.wait_timeout(LIMIT).expect(&what);
    let (ppid, mark) = child.join().expect(&what);
    assert_eq!(q.get_timeout(LIMIT).unwrap(), 1, "{what}");
    assert_eq!(bq.get_timeout(LIMIT).unwrap(), 2, "{what}");
    assert_eq!(jq.get_timeout(LIMIT).unwrap(), 3, "{what}");
    assert_eq!(sq.get().unwrap(), 4, "{what}");
    assert!(sem.acquire_timeout(LIMIT), "{what}");
    assert_eq!(
        bsem.value(),
        0,
        "{what}: the child holds the bounded semaphore"
    );
    assert!(ev.is_set(), "{what}");
    assert_eq!(value.get(), 42, "{what}");
    assert_eq!(array.to_vec(), [0, 7, 0], "{what}");
    assert_eq!(raw_value.get(), 9, "{what}");
    assert_eq!(raw_array.to_vec(), [0, 11], "{what}");
    let back: String = kept.duplex.recv().unwrap();
    assert_eq!(back, "hello, back", "{what}");
    let five: u8 = kept.reader.recv().unwrap();
    assert_eq!(five, 5, "{what}");
    check_started_by(child_ctx.start_method(), ppid, mark, &what);
}

/// A child's parent pid and its view of [`MARK`] say which start method made it: `fork` and
/// `spawn` children are ours, a `forkserver` child is the fork server's; only a `fork` child
/// shares our memory.
pub fn check_started_by(method: StartMethod, ppid: u32, mark: u32, what: &str) {
    let me = std::process::id();
    let (ours, shared) = match method {
        StartMethod::Fork => (true, true),
        StartMethod::Spawn => (true, false),
        StartMethod::Forkserver => (false, false),
    };
    assert_eq!(ppid == me, ours, "{what}: parent pid {ppid}, we are {me}");
    assert_eq!(
        mark == MARK.load(Ordering::Relaxed),
        shared,
        "{what}: mark {mark}"
    );
}

fn who(_: ()) -> (String, u32, u32) {
    (
        multiproc::current_process().name,
        std::os::unix::process::parent_id(),
        MARK.load(Ordering::Relaxed),
    )
}

/// A pool made by `ctx` runs its workers by `ctx`'s method (Python's worker names say which).
pub fn pool_uses_the_method(ctx: &Context) {
    let method = ctx.start_method();
    let pool = ctx.pool(2).unwrap();
    let (name, ppid, mark) = pool.apply(who, ()).unwrap();
    let prefix = match method {
        StartMethod::Fork => "ForkPoolWorker-",
        StartMethod::Spawn => "SpawnPoolWorker-",
        StartMethod::Forkserver => "ForkServerPoolWorker-",
    };
    assert!(name.starts_with(prefix), "{method:?}: worker {name}");
    check_started_by(method, ppid, mark, &format!("pool by {method:?}"));
    drop(pool); // its thread ends, so a `fork` pool can start again
    let built = ctx.pool_builder().processes(1).build().unwrap();
    assert!(built.apply(who, ()).unwrap().0.starts_with(prefix));
}

/// A manager made by `ctx` serves from a process started by `ctx`'s method.
pub fn manager_uses_the_method(ctx: &Context) {
    let method = ctx.start_method();
    let m = ctx.manager().unwrap();
    let l = m.list([1i64, 2]).unwrap();
    l.append(&3).unwrap();
    assert_eq!(l.to_vec().unwrap(), [1, 2, 3], "{method:?}");
    let server = m.pid().expect("a manager started here has a pid");
    let parent = std::fs::read_to_string(format!("/proc/{server}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit(')')
                .next()?
                .split_whitespace()
                .nth(1)?
                .parse::<u32>()
                .ok()
        })
        .expect("the server's parent pid");
    let ours = parent == std::process::id();
    assert_eq!(
        ours,
        method != StartMethod::Forkserver,
        "{method:?}: server's parent {parent}"
    );
}
