//! Bad input and slow clients: limits, timeouts, a stalled client beside working ones, the
//! connection cap, HTTP errors, keep-alive, basic auth and graceful shutdown.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use multiproc_rpc::{Client, Error, Limits, Server, ServerHandle, Value};

fn server(limits: Limits) -> ServerHandle {
    let mut s = Server::new().unwrap();
    s.limits(limits)
        .register_function("add", |x: i32, y: i32| x + y)
        .register_function("echo", |v: Value| v)
        .register_function("sleep", |ms: u64| {
            std::thread::sleep(Duration::from_millis(ms));
            ms
        });
    s.spawn().unwrap()
}

fn short_limits() -> Limits {
    Limits {
        read_timeout: Duration::from_millis(300),
        idle_timeout: Duration::from_millis(600),
        ..Limits::default()
    }
}

/// Sends `bytes` and reads the answer until the server closes or 5 s pass.
fn raw(addr: SocketAddr, bytes: &[u8]) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(bytes).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

fn post(path: &str, body: &str) -> Vec<u8> {
    format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn call_doc(inner: &str) -> String {
    format!(
        "<?xml version=\"1.0\"?><methodCall><methodName>echo</methodName><params><param><value>{inner}</value></param></params></methodCall>"
    )
}

#[test]
fn http_errors() {
    let h = server(short_limits());
    let a = h.local_addr();
    let big = b"POST /RPC2 HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000\r\n\r\n";
    let t = Instant::now();
    assert!(raw(a, big).starts_with("HTTP/1.1 413 "));
    assert!(
        t.elapsed() < Duration::from_millis(250),
        "413 comes before the body"
    );
    assert!(raw(a, &post("/other", "x")).starts_with("HTTP/1.1 404 "));
    assert!(raw(a, b"GET /RPC2 HTTP/1.1\r\nHost: x\r\n\r\n").starts_with("HTTP/1.1 501 "));
    assert!(raw(a, b"POST /RPC2 HTTP/1.1\r\nHost: x\r\n\r\n").starts_with("HTTP/1.1 411 "));
    assert!(raw(a, b"garbage\r\n\r\n").starts_with("HTTP/1.1 400 "));
    let huge_head = format!("POST /RPC2 HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(20_000));
    assert!(raw(a, huge_head.as_bytes()).starts_with("HTTP/1.1 431 "));
    let c = Client::new(&format!("http://{a}/nope")).unwrap();
    assert!(matches!(
        c.call::<i32>("add", (1, 2)),
        Err(Error::Http { status: 404, .. })
    ));
}

#[test]
fn malformed_xml_depth_and_entities_are_faults() {
    let h = server(Limits {
        max_depth: 8,
        ..short_limits()
    });
    let a = h.local_addr();
    for bad in [
        "<methodCall><methodName>echo</methodName><params>".to_string(),
        "<!DOCTYPE x [<!ENTITY e \"boom\">]>".to_string() + &call_doc("&e;"),
        call_doc("&e;"),
        call_doc("<int>12x</int>"),
        call_doc(&format!(
            "{}1{}",
            "<array><data><value>".repeat(9),
            "</value></data></array>".repeat(9)
        )),
    ] {
        let r = raw(a, &post("/RPC2", &bad));
        assert!(r.starts_with("HTTP/1.1 200 "), "{r}");
        assert!(
            r.contains("<fault>") && r.contains("ExpatError"),
            "{bad}: {r}"
        );
    }
    // Eight levels are fine, and the server still serves.
    let ok = call_doc(&format!(
        "{}1{}",
        "<array><data><value>".repeat(8),
        "</value></data></array>".repeat(8)
    ));
    assert!(!raw(a, &post("/RPC2", &ok)).contains("<fault>"));
    let c = Client::new(&h.url()).unwrap();
    assert_eq!(c.call::<i32>("add", (2, 3)).unwrap(), 5);
}

#[test]
fn stalled_client_does_not_delay_others_and_gets_408() {
    let h = server(short_limits());
    // A client that sends half a request and then nothing.
    let mut stalled = TcpStream::connect(h.local_addr()).unwrap();
    stalled
        .write_all(b"POST /RPC2 HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\n<methodCall>")
        .unwrap();
    // Another that stalls inside the head.
    let mut stalled_head = TcpStream::connect(h.local_addr()).unwrap();
    stalled_head
        .write_all(b"POST /RPC2 HTTP/1.1\r\nHo")
        .unwrap();
    let c = Client::new(&h.url()).unwrap();
    let t = Instant::now();
    for i in 0..50 {
        let call = Instant::now();
        assert_eq!(c.call::<i32>("add", (i, 1)).unwrap(), i + 1);
        assert!(call.elapsed() < Duration::from_millis(200));
    }
    assert!(t.elapsed() < Duration::from_millis(300));
    for s in [&mut stalled, &mut stalled_head] {
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut out = String::new();
        let _ = s.read_to_string(&mut out);
        assert!(out.starts_with("HTTP/1.1 408 "), "{out}");
    }
    assert!(t.elapsed() < Duration::from_secs(2));
}

#[test]
fn idle_connections_close_and_the_client_reconnects() {
    let h = server(short_limits());
    let c = Client::new(&h.url()).unwrap();
    for _ in 0..10 {
        c.call::<i32>("add", (1, 1)).unwrap();
    }
    assert_eq!(
        h.connections(),
        1,
        "one kept-alive connection for all calls"
    );
    std::thread::sleep(Duration::from_millis(900));
    assert_eq!(h.connections(), 0, "closed after the idle timeout");
    assert_eq!(c.call::<i32>("add", (2, 2)).unwrap(), 4);
}

#[test]
fn connection_cap_refuses_only_when_every_place_is_busy() {
    let h = server(Limits {
        max_connections: 2,
        ..short_limits()
    });
    // Two connections inside a call: no place can be freed.
    let busy: Vec<_> = (0..2)
        .map(|_| {
            let url = h.url();
            std::thread::spawn(move || Client::new(&url).unwrap().call::<u64>("sleep", (400,)))
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(5);
    while h.connections() < 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(50));
    let third = raw(h.local_addr(), &post("/RPC2", &call_doc("<int>1</int>")));
    assert!(third.starts_with("HTTP/1.1 503 "), "{third}");
    for b in busy {
        assert_eq!(b.join().unwrap().unwrap(), 400);
    }
    // Now both are idle (kept alive): a new client takes the place of the older one, and the
    // client whose connection was dropped reconnects without noticing.
    let c1 = Client::new(&h.url()).unwrap();
    let c2 = Client::new(&h.url()).unwrap();
    let c3 = Client::new(&h.url()).unwrap();
    for _ in 0..3 {
        for c in [&c1, &c2, &c3] {
            assert_eq!(c.call::<i32>("add", (1, 1)).unwrap(), 2);
        }
    }
    assert!(h.connections() <= 2);
}

/// 300 connections that never send a byte (more than the 256 places) must not turn a real
/// client away: each new connection takes the place of the one idle the longest.
#[test]
fn silent_connections_do_not_lock_clients_out() {
    let h = server(Limits::default());
    let silent: Vec<TcpStream> = (0..300)
        .map(|_| TcpStream::connect(h.local_addr()).unwrap())
        .collect();
    let c = Client::new(&h.url())
        .unwrap()
        .timeout(Duration::from_secs(5));
    let t = Instant::now();
    assert_eq!(c.call::<i32>("add", (2, 3)).unwrap(), 5);
    assert!(
        t.elapsed() < Duration::from_secs(2),
        "took {:?}",
        t.elapsed()
    );
    assert!(h.connections() <= Limits::default().max_connections);
    drop(silent);
}

/// A connection that sends nothing is closed after `first_request_timeout`, far sooner than
/// the idle timeout of a kept-alive one; one that stalls inside its first head gets 408.
#[test]
fn first_request_has_a_short_timeout_of_its_own() {
    let h = server(Limits {
        first_request_timeout: Duration::from_millis(300),
        idle_timeout: Duration::from_secs(30),
        read_timeout: Duration::from_secs(30),
        ..Limits::default()
    });
    let t = Instant::now();
    let mut silent = TcpStream::connect(h.local_addr()).unwrap();
    let mut partial = TcpStream::connect(h.local_addr()).unwrap();
    partial.write_all(b"POST /RPC2 HTTP/1.1\r\nHo").unwrap();
    for s in [&mut silent, &mut partial] {
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    }
    let mut out = Vec::new();
    silent.read_to_end(&mut out).unwrap();
    assert!(out.is_empty(), "closed without an answer");
    let mut out = String::new();
    partial.read_to_string(&mut out).unwrap();
    assert!(out.starts_with("HTTP/1.1 408 "), "{out}");
    let waited = t.elapsed();
    assert!(
        waited >= Duration::from_millis(250) && waited < Duration::from_secs(5),
        "{waited:?}"
    );
    // A kept-alive connection that has served a request keeps the long idle timeout.
    let c = Client::new(&h.url()).unwrap();
    assert_eq!(c.call::<i32>("add", (1, 2)).unwrap(), 3);
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(h.connections(), 1);
}

/// RFC 9112 section 6.1: a request with both `Transfer-Encoding` and `Content-Length` is
/// refused, not read one way or the other.
#[test]
fn transfer_encoding_with_content_length_is_400() {
    let h = server(short_limits());
    let both = b"POST /RPC2 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
    let r = raw(h.local_addr(), both);
    assert!(r.starts_with("HTTP/1.1 400 "), "{r}");
    let reversed = b"POST /RPC2 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\ncontent-length: 5\r\n\r\n0\r\n\r\n";
    let r = raw(h.local_addr(), reversed);
    assert!(r.starts_with("HTTP/1.1 400 "), "{r}");
}

#[test]
fn client_timeout_and_refused_connection() {
    let h = server(short_limits());
    let c = Client::new(&h.url())
        .unwrap()
        .timeout(Duration::from_millis(100));
    let t = Instant::now();
    let e = c.call::<u64>("sleep", (400,)).unwrap_err();
    assert!(matches!(e, Error::Timeout), "{e}");
    assert!(t.elapsed() < Duration::from_millis(350));
    // The timed-out connection was dropped; the next call works on a fresh one.
    assert_eq!(c.call::<u64>("sleep", (1,)).unwrap(), 1);
    let addr = h.local_addr();
    h.shutdown();
    let c = Client::new(&format!("http://{addr}/RPC2")).unwrap();
    assert!(matches!(c.call::<i32>("add", (1, 1)), Err(Error::Io(_))));
}

#[test]
fn graceful_shutdown_finishes_calls_in_progress() {
    let h = server(short_limits());
    let url = h.url();
    let busy = std::thread::spawn(move || Client::new(&url).unwrap().call::<u64>("sleep", (300,)));
    let idle = Client::new(&h.url()).unwrap();
    idle.call::<i32>("add", (1, 1)).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let t = Instant::now();
    h.shutdown();
    assert!(t.elapsed() < Duration::from_secs(2));
    assert_eq!(busy.join().unwrap().unwrap(), 300);
}

#[test]
fn basic_auth_from_the_url() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let peer = std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut buf = vec![0; 4096];
        let n = s.read(&mut buf).unwrap();
        let body = "<?xml version='1.0'?><methodResponse><params><param><value><string>hi</string></value></param></params></methodResponse>";
        write!(
            s,
            "HTTP/1.0 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        String::from_utf8_lossy(&buf[..n]).into_owned()
    });
    let c = Client::new(&format!("http://us%40er:p%3Ass@{addr}")).unwrap();
    assert_eq!(c.call::<String>("m", ()).unwrap(), "hi");
    let req = peer.join().unwrap();
    // base64("us@er:p:ss")
    assert!(
        req.contains("Authorization: Basic dXNAZXI6cDpzcw==\r\n"),
        "{req}"
    );
    assert!(req.starts_with("POST /RPC2 HTTP/1.1\r\n"), "{req}");
}

#[cfg(not(feature = "tls"))]
#[test]
fn https_needs_the_tls_feature() {
    match Client::new("https://localhost/RPC2") {
        Err(Error::Url { reason, .. }) => assert!(reason.contains("`tls` feature"), "{reason}"),
        other => panic!("{other:?}"),
    }
}

/// A server that reads one request and answers `answer` (nothing, if empty), then closes.
fn answer_once(answer: &'static [u8]) -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let _ = s.read(&mut [0; 4096]);
        let _ = s.write_all(answer);
    });
    addr
}

