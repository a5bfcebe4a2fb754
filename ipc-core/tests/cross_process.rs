//! `multiproc-core` across real process boundaries: spawned (fresh `exec`) children and forked ones.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use multiproc_core::futex::{self, WaitResult};
use multiproc_core::stream::{self, Endpoint, Framing, StreamKind};
use multiproc_core::transfer::{self, Channel, PortableFd, inherited_channel, spawn_with_channel};
use multiproc_core::{CorruptReason, Deadline, Error, SharedMapping, codec, fd};
use multiproc_testkit::{child_command, role, unique_name, wait_timeout};

const LIMIT: Duration = Duration::from_secs(20);

fn child_channel() -> Channel {
    // SAFETY: this test process was started by `spawn_with_channel`; nothing else claims the fd.
    unsafe { inherited_channel() }
        .expect("inherited channel")
        .expect("started with a channel")
}

// ------------------------------------------------------------------------------------------------
// A memfd mapping and a pipe end sent to a process that did not fork from the sender.
// ------------------------------------------------------------------------------------------------

#[test]
fn memfd_and_pipe_end_reach_a_spawned_process() {
    if role().as_deref() == Some("handoff") {
        let mut ch = child_channel();
        let (map, w, text): (SharedMapping, PortableFd, String) =
            ch.recv_timeout(LIMIT).expect("recv");
        assert_eq!(text, "fill the page");
        // The parent wrote 1..=255 repeating into the first 4096 bytes; check it, then answer.
        let bytes = map.atomic_bytes(0, 4096);
        for (i, b) in bytes.iter().enumerate() {
            assert_eq!(b.load(Ordering::Relaxed), (i % 255) as u8 + 1, "byte {i}");
        }
        map.atomic_u64(4096)
            .store(u64::from(std::process::id()), Ordering::Release);
        let mut pipe = File::from(w.into_inner());
        pipe.write_all(b"written by the spawned child")
            .expect("write pipe");
        return;
    }

    let map = SharedMapping::memfd("handoff", 8192).unwrap();
    for (i, b) in map.atomic_bytes(0, 4096).iter().enumerate() {
        b.store((i % 255) as u8 + 1, Ordering::Relaxed);
    }
    let (r, w) = fd::pipe().unwrap();
    let (mut child, mut ch) = spawn_with_channel(child_command(
        "memfd_and_pipe_end_reach_a_spawned_process",
        "handoff",
    ))
    .unwrap();
    ch.send(&(&map, PortableFd::new(w), "fill the page"))
        .unwrap();
    // Our copy of the write end went into the message (duplicated) and was closed when the
    // PortableFd dropped, so EOF comes when the child's copy closes.
    let mut text = String::new();
    File::from(r).read_to_string(&mut text).unwrap();
    let status = wait_timeout(&mut child, LIMIT);
    assert!(status.success(), "child failed: {status}");
    assert_eq!(text, "written by the spawned child");
    assert_eq!(
        map.atomic_u64(4096).load(Ordering::Acquire),
        u64::from(child.id()),
        "the child's store is visible in our mapping"
    );
}

// ------------------------------------------------------------------------------------------------
// Futex wait/wake between processes.
// ------------------------------------------------------------------------------------------------

