//! Named blocks against processes that die or misbehave: a killed creator's name is removed by
//! the tracker it shares with its parent, `persist` keeps one, and a block another process
//! shrank gives errors, never a `SIGBUS`.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use multiproc_core::tracker;
use multiproc_process::{Process, StartMethod};
use multiproc_shm::{Error, RawValue, SharedMemory};
use multiproc_sync::Event;
use multiproc_testkit::{ChildGuard, child_command, eventually, role, unique_name};

const LIMIT: Duration = Duration::from_secs(20);

/// Removes a block's name when dropped (also when a test fails).
struct Name(String);

impl Name {
    fn new(tag: &str) -> Name {
        Name(unique_name(tag))
    }
    fn exists(&self) -> bool {
        Path::new("/dev/shm").join(&self.0).exists()
    }
}

impl Drop for Name {
    fn drop(&mut self) {
        let _ = SharedMemory::unlink_name(&self.0);
    }
}

/// A child that creates `kept` (persisted) and `gone`, says which tracker it uses, and waits
/// to be killed.
fn create_and_hang((kept, gone, ready, tracker_pid): (String, String, Event, RawValue<u32>)) {
    let mut k = SharedMemory::create(&kept, 4096).unwrap();
    k.persist();
    let _g = SharedMemory::create(&gone, 4096).unwrap();
    tracker_pid.set(tracker::ensure_running().unwrap_or(0));
    ready.set();
    std::thread::sleep(LIMIT * 3);
}

#[test]
fn a_killed_creator_s_block_is_removed_by_the_tracker_it_shares_with_its_parent() {
    let ours = tracker::ensure_running().expect("a tracker");
    for m in [StartMethod::Spawn, StartMethod::Forkserver] {
        let (kept, gone) = (Name::new("kept"), Name::new("gone"));
        let ready = Event::new().unwrap();
        let theirs = RawValue::new(0u32).unwrap();
        let p = Process::new(
            create_and_hang,
            (
                kept.0.clone(),
                gone.0.clone(),
                ready.clone(),
                theirs.clone(),
            ),
        )
        .with_start_method(m);
        p.start().unwrap();
        assert!(
            ready.wait_timeout(LIMIT),
            "{m:?}: the child never got ready"
        );
        assert_eq!(
            theirs.get(),
            ours,
            "{m:?}: the child has a tracker of its own"
        );
        assert!(gone.exists() && kept.exists());
        p.kill().unwrap();
        p.join().unwrap();
        assert!(
            eventually(Duration::from_secs(1), || !gone.exists()),
            "{m:?}: /dev/shm/{} outlived its killed creator by a second",
            gone.0
        );
        assert!(kept.exists(), "{m:?}: a persisted block was removed");
    }
}

#[test]
fn a_block_another_process_shrank_gives_errors_not_sigbus() {
    const TEST: &str = "a_block_another_process_shrank_gives_errors_not_sigbus";
    if role().as_deref() == Some("reader") {
        let block = SharedMemory::open(&std::env::var("IPC_TEST_SHM").unwrap()).unwrap();
        println!("opened:");
        // Wait for the parent to shrink it.
        let mut line = String::new();
        std::io::stdin().read_line(&mut line).unwrap();
        let mut buf = [0u8; 16];
        let r = block.read(4096, &mut buf);
        assert!(
            matches!(
                r,
                Err(Error::Truncated {
                    expected: 8192,
                    actual: 100,
                    ..
                })
            ),
            "{r:?}"
        );
        let r = block.write(4096, &buf);
        assert!(matches!(r, Err(Error::Truncated { .. })), "{r:?}");
        block.read(0, &mut buf).unwrap(); // before the new end: still fine
        assert_eq!(&buf[..5], b"hello");
        assert!(
            r.unwrap_err()
                .to_string()
                .contains("was shrunk to 100 bytes"),
            "the reason is in the message"
        );
        return;
    }
    let name = Name::new("shrunk");
    let block = SharedMemory::create(&name.0, 8192).unwrap();
    block.write(0, b"hello").unwrap();
    let mut cmd = child_command(TEST, "reader");
    cmd.env("IPC_TEST_SHM", &name.0)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped());
    let mut child = ChildGuard(cmd.spawn().unwrap());
    let mut out = BufReader::new(child.0.stdout.take().unwrap());
    let mut line = String::new();
    while !line.starts_with("opened:") {
        line.clear();
        assert!(
            out.read_line(&mut line).unwrap() > 0,
            "the reader ended early"
        );
    }
    // Shrink it under the reader's mapping, as any process of the same user may.
    std::fs::OpenOptions::new()
        .write(true)
        .open(Path::new("/dev/shm").join(&name.0))
        .unwrap()
        .set_len(100)
        .unwrap();
    child.0.stdin.take().unwrap().write_all(b"go\n").unwrap();
    std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
    let status = child.wait(LIMIT);
    use std::os::unix::process::ExitStatusExt;
    assert_ne!(status.signal(), Some(7), "the reader died of SIGBUS");
    assert!(status.success(), "the reader failed: {status:?}");
    // The creator's own handle is as safe.
    let r = block.read(200, &mut [0; 8]);
    assert!(
        matches!(r, Err(Error::Truncated { actual: 100, .. })),
        "{r:?}"
    );
}

#[test]
fn atomics_of_a_block_wait_for_the_promise_of_a_fixed_size() {
    let name = Name::new("promise");
    let mut block = SharedMemory::create(&name.0, 64).unwrap();
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| block.atomic_bytes().len()));
    assert!(
        r.is_err(),
        "safe atomics reached a block that another process may shrink"
    );
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _ = block.mapping().atomic_u32(0);
    }));
    assert!(r.is_err());
    // SAFETY: the name is unique to this test; nothing resizes the block.
    unsafe { block.assume_fixed_size() };
    block.atomic_bytes()[3].store(9, std::sync::atomic::Ordering::Relaxed);
    let mut buf = [0u8; 4];
    block.read(0, &mut buf).unwrap();
    assert_eq!(buf, [0, 0, 0, 9]);
}
