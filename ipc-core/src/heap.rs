//! The shared heap: many small objects in a few shared arenas, each object a typed slot; and the
//! typed page, a mapping of its own whose header says what it holds.
//!
//! Python's `multiprocessing.heap` carves `Value` and `Array` out of a few shared arenas; this
//! module does the same for every small primitive of the workspace — locks, events, semaphores,
//! small values and arrays, a queue's locks — so that ten thousand of them cost a few descriptors
//! and mappings, not ten thousand.
//!
//! # Objects
//!
//! An [`Object`] is a slot in an *arena*: a 1 MiB memfd mapping, sealed against resizing, whose
//! first bytes say it is an arena and carry a random 64-bit id. Slots come in seven size classes
//! (64 bytes to 4 KiB), each with a lock-free free list in the arena header; a process that needs
//! a slot takes one from the free lists of the arenas it maps, or from a new arena. Every slot
//! starts with a [`Header`]:
//!
//! | bytes | field |
//! |---|---|
//! | 0 | magic `MPO1` |
//! | 4 | [`Kind`]: what the object is (`Lock`, `Evnt`, `Valu`, …; `free` when free) |
//! | 8 | layout version (16 bits), number of guards (8), size class (8) |
//! | 12 | references held, by every process together |
//! | 16 | generation: changes whenever the slot is taken or freed |
//! | 20 | where the payload starts, in bytes from the header |
//! | 24 | layout tag: what the payload's type is (a hash of its name, size and alignment) |
//! | 32 | payload size in bytes |
//! | 40 | the [`ObjectId`]s of the objects that guard this one (the lock of a `Value`), 16 bytes each |
//! | … | the payload, aligned as its type needs |
//!
//! A handle that arrives from another process is checked against all of it — magic, kind,
//! version, layout, size, generation, guards — before it is used; a handle of the wrong kind, or
//! one that outlived its object (a replayed message), is refused with a typed error, never
//! aliased to the slot's next tenant.
//!
//! # Lifetime
//!
//! The header counts references per *process*: clones of an [`Object`] in one process share one
//! reference; each process holding the object, and each message carrying it that has not been
//! received yet, holds one. The slot is freed (and its generation changed) when the count falls
//! to zero. A message in flight owns its reference, so `send(&lock); drop(lock)` is safe. A
//! `fork()` gives the child a reference to every object the parent holds (taken in the parent,
//! under a `pthread_atfork` hook, before the child exists), and a process releases what it still
//! holds when it exits normally (an `atexit` hook) or calls [`release_process_references`] before
//! `_exit` (as `multiproc-process` does in its children). A process killed outright leaks the
//! references it held, and so does a `fork` followed by `exec` (`std::process::Command` with a
//! `pre_exec` hook forks): the objects then live until their arena goes — longer, never
//! shorter.
//!
//! # Transfer
//!
//! An object serialises as its arena's descriptor plus its offset and generation. Within one
//! message, every object of one arena sends that arena's descriptor once (see
//! [`crate::transfer`]), and a process that already maps an arena uses its mapping again (found
//! by the descriptor's device and inode), so descriptors and mappings grow with arenas, not
//! objects.
//!
//! # Typed pages
//!
//! An object too large for a slot (a big array, a queue's ring) gets a [`TypedMapping`]: a
//! mapping of its own that starts with the same [`Header`], checked the same way on arrival.
//!
//! ```
//! use multiproc_core::heap::{Kind, Shared, SharedState};
//! use multiproc_core::transfer::Channel;
//! use std::sync::atomic::{AtomicU64, Ordering};
//!
//! #[repr(C)]
//! struct Counter { n: AtomicU64 }
//! // SAFETY: all atomics, no pointers; every bit pattern is a valid counter.
//! unsafe impl SharedState for Counter { const KIND: Kind = Kind::new(*b"Cntr"); }
//!
//! let c = Shared::new(|c: &Counter| c.n.store(41, Ordering::Relaxed))?;
//! let (mut a, mut b) = Channel::pair()?;
//! a.send(&c)?;
//! let there: Shared<Counter> = b.recv()?;       // the same slot, mapped once
//! there.get().n.fetch_add(1, Ordering::Relaxed);
//! assert_eq!(c.get().n.load(Ordering::Relaxed), 42);
//! assert_eq!(there.id(), c.id());
//! # Ok::<(), multiproc_core::Error>(())
//! ```

use std::cell::UnsafeCell;
use std::collections::BTreeSet;
use std::fmt;
use std::io;
use std::marker::PhantomData;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Once, Weak};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::Error;
use crate::mapping::SharedMapping;
use crate::sys;
use crate::transfer::{self, ReceivedFd, SharedFdRef};

/// What an object is: four ASCII bytes, unique across the workspace (`b"Lock"`, `b"Evnt"`, …).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Kind(u32);

impl Kind {
    /// The kind named by four bytes.
    pub const fn new(tag: [u8; 4]) -> Kind {
        Kind(u32::from_le_bytes(tag))
    }

    /// The kind's four bytes as a `u32` (little-endian), as stored in a header.
    pub const fn to_u32(self) -> u32 {
        self.0
    }
}

impl fmt::Debug for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0.to_le_bytes();
        if b.iter().all(u8::is_ascii_graphic) {
            write!(f, "Kind({:?})", String::from_utf8_lossy(&b))
        } else {
            write!(f, "Kind({:#x})", self.0)
        }
    }
}

const MAGIC: u32 = u32::from_le_bytes(*b"MPO1");
const FREE: Kind = Kind::new(*b"free");
const ARENA: Kind = Kind::new(*b"Arna");
const ARENA_VERSION: u16 = 1;

/// Bytes of an arena.
const ARENA_SIZE: usize = 1 << 20;
/// Where the first slot of an arena starts (after the arena's own header).
const FIRST_SLOT: usize = 128;
/// Slot sizes: 64 << class, for class 0..CLASSES.
const CLASSES: usize = 7;
const MIN_SLOT: usize = 64;
/// The size class that marks a typed page (a mapping of its own) rather than a slot.
const OWN_MAPPING: u8 = 0xff;

/// Bytes of a [`Header`].
pub const HEADER_LEN: usize = 40;
/// Bytes of one guard's [`ObjectId`] after the header.
const GUARD_LEN: usize = 16;
/// The most guards an object records.
pub const MAX_GUARDS: usize = 2;

/// Which object, across every process: the arena's random id, the slot's offset in it, and the
/// slot's generation when the object was made. Two handles with equal ids are the same object;
/// a later tenant of the same slot has another generation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ObjectId {
    arena: u64,
    offset: u32,
    generation: u32,
}

