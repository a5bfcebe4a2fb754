//! `Process` and `JoinHandle` across real processes, under `spawn` and `forkserver` (the test
//! harness runs tests on threads, so `fork` is refused here; `tests/fork.rs` covers it in a
//! single-threaded binary).

use std::io::{BufRead, BufReader};
use std::os::fd::AsRawFd;
use std::process::Stdio;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use multiproc_core::SharedMapping;
use multiproc_core::transfer::Channel;
use multiproc_process::{Daemon, Error, JoinError, Process, StartMethod, get_context};
use multiproc_testkit::{ChildGuard, child_command, pid_gone_within, role};

const LIMIT: Duration = Duration::from_secs(20);
const METHODS: [StartMethod; 2] = [StartMethod::Spawn, StartMethod::Forkserver];

fn noop(_: ()) {}
fn exit_with(code: i32) {
    std::process::exit(code)
}
fn panics(msg: String) {
    panic!("{msg}")
}
fn sleep_ms(ms: u64) {
    std::thread::sleep(Duration::from_millis(ms))
}
fn kilobyte(seed: u8) -> Vec<u8> {
    (0..1024).map(|i| (i as u8).wrapping_add(seed)).collect()
}

fn start(method: StartMethod, p: Process) -> Process {
    let p = p.with_start_method(method);
    p.start().expect("start");
    p
}

fn joined(p: &Process) -> Option<i32> {
    assert!(
        p.join_timeout(LIMIT).unwrap(),
        "child still running after {LIMIT:?}"
    );
    p.exitcode()
}

#[test]
fn exit_codes_for_every_way_of_ending() {
    for m in METHODS {
        assert_eq!(joined(&start(m, Process::new(noop, ()))), Some(0), "{m:?}");
        assert_eq!(
            joined(&start(m, Process::new(exit_with, 42))),
            Some(42),
            "{m:?}"
        );
        let p = start(m, Process::new(panics, "kaboom".to_string()));
        assert_eq!(joined(&p), Some(1), "{m:?}");
        assert_eq!(p.panic_message().as_deref(), Some("kaboom"), "{m:?}");
        let p = start(m, Process::new(sleep_ms, 20_000));
        p.terminate().unwrap();
        assert_eq!(joined(&p), Some(-libc::SIGTERM), "{m:?}");
        let p = start(m, Process::new(sleep_ms, 20_000));
        p.kill().unwrap();
        assert_eq!(joined(&p), Some(-libc::SIGKILL), "{m:?}");
    }
}

#[test]
fn join_timeout_is_close_to_what_was_asked() {
    for m in METHODS {
        let p = start(m, Process::new(sleep_ms, 400));
        assert!(p.is_alive());
        let t = Instant::now();
        assert!(!p.join_timeout(Duration::from_millis(100)).unwrap());
        let took = t.elapsed();
        assert!(took >= Duration::from_millis(100), "{m:?}: {took:?}");
        assert!(took < Duration::from_millis(180), "{m:?}: {took:?}");
        assert_eq!(p.exitcode(), None);
        assert!(p.join_timeout(LIMIT).unwrap());
        assert!(!p.is_alive());
        assert_eq!(p.exitcode(), Some(0));
        // Joining again is fine (Python allows many joins).
        p.join().unwrap();
    }
}

#[test]
fn sentinel_becomes_readable_when_the_child_ends() {
    for m in METHODS {
        let p = start(m, Process::new(sleep_ms, 150));
        let s = p.sentinel().unwrap();
        let mut fds = [libc::pollfd {
            fd: s.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        }];
        // SAFETY: one valid pollfd; zero timeout.
        let early = unsafe { libc::poll(fds.as_mut_ptr(), 1, 0) };
        assert_eq!(early, 0, "{m:?}: ready too early");
        // SAFETY: as above, bounded by 10 s.
        let later = unsafe { libc::poll(fds.as_mut_ptr(), 1, 10_000) };
        assert_eq!(later, 1, "{m:?}");
        assert_eq!(joined(&p), Some(0));
    }
}

