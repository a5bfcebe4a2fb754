//! The shared heap across real processes: a thousand objects cross to a spawned process in one
//! message with one descriptor, the child's references come and go with it, and a freed slot is
//! never reached through an old handle.
//!
//! One test per concern, each in its own process where the heap's global state matters
//! (`cargo test` runs the tests of a file on several threads of one process).

use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use multiproc_core::Error;
use multiproc_core::heap::{self, Kind, Refusal, Shared, SharedState};
use multiproc_core::transfer::{
    Channel, from_envelope, inherited_channel, spawn_with_channel, to_envelope,
};
use multiproc_testkit::{child_command, role, wait_timeout};

const LIMIT: Duration = Duration::from_secs(20);

#[repr(C)]
struct Counter {
    n: AtomicU64,
}

// SAFETY: one atomic; any bits are a valid counter.
unsafe impl SharedState for Counter {
    const KIND: Kind = Kind::new(*b"Xcnt");
}

fn child_channel() -> Channel {
    // SAFETY: this test process was started by `spawn_with_channel`; nothing else claims the fd.
    unsafe { inherited_channel() }
        .expect("inherited channel")
        .expect("started with a channel")
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

#[test]
fn a_thousand_objects_cross_in_one_message() {
    if role().as_deref() == Some("adder") {
        let mut ch = child_channel();
        let fds_before = open_fds();
        let got: Vec<Shared<Counter>> = ch.recv_timeout(LIMIT).expect("recv");
        assert_eq!(got.len(), 1000);
        // One arena (maybe two) for a thousand objects: at most two more descriptors.
        assert!(
            open_fds() <= fds_before + 2,
            "{} -> {}",
            fds_before,
            open_fds()
        );
        for (i, c) in got.iter().enumerate() {
            c.get().n.fetch_add(i as u64, Ordering::Relaxed);
        }
        ch.send(&"done").expect("send");
        return;
    }
    let objs: Vec<Shared<Counter>> = (0..1000)
        .map(|_| Shared::new(|c: &Counter| c.n.store(1, Ordering::Relaxed)).unwrap())
        .collect();
    let (mut child, mut ch) = spawn_with_channel(child_command(
        "a_thousand_objects_cross_in_one_message",
        "adder",
    ))
    .unwrap();
    let env = to_envelope(&objs).unwrap();
    assert!(
        env.fds.len() <= 2,
        "{} descriptors for 1000 objects",
        env.fds.len()
    );
    drop(env); // (the references it took leak: a message never sent; see the heap docs)
    // `Command` with a `pre_exec` hook starts the child by `fork`, which gave the forked copy a
    // reference to each object that `exec` then dropped on the floor (it leaks: objects live
    // longer, never shorter). Count from here.
    let before: Vec<u32> = objs.iter().map(|c| c.object().references()).collect();
    ch.send(&objs).unwrap();
    let done: String = ch.recv_timeout(LIMIT).unwrap();
    assert_eq!(done, "done");
    assert!(wait_timeout(&mut child, LIMIT).success());
    for (i, c) in objs.iter().enumerate() {
        assert_eq!(c.get().n.load(Ordering::Relaxed), 1 + i as u64);
    }
    // The message's references went to the child, which gave them back when it dropped them.
    let after: Vec<u32> = objs.iter().map(|c| c.object().references()).collect();
    assert_eq!(after, before);
}

#[test]
fn a_freed_slot_is_reused_and_never_reached_through_an_old_handle() {
    if role().as_deref() != Some("reuse") {
        // Run alone in a process of its own, so no other test takes the slot meanwhile.
        let status = wait_timeout(
            &mut child_command(
                "a_freed_slot_is_reused_and_never_reached_through_an_old_handle",
                "reuse",
            )
            .spawn()
            .unwrap(),
            LIMIT,
        );
        assert!(status.success(), "{status}");
        return;
    }
    let a = Shared::new(|c: &Counter| c.n.store(1, Ordering::Relaxed)).unwrap();
    let old = a.id();
    // A message carrying the handle, received once; its bytes kept to replay.
    let env = to_envelope(&a).unwrap();
    let replay_fds: Vec<_> = env.fds.iter().map(|f| f.try_clone().unwrap()).collect();
    let bytes = env.bytes.clone();
    let once: Shared<Counter> = from_envelope(&env.bytes, env.fds).unwrap();
    assert_eq!(a.object().references(), 2);
    drop(once);
    drop(a); // the last reference: the slot is free
    let b = Shared::new(|c: &Counter| c.n.store(99, Ordering::Relaxed)).unwrap();
    let new = b.id();
    assert_ne!(new, old, "a new generation");
    assert_eq!(
        format!("{new:?}").split("generation").next(),
        format!("{old:?}").split("generation").next(),
        "the same arena and offset: the slot was reused"
    );
    let e = from_envelope::<Shared<Counter>>(&bytes, replay_fds).unwrap_err();
    assert!(matches!(e, Error::Refused(Refusal::Stale)), "{e:?}");
    assert_eq!(
        b.get().n.load(Ordering::Relaxed),
        99,
        "the new tenant is untouched"
    );
}

#[test]
fn arenas_are_unmapped_when_their_objects_are_gone() {
    if role().as_deref() != Some("usage") {
        let status = wait_timeout(
            &mut child_command("arenas_are_unmapped_when_their_objects_are_gone", "usage")
                .spawn()
                .unwrap(),
            LIMIT,
        );
        assert!(status.success(), "{status}");
        return;
    }
    let fds0 = open_fds();
    let many: Vec<Shared<Counter>> = (0..40_000).map(|_| Shared::new(|_| {}).unwrap()).collect();
    let (arenas, held) = heap::usage();
    assert_eq!(held, 40_000);
    assert!(arenas <= 3, "{arenas} arenas for 40,000 objects");
    assert!(open_fds() <= fds0 + 3);
    drop(many);
    let (arenas, held) = heap::usage();
    assert_eq!(held, 0);
    assert!(arenas <= 1, "only the current arena stays: {arenas}");
    assert!(open_fds() <= fds0 + 1, "{fds0} -> {}", open_fds());
    let _ = std::io::stdout().as_raw_fd();
}