/// What a slot or typed page must hold, checked whenever a handle to it is rebuilt: its kind,
/// the version of its layout, the size and alignment of its payload, and a tag of the payload's
/// type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Spec {
    /// What the object is.
    pub kind: Kind,
    /// The layout version: bump it when the payload's meaning changes.
    pub version: u16,
    /// Payload bytes.
    pub size: usize,
    /// Payload alignment (at most 64).
    pub align: usize,
    /// A tag of the payload's type ([`type_tag`]), or any number the kind's owner chooses.
    pub layout: u64,
}

impl Spec {
    /// The spec of a payload of type `T`, tagged with `T`'s name.
    pub fn of<T>(kind: Kind, version: u16) -> Spec {
        Spec {
            kind,
            version,
            size: std::mem::size_of::<T>(),
            align: std::mem::align_of::<T>(),
            layout: type_tag::<T>(),
        }
    }

    /// An array of `len` elements of `T`.
    pub fn array_of<T>(kind: Kind, version: u16, len: usize) -> Option<Spec> {
        Some(Spec {
            size: std::mem::size_of::<T>().checked_mul(len)?,
            ..Spec::of::<T>(kind, version)
        })
    }

    /// Whether a payload of this spec with `guards` guards fits in a slot (otherwise use a
    /// [`TypedMapping`]).
    pub fn fits_in_slot(&self, guards: usize) -> bool {
        class_for(payload_offset(guards, self.align) + self.size).is_some()
    }
}

/// A tag for a type, stable within one build: FNV-1a of its name, size and alignment.
/// Processes that share objects run the same executable, or programs built from the same
/// definitions.
pub fn type_tag<T>() -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let size = std::mem::size_of::<T>() as u64;
    let align = std::mem::align_of::<T>() as u64;
    let name = std::any::type_name::<T>().bytes();
    for b in name.chain(size.to_le_bytes()).chain(align.to_le_bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// The header of every slot and typed page (see the [module docs](self)).
#[repr(C)]
pub struct Header {
    magic: AtomicU32,
    kind: AtomicU32,
    meta: AtomicU32,
    refs: AtomicU32,
    generation: AtomicU32,
    /// Where the payload starts, in bytes from the header.
    start: AtomicU32,
    layout: AtomicU64,
    /// Payload bytes; while the slot is free, the offset of the next free slot.
    size: AtomicU64,
}

static_assertions::assert_eq_size!(Header, [u8; HEADER_LEN]);

/// A guard's id as stored after the header.
#[repr(C)]
struct GuardWords {
    arena: AtomicU64,
    at: AtomicU64,
}

fn meta(version: u16, guards: usize, class: u8) -> u32 {
    u32::from(version) | (guards as u32) << 16 | u32::from(class) << 24
}

fn align_up(n: usize, align: usize) -> usize {
    n.div_ceil(align) * align
}

/// Where the payload starts in a slot or page with `guards` guards.
fn payload_offset(guards: usize, align: usize) -> usize {
    align_up(HEADER_LEN + GUARD_LEN * guards, align.max(8))
}

fn class_for(bytes: usize) -> Option<u8> {
    (0..CLASSES)
        .find(|&c| MIN_SLOT << c >= bytes)
        .map(|c| c as u8)
}

/// Why a handle from elsewhere was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Refusal {
    /// The descriptor is not an arena, or its header is damaged.
    NotAnArena,
    /// The offset is not a slot of the arena.
    BadOffset,
    /// The slot holds another kind of object.
    WrongKind {
        /// What the handle expected.
        expected: Kind,
        /// What the slot holds.
        found: Kind,
    },
    /// The slot's layout version, size, alignment or type tag differs from the handle's.
    WrongLayout,
    /// The object the handle named is gone (the slot was freed, perhaps reused).
    Stale,
    /// The object is guarded by another lock than the one it came with.
    WrongGuard,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::NotAnArena => f.write_str("the descriptor is not a shared heap arena"),
            Refusal::BadOffset => f.write_str("the offset is not a slot of the arena"),
            Refusal::WrongKind { expected, found } => {
                write!(f, "the slot holds a {found:?}, not a {expected:?}")
            }
            Refusal::WrongLayout => f.write_str("the object's layout differs from this handle's"),
            Refusal::Stale => f.write_str("the object is gone (a stale handle)"),
            Refusal::WrongGuard => f.write_str("the object is guarded by another lock"),
        }
    }
}

impl Header {
    fn init(&self, spec: &Spec, guards: &[ObjectId], class: u8) {
        self.meta
            .store(meta(spec.version, guards.len(), class), Ordering::Relaxed);
        self.start.store(
            payload_offset(guards.len(), spec.align) as u32,
            Ordering::Relaxed,
        );
        self.layout.store(spec.layout, Ordering::Relaxed);
        self.size.store(spec.size as u64, Ordering::Relaxed);
        for (g, id) in self.guard_words().iter().zip(guards) {
            g.arena.store(id.arena, Ordering::Relaxed);
            g.at.store(
                u64::from(id.offset) | u64::from(id.generation) << 32,
                Ordering::Relaxed,
            );
        }
        self.magic.store(MAGIC, Ordering::Relaxed);
        self.kind.store(spec.kind.0, Ordering::Release);
    }

    fn guard_words(&self) -> &[GuardWords; MAX_GUARDS] {
        // SAFETY: every header is followed by room for MAX_GUARDS guards inside its slot or page
        // (slots of class 0 are 64 >= 40 + 16 bytes and a guarded object's payload offset leaves
        // room for them; typed pages are at least a page), at 8-byte alignment; the words are
        // atomics, valid for any bytes. The reference lives as long as `&self`, whose slot or
        // mapping outlives it.
        unsafe {
            &*(self as *const Header)
                .cast::<u8>()
                .add(HEADER_LEN)
                .cast::<[GuardWords; MAX_GUARDS]>()
        }
    }

    fn guards(&self) -> Vec<ObjectId> {
        let n = ((self.meta.load(Ordering::Relaxed) >> 16) & 0xff) as usize;
        self.guard_words()
            .iter()
            .take(n.min(MAX_GUARDS))
            .map(|g| {
                let at = g.at.load(Ordering::Relaxed);
                ObjectId {
                    arena: g.arena.load(Ordering::Relaxed),
                    offset: at as u32,
                    generation: (at >> 32) as u32,
                }
            })
            .collect()
    }

