//! The `fork` start method, in a test binary without the libtest harness (`harness = false`),
//! so that this process really has one thread and forking it is sound.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::atomic::Ordering;
use std::time::Duration;

use multiproc_core::SharedMapping;
use multiproc_process::{
    Daemon, Error, Fork, JoinError, JoinHandle, Process, StartMethod, get_context,
};
use multiproc_testkit::{ChildGuard, ROLE_ENV, pid_gone_within};

const LIMIT: Duration = Duration::from_secs(20);

fn kilobyte(seed: u8) -> Vec<u8> {
    (0..1024).map(|i| (i as u8).wrapping_add(seed)).collect()
}

fn joined(p: &Process) -> Option<i32> {
    assert!(p.join_timeout(LIMIT).unwrap(), "child still running");
    p.exitcode()
}

fn exit_codes() {
    let p = Process::from_closure(|| ());
    p.start().unwrap();
    assert_eq!(joined(&p), Some(0));
    let p = Process::from_closure(|| -> () { std::process::exit(3) });
    p.start().unwrap();
    assert_eq!(joined(&p), Some(3));
    let p = Process::from_closure(|| -> () { panic!("forked panic") });
    p.start().unwrap();
    assert_eq!(joined(&p), Some(1));
    assert_eq!(p.panic_message().as_deref(), Some("forked panic"));
    let p = Process::from_closure(|| std::thread::sleep(Duration::from_secs(20)));
    p.start().unwrap();
    p.terminate().unwrap();
    assert_eq!(joined(&p), Some(-15));
    let p = Process::from_closure(|| std::thread::sleep(Duration::from_secs(20)));
    p.start().unwrap();
    p.kill().unwrap();
    assert_eq!(joined(&p), Some(-9));
}

fn values_come_back() {
    let h = get_context(StartMethod::Fork).spawn(kilobyte, 9).unwrap();
    assert_eq!(h.join().unwrap(), kilobyte(9));
    let h = JoinHandle::<u64>::start(Process::from_closure(|| 6u64 * 7)).unwrap();
    assert_eq!(h.join().unwrap(), 42);
    let h = JoinHandle::<u64>::start(Process::from_closure(|| -> u64 { panic!("no") })).unwrap();
    assert!(matches!(h.join(), Err(JoinError::Panicked(m)) if m == "no"));
    // A JoinHandle of the wrong type is refused before anything starts.
    let r = JoinHandle::<String>::start(Process::from_closure(|| 1u8));
    assert!(matches!(r, Err(Error::WrongResultType)));
}

fn memory_is_inherited() {
    let map = SharedMapping::anonymous(4096).unwrap();
    let child_view = map.try_clone().err().map(|_| ()); // anonymous cannot be re-mapped…
    assert!(child_view.is_some());
    // …but a forked child sees the very pages.
    let word: &'static std::sync::atomic::AtomicU32 = Box::leak(Box::new(map)).atomic_u32(0);
    let p = Process::from_closure(move || word.store(99, Ordering::Release));
    p.start().unwrap();
    assert_eq!(joined(&p), Some(0));
    assert_eq!(word.load(Ordering::Acquire), 99);
}

fn os_fork_and_waitpid() {
    match multiproc_process::fork().unwrap() {
        Fork::Child => std::process::exit(7),
        Fork::Parent { child } => assert_eq!(multiproc_process::waitpid(child).unwrap(), 7),
    }
}

fn fork_daemon_dies_with_sigkilled_parent() {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.env(ROLE_ENV, "fork-middle").stdout(Stdio::piped());
    let mut middle = ChildGuard(cmd.spawn().unwrap());
    let out = middle.0.stdout.take().unwrap();
    let mut line = String::new();
    BufReader::new(out).read_line(&mut line).unwrap();
    let daemon: u32 = line
        .trim()
        .strip_prefix("daemon-pid ")
        .unwrap()
        .parse()
        .unwrap();
    assert!(!pid_gone_within(daemon, Duration::ZERO));
    middle.0.kill().unwrap();
    middle.wait(LIMIT);
    assert!(
        pid_gone_within(daemon, Duration::from_secs(5)),
        "forked daemon {daemon} outlived its SIGKILLed parent"
    );
}

