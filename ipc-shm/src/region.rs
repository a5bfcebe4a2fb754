//! Where the elements of a [`Value`](crate::Value), [`Array`](crate::Array),
//! [`RawValue`](crate::RawValue) or [`RawArray`](crate::RawArray) live: a memfd
//! [`SharedMapping`] with a 64-byte header that says what it holds, then the elements.
//!
//! Header (written once, before the mapping is shared; read on deserialise):
//!
//! | offset | field |
//! |---|---|
//! | 0 | magic `ISHM` (u32) |
//! | 4 | kind: value, array, raw value, raw array (u32) |
//! | 8 | element size, alignment (u32, u32) |
//! | 16 | element count (u64) |
//! | 24 | FNV-1a hash of the element's type name (u64) |
//! | 32 | the guarding lock's identity: device, inode (u64, u64); zero for raw regions |

use std::io;
use std::marker::PhantomData;
use std::ptr::NonNull;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use multiproc_core::SharedMapping;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::Shareable;

/// Bytes before the first element; elements may be aligned to at most this.
pub(crate) const HEADER: usize = 64;
const MAGIC: u32 = u32::from_le_bytes(*b"ISHM");

/// What a region holds, so that a handle of one kind is never rebuilt as another (a raw
/// region is accessed atomically, a locked one by plain copies under its lock).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Value = 1,
    Array = 2,
    RawValue = 3,
    RawArray = 4,
}

impl Kind {
    fn label(self) -> &'static str {
        match self {
            Kind::Value => "ipc-shm-value",
            Kind::Array => "ipc-shm-array",
            Kind::RawValue => "ipc-shm-rawvalue",
            Kind::RawArray => "ipc-shm-rawarray",
        }
    }
}

