//! `Connection` across real processes (children from `multiproc-process`).

use std::os::fd::{AsFd, AsRawFd};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use multiproc_core::SharedMapping;
use multiproc_pipe::{Connection, Error, pipe, pipe_one_way, wait_timeout};
use multiproc_process::{JoinHandle, Process, StartMethod, get_context, spawn};

const LIMIT: Duration = Duration::from_secs(30);

/// A pattern whose period (1 MiB + 7) is not a power of two, so a reordered or repeated chunk
/// shows; built with memcpy so even 1 GiB is quick in a debug build.
fn pattern(len: usize) -> Vec<u8> {
    let unit: Vec<u8> = (0..(1 << 20) + 7).map(|i: usize| (i % 251) as u8).collect();
    let mut v = Vec::with_capacity(len);
    while v.len() < len {
        let n = (len - v.len()).min(unit.len());
        v.extend_from_slice(&unit[..n]);
    }
    v
}

fn echo(mut conn: Connection) -> usize {
    let mut n = 0;
    loop {
        match conn.recv_bytes_timeout(LIMIT) {
            Ok(m) => {
                conn.send_bytes(&m).unwrap();
                n += 1;
            }
            Err(Error::Disconnected) => return n,
            Err(e) => panic!("echo: {e}"),
        }
    }
}

#[test]
fn every_size_goes_through_intact() {
    let (mut a, b) = pipe().unwrap();
    let h = spawn(echo, b).unwrap();
    let sizes = [
        0,
        1,
        7,
        8,
        65_527,
        65_528,
        65_529,
        65_536,
        1 << 20,
        64 << 20,
    ];
    for &n in &sizes {
        let m = pattern(n);
        a.send_bytes(&m).unwrap();
        let back = a.recv_bytes_timeout(LIMIT).unwrap();
        assert!(back == m, "{n} bytes came back different");
    }
    drop(a);
    assert_eq!(h.join().unwrap(), sizes.len());
}

fn check_gib(mut conn: Connection) -> bool {
    let got = conn.recv_bytes_timeout(LIMIT).unwrap();
    got == pattern(1 << 30)
}

#[test]
fn one_gibibyte_message() {
    let (a, mut b) = pipe_one_way().unwrap();
    let h = spawn(check_gib, a).unwrap();
    b.send_bytes(&pattern(1 << 30)).unwrap();
    assert!(h.join().unwrap(), "the 1 GiB message arrived intact");
}

fn values_and_handles(mut conn: Connection) {
    let (v, map): ((i32, Option<u8>, String), SharedMapping) = conn.recv_timeout(LIMIT).unwrap();
    assert_eq!(v, (42, None, "hello".to_string()));
    map.atomic_u32(0).store(7, Ordering::Release);
    // A connection end received over this connection, used at once.
    let mut inner: Connection = conn.recv_timeout(LIMIT).unwrap();
    inner.send(&"through the passed end").unwrap();
}

#[test]
fn values_handles_and_connections_travel_on_a_duplex_pipe() {
    for m in [StartMethod::Spawn, StartMethod::Forkserver] {
        let (mut a, b) = pipe().unwrap();
        let h = get_context(m).spawn(values_and_handles, b).unwrap();
        let map = SharedMapping::memfd("pipe-test", 4096).unwrap();
        a.send(&((42, None::<u8>, "hello"), &map)).unwrap();
        let (mut near, far) = pipe_one_way().unwrap();
        a.send(&far).unwrap();
        drop(far);
        assert_eq!(
            near.recv_timeout::<String>(LIMIT).unwrap(),
            "through the passed end"
        );
        h.join().unwrap();
        assert_eq!(map.atomic_u32(0).load(Ordering::Acquire), 7, "{m:?}");
    }
}