fn middle() {
    let p = Process::from_closure(|| {
        println!("daemon-pid {}", std::process::id());
        std::thread::sleep(Duration::from_secs(60));
    })
    .with_daemon(Daemon::Yes);
    p.start().unwrap();
    std::thread::sleep(Duration::from_secs(60));
}

fn threads_of(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/task")).map_or(0, |d| d.count())
}

/// A daemon forked by the main thread dies with it through the kernel (no watcher thread in
/// the child); one forked by another thread, which then ends, lives on while the process does
/// (the kernel's parent-death signal follows the forking thread, so that one watches a pipe).
fn daemon_watchers() {
    let p = Process::from_closure(|| std::thread::sleep(Duration::from_secs(20)))
        .with_daemon(Daemon::Yes);
    p.start().unwrap();
    let pid = p.pid().unwrap();
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(threads_of(pid), 1, "a main-thread daemon needs no watcher");
    p.kill().unwrap();
    assert_eq!(joined(&p), Some(-9));

    let p = std::sync::Arc::new(
        Process::from_closure(|| std::thread::sleep(Duration::from_secs(20)))
            .with_daemon(Daemon::Yes),
    );
    let q = p.clone();
    std::thread::spawn(move || {
        // SAFETY: the only other thread (main) waits in `join` for this one, holding no lock
        // the child could need.
        unsafe { q.start_fork_unchecked() }.unwrap();
    })
    .join()
    .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        p.is_alive(),
        "a daemon forked by a thread that ended must live while its process does"
    );
    p.kill().unwrap();
    assert_eq!(joined(&p), Some(-9));
}

/// Set once, before use: this binary has made processes already, so the start method is fixed;
/// only the separately named `force_start_method` changes it.
fn start_method_is_set_once() {
    use multiproc_process::{force_start_method, get_start_method, set_start_method};
    let before = get_start_method();
    assert!(matches!(
        set_start_method(StartMethod::Spawn),
        Err(Error::StartMethodFixed { current }) if current == before
    ));
    assert_eq!(get_start_method(), before);
    force_start_method(StartMethod::Spawn);
    assert_eq!(get_start_method(), StartMethod::Spawn);
    assert_eq!(
        Process::new(|(): ()| (), ()).start_method(),
        StartMethod::Spawn
    );
    force_start_method(before);
}

/// A current-thread tokio runtime adds no thread, so `fork` works inside it, and its children
/// can be awaited.
#[cfg(feature = "tokio")]
fn fork_under_a_current_thread_runtime() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let p = Process::from_closure(|| -> () { std::process::exit(6) });
        p.start().unwrap();
        tokio::time::timeout(LIMIT, p.join_async())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(p.exitcode(), Some(6));
        let h = JoinHandle::<u64>::start(Process::from_closure(|| 6u64 * 7)).unwrap();
        assert_eq!(h.join_async().await.unwrap(), 42);
    });
}

/// Last: once a second thread runs, `fork` must be refused.
fn refused_once_threads_exist() {
    let t = std::thread::spawn(|| std::thread::sleep(Duration::from_millis(300)));
    let p = Process::from_closure(|| ());
    assert!(matches!(
        p.start(),
        Err(Error::ForkWithThreads { threads: 2 })
    ));
    t.join().unwrap();
}

fn main() {
    if std::env::var(ROLE_ENV).as_deref() == Ok("fork-middle") {
        middle();
        return;
    }
    multiproc_testkit::run_single_threaded(&[
        ("exit_codes", exit_codes),
        ("values_come_back", values_come_back),
        ("memory_is_inherited", memory_is_inherited),
        ("os_fork_and_waitpid", os_fork_and_waitpid),
        (
            "fork_daemon_dies_with_sigkilled_parent",
            fork_daemon_dies_with_sigkilled_parent,
        ),
        ("daemon_watchers", daemon_watchers),
        ("start_method_is_set_once", start_method_is_set_once),
        #[cfg(feature = "tokio")]
        (
            "fork_under_a_current_thread_runtime",
            fork_under_a_current_thread_runtime,
        ),
        // Last: it starts a second thread.
        ("refused_once_threads_exist", refused_once_threads_exist),
    ]);
}
