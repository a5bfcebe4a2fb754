//! `multiproc-queue` inside tokio programs (feature `tokio`): `put_async` / `get_async` /
//! `join_async` against children started by `multiproc-process` (spawn), on a current-thread
//! and a multi-thread runtime: round trips, cancellation (a cancelled get takes no item, a
//! cancelled put puts none), `tokio::time::timeout`, a runtime shut down with waiters pending,
//! a consumer killed while its future held the consumer lock, chunked items.
#![cfg(feature = "tokio")]

use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::task::Poll;
use std::time::{Duration, Instant};

use multiproc_process::spawn;
use multiproc_queue::{GetError, JoinableQueue, PutError, Queue, SimpleQueue};
use multiproc_sync::Event;
use multiproc_testkit::runtime::{current_thread, multi_thread, on_both};

/// The bound of every wait across processes.
const LIMIT: Duration = Duration::from_secs(20);

/// Polls `fut` once; whether it completed.
async fn poll_once<F: Future>(mut fut: Pin<&mut F>) -> bool {
    poll_fn(|cx| Poll::Ready(fut.as_mut().poll(cx).is_ready())).await
}

async fn until(mut cond: impl FnMut() -> bool, what: &str) {
    let deadline = Instant::now() + LIMIT;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// Echoes `n` items from `a` to `b` (synchronously, with timeouts).
fn echo((a, b, n): (Queue<u64>, Queue<u64>, u32)) {
    for _ in 0..n {
        let v = a.get_timeout(LIMIT).expect("an item");
        b.put_timeout(v, LIMIT).unwrap();
    }
}

/// Echoes `n` items from `a` to `b` with the futures, in a current-thread runtime.
fn echo_async((a, b, n): (Queue<u64>, Queue<u64>, u32)) {
    current_thread().block_on(async {
        for _ in 0..n {
            let v = tokio::time::timeout(LIMIT, a.get_async())
                .await
                .expect("in time")
                .unwrap();
            b.put_async(v).await.unwrap();
        }
    });
}

fn put_after((q, v, ms): (Queue<u64>, u64, u64)) {
    std::thread::sleep(Duration::from_millis(ms));
    q.put_timeout(v, LIMIT).unwrap();
}

fn get_one((q, ms): (Queue<u64>, u64)) -> u64 {
    std::thread::sleep(Duration::from_millis(ms));
    q.get_timeout(LIMIT).unwrap()
}

/// Waits in `get_async` (holding the consumer lock) on an empty queue, after saying so; is
/// killed there.
fn get_async_forever((q, waiting): (Queue<u64>, Event)) {
    current_thread().block_on(async {
        let mut f = Box::pin(q.get_async());
        assert!(!poll_once(f.as_mut()).await);
        waiting.set();
        let _ = tokio::time::timeout(LIMIT, f).await;
    });
}

fn echo_big((a, b): (Queue<Vec<u8>>, Queue<Vec<u8>>)) {
    current_thread().block_on(async {
        let v = tokio::time::timeout(LIMIT, a.get_async())
            .await
            .expect("in time")
            .unwrap();
        tokio::time::timeout(LIMIT, b.put_async(v))
            .await
            .expect("in time")
            .unwrap();
    });
}

fn finish_tasks((q, n): (JoinableQueue<u64>, u32)) {
    for _ in 0..n {
        q.get_timeout(LIMIT).unwrap();
        std::thread::sleep(Duration::from_millis(2));
        q.task_done().unwrap();
    }
}

#[test]
fn round_trips_with_a_child_in_order() {
    on_both(|| async {
        for child_fn in [echo as fn(_), echo_async] {
            let (a, b) = (Queue::new().unwrap(), Queue::new().unwrap());
            let n = 500;
            let child = spawn(child_fn, (a.clone(), b.clone(), n)).unwrap();
            for i in 0..u64::from(n) {
                a.put_async(i).await.unwrap();
                let v = tokio::time::timeout(LIMIT, b.get_async())
                    .await
                    .expect("in time")
                    .unwrap();
                assert_eq!(v, i);
            }
            // Many in flight at once, then all back in order.
            child.join_timeout(LIMIT).expect("child ends").unwrap();
            let child = spawn(child_fn, (a.clone(), b.clone(), n)).unwrap();
            for i in 0..u64::from(n) {
                a.put_async(i).await.unwrap();
            }
            for i in 0..u64::from(n) {
                assert_eq!(b.get_async().await.unwrap(), i);
            }
            child.join_timeout(LIMIT).expect("child ends").unwrap();
        }
    });
}

#[test]
fn a_cancelled_get_takes_no_item() {
    on_both(|| async {
        let q: Queue<u64> = Queue::new().unwrap();
        let r = tokio::time::timeout(Duration::from_millis(50), q.get_async()).await;
        assert!(r.is_err(), "nothing was put");
        // Armed, woken by the child's put, then dropped without being polled again.
        let mut f = Box::pin(q.get_async());
        assert!(!poll_once(f.as_mut()).await);
        let child = spawn(put_after, (q.clone(), 7, 10)).unwrap();
        child.join_timeout(LIMIT).expect("child ends").unwrap();
        until(|| q.qsize() == 1, "the child's item").await;
        drop(f);
        assert_eq!(q.qsize(), 1, "a dropped get took the item");
        // The consumer lock the future held is free: a synchronous get takes the item.
        assert_eq!(q.get_timeout(LIMIT).unwrap(), 7);
        // And a timed-out get loses nothing that comes later.
        let child = spawn(put_after, (q.clone(), 8, 30)).unwrap();
        let _ = tokio::time::timeout(Duration::from_millis(5), q.get_async()).await;
        assert_eq!(
            tokio::time::timeout(LIMIT, q.get_async())
                .await
                .unwrap()
                .unwrap(),
            8
        );
        child.join_timeout(LIMIT).expect("child ends").unwrap();
        assert!(q.empty());
    });
}

#[test]
fn a_cancelled_put_puts_nothing() {
    on_both(|| async {
        let q: Queue<u64> = Queue::with_maxsize(1).unwrap();
        q.put_async(1).await.unwrap();
        let r = tokio::time::timeout(Duration::from_millis(50), q.put_async(2)).await;
        assert!(r.is_err(), "the queue is full");
        // Armed, woken by the child's get making room, then dropped.
        let mut f = Box::pin(q.put_async(3));
        assert!(!poll_once(f.as_mut()).await);
        let child = spawn(get_one, (q.clone(), 10)).unwrap();
        assert_eq!(child.join_timeout(LIMIT).expect("child ends").unwrap(), 1);
        drop(f);
        assert!(q.empty(), "a dropped put put its item");
        // The producer lock is free, and a pending put completes when a child makes room.
        q.put_async(4).await.unwrap();
        let child = spawn(get_one, (q.clone(), 30)).unwrap();
        tokio::time::timeout(LIMIT, q.put_async(5))
            .await
            .expect("room made by the child")
            .unwrap();
        assert_eq!(child.join_timeout(LIMIT).expect("child ends").unwrap(), 4);
        assert_eq!(q.try_get().unwrap(), 5);
        assert!(q.empty());
    });
}

#[test]
fn a_runtime_shut_down_with_waiters_pending_loses_nothing() {
    for rt in [current_thread(), multi_thread()] {
        let empty: Queue<u64> = Queue::new().unwrap();
        let full: Queue<u64> = Queue::with_maxsize(1).unwrap();
        full.put(100).unwrap();
        for i in 0..3 {
            let (e, f) = (empty.clone(), full.clone());
            rt.spawn(async move { e.get_async().await });
            rt.spawn(async move { f.put_async(i).await });
        }
        rt.block_on(async { tokio::time::sleep(Duration::from_millis(50)).await });
        rt.shutdown_timeout(LIMIT);
        // Nothing was taken or put by the dropped futures; both locks are free.
        let child = spawn(put_after, (empty.clone(), 1, 0)).unwrap();
        child.join_timeout(LIMIT).expect("child ends").unwrap();
        assert_eq!(empty.get_timeout(LIMIT).unwrap(), 1);
        assert_eq!(full.get_timeout(LIMIT).unwrap(), 100);
        assert!(matches!(full.try_get(), Err(GetError::Empty)));
        full.put_timeout(2, LIMIT).unwrap();
        assert!(matches!(full.try_put(3), Err(PutError::Full(3))));
    }
}

#[test]
fn a_consumer_killed_inside_get_async_hands_the_queue_on() {
    on_both(|| async {
        let q: Queue<u64> = Queue::new().unwrap();
        let waiting = Event::new().unwrap();
        let child = spawn(get_async_forever, (q.clone(), waiting.clone())).unwrap();
        tokio::time::timeout(LIMIT, waiting.wait_async())
            .await
            .expect("the child waits");
        child.process().kill().unwrap();
        let _ = child.join_timeout(LIMIT);
        q.put_async(9).await.unwrap();
        // The dead future's consumer lock is taken over.
        let v = tokio::time::timeout(LIMIT, q.get_async())
            .await
            .expect("taken over in time")
            .unwrap();
        assert_eq!(v, 9);
    });
}

#[test]
fn chunked_items_go_both_ways() {
    on_both(|| async {
        // 64 KiB ring: 40 KiB items go in chunks and fit whole; 200 KiB ones do not.
        for len in [40 << 10, 200 << 10] {
            let a = Queue::with_capacity(0, 64 << 10).unwrap();
            let b = Queue::with_capacity(0, 64 << 10).unwrap();
            let child = spawn(echo_big, (a.clone(), b.clone())).unwrap();
            let item: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            tokio::time::timeout(LIMIT, a.put_async(item.clone()))
                .await
                .expect("in time")
                .unwrap();
            let back = tokio::time::timeout(LIMIT, b.get_async())
                .await
                .expect("in time")
                .unwrap();
            assert!(back == item, "{len} bytes came back changed");
            child.join_timeout(LIMIT).expect("child ends").unwrap();
        }
    });
}

#[test]
fn join_async_and_simple_queue() {
    on_both(|| async {
        let q = JoinableQueue::new().unwrap();
        for i in 0..5u64 {
            q.put_async(i).await.unwrap();
        }
        let child = spawn(finish_tasks, (q.clone(), 5)).unwrap();
        tokio::time::timeout(LIMIT, q.join_async())
            .await
            .expect("joined in time");
        assert_eq!(q.unfinished(), 0);
        child.join_timeout(LIMIT).expect("child ends").unwrap();

        let s = SimpleQueue::new().unwrap();
        s.put_async("hello".to_string()).await.unwrap();
        assert_eq!(s.get_async().await.unwrap(), "hello");
        s.close();
        assert!(matches!(s.get_async().await, Err(GetError::Closed)));
        assert!(matches!(
            s.put_async("x".into()).await,
            Err(PutError::Closed(_))
        ));
    });
}

/// A future's put and get must be `Send` (tokio::spawn on a multi-thread runtime).
#[test]
fn the_futures_are_send() {
    fn send<F: Future + Send>(_: &F) {}
    let q: Queue<String> = Queue::new().unwrap();
    send(&q.put_async(String::new()));
    send(&q.get_async());
    let j: JoinableQueue<u8> = JoinableQueue::new().unwrap();
    send(&j.join_async());
}