fn call_at(addr: SocketAddr) -> Error {
    Client::new(&format!("http://{addr}/RPC2"))
        .unwrap()
        .timeout(Duration::from_secs(5))
        .call::<Value>("m", ())
        .unwrap_err()
}

/// Each failure has its own variant with a typed reason; `Display` is a short phrase that
/// does not repeat the `source()`, and the conversion to `io::Error` keeps the kind.
#[test]
fn errors_carry_typed_reasons() {
    use multiproc_rpc::{CorruptReason, MalformedHttp};
    use std::error::Error as _;

    let e = call_at(answer_once(b"garbage\r\n\r\n"));
    assert!(
        matches!(
            &e,
            Error::Corrupt {
                reason: CorruptReason::Http(MalformedHttp::StartLine)
            }
        ),
        "{e:?}"
    );
    assert_eq!(e.to_string(), "corrupt message from the peer");
    assert_eq!(e.source().unwrap().to_string(), "bad first line");
    assert_eq!(
        std::io::Error::from(e).kind(),
        std::io::ErrorKind::InvalidData
    );

    let e = call_at(answer_once(
        b"HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\n<methodResponse><x/>",
    ));
    let Error::Corrupt {
        reason: CorruptReason::Xml(x),
    } = &e
    else {
        panic!("{e:?}")
    };
    assert!(x.to_string().contains("<x/>"), "{x}");

    let e = call_at(answer_once(
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    ));
    assert!(matches!(
        e,
        Error::Corrupt {
            reason: CorruptReason::Http(MalformedHttp::LengthAndTransferEncoding)
        }
    ));

    assert!(matches!(call_at(answer_once(b"")), Error::Disconnected));

    let refused = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let e = call_at(refused);
    let Error::Io(io) = &e else { panic!("{e:?}") };
    assert_eq!(io.kind(), std::io::ErrorKind::ConnectionRefused);
    assert_eq!(e.to_string(), "i/o error");
    assert_eq!(e.source().unwrap().to_string(), io.to_string());
}