    /// Checks the header against what a handle expects.
    fn check(&self, spec: &Spec, class: Option<u8>) -> Result<(), Refusal> {
        let found = Kind(self.kind.load(Ordering::Acquire));
        if self.magic.load(Ordering::Relaxed) != MAGIC {
            return Err(Refusal::Stale);
        }
        if found == FREE {
            return Err(Refusal::Stale);
        }
        if found != spec.kind {
            return Err(Refusal::WrongKind {
                expected: spec.kind,
                found,
            });
        }
        let m = self.meta.load(Ordering::Relaxed);
        let guards = ((m >> 16) & 0xff) as usize;
        let ok = m as u16 == spec.version
            && guards <= MAX_GUARDS
            && class.is_none_or(|c| (m >> 24) as u8 == c)
            && self.start.load(Ordering::Relaxed) as usize == payload_offset(guards, spec.align)
            && self.layout.load(Ordering::Relaxed) == spec.layout
            && self.size.load(Ordering::Relaxed) == spec.size as u64;
        if ok {
            Ok(())
        } else {
            Err(Refusal::WrongLayout)
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Arenas
// ---------------------------------------------------------------------------------------------

#[repr(C)]
struct ArenaHeader {
    obj: Header,
    bump: AtomicU32,
    _pad: AtomicU32,
    /// Per class: free list head, as (tag << 32 | offset); offset 0 is the empty list.
    free: [AtomicU64; CLASSES],
}

static_assertions::const_assert!(std::mem::size_of::<ArenaHeader>() <= FIRST_SLOT);

/// One arena as this process maps it.
struct Arena {
    map: SharedMapping,
    uid: u64,
    /// The memfd's (device, inode), for recognising it when it arrives again.
    ident: (u64, u64),
}

impl Arena {
    fn create() -> io::Result<Arena> {
        let map = SharedMapping::memfd("multiproc-heap", ARENA_SIZE)?;
        let uid = sys::proc::random_u64()?;
        let ident = map.identity().unwrap_or((0, 0));
        let a = Arena { map, uid, ident };
        let h = a.hdr();
        h.bump.store(FIRST_SLOT as u32, Ordering::Relaxed);
        h.obj.refs.store(1, Ordering::Relaxed);
        let spec = Spec {
            kind: ARENA,
            version: ARENA_VERSION,
            size: ARENA_SIZE,
            align: 64,
            layout: uid,
        };
        h.obj.init(&spec, &[], OWN_MAPPING);
        Ok(a)
    }

    fn open(map: SharedMapping) -> Result<Arena, Refusal> {
        if map.len() != ARENA_SIZE {
            return Err(Refusal::NotAnArena);
        }
        let ident = map.identity().unwrap_or((0, 0));
        // `uid` is read from the header below; 0 until then.
        let mut a = Arena { map, uid: 0, ident };
        let h = &a.hdr().obj;
        let uid = h.layout.load(Ordering::Relaxed);
        let spec = Spec {
            kind: ARENA,
            version: ARENA_VERSION,
            size: ARENA_SIZE,
            align: 64,
            layout: uid,
        };
        h.check(&spec, Some(OWN_MAPPING))
            .map_err(|_| Refusal::NotAnArena)?;
        a.uid = uid;
        Ok(a)
    }

    fn hdr(&self) -> &ArenaHeader {
        // SAFETY: the mapping is page-aligned and ARENA_SIZE >= FIRST_SLOT >= the header's size
        // (checked in `create`/`open`); `ArenaHeader` is all atomics, valid for any bytes and
        // meant for shared access; it lives as long as `&self`.
        unsafe { &*self.map.as_ptr().cast::<ArenaHeader>() }
    }

    /// Whether `off` can be the start of a slot of `class`.
    fn valid(off: u32, class: u8) -> bool {
        let off = off as usize;
        (class as usize) < CLASSES
            && off >= FIRST_SLOT
            && off.is_multiple_of(MIN_SLOT)
            && off + (MIN_SLOT << class) <= ARENA_SIZE
    }

    /// The header of the slot at `off` (which must satisfy `valid` for its class).
    fn slot(&self, off: u32) -> &Header {
        assert!(
            (off as usize) >= FIRST_SLOT
                && (off as usize).is_multiple_of(MIN_SLOT)
                && off as usize + MIN_SLOT <= ARENA_SIZE,
            "slot offset {off} outside the arena"
        );
        // SAFETY: in bounds and 64-aligned (asserted), so a `Header` (40 bytes, align 8) fits; it
        // is all atomics and lives as long as `&self`.
        unsafe { &*self.map.as_ptr().add(off as usize).cast::<Header>() }
    }

    fn pop(&self, class: u8) -> Option<u32> {
        let head = &self.hdr().free[class as usize];
        loop {
            let h = head.load(Ordering::Acquire);
            let off = h as u32;
            if off == 0 {
                return None;
            }
            if !Arena::valid(off, class) {
                // The list was damaged (by a process that wrote the arena's header): treat it
                // as empty rather than hand out a slot outside the arena.
                return None;
            }
            let next = self.slot(off).size.load(Ordering::Relaxed) as u32;
            let tagged = (((h >> 32) + 1) << 32) | u64::from(next);
            if head
                .compare_exchange_weak(h, tagged, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
            {
                return Some(off);
            }
        }
    }

    fn bump(&self, class: u8) -> Option<u32> {
        let bump = &self.hdr().bump;
        let step = (MIN_SLOT << class) as u32;
        let mut b = bump.load(Ordering::Relaxed);
        loop {
            let end = b.checked_add(step)?;
            if end as usize > ARENA_SIZE || (b as usize) < FIRST_SLOT {
                return None;
            }
            match bump.compare_exchange_weak(b, end, Ordering::AcqRel, Ordering::Relaxed) {
                Ok(_) => return Some(b),
                Err(now) => b = now,
            }
        }
    }

    fn alloc(&self, class: u8) -> Option<u32> {
        self.pop(class).or_else(|| self.bump(class))
    }

    fn push(&self, off: u32, class: u8) {
        let head = &self.hdr().free[class as usize];
        let slot = self.slot(off);
        loop {
            let h = head.load(Ordering::Acquire);
            slot.size.store(u64::from(h as u32), Ordering::Relaxed);
            let tagged = (((h >> 32) + 1) << 32) | u64::from(off);
            if head
                .compare_exchange_weak(h, tagged, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
            {
                return;
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The process's view: arenas it maps, objects it holds
// ---------------------------------------------------------------------------------------------

/// A lock that `pthread_atfork` handlers can take in one function and release in another.
struct SpinLock<T> {
    held: AtomicBool,
    value: UnsafeCell<T>,
}

// SAFETY: the value is only reached through `with` (or between `raw_lock` and `raw_unlock`),
// which hold the flag, so one thread at a time touches it; `T: Send` lets it move between them.
unsafe impl<T: Send> Sync for SpinLock<T> {}

impl<T> SpinLock<T> {
    const fn new(value: T) -> Self {
        SpinLock {
            held: AtomicBool::new(false),
            value: UnsafeCell::new(value),
        }
    }

    fn raw_lock(&self) {
        let mut spins = 0u32;
        while self
            .held
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            spins += 1;
            if spins < 64 {
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
    }

    fn raw_unlock(&self) {
        self.held.store(false, Ordering::Release);
    }

    fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        self.raw_lock();
        struct Unlock<'a>(&'a AtomicBool);
        impl Drop for Unlock<'_> {
            fn drop(&mut self) {
                self.0.store(false, Ordering::Release);
            }
        }
        let _u = Unlock(&self.held);
        // SAFETY: the flag is held (just taken) until `_u` drops, so no other thread reaches the
        // value meanwhile.
        f(unsafe { &mut *self.value.get() })
    }
}

struct Heap {
    /// The arena new objects come from first.
    current: Option<Arc<Arena>>,
    /// Every arena mapped in this process.
    arenas: Vec<Weak<Arena>>,
    /// The address of every live [`SlotRef`] of this process: a `fork()` gives the child a
    /// reference to each, and an exit releases them.
    live: BTreeSet<usize>,
}

static HEAP: SpinLock<Heap> = SpinLock::new(Heap {
    current: None,
    arenas: Vec::new(),
    live: BTreeSet::new(),
});

static HOOKS: Once = Once::new();

unsafe extern "C" fn before_fork() {
    HEAP.raw_lock();
    // SAFETY: the lock is held (taken above, released by `after_fork`), so nobody changes the
    // set meanwhile.
    let heap = unsafe { &*HEAP.value.get() };
    for &r in &heap.live {
        // SAFETY: an address is in the set only while its `SlotRef` lives: `Drop` removes it,
        // under this lock, before the `SlotRef` goes.
        let r = unsafe { &*(r as *const SlotRef) };
        r.header().refs.fetch_add(1, Ordering::AcqRel);
    }
}

unsafe extern "C" fn after_fork() {
    HEAP.raw_unlock();
}

extern "C" fn at_exit() {
    release_process_references();
}

fn install_hooks() {
    HOOKS.call_once(|| {
        // Both can fail only for lack of memory at start-up. Without the fork hook a forked
        // child's drops would release its parent's references; without the exit hook a normal
        // exit leaks them (harmless: the objects live on).
        if sys::proc::register_atfork(before_fork, after_fork, after_fork).is_err() {
            FORK_HOOK_MISSING.store(true, Ordering::Relaxed);
        }
        // SAFETY: `at_exit` is an `extern "C" fn()` that lives for the whole program.
        let _ = unsafe { libc::atexit(at_exit) };
    });
}

/// Set when the fork hook could not be installed: forked children then never release what they
/// inherited (they leak rather than free their parent's objects).
static FORK_HOOK_MISSING: AtomicBool = AtomicBool::new(false);

/// Releases every reference this process holds to shared-heap objects, as if every handle were
/// dropped; handles dropped afterwards release nothing. For a process about to end with `_exit`
/// (which runs no destructors and no `atexit` hooks), such as a forked child: call it last,
/// when no handle will be used again. Normal exits do it by themselves.
pub fn release_process_references() {
    if FORK_HOOK_MISSING.load(Ordering::Relaxed) {
        return;
    }
    HEAP.with(|h| {
        for r in std::mem::take(&mut h.live) {
            // SAFETY: `r` was in the set, so its `SlotRef` lives (its `Drop` waits for this
            // lock, then finds its address gone and releases nothing).
            let r = unsafe { &*(r as *const SlotRef) };
            r.release();
        }
    });
}

/// A process's reference to one slot: shared by every clone of a handle in this process.
struct SlotRef {
    arena: Arc<Arena>,
    offset: u32,
    generation: u32,
    class: u8,
    /// Where the payload starts, from the slot's start (checked when the handle was made).
    start: u32,
}

impl SlotRef {
    fn header(&self) -> &Header {
        self.arena.slot(self.offset)
    }

    /// Wraps a reference this process now owns (a fresh slot, or one adopted from a message).
    fn adopt(arena: Arc<Arena>, offset: u32, generation: u32, class: u8, start: u32) -> Arc<Self> {
        install_hooks();
        let r = Arc::new(SlotRef {
            arena,
            offset,
            generation,
            class,
            start,
        });
        let key = Arc::as_ptr(&r) as usize;
        HEAP.with(|h| h.live.insert(key));
        r
    }

    /// Gives this process's reference back; frees the slot when it was the last.
    fn release(&self) {
        let h = self.header();
        if h.refs.fetch_sub(1, Ordering::AcqRel) == 1 {
            h.generation.fetch_add(1, Ordering::AcqRel);
            h.kind.store(FREE.0, Ordering::Release);
            self.arena.push(self.offset, self.class);
        }
    }
}

impl Drop for SlotRef {
    fn drop(&mut self) {
        let key = self as *const SlotRef as usize;
        if HEAP.with(|h| h.live.remove(&key)) {
            self.release();
        }
    }
}

/// Finds a slot of `class` in an arena this process maps, or in a new one.
fn alloc_slot(class: u8) -> io::Result<(Arc<Arena>, u32)> {
    let found = HEAP.with(|h| {
        if let Some(a) = &h.current
            && let Some(off) = a.alloc(class)
        {
            return Some((Arc::clone(a), off));
        }
        h.arenas.retain(|w| w.strong_count() > 0);
        h.arenas
            .iter()
            .filter_map(Weak::upgrade)
            .find_map(|a| a.pop(class).map(|off| (a, off)))
    });
    if let Some(f) = found {
        return Ok(f);
    }
    let arena = Arc::new(Arena::create()?);
    let off = arena
        .alloc(class)
        .ok_or_else(|| io::Error::other("a fresh arena has no room"))?;
    HEAP.with(|h| {
        h.arenas.push(Arc::downgrade(&arena));
        h.current = Some(Arc::clone(&arena));
    });
    Ok((arena, off))
}

fn mapped_arena(h: &Heap, ident: (u64, u64)) -> Option<Arc<Arena>> {
    h.arenas
        .iter()
        .filter_map(Weak::upgrade)
        .find(|a| a.ident == ident)
}

/// A received descriptor's place ([`ReceivedFd::key`]) and the arena it turned out to be.
type Resolved = Option<((u64, u32), Weak<Arena>)>;

thread_local! {
    /// The arena the last object deserialised on this thread came from, by its descriptor's
    /// place in its message: the next objects of the same message skip the lookup.
    static LAST_ARENA: std::cell::RefCell<Resolved> =
        const { std::cell::RefCell::new(None) };
}

/// The arena that arrived as `fd` with id `uid`: the one this process maps already (found by
/// the descriptor's device and inode), or a new mapping of it.
fn resolve_arena(fd: &ReceivedFd, uid: u64) -> Result<Arc<Arena>, Error> {
    let key = fd.key();
    let hit = LAST_ARENA.with(|l| {
        l.borrow()
            .as_ref()
            .filter(|(k, _)| *k == key)
            .and_then(|(_, a)| a.upgrade())
            .filter(|a| a.uid == uid)
    });
    if let Some(a) = hit {
        return Ok(a);
    }
    let a = lookup_arena(fd, uid)?;
    LAST_ARENA.with(|l| *l.borrow_mut() = Some((key, Arc::downgrade(&a))));
    Ok(a)
}

fn lookup_arena(fd: &ReceivedFd, uid: u64) -> Result<Arc<Arena>, Error> {
    let ident = fd.identity()?;
    let arena = match HEAP.with(|h| mapped_arena(h, ident)) {
        Some(a) => a,
        None => {
            let map = SharedMapping::from_fd(fd.duplicate()?)?;
            let fresh = Arc::new(Arena::open(map).map_err(Error::Refused)?);
            // Another thread may have mapped it meanwhile: keep one.
            HEAP.with(|h| {
                mapped_arena(h, ident).unwrap_or_else(|| {
                    h.arenas.push(Arc::downgrade(&fresh));
                    fresh
                })
            })
        }
    };
    if arena.uid == uid {
        Ok(arena)
    } else {
        Err(Error::Refused(Refusal::NotAnArena))
    }
}

// ---------------------------------------------------------------------------------------------
// Objects
// ---------------------------------------------------------------------------------------------

/// A handle to an object in the shared heap: a slot of some arena. Clones in one process share
/// one reference; the slot is freed when no process holds it (see the [module docs](self)).
///
/// The payload is raw shared memory: typed access is the owner's business ([`Shared`] for
/// states made of atomics).
#[derive(Clone)]
pub struct Object {
    slot: Arc<SlotRef>,
}

impl fmt::Debug for Object {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Object")
            .field("id", &self.id())
            .field("len", &self.len())
            .finish()
    }
}

impl Object {
    /// A new zeroed object of `spec`, guarded by `guards` (at most [`MAX_GUARDS`]), with one
    /// reference: this process's.
    ///
    /// # Errors
    /// [`io::ErrorKind::InvalidInput`] when the payload (with its header and guards) is larger
    /// than a slot (4 KiB: see [`Spec::fits_in_slot`]) or its alignment is above 64; the errors
    /// of creating an arena (a memfd and a mapping) when every arena is full.
    pub fn new(spec: &Spec, guards: &[ObjectId]) -> io::Result<Object> {
        if guards.len() > MAX_GUARDS || spec.align > 64 || !spec.align.is_power_of_two() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "an object has at most 2 guards and an alignment of at most 64",
            ));
        }
        let start = payload_offset(guards.len(), spec.align);
        let class = class_for(start + spec.size).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{} bytes do not fit in a shared heap slot", spec.size),
            )
        })?;
        let (arena, off) = alloc_slot(class)?;
        // SAFETY: `off..off + slot size` is a slot of this arena (`alloc` checked it) just taken
        // from a free list or the unused end, so no live handle of any process refers to it; the
        // bytes after the header are zeroed before the kind is published.
        unsafe {
            std::ptr::write_bytes(
                arena.map.as_ptr().add(off as usize + HEADER_LEN),
                0,
                (MIN_SLOT << class) - HEADER_LEN,
            );
        }
        let h = arena.slot(off);
        let generation = h.generation.fetch_add(1, Ordering::AcqRel).wrapping_add(1);
        h.refs.store(1, Ordering::Relaxed);
        h.init(spec, guards, class);
        Ok(Object {
            slot: SlotRef::adopt(arena, off, generation, class, start as u32),
        })
    }