#[test]
fn misuse_is_an_error_not_a_hang() {
    let p = Process::new(sleep_ms, 300);
    assert!(matches!(p.join(), Err(Error::NotStarted)));
    assert!(matches!(p.terminate(), Err(Error::NotStarted)));
    assert!(p.pid().is_none() && !p.is_alive() && p.exitcode().is_none());
    p.start().unwrap();
    assert!(matches!(p.start(), Err(Error::AlreadyStarted)));
    assert!(matches!(p.close(), Err(Error::StillRunning)));
    let mut q = Process::new(noop, ());
    q.start().unwrap();
    assert!(matches!(
        q.set_daemon(Daemon::Yes),
        Err(Error::AlreadyStarted)
    ));
    p.join().unwrap();
    p.close().unwrap();
    assert!(matches!(p.join(), Err(Error::Closed)));
    assert!(matches!(p.start(), Err(Error::Closed)));
    q.join().unwrap();
    // A closure cannot cross exec.
    let c = Process::from_closure(|| ()).with_start_method(StartMethod::Spawn);
    assert!(matches!(c.start(), Err(Error::NeedsFork)));
}

#[test]
fn fork_is_refused_and_spawn_works_with_eight_threads_running() {
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(1));
                }
            })
        })
        .collect();
    let p = Process::new(noop, ()).with_start_method(StartMethod::Fork);
    match p.start() {
        Err(Error::ForkWithThreads { threads }) => assert!(threads >= 9, "{threads}"),
        other => panic!("fork with threads: {other:?}"),
    }
    assert!(matches!(
        multiproc_process::fork(),
        Err(Error::ForkWithThreads { .. })
    ));
    for m in METHODS {
        let h = get_context(m).spawn(kilobyte, 7).unwrap();
        assert_eq!(h.join().unwrap(), kilobyte(7), "{m:?}");
    }
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().unwrap();
    }
}

#[test]
fn join_handle_gives_the_value_or_why_not() {
    for m in METHODS {
        let ctx = get_context(m);
        assert_eq!(ctx.spawn(kilobyte, 1).unwrap().join().unwrap(), kilobyte(1));
        match ctx.spawn(panics, "no value".to_string()).unwrap().join() {
            Err(JoinError::Panicked(msg)) => assert_eq!(msg, "no value"),
            other => panic!("{m:?}: {other:?}"),
        }
        assert!(matches!(
            ctx.spawn(exit_with, 5).unwrap().join(),
            Err(JoinError::Exited(5))
        ));
        let h = ctx.spawn(sleep_ms, 20_000).unwrap();
        h.process().kill().unwrap();
        assert!(matches!(h.join(), Err(JoinError::Signaled(9))));
        // join_timeout hands the handle back while the child runs.
        let h = ctx.spawn(sleep_ms, 300).unwrap();
        let h = h.join_timeout(Duration::from_millis(20)).unwrap_err();
        assert!(h.join_timeout(LIMIT).unwrap().is_ok());
    }
}

/// The child gets a shared mapping and a channel (handles with fds), writes into the one,
/// answers on the other, and returns a mapping of its own.
fn use_handles((map, mut ch): (SharedMapping, Channel)) -> SharedMapping {
    map.atomic_u32(0).store(0xfeed, Ordering::Release);
    let n: u32 = ch.recv_timeout(Duration::from_secs(10)).unwrap();
    ch.send(&(n + 1)).unwrap();
    let mine = SharedMapping::memfd("from-child", 4096).unwrap();
    mine.atomic_u32(0)
        .store(std::process::id(), Ordering::Release);
    mine
}

