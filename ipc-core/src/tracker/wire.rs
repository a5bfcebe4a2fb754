//! What a client and the tracker exchange, and the ledger a client keeps its registrations in.
//!
//! On the connection (`SOCK_SEQPACKET`, one record per message): the tracker greets each new
//! client once with [`HELLO`] and its pid (`u32`); a client sends [`LEDGER`] with one
//! descriptor attached, its ledger, when it connects and whenever it moves to a larger one.
//!
//! The ledger is a memfd the client writes and the tracker reads only once the client is
//! gone (with `pread`: a ledger shrunk by its writer cannot hurt the tracker). Numbers are in
//! the machine's byte order (both sides are the same program on the same machine). After a
//! 64-byte header (`MAGIC`, then zeros) come records, each 8-aligned:
//!
//! | offset | field |
//! |---|---|
//! | 0 | state, `u32`: 0 not written (the end), [`LIVE`], or [`REMOVED`] |
//! | 4 | kind, `u8`: 1 shared memory, 2 message queue, 3 path |
//! | 8 | name length `n`, `u32` (1 to [`MAX_NAME`]) |
//! | 16 | device, `u64` (0 with inode 0: unknown) |
//! | 24 | inode, `u64` |
//! | 32 | `n` name bytes (no NUL), then zeros to a multiple of 8 |
//!
//! The client writes a record's fields first and its state last, so a record cut short by the
//! client's death reads as the end.

use super::Kind;

/// What the tracker says first on every connection it accepts.
pub(crate) const HELLO: &[u8; 4] = b"MPT1";
/// The length of the tracker's greeting: `HELLO` and its pid.
pub(crate) const HELLO_LEN: usize = 8;
/// The message that comes with a client's ledger descriptor.
pub(crate) const LEDGER: &[u8; 4] = b"LEDG";

/// The first bytes of a ledger.
pub(crate) const MAGIC: &[u8; 8] = b"MPTLEDG1";
/// Where the first record starts.
pub(crate) const HEADER: usize = 64;
/// A record's fixed part, before its name.
pub(crate) const RECORD_HEAD: usize = 32;
/// The longest name a record carries (`PATH_MAX`).
pub(crate) const MAX_NAME: usize = 4096;
/// A record's state: registered.
pub(crate) const LIVE: u32 = 1;
/// A record's state: unregistered since.
pub(crate) const REMOVED: u32 = 2;

/// The bytes a record of a `name_len`-byte name takes.
pub(crate) fn record_len(name_len: usize) -> usize {
    RECORD_HEAD + name_len.next_multiple_of(8)
}

/// Whether `name` can be registered: one that can be unlinked, and fits a record.
pub(crate) fn valid_name(name: &[u8]) -> bool {
    !name.is_empty() && name.len() <= MAX_NAME && !name.contains(&0)
}

pub(crate) fn kind_byte(kind: Kind) -> u8 {
    match kind {
        Kind::SharedMemory => 1,
        Kind::MessageQueue => 2,
        Kind::Path => 3,
    }
}

fn kind_of(b: u8) -> Option<Kind> {
    match b {
        1 => Some(Kind::SharedMemory),
        2 => Some(Kind::MessageQueue),
        3 => Some(Kind::Path),
        _ => None,
    }
}

