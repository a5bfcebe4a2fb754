//! "When things go wrong", case by case, across real processes: the server dying, a wrong key,
//! a client dying holding a lock or in the middle of a call, garbage, many connections, clients
//! that come and go.

use std::io::Write;
use std::time::{Duration, Instant};

use multiproc_core::stream::Framing;
use multiproc_manager::{
    AcquireError, AcquirerProxy, Error, Fault, ListProxy, Manager, QueueProxy,
};
use multiproc_process::{JoinHandle, Process, StartMethod};

fn status_field(pid: u32, field: &str) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    s.lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap()
}

fn rss_kib(pid: u32) -> u64 {
    status_field(pid, "VmRSS:")
}

fn threads(pid: u32) -> u64 {
    status_field(pid, "Threads:")
}

fn eventually(what: &str, limit: Duration, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !ok() {
        assert!(Instant::now() < deadline, "{what} within {limit:?}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn kill(pid: u32) {
    // SAFETY: kill(2) with a pid we started; no memory is involved.
    unsafe {
        libc::kill(pid as i32, libc::SIGKILL);
    }
}

#[test]
fn the_servers_death_is_disconnected_at_once_never_a_hang() {
    let m = Manager::start().unwrap();
    let q: QueueProxy<u8> = m.queue(0).unwrap();
    let l = m.list([1u8]).unwrap();
    let q2 = q.clone();
    let blocked = std::thread::spawn(move || {
        let r = q2.get();
        (r, Instant::now())
    });
    std::thread::sleep(Duration::from_millis(100));
    let killed = Instant::now();
    kill(m.pid().unwrap());
    let (r, when) = blocked.join().unwrap();
    assert!(matches!(r, Err(Error::Disconnected)), "{r:?}");
    assert!(when - killed < Duration::from_secs(2));
    let t = Instant::now();
    assert!(matches!(l.len(), Err(Error::Disconnected)));
    assert!(matches!(m.dict::<u8, u8>(), Err(Error::Disconnected)));
    assert!(t.elapsed() < Duration::from_secs(2));
}

#[test]
fn a_wrong_authkey_is_an_authentication_error() {
    let m = Manager::builder()
        .address("127.0.0.1:0")
        .authkey("right")
        .start()
        .unwrap();
    let r = Manager::connect(m.address(), "wrong");
    assert!(matches!(r, Err(Error::AuthenticationError(_))), "{r:?}");
    let ok = Manager::connect(m.address(), "right").unwrap();
    assert_eq!(ok.number_of_objects().unwrap(), 0);
}

#[test]
fn unknown_typeids_and_methods_are_typed_and_the_server_goes_on() {
    let m = Manager::start().unwrap();
    let r = m.create_as::<ListProxy<u8>, _>("no such type", ());
    assert!(
        matches!(&r, Err(Error::Fault(Fault::UnknownTypeid(t))) if t == "no such type"),
        "{r:?}"
    );
    // An Event seen through a list proxy: `append` is not among its methods.
    let wrong: ListProxy<u8> = m.create_as("Event", ()).unwrap();
    let r = wrong.append(&1);
    assert!(
        matches!(&r, Err(Error::Fault(Fault::UnknownMethod { typeid, method })) if typeid == "Event" && method == "append"),
        "{r:?}"
    );
    // Bad arguments to a constructor.
    let r = m.create_as::<ListProxy<u8>, _>("list", (1, 2, 3));
    assert!(
        matches!(r, Err(Error::Fault(Fault::BadArguments(_)))),
        "{r:?}"
    );
    assert_eq!(m.list([7u8]).unwrap().to_vec().unwrap(), [7]);
}

fn hold_and_exit(lock: AcquirerProxy) {
    lock.acquire().unwrap();
    std::process::exit(0);
}

fn hold_and_wait((lock, q): (AcquirerProxy, QueueProxy<u8>)) {
    lock.acquire().unwrap();
    q.put(&1).unwrap();
    std::thread::sleep(Duration::from_secs(60));
}

#[test]
fn a_lock_held_by_a_client_that_died_is_released_with_owner_died() {
    let m = Manager::start().unwrap();
    for kind in ["Lock", "RLock"] {
        // The holder exits without releasing.
        let lock: AcquirerProxy = m.create_as(kind, ()).unwrap();
        let p = Process::new(hold_and_exit, lock.clone()).with_start_method(StartMethod::Spawn);
        p.start().unwrap();
        p.join().unwrap();
        match lock.lock_timeout(Duration::from_secs(10)) {
            Err(AcquireError::OwnerDied(guard)) => drop(guard),
            other => panic!("{kind}: want OwnerDied, got {other:?}"),
        }
        // Told once: the next acquire is a plain one.
        let g = lock.lock_timeout(Duration::from_secs(1)).unwrap();
        drop(g);

        // The holder is SIGKILLed while it holds the lock.
        let q: QueueProxy<u8> = m.queue(0).unwrap();
        let p = Process::new(hold_and_wait, (lock.clone(), q.clone()))
            .with_start_method(StartMethod::Spawn);
        p.start().unwrap();
        q.get_timeout(Duration::from_secs(10)).unwrap();
        assert!(matches!(lock.try_acquire(), Err(AcquireError::Timeout)));
        p.kill().unwrap();
        p.join().unwrap();
        assert!(matches!(
            lock.acquire_timeout(Duration::from_secs(10)),
            Err(AcquireError::OwnerDied(()))
        ));
        lock.release().unwrap();
    }
}

fn get_forever(q: QueueProxy<u8>) {
    let _ = q.get();
}

/// A client SIGKILLed in the middle of a blocking call: the server notices (its thread for that
/// connection ends) and serves on, and the call's item is not lost to the dead client.
#[test]
fn a_client_killed_mid_call_leaves_the_server_serving() {
    let m = Manager::start().unwrap();
    let server = m.pid().unwrap();
    let q: QueueProxy<u8> = m.queue(0).unwrap();
    let idle_threads = threads(server);
    let mut children = Vec::new();
    for _ in 0..4 {
        let p = Process::new(get_forever, q.clone()).with_start_method(StartMethod::Forkserver);
        p.start().unwrap();
        children.push(p);
    }
    // Each child holds a session and a request connection, each served by a thread.
    eventually("children connected", Duration::from_secs(10), || {
        threads(server) >= idle_threads + 8
    });
    for p in &children {
        p.kill().unwrap();
        p.join().unwrap();
    }
    eventually(
        "server threads of dead clients ended",
        Duration::from_secs(10),
        || threads(server) <= idle_threads,
    );
    q.put(&5).unwrap();
    assert_eq!(q.get_timeout(Duration::from_secs(1)).unwrap(), 5);
}

#[test]
fn garbage_frames_leave_the_server_serving() {
    let m = Manager::builder().address("127.0.0.1:0").start().unwrap();
    let addr = m.address().clone();
    let key = m.authkey().as_bytes().to_vec();
    let multiproc_pipe::Address::Tcp(sock) = addr else {
        panic!("tcp")
    };
    // Before authentication: junk, and a huge announced length.
    for junk in [
        &b"\x00\x00\x00\x05hello"[..],
        b"\x7f\xff\xff\xff",
        b"GET / HTTP/1.1\r\n\r\n",
    ] {
        let mut s = std::net::TcpStream::connect(sock).unwrap();
        let _ = s.write_all(junk);
    }
    // After authentication: a message that is neither a pickle nor our hello, then a pickle
    // that is not a request, then a pickle naming a global that is not allowed.
    for junk in [
        &b"\x01\x02\x03"[..],
        b"\x80\x04K\x01.",
        b"\x80\x04\x8c\x02os\x8c\x06system\x93\x8c\x02id\x85R.",
    ] {
        let mut c =
            multiproc_pipe::Client::connect(addr.clone(), Framing::Python, Some(&key)).unwrap();
        c.send_bytes(junk).unwrap();
        let reply = c.recv_bytes().unwrap();
        assert!(reply.windows(10).any(|w| w == b"#TRACEBACK"), "{reply:?}");
    }
    // A Rust peer's hello, then garbage: a typed fault, and the connection still works.
    let mut c = multiproc_pipe::Client::connect(addr.clone(), Framing::Python, Some(&key)).unwrap();
    c.send_bytes(b"\0MPM1\x01\x00").unwrap();
    c.recv_bytes().unwrap();
    c.send_bytes(&[0xff; 64]).unwrap();
    assert!(!c.recv_bytes().unwrap().is_empty());
    assert_eq!(m.list([3u8]).unwrap().to_vec().unwrap(), [3]);
}

#[test]
fn a_thousand_connections_opened_and_dropped_leave_memory_flat() {
    let m = Manager::start().unwrap();
    let server = m.pid().unwrap();
    let key = m.authkey().as_bytes().to_vec();
    let addr = m.address().clone();
    let l = m.list([1u8]).unwrap();
    let objects = m.number_of_objects().unwrap();
    let idle_threads = threads(server);
    let cycle = |n: usize| {
        for i in 0..n {
            let mut c =
                multiproc_pipe::Client::connect(addr.clone(), Framing::Python, Some(&key)).unwrap();
            if i % 2 == 0 {
                // Python's `dummy` on a fresh connection, as BaseManager.connect sends it.
                c.send_bytes(b"\x80\x04(N\x8c\x05dummy)}t.").unwrap();
                c.recv_bytes().unwrap();
            }
        }
    };
    cycle(200);
    eventually("connection threads ended", Duration::from_secs(10), || {
        threads(server) <= idle_threads
    });
    let before = rss_kib(server);
    cycle(1000);
    eventually("connection threads ended", Duration::from_secs(10), || {
        threads(server) <= idle_threads
    });
    let after = rss_kib(server);
    assert!(
        after <= before + 4096,
        "server RSS grew from {before} KiB to {after} KiB"
    );
    assert_eq!(m.number_of_objects().unwrap(), objects);
    assert_eq!(l.to_vec().unwrap(), [1]);
}

fn make_objects((m_addr, key, keep): (String, Vec<u8>, bool)) -> usize {
    let m = Manager::connect(m_addr.as_str(), key.as_slice()).unwrap();
    let kept: Vec<ListProxy<u8>> = (0..5).map(|i| m.list([i]).unwrap()).collect();
    let d = m.dict::<u8, u8>().unwrap();
    d.set(&1, &1).unwrap();
    if keep {
        // Dies holding its references: the session's end gives them back.
        std::mem::forget(kept);
        std::mem::forget(d);
        // SAFETY: _exit ends the process at once, as a crash would.
        unsafe { libc::_exit(0) }
    }
    kept.len()
}

/// Rust clients come and go, some dying with references held: `number_of_objects` comes back
/// to where it started and the server's memory stays within a bound.
#[test]
fn rust_clients_that_come_and_go_leave_no_objects_behind() {
    let m = Manager::builder()
        .address("127.0.0.1:0")
        .authkey("k")
        .start()
        .unwrap();
    let server = m.pid().unwrap();
    let addr = m.address().to_string();
    let start = m.number_of_objects().unwrap();
    let round = |n: usize| {
        for i in 0..n {
            let p = Process::new(make_objects, (addr.clone(), b"k".to_vec(), i % 2 == 0))
                .with_start_method(StartMethod::Forkserver);
            p.start().unwrap();
            p.join().unwrap();
        }
    };
    round(10);
    eventually(
        "objects of dead clients freed",
        Duration::from_secs(10),
        || m.number_of_objects().unwrap() == start,
    );
    let before = rss_kib(server);
    round(40);
    eventually(
        "objects of dead clients freed",
        Duration::from_secs(10),
        || m.number_of_objects().unwrap() == start,
    );
    let after = rss_kib(server);
    assert!(
        after <= before + 4096,
        "server RSS grew from {before} KiB to {after} KiB"
    );
    let _ = JoinHandle::<usize>::start;
}
