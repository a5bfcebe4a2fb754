//! gzip bodies both ways, as Python's client and server send them: gzipped requests are
//! inflated, large answers are gzipped for clients that accept it, and a gzip bomb meets the
//! body limit instead of filling memory, on the server and on the client.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use multiproc_rpc::{Client, Error, Limits, Server, ServerHandle, Value};

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// `members` gzip members of 1 MiB of zeros each: about 1 KiB each, `members` MiB inflated.
fn bomb(members: usize) -> Vec<u8> {
    gzip(&vec![0; 1 << 20]).repeat(members)
}

fn server(limits: Limits) -> ServerHandle {
    let mut s = Server::new().unwrap();
    s.limits(limits)
        .register_function("echo", |v: Value| v)
        .register_function("len", |s: String| s.len());
    s.spawn().unwrap()
}

fn call_doc(text: &str) -> String {
    format!(
        "<?xml version=\"1.0\"?><methodCall><methodName>echo</methodName><params><param><value><string>{text}</string></value></param></params></methodCall>"
    )
}

/// Sends a POST with `extra` headers and `body`; returns the answer's head and body.
fn raw_post(addr: SocketAddr, extra: &str, body: &[u8]) -> (String, Vec<u8>) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "POST /RPC2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{extra}Content-Length: {}\r\n\r\n",
        body.len()
    )
    .unwrap();
    // The server may answer (and close) before it has read all of a refused body.
    let _ = s.write_all(body);
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let end = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("an HTTP answer");
    (
        String::from_utf8_lossy(&out[..end]).into_owned(),
        out[end + 4..].to_vec(),
    )
}

#[test]
fn gzipped_requests_are_inflated() {
    let h = server(Limits::default());
    let (head, body) = raw_post(
        h.local_addr(),
        "Content-Encoding: gzip\r\n",
        &gzip(call_doc("squeezed").as_bytes()),
    );
    assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
    assert!(String::from_utf8_lossy(&body).contains("<string>squeezed</string>"));
}

#[test]
fn large_answers_are_gzipped_for_clients_that_accept_it() {
    let h = server(Limits::default());
    let big = "x".repeat(5000);
    let (head, body) = raw_post(
        h.local_addr(),
        "Accept-Encoding: gzip\r\n",
        call_doc(&big).as_bytes(),
    );
    assert!(head.contains("\r\nContent-Encoding: gzip"), "{head}");
    let mut doc = String::new();
    GzDecoder::new(&body[..]).read_to_string(&mut doc).unwrap();
    assert!(doc.contains(&big));
    // Small answers, and clients that do not ask (or refuse with q=0), get plain text.
    for (extra, text) in [
        ("Accept-Encoding: gzip\r\n", "small"),
        ("", big.as_str()),
        ("Accept-Encoding: gzip;q=0, identity\r\n", big.as_str()),
    ] {
        let (head, body) = raw_post(h.local_addr(), extra, call_doc(text).as_bytes());
        assert!(!head.contains("Content-Encoding"), "{head}");
        assert!(String::from_utf8_lossy(&body).contains(text));
    }
}

#[test]
fn our_client_gzips_both_ways() {
    let h = server(Limits::default());
    let big = "y".repeat(100_000);
    let c = Client::new(&h.url()).unwrap().encode_threshold(Some(0));
    assert_eq!(c.call::<usize>("len", (&big,)).unwrap(), big.len());
    assert_eq!(c.call::<String>("echo", (&big,)).unwrap(), big);
    let plain = Client::new(&h.url()).unwrap().accept_gzip_encoding(false);
    assert_eq!(plain.call::<String>("echo", (&big,)).unwrap(), big);
}

/// 64 MiB of zeros in about 64 KiB: refused with 413 at the 1 MiB body limit.
#[test]
fn a_gzip_bomb_meets_the_body_limit_on_the_server() {
    let h = server(Limits {
        max_body: 1 << 20,
        ..Limits::default()
    });
    let t = Instant::now();
    let (head, _) = raw_post(h.local_addr(), "Content-Encoding: gzip\r\n", &bomb(64));
    assert!(head.starts_with("HTTP/1.1 413 "), "{head}");
    assert!(t.elapsed() < Duration::from_secs(10));
    let (head, _) = raw_post(h.local_addr(), "Content-Encoding: gzip\r\n", b"not gzip");
    assert!(head.starts_with("HTTP/1.1 400 "), "{head}");
    let (head, _) = raw_post(h.local_addr(), "Content-Encoding: br\r\n", b"x");
    assert!(head.starts_with("HTTP/1.1 501 "), "{head}");
}

/// A server that answers a gzip bomb: the client gives up at its limit.
#[test]
fn a_gzip_bomb_meets_the_limit_on_the_client() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let body = bomb(64);
    let peer = std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut buf = vec![0; 4096];
        let _ = s.read(&mut buf);
        let _ = write!(
            s,
            "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        let _ = s.write_all(&body);
    });
    let mut c = Client::new(&format!("http://{addr}/RPC2"))
        .unwrap()
        .timeout(Duration::from_secs(10));
    c.set_max_message(1 << 20);
    match c.call::<Value>("m", ()) {
        Err(Error::TooLarge { len, max }) => assert!(len > max && max == 1 << 20),
        other => panic!("{other:?}"),
    }
    peer.join().unwrap();
}