#[test]
fn futex_wakes_a_sleeper_in_another_process() {
    if role().as_deref() == Some("sleeper") {
        let mut ch = child_channel();
        let map: SharedMapping = ch.recv_timeout(LIMIT).unwrap();
        let (go, asleep, seen) = (map.atomic_u32(0), map.atomic_u32(4), map.atomic_u32(8));
        asleep.store(1, Ordering::Release);
        futex::wake(asleep, 1);
        let deadline = Instant::now() + LIMIT;
        while go.load(Ordering::Acquire) == 0 {
            let r = futex::wait(go, 0, Deadline::Until(deadline));
            assert_ne!(r, WaitResult::TimedOut, "never woken");
        }
        seen.store(go.load(Ordering::Acquire), Ordering::Release);
        return;
    }

    let map = SharedMapping::memfd("futex", 4096).unwrap();
    let (mut child, mut ch) = spawn_with_channel(child_command(
        "futex_wakes_a_sleeper_in_another_process",
        "sleeper",
    ))
    .unwrap();
    ch.send(&map).unwrap();
    let asleep = map.atomic_u32(4);
    let deadline = Instant::now() + LIMIT;
    while asleep.load(Ordering::Acquire) == 0 {
        assert_ne!(
            futex::wait(asleep, 0, Deadline::Until(deadline)),
            WaitResult::TimedOut
        );
    }
    // Give the child time to go to sleep in FUTEX_WAIT, then wake it.
    std::thread::sleep(Duration::from_millis(20));
    map.atomic_u32(0).store(7, Ordering::Release);
    futex::wake(map.atomic_u32(0), 1);
    assert!(wait_timeout(&mut child, LIMIT).success());
    assert_eq!(map.atomic_u32(8).load(Ordering::Acquire), 7);
}

#[test]
fn anonymous_mapping_and_futex_with_a_forked_child() {
    let map = SharedMapping::anonymous(4096).unwrap();
    let word = map.atomic_u32(0);
    // SAFETY: the child only does atomic stores, raw futex syscalls and `_exit`, all
    // async-signal-safe, so forking from this multi-threaded test process is sound.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        // Wait for the parent's 1, answer 2.
        while word.load(Ordering::Acquire) != 1 {
            let _ = futex::wait(word, 0, Deadline::after(Duration::from_secs(10)));
        }
        word.store(2, Ordering::Release);
        futex::wake(word, 1);
        // SAFETY: `_exit` ends the child without running the parent's atexit handlers.
        unsafe { libc::_exit(0) };
    }
    word.store(1, Ordering::Release);
    futex::wake(word, 1);
    let deadline = Instant::now() + LIMIT;
    while word.load(Ordering::Acquire) != 2 {
        assert_ne!(
            futex::wait(word, 1, Deadline::Until(deadline)),
            WaitResult::TimedOut
        );
    }
    let mut status = 0;
    // SAFETY: plain waitpid on our own child.
    let r = unsafe { libc::waitpid(pid, &mut status, 0) };
    assert_eq!(r, pid);
    assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0);
}

#[test]
fn futex_timeout_is_close_to_what_was_asked() {
    let map = SharedMapping::anonymous(4096).unwrap();
    for ms in [10u64, 50] {
        let t = Instant::now();
        let r = futex::wait(
            map.atomic_u32(0),
            0,
            Deadline::after(Duration::from_millis(ms)),
        );
        let took = t.elapsed();
        assert_eq!(r, WaitResult::TimedOut);
        assert!(took >= Duration::from_millis(ms), "{took:?} < {ms} ms");
        assert!(
            took < Duration::from_millis(ms + 40),
            "{took:?} is far above {ms} ms"
        );
    }
}

// ------------------------------------------------------------------------------------------------
// Named shared memory.
// ------------------------------------------------------------------------------------------------