#[test]
fn one_way_ends_know_their_direction() {
    let (mut r, mut w) = pipe_one_way().unwrap();
    assert!(r.readable() && !r.writable() && w.writable() && !w.readable());
    assert!(matches!(r.send(&1u8), Err(Error::NotWritable)));
    assert!(matches!(w.recv::<u8>(), Err(Error::NotReadable)));
    let map = SharedMapping::memfd("no-fds", 64).unwrap();
    assert!(matches!(w.send(&map), Err(Error::CannotSendFds)));
    // The refused send wrote nothing: the next message is intact.
    w.send(&5u16).unwrap();
    assert_eq!(r.recv::<u16>().unwrap(), 5);
}

fn exit_now(_: ()) {}

fn write_to_a_closed_pipe(mut w: Connection) -> String {
    // Give the parent time to drop its read end; this child has SIGPIPE at its default (a
    // spawned child never ran Rust's `main`, which would ignore it).
    std::thread::sleep(Duration::from_millis(100));
    match w.send_bytes(b"anyone?") {
        Err(e) => e.to_string(),
        Ok(()) => "sent".into(),
    }
}

#[test]
fn a_gone_peer_is_disconnected_never_sigpipe() {
    // recv after the peer exited.
    let (mut a, b) = pipe().unwrap();
    let p = Process::new(exit_now, ());
    p.start().unwrap();
    drop(b); // our copy; the child got none (no args) — the peer is simply gone
    p.join().unwrap();
    assert!(matches!(
        a.recv_timeout::<u8>(LIMIT),
        Err(Error::Disconnected)
    ));
    assert!(matches!(a.send(&1u8), Err(Error::Disconnected)));
    // One-way: a writer whose reader is gone, in a process where SIGPIPE would kill.
    let (r, w) = pipe_one_way().unwrap();
    let p = Process::new(write_to_a_closed_pipe, w).with_start_method(StartMethod::Spawn);
    let h = JoinHandle::<String>::start(p).unwrap();
    drop(r);
    assert_eq!(
        h.join().unwrap(),
        "the other end of the connection is closed"
    );
}

fn die_mid_message(conn: Connection) {
    // A header announcing 100 bytes, then 10 of them, then death.
    let mut msg = vec![100, 0, 0, 0, 0, 0, 0, 0];
    msg.extend_from_slice(&[1; 10]);
    // SAFETY: a plain write of a local buffer to a descriptor this function owns.
    unsafe { libc::write(conn.as_fd().as_raw_fd(), msg.as_ptr().cast(), msg.len()) };
    std::process::exit(0);
}

#[test]
fn a_message_cut_by_death_is_never_delivered() {
    let (mut a, b) = pipe().unwrap();
    a.send(&0u8).unwrap();
    let p = Process::new(die_mid_message, b);
    p.start().unwrap();
    assert!(matches!(
        a.recv_bytes_timeout(LIMIT),
        Err(Error::Disconnected)
    ));
    p.join().unwrap();
}

#[test]
fn oversized_messages_are_refused_on_both_sides() {
    let (mut a, mut b) = pipe().unwrap();
    a.set_max_message(16);
    assert!(matches!(
        a.send_bytes(&[0; 17]),
        Err(Error::TooLarge { len: 17, max: 16 })
    ));
    a.send_bytes(&[0; 16]).unwrap();
    assert_eq!(b.recv_bytes().unwrap().len(), 16);
    b.set_max_message(8);
    let mut big = pipe().unwrap();
    big.0.send_bytes(&[1; 100]).unwrap();
    big.1.set_max_message(8);
    assert!(matches!(
        big.1.recv_bytes(),
        Err(Error::TooLarge { len: 100, max: 8 })
    ));
    // recv_bytes_max: too long is an error, refused from the header; the connection goes on
    // and the message waits for a receive with a larger limit.
    a.send_bytes(b"0123456789").unwrap();
    a.send_bytes(b"ok").unwrap();
    b.set_max_message(1 << 20);
    assert!(matches!(
        b.recv_bytes_max(4),
        Err(Error::TooLarge { len: 10, max: 4 })
    ));
    assert_eq!(
        b.max_message(),
        1 << 20,
        "the connection's own limit is back"
    );
    assert_eq!(b.recv_bytes_max(10).unwrap(), b"0123456789");
    assert_eq!(b.recv_bytes().unwrap(), b"ok");
}

