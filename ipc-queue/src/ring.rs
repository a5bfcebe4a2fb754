//! The shared-memory ring under every queue of this crate, and its crash-safe protocol.
//!
//! One memfd mapping holds a [`Header`] of atomics (one page) and then a byte ring of
//! `cap` bytes (a power of two). Messages are *records*, 8-byte aligned, never straddling the
//! end of the ring:
//!
//! ```text
//! +---------------------------+------------------------------+
//! | len: u32 | kind: u32      | payload: len bytes, padded   |
//! +---------------------------+------------------------------+
//! ```
//!
//! `head` (bytes ever published) and `tail` (bytes ever consumed) only grow. A producer holds
//! the *put lock* (an `multiproc_sync::Lock`, which reports a holder that died), writes at `head`
//! into free space nobody reads, and then publishes with one release store (or
//! compare-exchange) of `head`: a producer killed before that leaves nothing visible, and the
//! next one writes over its bytes. A consumer holds the *get lock*, reads the record at `tail`,
//! and frees it with one store of `tail`: a consumer killed before that store leaves the
//! message for the next one.
//!
//! A message larger than a quarter of the ring goes as a `FIRST` record (with the total
//! length), `CONT` records and a `LAST` record, written under the put lock held throughout, so
//! the chunks of one message are contiguous in the ring. Each chunk is published with a
//! compare-exchange of `head` (a small message's record with a plain store), which fails only on
//! a consumer's *hand-back mark* (below).
//!
//! ## A get that runs out of time in the middle of a chunked message
//!
//! Every get ends at its deadline, whatever the producer does: it may be slow, or stopped
//! (SIGSTOP) half-way through a chunked message. The message must then survive, whole, for the
//! next get, which may be another process's. So:
//!
//! - A consumer reading a chunked message copies its chunks out but leaves them in the ring
//!   (`tail` stays at the `FIRST`) for as long as the producer has room for its next chunk. A
//!   get that runs out of time then simply returns `Empty`: the next get reads the message again
//!   from its `FIRST`. A message up to about three quarters of the ring is always received this
//!   way, by a `get_nowait` too, whatever the timeouts of the gets before.
//! - When the producer could not go on without the room those chunks take (a message larger
//!   than the ring), the consumer frees what it has read: it *commits* to the message, and frees
//!   each later chunk as it reads it. The front of the message now exists only in its memory,
//!   which no other process can use. If its time runs out before the `LAST`, it *hands the
//!   message back*: having read everything published, it sets the [`HANDED_BACK`] bit of `head`
//!   (a compare-exchange from the very `head` it read up to, so it wins only if nothing more was
//!   published; otherwise it reads on) and returns `Empty`. The producer's next compare-exchange
//!   of `head` fails on that bit: it clears the bit, takes back the count of a `LAST` it was
//!   publishing, and sends the message again from its `FIRST` (it still holds all of it: `put`
//!   has not returned). No chunk of the abandoned attempt is published after the mark, so the
//!   next get sees nothing torn and receives the message whole, once.
//!
//! Why not keep the front in the consumer for its own next get: another process's get may come
//! first, and could not finish that message; only the producer can send it again. The cost: a
//! message larger than the ring reaches only a get whose wait covers its whole transfer (a
//! `get_nowait` never commits, so never receives one; shorter timeouts make the producer send it
//! again each time).
//!
//! ## Dead producers and consumers
//!
//! The chunks of a producer that died half-way are abandoned. A consumer waiting for the rest
//! checks that the producer lives ([`PRODUCER_CHECK_FIRST`] after it starts waiting, then at
//! doubling intervals up to [`PRODUCER_CHECK_MAX`]) by trying the put lock, whose failed try
//! checks its holder's liveness; it drops the partial message when it takes the lock over
//! itself, when `in_message` is cleared by whoever else took it over, or when a new message
//! starts. A consumer that died half-way through reading a chunked message leaves it whole in
//! the ring for the next consumer if it had not committed; otherwise the next consumer skips its
//! remaining chunks (`CONT`/`LAST` with no `FIRST`) and the message is lost with the consumer.
//!
//! Counts: `items_put` and `items_got`. A producer's commit writes `pending_head` and
//! `pending_items` before `items_put` and `head`, so whoever takes over from a dead producer can
//! tell whether its last commit was published (`head >= pending_head`) and put `items_put` right.
//!
//! Waiting: only the holder of the put (get) lock ever sleeps for space (data), on the
//! `space` (`data`) [`WaitWord`] of the header, after a bounded spin; the other side notifies it,
//! which costs a fence and a load unless someone sleeps. A consumer waiting for the
//! rest of a chunked message sleeps in slices, to check its producer between them.