    fn header(&self) -> &Header {
        self.slot.header()
    }

    /// Which object this is, in every process.
    pub fn id(&self) -> ObjectId {
        ObjectId {
            arena: self.slot.arena.uid,
            offset: self.slot.offset,
            generation: self.slot.generation,
        }
    }

    /// The ids of the objects that guard this one, as recorded when it was made.
    pub fn guards(&self) -> Vec<ObjectId> {
        self.header().guards()
    }

    /// The first byte of the payload, aligned as the spec asked; valid for [`len`](Self::len)
    /// bytes for as long as this handle (or a clone) lives. Other processes may change it at
    /// any time: reach it through atomics, or under a lock every writer takes.
    pub fn payload(&self) -> NonNull<u8> {
        let at = self.slot.offset as usize + self.slot.start as usize;
        // SAFETY: `start + len` is within the slot (how its class was chosen in `new`, or checked
        // in `from_wire`), and the slot within the arena's mapping, which `self` keeps alive.
        unsafe { NonNull::new_unchecked(self.slot.arena.map.as_ptr().add(at)) }
    }

    /// Payload bytes.
    pub fn len(&self) -> usize {
        self.header().size.load(Ordering::Relaxed) as usize
    }

    /// Whether the payload has no bytes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether two handles are the same object.
    pub fn same(&self, other: &Object) -> bool {
        Arc::ptr_eq(&self.slot, &other.slot) || self.id() == other.id()
    }

