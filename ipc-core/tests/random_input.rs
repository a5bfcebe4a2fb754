//! Random and mutated bytes for every decoder of another process's bytes in `multiproc-core`:
//! the stream's frame headers and descriptor accounting, the handle envelope, and postcard
//! payloads of the public handle types. No panic, no hang, nothing allocated past the limit,
//! and no descriptor kept that no message claims: a value or a typed error.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::time::Duration;

use multiproc_core::stream::{self, MessageReader, StreamKind};
use multiproc_core::transfer::{self, Channel, PortableFd};
use multiproc_core::{Deadline, Error, SharedMapping, codec, fd};
use proptest::prelude::*;

/// The reader's payload limit in these tests.
const MAX: usize = 1024;

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// One `sendmsg`: its bytes and how many descriptors ride on it.
#[derive(Debug, Clone)]
struct Chunk {
    bytes: Vec<u8>,
    fds: usize,
}

/// A header as a peer might write it: any length, any count, with or without the
/// descriptor-frame bit.
fn header_bytes() -> impl Strategy<Value = Vec<u8>> {
    (
        prop_oneof![0u32..64, 0u32..2048, any::<u32>()],
        prop_oneof![Just(0u32), 0u32..4, 250u32..260, any::<u32>()],
        any::<bool>(),
    )
        .prop_map(|(len, nfds, more)| {
            let nfds = if more { nfds | 1 << 31 } else { nfds };
            let mut h = len.to_le_bytes().to_vec();
            h.extend_from_slice(&nfds.to_le_bytes());
            h
        })
}

/// A frame that is well formed or close to it: a header, then up to 64 payload bytes (which
/// may or may not match the header's length).
fn frame_like() -> impl Strategy<Value = Vec<u8>> {
    (header_bytes(), prop::collection::vec(any::<u8>(), 0..64)).prop_map(|(mut h, p)| {
        h.extend_from_slice(&p);
        h
    })
}

fn chunk() -> impl Strategy<Value = Chunk> {
    (
        prop_oneof![
            prop::collection::vec(any::<u8>(), 1..64),
            frame_like(),
            // An honest small frame: length and count agree with what is attached below.
            (0usize..16, 0usize..4).prop_map(|(len, n)| {
                let mut f = stream::header(len, n).unwrap().to_vec();
                f.resize(stream::HEADER_LEN + len, 0x5a);
                f
            }),
        ],
        prop_oneof![Just(0usize), 0usize..4],
    )
        .prop_map(|(bytes, fds)| Chunk { bytes, fds })
}

/// Writes `chunks` to `sock`, each with its descriptors (duplicates of `fd`) on its first byte.
fn send_chunks(sock: BorrowedFd<'_>, chunks: &[Chunk], fd: BorrowedFd<'_>) -> usize {
    let mut attached = 0;
    for c in chunks {
        let fds: Vec<BorrowedFd<'_>> = (0..c.fds).map(|_| fd).collect();
        let mut sent = transfer::send_fds(sock, &c.bytes, &fds).unwrap();
        attached += c.fds;
        while sent < c.bytes.len() {
            sent += transfer::send_fds(sock, &c.bytes[sent..], &[]).unwrap();
        }
    }
    attached
}

/// Reads messages until the end of the stream or the first error; checks what each gave.
fn drain(reader: &mut MessageReader, sock: BorrowedFd<'_>, attached: usize) {
    let deadline = Deadline::after(Duration::from_secs(10));
    let mut handed_out = 0;
    for _ in 0..10_000 {
        let mut out = Vec::new();
        let mut fds = Vec::new();
        match reader.recv_into_vec(sock, StreamKind::Socket, deadline, &mut out, &mut fds) {
            Ok(n) => {
                assert_eq!(n, out.len());
                assert!(n <= MAX, "a payload of {n} bytes passed a limit of {MAX}");
                assert!(out.capacity() <= 64 * 1024, "allocated {}", out.capacity());
                handed_out += fds.len();
                assert!(handed_out <= attached, "more descriptors out than in");
            }
            Err(Error::Disconnected { mid_message: false }) => {
                assert_eq!(reader.held_fds(), 0, "descriptors kept after the end");
                return;
            }
            Err(Error::Timeout) => panic!("a receive hung on a closed stream"),
            Err(
                Error::TooLarge { .. }
                | Error::Disconnected { mid_message: true }
                | Error::Corrupt { .. },
            ) => {
                assert!(handed_out + reader.held_fds() <= attached);
                return;
            }
            Err(e) => panic!("untyped or unexpected error: {e:?}"),
        }
    }
    panic!("10,000 messages from a few hundred bytes");
}

