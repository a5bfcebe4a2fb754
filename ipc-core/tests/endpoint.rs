//! The framed endpoint: a receive that runs out of time keeps what arrived, whatever the size
//! of the message; a send that stops half-way finishes before the next message; the two
//! framings and the three kinds behave alike.

use std::io::Write;
use std::time::Duration;

use multiproc_core::stream::{self, Endpoint, Framing, StreamKind};
use multiproc_core::{Deadline, Error, fd, transfer};

const LIMIT: Duration = Duration::from_secs(20);

fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 + i / 251) as u8).collect()
}

/// A header and part of a 300 KiB payload, a timeout, then the rest: the message arrives
/// whole. (Before, a timeout inside a message larger than 64 KiB gave up the stream.)
#[test]
fn a_timeout_inside_a_large_message_keeps_the_stream() {
    for (framing, kind) in [
        (Framing::Native, StreamKind::Socket),
        (Framing::Python, StreamKind::Socket),
        (Framing::Native, StreamKind::Pipe),
    ] {
        let (r, w) = match kind {
            StreamKind::Pipe => fd::pipe().unwrap(),
            _ => fd::socketpair().unwrap(),
        };
        let mut rx = Endpoint::new(r, kind, framing);
        let msg = pattern(300 * 1024);
        // The whole message as a sender frames it, written in two parts.
        let mut bytes = match framing {
            Framing::Python => (msg.len() as i32).to_be_bytes().to_vec(),
            _ => stream::header(msg.len(), 0).unwrap().to_vec(),
        };
        bytes.extend_from_slice(&msg);
        let mut out = std::fs::File::from(w);
        let writer = std::thread::spawn(move || {
            out.write_all(&bytes[..100_000]).unwrap();
            std::thread::sleep(Duration::from_millis(300));
            out.write_all(&bytes[100_000..]).unwrap();
            out
        });
        assert!(
            matches!(
                rx.recv_bytes_until(Deadline::after(Duration::from_millis(100))),
                Err(Error::Timeout)
            ),
            "{framing:?} {kind:?}"
        );
        let got = rx.recv_bytes_until(Deadline::after(LIMIT)).unwrap();
        assert!(
            got == msg,
            "{framing:?} {kind:?}: the message came back different"
        );
        drop(writer.join().unwrap());
        assert!(matches!(
            rx.recv_bytes_until(Deadline::after(LIMIT)),
            Err(Error::Disconnected { mid_message: false })
        ));
    }
}

/// `try_recv` never waits, and a message that had begun to arrive stays for the next call.
#[test]
fn try_recv_takes_what_is_there() {
    let (mut a, mut b) = Endpoint::pair(Framing::Native).unwrap();
    assert!(matches!(b.try_recv::<u32>(), Err(Error::Timeout)));
    assert!(!b.poll().unwrap());
    a.send(&7u32).unwrap();
    assert!(b.poll_timeout(LIMIT).unwrap());
    assert_eq!(b.try_recv::<u32>().unwrap(), 7);
    // Half a header.
    transfer::send_fds(&a, &[1, 0, 0], &[]).unwrap();
    assert!(matches!(b.try_recv::<u8>(), Err(Error::Timeout)));
    transfer::send_fds(&a, &[0, 0, 0, 0, 0, 9], &[]).unwrap();
    assert_eq!(b.try_recv::<u8>().unwrap(), 9);
}

/// A send that stops half-way (the stream is full and the sender gives up, as a dropped async
/// send does) finishes before the next message: the peer sees every message whole.
#[test]
fn a_send_stopped_half_way_finishes_first() {
    let (mut a, mut b) = Endpoint::pair(Framing::Native).unwrap();
    let big = pattern(4 << 20);
    let mut msg = a.prepare_bytes(&big).unwrap();
    // The socket buffer takes part of it: the rest belongs to the endpoint now.
    assert!(!a.send_nowait(&mut msg).unwrap());
    assert!(a.has_unsent());
    drop(msg);
    let reader = std::thread::spawn(move || {
        let first = b.recv_bytes_until(Deadline::after(LIMIT)).unwrap();
        let second: String = b.recv_timeout(LIMIT).unwrap();
        (first, second)
    });
    a.send(&"after").unwrap();
    assert!(!a.has_unsent());
    let (first, second) = reader.join().unwrap();
    assert!(first == big, "the stopped message arrived whole");
    assert_eq!(second, "after");
}

/// A message prepared and never begun is never sent.
#[test]
fn a_send_that_never_began_sends_nothing() {
    let (mut a, mut b) = Endpoint::pair(Framing::Native).unwrap();
    let filler = pattern(8 << 20);
    let mut first = a.prepare_bytes(&filler).unwrap();
    assert!(!a.send_nowait(&mut first).unwrap());
    // The stream is full: the second message cannot begin, and is dropped unsent.
    let mut second = a.prepare(&"dropped").unwrap();
    assert!(!a.send_nowait(&mut second).unwrap());
    drop(second);
    let reader = std::thread::spawn(move || {
        let got = b.recv_bytes_until(Deadline::after(LIMIT)).unwrap();
        let next: String = b.recv_timeout(LIMIT).unwrap();
        (got.len(), next)
    });
    a.flush().unwrap();
    a.send(&"kept").unwrap();
    assert_eq!(reader.join().unwrap(), (8 << 20, "kept".to_string()));
}

/// Both framings refuse a message above the limit on both sides, with the same error.
#[test]
fn one_limit_both_ways_in_both_framings() {
    for framing in [Framing::Native, Framing::Python] {
        let (mut a, mut b) = Endpoint::pair(framing).unwrap();
        a.set_max_message(16);
        assert!(matches!(
            a.send_bytes(&[0; 17]),
            Err(Error::TooLarge { len: 17, max: 16 })
        ));
        a.set_max_message(1 << 20);
        a.send_bytes(&[0; 100]).unwrap();
        b.set_max_message(10);
        assert!(matches!(
            b.recv_bytes_until(Deadline::after(LIMIT)),
            Err(Error::TooLarge { len: 100, max: 10 })
        ));
        b.set_max_message(100);
        assert_eq!(
            b.recv_bytes_until(Deadline::after(LIMIT)).unwrap().len(),
            100
        );
    }
}
