//! Where a primitive's state lives: a small `#[repr(C)]` struct of atomics at a fixed offset in
//! a memfd [`SharedMapping`], and the handle's view of it (the lock_api / iceoryx2 split of
//! storage and view).

use std::marker::PhantomData;
use std::ptr::NonNull;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use multiproc_core::SharedMapping;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Bytes before the state: a kind tag at offset 0, then padding to a cache line.
const HEADER: usize = 64;

/// A state struct that may live in shared memory.
///
/// # Safety
///
/// The type is `#[repr(C)]`, made only of atomics (so every bit pattern, all-zero included, is
/// a valid value and every process may change it at any time), at most
/// `4096 - 64` bytes, with an alignment of at most 64. It holds no pointer, reference or
/// descriptor.
pub(crate) unsafe trait SharedState: Sync + Sized {
    /// A tag stored in the page, so that a handle of one kind is never rebuilt as another.
    const KIND: u32;
    /// A label for the memfd, shown in `/proc/<pid>/fd`.
    const LABEL: &'static str;
}

/// A handle's view of its state `T` in a shared page. Clones share the mapping.
pub(crate) struct Shared<T: SharedState> {
    map: Arc<SharedMapping>,
    ptr: NonNull<T>,
    _state: PhantomData<T>,
}

// SAFETY: `Shared` is an `Arc` of a mapping (Send + Sync) plus a pointer into it; `T` is made of
// atomics (`SharedState` contract), so sharing `&T` between threads is what it is made for.
unsafe impl<T: SharedState> Send for Shared<T> {}
// SAFETY: as above; every access through `&Shared` is an atomic operation on `T`.
unsafe impl<T: SharedState> Sync for Shared<T> {}

impl<T: SharedState> Clone for Shared<T> {
    fn clone(&self) -> Self {
        Shared {
            map: Arc::clone(&self.map),
            ptr: self.ptr,
            _state: PhantomData,
        }
    }
}

impl<T: SharedState> Shared<T> {
    /// A fresh zeroed page holding a `T`, tagged with its kind; `init` sets its first values.
    pub(crate) fn new(init: impl FnOnce(&T)) -> std::io::Result<Self> {
        let map = SharedMapping::memfd(T::LABEL, 4096)?;
        map.atomic_u32(0).store(T::KIND, Ordering::Release);
        let s = Self::view(Arc::new(map));
        init(s.get());
        Ok(s)
    }

    fn view(map: Arc<SharedMapping>) -> Self {
        const { assert!(std::mem::size_of::<T>() <= 4096 - HEADER) };
        const { assert!(std::mem::align_of::<T>() <= HEADER) };
        assert!(map.len() >= HEADER + std::mem::size_of::<T>());
        // SAFETY: the mapping is at least HEADER + size_of::<T>() bytes (checked) and
        // page-aligned, so HEADER (a multiple of T's alignment) stays inside and aligned.
        let p = unsafe { map.as_ptr().add(HEADER) };
        Shared {
            ptr: NonNull::new(p.cast::<T>()).expect("mapping pointer is never null"),
            map,
            _state: PhantomData,
        }
    }

    /// The state.
    #[inline]
    pub(crate) fn get(&self) -> &T {
        // SAFETY: `ptr` points inside the mapping that `self.map` keeps alive, aligned for `T`
        // (see `view`); `T` is all atomics, valid for any bytes and meant for shared access.
        unsafe { self.ptr.as_ref() }
    }

    /// The state's identity across processes (its memfd's device and inode).
    pub(crate) fn identity(&self) -> (u64, u64) {
        self.map.identity().unwrap_or((0, 0))
    }

    /// Whether two handles view the same state.
    pub(crate) fn same(&self, other: &Self) -> bool {
        self.ptr == other.ptr
    }
}

impl<T: SharedState> Serialize for Shared<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.map.as_ref().serialize(s)
    }
}

impl<'de, T: SharedState> Deserialize<'de> for Shared<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error as _;
        let map = SharedMapping::deserialize(d)?;
        if map.len() < HEADER + std::mem::size_of::<T>() {
            return Err(D::Error::custom("shared page too small for this primitive"));
        }
        let kind = map.atomic_u32(0).load(Ordering::Acquire);
        if kind != T::KIND {
            return Err(D::Error::custom(format!(
                "the page holds a primitive of another kind ({kind:#x}, expected {:#x})",
                T::KIND
            )));
        }
        Ok(Self::view(Arc::new(map)))
    }
}
