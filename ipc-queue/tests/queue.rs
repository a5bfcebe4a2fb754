//! Every method and error of the queues, in one process and across processes started by
//! spawn and forkserver (fork: `tests/fork.rs`).

use std::time::{Duration, Instant};

use multiproc_core::SharedMapping;
use multiproc_process::{Process, StartMethod};
use multiproc_queue::{
    Bytes, GetError, JoinableQueue, PutError, Queue, SimpleQueue, TaskDoneError,
};

const LIMIT: Duration = Duration::from_secs(20);

fn joined(p: &Process) -> Option<i32> {
    assert!(p.join_timeout(LIMIT).unwrap(), "child still running");
    p.exitcode()
}

#[test]
fn put_get_forms_and_sizes() {
    let q: Queue<u32> = Queue::with_maxsize(2).unwrap();
    assert!(q.empty() && !q.full());
    assert_eq!((q.qsize(), q.maxsize()), (0, 2));
    q.put(1).unwrap();
    q.put_timeout(2, Duration::from_millis(10)).unwrap();
    assert!(q.full() && !q.empty());
    assert_eq!(q.qsize(), 2);
    let start = Instant::now();
    match q.put_timeout(3, Duration::from_millis(50)) {
        Err(PutError::Full(3)) => {}
        other => panic!("{other:?}"),
    }
    assert!(start.elapsed() >= Duration::from_millis(50));
    assert_eq!(q.put_nowait(4).unwrap_err().into_inner(), 4);
    assert_eq!(q.get().unwrap(), 1);
    assert_eq!(q.get_nowait().unwrap(), 2);
    assert!(q.get_nowait().unwrap_err().is_empty());
    let start = Instant::now();
    assert!(matches!(
        q.get_timeout(Duration::from_millis(50)),
        Err(GetError::Empty)
    ));
    let waited = start.elapsed();
    assert!(waited >= Duration::from_millis(50) && waited < Duration::from_secs(2));
    assert_eq!(format!("{}", PutError::Full(0u8)), "the queue is full");
}

#[test]
fn unbounded_queue_is_bounded_by_its_buffer() {
    let q: Queue<Vec<u8>> = Queue::with_capacity(0, 4096).unwrap();
    assert_eq!(q.buffer_bytes(), 4096);
    let mut n = 0;
    while q.put_nowait(vec![7; 100]).is_ok() {
        n += 1;
    }
    assert!(n > 10, "{n} items of 100 bytes in 4 KiB");
    assert!(
        q.put_timeout(vec![1; 100], Duration::from_millis(5))
            .unwrap_err()
            .is_full()
    );
    for _ in 0..n {
        assert_eq!(q.get_nowait().unwrap(), vec![7; 100]);
    }
    assert!(q.empty());
    // Wrapping around the ring many times keeps order and content.
    for i in 0..5000u32 {
        q.put(vec![i as u8; (i % 300) as usize]).unwrap();
        assert_eq!(q.get().unwrap(), vec![i as u8; (i % 300) as usize]);
    }
}

#[test]
fn close_drains_then_reports_closed() {
    let q: Queue<String> = Queue::new().unwrap();
    q.put("last".into()).unwrap();
    q.close();
    assert!(q.is_closed());
    assert!(matches!(q.put("late".into()), Err(PutError::Closed(s)) if s == "late"));
    assert_eq!(q.get().unwrap(), "last");
    assert!(matches!(q.get(), Err(GetError::Closed)));
    // A consumer asleep in `get` is woken by the close.
    let q: Queue<u8> = Queue::new().unwrap();
    let q2 = q.clone();
    let t = std::thread::spawn(move || q2.get_timeout(LIMIT));
    std::thread::sleep(Duration::from_millis(20));
    q.close();
    assert!(matches!(t.join().unwrap(), Err(GetError::Closed)));
}

#[test]
fn items_with_descriptors_are_refused_and_wrong_types_reported() {
    let q: Queue<SharedMapping> = Queue::new().unwrap();
    let map = SharedMapping::memfd("x", 4096).unwrap();
    match q.put(map) {
        Err(PutError::Encode(back, multiproc_core::Error::FdOutsideTransfer)) => {
            assert_eq!(back.len(), 4096)
        }
        other => panic!("{other:?}"),
    }
    // The same queue seen with another item type: the item does not decode.
    let q: Queue<String> = Queue::new().unwrap();
    let env = multiproc_core::transfer::to_envelope(&q).unwrap();
    let other: Queue<Vec<u64>> =
        multiproc_core::transfer::from_envelope(&env.bytes, env.fds).unwrap();
    q.put("\u{ffff}".repeat(3)).unwrap();
    assert!(matches!(other.get(), Err(GetError::Decode(_))));
    assert!(other.same_as(&other.clone()));
}

