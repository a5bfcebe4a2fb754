//! `multiproc-process` inside tokio programs (feature `tokio`): a child's end as a future on
//! current-thread and multi-thread runtimes, `select!`, cancellation, `tokio::time::timeout`,
//! a runtime shut down while futures wait, and `fork` refused under a multi-thread runtime.
#![cfg(feature = "tokio")]

use std::sync::Arc;
use std::time::{Duration, Instant};

use multiproc_process::{Error, JoinError, Process, StartMethod, spawn};
use multiproc_testkit::runtime::{current_thread, multi_thread};

const LIMIT: Duration = Duration::from_secs(20);
const METHODS: [StartMethod; 2] = [StartMethod::Spawn, StartMethod::Forkserver];

fn sleep_then_exit(ms: u64) {
    std::thread::sleep(Duration::from_millis(ms));
    std::process::exit(5)
}

fn square(x: u64) -> u64 {
    x * x
}

fn panics(_: ()) -> u64 {
    panic!("async boom")
}

#[test]
fn join_async_and_values_on_a_current_thread_runtime() {
    current_thread().block_on(async {
        for m in METHODS {
            let p = Process::new(sleep_then_exit, 50).with_start_method(m);
            p.start().unwrap();
            tokio::time::timeout(LIMIT, p.join_async())
                .await
                .expect("in time")
                .unwrap();
            assert_eq!(p.exitcode(), Some(5), "{m:?}");
            let h = multiproc_process::get_context(m).spawn(square, 12).unwrap();
            assert_eq!(h.join_async().await.unwrap(), 144);
        }
        let h = spawn(panics, ()).unwrap();
        assert!(matches!(h.join_async().await, Err(JoinError::Panicked(m)) if m == "async boom"));
    });
}

#[test]
fn many_children_awaited_at_once_on_a_multi_thread_runtime() {
    multi_thread().block_on(async {
        let tasks: Vec<_> = (0..8u64)
            .map(|i| {
                tokio::spawn(async move {
                    let h = spawn(square, i).unwrap();
                    h.join_async().await.unwrap()
                })
            })
            .collect();
        let mut got = Vec::new();
        for t in tasks {
            got.push(tokio::time::timeout(LIMIT, t).await.unwrap().unwrap());
        }
        assert_eq!(got, (0..8).map(|i| i * i).collect::<Vec<_>>());
        // fork is refused here (the runtime has threads), naming the way out.
        let p = Process::new(square, 1).with_start_method(StartMethod::Fork);
        let e = p.start().unwrap_err();
        assert!(matches!(e, Error::ForkWithThreads { .. }), "{e:?}");
        let text = e.to_string();
        assert!(
            text.contains("spawn") && text.contains("forkserver"),
            "{text}"
        );
    });
}

#[test]
fn sentinel_in_select_and_a_cancelled_join_leave_the_process_usable() {
    current_thread().block_on(async {
        for m in METHODS {
            let p = Process::new(sleep_then_exit, 300).with_start_method(m);
            p.start().unwrap();
            // The timer wins while the child runs.
            tokio::select! {
                _ = p.sentinel_async().unwrap() => panic!("{m:?}: ended too early"),
                _ = tokio::time::sleep(Duration::from_millis(50)) => {}
            }
            // A timed-out join is dropped half-way...
            let t = Instant::now();
            assert!(
                tokio::time::timeout(Duration::from_millis(50), p.join_async())
                    .await
                    .is_err()
            );
            assert!(t.elapsed() < Duration::from_millis(250));
            assert!(p.is_alive());
            // ...and the process is waited for as before.
            tokio::select! {
                r = p.sentinel_async().unwrap() => r.unwrap(),
                _ = tokio::time::sleep(LIMIT) => panic!("{m:?}: never ended"),
            }
            p.join_async().await.unwrap();
            assert_eq!(p.exitcode(), Some(5), "{m:?}");
        }
    });
}

#[test]
fn a_runtime_shut_down_with_waiters_pending() {
    let p = Arc::new(Process::new(sleep_then_exit, 300).with_start_method(StartMethod::Forkserver));
    p.start().unwrap();
    let rt = multi_thread();
    for _ in 0..3 {
        let p = p.clone();
        rt.spawn(async move { p.join_async().await });
    }
    std::thread::sleep(Duration::from_millis(50));
    rt.shutdown_timeout(Duration::from_millis(100));
    // The waiting futures are gone; the process is still ours to wait for.
    assert!(p.join_timeout(LIMIT).unwrap());
    assert_eq!(p.exitcode(), Some(5));
    // Outside a runtime: a typed error, not a panic.
    let q = Process::new(square, 2);
    q.start().unwrap();
    assert!(matches!(q.sentinel_async(), Err(Error::NoRuntime)));
    q.join().unwrap();
}