    /// References held to this object by every process together, messages in flight included
    /// (for tests and diagnostics).
    pub fn references(&self) -> u32 {
        self.header().refs.load(Ordering::Relaxed)
    }

    /// Deserialises an object and checks it against `spec`: for the `Deserialize` impls of
    /// types built on objects. The reference the message carried becomes this process's.
    pub fn deserialize_as<'de, D: Deserializer<'de>>(
        d: D,
        spec: &Spec,
    ) -> Result<Object, D::Error> {
        let w = ObjectWire::deserialize(d)?;
        Object::from_wire(w, spec).map_err(transfer::fail_de)
    }

    fn from_wire(w: ObjectWire, spec: &Spec) -> Result<Object, Error> {
        let refused = Error::Refused;
        let arena = resolve_arena(&w.arena, w.uid)?;
        if !Arena::valid(w.offset, 0) {
            return Err(refused(Refusal::BadOffset));
        }
        let h = arena.slot(w.offset);
        let meta = h.meta.load(Ordering::Relaxed);
        let class = (meta >> 24) as u8;
        if !Arena::valid(w.offset, class) {
            return Err(refused(Refusal::BadOffset));
        }
        h.check(spec, Some(class)).map_err(refused)?;
        let start = payload_offset(((meta >> 16) & 0xff) as usize, spec.align);
        if start + spec.size > MIN_SLOT << class {
            return Err(refused(Refusal::WrongLayout));
        }
        if h.generation.load(Ordering::Acquire) != w.generation
            || h.refs.load(Ordering::Acquire) == 0
        {
            return Err(refused(Refusal::Stale));
        }
        Ok(Object {
            slot: SlotRef::adopt(arena, w.offset, w.generation, class, start as u32),
        })
    }
}