#[test]
fn named_mapping_opened_by_name_in_another_process() {
    if role().as_deref() == Some("opener") {
        let name = std::env::var("IPC_TEST_SHM").unwrap();
        let map = SharedMapping::open_named(&name).unwrap();
        assert_eq!(map.len(), 4096);
        let mut word = [0u8; 4];
        assert_eq!(map.read_at(0, &mut word).unwrap(), 4);
        assert_eq!(u32::from_ne_bytes(word), 1234);
        assert_eq!(map.write_at(4, &5678u32.to_ne_bytes()).unwrap(), 4);
        return;
    }
    let name = unique_name("named");
    let path = format!("/dev/shm/{name}");
    {
        let map = SharedMapping::create_named(&name, 4096).unwrap();
        assert_eq!(map.name(), Some(format!("/{name}").as_str()));
        assert!(std::path::Path::new(&path).exists());
        let err = SharedMapping::create_named(&name, 4096).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::AlreadyExists);
        map.write_at(0, &1234u32.to_ne_bytes()).unwrap();
        let mut cmd = child_command("named_mapping_opened_by_name_in_another_process", "opener");
        cmd.env("IPC_TEST_SHM", &name);
        let mut child = cmd.spawn().unwrap();
        assert!(wait_timeout(&mut child, LIMIT).success());
        let mut word = [0u8; 4];
        map.read_at(4, &mut word).unwrap();
        assert_eq!(u32::from_ne_bytes(word), 5678);
    }
    assert!(
        !std::path::Path::new(&path).exists(),
        "the creator removes the name on drop"
    );
    let err = SharedMapping::open_named(&name).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
    let err = SharedMapping::create_named("bad/name", 10).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    assert!(SharedMapping::memfd("zero", 0).is_err());
}

// ------------------------------------------------------------------------------------------------
// Frames over pipes written by another process: good, truncated, corrupt, oversized.
// ------------------------------------------------------------------------------------------------

#[test]
fn frames_from_another_process_good_and_bad() {
    if role().as_deref() == Some("framer") {
        let mut ch = child_channel();
        let (good, trunc, corrupt, huge): (PortableFd, PortableFd, PortableFd, PortableFd) =
            ch.recv_timeout(LIMIT).unwrap();
        let mut buf = stream::header(0, 0).unwrap().to_vec();
        codec::encode(&(42u32, None::<u8>, "hello".to_string()), &mut buf).unwrap();
        let len = (buf.len() - stream::HEADER_LEN) as u32;
        buf[..4].copy_from_slice(&len.to_le_bytes());
        File::from(good.into_inner()).write_all(&buf).unwrap();
        // A message cut off in the middle of its payload.
        File::from(trunc.into_inner())
            .write_all(&buf[..buf.len() - 2])
            .unwrap();
        // A well-formed header over bytes that are not a (u32, Option<u8>, String).
        File::from(corrupt.into_inner())
            .write_all(&[3, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff])
            .unwrap();
        // A header announcing 4 GiB - 1.
        File::from(huge.into_inner())
            .write_all(&[0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 1, 2, 3])
            .unwrap();
        return;
    }
    let pipes: Vec<(OwnedFd, OwnedFd)> = (0..4).map(|_| fd::pipe().unwrap()).collect();
    let (mut child, mut ch) = spawn_with_channel(child_command(
        "frames_from_another_process_good_and_bad",
        "framer",
    ))
    .unwrap();
    let mut readers = Vec::new();
    let mut writers = Vec::new();
    for (r, w) in pipes {
        let mut end = Endpoint::new(r, StreamKind::Pipe, Framing::Native);
        end.set_max_message(1 << 20);
        readers.push(end);
        writers.push(PortableFd::new(w));
    }
    let mut w = writers.into_iter();
    ch.send(&(
        w.next().unwrap(),
        w.next().unwrap(),
        w.next().unwrap(),
        w.next().unwrap(),
    ))
    .unwrap();
    assert!(wait_timeout(&mut child, LIMIT).success());
    type T = (u32, Option<u8>, String);
    let v: T = readers[0].recv_timeout(LIMIT).unwrap();
    assert_eq!(v, (42, None, "hello".to_string()));
    assert!(matches!(
        readers[0].recv_timeout::<T>(LIMIT),
        Err(Error::Disconnected { mid_message: false })
    ));
    assert!(matches!(
        readers[1].recv_timeout::<T>(LIMIT),
        Err(Error::Disconnected { mid_message: true })
    ));
    assert!(matches!(
        readers[2].recv_timeout::<T>(LIMIT),
        Err(Error::Corrupt {
            reason: CorruptReason::Decode(_)
        })
    ));
    match readers[3].recv_timeout::<T>(LIMIT) {
        Err(Error::TooLarge { len, max }) => {
            assert_eq!(len, u64::from(u32::MAX));
            assert_eq!(max, 1 << 20);
        }
        other => panic!("expected TooLarge, got {other:?}"),
    }
}