fn type_tag<T>() -> u64 {
    // FNV-1a: cheap, and stable for one type in one build (processes that share a region run
    // the same executable, or one built from the same definitions).
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in std::any::type_name::<T>().bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// `len` elements of `T` in a shared mapping of their own. Clones share the mapping.
pub(crate) struct Region<T> {
    map: Arc<SharedMapping>,
    data: NonNull<T>,
    len: usize,
    _t: PhantomData<T>,
}

// SAFETY: a `Region` is an `Arc` of a mapping (Send + Sync) and a pointer into it. It gives no
// access by itself: every handle that holds one reads and writes the elements under its lock
// or atomically, and `T: Shareable` is `Send + Sync`.
unsafe impl<T: Shareable> Send for Region<T> {}
// SAFETY: as above.
unsafe impl<T: Shareable> Sync for Region<T> {}

impl<T> Clone for Region<T> {
    fn clone(&self) -> Self {
        Region {
            map: Arc::clone(&self.map),
            data: self.data,
            len: self.len,
            _t: PhantomData,
        }
    }
}

impl<T: Shareable> Region<T> {
    /// A fresh zeroed region for `len` elements.
    pub(crate) fn create(kind: Kind, len: usize) -> io::Result<Self> {
        const { assert!(std::mem::align_of::<T>() <= HEADER) };
        let bytes = len
            .checked_mul(std::mem::size_of::<T>())
            .and_then(|b| b.checked_add(HEADER))
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "array too large"))?;
        let map = SharedMapping::memfd(kind.label(), bytes)?;
        // Allocate the pages here, as Python's zero-fill does: the processes that write the
        // array later then take only minor faults.
        if bytes >= 64 * 1024 {
            map.populate()?;
        }
        map.atomic_u32(4).store(kind as u32, Ordering::Relaxed);
        map.atomic_u32(8)
            .store(std::mem::size_of::<T>() as u32, Ordering::Relaxed);
        map.atomic_u32(12)
            .store(std::mem::align_of::<T>() as u32, Ordering::Relaxed);
        map.atomic_u64(16).store(len as u64, Ordering::Relaxed);
        map.atomic_u64(24).store(type_tag::<T>(), Ordering::Relaxed);
        map.atomic_u32(0).store(MAGIC, Ordering::Release);
        Ok(Self::view(map, len))
    }

    fn view(map: SharedMapping, len: usize) -> Self {
        debug_assert!(map.len() >= HEADER + len * std::mem::size_of::<T>());
        // The mapping holds HEADER + len * size_of::<T>() bytes (made so, or checked in `check`)
        // and is page-aligned; HEADER is a multiple of T's alignment (at most 64).
        // SAFETY: so `as_ptr() + HEADER` is inside the mapping and aligned for T.
        let p = unsafe { map.as_ptr().add(HEADER) };
        Region {
            data: NonNull::new(p.cast::<T>()).expect("a mapping is never at address 0"),
            map: Arc::new(map),
            len,
            _t: PhantomData,
        }
    }

    /// Rebuilds a region received from another process, checking that it holds `kind` of `T`.
    fn check(map: SharedMapping, kind: Kind) -> Result<Self, String> {
        if map.len() < HEADER || map.atomic_u32(0).load(Ordering::Acquire) != MAGIC {
            return Err("the shared mapping is not an ipc-shm region".into());
        }
        let got = map.atomic_u32(4).load(Ordering::Relaxed);
        if got != kind as u32 {
            return Err(format!(
                "the shared mapping holds another kind of handle ({got}, expected {kind:?})"
            ));
        }
        let size = map.atomic_u32(8).load(Ordering::Relaxed) as usize;
        let align = map.atomic_u32(12).load(Ordering::Relaxed) as usize;
        let tag = map.atomic_u64(24).load(Ordering::Relaxed);
        if size != std::mem::size_of::<T>()
            || align != std::mem::align_of::<T>()
            || tag != type_tag::<T>()
        {
            return Err(format!(
                "the shared mapping holds elements of another type (size {size}, align {align}), \
                 not {}",
                std::any::type_name::<T>()
            ));
        }
        let len = usize::try_from(map.atomic_u64(16).load(Ordering::Relaxed))
            .map_err(|_| "element count too large".to_string())?;
        let fits = len
            .checked_mul(size)
            .and_then(|b| b.checked_add(HEADER))
            .is_some_and(|b| b <= map.len());
        if !fits {
            return Err(format!(
                "the shared mapping is too small for {len} elements"
            ));
        }
        Ok(Self::view(map, len))
    }

    /// Records which lock guards this region (at creation, before the region is shared).
    pub(crate) fn bind(&self, lock: (u64, u64)) {
        self.map.atomic_u64(32).store(lock.0, Ordering::Relaxed);
        self.map.atomic_u64(40).store(lock.1, Ordering::Release);
    }

    /// Whether this region is guarded by the lock with identity `lock`: a received handle
    /// whose region and lock do not belong together is refused, or two locks could guard the
    /// same memory.
    pub(crate) fn bound_to(&self, lock: (u64, u64)) -> bool {
        self.map.atomic_u64(40).load(Ordering::Acquire) == lock.1
            && self.map.atomic_u64(32).load(Ordering::Relaxed) == lock.0
    }

    /// Maps the pages of elements `start..start+n` into this process at once, before a bulk
    /// copy of 64 KiB or more (one syscall instead of a page fault per 4 KiB, which a process
    /// that forked after the region was made would otherwise take on its first writes).
    pub(crate) fn prefault(&self, start: usize, n: usize) {
        let size = std::mem::size_of::<T>();
        let bytes = n.saturating_mul(size);
        if bytes >= 64 * 1024 {
            let _ = self.map.populate_range(HEADER + start * size, bytes);
        }
    }

    /// The first element. Valid for `len` elements while `self` lives.
    #[inline]
    pub(crate) fn ptr(&self) -> *mut T {
        self.data.as_ptr()
    }

    /// The number of elements.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Whether both view the same memory.
    pub(crate) fn same(&self, other: &Self) -> bool {
        self.data == other.data
    }

    pub(crate) fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.map.as_ref().serialize(s)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
        kind: Kind,
    ) -> Result<Self, D::Error> {
        let map = SharedMapping::deserialize(d)?;
        Self::check(map, kind).map_err(serde::de::Error::custom)
    }
}

/// A region on the wire, checked for its kind when rebuilt (serde's `with` helpers).
pub(crate) mod wire {
    use super::*;

    macro_rules! kind_mod {
        ($name:ident, $kind:expr) => {
            pub(crate) mod $name {
                use super::*;
                pub(crate) fn serialize<T: Shareable, S: Serializer>(
                    r: &Region<T>,
                    s: S,
                ) -> Result<S::Ok, S::Error> {
                    r.serialize(s)
                }
                pub(crate) fn deserialize<'de, T: Shareable, D: Deserializer<'de>>(
                    d: D,
                ) -> Result<Region<T>, D::Error> {
                    Region::deserialize(d, $kind)
                }
            }
        };
    }

    kind_mod!(value, Kind::Value);
    kind_mod!(array, Kind::Array);
    kind_mod!(raw_value, Kind::RawValue);
    kind_mod!(raw_array, Kind::RawArray);
}
