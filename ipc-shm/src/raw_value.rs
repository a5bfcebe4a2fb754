//! [`RawValue`]: one shared `T` without a lock.

use std::fmt;
use std::sync::atomic::Ordering;

use serde::{Deserialize, Serialize};

use crate::region::{Kind, Region, wire};
use crate::{AtomicElement, Shareable};

/// One `T` in shared memory with no lock: Python's `RawValue(typecode, value)` and
/// `Value(typecode, value, lock=False)`.
///
/// Safe access needs `T: AtomicElement` (the integers, floats and `bool`): each
/// [`get`](Self::get) and [`set`](Self::set) is one relaxed atomic load or store, so two
/// processes that use it at once never race (a reader sees the old value or the new one).
/// On x86-64 these are plain `mov`s. A read-modify-write such as `v.set(v.get() + 1)` is not
/// atomic as a whole, exactly as in Python: use a [`Value`](crate::Value) and its
/// [`update`](crate::Value::update) for that.
///
/// For a struct without a lock, only the `unsafe` [`as_ptr`](Self::as_ptr) is offered: nothing
/// could stop another process from writing half of it while this one reads.
///
/// ```
/// let b = multiproc_shm::RawValue::new(false)?; // Value(c_bool, False, lock=False)
/// b.set(true);
/// assert!(b.get());
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Serialize, Deserialize)]
#[serde(bound = "T: Shareable")]
#[serde(transparent)]
pub struct RawValue<T: Shareable> {
    #[serde(with = "wire::raw_value")]
    region: Region<T>,
}

impl<T: Shareable> Clone for RawValue<T> {
    fn clone(&self) -> Self {
        RawValue {
            region: self.region.clone(),
        }
    }
}

impl<T: AtomicElement + fmt::Debug> fmt::Debug for RawValue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("RawValue").field(&self.get()).finish()
    }
}

impl<T: Shareable + Copy> RawValue<T> {
    /// A new zero value (Python's `RawValue('i')`).
    pub fn zeroed() -> std::io::Result<RawValue<T>> {
        Ok(RawValue {
            region: Region::create(Kind::RawValue, 1, None)?,
        })
    }

    /// The value's address, valid while this handle (or a clone) lives.
    ///
    /// Reading or writing through it is up to the caller: no other thread of any process may
    /// write the value during a non-atomic access (hold a lock that every user takes).
    pub fn as_ptr(&self) -> *mut T {
        self.region.ptr()
    }

    /// Whether both handles are the same shared value.
    pub fn same_as(&self, other: &RawValue<T>) -> bool {
        self.region.same(&other.region)
    }
}

impl<T: AtomicElement> RawValue<T> {
    /// A new value (Python's `RawValue(t, v)`).
    pub fn new(value: T) -> std::io::Result<RawValue<T>> {
        let v = Self::zeroed()?;
        v.set(value);
        Ok(v)
    }

    /// Loads the value (a relaxed atomic load: Python's `v.value`).
    #[inline]
    pub fn get(&self) -> T {
        self.load(Ordering::Relaxed)
    }

    /// Stores `value` (a relaxed atomic store: Python's `v.value = x`).
    #[inline]
    pub fn set(&self, value: T) {
        self.store(value, Ordering::Relaxed)
    }

    /// Loads the value with the given ordering (`Acquire` pairs with a `Release` store).
    #[inline]
    pub fn load(&self, order: Ordering) -> T {
        // A raw region is only ever accessed atomically by safe code: its kind tag keeps it from
        // being rebuilt as a locked `Value`.
        // SAFETY: so, and the region holds one aligned `T`, alive while `self` is.
        unsafe { T::load(self.region.ptr(), order) }
    }

    /// Stores `value` with the given ordering.
    #[inline]
    pub fn store(&self, value: T, order: Ordering) {
        // SAFETY: as in `load`.
        unsafe { T::store(self.region.ptr(), value, order) }
    }
}