// ------------------------------------------------------------------------------------------------
// Channel: peers that die, lie, or send too much.
// ------------------------------------------------------------------------------------------------

#[test]
fn channel_peer_death_is_closed_or_truncated_never_a_hang() {
    if role().as_deref() == Some("dier") {
        let mut ch = child_channel();
        ch.send(&"last words").unwrap();
        // Half a header, then exit.
        transfer::send_fds(&ch, &[5, 0, 0], &[]).unwrap();
        std::process::exit(0);
    }
    let (mut child, mut ch) = spawn_with_channel(child_command(
        "channel_peer_death_is_closed_or_truncated_never_a_hang",
        "dier",
    ))
    .unwrap();
    assert_eq!(ch.recv_timeout::<String>(LIMIT).unwrap(), "last words");
    assert!(matches!(
        ch.recv_timeout::<String>(LIMIT),
        Err(Error::Disconnected { mid_message: true })
    ));
    assert!(matches!(
        ch.recv_timeout::<String>(LIMIT),
        Err(Error::Disconnected { mid_message: false })
    ));
    assert!(wait_timeout(&mut child, LIMIT).success());
    // Sending to a dead peer is EPIPE, not a SIGPIPE death.
    match ch.send(&"anyone?") {
        Err(Error::Io(e)) => assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe),
        other => panic!("expected BrokenPipe, got {other:?}"),
    }
}

#[test]
fn channel_refuses_oversized_and_lying_messages() {
    let (mut a, mut b) = Channel::pair().unwrap();
    a.set_max_message(16);
    assert!(matches!(
        a.send(&vec![0u8; 100]),
        Err(Error::TooLarge { len: 101, max: 16 })
    ));
    // A header announcing 3 GiB to a receiver with a 1 MiB limit.
    b.set_max_message(1 << 20);
    transfer::send_fds(&a, &[0, 0, 0, 0xc0, 0, 0, 0, 0], &[]).unwrap();
    assert!(matches!(
        b.recv::<Vec<u8>>(),
        Err(Error::TooLarge { max: 1048576, .. })
    ));
    // A header announcing 2 descriptors with only 1 attached.
    let (a, mut b) = Channel::pair().unwrap();
    let (r, _w) = fd::pipe().unwrap();
    let mut msg = vec![1, 0, 0, 0, 2, 0, 0, 0];
    msg.push(0);
    transfer::send_fds(&a, &msg, &[r.as_fd()]).unwrap();
    assert!(matches!(
        b.recv::<u8>(),
        Err(Error::Corrupt {
            reason: CorruptReason::FdCount {
                expected: 2,
                received: 1
            }
        })
    ));
    // The stream is poisoned after it: its peer cannot be trusted to be in step.
    assert!(matches!(
        b.recv::<u8>(),
        Err(Error::Corrupt {
            reason: CorruptReason::Unusable(_)
        })
    ));
    // Timeout when nothing comes.
    let (_a, mut b) = Channel::pair().unwrap();
    let t = Instant::now();
    assert!(matches!(
        b.recv_timeout::<u8>(Duration::from_millis(30)),
        Err(Error::Timeout)
    ));
    assert!(t.elapsed() >= Duration::from_millis(30));
}