use std::cell::Cell;
use std::io;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use multiproc_core::Deadline;
use multiproc_core::futex::{Spin, WaitWord};
use multiproc_core::heap::{Kind, Refusal, Spec, TypedMapping, TypedMappingSeed};
use multiproc_core::transfer;
use multiproc_sync::{Lock, LockGuard, TryLockError};
use serde::de::{Error as _, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Marks a page as a queue ring (and its layout and protocol version: 2 added the hand-back
/// mark of `head`).
/// What the mapping holds, in its typed header (version 3: the waits are `WaitWord`s, the locks
/// are guards recorded in the header; 4: a `WaitWord` is 16 bytes, with what its spin learnt).
const KIND: Kind = Kind::new(*b"QRng");
const VERSION: u16 = 4;
/// Where the typed header puts the payload (the `Header` below): after its own 40 bytes and
/// two guards, at 64-byte alignment.
const PAYLOAD_START: usize = 128;
/// Bytes before the ring: the header page.
const DATA: usize = 4096;
/// Record header bytes.
const REC: u64 = 8;

const KIND_SINGLE: u32 = 1;
const KIND_FIRST: u32 = 2;
const KIND_CONT: u32 = 3;
const KIND_LAST: u32 = 4;
const KIND_WRAP: u32 = 5;

/// The default ring size: 1 MiB.
pub(crate) const DEFAULT_BUFFER: usize = 1 << 20;
/// The smallest ring.
pub(crate) const MIN_BUFFER: usize = 4096;

/// The longest a waiter spins (re-checking, with `pause`) before it sleeps on the futex: the
/// budget of [`Spin::Adaptive`], which spins only while spinning pays.
const SPIN: Duration = Duration::from_micros(50);
/// A consumer waiting for the rest of a chunked message first checks that its producer lives
/// this long after it starts waiting, then at doubling intervals up to [`PRODUCER_CHECK_MAX`]:
/// a dead producer is noticed within about 10 ms.
const PRODUCER_CHECK_FIRST: Duration = Duration::from_millis(1);
/// The longest a consumer waits for the rest of a chunked message without checking its producer.
const PRODUCER_CHECK_MAX: Duration = Duration::from_millis(8);

/// The bit of `head` by which a consumer hands the chunked message in flight back to its
/// producer (see the module docs). Positions never reach it (2^63 bytes).
const HANDED_BACK: u64 = 1 << 63;

/// The shared state, at offset 0 of the mapping. Each group sits on a cache line of its own.
#[repr(C, align(64))]
struct Header {
    _reserved: AtomicU32,
    closed: AtomicU32,
    cap: AtomicU64,
    maxsize: AtomicU64,
    _pad0: [u64; 5],
    // Producer line (written under the put lock).
    head: AtomicU64,
    items_put: AtomicU64,
    pending_head: AtomicU64,
    pending_items: AtomicU64,
    in_message: AtomicU32,
    _pad1: [u32; 7],
    // Consumer line (written under the get lock).
    tail: AtomicU64,
    items_got: AtomicU64,
    _pad2: [u64; 6],
    /// Where the get-lock holder sleeps for data.
    data: WaitWord,
    _pad3: [u32; 12],
    /// Where the put-lock holder sleeps for space.
    space: WaitWord,
    _pad4: [u32; 12],
    // JoinableQueue.
    tasks_done: AtomicU64,
    /// Where joiners sleep until every item is done.
    joined: WaitWord,
}

static_assertions::const_assert!(std::mem::size_of::<Header>() <= DATA - PAYLOAD_START);
static_assertions::const_assert_eq!(std::mem::align_of::<Header>(), 64);

/// How long an operation may wait, as its caller said it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Timeout {
    /// Not at all.
    No,
    /// This long from the call.
    After(Duration),
    /// As long as it takes.
    Forever,
}

/// A wait's deadline, worked out (one clock read) the first time the operation has to wait: a
/// `put` or `get` that finds room or an item at once reads no clock.
pub(crate) struct Wait {
    timeout: Timeout,
    at: Cell<Option<Deadline>>,
}

impl Wait {
    pub(crate) fn new(timeout: Timeout) -> Wait {
        let timeout = match timeout {
            Timeout::After(d) if d.is_zero() => Timeout::No,
            t => t,
        };
        Wait {
            timeout,
            at: Cell::new(None),
        }
    }

    /// The deadline, from the first call on.
    pub(crate) fn deadline(&self) -> Deadline {
        match self.timeout {
            Timeout::No => Deadline::No,
            Timeout::Forever => Deadline::Forever,
            Timeout::After(d) => {
                if let Some(at) = self.at.get() {
                    return at;
                }
                let at = Deadline::after(d);
                self.at.set(Some(at));
                at
            }
        }
    }
}

/// Why a put did not happen.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum PutFail {
    Full,
    Closed,
}

/// Why a get returned nothing.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum GetFail {
    Empty,
    Closed,
}

/// How far a get has gone: it has read up to `pos`, and freed (`tail`) up to `pos` too, except
/// while it keeps the chunks of a message it has not committed to in the ring.
struct Reading {
    pos: u64,
    /// The chunked message read so far.
    partial: Option<Vec<u8>>,
    /// Whether the front of `partial` was freed, so that it exists only here.
    committed: bool,
}

/// What a get found in a record.
enum Record {
    /// A small message, its payload at `off + 8`, `len` bytes; the record ends at `end`.
    Single { off: u64, len: u64, end: u64 },
    /// The last chunk of a message: the whole of it.
    Whole(Vec<u8>),
    /// Nothing to return yet.
    Next,
}

/// How a wait for the rest of a chunked message ended.
enum Rest {
    /// More was published.
    More,
    /// The message is abandoned (its producer died, or unwound out of `put`).
    Dropped,
    /// The deadline struck.
    TimedOut,
}