/// An object on the wire: its arena's descriptor (sent once per message whatever the number of
/// objects in that arena), the arena's id, the slot's offset and generation.
struct ObjectWire {
    arena: ReceivedFd,
    uid: u64,
    offset: u32,
    generation: u32,
}

impl Serialize for Object {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let Some(fd) = self.slot.arena.map.fd() else {
            unreachable!("an arena is always a memfd")
        };
        let r = (
            SharedFdRef(fd),
            self.slot.arena.uid,
            self.slot.offset,
            self.slot.generation,
        )
            .serialize(s);
        if r.is_ok() {
            // The message owns a reference until it is received (see the module docs).
            self.header().refs.fetch_add(1, Ordering::AcqRel);
        }
        r
    }
}

impl<'de> Deserialize<'de> for ObjectWire {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let (arena, uid, offset, generation) = <(ReceivedFd, u64, u32, u32)>::deserialize(d)?;
        Ok(ObjectWire {
            arena,
            uid,
            offset,
            generation,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Typed states
// ---------------------------------------------------------------------------------------------

/// A state made of atomics that may live in the shared heap: what a lock, an event or a
/// semaphore keeps in shared memory.
///
/// # Safety
///
/// The type is `#[repr(C)]`, made only of atomics (and padding integers never read), so that
/// every bit pattern, all-zero included, is a valid value and any process may change it at any
/// time; its alignment is at most 64; it holds no pointer, reference or descriptor.
pub unsafe trait SharedState: Sync + Sized {
    /// What the object is: unique across the workspace.
    const KIND: Kind;
    /// The layout version (bump it when the meaning of the fields changes).
    const VERSION: u16 = 1;

    /// The spec every handle of this state is checked against.
    fn spec() -> Spec {
        Spec::of::<Self>(Self::KIND, Self::VERSION)
    }
}

/// A handle to a [`SharedState`] in the shared heap: an [`Object`] seen as a `T`. Clones share
/// the reference.
pub struct Shared<T: SharedState> {
    obj: Object,
    /// The payload, cached: `get` is one load, as for a state in a mapping of its own.
    ptr: NonNull<T>,
    _t: PhantomData<T>,
}

// SAFETY: a `Shared` is an `Object` (an `Arc` of a slot reference, Send + Sync) and a pointer
// into the slot it keeps alive; `T` is made of atomics (`SharedState` contract), so sharing `&T`
// between threads is what it is made for.
unsafe impl<T: SharedState> Send for Shared<T> {}
// SAFETY: as above; every access through `&Shared` is an atomic operation on `T`.
unsafe impl<T: SharedState> Sync for Shared<T> {}

impl<T: SharedState> Clone for Shared<T> {
    fn clone(&self) -> Self {
        Shared {
            obj: self.obj.clone(),
            ptr: self.ptr,
            _t: PhantomData,
        }
    }
}

impl<T: SharedState> fmt::Debug for Shared<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Shared").field(&self.obj.id()).finish()
    }
}

impl<T: SharedState> Shared<T> {
    /// A fresh zeroed `T`; `init` sets its first values before anyone else can see it.
    pub fn new(init: impl FnOnce(&T)) -> io::Result<Self> {
        Self::guarded(&[], init)
    }

    /// [`new`](Self::new) for a state guarded by other objects (recorded in its header and
    /// checked on arrival by the owner's [`guards`](Self::guards) comparison).
    pub fn guarded(guards: &[ObjectId], init: impl FnOnce(&T)) -> io::Result<Self> {
        let s = Self::view(Object::new(&T::spec(), guards)?);
        init(s.get());
        Ok(s)
    }

    fn view(obj: Object) -> Self {
        Shared {
            ptr: obj.payload().cast::<T>(),
            obj,
            _t: PhantomData,
        }
    }

    /// The state.
    #[inline]
    pub fn get(&self) -> &T {
        // SAFETY: `ptr` is the payload, aligned for `T` and `size_of::<T>()` bytes (the spec,
        // fixed at creation or checked on arrival), alive as long as `self.obj`; `T` is all
        // atomics (`SharedState` contract), valid for any bytes and meant for shared mutation.
        unsafe { self.ptr.as_ref() }
    }

    /// Which object this is, in every process.
    pub fn id(&self) -> ObjectId {
        self.obj.id()
    }

    /// The guards recorded when the state was made.
    pub fn guards(&self) -> Vec<ObjectId> {
        self.obj.guards()
    }

    /// Whether two handles are the same object.
    pub fn same(&self, other: &Self) -> bool {
        self.obj.same(&other.obj)
    }

    /// The untyped object.
    pub fn object(&self) -> &Object {
        &self.obj
    }
}

impl<T: SharedState> Serialize for Shared<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.obj.serialize(s)
    }
}

impl<'de, T: SharedState> Deserialize<'de> for Shared<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Self::view(Object::deserialize_as(d, &T::spec())?))
    }
}

// ---------------------------------------------------------------------------------------------
// Typed pages
// ---------------------------------------------------------------------------------------------

/// A mapping of its own whose first bytes are a [`Header`] saying what it holds: for objects
/// too large for a slot (a large array, a queue's ring). Checked like a slot when it arrives
/// from another process.
pub struct TypedMapping {
    map: SharedMapping,
    start: usize,
    len: usize,
}

impl fmt::Debug for TypedMapping {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TypedMapping")
            .field("kind", &Kind(self.header().kind.load(Ordering::Relaxed)))
            .field("len", &self.len)
            .finish()
    }
}

