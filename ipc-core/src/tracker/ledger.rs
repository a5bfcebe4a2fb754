//! A client's ledger: its live registrations, in a memfd that the tracker reads once the
//! client is gone (the layout is in [`super::wire`]). Registering and unregistering are stores
//! into this process's own memory: no system call, no message, no wake-up of the tracker.

use std::collections::HashMap;
use std::io;
use std::os::fd::BorrowedFd;
use std::sync::atomic::Ordering;

use super::Kind;
use super::wire::{self, HEADER, LIVE, MAGIC, RECORD_HEAD, REMOVED};
use crate::SharedMapping;

/// A new ledger's size: room for about a thousand registrations.
const FIRST_LEN: usize = 64 * 1024;

/// A registration's key: its kind and name.
type Key = (Kind, Vec<u8>);
/// Where a registration's record is, and the identity of its object.
type Entry = (usize, (u64, u64));

pub(crate) struct Ledger {
    /// A sealed memfd: its size never changes, so its atomics are safe.
    map: SharedMapping,
    /// Where the next record goes.
    end: usize,
    /// Each live registration, by kind and name: its record's offset and the object's identity.
    live: HashMap<Key, Entry>,
    /// The bytes the live records take.
    live_bytes: usize,
}

impl Ledger {
    pub(crate) fn new() -> io::Result<Ledger> {
        Self::with_len(FIRST_LEN)
    }

    fn with_len(len: usize) -> io::Result<Ledger> {
        let map = SharedMapping::memfd("multiproc-tracker-ledger", len)?;
        for (cell, b) in map.atomic_bytes(0, MAGIC.len()).iter().zip(MAGIC) {
            cell.store(*b, Ordering::Relaxed);
        }
        Ok(Ledger {
            map,
            end: HEADER,
            live: HashMap::new(),
            live_bytes: 0,
        })
    }

    /// The memfd, to hand to the tracker.
    pub(crate) fn fd(&self) -> BorrowedFd<'_> {
        self.map.fd().expect("a ledger is a memfd")
    }

    /// Records a registration (replacing one of the same kind and name). `Ok(true)` when the
    /// ledger moved to a larger memfd, which the tracker must be given.
    pub(crate) fn add(&mut self, kind: Kind, name: Vec<u8>, id: (u64, u64)) -> io::Result<bool> {
        self.remove(kind, &name);
        let need = wire::record_len(name.len());
        let moved = self.end + need > self.map.len();
        if moved {
            *self = self.rebuilt(need)?;
        }
        self.append(kind, name, id);
        Ok(moved)
    }

    /// Marks the registration of `name` removed; `false` when there was none.
    pub(crate) fn remove(&mut self, kind: Kind, name: &[u8]) -> bool {
        match self.live.remove(&(kind, name.to_vec())) {
            Some((at, _)) => {
                self.map.atomic_u32(at).store(REMOVED, Ordering::Release);
                self.live_bytes -= wire::record_len(name.len());
                true
            }
            None => false,
        }
    }

    /// Writes a record at the end: its fields first, its state last (a record cut short by
    /// this process's death reads as the end of the ledger).
    fn append(&mut self, kind: Kind, name: Vec<u8>, id: (u64, u64)) {
        let at = self.end;
        let m = &self.map;
        m.atomic_bytes(at + 4, 1)[0].store(wire::kind_byte(kind), Ordering::Relaxed);
        m.atomic_u32(at + 8)
            .store(name.len() as u32, Ordering::Relaxed);
        m.atomic_u64(at + 16).store(id.0, Ordering::Relaxed);
        m.atomic_u64(at + 24).store(id.1, Ordering::Relaxed);
        for (cell, b) in m
            .atomic_bytes(at + RECORD_HEAD, name.len())
            .iter()
            .zip(&name)
        {
            cell.store(*b, Ordering::Relaxed);
        }
        m.atomic_u32(at).store(LIVE, Ordering::Release);
        let len = wire::record_len(name.len());
        self.end += len;
        self.live_bytes += len;
        self.live.insert((kind, name), (at, id));
    }

    /// A new, larger ledger with the live records of this one and room for `extra` bytes.
    fn rebuilt(&self, extra: usize) -> io::Result<Ledger> {
        let len = ((HEADER + self.live_bytes + extra) * 2)
            .next_power_of_two()
            .max(FIRST_LEN);
        let mut next = Ledger::with_len(len)?;
        let mut live: Vec<_> = self.live.iter().collect();
        live.sort_by_key(|(_, (at, _))| *at);
        for ((kind, name), (_, id)) in live {
            next.append(*kind, name.clone(), *id);
        }
        Ok(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contents(l: &Ledger) -> Vec<wire::Record> {
        let mut b = vec![0u8; l.map.len()];
        l.map.read_at(0, &mut b).unwrap();
        wire::live_records(&b)
    }

    #[test]
    fn what_the_tracker_reads_is_what_is_live() {
        let mut l = Ledger::new().unwrap();
        assert!(!l.add(Kind::SharedMemory, b"/a".to_vec(), (1, 2)).unwrap());
        assert!(!l.add(Kind::Path, b"/tmp/b".to_vec(), (3, 4)).unwrap());
        assert!(l.remove(Kind::SharedMemory, b"/a"));
        assert!(!l.remove(Kind::SharedMemory, b"/a"));
        l.add(Kind::Path, b"/tmp/b".to_vec(), (5, 6)).unwrap(); // re-created: replaced
        let r = contents(&l);
        assert_eq!(r.len(), 1);
        assert_eq!(
            (r[0].kind, &r[0].name[..], r[0].id),
            (Kind::Path, &b"/tmp/b"[..], (5, 6))
        );
    }

    #[test]
    fn a_full_ledger_moves_to_a_larger_one_with_the_live_records() {
        let mut l = Ledger::new().unwrap();
        let name = |i: usize| format!("/name-{i:0200}").into_bytes();
        let mut moves = 0;
        for i in 0..2000 {
            if l.add(Kind::MessageQueue, name(i), (0, i as u64)).unwrap() {
                moves += 1;
            }
            if i % 2 == 1 {
                assert!(l.remove(Kind::MessageQueue, &name(i)));
            }
        }
        assert!(moves >= 1);
        let r = contents(&l);
        assert_eq!(r.len(), 1000);
        assert!(r.iter().all(|rec| rec.id.1 % 2 == 0));
    }
}
