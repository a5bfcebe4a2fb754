//! The rest of Python's everyday `multiprocessing` API: `cpu_count`, `active_children`,
//! `parent_process`, `current_process().ident`, the start method set once, and non-daemon
//! children joined when their parent exits.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

use multiproc_process::{
    ChildrenAtExit, Daemon, JoinHandle, Process, StartMethod, active_children, cpu_count,
    current_process, parent_process, set_children_at_exit, spawn,
};
use multiproc_testkit::{ChildGuard, child_command, pid_gone_within, role};

const LIMIT: Duration = Duration::from_secs(20);

fn sleep_ms(ms: u64) {
    std::thread::sleep(Duration::from_millis(ms))
}

#[test]
fn cpu_count_is_the_systems() {
    let n = cpu_count();
    assert!(n >= 1);
    let online = std::fs::read_to_string("/sys/devices/system/cpu/online").unwrap();
    // "0-1", "0", "0-3,5": count the CPUs listed.
    let listed: usize = online
        .trim()
        .split(',')
        .map(|r| match r.split_once('-') {
            Some((a, b)) => b.parse::<usize>().unwrap() - a.parse::<usize>().unwrap() + 1,
            None => 1,
        })
        .sum();
    assert_eq!(n, listed);
}

#[test]
fn active_children_lists_the_running_ones() {
    let a = Process::new(sleep_ms, 2_000)
        .with_name("sleeper-a")
        .with_start_method(StartMethod::Spawn);
    let b = Process::new(sleep_ms, 2_000)
        .with_name("sleeper-b")
        .with_start_method(StartMethod::Forkserver)
        .with_daemon(Daemon::Yes);
    a.start().unwrap();
    b.start().unwrap();
    let (pa, pb) = (a.pid().unwrap(), b.pid().unwrap());
    assert_eq!(a.ident(), Some(pa));
    let now = active_children();
    let find = |pid| now.iter().find(|c| c.pid == pid).cloned();
    let ca = find(pa).expect("a is listed");
    assert_eq!(ca.name, "sleeper-a");
    assert!(!ca.daemon);
    assert_eq!(ca.start_method, StartMethod::Spawn);
    let cb = find(pb).expect("b is listed");
    assert!(cb.daemon);
    assert_eq!(cb.start_method, StartMethod::Forkserver);
    a.kill().unwrap();
    b.kill().unwrap();
    assert!(a.join_timeout(LIMIT).unwrap() && b.join_timeout(LIMIT).unwrap());
    let after = active_children();
    assert!(
        after.iter().all(|c| c.pid != pa && c.pid != pb),
        "{after:?}"
    );
}

fn describe_parent(_: ()) -> (Option<(String, u32)>, bool, u32, u32) {
    let p = parent_process();
    let alive = p.as_ref().is_some_and(|p| p.is_alive());
    let me = current_process();
    (p.map(|p| (p.name, p.pid)), alive, me.pid, me.ident)
}

fn grandchild_sees_its_parent(_: ()) -> (String, Option<(String, u32)>) {
    let h = spawn(describe_parent, ()).unwrap();
    let (parent, _, _, _) = h.join().unwrap();
    (current_process().name, parent)
}

#[test]
fn parent_process_names_who_started_us() {
    assert!(parent_process().is_none(), "the main process has no parent");
    for m in [StartMethod::Spawn, StartMethod::Forkserver] {
        let h = JoinHandle::<(Option<(String, u32)>, bool, u32, u32)>::start(
            Process::new(describe_parent, ()).with_start_method(m),
        )
        .unwrap();
        let (parent, alive, pid, ident) = h.join().unwrap();
        assert_eq!(
            parent,
            Some(("MainProcess".to_string(), std::process::id())),
            "{m:?}"
        );
        assert!(alive, "{m:?}: the parent runs");
        assert_eq!(pid, ident);
    }
    let (child_name, grandchilds_parent) = spawn(grandchild_sees_its_parent, ())
        .unwrap()
        .join()
        .unwrap();
    let (name, _) = grandchilds_parent.unwrap();
    assert_eq!(name, child_name);
}

fn print_then_exit(ms: u64) {
    std::thread::sleep(Duration::from_millis(ms));
    println!("grandchild done");
}

/// The middle process starts a non-daemon child that works 600 ms, then returns from its test
/// (the test binary exits). With `Join` (the default) it must not exit before the child is
/// done; with `Leave` it exits at once and the child runs on.
#[test]
fn non_daemon_children_are_joined_at_exit() {
    if let Some(r) = role() {
        if r == "leave" {
            set_children_at_exit(ChildrenAtExit::Leave);
        }
        let p = Process::new(print_then_exit, 600).with_start_method(StartMethod::Forkserver);
        p.start().unwrap();
        println!("grandchild-pid {}", p.pid().unwrap());
        // Return without joining: the exit hook decides.
        return;
    }
    for (mode, joined) in [("join", true), ("leave", false)] {
        let mut cmd = child_command("non_daemon_children_are_joined_at_exit", mode);
        cmd.stdout(Stdio::piped());
        let t = Instant::now();
        let mut middle = ChildGuard(cmd.spawn().unwrap());
        let out = middle.0.stdout.take().unwrap();
        // The grandchild holds the pipe too: read its pid as a line, not to end of file.
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if let Some(pid) = line.strip_prefix("grandchild-pid ") {
                    let _ = tx.send(pid.parse::<u32>().unwrap());
                }
            }
        });
        middle.wait(LIMIT);
        let took = t.elapsed();
        let grandchild = rx
            .recv_timeout(LIMIT)
            .expect("the middle reported its child");
        if joined {
            assert!(
                took >= Duration::from_millis(600),
                "exited after {took:?}, before its child"
            );
            assert!(pid_gone_within(grandchild, Duration::from_secs(5)));
        } else {
            assert!(
                !pid_gone_within(grandchild, Duration::ZERO),
                "{mode}: the child runs on after its parent exited"
            );
            assert!(pid_gone_within(grandchild, LIMIT));
        }
    }
}