#[test]
fn joinable_and_simple_queues() {
    let q: JoinableQueue<u8> = JoinableQueue::with_maxsize(10).unwrap();
    assert_eq!(q.task_done(), Err(TaskDoneError));
    assert!(q.join_timeout(Duration::ZERO));
    q.put(1).unwrap();
    q.put(2).unwrap();
    assert_eq!(q.unfinished(), 2);
    assert!(!q.join_timeout(Duration::from_millis(10)));
    q.get().unwrap();
    q.task_done().unwrap();
    assert_eq!(q.task_done(), Err(TaskDoneError), "only one item was taken");
    q.get().unwrap();
    let q2 = q.clone();
    let t = std::thread::spawn(move || q2.join_timeout(LIMIT));
    std::thread::sleep(Duration::from_millis(10));
    q.task_done().unwrap();
    assert!(t.join().unwrap());
    q.join();

    let s: SimpleQueue<(i32, String)> = SimpleQueue::new().unwrap();
    assert!(s.empty());
    s.put((1, "a".into())).unwrap();
    assert!(!s.empty());
    assert_eq!(s.get().unwrap(), (1, "a".into()));
    s.close();
    assert!(matches!(s.get(), Err(GetError::Closed)));
    assert!(s.put((2, "b".into())).is_err());
}

fn echo_doubled((input, output): (Queue<Option<u64>>, JoinableQueue<u64>)) {
    while let Some(x) = input.get().unwrap() {
        output.put(x * 2).unwrap();
    }
}

fn simple_child(q: SimpleQueue<String>) {
    q.put(format!("from {}", std::process::id())).unwrap();
}

#[test]
fn handles_reach_spawn_and_forkserver_children() {
    for method in [StartMethod::Spawn, StartMethod::Forkserver] {
        let input = Queue::with_maxsize(3).unwrap();
        let output = JoinableQueue::new().unwrap();
        let p =
            Process::new(echo_doubled, (input.clone(), output.clone())).with_start_method(method);
        p.start().unwrap();
        for i in 0..1000 {
            input.put(Some(i)).unwrap();
        }
        input.put(None).unwrap();
        for i in 0..1000 {
            assert_eq!(output.get_timeout(LIMIT).unwrap(), i * 2);
            output.task_done().unwrap();
        }
        assert!(output.join_timeout(LIMIT));
        assert_eq!(joined(&p), Some(0), "{method:?}");

        let s = SimpleQueue::new().unwrap();
        let p = Process::new(simple_child, s.clone()).with_start_method(method);
        p.start().unwrap();
        assert_eq!(joined(&p), Some(0));
        assert_eq!(s.get().unwrap(), format!("from {}", p.pid().unwrap()));
    }
}

fn pattern(len: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(len);
    for i in 0..len / 4096 {
        v.extend_from_slice(&[(i % 251) as u8; 4096]);
    }
    v
}

fn big_consumer(q: Queue<Bytes>) -> (usize, bool) {
    let v = q.get_timeout(LIMIT).unwrap();
    (v.len(), v.0 == pattern(64 << 20))
}

#[test]
fn a_64_mib_message_goes_through_a_1_mib_buffer() {
    let q: Queue<Bytes> = Queue::new().unwrap();
    assert_eq!(q.buffer_bytes(), 1 << 20);
    let h = multiproc_process::spawn(big_consumer, q.clone()).unwrap();
    q.put_timeout(Bytes(pattern(64 << 20)), LIMIT).unwrap();
    assert_eq!(h.join().unwrap(), (64 << 20, true));
    // And the ring is fine afterwards.
    q.put(Bytes(vec![1, 2, 3])).unwrap();
    assert_eq!(q.get().unwrap().0, vec![1, 2, 3]);
}

/// CPU time of the calling thread.
fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid, writable timespec; CLOCK_THREAD_CPUTIME_ID always exists on Linux.
    let r = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(r, 0);
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// A consumer that keeps waiting for items that do not come learns not to spin: 2,000 gets of
/// 100 µs each on an empty queue take well under a quarter of their time on the CPU (a spin
/// of up to 50 µs before each sleep, as before the spin adapted, took about half).
#[test]
fn an_idle_consumer_learns_not_to_spin() {
    let q: Queue<u32> = Queue::new().unwrap();
    let (wall, cpu) = (Instant::now(), thread_cpu());
    for _ in 0..2000 {
        assert!(
            q.get_timeout(Duration::from_micros(100))
                .unwrap_err()
                .is_empty()
        );
    }
    let (wall, cpu) = (wall.elapsed(), thread_cpu() - cpu);
    assert!(
        cpu * 4 < wall,
        "{cpu:?} on the CPU in {wall:?} of waiting for nothing"
    );
}
