//! `multiproc-pool` inside tokio programs (feature `tokio`): results awaited on current-thread
//! and multi-thread runtimes, `imap` as a stream, cancellation (`tokio::time::timeout`, a
//! dropped future) that loses no result and leaves the pool usable, a runtime shut down while
//! futures wait, and `fork` workers refused under a multi-thread runtime.
#![cfg(feature = "tokio")]

use std::pin::Pin;
use std::time::Duration;

use futures_core::Stream;
use multiproc_pool::{Error, Pool, TaskError};
use multiproc_process::StartMethod;
use multiproc_testkit::runtime::{current_thread, multi_thread};

const LIMIT: Duration = Duration::from_secs(20);

fn double(x: u64) -> u64 {
    2 * x
}

fn sleep_then(ms: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(ms));
    ms
}

fn panic_on_odd(x: u64) -> u64 {
    assert!(x.is_multiple_of(2), "odd input {x}");
    x
}

async fn next<S: Stream + Unpin>(s: &mut S) -> Option<S::Item> {
    std::future::poll_fn(|cx| Pin::new(&mut *s).poll_next(cx)).await
}

#[test]
fn awaited_results_and_streams_on_a_current_thread_runtime() {
    let pool = Pool::new(2).unwrap();
    current_thread().block_on(async {
        assert_eq!(pool.apply_async(double, 21).unwrap().await, Ok(42));
        assert_eq!(
            pool.map_async(double, 0..10, None).unwrap().await.unwrap(),
            (0..10).map(|x| 2 * x).collect::<Vec<_>>()
        );
        assert_eq!(
            pool.starmap_async(|(a, b): (u64, u64)| a + b, [(1, 2)], None)
                .unwrap()
                .await
                .unwrap(),
            vec![3]
        );
        assert!(matches!(
            pool.apply_async(panic_on_odd, 3).unwrap().await,
            Err(TaskError::Panicked(_))
        ));
        // imap as a stream, in order, over an endless input.
        let mut s = pool.imap(double, 0u64.., 3);
        for i in 0..100 {
            assert_eq!(next(&mut s).await.unwrap().unwrap(), 2 * i);
        }
        drop(s);
        let mut s = pool.imap_unordered(sleep_then, [300, 10, 20], 1);
        let mut got = Vec::new();
        while let Some(r) = next(&mut s).await {
            got.push(r.unwrap());
        }
        assert_ne!(got[0], 300, "unordered: {got:?}");
        got.sort_unstable();
        assert_eq!(got, [10, 20, 300]);
    });
    assert_eq!(
        pool.apply(double, 1).unwrap(),
        2,
        "still usable synchronously"
    );
}

#[test]
fn many_results_awaited_at_once_on_a_multi_thread_runtime() {
    let pool = std::sync::Arc::new(Pool::new(2).unwrap());
    multi_thread().block_on(async {
        let tasks: Vec<_> = (0..64u64)
            .map(|i| {
                let pool = pool.clone();
                tokio::spawn(async move { pool.apply_async(double, i).unwrap().await })
            })
            .collect();
        for (i, t) in tasks.into_iter().enumerate() {
            let r = tokio::time::timeout(LIMIT, t).await.unwrap().unwrap();
            assert_eq!(r, Ok(2 * i as u64));
        }
        // fork workers are refused here (the runtime has threads), naming the way out.
        let e = Pool::builder()
            .processes(1)
            .start_method(StartMethod::Fork)
            .build()
            .unwrap_err();
        let text = format!("{e}: {}", std::error::Error::source(&e).unwrap());
        assert!(matches!(e, Error::Process(_)), "{e:?}");
        assert!(
            text.contains("spawn") && text.contains("forkserver"),
            "{text}"
        );
    });
}

#[test]
fn cancellation_loses_no_result() {
    let pool = Pool::new(1).unwrap();
    current_thread().block_on(async {
        let mut r = pool.apply_async(sleep_then, 300).unwrap();
        // The wait times out and its future is dropped; the result is still to come.
        assert!(
            tokio::time::timeout(Duration::from_millis(30), &mut r)
                .await
                .is_err()
        );
        assert!(!r.ready());
        assert_eq!(tokio::time::timeout(LIMIT, r).await.unwrap(), Ok(300));
        // A result whose future was dropped unpolled: the pool goes on.
        drop(pool.apply_async(sleep_then, 50).unwrap());
        assert_eq!(pool.apply_async(double, 4).unwrap().await, Ok(8));
        // Awaiting after a get: the value was taken.
        let r = pool.apply_async(double, 5).unwrap();
        assert_eq!(r.get_timeout(LIMIT), Ok(10));
        assert_eq!(r.await, Err(TaskError::AlreadyTaken));
    });
}

#[test]
fn a_runtime_shut_down_with_waiters_pending() {
    let pool = Pool::new(2).unwrap();
    let kept = pool.apply_async(sleep_then, 200).unwrap();
    let rt = multi_thread();
    for _ in 0..4 {
        let r = pool.apply_async(sleep_then, 200).unwrap();
        rt.spawn(r);
    }
    std::thread::sleep(Duration::from_millis(50));
    rt.shutdown_timeout(Duration::from_millis(100));
    // The waiting futures are gone; the pool, and a result nobody awaited, are not.
    assert_eq!(kept.get_timeout(LIMIT), Ok(200));
    assert_eq!(pool.map(double, 0..4).unwrap(), vec![0, 2, 4, 6]);
    pool.close();
    pool.join().unwrap();
}
