//! Where the elements of a [`Value`](crate::Value), [`Array`](crate::Array),
//! [`RawValue`](crate::RawValue) or [`RawArray`](crate::RawArray) live: a slot of
//! `multiproc-core`'s shared heap when they fit in one (up to about 4 KiB), otherwise a typed
//! memfd mapping of their own. Either way the header says what the memory holds — the kind of
//! handle, the element type's tag, size and alignment, the element count — and which lock guards
//! it, and a handle that arrives from another process is checked against all of it.

use std::io;
use std::marker::PhantomData;
use std::ptr::NonNull;
use std::sync::Arc;

use multiproc_core::heap::{Kind as HeapKind, ObjectId, Spec, Storage, StorageSeed};
use serde::de::{Error as _, SeqAccess, Visitor};
use serde::{Deserializer, Serialize, Serializer};

use crate::Shareable;

/// What a region holds, so that a handle of one kind is never rebuilt as another (a raw
/// region is accessed atomically, a locked one by plain copies under its lock).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Value,
    Array,
    RawValue,
    RawArray,
}

impl Kind {
    fn heap_kind(self) -> HeapKind {
        match self {
            Kind::Value => HeapKind::new(*b"SVal"),
            Kind::Array => HeapKind::new(*b"SArr"),
            Kind::RawValue => HeapKind::new(*b"SRVl"),
            Kind::RawArray => HeapKind::new(*b"SRAr"),
        }
    }

    fn label(self) -> &'static str {
        match self {
            Kind::Value => "multiproc-shm-value",
            Kind::Array => "multiproc-shm-array",
            Kind::RawValue => "multiproc-shm-rawvalue",
            Kind::RawArray => "multiproc-shm-rawarray",
        }
    }

    fn spec<T>(self, len: usize) -> io::Result<Spec> {
        Spec::array_of::<T>(self.heap_kind(), 1, len)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "array too large"))
    }
}

/// `len` elements of `T` in shared memory. Clones share it.
pub(crate) struct Region<T> {
    store: Arc<Storage>,
    data: NonNull<T>,
    len: usize,
    _t: PhantomData<T>,
}

// SAFETY: a `Region` is an `Arc` of storage (a shared-heap handle or a mapping, both Send + Sync)
// and a pointer into it. It gives no access by itself: every handle that holds one reads and
// writes the elements under its lock or atomically, and `T: Shareable` is `Send + Sync`.
unsafe impl<T: Shareable> Send for Region<T> {}
// SAFETY: as above.
unsafe impl<T: Shareable> Sync for Region<T> {}

impl<T> Clone for Region<T> {
    fn clone(&self) -> Self {
        Region {
            store: Arc::clone(&self.store),
            data: self.data,
            len: self.len,
            _t: PhantomData,
        }
    }
}

impl<T: Shareable> Region<T> {
    /// A fresh zeroed region for `len` elements, guarded by the lock `guard` (none for raw
    /// regions).
    pub(crate) fn create(kind: Kind, len: usize, guard: Option<ObjectId>) -> io::Result<Self> {
        const { assert!(std::mem::align_of::<T>() <= 64) };
        let spec = kind.spec::<T>(len)?;
        let store = Storage::new(kind.label(), &spec, guard.as_slice())?;
        // Allocate the pages here, as Python's zero-fill does: the processes that write the
        // array later then take only minor faults.
        if spec.size >= 64 * 1024 {
            store.populate_range(0, spec.size)?;
        }
        Ok(Self::view(store, len))
    }

    fn view(store: Storage, len: usize) -> Self {
        debug_assert!(store.len() >= len * std::mem::size_of::<T>());
        Region {
            data: store.payload().cast::<T>(),
            store: Arc::new(store),
            len,
            _t: PhantomData,
        }
    }

    /// Whether this region is guarded by the lock `lock` alone: a received handle whose region
    /// and lock do not belong together is refused, or two locks could guard the same memory.
    pub(crate) fn guarded_by(&self, lock: ObjectId) -> bool {
        self.store.guards() == [lock]
    }

    /// Maps the pages of elements `start..start+n` into this process at once, before a bulk
    /// copy of 64 KiB or more (one syscall instead of a page fault per 4 KiB, which a process
    /// that forked after the region was made would otherwise take on its first writes).
    pub(crate) fn prefault(&self, start: usize, n: usize) {
        let size = std::mem::size_of::<T>();
        let bytes = n.saturating_mul(size);
        if bytes >= 64 * 1024 {
            let _ = self.store.populate_range(start * size, bytes);
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
        (self.len as u64, self.store.as_ref()).serialize(s)
    }

    /// Rebuilds a region received from another process: the element count first, then the
    /// storage, checked against the spec that count makes for `kind` of `T`.
    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
        kind: Kind,
    ) -> Result<Self, D::Error> {
        struct V<T>(Kind, PhantomData<T>);
        impl<'de, T: Shareable> Visitor<'de> for V<T> {
            type Value = Region<T>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a shared memory region")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Region<T>, A::Error> {
                let len: u64 = seq
                    .next_element()?
                    .ok_or_else(|| A::Error::invalid_length(0, &self))?;
                let len = usize::try_from(len).map_err(|_| A::Error::custom("array too large"))?;
                let spec = self.0.spec::<T>(len).map_err(A::Error::custom)?;
                let store = seq
                    .next_element_seed(StorageSeed(&spec))?
                    .ok_or_else(|| A::Error::invalid_length(1, &self))?;
                Ok(Region::view(store, len))
            }
        }
        d.deserialize_tuple(2, V(kind, PhantomData))
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
