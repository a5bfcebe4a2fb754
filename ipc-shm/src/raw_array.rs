//! [`RawArray`]: a fixed-length shared array without a lock.

use std::fmt;
use std::sync::atomic::Ordering;

use serde::{Deserialize, Serialize};

use crate::error::{Error, check_index, check_range};
use crate::region::{Kind, Region, wire};
use crate::{AtomicElement, Shareable};

/// A fixed-length array of `T` in shared memory with no lock: Python's `RawArray(typecode,
/// size_or_initializer)` and `Array(..., lock=False)`.
///
/// Safe access needs `T: AtomicElement` (the integers, floats and `bool`): every element is
/// read and written by one relaxed atomic load or store (a plain `mov` on x86-64), so
/// processes that use the array at once never race on an element, though a bulk copy
/// ([`to_vec`](Self::to_vec), [`copy_from_slice`](Self::copy_from_slice)) is not a snapshot
/// while someone writes. That is Python's `lock=False` contract, made sound. For an array of
/// structs, use an [`Array`](crate::Array) (or the `unsafe` [`as_ptr`](Self::as_ptr)).
///
/// ```
/// let a = multiproc_shm::RawArray::<f64>::zeroed(4)?; // RawArray('d', 4)
/// a.set(1, 2.5)?;
/// assert_eq!(a.to_vec(), [0.0, 2.5, 0.0, 0.0]);
/// assert!(a.set(4, 1.0).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Serialize, Deserialize)]
#[serde(bound = "T: Shareable")]
#[serde(transparent)]
pub struct RawArray<T: Shareable> {
    #[serde(with = "wire::raw_array")]
    region: Region<T>,
}

impl<T: Shareable> Clone for RawArray<T> {
    fn clone(&self) -> Self {
        RawArray {
            region: self.region.clone(),
        }
    }
}

impl<T: Shareable> fmt::Debug for RawArray<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawArray")
            .field("len", &self.region.len())
            .finish()
    }
}

impl<T: Shareable + Copy> RawArray<T> {
    /// A new array of `len` zeros (Python's `RawArray('d', 1_000_000)`).
    pub fn zeroed(len: usize) -> std::io::Result<RawArray<T>> {
        Ok(RawArray {
            region: Region::create(Kind::RawArray, len, None)?,
        })
    }

    /// The number of elements.
    #[inline]
    pub fn len(&self) -> usize {
        self.region.len()
    }

    /// Whether it has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The first element's address; the array is valid for [`len`](Self::len) elements while
    /// this handle (or a clone) lives.
    ///
    /// Reading or writing through it is up to the caller: during a non-atomic access no other
    /// thread of any process may write those elements.
    pub fn as_ptr(&self) -> *mut T {
        self.region.ptr()
    }

    /// Whether both handles are the same shared array.
    pub fn same_as(&self, other: &RawArray<T>) -> bool {
        self.region.same(&other.region)
    }
}

impl<T: AtomicElement> RawArray<T> {
    /// A new array holding a copy of `values` (Python's `RawArray(t, initializer)`).
    pub fn new(values: &[T]) -> std::io::Result<RawArray<T>> {
        let a = Self::zeroed(values.len())?;
        a.store_from(0, values);
        Ok(a)
    }

    #[inline]
    fn load(&self, i: usize) -> T {
        debug_assert!(i < self.len());
        // SAFETY: `i` is in bounds (checked by every caller); the element is aligned; a raw
        // region is only ever accessed atomically by safe code.
        unsafe { T::load(self.region.ptr().add(i), Ordering::Relaxed) }
    }

    #[inline]
    fn store(&self, i: usize, v: T) {
        debug_assert!(i < self.len());
        // SAFETY: as in `load`.
        unsafe { T::store(self.region.ptr().add(i), v, Ordering::Relaxed) }
    }

    fn store_from(&self, start: usize, values: &[T]) {
        for (i, v) in values.iter().enumerate() {
            self.store(start + i, *v);
        }
    }

    /// Element `index` (one relaxed atomic load).
    ///
    /// # Errors
    /// [`Error::OutOfBounds`].
    #[inline]
    pub fn get(&self, index: usize) -> Result<T, Error> {
        Ok(self.load(check_index(index, self.len())?))
    }

    /// Sets element `index` (one relaxed atomic store).
    ///
    /// # Errors
    /// [`Error::OutOfBounds`].
    #[inline]
    pub fn set(&self, index: usize, value: T) -> Result<(), Error> {
        self.store(check_index(index, self.len())?, value);
        Ok(())
    }

    /// A copy of every element.
    pub fn to_vec(&self) -> Vec<T> {
        self.iter().collect()
    }

    /// A copy of the elements in `range`.
    ///
    /// # Errors
    /// [`Error::OutOfBounds`].
    pub fn slice(&self, range: impl std::ops::RangeBounds<usize>) -> Result<Vec<T>, Error> {
        let r = check_range(range, self.len())?;
        Ok(r.map(|i| self.load(i)).collect())
    }

    /// Overwrites every element from `values`, of the same length.
    ///
    /// # Errors
    /// [`Error::LengthMismatch`].
    pub fn copy_from_slice(&self, values: &[T]) -> Result<(), Error> {
        if values.len() != self.len() {
            return Err(Error::LengthMismatch {
                expected: self.len(),
                got: values.len(),
            });
        }
        self.store_from(0, values);
        Ok(())
    }

    /// Overwrites the elements from `start` on with `values`.
    ///
    /// # Errors
    /// [`Error::OutOfBounds`] when they do not fit.
    pub fn set_slice(&self, start: usize, values: &[T]) -> Result<(), Error> {
        check_range(start..start.saturating_add(values.len()), self.len())?;
        self.store_from(start, values);
        Ok(())
    }

    /// Iterates over the elements (each a relaxed atomic load when reached).
    pub fn iter(&self) -> impl ExactSizeIterator<Item = T> + '_ {
        (0..self.len()).map(|i| self.load(i))
    }
}
