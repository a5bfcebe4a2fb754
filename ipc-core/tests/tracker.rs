//! The resource tracker across real processes: a creator killed with `SIGKILL` leaves no name
//! behind, `persist` keeps one, a clean exit leaves no tracker and no pipe held open, children
//! share their parent's tracker, and a tracker that is off or unreachable never stops a
//! creation.

use std::io::BufRead;
use std::path::Path;
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use multiproc_core::{SharedMapping, tracker};
use multiproc_testkit::{
    ChildGuard, child_command, child_line, eventually, pid_gone_within, role, unique_name,
};

const LIMIT: Duration = Duration::from_secs(20);

/// Removes a shared memory name when dropped (also when a test fails).
struct ShmName(String);

impl ShmName {
    fn new(tag: &str) -> ShmName {
        ShmName(unique_name(tag))
    }
    fn exists(&self) -> bool {
        Path::new("/dev/shm").join(&self.0).exists()
    }
}

impl Drop for ShmName {
    fn drop(&mut self) {
        let _ = SharedMapping::unlink_named(&self.0);
    }
}

/// Starts this test again in `role` with `env`, its standard output piped.
fn start(test: &str, role: &str, env: &[(&str, &str)]) -> ChildGuard {
    let mut cmd = child_command(test, role);
    cmd.stdout(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    ChildGuard(cmd.spawn().expect("spawn the test binary"))
}

/// What a child role does before it reports and waits to be killed.
fn hang() -> ! {
    std::thread::sleep(LIMIT * 3);
    panic!("not killed");
}

#[test]
fn a_killed_creator_s_name_is_removed_within_a_second() {
    const TEST: &str = "a_killed_creator_s_name_is_removed_within_a_second";
    if role().as_deref() == Some("creator") {
        let _map = SharedMapping::create_named(&std::env::var("IPC_TEST_SHM").unwrap(), 4096)
            .expect("create");
        println!("ready:");
        hang();
    }
    let name = ShmName::new("tracked");
    let mut child = start(TEST, "creator", &[("IPC_TEST_SHM", &name.0)]);
    child_line(&mut child.0, "ready:", LIMIT);
    assert!(name.exists());
    child.0.kill().unwrap();
    child.wait(LIMIT);
    assert!(
        eventually(Duration::from_secs(1), || !name.exists()),
        "/dev/shm/{} outlived its killed creator by a second",
        name.0
    );
}

#[test]
fn persist_keeps_the_name_of_a_killed_creator() {
    const TEST: &str = "persist_keeps_the_name_of_a_killed_creator";
    if role().as_deref() == Some("creator") {
        let mut kept = SharedMapping::create_named(&std::env::var("IPC_TEST_KEPT").unwrap(), 64)
            .expect("create");
        kept.persist();
        let _gone = SharedMapping::create_named(&std::env::var("IPC_TEST_GONE").unwrap(), 64)
            .expect("create");
        println!("ready:");
        hang();
    }
    let (kept, gone) = (ShmName::new("kept"), ShmName::new("gone"));
    let mut child = start(
        TEST,
        "creator",
        &[("IPC_TEST_KEPT", &kept.0), ("IPC_TEST_GONE", &gone.0)],
    );
    child_line(&mut child.0, "ready:", LIMIT);
    child.0.kill().unwrap();
    child.wait(LIMIT);
    // Once the registered name is gone, the tracker has dealt with the dead process.
    assert!(eventually(Duration::from_secs(1), || !gone.exists()));
    assert!(kept.exists(), "a persisted name was removed");
    // `kept`'s guard removes it.
}

#[test]
fn a_clean_exit_leaves_no_tracker() {
    const TEST: &str = "a_clean_exit_leaves_no_tracker";
    if role().as_deref() == Some("creator") {
        let name = unique_name("clean");
        let map = SharedMapping::create_named(&name, 64).expect("create");
        println!("tracker:{}", tracker::ensure_running().expect("a tracker"));
        drop(map);
        return;
    }
    let mut child = start(TEST, "creator", &[]);
    let pid: u32 = child_line(&mut child.0, "tracker:", LIMIT).parse().unwrap();
    assert!(child.wait(LIMIT).success());
    assert!(
        pid_gone_within(pid, Duration::from_secs(2)),
        "tracker {pid} still runs after its program exited"
    );
}

/// `child`'s standard output line by line (`None` at end of file), from a thread.
fn lines_of(child: &mut std::process::Child) -> mpsc::Receiver<Option<String>> {
    let out = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            let _ = tx.send(Some(line));
        }
        let _ = tx.send(None);
    });
    rx
}

/// Kills a process that is not our child (it is the grandchild of the test).
fn kill(pid: u32) {
    let pid = rustix::process::Pid::from_raw(pid as i32).unwrap();
    let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
}