#[test]
fn recv_bytes_into_fits_or_hands_the_message_back() {
    let (mut a, mut b) = pipe_one_way().unwrap();
    b.send_bytes(b"hello").unwrap();
    b.send_bytes(b"a longer message").unwrap();
    b.send_bytes_range(b"xxworldxx", 2, Some(5)).unwrap();
    let mut buf = [0u8; 10];
    assert_eq!(a.recv_bytes_into(&mut buf, 2).unwrap(), 5);
    assert_eq!(&buf[2..7], b"hello");
    match a.recv_bytes_into(&mut buf, 0) {
        Err(Error::BufferTooShort(m)) => assert_eq!(m, b"a longer message"),
        other => panic!("{other:?}"),
    }
    assert_eq!(a.recv_bytes_into(&mut buf, 0).unwrap(), 5);
    assert_eq!(&buf[..5], b"world");
}

fn reply_after(mut conn: Connection) {
    let ms: u64 = conn.recv_timeout(LIMIT).unwrap();
    std::thread::sleep(Duration::from_millis(ms));
    conn.send(&"late").unwrap();
}

#[test]
fn poll_recv_timeout_and_wait() {
    let (mut a, b) = pipe().unwrap();
    let (c, d) = pipe().unwrap();
    let p = Process::new(reply_after, b);
    p.start().unwrap();
    a.send(&150u64).unwrap();
    assert!(!a.poll().unwrap());
    let t = Instant::now();
    assert!(matches!(
        a.recv_timeout::<String>(Duration::from_millis(50)),
        Err(Error::Timeout)
    ));
    let took = t.elapsed();
    assert!(
        took >= Duration::from_millis(50) && took < Duration::from_millis(120),
        "{took:?}"
    );
    // wait: the connection with the late reply and the child's sentinel; `c` stays silent.
    let sentinel = p.sentinel().unwrap();
    let ready = wait_timeout(&[&c, &a], LIMIT).unwrap();
    assert_eq!(ready, vec![1]);
    assert_eq!(a.recv::<String>().unwrap(), "late");
    p.join().unwrap();
    let ready = wait_timeout(&[&c, &sentinel], LIMIT).unwrap();
    assert_eq!(ready, vec![1]);
    assert!(
        wait_timeout(&[&c], Duration::from_millis(10))
            .unwrap()
            .is_empty()
    );
    drop(d);
    assert_eq!(
        wait_timeout(&[&c], LIMIT).unwrap(),
        vec![0],
        "a closed peer counts as ready"
    );
}

fn write_indices(mut conn: Connection) -> usize {
    use std::io::Write;
    let ends: Vec<multiproc_core::transfer::PortableFd> = conn.recv_timeout(LIMIT).unwrap();
    let n = ends.len();
    for (i, e) in ends.into_iter().enumerate() {
        std::fs::File::from(e.into_inner())
            .write_all(&(i as u32).to_le_bytes())
            .unwrap();
    }
    n
}

#[test]
fn a_value_of_600_descriptors_travels_in_one_message() {
    use std::io::Read;
    let (mut a, b) = pipe().unwrap();
    let h = spawn(write_indices, b).unwrap();
    let (mut readers, writers): (Vec<std::fs::File>, Vec<_>) = (0..600)
        .map(|_| {
            let (r, w) = multiproc_core::fd::pipe().unwrap();
            (
                std::fs::File::from(r),
                multiproc_core::transfer::PortableFd::new(w),
            )
        })
        .unzip();
    a.send(&writers).unwrap();
    drop(writers);
    for (i, r) in readers.iter_mut().enumerate() {
        let ready =
            multiproc_core::fd::wait_readable(&[r.as_fd()], multiproc_core::Deadline::after(LIMIT))
                .unwrap();
        assert_eq!(ready, vec![0], "pipe {i} got nothing");
        let mut b = [0u8; 4];
        r.read_exact(&mut b).unwrap();
        assert_eq!(u32::from_le_bytes(b), i as u32);
    }
    assert_eq!(h.join().unwrap(), 600);
}
