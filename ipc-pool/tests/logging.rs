//! The pool's log records, captured by a logger this test installs: a worker that dies in a
//! task (killed by a signal, or calling `process::exit`) is logged as died and replaced.
//!
//! One test in its own binary: the logger is the process's one global logger.

use std::sync::Mutex;
use std::time::Duration;

use log::{Level, LevelFilter, Log, Metadata, Record};
use multiproc_pool::{Pool, TaskError};
use multiproc_testkit::eventually;

const LIMIT: Duration = Duration::from_secs(20);

/// Keeps every record: (level, target, message).
struct Capture(Mutex<Vec<(Level, String, String)>>);

impl Log for Capture {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn log(&self, r: &Record<'_>) {
        let mut v = self.0.lock().unwrap_or_else(|p| p.into_inner());
        v.push((r.level(), r.target().to_owned(), r.args().to_string()));
    }
    fn flush(&self) {}
}

static CAPTURE: Capture = Capture(Mutex::new(Vec::new()));

/// The first `warn` record of the pool's dispatcher whose message contains every word.
fn warned(words: &[&str]) -> Option<String> {
    let v = CAPTURE.0.lock().unwrap_or_else(|p| p.into_inner());
    v.iter()
        .find(|(l, t, m)| {
            *l == Level::Warn
                && t == "multiproc_pool::dispatch"
                && words.iter().all(|w| m.contains(w))
        })
        .map(|(_, _, m)| m.clone())
}

fn exit_3(_: ()) -> u32 {
    std::process::exit(3)
}

fn sigkill_self(_: u64) -> u64 {
    // SAFETY: getpid/kill have no memory-safety preconditions.
    unsafe { libc::kill(libc::getpid(), libc::SIGKILL) };
    unreachable!()
}

#[test]
fn a_worker_that_dies_is_logged_as_replaced() {
    log::set_logger(&CAPTURE).unwrap();
    log::set_max_level(LevelFilter::Debug);
    let pool = Pool::new(1).unwrap();

    // A single task (the worker's lane) whose worker calls `process::exit(3)`.
    match pool.apply(exit_3, ()) {
        Err(TaskError::WorkerDied { exitcode }) => assert_eq!(exitcode, Some(3)),
        other => panic!("expected WorkerDied, got {other:?}"),
    }
    assert!(
        eventually(LIMIT, || warned(&[
            "exit code 3",
            "lane task",
            "replaced by"
        ])
        .is_some()),
        "no record of the worker's replacement: {:?}",
        CAPTURE.0.lock().unwrap()
    );

    // A batch of `map` whose worker is killed by SIGKILL.
    let r = pool.map_chunked(sigkill_self, [1u64], 1);
    assert!(matches!(r, Err(TaskError::WorkerDied { .. })), "{r:?}");
    assert!(
        eventually(LIMIT, || {
            warned(&["killed by signal 9", "task batch", "replaced by"]).is_some()
        }),
        "no record of the second replacement: {:?}",
        CAPTURE.0.lock().unwrap()
    );

    // The replacement works.
    assert_eq!(pool.apply(|x: u64| x + 1, 1).unwrap(), 2);
    pool.terminate();
}
