//! Every answer the server gives is logged through the `log` facade (as Python's server logs
//! each request): the peer, the request line, the status, the XML-RPC method or the reason
//! for a refusal, and the time it took. A method that panics is logged as a warning.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use multiproc_rpc::{Client, Server};

/// The records logged so far, as `LEVEL target: message`.
static RECORDS: Mutex<Vec<String>> = Mutex::new(Vec::new());

struct Collect;

impl log::Log for Collect {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, r: &log::Record<'_>) {
        let line = format!("{} {}: {}", r.level(), r.target(), r.args());
        RECORDS.lock().unwrap().push(line);
    }
    fn flush(&self) {}
}

/// Waits (up to 5 s) for a record that contains every one of `parts`.
fn wait_for(parts: &[&str]) -> String {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let found = RECORDS
            .lock()
            .unwrap()
            .iter()
            .find(|l| parts.iter().all(|p| l.contains(p)))
            .cloned();
        if let Some(l) = found {
            return l;
        }
        assert!(
            Instant::now() < deadline,
            "no record with {parts:?} in {:#?}",
            RECORDS.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn requests_are_logged() {
    log::set_logger(&Collect).unwrap();
    log::set_max_level(log::LevelFilter::Trace);

    let mut s = Server::new().unwrap();
    s.register_function("add", |x: i32, y: i32| x + y)
        .register_function("boom", || -> i32 { panic!("on purpose") });
    let h = s.spawn().unwrap();
    let c = Client::new(&h.url()).unwrap();
    assert_eq!(c.call::<i32>("add", (2, 3)).unwrap(), 5);
    assert!(c.call::<i32>("boom", ()).is_err());

    let line = wait_for(&["\"POST /RPC2 HTTP/1.1\" 200 add ", " ms"]);
    assert!(line.starts_with("INFO multiproc_rpc"), "{line}");
    assert!(line.contains("127.0.0.1:"), "{line}");
    let panicked = wait_for(&["\"boom\" panicked: on purpose"]);
    assert!(panicked.starts_with("WARN "), "{panicked}");
    wait_for(&["\"POST /RPC2 HTTP/1.1\" 200 boom "]);

    // A refusal is logged with its status and reason.
    let mut raw = TcpStream::connect(h.local_addr()).unwrap();
    raw.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    raw.write_all(b"GET /RPC2 HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let _ = raw.read_to_end(&mut Vec::new());
    wait_for(&["\"GET /RPC2 HTTP/1.1\" 501 Unsupported method"]);
}
