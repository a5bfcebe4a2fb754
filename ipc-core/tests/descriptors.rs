//! Descriptors belong to the message they arrived with: a peer cannot make the receiver keep
//! descriptors no message claims, nor slip a stale one into a later message; and one message
//! carries any number of them (several `sendmsg` calls), across real processes.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::time::Duration;

use multiproc_core::transfer::{self, Channel, PortableFd, inherited_channel, spawn_with_channel};
use multiproc_core::{CorruptReason, Deadline, Error, fd};
use multiproc_testkit::{ChildGuard, child_command, role};

const LIMIT: Duration = Duration::from_secs(30);

fn child_channel() -> Channel {
    // SAFETY: this test process was started by `spawn_with_channel`; nothing else claims the fd.
    unsafe { inherited_channel() }
        .expect("inherited channel")
        .expect("started with a channel")
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// The receiving role: counts its own descriptors around 500 messages that each came with a
/// descriptor their header does not announce, reports the counts, then meets a frame that
/// announces a descriptor and carries none.
fn stray_receiver() {
    let mut ch = child_channel();
    let before = open_fds();
    for i in 0..500 {
        let v: u8 = ch.recv_timeout(LIMIT).unwrap();
        assert_eq!(v, 7, "message {i}");
    }
    let after = open_fds();
    ch.send(&(before as u64, after as u64)).unwrap();
    // Announces descriptor #0, carries none: before the fix, one of the 500 stale ones.
    match ch.recv_timeout::<PortableFd>(LIMIT) {
        Err(Error::Corrupt {
            reason:
                CorruptReason::FdCount {
                    expected: 1,
                    received: 0,
                },
        }) => {}
        other => panic!("expected FdCount {{ 1, 0 }}, got {other:?}"),
    }
    // Poisoned, as for a corrupt frame.
    assert!(matches!(
        ch.recv_timeout::<u8>(LIMIT),
        Err(Error::Corrupt {
            reason: CorruptReason::Unusable(_)
        })
    ));
    assert_eq!(open_fds(), after, "the refused frame left nothing open");
}

#[test]
fn unannounced_descriptors_are_closed_and_never_reach_a_later_message() {
    if role().as_deref() == Some("stray") {
        stray_receiver();
        return;
    }
    let (child, mut ch) = spawn_with_channel(child_command(
        "unannounced_descriptors_are_closed_and_never_reach_a_later_message",
        "stray",
    ))
    .unwrap();
    let mut child = ChildGuard(child);
    let (r, _w) = fd::pipe().unwrap();
    // A raw peer: header (len 1, nfds 0), payload 7, and a descriptor attached all the same.
    let frame = [1u8, 0, 0, 0, 0, 0, 0, 0, 7];
    for _ in 0..500 {
        assert_eq!(transfer::send_fds(&ch, &frame, &[r.as_fd()]).unwrap(), 9);
    }
    let (before, after): (u64, u64) = ch.recv_timeout(LIMIT).unwrap();
    // Header (len 1, nfds 1), payload 0 (descriptor #0), no descriptor attached.
    let lie = [1u8, 0, 0, 0, 1, 0, 0, 0, 0];
    assert_eq!(transfer::send_fds(&ch, &lie, &[]).unwrap(), 9);
    let refused = child.wait(LIMIT).success();
    assert!(
        after <= before,
        "the receiver kept {} unannounced descriptors",
        after - before
    );
    assert!(refused, "the frame without its descriptor was not refused");
}

/// Pipes whose write ends travel; each receiver writes its index into each.
fn pipes(n: usize) -> (Vec<File>, Vec<PortableFd>) {
    (0..n)
        .map(|_| {
            let (r, w) = fd::pipe().unwrap();
            (File::from(r), PortableFd::new(w))
        })
        .unzip()
}

fn write_indices(ends: Vec<PortableFd>) {
    for (i, e) in ends.into_iter().enumerate() {
        File::from(e.into_inner())
            .write_all(&(i as u32).to_le_bytes())
            .unwrap();
    }
}

fn check_indices(readers: &mut [File]) {
    for (i, r) in readers.iter_mut().enumerate() {
        let ready = fd::wait_readable(&[r.as_fd()], Deadline::after(LIMIT)).unwrap();
        assert_eq!(ready, vec![0], "pipe {i} got nothing");
        let mut b = [0u8; 4];
        r.read_exact(&mut b).unwrap();
        assert_eq!(
            u32::from_le_bytes(b),
            i as u32,
            "pipe {i} reached the wrong place"
        );
    }
}

#[test]
fn messages_of_600_and_1000_descriptors_through_a_channel() {
    if role().as_deref() == Some("sink") {
        let mut ch = child_channel();
        for _ in 0..2 {
            let (tag, ends): (String, Vec<PortableFd>) = ch.recv_timeout(LIMIT).unwrap();
            let n = ends.len();
            write_indices(ends);
            let plain: u32 = ch.recv_timeout(LIMIT).unwrap();
            ch.send(&(tag, n as u32 + plain)).unwrap();
        }
        return;
    }
    let (child, mut ch) = spawn_with_channel(child_command(
        "messages_of_600_and_1000_descriptors_through_a_channel",
        "sink",
    ))
    .unwrap();
    let mut child = ChildGuard(child);
    for n in [600usize, 1000] {
        let (mut readers, writers) = pipes(n);
        ch.send(&(format!("{n} ends"), &writers)).unwrap();
        drop(writers);
        // A plain message right behind: the accounting stays per message.
        ch.send(&1u32).unwrap();
        check_indices(&mut readers);
        let (tag, count): (String, u32) = ch.recv_timeout(LIMIT).unwrap();
        assert_eq!((tag, count), (format!("{n} ends"), n as u32 + 1));
    }
    assert!(child.wait(LIMIT).success());
}

#[test]
fn a_descriptor_frame_that_never_ends_is_refused() {
    // Descriptor frames (top bit of the count) must be followed by their message; a peer that
    // announces a payload in one, or descriptors that are not there, poisons the stream.
    let (a, mut b) = Channel::pair().unwrap();
    let (r, _w) = fd::pipe().unwrap();
    let more = [0u8, 0, 0, 0, 1, 0, 0, 0x80];
    transfer::send_fds(&a, &more, &[r.as_fd()]).unwrap();
    // The message frame claims one more descriptor, which does not come.
    transfer::send_fds(&a, &[1, 0, 0, 0, 1, 0, 0, 0, 0], &[]).unwrap();
    assert!(matches!(
        b.recv::<Vec<PortableFd>>(),
        Err(Error::Corrupt {
            reason: CorruptReason::FdCount {
                expected: 1,
                received: 0
            }
        })
    ));
    assert!(matches!(
        b.recv::<u8>(),
        Err(Error::Corrupt {
            reason: CorruptReason::Unusable(_)
        })
    ));

    let (a, mut b) = Channel::pair().unwrap();
    transfer::send_fds(&a, &[5, 0, 0, 0, 1, 0, 0, 0x80], &[r.as_fd()]).unwrap();
    assert!(matches!(
        b.recv::<u8>(),
        Err(Error::Corrupt {
            reason: CorruptReason::BadFdFrame
        })
    ));
}
