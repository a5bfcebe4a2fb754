//! Async fifos (feature `tokio`) against real processes, on a current-thread and a
//! multi-thread runtime: opens from either side first, their timeouts, messages and raw bytes,
//! a receive dropped in the middle of a message, and a runtime shut down with opens and
//! receives pending.
#![cfg(feature = "tokio")]

use std::io::{Read, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use multiproc_fifo::{AsyncFifoReader, Error, Fifo};
use multiproc_process::spawn;
use multiproc_testkit::unique_name;
use tokio::io::AsyncWriteExt;
use tokio::runtime::{Builder, Runtime};
use tokio::time::timeout;

const LIMIT: Duration = Duration::from_secs(30);

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

fn tmp(tag: &str) -> PathBuf {
    std::env::temp_dir().join(unique_name(tag))
}

/// Opens the write end after a pause (so that the async reader opened first), sends three
/// messages, then closes.
fn late_writer(path: String) {
    std::thread::sleep(Duration::from_millis(100));
    let mut w = Fifo::open(&path)
        .unwrap()
        .open_writer_timeout(LIMIT)
        .unwrap();
    for i in 0..3u32 {
        w.send(&(i, "framed".to_string())).unwrap();
    }
}

/// Opens the read end first, then reads raw bytes until end of stream.
fn early_reader(path: String) -> Vec<u8> {
    let mut r = Fifo::open(&path)
        .unwrap()
        .open_reader_timeout(LIMIT)
        .unwrap();
    let mut all = Vec::new();
    r.read_to_end(&mut all).unwrap();
    all
}

#[test]
fn open_from_either_side_first_then_talk() {
    for (name, rt) in runtimes() {
        let path = tmp("afifo-either");
        let f = Fifo::create(&path, 0o600).unwrap();
        let h = spawn(late_writer, path.to_string_lossy().into_owned()).unwrap();
        rt.block_on(async {
            let mut r = timeout(LIMIT, f.open_reader_async())
                .await
                .unwrap()
                .unwrap();
            for i in 0..3u32 {
                let got: Option<(u32, String)> = r.recv().await.unwrap();
                assert_eq!(got, Some((i, "framed".to_string())), "{name}");
            }
            assert_eq!(r.recv::<u8>().await.unwrap(), None, "{name}: end of stream");
        });
        h.join().unwrap();

        let h = spawn(early_reader, path.to_string_lossy().into_owned()).unwrap();
        rt.block_on(async {
            let mut w = timeout(LIMIT, f.open_writer_async())
                .await
                .unwrap()
                .unwrap();
            w.write_all(b"raw bytes, ").await.unwrap();
            w.write_all(&[b'x'; 200_000]).await.unwrap();
        });
        let got = h.join().unwrap();
        assert_eq!(&got[..11], b"raw bytes, ", "{name}");
        assert_eq!(got.len(), 200_011, "{name}");
    }
}

#[test]
fn a_peer_that_never_comes_is_a_timeout_and_the_fifo_stays_usable() {
    for (name, rt) in runtimes() {
        let path = tmp("afifo-timeout");
        let f = Fifo::create(&path, 0o600).unwrap();
        rt.block_on(async {
            let t = Instant::now();
            let r = f
                .open_reader_timeout_async(Duration::from_millis(100))
                .await;
            assert!(matches!(r, Err(Error::Timeout)), "{name}: {r:?}");
            let w = f
                .open_writer_timeout_async(Duration::from_millis(100))
                .await;
            assert!(matches!(w, Err(Error::Timeout)), "{name}: {w:?}");
            assert!(t.elapsed() >= Duration::from_millis(200), "{name}");
            assert!(t.elapsed() < Duration::from_secs(10), "{name}");
            // An open dropped by a plain tokio timeout, too.
            assert!(
                timeout(Duration::from_millis(50), f.open_reader_async())
                    .await
                    .is_err()
            );
        });
        // Nothing of the given-up opens lingers: a real pair meets as usual, and the reader
        // sees only the real writer's bytes.
        let mut r = f.try_open_reader().unwrap();
        let mut w = f.open_writer_timeout(LIMIT).unwrap();
        w.write_all(b"ok").unwrap();
        drop(w);
        let mut got = Vec::new();
        r.read_to_end(&mut got).unwrap();
        assert_eq!(got, b"ok", "{name}");
    }
}

/// Writes half of a framed 300 kB message, waits for a byte on the go fifo, writes the rest.
fn half_then_rest((data, go): (String, String)) {
    let mut w = Fifo::open(&data)
        .unwrap()
        .open_writer_timeout(LIMIT)
        .unwrap();
    let msg = vec![7u8; 300_000];
    let mut bytes = multiproc_core::stream::header(msg.len(), 0)
        .unwrap()
        .to_vec();
    bytes.extend_from_slice(&msg);
    w.write_all(&bytes[..150_000]).unwrap();
    let mut g = Fifo::open(&go).unwrap().open_reader_timeout(LIMIT).unwrap();
    let mut b = [0u8; 1];
    g.read_exact(&mut b).unwrap();
    w.write_all(&bytes[150_000..]).unwrap();
    w.send(&"next").unwrap();
}

#[test]
fn a_receive_dropped_mid_message_loses_nothing() {
    for (name, rt) in runtimes() {
        let (data, go) = (tmp("afifo-data"), tmp("afifo-go"));
        let fd = Fifo::create(&data, 0o600).unwrap();
        let fg = Fifo::create(&go, 0o600).unwrap();
        let args = (
            data.to_string_lossy().into_owned(),
            go.to_string_lossy().into_owned(),
        );
        let h = spawn(half_then_rest, args).unwrap();
        rt.block_on(async {
            let mut r = timeout(LIMIT, fd.open_reader_async())
                .await
                .unwrap()
                .unwrap();
            for _ in 0..3 {
                let got = timeout(Duration::from_millis(100), r.recv_bytes()).await;
                assert!(got.is_err(), "{name}: half a message cannot be received");
            }
            let mut g = timeout(LIMIT, fg.open_writer_async())
                .await
                .unwrap()
                .unwrap();
            g.write_all(b"!").await.unwrap();
            let whole = timeout(LIMIT, r.recv_bytes()).await.unwrap().unwrap();
            assert_eq!(whole, Some(vec![7u8; 300_000]), "{name}");
            assert_eq!(r.recv::<String>().await.unwrap(), Some("next".into()));
        });
        h.join().unwrap();
    }
}

#[test]
fn a_runtime_shut_down_with_opens_and_receives_pending() {
    for (name, rt) in runtimes() {
        let (a, b) = (tmp("afifo-shut-a"), tmp("afifo-shut-b"));
        let fa = Fifo::create(&a, 0o600).unwrap();
        let fb = Fifo::create(&b, 0o600).unwrap();
        // `b` has both ends open: its async reader waits for data that does not come.
        let rb = fb.try_open_reader().unwrap();
        let mut w = fb.open_writer_timeout(LIMIT).unwrap();
        let pa = a.clone();
        rt.block_on(async {
            // `a` has no writer: its open waits.
            tokio::spawn(
                async move { Fifo::open(&pa).unwrap().open_reader_async().await.map(drop) },
            );
            let mut rb = AsyncFifoReader::new(rb).unwrap();
            tokio::spawn(async move { rb.recv_bytes().await.map(drop) });
            tokio::time::sleep(Duration::from_millis(50)).await;
        });
        let t = Instant::now();
        rt.shutdown_timeout(LIMIT);
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "{name}: shutdown waited for the pending futures"
        );
        // The fifos are as before: a new pair meets on `a`.
        let mut r = fa.try_open_reader().unwrap();
        let mut wa = fa.open_writer_timeout(LIMIT).unwrap();
        wa.send(&"after").unwrap();
        assert_eq!(
            r.recv_timeout::<String>(LIMIT).unwrap(),
            Some("after".into())
        );
        let _ = w.write_all(b"x");
        drop(b);
    }
}