/// The ring: the mapping and its two locks.
pub(crate) struct Ring {
    map: TypedMapping,
    put_lock: Lock,
    get_lock: Lock,
    cap: u64,
    /// The `tail` this process's producers last read, and the `items_got`: both only grow, so
    /// the room they show is never more than there is, and a `put` reads the consumers' cache
    /// line only when they show too little (written and read under the put lock).
    seen: Seen,
}

#[derive(Default)]
struct Seen {
    tail: AtomicU64,
    items_got: AtomicU64,
}

/// The typed header's spec for a ring of `cap` bytes: the `Header` page, then the ring.
fn spec(cap: u64) -> Option<Spec> {
    let size = usize::try_from(cap)
        .ok()?
        .checked_add(DATA - PAYLOAD_START)?;
    Some(Spec {
        kind: KIND,
        version: VERSION,
        size,
        align: 64,
        layout: multiproc_core::heap::type_tag::<Header>(),
    })
}

/// A ring on the wire: its size, the mapping (its memfd out of band), and the two locks, which
/// must be the ones the mapping's header names.
impl Serialize for Ring {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        (self.cap, &self.map, &self.put_lock, &self.get_lock).serialize(s)
    }
}

impl<'de> Deserialize<'de> for Ring {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Ring;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a queue ring")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Ring, A::Error> {
                let missing = |i| A::Error::invalid_length(i, &"a ring and its two locks");
                let cap: u64 = seq.next_element()?.ok_or_else(|| missing(0))?;
                if !cap.is_power_of_two() || cap < MIN_BUFFER as u64 {
                    return Err(A::Error::custom(format!("a queue ring of {cap} bytes")));
                }
                let spec = spec(cap).ok_or_else(|| A::Error::custom("queue ring too large"))?;
                let map = seq
                    .next_element_seed(TypedMappingSeed(&spec))?
                    .ok_or_else(|| missing(1))?;
                let put_lock: Lock = seq.next_element()?.ok_or_else(|| missing(2))?;
                let get_lock: Lock = seq.next_element()?.ok_or_else(|| missing(3))?;
                if map.guards() != [put_lock.id(), get_lock.id()] {
                    return Err(transfer::fail_de(multiproc_core::Error::Refused(
                        Refusal::WrongGuard,
                    )));
                }
                let ring = Ring {
                    map,
                    put_lock,
                    get_lock,
                    cap,
                    seen: Seen::default(),
                };
                if ring.hdr().cap.load(Ordering::Relaxed) != cap {
                    return Err(transfer::fail_de(multiproc_core::Error::Refused(
                        Refusal::WrongLayout,
                    )));
                }
                Ok(ring)
            }
        }
        d.deserialize_tuple(4, V)
    }
}

fn align8(n: u64) -> u64 {
    (n + 7) & !7
}