proptest! {
    #![proptest_config(config(3000))]

    /// Any sequence of `sendmsg` calls, with any descriptors attached, gives messages or typed
    /// errors; descriptors that no message claims are closed.
    #[test]
    fn stream_headers_and_descriptors(chunks in prop::collection::vec(chunk(), 0..10)) {
        let (a, b) = fd::socketpair().unwrap();
        let (r, _w) = fd::pipe().unwrap();
        let attached = send_chunks(a.as_fd(), &chunks, r.as_fd());
        drop(a);
        let mut reader = MessageReader::new(stream::Framing::Native, MAX);
        drain(&mut reader, b.as_fd(), attached);
    }

    /// The same with a pipe, which carries no descriptors at all.
    #[test]
    fn pipe_headers(bytes in prop::collection::vec(prop_oneof![frame_like(), prop::collection::vec(any::<u8>(), 1..32)], 0..8)) {
        let (r, w) = fd::pipe().unwrap();
        let w = std::fs::File::from(w);
        for b in &bytes {
            std::io::Write::write_all(&mut &w, b).unwrap();
        }
        drop(w);
        let mut reader = MessageReader::new(stream::Framing::Native, MAX);
        let mut out = Vec::new();
        let mut fds = Vec::new();
        for _ in 0..1000 {
            out.clear();
            match reader.recv_into_vec(r.as_fd(), StreamKind::Pipe, Deadline::after(Duration::from_secs(10)), &mut out, &mut fds) {
                Ok(n) => prop_assert!(n <= MAX && fds.is_empty()),
                Err(Error::Timeout) => panic!("hung"),
                Err(_) => break,
            }
        }
    }
}

proptest! {
    #![proptest_config(config(200))]

    /// Honest messages with any number of descriptors (descriptor frames past 253) arrive
    /// whole, each with exactly its own descriptors.
    #[test]
    fn honest_messages_keep_their_descriptors(
        msgs in prop::collection::vec((prop::collection::vec(any::<u8>(), 0..2000), 0usize..600), 1..5)
    ) {
        let (a, b) = fd::socketpair().unwrap();
        let (r, _w) = fd::pipe().unwrap();
        for (payload, n) in &msgs {
            let fds: Vec<BorrowedFd<'_>> = (0..*n).map(|_| r.as_fd()).collect();
            stream::send_framed(a.as_fd(), StreamKind::Socket, stream::Framing::Native, payload, &fds).unwrap();
        }
        drop(a);
        let mut reader = MessageReader::new(stream::Framing::Native, MAX * 4);
        let deadline = Deadline::after(Duration::from_secs(10));
        for (payload, n) in &msgs {
            let mut out = Vec::new();
            let mut fds = Vec::new();
            reader.recv_into_vec(b.as_fd(), StreamKind::Socket, deadline, &mut out, &mut fds).unwrap();
            prop_assert_eq!(&out, payload);
            prop_assert_eq!(fds.len(), *n);
        }
        let end = reader.recv_into_vec(b.as_fd(), StreamKind::Socket, deadline, &mut Vec::new(), &mut Vec::new());
        let clean_end = matches!(end, Err(Error::Disconnected { mid_message: false }));
        prop_assert!(clean_end, "{:?}", end);
        prop_assert_eq!(reader.held_fds(), 0);
    }
}

/// Descriptors of several kinds, for envelopes.
fn some_fds(kinds: &[u8]) -> Vec<OwnedFd> {
    kinds
        .iter()
        .map(|k| match k % 4 {
            0 => fd::pipe().unwrap().0,
            1 => fd::socketpair().unwrap().0,
            2 => {
                let env =
                    transfer::to_envelope(&SharedMapping::memfd("fuzz", 4096).unwrap()).unwrap();
                env.fds.into_iter().next().unwrap()
            }
            _ => std::fs::File::open("/dev/null").unwrap().into(),
        })
        .collect()
}

/// A real envelope of handles, to mutate.
fn real_envelope() -> transfer::Envelope {
    let map = SharedMapping::memfd("fuzz", 8192).unwrap();
    let (ch, _other) = Channel::pair().unwrap();
    let (p, _q) = fd::pipe().unwrap();
    transfer::to_envelope(&("text", &map, &ch, vec![PortableFd::new(p)], Some(7u64))).unwrap()
}

type Handles = (String, SharedMapping, Channel, Vec<PortableFd>, Option<u64>);

fn decode_all(bytes: &[u8], fds: impl Fn() -> Vec<OwnedFd>) {
    // Every outcome is a value or a typed error; none panics.
    let _ = transfer::from_envelope::<SharedMapping>(bytes, fds());
    let _ = transfer::from_envelope::<Channel>(bytes, fds());
    let _ = transfer::from_envelope::<Vec<PortableFd>>(bytes, fds());
    let _ = transfer::from_envelope::<Handles>(bytes, fds());
    // Outside `transfer` a descriptor is never a number.
    match codec::decode::<Handles>(bytes) {
        Ok(_) => panic!("handles decoded without their descriptors"),
        Err(Error::Corrupt { .. } | Error::FdOutsideTransfer) => {}
        Err(e) => panic!("unexpected error {e:?}"),
    }
}

