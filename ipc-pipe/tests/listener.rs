//! `Listener` and `Client` between Rust processes: handles over a Unix socket, none over TCP,
//! keys, timeouts, and 1,000 connect/authenticate/close cycles without a descriptor left over.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use multiproc_core::SharedMapping;
use multiproc_pipe::{
    Address, AuthFailure, Client, Connection, Error, Framing, Listener, wait_timeout,
};
use multiproc_process::spawn;
use multiproc_testkit::unique_name;

const LIMIT: Duration = Duration::from_secs(30);
const KEY: &[u8] = b"k3y";

fn unix() -> Address {
    Address::Unix(std::env::temp_dir().join(unique_name("listener")))
}

/// A child that connects to `address` and sends a memfd mapping it wrote into, then a
/// connection end, over the native framing.
fn send_handles(address: Address) -> bool {
    let mut c = Client::connect_timeout(&address, Framing::Native, Some(KEY), LIMIT).unwrap();
    let map = SharedMapping::memfd("listener-test", 4096).unwrap();
    map.atomic_u32(0).store(1234, Ordering::Release);
    c.send(&map).unwrap();
    let (near, far) = multiproc_pipe::pipe().unwrap();
    c.send(&far).unwrap();
    drop(far);
    let mut near = near;
    near.send(&"through a connection that came through a listener")
        .unwrap();
    c.recv_timeout::<u8>(LIMIT).unwrap() == 1
}

#[test]
fn handles_travel_over_a_unix_listener_between_processes() {
    for address in [unix(), Address::Abstract(unique_name("abs").into_bytes())] {
        let mut l = Listener::bind(address, Framing::Native, Some(KEY)).unwrap();
        let h = spawn(send_handles, l.address().clone()).unwrap();
        let mut c = l.accept_timeout(LIMIT).unwrap();
        assert!(c.carries_fds());
        let map: SharedMapping = c.recv_timeout(LIMIT).unwrap();
        assert_eq!(map.atomic_u32(0).load(Ordering::Acquire), 1234);
        let mut inner: Connection = c.recv_timeout(LIMIT).unwrap();
        assert_eq!(
            inner.recv_timeout::<String>(LIMIT).unwrap(),
            "through a connection that came through a listener"
        );
        c.send(&1u8).unwrap();
        assert!(h.join().unwrap());
    }
}

fn tcp_peer(address: Address) -> u64 {
    let mut c = Client::connect_timeout(&address, Framing::Native, Some(KEY), LIMIT).unwrap();
    let n: u64 = c.recv_timeout(LIMIT).unwrap();
    c.send(&(n * 2)).unwrap();
    // Handles cannot go over TCP: refused before anything is written.
    let map = SharedMapping::memfd("no", 64).unwrap();
    assert!(matches!(c.send(&map), Err(Error::CannotSendFds)));
    c.send(&"still in step").unwrap();
    n
}

#[test]
fn tcp_carries_values_but_never_handles() {
    let mut l = Listener::bind(
        "127.0.0.1:0".parse::<Address>().unwrap(),
        Framing::Native,
        Some(KEY),
    )
    .unwrap();
    let Address::Tcp(a) = l.address() else {
        panic!("not tcp")
    };
    assert_ne!(a.port(), 0, "address() tells the port the kernel chose");
    let h = spawn(tcp_peer, l.address().clone()).unwrap();
    let mut c = l.accept_timeout(LIMIT).unwrap();
    assert!(matches!(l.last_accepted(), Some(Address::Tcp(_))));
    assert!(!c.carries_fds());
    use std::os::fd::AsFd;
    assert!(
        rustix::net::sockopt::tcp_nodelay(c.as_fd()).unwrap(),
        "TCP_NODELAY is set"
    );
    c.send(&21u64).unwrap();
    assert_eq!(c.recv_timeout::<u64>(LIMIT).unwrap(), 42);
    assert_eq!(c.recv_timeout::<String>(LIMIT).unwrap(), "still in step");
    let map = SharedMapping::memfd("no", 64).unwrap();
    assert!(matches!(c.send(&map), Err(Error::CannotSendFds)));
    assert_eq!(h.join().unwrap(), 21);
    // Python's framing carries no handles either, on any socket.
    let mut l = Listener::bind(unix(), Framing::Python, None).unwrap();
    let address = l.address().clone();
    let t = std::thread::spawn(move || Client::connect(&address, Framing::Python, None).unwrap());
    let mut c = l.accept_timeout(LIMIT).unwrap();
    let _client = t.join().unwrap();
    assert!(matches!(c.send(&map), Err(Error::CannotSendFds)));
}

#[test]
fn tcp_without_a_key_must_be_asked_for_by_name() {
    let any = "127.0.0.1:0".parse::<Address>().unwrap();
    assert!(matches!(
        Listener::bind(any.clone(), Framing::Python, None),
        Err(Error::AuthkeyRequired)
    ));
    let mut l = Listener::bind_tcp_without_authkey(any, Framing::Python).unwrap();
    let address = l.address().clone();
    let t = std::thread::spawn(move || {
        let mut c = Client::connect(&address, Framing::Python, None).unwrap();
        c.send_bytes(b"open door").unwrap();
    });
    let mut c = l.accept_timeout(LIMIT).unwrap();
    assert_eq!(c.recv_bytes_timeout(LIMIT).unwrap(), b"open door");
    t.join().unwrap();
}