impl TypedMapping {
    /// A new memfd mapping (labelled `label` in `/proc/<pid>/fd`) with a header for `spec` and
    /// `guards`, and a zeroed payload of `spec.size` bytes.
    pub fn new(label: &str, spec: &Spec, guards: &[ObjectId]) -> io::Result<TypedMapping> {
        if guards.len() > MAX_GUARDS || spec.align > 4096 || !spec.align.is_power_of_two() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a typed mapping has at most 2 guards and an alignment of at most 4096",
            ));
        }
        let start = payload_offset(guards.len(), spec.align);
        let total = start
            .checked_add(spec.size)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "too large"))?;
        let map = SharedMapping::memfd(label, total)?;
        let t = TypedMapping {
            map,
            start,
            len: spec.size,
        };
        t.header().init(spec, guards, OWN_MAPPING);
        Ok(t)
    }

    fn header(&self) -> &Header {
        // SAFETY: the mapping starts page-aligned with at least `start >= HEADER_LEN` bytes
        // before the payload (made so in `new`, checked in `deserialize`); the header is atomics.
        unsafe { &*self.map.as_ptr().cast::<Header>() }
    }

    /// The payload's first byte, aligned as the spec asked; valid for [`len`](Self::len) bytes
    /// while `self` lives.
    pub fn payload(&self) -> NonNull<u8> {
        // SAFETY: `start + len <= map.len()` (made so, or checked on arrival).
        unsafe { NonNull::new_unchecked(self.map.as_ptr().add(self.start)) }
    }

    /// Payload bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the payload has no bytes.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The guards recorded when the mapping was made.
    pub fn guards(&self) -> Vec<ObjectId> {
        self.header().guards()
    }

    /// The mapping itself (to populate it, or to know its identity).
    pub fn mapping(&self) -> &SharedMapping {
        &self.map
    }

    /// Deserialises a typed mapping and checks its header against `spec`.
    pub fn deserialize_as<'de, D: Deserializer<'de>>(
        d: D,
        spec: &Spec,
    ) -> Result<TypedMapping, D::Error> {
        let map = SharedMapping::deserialize(d)?;
        Self::check(map, spec).map_err(|r| transfer::fail_de(Error::Refused(r)))
    }

    fn check(map: SharedMapping, spec: &Spec) -> Result<TypedMapping, Refusal> {
        let start = payload_offset(MAX_GUARDS, spec.align);
        if map.len() < start {
            return Err(Refusal::WrongLayout);
        }
        let t = TypedMapping {
            start: payload_offset(0, spec.align),
            len: spec.size,
            map,
        };
        t.header().check(spec, Some(OWN_MAPPING))?;
        let guards = ((t.header().meta.load(Ordering::Relaxed) >> 16) & 0xff) as usize;
        let start = payload_offset(guards, spec.align);
        if start.checked_add(spec.size) != Some(t.map.len()) {
            return Err(Refusal::WrongLayout);
        }
        Ok(TypedMapping { start, ..t })
    }
}

impl Serialize for TypedMapping {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.map.serialize(s)
    }
}

// ---------------------------------------------------------------------------------------------
// Either: a slot when it fits, a page of its own when not
// ---------------------------------------------------------------------------------------------

/// Where an object of any size lives: a slot of the shared heap when it fits (4 KiB with its
/// header), a [`TypedMapping`] of its own when it does not. Both carry the same header and are
/// checked the same way on arrival.
#[derive(Debug)]
pub enum Storage {
    /// A slot of an arena.
    Slot(Object),
    /// A mapping of its own.
    Page(TypedMapping),
}

impl Storage {
    /// A new zeroed object of `spec` guarded by `guards`: a slot if it fits, else a memfd
    /// mapping labelled `label`.
    pub fn new(label: &str, spec: &Spec, guards: &[ObjectId]) -> io::Result<Storage> {
        if spec.fits_in_slot(guards.len()) && spec.align <= 64 {
            Object::new(spec, guards).map(Storage::Slot)
        } else {
            TypedMapping::new(label, spec, guards).map(Storage::Page)
        }
    }

    /// The payload's first byte (see [`Object::payload`] and [`TypedMapping::payload`]).
    pub fn payload(&self) -> NonNull<u8> {
        match self {
            Storage::Slot(o) => o.payload(),
            Storage::Page(p) => p.payload(),
        }
    }

    /// Payload bytes.
    pub fn len(&self) -> usize {
        match self {
            Storage::Slot(o) => o.len(),
            Storage::Page(p) => p.len(),
        }
    }

    /// Whether the payload has no bytes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The guards recorded when the object was made.
    pub fn guards(&self) -> Vec<ObjectId> {
        match self {
            Storage::Slot(o) => o.guards(),
            Storage::Page(p) => p.guards(),
        }
    }

    /// Allocates the pages of `len` payload bytes at `offset` now
    /// ([`SharedMapping::populate_range`]); nothing for a slot, whose arena is small.
    pub fn populate_range(&self, offset: usize, len: usize) -> io::Result<()> {
        match self {
            Storage::Slot(_) => Ok(()),
            Storage::Page(p) => p.map.populate_range(p.start + offset, len),
        }
    }
}

impl Serialize for Storage {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Storage::Slot(o) => (0u8, o).serialize(s),
            Storage::Page(p) => (1u8, p).serialize(s),
        }
    }
}

/// Deserialises a [`Storage`] and checks it against a spec known only at run time (an array's
/// length read from the same message): `seq.next_element_seed(StorageSeed(&spec))`.
#[derive(Clone, Copy, Debug)]
pub struct StorageSeed<'a>(pub &'a Spec);

impl<'de> serde::de::DeserializeSeed<'de> for StorageSeed<'_> {
    type Value = Storage;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Storage, D::Error> {
        struct V<'a>(&'a Spec);
        impl<'de> serde::de::Visitor<'de> for V<'_> {
            type Value = Storage;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a shared heap slot or typed mapping")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Storage, A::Error> {
                use serde::de::Error as _;
                let tag: u8 = seq
                    .next_element()?
                    .ok_or_else(|| A::Error::invalid_length(0, &self))?;
                let missing = || A::Error::invalid_length(1, &"a slot or a mapping");
                match tag {
                    0 => seq
                        .next_element_seed(ObjectSeed(self.0))?
                        .map(Storage::Slot)
                        .ok_or_else(missing),
                    1 => seq
                        .next_element_seed(TypedMappingSeed(self.0))?
                        .map(Storage::Page)
                        .ok_or_else(missing),
                    _ => Err(A::Error::custom("unknown storage tag")),
                }
            }
        }
        d.deserialize_tuple(2, V(self.0))
    }
}