#[test]
fn handles_reach_spawned_and_forkserver_children() {
    for m in METHODS {
        let map = SharedMapping::memfd("to-child", 4096).unwrap();
        let (mut near, far) = Channel::pair().unwrap();
        let h = get_context(m)
            .spawn(use_handles, (map.try_clone().unwrap(), far))
            .unwrap();
        near.send(&41u32).unwrap();
        assert_eq!(near.recv_timeout::<u32>(LIMIT).unwrap(), 42, "{m:?}");
        let pid = h.process().pid().unwrap();
        let back = h.join().unwrap();
        assert_eq!(map.atomic_u32(0).load(Ordering::Acquire), 0xfeed, "{m:?}");
        assert_eq!(back.atomic_u32(0).load(Ordering::Acquire), pid, "{m:?}");
    }
}

fn child_names(_: ()) -> (String, Vec<String>) {
    let me = multiproc_process::current_process().name;
    let kids: Vec<String> = (0..2)
        .map(|_| {
            let p = Process::new(noop, ());
            let name = p.name().to_string();
            p.start().unwrap();
            p.join().unwrap();
            name
        })
        .collect();
    (me, kids)
}

#[test]
fn default_names_follow_python() {
    let a = Process::new(noop, ());
    let b = Process::new(noop, ());
    let na: u32 = a.name().strip_prefix("Process-").unwrap().parse().unwrap();
    let nb: u32 = b.name().strip_prefix("Process-").unwrap().parse().unwrap();
    assert_eq!(nb, na + 1);
    for m in METHODS {
        let h = get_context(m).spawn(child_names, ()).unwrap();
        let (me, kids) = h.join().unwrap();
        let n = me.strip_prefix("Process-").unwrap();
        assert_eq!(
            kids,
            vec![format!("Process-{n}:1"), format!("Process-{n}:2")]
        );
    }
    assert_eq!(multiproc_process::current_process().name, "MainProcess");
}

fn daemon_tries_a_child(_: ()) -> String {
    let p = Process::new(noop, ());
    match p.start() {
        Err(e) => e.to_string(),
        Ok(()) => "started".into(),
    }
}

#[test]
fn a_daemon_may_not_have_children() {
    for m in METHODS {
        let p = Process::new(daemon_tries_a_child, ())
            .with_daemon(Daemon::Yes)
            .with_start_method(m);
        let h = multiproc_process::JoinHandle::<String>::start(p).unwrap();
        assert_eq!(
            h.join().unwrap(),
            "daemonic processes are not allowed to have children"
        );
    }
}

fn print_pid_and_sleep(_: ()) {
    println!("daemon-pid {}", std::process::id());
    std::thread::sleep(Duration::from_secs(60));
}

#[test]
fn daemon_children_die_when_the_parent_is_sigkilled() {
    if let Some(r) = role() {
        // The middle process: start a daemon child, report its pid, wait to be killed.
        let m = StartMethod::from_name(&r).unwrap();
        let p = Process::new(print_pid_and_sleep, ())
            .with_daemon(Daemon::Yes)
            .with_start_method(m);
        p.start().unwrap();
        std::thread::sleep(Duration::from_secs(60));
        return;
    }
    for m in METHODS {
        let mut cmd = child_command("daemon_children_die_when_the_parent_is_sigkilled", m.name());
        cmd.stdout(Stdio::piped());
        let mut middle = ChildGuard(cmd.spawn().unwrap());
        let out = middle.0.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if let Some(pid) = line.strip_prefix("daemon-pid ") {
                    let _ = tx.send(pid.parse::<u32>().unwrap());
                }
            }
        });
        let daemon = rx.recv_timeout(LIMIT).expect("the daemon reported its pid");
        assert!(
            !pid_gone_within(daemon, Duration::ZERO),
            "{m:?}: daemon not running"
        );
        middle.0.kill().unwrap(); // SIGKILL
        middle.wait(LIMIT);
        assert!(
            pid_gone_within(daemon, Duration::from_secs(5)),
            "{m:?}: daemon {daemon} outlived its SIGKILLed parent"
        );
    }
}