/// One live registration read from a ledger.
#[derive(Debug, PartialEq, Eq, Hash, Clone)]
pub(crate) struct Record {
    pub(crate) kind: Kind,
    pub(crate) name: Vec<u8>,
    pub(crate) id: (u64, u64),
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_ne_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

/// The live records of a ledger's bytes, in order. Reading stops at the first record that is
/// not written or does not decode (whatever follows it is not trusted); bytes that are no
/// ledger give none.
pub(crate) fn live_records(ledger: &[u8]) -> Vec<Record> {
    let mut out = Vec::new();
    if ledger.len() < HEADER || &ledger[..MAGIC.len()] != MAGIC {
        return out;
    }
    let mut at = HEADER;
    while let Some(state) = u32_at(ledger, at) {
        if state != LIVE && state != REMOVED {
            break;
        }
        let (Some(kind), Some(len), Some(dev), Some(ino)) = (
            ledger.get(at + 4).copied().and_then(kind_of),
            u32_at(ledger, at + 8).map(|n| n as usize),
            u64_at(ledger, at + 16),
            u64_at(ledger, at + 24),
        ) else {
            break;
        };
        let Some(name) = ledger.get(at + RECORD_HEAD..at + RECORD_HEAD + len) else {
            break;
        };
        if !valid_name(name) {
            break;
        }
        if state == LIVE {
            out.push(Record {
                kind,
                name: name.to_vec(),
                id: (dev, ino),
            });
        }
        at += record_len(len);
    }
    out
}

/// The tracker's greeting.
pub(crate) fn hello(pid: u32) -> [u8; HELLO_LEN] {
    let mut h = [0; HELLO_LEN];
    h[..4].copy_from_slice(HELLO);
    h[4..].copy_from_slice(&pid.to_ne_bytes());
    h
}

/// The tracker's pid from its greeting; `None` if these bytes are not one.
pub(crate) fn parse_hello(m: &[u8]) -> Option<u32> {
    if m.len() != HELLO_LEN || &m[..4] != HELLO {
        return None;
    }
    Some(u32::from_ne_bytes(m[4..].try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A record as a test writes it: state, kind byte, name, identity.
    type Raw<'a> = (u32, u8, &'a [u8], (u64, u64));

    /// A ledger with the given records, written as the client writes them.
    fn ledger(records: &[Raw<'_>]) -> Vec<u8> {
        let mut b = MAGIC.to_vec();
        b.resize(HEADER, 0);
        for &(state, kind, name, (dev, ino)) in records {
            let at = b.len();
            b.resize(at + record_len(name.len()), 0);
            b[at..at + 4].copy_from_slice(&state.to_ne_bytes());
            b[at + 4] = kind;
            b[at + 8..at + 12].copy_from_slice(&(name.len() as u32).to_ne_bytes());
            b[at + 16..at + 24].copy_from_slice(&dev.to_ne_bytes());
            b[at + 24..at + 32].copy_from_slice(&ino.to_ne_bytes());
            b[at + RECORD_HEAD..at + RECORD_HEAD + name.len()].copy_from_slice(name);
        }
        b
    }

    #[test]
    fn live_records_are_read_and_removed_ones_skipped() {
        let b = ledger(&[
            (LIVE, 1, b"/shm-a", (1, 2)),
            (REMOVED, 2, b"/mq-b", (3, 4)),
            (LIVE, 3, b"/tmp/fifo-c", (0, 0)),
        ]);
        let r = live_records(&b);
        assert_eq!(
            r,
            [
                Record {
                    kind: Kind::SharedMemory,
                    name: b"/shm-a".to_vec(),
                    id: (1, 2)
                },
                Record {
                    kind: Kind::Path,
                    name: b"/tmp/fifo-c".to_vec(),
                    id: (0, 0)
                }
            ]
        );
        assert_eq!(parse_hello(&hello(4242)), Some(4242));
    }

    #[test]
    fn a_record_cut_short_or_malformed_ends_the_ledger() {
        let good = ledger(&[(LIVE, 1, b"/a", (1, 1)), (LIVE, 1, b"/b", (2, 2))]);
        // Every prefix: at most the records that are whole.
        for len in 0..=good.len() {
            let r = live_records(&good[..len]);
            assert!(r.len() <= 2);
            for rec in &r {
                assert!(valid_name(&rec.name));
            }
        }
        // Every byte of the second record flipped to every value: never a panic, never a
        // name that cannot be unlinked, and the first record always stands.
        let second = HEADER + record_len(2);
        for i in second..good.len() {
            for v in 0..=255u8 {
                let mut f = good.clone();
                f[i] = v;
                let r = live_records(&f);
                assert_eq!(r[0].name, b"/a");
                assert!(r.iter().all(|rec| valid_name(&rec.name)));
            }
        }
        // A NUL in a name, an empty name, a name running past the end, a bad magic.
        assert!(live_records(&ledger(&[(LIVE, 1, b"a\0b", (0, 0))])).is_empty());
        assert!(live_records(&ledger(&[(LIVE, 1, b"", (0, 0))])).is_empty());
        let mut long = ledger(&[(LIVE, 1, b"/x", (0, 0))]);
        long[HEADER + 8..HEADER + 12].copy_from_slice(&u32::MAX.to_ne_bytes());
        assert!(live_records(&long).is_empty());
        let mut bad = good.clone();
        bad[0] = b'X';
        assert!(live_records(&bad).is_empty());
        assert!(parse_hello(b"MPT1\x01\x02\x03").is_none());
        assert!(parse_hello(b"XPT1\x01\x02\x03\x04").is_none());
    }
}