proptest! {
    #![proptest_config(config(2000))]

    /// Random bytes with random descriptors as an envelope of every public handle type.
    #[test]
    fn envelope_of_random_bytes(bytes in prop::collection::vec(any::<u8>(), 0..96), kinds in prop::collection::vec(any::<u8>(), 0..4)) {
        decode_all(&bytes, || some_fds(&kinds));
    }

    /// A real envelope with flipped bytes, cut short, or with descriptors missing or swapped.
    #[test]
    fn envelope_mutated(flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4), cut in any::<prop::sample::Index>(), keep in 0usize..5, swap in any::<bool>()) {
        let env = real_envelope();
        let mut bytes = env.bytes.clone();
        for (i, b) in &flips {
            let i = i.index(bytes.len());
            bytes[i] ^= b;
        }
        if flips.len() == 3 {
            bytes.truncate(cut.index(bytes.len() + 1));
        }
        let fds = || {
            let mut f: Vec<OwnedFd> = env.fds.iter().map(|x| fd::dup(x).unwrap()).take(keep).collect();
            if swap && f.len() > 1 {
                f.swap(0, 1);
            }
            f
        };
        decode_all(&bytes, fds);
        // The unmutated envelope decodes, as a check of the check.
        if flips.is_empty() && keep >= env.fds.len() && !swap {
            let dup: Vec<OwnedFd> = env.fds.iter().map(|x| fd::dup(x).unwrap()).collect();
            let (text, ..): Handles = transfer::from_envelope(&env.bytes, dup).unwrap();
            prop_assert_eq!(text, "text");
        }
    }
}

proptest! {
    #![proptest_config(config(2000))]

    /// Python's framing: any bytes give messages or typed errors, descriptors attached anyway
    /// are closed, and nothing past the limit is allocated.
    #[test]
    fn python_framing_random(chunks in prop::collection::vec(
        (prop_oneof![
            prop::collection::vec(any::<u8>(), 1..64),
            (prop_oneof![Just(-1i32), -3i32..70, any::<i32>()], any::<u64>(), prop::collection::vec(any::<u8>(), 0..40))
                .prop_map(|(l, l8, p)| {
                    let mut v = l.to_be_bytes().to_vec();
                    if l == -1 { v.extend_from_slice(&(l8 % 2048).to_be_bytes()); }
                    v.extend_from_slice(&p);
                    v
                }),
        ], 0usize..3).prop_map(|(bytes, fds)| Chunk { bytes, fds }),
        0..8,
    )) {
        let (a, b) = fd::socketpair().unwrap();
        let (r, _w) = fd::pipe().unwrap();
        let attached = send_chunks(a.as_fd(), &chunks, r.as_fd());
        drop(a);
        let mut reader = MessageReader::new(stream::Framing::Python, MAX);
        let deadline = Deadline::after(Duration::from_secs(10));
        for _ in 0..10_000 {
            let mut out = Vec::new();
            let mut fds = Vec::new();
            match reader.recv_into_vec(b.as_fd(), StreamKind::Socket, deadline, &mut out, &mut fds) {
                Ok(n) => prop_assert!(n <= MAX && fds.is_empty() && out.capacity() <= 64 * 1024),
                Err(Error::Disconnected { mid_message: false }) => {
                    prop_assert_eq!(reader.held_fds(), 0);
                    break;
                }
                Err(Error::Timeout) => panic!("hung"),
                Err(Error::TooLarge { .. } | Error::Disconnected { mid_message: true } | Error::Corrupt { .. }) => {
                    prop_assert!(reader.held_fds() <= attached);
                    break;
                }
                Err(e) => panic!("unexpected {e:?}"),
            }
        }
    }

}

proptest! {
    #![proptest_config(config(200))]

    /// Honest Python-framed messages, in both header forms, come back as sent.
    #[test]
    fn python_framing_round_trip(msgs in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..3000), 1..6)) {
        let (a, b) = fd::socketpair().unwrap();
        for m in &msgs {
            stream::send_framed(a.as_fd(), StreamKind::Socket, stream::Framing::Python, m, &[]).unwrap();
        }
        // The long form, as Python writes it above 2 GiB, for a small payload.
        let mut long = (-1i32).to_be_bytes().to_vec();
        long.extend_from_slice(&3u64.to_be_bytes());
        long.extend_from_slice(b"abc");
        transfer::send_fds(&a, &long, &[]).unwrap();
        drop(a);
        let mut reader = MessageReader::new(stream::Framing::Python, 1 << 20);
        for m in &msgs {
            let mut out = Vec::new();
            reader.recv_into_vec(b.as_fd(), StreamKind::Socket, Deadline::Forever, &mut out, &mut Vec::new()).unwrap();
            prop_assert_eq!(&out, m);
        }
        let mut out = Vec::new();
        reader.recv_into_vec(b.as_fd(), StreamKind::Socket, Deadline::Forever, &mut out, &mut Vec::new()).unwrap();
        prop_assert_eq!(&out[..], b"abc");
        let (p, _q) = fd::pipe().unwrap();
        prop_assert!(matches!(
            stream::send_framed(b.as_fd(), StreamKind::Socket, stream::Framing::Python, b"x", &[p.as_fd()]),
            Err(Error::NotTransferable(_))
        ));
    }
}