#[test]
fn bad_descriptors_are_typed_errors() {
    // A closed number.
    let (r, w) = fd::pipe().unwrap();
    let raw = r.as_raw_fd();
    drop(r);
    drop(w);
    assert!(!fd::is_open(raw));
    // SAFETY: `raw` is closed, so nothing owns it; the call must refuse it.
    let err = unsafe { fd::claim_inherited(raw) }.unwrap_err();
    assert!(matches!(err, Error::BadFd(n) if n == raw));
    // SAFETY: -1 is never a descriptor, so nothing owns it; the call must refuse it.
    let err = unsafe { fd::claim_inherited(-1) };
    assert!(matches!(err, Err(Error::BadFd(-1))));

    // Bytes that name descriptor #1 when only one (#0) came.
    let (p, q) = fd::pipe().unwrap();
    let env = transfer::to_envelope(&(PortableFd::new(p), PortableFd::new(q))).unwrap();
    assert_eq!(env.fds.len(), 2);
    let mut fds = env.fds;
    fds.pop();
    let err = transfer::from_envelope::<(PortableFd, PortableFd)>(&env.bytes, fds).unwrap_err();
    assert!(matches!(
        err,
        Error::Corrupt {
            reason: CorruptReason::MissingFd {
                index: 1,
                received: 1
            }
        }
    ));

    // A descriptor serialised outside `transfer` is refused, not turned into a number.
    let (p, _q) = fd::pipe().unwrap();
    let err = codec::encode(&PortableFd::new(p), &mut Vec::new()).unwrap_err();
    assert!(
        err.to_string().contains("multiproc_core::transfer"),
        "unexpected error: {err}"
    );
    // An anonymous mapping cannot travel.
    let anon = SharedMapping::anonymous(64).unwrap();
    assert!(matches!(
        transfer::to_envelope(&anon),
        Err(Error::NotTransferable(_))
    ));
    // A channel over something that is not a socket.
    let (p, _q) = fd::pipe().unwrap();
    assert!(matches!(Channel::from_fd(p), Err(Error::BadFd(_))));
}

#[test]
fn a_channel_travels_over_a_channel_to_another_process() {
    if role().as_deref() == Some("relay") {
        let mut ch = child_channel();
        let mut inner: Channel = ch.recv_timeout(LIMIT).unwrap();
        let n: u64 = inner.recv_timeout(LIMIT).unwrap();
        inner.send(&(n * 2)).unwrap();
        return;
    }
    let (mut child, mut ch) = spawn_with_channel(child_command(
        "a_channel_travels_over_a_channel_to_another_process",
        "relay",
    ))
    .unwrap();
    let (mut near, far) = Channel::pair().unwrap();
    ch.send(&far).unwrap();
    drop(far);
    near.send(&21u64).unwrap();
    assert_eq!(near.recv_timeout::<u64>(LIMIT).unwrap(), 42);
    assert!(wait_timeout(&mut child, LIMIT).success());
}

#[test]
fn fd_flag_helpers() {
    let (r, w) = fd::pipe().unwrap();
    assert!(fd::is_cloexec(&r).unwrap());
    fd::clear_cloexec(&r).unwrap();
    assert!(!fd::is_cloexec(&r).unwrap());
    assert!(!fd::is_nonblocking(&w).unwrap());
    fd::set_nonblocking(&w).unwrap();
    assert!(fd::is_nonblocking(&w).unwrap());
    let d = fd::dup(&r).unwrap();
    assert!(fd::is_cloexec(&d).unwrap());
    assert_ne!(d.as_raw_fd(), r.as_raw_fd());
}

#[test]
fn a_memfd_cannot_be_shrunk_under_other_mappings() {
    let map = SharedMapping::memfd("sealed", 8192).unwrap();
    let fd = map.fd().unwrap();
    assert!(rustix::fs::ftruncate(fd, 0).is_err(), "shrinking is sealed");
    assert!(
        rustix::fs::ftruncate(fd, 1 << 20).is_err(),
        "growing is sealed"
    );
    // A receiver's copy of the descriptor is sealed too.
    let env = transfer::to_envelope(&map).unwrap();
    let back: SharedMapping = transfer::from_envelope(&env.bytes, env.fds).unwrap();
    assert!(rustix::fs::ftruncate(back.fd().unwrap(), 0).is_err());
    assert_eq!(back.identity(), map.identity());
}