#[test]
fn a_tracker_outliving_its_starter_holds_none_of_its_pipes() {
    const TEST: &str = "a_tracker_outliving_its_starter_holds_none_of_its_pipes";
    match role().as_deref() {
        Some("starter") => {
            // Starts the tracker, then leaves it to a second process of the program (which
            // holds nothing of ours: its output goes to us, not to the test).
            let pid = tracker::ensure_running().expect("a tracker");
            let (k, v) = tracker::child_env().unwrap();
            let mut keeper = start(TEST, "keeper", &[(k, v)]);
            child_line(&mut keeper.0, "connected:", LIMIT);
            println!("tracker:{pid}");
            println!("keeper:{}", keeper.0.id());
            std::mem::forget(keeper); // keeps running after we exit
            return;
        }
        Some("keeper") => {
            tracker::ensure_running().expect("a tracker");
            println!("connected:");
            hang();
        }
        _ => {}
    }
    let mut starter = start(TEST, "starter", &[]);
    let lines = lines_of(&mut starter.0);
    let (mut tracker, mut keeper) = (None, None);
    // End of file as soon as the starter exits, although the tracker it started lives on.
    let deadline = std::time::Instant::now() + LIMIT;
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match lines.recv_timeout(left) {
            Ok(Some(l)) => {
                let num = |p| l.strip_prefix(p).and_then(|v: &str| v.parse::<u32>().ok());
                tracker = tracker.or(num("tracker:"));
                keeper = keeper.or(num("keeper:"));
            }
            Ok(None) => break,
            Err(_) => {
                if let Some(k) = keeper {
                    kill(k);
                }
                panic!("no end of file on the starter's stdout within {LIMIT:?}");
            }
        }
    }
    assert!(starter.wait(LIMIT).success());
    let (tracker, keeper) = (tracker.unwrap(), keeper.unwrap());
    if pid_gone_within(tracker, Duration::from_millis(200)) {
        kill(keeper);
        panic!("the tracker exited while a process still used it");
    }
    kill(keeper);
    assert!(pid_gone_within(keeper, LIMIT));
    assert!(
        pid_gone_within(tracker, Duration::from_secs(2)),
        "tracker {tracker} still runs after its last client died"
    );
}

#[test]
fn children_given_the_address_share_the_tracker() {
    const TEST: &str = "children_given_the_address_share_the_tracker";
    if role().as_deref() == Some("child") {
        println!("tracker:{}", tracker::ensure_running().expect("a tracker"));
        return;
    }
    let ours = tracker::ensure_running().expect("a tracker");
    assert_ne!(ours, std::process::id());
    let (k, v) = tracker::child_env().expect("tracking is on");
    let mut child = start(TEST, "child", &[(k, v)]);
    let theirs: u32 = child_line(&mut child.0, "tracker:", LIMIT).parse().unwrap();
    assert!(child.wait(LIMIT).success());
    assert_eq!(theirs, ours, "the child started a tracker of its own");
}

#[test]
fn creation_works_when_tracking_is_off_or_the_tracker_unreachable() {
    const TEST: &str = "creation_works_when_tracking_is_off_or_the_tracker_unreachable";
    if role().as_deref() == Some("creator") {
        let t = Instant::now();
        let map = SharedMapping::create_named(&std::env::var("IPC_TEST_SHM").unwrap(), 64)
            .expect("creation does not depend on the tracker");
        assert!(tracker::ensure_running().is_err());
        drop(map);
        println!("took:{}", t.elapsed().as_millis());
        return;
    }
    // Something that is no tracker holds the address: it takes each connection and hangs up
    // without a greeting.
    let squat = format!("ipc-test-squat-{}", std::process::id());
    let squatter = Squatter::bind(&squat);
    for address in ["off", squat.as_str()] {
        let name = ShmName::new("untracked");
        let mut child = start(
            TEST,
            "creator",
            &[("IPC_TEST_SHM", &name.0), (tracker::TRACKER_ENV, address)],
        );
        let took: u64 = child_line(&mut child.0, "took:", LIMIT).parse().unwrap();
        assert!(child.wait(LIMIT).success(), "tracker {address:?}");
        assert!(
            took < 2000,
            "creation waited {took} ms for tracker {address:?}"
        );
        assert!(!name.exists());
    }
    drop(squatter);
}

/// A `SOCK_SEQPACKET` listener at an abstract address that accepts and closes every connection.
struct Squatter {
    listener: std::sync::Arc<std::os::fd::OwnedFd>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Squatter {
    fn bind(name: &str) -> Squatter {
        use rustix::net::{AddressFamily, SocketAddrUnix, SocketFlags, SocketType};
        let fd = rustix::net::socket_with(
            AddressFamily::UNIX,
            SocketType::SEQPACKET,
            SocketFlags::CLOEXEC,
            None,
        )
        .unwrap();
        let addr = SocketAddrUnix::new_abstract_name(name.as_bytes()).unwrap();
        rustix::net::bind(&fd, &addr).unwrap();
        rustix::net::listen(&fd, 16).unwrap();
        let listener = std::sync::Arc::new(fd);
        let l = listener.clone();
        let thread = std::thread::spawn(move || {
            // Ends when `drop` shuts the listener down.
            while let Ok(conn) = rustix::net::accept(&*l) {
                drop(conn);
            }
        });
        Squatter {
            listener,
            thread: Some(thread),
        }
    }
}

impl Drop for Squatter {
    fn drop(&mut self) {
        let _ = rustix::net::shutdown(&*self.listener, rustix::net::Shutdown::Both);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
