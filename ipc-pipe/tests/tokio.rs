//! Async connections (feature `tokio`) against real processes, on a current-thread and a
//! multi-thread runtime: round trips, futures dropped in the middle of a message, timeouts,
//! `wait_async`, listener and client, and a runtime shut down with waiters pending.
#![cfg(feature = "tokio")]

use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use multiproc_core::transfer;
use multiproc_pipe::{
    Address, AsyncListener, Client, Connection, Error, Framing, Listener, pipe, pipe_one_way,
    wait_async,
};
use multiproc_process::spawn;
use multiproc_testkit::unique_name;
use tokio::runtime::{Builder, Runtime};
use tokio::time::timeout;

const LIMIT: Duration = Duration::from_secs(30);
const KEY: &[u8] = b"async key";

fn runtimes() -> [(&'static str, Runtime); 2] {
    [
        (
            "current-thread",
            Builder::new_current_thread().enable_all().build().unwrap(),
        ),
        (
            "multi-thread",
            Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap(),
        ),
    ]
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

/// A synchronous child that echoes values on a duplex connection until its peer closes.
fn echo(mut conn: Connection) -> u64 {
    let mut n = 0;
    while let Ok(v) = conn.recv_timeout::<(u64, Vec<u8>)>(LIMIT) {
        conn.send(&v).unwrap();
        n += 1;
    }
    n
}

/// A synchronous child that echoes bytes from one one-way pipe to another.
fn echo_one_way((mut r, mut w): (Connection, Connection)) -> u64 {
    let mut n = 0;
    while let Ok(m) = r.recv_bytes_timeout(LIMIT) {
        w.send_bytes(&m).unwrap();
        n += 1;
    }
    n
}

#[test]
fn round_trips_with_a_child_on_both_runtimes() {
    for (name, rt) in runtimes() {
        let (ours, theirs) = pipe().unwrap();
        let h = spawn(echo, theirs).unwrap();
        // `pipe_one_way` gives (reader, writer).
        let (child_r, to_child) = pipe_one_way().unwrap();
        let (from_child, child_w) = pipe_one_way().unwrap();
        let h2 = spawn(echo_one_way, (child_r, child_w)).unwrap();
        rt.block_on(async {
            let mut c = ours.into_async().unwrap();
            let mut w = to_child.into_async().unwrap();
            let mut r = from_child.into_async().unwrap();
            for i in 0..200u64 {
                let big = pattern((i as usize % 7) * 40_000);
                c.send(&(i, big.clone())).await.unwrap();
                let got: (u64, Vec<u8>) = c.recv().await.unwrap();
                assert!(
                    got.0 == i && got.1 == big,
                    "{name}: round trip {i} came back different"
                );
                w.send_bytes(&big).await.unwrap();
                assert!(r.recv_bytes().await.unwrap() == big, "{name}: one-way {i}");
            }
            // Direction is kept: a write end does not receive.
            assert!(matches!(w.recv_bytes().await, Err(Error::NotReadable)));
        });
        assert_eq!(h.join().unwrap(), 200, "{name}");
        assert_eq!(h2.join().unwrap(), 200, "{name}");
    }
}

/// Writes half of a 3 MB message raw, waits for a go, then the rest and one more message.
fn half_then_rest((conn, mut go): (Connection, Connection)) -> bool {
    let mut conn = conn;
    let msg = pattern(3_000_000);
    let mut bytes = multiproc_core::stream::header(msg.len(), 0)
        .unwrap()
        .to_vec();
    bytes.extend_from_slice(&msg);
    let half = bytes.len() / 2;
    let mut sent = 0;
    while sent < half {
        sent += transfer::send_fds(conn.as_fd(), &bytes[sent..half], &[]).unwrap();
    }
    let _: u8 = go.recv_timeout(LIMIT).unwrap();
    while sent < bytes.len() {
        sent += transfer::send_fds(conn.as_fd(), &bytes[sent..], &[]).unwrap();
    }
    conn.send_bytes(b"next").unwrap();
    true
}

#[test]
fn a_receive_dropped_mid_message_loses_nothing() {
    for (name, rt) in runtimes() {
        let (ours, theirs) = pipe().unwrap();
        let (go_r, mut go_w) = pipe_one_way().unwrap();
        let h = spawn(half_then_rest, (theirs, go_r)).unwrap();
        rt.block_on(async {
            let mut c = ours.into_async().unwrap();
            // Half of the message arrives; the receive is given up, several times.
            for _ in 0..3 {
                let r = timeout(Duration::from_millis(200), c.recv_bytes()).await;
                assert!(r.is_err(), "{name}: nothing whole can have arrived");
            }
            go_w.send(&1u8).unwrap();
            let whole = timeout(LIMIT, c.recv_bytes()).await.unwrap().unwrap();
            assert!(
                whole == pattern(3_000_000),
                "{name}: the message came whole"
            );
            assert_eq!(c.recv_bytes().await.unwrap(), b"next");
        });
        assert!(h.join().unwrap(), "{name}");
    }
}

/// Waits for a go, then receives a large message and a small one; reports both.
fn slow_reader((mut conn, mut go): (Connection, Connection)) -> (usize, bool, String) {
    let _: u8 = go.recv_timeout(LIMIT).unwrap();
    let big = conn.recv_bytes_timeout(LIMIT).unwrap();
    let after: String = conn.recv_timeout(LIMIT).unwrap();
    (big.len(), big == pattern(big.len()), after)
}

#[test]
fn a_send_dropped_mid_message_finishes_before_the_next() {
    for (name, rt) in runtimes() {
        let (ours, theirs) = pipe().unwrap();
        let (go_r, mut go_w) = pipe_one_way().unwrap();
        let h = spawn(slow_reader, (theirs, go_r)).unwrap();
        rt.block_on(async {
            let mut c = ours.into_async().unwrap();
            let big = pattern(16 << 20);
            // The child does not read yet: the socket fills, the send is given up half-way.
            let r = timeout(Duration::from_millis(200), c.send_bytes(&big)).await;
            assert!(r.is_err(), "{name}: 16 MiB cannot fit in the socket");
            go_w.send(&1u8).unwrap();
            // The rest of the big message goes first, then this one.
            timeout(LIMIT, c.send(&"after")).await.unwrap().unwrap();
        });
        assert_eq!(
            h.join().unwrap(),
            (16 << 20, true, "after".to_string()),
            "{name}"
        );
    }
}

/// Sends on the second connection after a pause.
fn late_sender((_a, mut b): (Connection, Connection)) {
    std::thread::sleep(Duration::from_millis(100));
    b.send(&"late").unwrap();
    let _ = b.recv_timeout::<u8>(LIMIT);
}

#[test]
fn wait_async_and_timeouts() {
    for (name, rt) in runtimes() {
        let (a, a_theirs) = pipe().unwrap();
        let (b, b_theirs) = pipe().unwrap();
        let h = spawn(late_sender, (a_theirs, b_theirs)).unwrap();
        rt.block_on(async {
            let (a, mut b) = (a.into_async().unwrap(), b.into_async().unwrap());
            let t = Instant::now();
            assert_eq!(wait_async(&[&a, &b]).await.unwrap(), vec![1], "{name}");
            assert!(t.elapsed() >= Duration::from_millis(50), "{name}");
            // Ready, and stays ready until received.
            assert_eq!(wait_async(&[&a, &b]).await.unwrap(), vec![1], "{name}");
            assert_eq!(b.recv::<String>().await.unwrap(), "late");
            assert!(timeout(Duration::from_millis(50), b.ready()).await.is_err());
            b.send(&0u8).await.unwrap();
            drop(a);
        });
        h.join().unwrap();
    }
}

/// A synchronous client with the key, and one with a wrong key.
fn sync_clients(address: Address) -> u64 {
    let wrong = Client::connect_timeout(&address, Framing::Native, Some(b"wrong"), LIMIT);
    assert!(matches!(wrong, Err(Error::AuthenticationError(_))));
    let mut c = Client::connect_timeout(&address, Framing::Native, Some(KEY), LIMIT).unwrap();
    c.send(&41u64).unwrap();
    c.recv_timeout::<u64>(LIMIT).unwrap()
}

/// An async client on its own runtime.
fn async_client(address: Address) -> String {
    let rt = Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let mut c = Client::connect_async(&address, Framing::Python, Some(KEY))
            .await
            .unwrap();
        c.send_bytes(b"hello").await.unwrap();
        String::from_utf8(c.recv_bytes().await.unwrap()).unwrap()
    })
}

