//! `multiproc-fifo` across real processes.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use multiproc_fifo::{Duplex, Error, Fifo};
use multiproc_process::{JoinHandle, Process, StartMethod};
use multiproc_testkit::unique_name;

const LIMIT: Duration = Duration::from_secs(20);

fn tmp(tag: &str) -> PathBuf {
    std::env::temp_dir().join(unique_name(tag))
}

#[test]
fn create_check_and_remove() {
    let path = tmp("fifo-create");
    {
        let f = Fifo::create(&path, 0o600).unwrap();
        assert_eq!(f.path(), path);
        assert!(matches!(
            Fifo::create(&path, 0o600),
            Err(Error::AlreadyExists(_))
        ));
        let g = Fifo::create_or_open(&path, 0o600).unwrap();
        drop(g); // not the creator: leaves it
        assert!(path.exists());
    }
    assert!(!path.exists(), "the creator removes the fifo on drop");
    assert!(matches!(Fifo::open(&path), Err(Error::NotFound(_))));
    // A regular file is not a fifo, whichever way we come at it.
    std::fs::write(&path, b"x").unwrap();
    assert!(matches!(Fifo::open(&path), Err(Error::NotAFifo(_))));
    assert!(matches!(
        Fifo::create_or_open(&path, 0o600),
        Err(Error::NotAFifo(_))
    ));
    std::fs::remove_file(&path).unwrap();
    // persist keeps it.
    let mut f = Fifo::create(&path, 0o600).unwrap();
    f.persist();
    drop(f);
    assert!(path.exists());
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn a_peer_that_never_comes_is_a_timeout() {
    let path = tmp("fifo-timeout");
    let f = Fifo::create(&path, 0o600).unwrap();
    for write in [true, false] {
        let t = Instant::now();
        let r = if write {
            f.open_writer_timeout(Duration::from_millis(100))
                .map(|_| ())
        } else {
            f.open_reader_timeout(Duration::from_millis(100))
                .map(|_| ())
        };
        let took = t.elapsed();
        assert!(matches!(r, Err(Error::Timeout)), "write={write}: {r:?}");
        assert!(
            took >= Duration::from_millis(100) && took < Duration::from_millis(400),
            "{took:?}"
        );
    }
    // The fifo is still usable afterwards.
    let mut r = f.try_open_reader().unwrap();
    let mut w = f.open_writer_timeout(LIMIT).unwrap();
    w.send(&1u8).unwrap();
    assert_eq!(r.recv::<u8>().unwrap(), Some(1));
}

fn write_things(path: String) {
    let f = Fifo::open(&path).unwrap();
    let mut w = f.open_writer_timeout(LIMIT).unwrap();
    w.send(&(42u32, "framed".to_string())).unwrap();
    w.send_bytes(&vec![7u8; 100_000]).unwrap();
}

#[test]
fn messages_from_another_process_then_end_of_stream() {
    let path = tmp("fifo-msgs");
    let f = Fifo::create(&path, 0o600).unwrap();
    let p = Process::new(write_things, path.to_string_lossy().into_owned());
    p.start().unwrap();
    let mut r = f.open_reader_timeout(LIMIT).unwrap();
    assert_eq!(
        r.recv_timeout::<(u32, String)>(LIMIT).unwrap(),
        Some((42, "framed".to_string()))
    );
    assert_eq!(r.recv_bytes().unwrap(), Some(vec![7u8; 100_000]));
    assert_eq!(
        r.recv::<u8>().unwrap(),
        None,
        "writer closed: end of stream"
    );
    assert!(p.join_timeout(LIMIT).unwrap());
    assert_eq!(p.exitcode(), Some(0));
}

fn raw_writer(path: String) {
    let f = Fifo::open(&path).unwrap();
    let mut w = f.open_writer_timeout(LIMIT).unwrap();
    w.write_all(b"raw bytes, no framing").unwrap();
}

#[test]
fn raw_read_and_write() {
    let path = tmp("fifo-raw");
    let f = Fifo::create(&path, 0o600).unwrap();
    let p = Process::new(raw_writer, path.to_string_lossy().into_owned());
    p.start().unwrap();
    let mut r = f.open_reader_timeout(LIMIT).unwrap();
    let mut s = String::new();
    r.read_to_string(&mut s).unwrap();
    assert_eq!(s, "raw bytes, no framing");
    p.join().unwrap();
}

fn write_after_reader_left(path: String) -> String {
    let f = Fifo::open(&path).unwrap();
    let mut w = f.open_writer_timeout(LIMIT).unwrap();
    std::thread::sleep(Duration::from_millis(200)); // the reader leaves meanwhile
    match w.send(&"anyone?") {
        Err(e) => e.to_string(),
        Ok(()) => "sent".into(),
    }
}

#[test]
fn a_writer_whose_reader_left_is_disconnected_not_killed() {
    let path = tmp("fifo-gone");
    let f = Fifo::create(&path, 0o600).unwrap();
    // A spawned child: it never ran Rust's `main`, so SIGPIPE is at its default there.
    let p = Process::new(write_after_reader_left, path.to_string_lossy().into_owned())
        .with_start_method(StartMethod::Spawn);
    let h = JoinHandle::<String>::start(p).unwrap();
    let r = f.open_reader_timeout(LIMIT).unwrap();
    drop(r);
    assert_eq!(h.join().unwrap(), "the other side of the fifo is gone");
}

fn open_as_nobody(path: String) -> String {
    // SAFETY: geteuid/setuid have no memory-safety preconditions.
    unsafe {
        if libc::geteuid() == 0 {
            assert_eq!(libc::setuid(65534), 0, "setuid(nobody)");
        }
    }
    let f = Fifo::open(&path).unwrap();
    match f.open_reader_timeout(Duration::from_millis(200)) {
        Err(e) => e.to_string(),
        Ok(_) => "opened".into(),
    }
}

#[test]
fn permission_denied_is_its_own_error() {
    let path = tmp("fifo-perm");
    let _f = Fifo::create(&path, 0o600).unwrap();
    // Make sure "nobody" may reach the path itself (temp dirs are world-searchable).
    let p = Process::new(open_as_nobody, path.to_string_lossy().into_owned())
        .with_start_method(StartMethod::Spawn);
    let msg = JoinHandle::<String>::start(p).unwrap().join().unwrap();
    assert_eq!(msg, format!("permission denied: {}", path.display()));
}

fn duplex_peer((a, b): (String, String)) {
    let mut d = Duplex::connect_timeout(&a, &b, LIMIT).unwrap();
    let n: u32 = d.recv_timeout(LIMIT).unwrap().unwrap();
    d.send(&(n + 1)).unwrap();
}

#[test]
fn duplex_between_two_processes() {
    let (a, b) = (tmp("fifo-a"), tmp("fifo-b"));
    let (sa, sb) = (
        a.to_string_lossy().into_owned(),
        b.to_string_lossy().into_owned(),
    );
    // The peer reads `a` and writes `b`; we the other way round.
    let p = Process::new(duplex_peer, (sa, sb));
    p.start().unwrap();
    let mut d = Duplex::connect_timeout(&b, &a, LIMIT).unwrap();
    d.send(&41u32).unwrap();
    assert_eq!(d.recv_timeout::<u32>(LIMIT).unwrap(), Some(42));
    p.join().unwrap();
    drop(d);
    assert!(
        !a.exists() && !b.exists(),
        "whoever created the fifos removed them"
    );
}

fn half_a_message(path: String) {
    let f = Fifo::open(&path).unwrap();
    let mut w = f.open_writer_timeout(LIMIT).unwrap();
    w.send(&"whole").unwrap();
    // A header announcing 100 bytes, 3 of them, then the process ends.
    w.write_all(&[100, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3]).unwrap();
}

#[test]
fn a_writer_gone_mid_message_is_disconnected_then_end_of_stream() {
    let path = tmp("fifo-half");
    let f = Fifo::create(&path, 0o600).unwrap();
    let p = Process::new(half_a_message, path.to_string_lossy().into_owned());
    p.start().unwrap();
    let mut r = f.open_reader_timeout(LIMIT).unwrap();
    assert_eq!(
        r.recv_timeout::<String>(LIMIT).unwrap(),
        Some("whole".to_string())
    );
    // The same outcome as on a pipe's Connection: the peer went away, the message is lost.
    assert!(matches!(
        r.recv_timeout::<String>(LIMIT),
        Err(Error::Disconnected)
    ));
    assert_eq!(r.recv_timeout::<String>(LIMIT).unwrap(), None);
    assert!(p.join_timeout(LIMIT).unwrap());
}
