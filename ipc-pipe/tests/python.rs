//! `Listener` and `Client` against Python's `multiprocessing.connection` (3.11, the old HMAC-MD5
//! handshake, and 3.13, the `{sha256}` one), over real sockets and real processes: right key,
//! wrong key, no key, values both ways, a peer that dies mid-message.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use multiproc_pipe::serde_pickle::{HashableValue, Value};
use multiproc_pipe::{Address, AuthFailure, Client, Error, Framing, Listener};
use multiproc_testkit::{ChildGuard, unique_name};

const LIMIT: Duration = Duration::from_secs(30);
const KEY: &[u8] = b"the shared key";

/// The two generations of Python on these machines: `python3` is 3.11 (HMAC-MD5 handshake),
/// `PYENV_VERSION=3.13.0 python3` is 3.13 (`{sha256}`).
const PYTHONS: [(&str, Option<&str>); 2] = [("3.11", None), ("3.13", Some("3.13.0"))];

/// A Python peer running `tests/peer.py`, its stdout read line by line.
struct Py {
    child: ChildGuard,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Py {
    fn start(version: (&str, Option<&str>), args: &[&str]) -> Py {
        let mut cmd = Command::new("python3");
        cmd.arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/peer.py"))
            .args(args)
            .env_remove("PYENV_VERSION")
            .stdin(Stdio::null())
            .stdout(Stdio::piped());
        if let Some(v) = version.1 {
            cmd.env("PYENV_VERSION", v);
        }
        let mut child = cmd.spawn().expect("python3 runs");
        let out = child.stdout.take().expect("piped");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut py = Py {
            child: ChildGuard(child),
            lines,
            seen: Vec::new(),
        };
        py.expect(&format!("python {}", version.0));
        py
    }

    /// The next line; panics after `LIMIT`.
    fn line(&mut self) -> String {
        let l = self
            .lines
            .recv_timeout(LIMIT)
            .unwrap_or_else(|_| panic!("python said nothing more; so far: {:?}", self.seen));
        self.seen.push(l.clone());
        l
    }

    fn expect(&mut self, want: &str) {
        let l = self.line();
        assert_eq!(l, want, "python said {:?}", self.seen);
    }

    fn expect_prefix(&mut self, prefix: &str) -> String {
        let l = self.line();
        assert!(
            l.starts_with(prefix),
            "expected {prefix:?}, python said {:?}",
            self.seen
        );
        l[prefix.len()..].to_string()
    }

    /// Waits for the exit; returns whether it succeeded.
    fn finish(mut self) -> bool {
        self.child.wait(LIMIT).success()
    }
}

fn tcp() -> Address {
    "127.0.0.1:0".parse().unwrap()
}

fn unix() -> Address {
    Address::Unix(std::env::temp_dir().join(unique_name("listener")))
}

fn abstract_name() -> Address {
    Address::Abstract(unique_name("listener").into_bytes())
}

/// What `peer.py`'s VALUES are after a round through serde-pickle's dynamic value.
fn python_values() -> Vec<Value> {
    use num_like::big;
    vec![
        Value::I64(1),
        Value::I64(-7),
        big(),
        Value::F64(2.5),
        Value::String("text".into()),
        Value::String("ünïcode".into()),
        Value::Bytes(b"bytes".to_vec()),
        Value::None,
        Value::Bool(true),
        Value::Bool(false),
        Value::List(vec![
            Value::I64(1),
            Value::List(vec![Value::I64(2), Value::I64(3)]),
        ]),
        Value::Tuple(vec![Value::I64(4), Value::String("five".into())]),
        Value::Dict(
            [
                (HashableValue::String("a".into()), Value::I64(1)),
                (
                    HashableValue::String("b".into()),
                    Value::List(vec![Value::None]),
                ),
            ]
            .into_iter()
            .collect(),
        ),
        Value::List(vec![]),
        Value::Dict(Default::default()),
        Value::Tuple(vec![]),
    ]
}

mod num_like {
    use multiproc_pipe::serde_pickle::Value;
    /// 2**70, which only a big integer holds.
    pub fn big() -> Value {
        multiproc_pipe::serde_pickle::value_from_slice(
            // pickle.dumps(2**70, protocol=2)
            &[0x80, 2, 0x8a, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0x40, b'.'],
            Default::default(),
        )
        .unwrap()
    }
}

/// Receives `peer.py`'s VALUES, checks them, and sends them back.
fn echo_values(conn: &mut multiproc_pipe::Connection) {
    let want = python_values();
    let mut got = Vec::new();
    for _ in 0..want.len() {
        got.push(conn.recv_pickle_value_timeout(LIMIT).unwrap());
    }
    assert_eq!(got, want);
    for v in &got {
        conn.send_pickle_value(v).unwrap();
    }
}

#[test]
fn python_clients_with_our_listener_right_key() {
    for py in PYTHONS {
        for address in [tcp(), unix(), abstract_name()] {
            let mut l = Listener::bind(address, Framing::Python, Some(KEY)).unwrap();
            let at = l.address().to_string();
            let key = std::str::from_utf8(KEY).unwrap();
            // Bytes both ways.
            let mut p = Py::start(py, &["client", &at, key, "bytes"]);
            let mut c = l.accept_timeout(LIMIT).unwrap();
            p.expect("connected");
            assert_eq!(c.recv_bytes_timeout(LIMIT).unwrap(), b"hello from python");
            c.send_bytes(b"hello from rust").unwrap();
            p.expect("got hello from rust");
            assert!(p.finish(), "python {} at {at}", py.0);
            // Plain values both ways, through pickle.
            let mut p = Py::start(py, &["client", &at, key, "values"]);
            let mut c = l.accept_timeout(LIMIT).unwrap();
            echo_values(&mut c);
            p.expect("connected");
            p.expect("values came back equal");
            assert!(p.finish());
        }
    }
}

#[test]
fn python_clients_with_our_listener_wrong_key_or_none() {
    for py in PYTHONS {
        let mut l = Listener::bind(tcp(), Framing::Python, Some(KEY)).unwrap();
        let at = l.address().to_string();
        // A wrong key: refused on both sides.
        let mut p = Py::start(py, &["client", &at, "another key", "bytes"]);
        match l.accept_timeout(LIMIT) {
            Err(Error::AuthenticationError(AuthFailure::WrongDigest)) => {}
            other => panic!("expected a wrong digest, got {other:?}"),
        }
        p.expect("error AuthenticationError: digest sent was rejected");
        assert!(!p.finish());
        // No key: its first message is taken as the answer, and refused.
        let mut p = Py::start(py, &["client", &at, "-", "bytes"]);
        match l.accept_timeout(LIMIT) {
            Err(Error::AuthenticationError(_)) => {}
            other => panic!("expected an authentication error, got {other:?}"),
        }
        p.expect("connected");
        drop(p);
        // The listener is still good.
        let mut p = Py::start(py, &["client", &at, "the shared key", "bytes"]);
        let mut c = l.accept_timeout(LIMIT).unwrap();
        assert_eq!(c.recv_bytes_timeout(LIMIT).unwrap(), b"hello from python");
        c.send_bytes(b"still here").unwrap();
        p.expect("connected");
        p.expect("got still here");
        assert!(p.finish());
    }
}

#[test]
fn python_client_without_key_with_our_listener_without_key() {
    for py in PYTHONS {
        let mut l = Listener::bind(unix(), Framing::Python, None).unwrap();
        let at = l.address().to_string();
        let mut p = Py::start(py, &["client", &at, "-", "bytes"]);
        let mut c = l.accept_timeout(LIMIT).unwrap();
        assert_eq!(c.recv_bytes_timeout(LIMIT).unwrap(), b"hello from python");
        c.send_bytes(b"no key needed").unwrap();
        p.expect("connected");
        p.expect("got no key needed");
        assert!(p.finish());
    }
}

/// Starts a Python listener and returns it with its address.
fn python_listener(
    py: (&str, Option<&str>),
    address: &str,
    key: &str,
    mode: &str,
) -> (Py, Address) {
    let mut p = Py::start(py, &["listener", address, key, mode]);
    let at = p.expect_prefix("listening on ");
    (p, at.parse().unwrap())
}

#[test]
fn our_client_with_python_listeners() {
    for py in PYTHONS {
        for address in ["127.0.0.1:0", "@multiproc-pipe-test-py"] {
            let address = if address.starts_with('@') {
                format!("{address}-{}-{}", std::process::id(), py.0)
            } else {
                address.to_string()
            };
            // The right key: bytes, then values.
            let (mut p, at) = python_listener(py, &address, "the shared key", "bytes");
            let mut c = Client::connect_timeout(&at, Framing::Python, Some(KEY), LIMIT).unwrap();
            p.expect("accepted");
            assert_eq!(c.recv_bytes_timeout(LIMIT).unwrap(), b"hello from python");
            c.send_bytes(b"hello from rust").unwrap();
            p.expect("got hello from rust");
            assert!(p.finish());
            let (mut p, at) = python_listener(py, &address, "the shared key", "values");
            let mut c = Client::connect_timeout(&at, Framing::Python, Some(KEY), LIMIT).unwrap();
            echo_values(&mut c);
            p.expect("accepted");
            p.expect("values came back equal");
            assert!(p.finish());
        }
        // A wrong key: refused on both sides.
        let (mut p, at) = python_listener(py, "127.0.0.1:0", "the shared key", "bytes");
        match Client::connect_timeout(&at, Framing::Python, Some(b"another key"), LIMIT) {
            Err(Error::AuthenticationError(AuthFailure::Rejected)) => {}
            other => panic!("expected a rejection, got {other:?}"),
        }
        p.expect("error AuthenticationError: digest received was wrong");
        assert!(!p.finish());
        // No key on our side: Python takes our first message for an answer, and refuses it.
        let (mut p, at) = python_listener(py, "127.0.0.1:0", "the shared key", "bytes");
        let mut c = Client::connect_timeout(&at, Framing::Python, None, LIMIT).unwrap();
        c.send_bytes(b"just data").unwrap();
        let challenge = c.recv_bytes_timeout(LIMIT).unwrap();
        assert!(challenge.starts_with(b"#CHALLENGE#"));
        assert_eq!(c.recv_bytes_timeout(LIMIT).unwrap(), b"#FAILURE#");
        let l = p.expect_prefix("error AuthenticationError");
        assert!(!l.is_empty());
        assert!(!p.finish());
    }
}

#[test]
fn a_dead_python_peer_mid_message_is_disconnected() {
    for py in PYTHONS {
        // Python's client dies inside a message to our listener.
        let mut l = Listener::bind(tcp(), Framing::Python, Some(KEY)).unwrap();
        let at = l.address().to_string();
        let mut p = Py::start(py, &["client", &at, "the shared key", "die_mid_message"]);
        let mut c = l.accept_timeout(LIMIT).unwrap();
        p.expect("connected");
        p.expect("dying");
        assert!(matches!(
            c.recv_bytes_timeout(LIMIT),
            Err(Error::Disconnected)
        ));
        assert!(p.finish());
        // Python's listener dies inside a message to our client.
        let (mut p, at) = python_listener(py, "127.0.0.1:0", "the shared key", "die_mid_message");
        let mut c = Client::connect_timeout(&at, Framing::Python, Some(KEY), LIMIT).unwrap();
        p.expect("accepted");
        p.expect("dying");
        assert!(matches!(
            c.recv_timeout::<u8>(LIMIT),
            Err(Error::Disconnected)
        ));
        assert!(p.finish());
    }
}

#[test]
fn a_silent_client_does_not_hold_up_a_working_one() {
    let mut l = Listener::bind(tcp(), Framing::Python, Some(KEY)).unwrap();
    l.set_handshake_timeout(Duration::from_secs(60));
    let Address::Tcp(addr) = l.address().clone() else {
        unreachable!()
    };
    // Connects and says nothing, before the real client.
    let silent = TcpStream::connect(addr).unwrap();
    let t = Instant::now();
    let mut p = Py::start(
        PYTHONS[1],
        &["client", &addr.to_string(), "the shared key", "bytes"],
    );
    let mut c = l.accept_timeout(LIMIT).unwrap();
    // A handshake run inside accept one client at a time (as Python runs it) would wait 60 s
    // for the silent one first.
    assert!(
        t.elapsed() < Duration::from_secs(20),
        "held up: {:?}",
        t.elapsed()
    );
    assert_eq!(c.recv_bytes_timeout(LIMIT).unwrap(), b"hello from python");
    c.send_bytes(b"not held up").unwrap();
    p.expect("connected");
    p.expect("got not held up");
    assert!(p.finish());
    drop(silent);

    // A silent client is dropped when its handshake time is up.
    l.set_handshake_timeout(Duration::from_millis(300));
    let mut silent = TcpStream::connect(addr).unwrap();
    assert!(matches!(
        l.accept_timeout(Duration::from_secs(1)),
        Err(Error::Timeout)
    ));
    silent.set_read_timeout(Some(LIMIT)).unwrap();
    let mut seen = Vec::new();
    silent.read_to_end(&mut seen).unwrap();
    assert!(
        seen.windows(11).any(|w| w == b"#CHALLENGE#"),
        "it was challenged, then the listener hung up"
    );
}

#[test]
fn oversized_pre_auth_messages_are_refused_unread() {
    let mut l = Listener::bind(tcp(), Framing::Python, Some(KEY)).unwrap();
    let Address::Tcp(addr) = l.address().clone() else {
        unreachable!()
    };
    // A client that answers the challenge with a 1 MiB message.
    let mut raw = TcpStream::connect(addr).unwrap();
    raw.write_all(&(1u32 << 20).to_be_bytes()).unwrap();
    raw.write_all(&[0u8; 64]).unwrap();
    match l.accept_timeout(LIMIT) {
        Err(Error::TooLarge { len, max: 256 }) => assert_eq!(len, 1 << 20),
        other => panic!("expected TooLarge, got {other:?}"),
    }
    // Python's long form (-1, then 8 bytes) is refused the same way.
    let mut raw = TcpStream::connect(addr).unwrap();
    raw.write_all(&(-1i32).to_be_bytes()).unwrap();
    raw.write_all(&(5u64 << 30).to_be_bytes()).unwrap();
    assert!(matches!(
        l.accept_timeout(LIMIT),
        Err(Error::TooLarge { max: 256, .. })
    ));
    // The listener goes on.
    let t = std::thread::spawn(move || {
        let mut c = Client::connect_timeout(addr, Framing::Python, Some(KEY), LIMIT).unwrap();
        c.send_bytes(b"fine").unwrap();
    });
    let mut c = l.accept_timeout(LIMIT).unwrap();
    assert_eq!(c.recv_bytes_timeout(LIMIT).unwrap(), b"fine");
    t.join().unwrap();

    // A listener whose challenge is 1 MiB long is refused by our client.
    let server = TcpListener::bind("127.0.0.1:0").unwrap();
    let at = server.local_addr().unwrap();
    let t = std::thread::spawn(move || {
        let (mut s, _) = server.accept().unwrap();
        s.write_all(&(1u32 << 20).to_be_bytes()).unwrap();
        let _ = s.write_all(&[0u8; 1024]);
        std::thread::sleep(Duration::from_millis(200));
    });
    match Client::connect_timeout(at, Framing::Python, Some(KEY), LIMIT) {
        Err(Error::TooLarge { len, max: 256 }) => assert_eq!(len, 1 << 20),
        other => panic!("expected TooLarge, got {other:?}"),
    }
    t.join().unwrap();
}