#[test]
fn wrong_keys_fail_on_both_sides_and_touch_nothing_else() {
    for framing in [Framing::Native, Framing::Python] {
        let mut l = Listener::bind(unix(), framing, Some(KEY)).unwrap();
        let address = l.address().clone();
        let t = std::thread::spawn(move || {
            let wrong = Client::connect_timeout(&address, framing, Some(b"nope"), LIMIT);
            let right = Client::connect_timeout(&address, framing, Some(KEY), LIMIT);
            (wrong.err(), right.map(|mut c| c.send(&7u8)))
        });
        match l.accept_timeout(LIMIT) {
            Err(Error::AuthenticationError(AuthFailure::WrongDigest)) => {}
            other => panic!("expected WrongDigest, got {other:?}"),
        }
        let mut c = l.accept_timeout(LIMIT).unwrap();
        assert_eq!(c.recv_timeout::<u8>(LIMIT).unwrap(), 7);
        let (wrong, right) = t.join().unwrap();
        assert!(matches!(
            wrong,
            Some(Error::AuthenticationError(AuthFailure::Rejected))
        ));
        right.unwrap().unwrap();
        // No key on the client: its first message is taken for an answer, and refused.
        let address = l.address().clone();
        let t = std::thread::spawn(move || {
            let mut c = Client::connect_timeout(&address, framing, None, LIMIT).unwrap();
            c.send_bytes(b"data, not an answer").unwrap();
            let challenge = c.recv_bytes_timeout(LIMIT).unwrap();
            let verdict = c.recv_bytes_timeout(LIMIT).unwrap();
            (challenge, verdict)
        });
        assert!(matches!(
            l.accept_timeout(LIMIT),
            Err(Error::AuthenticationError(AuthFailure::UnsupportedDigest))
        ));
        let (challenge, verdict) = t.join().unwrap();
        assert!(challenge.starts_with(b"#CHALLENGE#{sha256}"));
        assert_eq!(verdict, b"#FAILURE#");
    }
}

#[test]
fn timeouts_poll_and_wait() {
    let mut l = Listener::bind(unix(), Framing::Native, Some(KEY)).unwrap();
    let t = Instant::now();
    assert!(matches!(
        l.accept_timeout(Duration::from_millis(50)),
        Err(Error::Timeout)
    ));
    assert!(t.elapsed() >= Duration::from_millis(50));
    assert!(matches!(l.try_accept(), Err(Error::Timeout)));
    let address = l.address().clone();
    let h = std::thread::spawn(move || {
        let mut c = Client::connect_timeout(&address, Framing::Native, Some(KEY), LIMIT).unwrap();
        c.send(&"ready").unwrap();
        c.recv_timeout::<u8>(LIMIT).unwrap()
    });
    let mut c = l.accept_timeout(LIMIT).unwrap();
    assert!(c.poll_timeout(LIMIT).unwrap());
    assert_eq!(wait_timeout(&[&c], LIMIT).unwrap(), vec![0]);
    assert_eq!(c.recv::<String>().unwrap(), "ready");
    c.send(&9u8).unwrap();
    assert_eq!(h.join().unwrap(), 9);
    // A client that gives up waiting for a listener that never accepts.
    let l2 = Listener::bind(unix(), Framing::Native, Some(KEY)).unwrap();
    let t = Instant::now();
    assert!(matches!(
        Client::connect_timeout(
            l2.address(),
            Framing::Native,
            Some(KEY),
            Duration::from_millis(100)
        ),
        Err(Error::Timeout)
    ));
    assert!(t.elapsed() < LIMIT);
    // The socket file goes with its listener.
    let Address::Unix(path) = l2.address().clone() else {
        unreachable!()
    };
    assert!(path.exists());
    l2.close();
    assert!(!path.exists());
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// In a process of its own (so no other test opens descriptors meanwhile): 1,000 clients
/// connect, authenticate and close, 500 over a Unix socket and 500 over TCP; returns the
/// descriptors open before and after.
fn cycles(n: usize) -> (usize, usize) {
    let before = open_fds();
    for address in [
        Address::Abstract(unique_name("cycles").into_bytes()),
        "127.0.0.1:0".parse().unwrap(),
    ] {
        let mut l = Listener::bind(address, Framing::Python, Some(KEY)).unwrap();
        let address = l.address().clone();
        let server = std::thread::spawn(move || {
            for _ in 0..n / 2 {
                let mut c = l.accept_timeout(LIMIT).unwrap();
                c.send_bytes(b"hi").unwrap();
            }
        });
        for _ in 0..n / 2 {
            let mut c =
                Client::connect_timeout(&address, Framing::Python, Some(KEY), LIMIT).unwrap();
            assert_eq!(c.recv_bytes_timeout(LIMIT).unwrap(), b"hi");
        }
        server.join().unwrap();
    }
    (before, open_fds())
}

#[test]
fn a_thousand_connect_authenticate_close_cycles_leave_no_descriptor() {
    let (before, after) = spawn(cycles, 1000).unwrap().join().unwrap();
    assert_eq!(
        before, after,
        "descriptors open before and after 1,000 cycles"
    );
}