impl Ring {
    /// A ring of `buffer` bytes (rounded up to a power of two) holding at most `maxsize` items
    /// (0: no limit but the buffer).
    pub(crate) fn new(maxsize: usize, buffer: usize) -> io::Result<Ring> {
        let cap = buffer
            .max(MIN_BUFFER)
            .checked_next_power_of_two()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "queue buffer too large"))?;
        let too_large = || io::Error::new(io::ErrorKind::InvalidInput, "queue buffer too large");
        let spec = spec(cap as u64).ok_or_else(too_large)?;
        let (put_lock, get_lock) = (Lock::new()?, Lock::new()?);
        let map = TypedMapping::new("multiproc-queue", &spec, &[put_lock.id(), get_lock.id()])?;
        let ring = Ring {
            map,
            put_lock,
            get_lock,
            cap: cap as u64,
            seen: Seen::default(),
        };
        let h = ring.hdr();
        h.cap.store(cap as u64, Ordering::Relaxed);
        h.maxsize.store(maxsize as u64, Ordering::Release);
        Ok(ring)
    }

    #[inline]
    fn hdr(&self) -> &Header {
        // SAFETY: the payload starts 64-aligned with `DATA - PAYLOAD_START >= size_of::<Header>()`
        // bytes before the ring (the spec, checked on construction and deserialisation);
        // `Header` is all atomics (and padding integers never read), valid for any bytes, and
        // meant for concurrent access; the mapping lives as long as `self`.
        unsafe { self.map.payload().cast::<Header>().as_ref() }
    }

    #[inline]
    fn data(&self) -> *mut u8 {
        // SAFETY: the ring starts `DATA - PAYLOAD_START` bytes into the payload, whose length is
        // that plus `cap` (the spec).
        unsafe { self.map.payload().as_ptr().add(DATA - PAYLOAD_START) }
    }

    pub(crate) fn capacity(&self) -> usize {
        self.cap as usize
    }

    pub(crate) fn maxsize(&self) -> usize {
        self.hdr().maxsize.load(Ordering::Relaxed) as usize
    }

    /// The largest payload sent as one record; longer ones are chunked.
    fn max_chunk(&self) -> u64 {
        self.cap / 4 - REC
    }

    pub(crate) fn qsize(&self) -> usize {
        let h = self.hdr();
        let got = h.items_got.load(Ordering::Acquire);
        let put = h.items_put.load(Ordering::Acquire);
        put.saturating_sub(got) as usize
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.head() == self.hdr().tail.load(Ordering::Acquire)
    }

    /// `head` without the hand-back mark.
    #[inline]
    fn head(&self) -> u64 {
        self.hdr().head.load(Ordering::Acquire) & !HANDED_BACK
    }

    pub(crate) fn is_full(&self) -> bool {
        let max = self.maxsize();
        if max > 0 {
            return self.qsize() >= max;
        }
        let h = self.hdr();
        let used = self.head() - h.tail.load(Ordering::Acquire);
        self.cap - used < REC + 8
    }

    pub(crate) fn close(&self) {
        let h = self.hdr();
        h.closed.store(1, Ordering::SeqCst);
        h.data.notify_all();
        h.space.notify_all();
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.hdr().closed.load(Ordering::Acquire) != 0
    }

    pub(crate) fn same(&self, other: &Ring) -> bool {
        self.put_lock.same_as(&other.put_lock)
    }

    // ---- waiting ------------------------------------------------------------------------

    /// Waits on `word` until `ready()`: spins [`SPIN`], then sleeps; gives up at `wait`'s
    /// deadline (or after `cap`, when given). Returns `ready()`.
    fn wait_on(
        word: &WaitWord,
        mut ready: impl FnMut() -> bool,
        wait: &Wait,
        cap: Option<Duration>,
    ) -> bool {
        if ready() {
            return true;
        }
        let deadline = cap.map_or(wait.deadline(), |c| wait.deadline().capped(c));
        word.wait_until(ready, deadline, Spin::Adaptive(SPIN))
    }

    /// Takes `lock`; the deadline is worked out only when it is held by someone else.
    fn lock<'a>(lock: &'a Lock, wait: &Wait) -> Option<(LockGuard<'a>, bool)> {
        let r = match wait.timeout {
            Timeout::Forever => lock
                .lock()
                .map_err(|d| TryLockError::OwnerDied(d.into_inner())),
            Timeout::No => lock.try_lock(),
            Timeout::After(_) => match lock.is_locked() {
                // Free a moment ago: the uncontended compare-exchange, no clock.
                false => match lock.try_lock() {
                    Err(TryLockError::Timeout) => Self::lock_until(lock, wait),
                    r => r,
                },
                true => Self::lock_until(lock, wait),
            },
        };
        match r {
            Ok(g) => Some((g, false)),
            Err(TryLockError::OwnerDied(g)) => Some((g, true)),
            Err(TryLockError::Timeout) => None,
        }
    }

    #[cold]
    fn lock_until<'a>(
        lock: &'a Lock,
        wait: &Wait,
    ) -> Result<LockGuard<'a>, TryLockError<LockGuard<'a>>> {
        match wait.deadline().left() {
            Some(Some(left)) => lock.lock_timeout(left),
            _ => lock.try_lock(),
        }
    }

    /// Repairs what a producer that died holding the put lock left: the item count of a
    /// commit it had not published, a chunked message it had not finished.
    pub(crate) fn recover_put(&self) {
        let h = self.hdr();
        // A hand-back mark was meant for the dead producer: nobody will send its message again.
        let head = h.head.fetch_and(!HANDED_BACK, Ordering::AcqRel) & !HANDED_BACK;
        let pending = h.pending_head.load(Ordering::Relaxed);
        if head < pending {
            let n = h.pending_items.load(Ordering::Relaxed);
            h.items_put.store(n.saturating_sub(1), Ordering::Release);
            h.pending_head.store(head, Ordering::Relaxed);
        }
        if h.in_message.swap(0, Ordering::SeqCst) != 0 {
            // A consumer may wait for the rest of that message: let it see it is abandoned.
            h.data.notify_all();
        }
    }

    // ---- producing ----------------------------------------------------------------------

    /// Where position `pos` (a `head` or `tail`) falls in the ring: always 8-aligned and at
    /// least 8 bytes from the end, whatever `pos` holds. `head` and `tail` live in shared memory
    /// that any holder of the mapping can write; a forged value may make the queue return
    /// garbage, but never makes a copy leave the ring.
    fn offset(&self, pos: u64) -> u64 {
        pos & (self.cap - 1) & !7
    }

    /// Bytes a record of `rec` bytes takes at `head`, counting the skip to the start.
    fn need(&self, head: u64, rec: u64) -> u64 {
        let off = self.offset(head);
        if off + rec > self.cap {
            rec + (self.cap - off)
        } else {
            rec
        }
    }

    #[inline]
    fn space_ok(&self, rec: u64, new_item: bool) -> bool {
        let h = self.hdr();
        if new_item && h.closed.load(Ordering::Relaxed) != 0 {
            return true;
        }
        let head = self.head();
        let need = self.need(head, rec);
        // `tail <= head` unless the header was forged; then the queue may return garbage, but
        // no position leaves the ring (`offset`), and nothing here overflows.
        let room = |tail: u64| self.cap.saturating_sub(head.saturating_sub(tail));
        if room(self.seen.tail.load(Ordering::Relaxed)) < need {
            let tail = h.tail.load(Ordering::Acquire);
            self.seen.tail.store(tail, Ordering::Relaxed);
            if room(tail) < need {
                return false;
            }
        }
        let max = h.maxsize.load(Ordering::Relaxed);
        if !new_item || max == 0 {
            return true;
        }
        let put = h.items_put.load(Ordering::Relaxed);
        if put.saturating_sub(self.seen.items_got.load(Ordering::Relaxed)) < max {
            return true;
        }
        let got = h.items_got.load(Ordering::Acquire);
        self.seen.items_got.store(got, Ordering::Relaxed);
        put.saturating_sub(got) < max
    }

    fn wait_space(&self, rec: u64, new_item: bool, wait: &Wait) -> bool {
        let h = self.hdr();
        Self::wait_on(&h.space, || self.space_ok(rec, new_item), wait, None)
    }

    /// Writes a record at `head` (after a skip record when it would straddle the end);
    /// returns the head after it. The caller holds the put lock and checked the space.
    fn write_record(&self, mut head: u64, kind: u32, prefix: &[u8], body: &[u8]) -> u64 {
        let len = (prefix.len() + body.len()) as u64;
        let rec = REC + align8(len);
        let mut off = self.offset(head);
        if off + rec > self.cap {
            let skip = ((KIND_WRAP as u64) << 32).to_le_bytes();
            // `off + 8 <= cap`: `offset` makes `off` 8-aligned below `cap`, a power of two
            // >= MIN_BUFFER (checked in `from_wire`). The bytes are free space (checked by the
            // caller, who holds the put lock), which no consumer reads before `head` passes them.
            // SAFETY: so the 8-byte write stays inside the ring and races with no reader.
            unsafe {
                std::ptr::copy_nonoverlapping(skip.as_ptr(), self.data().add(off as usize), 8)
            };
            head += self.cap - off;
            off = 0;
        }
        let hdr = (len | ((kind as u64) << 32)).to_le_bytes();
        // `off + rec <= cap`: ensured just above (`rec` is at most a chunk, a quarter of `cap`,
        // so it fits at offset 0). The range is free space that only the put-lock holder writes.
        // SAFETY: so the copies stay inside the ring, and nobody reads them before `head` does.
        unsafe {
            let p = self.data().add(off as usize);
            std::ptr::copy_nonoverlapping(hdr.as_ptr(), p, 8);
            std::ptr::copy_nonoverlapping(prefix.as_ptr(), p.add(8), prefix.len());
            std::ptr::copy_nonoverlapping(body.as_ptr(), p.add(8 + prefix.len()), body.len());
        }
        head + rec
    }

    /// Publishes bytes up to `new_head`; with `item`, counts one more message.
    fn publish(&self, new_head: u64, item: bool) {
        let h = self.hdr();
        if item {
            let n = h.items_put.load(Ordering::Relaxed) + 1;
            h.pending_head.store(new_head, Ordering::Relaxed);
            h.pending_items.store(n, Ordering::Relaxed);
            h.items_put.store(n, Ordering::Release);
        }
        // A plain store: a hand-back mark it may overwrite was left for a chunked message no
        // longer in flight (the put lock is held, and this is no chunk).
        h.head.store(new_head, Ordering::SeqCst);
        h.data.notify_one();
    }

    /// Publishes a chunk written from `old` up to `new`; with `item` (a `LAST`), counts its
    /// message. `false` when a consumer handed the message back: nothing is published or
    /// counted, and the mark is cleared.
    fn publish_chunk(&self, old: u64, new: u64, item: bool) -> bool {
        let h = self.hdr();
        let n = h.items_put.load(Ordering::Relaxed) + 1;
        if item {
            h.pending_head.store(new, Ordering::Relaxed);
            h.pending_items.store(n, Ordering::Relaxed);
            h.items_put.store(n, Ordering::Release);
        }
        if h.head
            .compare_exchange(old, new, Ordering::SeqCst, Ordering::Relaxed)
            .is_err()
        {
            // Only the mark makes it fail (the put lock is held). A producer that dies in here
            // leaves `head < pending_head`, which `recover_put` reads as "not counted".
            if item {
                h.items_put.store(n - 1, Ordering::SeqCst);
                h.pending_head.store(old, Ordering::Relaxed);
                // A joiner may have seen the count that is now taken back.
                self.wake_joiners();
            }
            h.head.store(old, Ordering::Release);
            return false;
        }
        h.data.notify_one();
        true
    }

    /// Puts one message. `Full` when the wait ran out before there was room (or the put lock
    /// was free).
    pub(crate) fn put(&self, payload: &[u8], wait: &Wait) -> Result<(), PutFail> {
        let Some((_guard, died)) = Self::lock(&self.put_lock, wait) else {
            return Err(PutFail::Full);
        };
        if died {
            self.recover_put();
        }
        self.put_locked(payload, wait)
    }

    /// [`put`](Self::put) for a caller that holds the put lock (and repaired what a dead
    /// holder left, [`recover_put`](Self::recover_put)).
    #[inline]
    pub(crate) fn put_locked(&self, payload: &[u8], wait: &Wait) -> Result<(), PutFail> {
        let h = self.hdr();
        if h.closed.load(Ordering::Acquire) != 0 {
            return Err(PutFail::Closed);
        }
        let len = payload.len() as u64;
        let max = self.max_chunk();
        if len <= max {
            let rec = REC + align8(len);
            if !self.wait_space(rec, true, wait) {
                return Err(PutFail::Full);
            }
            // `wait_space` also returns when the queue was closed meanwhile.
            if h.closed.load(Ordering::Acquire) != 0 {
                return Err(PutFail::Closed);
            }
            let head = self.write_record(self.head(), KIND_SINGLE, &[], payload);
            self.publish(head, true);
            return Ok(());
        }
        // Chunked: FIRST (with the total length), CONT..., LAST; the put lock is held
        // throughout, so the chunks are contiguous.
        if !self.wait_space(REC + max, true, wait) {
            return Err(PutFail::Full);
        }
        if h.closed.load(Ordering::Acquire) != 0 {
            return Err(PutFail::Closed);
        }
        h.in_message.store(1, Ordering::Release);
        // Once part of a message is out, the rest follows whatever the timeout (a consumer
        // would otherwise hold a partial message); closing does not stop it either. A consumer
        // that ran out of time half-way hands it back: send it again, whole.
        while !self.send_chunks(payload) {}
        h.in_message.store(0, Ordering::Release);
        Ok(())
    }

    /// Sends `payload` (longer than a chunk) as `FIRST`, `CONT`..., `LAST`. `false` when a
    /// consumer handed it back half-way: nothing more of it was published.
    fn send_chunks(&self, payload: &[u8]) -> bool {
        let max = self.max_chunk();
        let first = (max - 8) as usize;
        // Room for the FIRST: `put` saw it the first time; after a hand-back the consumer has
        // freed all it read.
        self.wait_space(REC + max, false, &Wait::new(Timeout::Forever));
        let old = self.head();
        let total = (payload.len() as u64).to_le_bytes();
        let new = self.write_record(old, KIND_FIRST, &total, &payload[..first]);
        if !self.publish_chunk(old, new, false) {
            return false;
        }
        let mut rest = &payload[first..];
        while !rest.is_empty() {
            let n = rest.len().min(max as usize);
            let last = n == rest.len();
            self.wait_space(REC + align8(n as u64), false, &Wait::new(Timeout::Forever));
            let kind = if last { KIND_LAST } else { KIND_CONT };
            let old = self.head();
            let new = self.write_record(old, kind, &[], &rest[..n]);
            if !self.publish_chunk(old, new, last) {
                return false;
            }
            rest = &rest[n..];
        }
        true
    }

    // ---- consuming ----------------------------------------------------------------------

    fn read_u64(&self, off: u64) -> u64 {
        assert!(off + 8 <= self.cap, "ring offset {off} out of bounds");
        let mut b = [0u8; 8];
        // SAFETY: `off + 8 <= cap` (8-aligned offsets); the bytes are published (below `head`)
        // and not freed (at or above `tail`, which only the get-lock holder — the caller —
        // moves), so no producer writes them.
        unsafe { std::ptr::copy_nonoverlapping(self.data().add(off as usize), b.as_mut_ptr(), 8) };
        u64::from_le_bytes(b)
    }

    /// The published payload at `off`, `len` bytes.
    ///
    /// # Safety
    /// The caller holds the get lock and the record is published and not yet freed.
    unsafe fn payload(&self, off: u64, len: u64) -> &[u8] {
        // SAFETY: records never straddle the end (`off + 8 + len <= cap`, checked by the
        // caller); the bytes are published and not freed, so nobody writes them meanwhile.
        unsafe { std::slice::from_raw_parts(self.data().add(off as usize + 8), len as usize) }
    }

    fn free_to(&self, tail: u64) {
        let h = self.hdr();
        h.tail.store(tail, Ordering::SeqCst);
        h.space.notify_one();
    }

    fn took_item(&self) {
        let h = self.hdr();
        h.items_got
            .store(h.items_got.load(Ordering::Relaxed) + 1, Ordering::Release);
    }

    /// Takes one message and hands its payload to `take`.
    pub(crate) fn get<R>(&self, wait: &Wait, take: impl FnMut(&[u8]) -> R) -> Result<R, GetFail> {
        let Some((_guard, died)) = Self::lock(&self.get_lock, wait) else {
            return Err(GetFail::Empty);
        };
        // A dead holder may have left itself counted as a sleeper on `data`: that only costs a
        // spare wake-up now and then, never a lost one.
        let _ = died;
        self.get_locked(wait, take)
    }

    /// [`get`](Self::get) for a caller that holds the get lock.
    #[inline]
    pub(crate) fn get_locked<R>(
        &self,
        wait: &Wait,
        mut take: impl FnMut(&[u8]) -> R,
    ) -> Result<R, GetFail> {
        let h = self.hdr();
        let mut r = Reading {
            pos: h.tail.load(Ordering::Relaxed),
            partial: None,
            committed: false,
        };
        loop {
            let marked = h.head.load(Ordering::Acquire);
            let head = marked & !HANDED_BACK;
            if head == r.pos {
                if r.partial.is_some() || marked & HANDED_BACK != 0 {
                    // A chunked message is in flight: the rest of it, or all of it again.
                    self.wait_for_rest(&mut r, wait)?;
                    continue;
                }
                if h.closed.load(Ordering::Acquire) != 0 && self.head() == r.pos {
                    return Err(GetFail::Closed);
                }
                let pos = r.pos;
                let ready = || self.head() != pos || h.closed.load(Ordering::Acquire) != 0;
                if !Self::wait_on(&h.data, ready, wait, None) {
                    return Err(GetFail::Empty);
                }
                continue;
            }
            match self.read_record(&mut r, head) {
                Record::Single { off, len, end } => {
                    // SAFETY: the get lock is held; the record is published, in bounds
                    // (checked by `read_record`) and not freed.
                    let out = take(unsafe { self.payload(off, len) });
                    self.took_item();
                    // Frees with it the chunks of a dead producer's message kept before it.
                    self.free_to(end);
                    return Ok(out);
                }
                Record::Whole(buf) => return Ok(take(&buf)),
                Record::Next => {}
            }
        }
    }

    /// Reads the record at `r.pos` (published: below `head`).
    fn read_record(&self, r: &mut Reading, head: u64) -> Record {
        let off = self.offset(r.pos);
        let word = self.read_u64(off);
        let kind = (word >> 32) as u32;
        let len = word & 0xffff_ffff;
        if kind == KIND_WRAP {
            self.advance(r, r.pos + (self.cap - off));
            return Record::Next;
        }
        let rec = REC + align8(len);
        let end = r.pos + rec;
        if off + rec > self.cap || end > head {
            // Never written by a producer of ours: drop everything published.
            *r = Reading {
                pos: head,
                partial: None,
                committed: false,
            };
            self.free_to(head);
            return Record::Next;
        }
        match kind {
            KIND_SINGLE => return Record::Single { off, len, end },
            KIND_FIRST if len >= 8 => {
                if r.partial.is_some() {
                    // A new message: the one before was a dead producer's, abandoned.
                    self.free_to(r.pos);
                }
                let total = self.read_u64(off + 8);
                let mut buf = Vec::with_capacity(total.min(1 << 30) as usize);
                // SAFETY: the get lock is held; the record is published, in bounds and not
                // freed.
                buf.extend_from_slice(unsafe { &self.payload(off, len)[8..] });
                r.partial = Some(buf);
                r.committed = false;
                self.advance(r, end);
            }
            KIND_CONT => {
                if let Some(buf) = r.partial.as_mut() {
                    // SAFETY: as above.
                    buf.extend_from_slice(unsafe { self.payload(off, len) });
                }
                self.advance(r, end);
            }
            KIND_LAST => {
                self.took_item();
                let whole = r.partial.take().map(|mut buf| {
                    // SAFETY: as above (freed only below).
                    buf.extend_from_slice(unsafe { self.payload(off, len) });
                    buf
                });
                r.committed = false;
                self.advance(r, end);
                // Without a FIRST, the end of a message whose reader died: it was counted, so
                // it is counted out.
                if let Some(buf) = whole {
                    return Record::Whole(buf);
                }
            }
            _ => self.advance(r, end),
        }
        Record::Next
    }

    /// Moves the get past a record that ends at `end`, freeing it unless it belongs to a
    /// chunked message kept in the ring.
    fn advance(&self, r: &mut Reading, end: u64) {
        r.pos = end;
        if r.partial.is_none() || r.committed {
            self.free_to(end);
        }
    }

    /// At the end of what is published, with a chunked message in flight (the get holds its
    /// front, or it was handed back and not yet sent again): waits for more until `wait`'s
    /// deadline. `Err(Empty)` when the time ran out, the message left in the ring or handed
    /// back.
    fn wait_for_rest(&self, r: &mut Reading, wait: &Wait) -> Result<(), GetFail> {
        if r.partial.is_some()
            && !r.committed
            && wait.deadline().left().is_some()
            && self.producer_needs_room(r.pos)
        {
            // The producer cannot go on unless the get frees what it read: commit.
            r.committed = true;
            self.free_to(r.pos);
        }
        match self.wait_rest(r.pos, wait) {
            Rest::More => Ok(()),
            Rest::Dropped => {
                // Its producer died: drop it, as an unpublished small message is.
                r.partial = None;
                r.committed = false;
                self.free_to(r.pos);
                Ok(())
            }
            // Nothing held, or all of it still in the ring for the next get.
            Rest::TimedOut if !r.committed => Err(GetFail::Empty),
            Rest::TimedOut => {
                if self.hand_back(r.pos) {
                    r.partial = None;
                    Err(GetFail::Empty)
                } else {
                    // More was published meanwhile: read it first.
                    Ok(())
                }
            }
        }
    }

    /// Whether the producer, writing a chunk at `pos` (the head), might lack room for it unless
    /// the get frees the chunks it keeps.
    fn producer_needs_room(&self, pos: u64) -> bool {
        let tail = self.hdr().tail.load(Ordering::Relaxed);
        self.cap - (pos - tail) < self.need(pos, REC + self.max_chunk())
    }

    /// Waits until `wait`'s deadline for more to be published after `pos` (the head), checking
    /// now and then that the producer of the message in flight lives.
    fn wait_rest(&self, pos: u64, wait: &Wait) -> Rest {
        let h = self.hdr();
        let mut interval = PRODUCER_CHECK_FIRST;
        loop {
            let ready = || self.head() != pos || h.in_message.load(Ordering::Acquire) == 0;
            let woke = Self::wait_on(&h.data, ready, wait, Some(interval));
            if self.head() != pos {
                return Rest::More;
            }
            if !woke {
                if wait.deadline().is_over() {
                    return Rest::TimedOut;
                }
                if !self.producer_gone(pos) {
                    interval = (interval * 2).min(PRODUCER_CHECK_MAX);
                    continue;
                }
            }
            // `in_message` cleared, or the producer gone, with nothing more published: the
            // message is abandoned, and a hand-back mark left for it is void.
            let _ = h.head.compare_exchange(
                pos | HANDED_BACK,
                pos,
                Ordering::Relaxed,
                Ordering::Relaxed,
            );
            return Rest::Dropped;
        }
    }

    /// Whether the producer of the message in flight is gone: its put lock could be taken (over
    /// from a dead holder, whose state is repaired, or free: a `put` that unwound) with nothing
    /// more published. A failed try checks the holder's liveness (rate-limited by the lock).
    fn producer_gone(&self, pos: u64) -> bool {
        let guard = match self.put_lock.try_lock() {
            Ok(g) => g,
            Err(TryLockError::OwnerDied(g)) => {
                self.recover_put();
                g
            }
            Err(TryLockError::Timeout) => return false,
        };
        let gone = self.head() == pos;
        if gone {
            self.hdr().in_message.store(0, Ordering::Release);
        }
        drop(guard);
        gone
    }

    /// Hands the chunked message in flight back to its producer (see the module docs); the get
    /// has read and freed everything published, up to `pos`. `false` when more was published
    /// meanwhile.
    fn hand_back(&self, pos: u64) -> bool {
        match self.hdr().head.compare_exchange(
            pos,
            pos | HANDED_BACK,
            Ordering::AcqRel,
            Ordering::Acquire,
        ) {
            Ok(_) => true,
            Err(now) => now == pos | HANDED_BACK,
        }
    }

    // ---- async (feature `tokio`) ---------------------------------------------------------

    /// The put lock (a future's put takes it with `lock_async`).
    #[cfg(feature = "tokio")]
    pub(crate) fn put_lock(&self) -> &Lock {
        &self.put_lock
    }

    /// The get lock.
    #[cfg(feature = "tokio")]
    pub(crate) fn get_lock(&self) -> &Lock {
        &self.get_lock
    }

    /// Where the get-lock holder waits for data.
    #[cfg(feature = "tokio")]
    pub(crate) fn data_word(&self) -> &WaitWord {
        &self.hdr().data
    }

    /// Where the put-lock holder waits for room.
    #[cfg(feature = "tokio")]
    pub(crate) fn space_word(&self) -> &WaitWord {
        &self.hdr().space
    }

    /// Where joiners wait.
    #[cfg(feature = "tokio")]
    pub(crate) fn joined_word(&self) -> &WaitWord {
        &self.hdr().joined
    }

    /// `head` with its hand-back mark: what a future's get waits to see change.
    #[cfg(feature = "tokio")]
    pub(crate) fn head_marked(&self) -> u64 {
        self.hdr().head.load(Ordering::Acquire)
    }

    /// Whether a get holding the get lock, having found nothing whole, has a chunked message
    /// in flight before it (published in part, or handed back).
    #[cfg(feature = "tokio")]
    pub(crate) fn message_in_flight(&self) -> bool {
        let h = self.hdr();
        let marked = h.head.load(Ordering::Acquire);
        marked & HANDED_BACK != 0 || marked & !HANDED_BACK != h.tail.load(Ordering::Acquire)
    }

    /// Whether a future's put (holding the put lock) of a `len`-byte payload can go through
    /// now without waiting (or the queue was closed): room for the whole of it, chunks and the
    /// skips at the end of the ring included, so that a chunked message never makes the
    /// polling thread wait for consumers; a message that can never fit whole waits for an
    /// empty ring, then is streamed as by `put`.
    #[cfg(feature = "tokio")]
    pub(crate) fn room_for(&self, len: usize) -> bool {
        let len = len as u64;
        let max = self.max_chunk();
        if len <= max {
            return self.space_ok(REC + align8(len), true);
        }
        if !self.space_ok(REC + max, true) {
            return false;
        }
        let h = self.hdr();
        if h.closed.load(Ordering::Relaxed) != 0 {
            return true;
        }
        // FIRST carries 8 bytes of length; every record may need a skip before it.
        let chunks = (len + 8).div_ceil(max);
        let whole = chunks.saturating_mul(REC + max) + (REC + max);
        let used = self.head().saturating_sub(h.tail.load(Ordering::Acquire));
        self.cap.saturating_sub(used) >= whole.min(self.cap)
    }

    // ---- JoinableQueue ------------------------------------------------------------------

    /// Counts one finished task; `false` when every item taken so far was already finished.
    pub(crate) fn task_done(&self) -> bool {
        let h = self.hdr();
        let mut done = h.tasks_done.load(Ordering::Relaxed);
        loop {
            if done >= h.items_got.load(Ordering::Acquire) {
                return false;
            }
            match h.tasks_done.compare_exchange_weak(
                done,
                done + 1,
                Ordering::SeqCst,
                Ordering::Relaxed,
            ) {
                Ok(_) => break,
                Err(d) => done = d,
            }
        }
        if done + 1 >= h.items_put.load(Ordering::Acquire) {
            self.wake_joiners();
        }
        true
    }

    /// Wakes the joiners, if any sleep, to look at the counts again.
    fn wake_joiners(&self) {
        let h = self.hdr();
        h.joined.notify_all();
    }

    /// Items put and not yet marked done.
    pub(crate) fn unfinished(&self) -> u64 {
        let h = self.hdr();
        let done = h.tasks_done.load(Ordering::Acquire);
        h.items_put.load(Ordering::Acquire).saturating_sub(done)
    }

    /// Waits until every item put has been marked done; `false` on timeout.
    pub(crate) fn join(&self, wait: &Wait) -> bool {
        let h = self.hdr();
        h.joined.wait_until(
            || self.unfinished() == 0,
            wait.deadline(),
            Spin::Adaptive(SPIN),
        )
    }
}