#[test]
fn listener_and_client_across_processes() {
    for (name, rt) in runtimes() {
        let address = Address::Abstract(unique_name("async-listener").into_bytes());
        let l = Listener::bind(address.clone(), Framing::Native, Some(KEY)).unwrap();
        let h = spawn(sync_clients, address).unwrap();
        let got = rt.block_on(async {
            let mut l = AsyncListener::new(l);
            let r = timeout(LIMIT, l.accept()).await.unwrap();
            assert!(matches!(r, Err(Error::AuthenticationError(_))), "{name}");
            let mut c = timeout(LIMIT, l.accept()).await.unwrap().unwrap();
            let n: u64 = c.recv().await.unwrap();
            c.send(&(n + 1)).await.unwrap();
            n
        });
        assert_eq!((got, h.join().unwrap()), (41, 42), "{name}");

        let address = Address::Tcp("127.0.0.1:0".parse().unwrap());
        let l = Listener::bind(address, Framing::Python, Some(KEY)).unwrap();
        let h = spawn(async_client, l.address().clone()).unwrap();
        rt.block_on(async {
            let mut l = AsyncListener::new(l);
            let mut c = timeout(LIMIT, l.accept()).await.unwrap().unwrap();
            let m = c.recv_bytes().await.unwrap();
            c.send_bytes(&m.to_ascii_uppercase()).await.unwrap();
        });
        assert_eq!(h.join().unwrap(), "HELLO", "{name}");
    }
}

/// Reports whether its end saw the peer go away.
fn sees_peer_go(mut conn: Connection) -> bool {
    matches!(conn.recv_timeout::<u8>(LIMIT), Err(Error::Disconnected))
}

#[test]
fn a_runtime_shut_down_with_waiters_pending() {
    for (name, rt) in runtimes() {
        let (ours, theirs) = pipe().unwrap();
        let h = spawn(sees_peer_go, theirs).unwrap();
        let l = Listener::bind(
            Address::Abstract(unique_name("async-shutdown").into_bytes()),
            Framing::Native,
            Some(KEY),
        )
        .unwrap();
        let (r, _w) = pipe().unwrap();
        rt.block_on(async {
            let mut c = ours.into_async().unwrap();
            let mut l = AsyncListener::new(l);
            let mut r = r.into_async().unwrap();
            tokio::spawn(async move { c.recv::<u8>().await });
            tokio::spawn(async move { l.accept().await.map(drop) });
            tokio::spawn(async move { r.recv_bytes().await });
            tokio::task::yield_now().await;
        });
        let t = Instant::now();
        rt.shutdown_timeout(LIMIT);
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "{name}: shutdown waited for the pending futures"
        );
        assert!(h.join().unwrap(), "{name}: the dropped connection closed");
    }
}