/// Deserialises an [`Object`] checked against a spec known only at run time.
#[derive(Clone, Copy, Debug)]
pub struct ObjectSeed<'a>(pub &'a Spec);

impl<'de> serde::de::DeserializeSeed<'de> for ObjectSeed<'_> {
    type Value = Object;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Object, D::Error> {
        Object::deserialize_as(d, self.0)
    }
}

/// Deserialises a [`TypedMapping`] checked against a spec known only at run time.
#[derive(Clone, Copy, Debug)]
pub struct TypedMappingSeed<'a>(pub &'a Spec);

impl<'de> serde::de::DeserializeSeed<'de> for TypedMappingSeed<'_> {
    type Value = TypedMapping;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<TypedMapping, D::Error> {
        TypedMapping::deserialize_as(d, self.0)
    }
}

/// The descriptors and mappings this process holds for the shared heap: `(arenas mapped,
/// objects held)`. For tests and diagnostics.
pub fn usage() -> (usize, usize) {
    HEAP.with(|h| {
        (
            h.arenas.iter().filter(|w| w.strong_count() > 0).count(),
            h.live.len(),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transfer::{from_envelope, to_envelope};
    use std::sync::atomic::AtomicU64;

    #[repr(C)]
    struct Counter {
        n: AtomicU64,
    }
    // SAFETY: one atomic.
    unsafe impl SharedState for Counter {
        const KIND: Kind = Kind::new(*b"Tcnt");
    }

    #[repr(C)]
    struct Other {
        n: AtomicU64,
    }
    // SAFETY: one atomic.
    unsafe impl SharedState for Other {
        const KIND: Kind = Kind::new(*b"Toth");
    }

    #[test]
    fn an_object_travels_and_is_counted() {
        let c = Shared::new(|c: &Counter| c.n.store(7, Ordering::Relaxed)).unwrap();
        assert_eq!(c.object().references(), 1);
        let env = to_envelope(&c).unwrap();
        assert_eq!(c.object().references(), 2, "the message holds one");
        let back: Shared<Counter> = from_envelope(&env.bytes, env.fds).unwrap();
        assert_eq!(back.get().n.load(Ordering::Relaxed), 7);
        assert_eq!(back.id(), c.id());
        drop(back);
        assert_eq!(c.object().references(), 1);
    }

    #[test]
    fn a_freed_slot_is_reused_and_an_old_handle_refused() {
        let a: Shared<Counter> = Shared::new(|_| {}).unwrap();
        let old = a.id();
        let env = to_envelope(&a).unwrap();
        // Drop every reference, the message's included (as if it were never received):
        drop(a);
        // Receive the message once (its reference comes and goes), keeping its bytes to replay.
        let bytes = env.bytes.clone();
        let fds: Vec<_> = env.fds.iter().map(|f| f.try_clone().unwrap()).collect();
        let once: Shared<Counter> = from_envelope(&env.bytes, env.fds).unwrap();
        drop(once);
        // The slot is free now; take it again.
        // (Other tests run on other threads and may take it first: the replay is refused
        // whoever holds the slot now; tests/heap.rs checks the reuse in a process of its own.)
        let b: Shared<Counter> = Shared::new(|_| {}).unwrap();
        assert_ne!(b.id(), old);
        let replay = from_envelope::<Shared<Counter>>(&bytes, fds).unwrap_err();
        assert!(
            matches!(
                replay,
                Error::Refused(Refusal::Stale | Refusal::WrongKind { .. })
            ),
            "{replay:?}"
        );
    }

    #[test]
    fn a_handle_of_another_kind_is_refused() {
        let a: Shared<Counter> = Shared::new(|_| {}).unwrap();
        let env = to_envelope(&a).unwrap();
        let e = from_envelope::<Shared<Other>>(&env.bytes, env.fds).unwrap_err();
        assert!(
            matches!(e, Error::Refused(Refusal::WrongKind { .. })),
            "{e:?}"
        );
    }

    #[test]
    fn many_objects_share_few_arenas_and_one_descriptor_per_message() {
        let many: Vec<Shared<Counter>> = (0..3000).map(|_| Shared::new(|_| {}).unwrap()).collect();
        let env = to_envelope(&many).unwrap();
        assert!(env.fds.len() <= 2, "{} descriptors", env.fds.len());
        let back: Vec<Shared<Counter>> = from_envelope(&env.bytes, env.fds).unwrap();
        assert!(back.iter().zip(&many).all(|(a, b)| a.same(b)));
        let (arenas, _) = usage();
        assert!(arenas <= 3, "{arenas} arenas for 3000 objects");
    }

    #[test]
    fn guards_are_recorded() {
        let lock: Shared<Counter> = Shared::new(|_| {}).unwrap();
        let v: Shared<Other> = Shared::guarded(&[lock.id()], |_| {}).unwrap();
        assert_eq!(v.guards(), vec![lock.id()]);
        let env = to_envelope(&v).unwrap();
        let back: Shared<Other> = from_envelope(&env.bytes, env.fds).unwrap();
        assert_eq!(back.guards(), vec![lock.id()]);
    }

    fn array_spec(len: usize) -> Spec {
        Spec::array_of::<u64>(Kind::new(*b"Tarr"), 1, len).unwrap()
    }

    struct Right(TypedMapping);
    impl<'de> Deserialize<'de> for Right {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            TypedMapping::deserialize_as(d, &array_spec(10_000)).map(Right)
        }
    }

    #[derive(Debug)]
    struct Wrong(#[allow(dead_code)] TypedMapping);
    impl<'de> Deserialize<'de> for Wrong {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            TypedMapping::deserialize_as(d, &array_spec(9_999)).map(Wrong)
        }
    }

    #[test]
    fn typed_mappings_check_their_header() {
        let t = TypedMapping::new("test", &array_spec(10_000), &[]).unwrap();
        assert_eq!(t.len(), 80_000);
        let env = to_envelope(&t).unwrap();
        let dup = |e: &crate::transfer::Envelope| -> Vec<_> {
            e.fds.iter().map(|f| f.try_clone().unwrap()).collect()
        };
        let right: Right = from_envelope(&env.bytes, dup(&env)).unwrap();
        assert_eq!(right.0.len(), 80_000);
        let e = from_envelope::<Wrong>(&env.bytes, env.fds).unwrap_err();
        assert!(matches!(e, Error::Refused(Refusal::WrongLayout)), "{e:?}");
    }
}
