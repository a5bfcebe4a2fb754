//! [`Array`]: a fixed-length shared array behind a process-shared lock.

use std::fmt;
use std::ops::RangeBounds;

use serde::{Deserialize, Serialize};

use crate::Shareable;
use multiproc_sync::{AnyLock, AnyLockGuard, LockResult, OwnerDied, TryLockError};

use crate::error::{Error, check_index, check_range};
use crate::locking::{assert_held, lock_anyway};
use multiproc_core::heap::Refusal;

use crate::region::{Kind, Region, wire};

/// Elements copied per step of an [`Iter`]: 4 KiB, small enough to stay in the L1 cache.
const CHUNK_BYTES: usize = 4096;

/// A fixed-length array of `T` in shared memory, guarded by a process-shared lock: Python's
/// `multiprocessing.Array(typecode, size_or_initializer)`.
///
/// Every convenience method ([`get`](Self::get), [`set`](Self::set), [`to_vec`](Self::to_vec),
/// [`slice`](Self::slice), [`set_slice`](Self::set_slice), …) takes the lock for its whole
/// operation; [`lock`](Self::lock) holds it across several, and its guard iterates
/// ([`ArrayGuard::iter`]). Indexes are checked ([`Error::OutOfBounds`], Python's
/// `IndexError`). Elements are copied in and out, in bulk where possible (one `memcpy` for a
/// slice); no reference into the shared memory is handed out (see the crate docs,
/// "Soundness"). For Python's `lock=False`, use [`RawArray`](crate::RawArray).
///
/// An `Array<u8>` doubles as Python's `Array('c', b'...')`: [`value`](Self::value) and
/// [`set_value`](Self::set_value) read and write it as a NUL-terminated byte string.
///
/// A handle like [`Value`](crate::Value): clone it, inherit it by `fork`, or pass it to an
/// `multiproc-process` child under any start method.
///
/// ```
/// use multiproc_shm::Array;
///
/// let arr = Array::new(&(0..5).collect::<Vec<i32>>())?; // Array('i', range(5))
/// arr.set(0, 10)?;
/// assert_eq!(arr.to_vec(), [10, 1, 2, 3, 4]); // arr[:]
/// assert!(arr.get(5).is_err()); // IndexError
/// let total: i32 = arr.lock().unwrap().iter().sum(); // iteration under the lock
/// assert_eq!(total, 20);
///
/// let s = Array::new(b"hello world")?; // Array('c', b'hello world')
/// s.set_value(&s.value().to_ascii_uppercase())?;
/// assert_eq!(s.value(), b"HELLO WORLD");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Serialize, Deserialize)]
#[serde(bound = "T: Shareable", try_from = "ArrayWire<T>")]
pub struct Array<T: Shareable> {
    #[serde(with = "wire::array")]
    region: Region<T>,
    lock: AnyLock,
}

/// What a received handle is rebuilt from; checked before it becomes a `Array`.
#[derive(Deserialize)]
#[serde(bound = "T: Shareable")]
struct ArrayWire<T: Shareable> {
    #[serde(with = "wire::array")]
    region: Region<T>,
    lock: AnyLock,
}

impl<T: Shareable> TryFrom<ArrayWire<T>> for Array<T> {
    type Error = serde::de::value::Error;
    fn try_from(w: ArrayWire<T>) -> Result<Self, Self::Error> {
        if !w.region.guarded_by(w.lock.id()) {
            let why = multiproc_core::Error::Refused(Refusal::WrongGuard);
            return Err(multiproc_core::transfer::fail_de(why));
        }
        Ok(Array {
            region: w.region,
            lock: w.lock,
        })
    }
}

impl<T: Shareable> Clone for Array<T> {
    fn clone(&self) -> Self {
        Array {
            region: self.region.clone(),
            lock: self.lock.clone(),
        }
    }
}

impl<T: Shareable + Copy + fmt::Debug> fmt::Debug for Array<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Array")
            .field("len", &self.len())
            .field("lock", &self.lock)
            .finish()
    }
}

impl<T: Shareable + Copy> Array<T> {
    /// A new array holding a copy of `values`, guarded by a new
    /// [`RLock`](multiproc_sync::RLock) (Python's `Array(t, initializer)`).
    pub fn new(values: &[T]) -> std::io::Result<Array<T>> {
        Self::with_lock(values, AnyLock::new()?)
    }

    /// A new array of `len` zeros (Python's `Array('i', 4)`).
    pub fn zeroed(len: usize) -> std::io::Result<Array<T>> {
        Self::zeroed_with_lock(len, AnyLock::new()?)
    }

    /// A new array holding a copy of `values`, guarded by `lock`, which other values and
    /// arrays may share (Python's `Array(t, initializer, lock=lock)`).
    pub fn with_lock(values: &[T], lock: impl Into<AnyLock>) -> std::io::Result<Array<T>> {
        let lock = lock.into();
        let region = Region::<T>::create(Kind::Array, values.len(), Some(lock.id()))?;
        // SAFETY: the region was just made for `values.len()` elements and no other handle to
        // it exists yet; fresh shared memory never overlaps `values`.
        unsafe {
            std::ptr::copy_nonoverlapping(values.as_ptr(), region.ptr(), values.len());
        }
        Ok(Array { region, lock })
    }

    /// A new array of `len` zeros guarded by `lock`.
    pub fn zeroed_with_lock(len: usize, lock: impl Into<AnyLock>) -> std::io::Result<Array<T>> {
        let lock = lock.into();
        let region = Region::create(Kind::Array, len, Some(lock.id()))?;
        Ok(Array { region, lock })
    }

    /// The number of elements (Python's `len(arr)`).
    #[inline]
    pub fn len(&self) -> usize {
        self.region.len()
    }

    /// Whether it has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The lock (Python's `get_lock()`).
    pub fn get_lock(&self) -> &AnyLock {
        &self.lock
    }

    /// Whether both handles are the same shared array.
    pub fn same_as(&self, other: &Array<T>) -> bool {
        self.region.same(&other.region)
    }

    fn guard<'a>(&'a self, g: AnyLockGuard<'a>) -> ArrayGuard<'a, T> {
        ArrayGuard {
            array: self,
            _guard: g,
        }
    }

    #[inline]
    fn locked(&self) -> ArrayGuard<'_, T> {
        self.guard(lock_anyway(&self.lock))
    }

    /// Takes the lock and returns a guard that reads and writes the elements while it lives.
    ///
    /// # Errors
    /// [`OwnerDied`] (with the guard: the lock is held) when the previous holder died holding
    /// it; the elements are what it left (valid, [`Shareable`] rule 4).
    pub fn lock(&self) -> LockResult<ArrayGuard<'_, T>> {
        match self.lock.lock() {
            Ok(g) => Ok(self.guard(g)),
            Err(OwnerDied(g)) => Err(OwnerDied(self.guard(g))),
        }
    }

    /// [`lock`](Self::lock) if the lock is free now.
    ///
    /// # Errors
    /// [`TryLockError::Timeout`] when another thread holds it; [`TryLockError::OwnerDied`]
    /// (with the guard) as for [`lock`](Self::lock).
    pub fn try_lock(&self) -> Result<ArrayGuard<'_, T>, TryLockError<ArrayGuard<'_, T>>> {
        self.outcome(self.lock.try_lock())
    }

    /// [`lock`](Self::lock), waiting at most `timeout`.
    ///
    /// # Errors
    /// As [`try_lock`](Self::try_lock), after `timeout`.
    pub fn lock_timeout(
        &self,
        timeout: std::time::Duration,
    ) -> Result<ArrayGuard<'_, T>, TryLockError<ArrayGuard<'_, T>>> {
        self.outcome(self.lock.lock_timeout(timeout))
    }

    fn outcome<'a>(
        &'a self,
        r: Result<AnyLockGuard<'a>, TryLockError<AnyLockGuard<'a>>>,
    ) -> Result<ArrayGuard<'a, T>, TryLockError<ArrayGuard<'a, T>>> {
        match r {
            Ok(g) => Ok(self.guard(g)),
            Err(TryLockError::OwnerDied(g)) => Err(TryLockError::OwnerDied(self.guard(g))),
            Err(TryLockError::Timeout) => Err(TryLockError::Timeout),
        }
    }

    /// Element `index` (Python's `arr[i]`).
    ///
    /// # Errors
    /// [`Error::OutOfBounds`].
    pub fn get(&self, index: usize) -> Result<T, Error> {
        self.locked().get(index)
    }

    /// Sets element `index` (Python's `arr[i] = x`).
    ///
    /// # Errors
    /// [`Error::OutOfBounds`].
    pub fn set(&self, index: usize, value: T) -> Result<(), Error> {
        self.locked().set(index, value)
    }

    /// Read-modify-write of element `index` under the lock; returns what `f` returns.
    ///
    /// # Errors
    /// [`Error::OutOfBounds`].
    pub fn update<R>(&self, index: usize, f: impl FnOnce(&mut T) -> R) -> Result<R, Error> {
        self.locked().update(index, f)
    }

    /// Changes every element in place, under the lock held once (Python's
    /// `for a in A: a.x **= 2`).
    pub fn update_all(&self, f: impl FnMut(&mut T)) {
        self.locked().update_all(f);
    }

    /// A copy of every element (Python's `arr[:]`), one `memcpy` under the lock.
    pub fn to_vec(&self) -> Vec<T> {
        self.locked().to_vec()
    }

    /// A copy of the elements in `range` (Python's `arr[a:b]`).
    ///
    /// # Errors
    /// [`Error::OutOfBounds`] when the range does not fit.
    pub fn slice(&self, range: impl RangeBounds<usize>) -> Result<Vec<T>, Error> {
        self.locked().slice(range)
    }

    /// Overwrites every element from `values`, of the same length (Python's `arr[:] = xs`).
    ///
    /// # Errors
    /// [`Error::LengthMismatch`].
    pub fn copy_from_slice(&self, values: &[T]) -> Result<(), Error> {
        self.locked().copy_from_slice(values)
    }

    /// Overwrites the elements from `start` on with `values` (Python's
    /// `arr[start:start+len(xs)] = xs`).
    ///
    /// # Errors
    /// [`Error::OutOfBounds`] when they do not fit.
    pub fn set_slice(&self, start: usize, values: &[T]) -> Result<(), Error> {
        self.locked().set_slice(start, values)
    }
}

impl Array<u8> {
    /// The bytes up to the first NUL (Python's `value` of a `'c'` array).
    pub fn value(&self) -> Vec<u8> {
        self.locked().value()
    }

    /// Stores `bytes` and, if shorter than the array, a NUL after them (Python's
    /// `s.value = b'...'`).
    ///
    /// # Errors
    /// [`Error::TooLong`] when `bytes` is longer than the array.
    pub fn set_value(&self, bytes: &[u8]) -> Result<(), Error> {
        self.locked().set_value(bytes)
    }
}

/// The lock of an [`Array`], held: element access without taking it again, and iteration.
/// Not `Send`.
///
/// Copies in and out only (see [`ValueGuard`](crate::ValueGuard) for why); each access first
/// checks that this thread still holds the lock.
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct ArrayGuard<'a, T: Shareable> {
    array: &'a Array<T>,
    _guard: AnyLockGuard<'a>,
}

impl<T: Shareable> fmt::Debug for ArrayGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ArrayGuard")
            .field("len", &self.array.region.len())
            .finish()
    }
}

impl<T: Shareable + Copy> ArrayGuard<'_, T> {
    /// The number of elements.
    #[inline]
    pub fn len(&self) -> usize {
        self.array.len()
    }

    /// Whether it has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Copies `out.len()` elements from `start` into `out`; the range is checked by the caller.
    #[inline]
    fn read(&self, start: usize, out: &mut [T]) {
        debug_assert!(start + out.len() <= self.len());
        assert_held(&self.array.lock);
        // This thread holds the lock (checked just now; no user code runs until the copy is
        // done), so no thread of any process writes these elements meanwhile.
        // SAFETY: as just said; the range is inside the region; `out` is private memory.
        unsafe {
            crate::shareable::copy_out(
                self.array.region.ptr().add(start),
                out.as_mut_ptr(),
                out.len(),
            );
        }
    }

    /// Copies `values` in from `start`; the range is checked by the caller.
    #[inline]
    fn write(&self, start: usize, values: &[T]) {
        debug_assert!(start + values.len() <= self.len());
        self.array.region.prefault(start, values.len());
        assert_held(&self.array.lock);
        // SAFETY: as in `read`, for writing.
        unsafe {
            std::ptr::copy_nonoverlapping(
                values.as_ptr(),
                self.array.region.ptr().add(start),
                values.len(),
            );
        }
    }

    /// Element `index`.
    ///
    /// # Errors
    /// [`Error::OutOfBounds`].
    ///
    /// # Panics
    /// If this thread no longer holds the lock (see [`AnyLock`]); so do all methods here.
    #[inline]
    pub fn get(&self, index: usize) -> Result<T, Error> {
        let i = check_index(index, self.len())?;
        assert_held(&self.array.lock);
        // SAFETY: the lock is held (checked), `i` is in bounds.
        Ok(unsafe { crate::shareable::read_one(self.array.region.ptr().add(i)) })
    }

    /// Sets element `index`.
    ///
    /// # Errors
    /// [`Error::OutOfBounds`].
    #[inline]
    pub fn set(&self, index: usize, value: T) -> Result<(), Error> {
        let i = check_index(index, self.len())?;
        assert_held(&self.array.lock);
        // SAFETY: the lock is held (checked), `i` is in bounds.
        unsafe { self.array.region.ptr().add(i).write(value) };
        Ok(())
    }

    /// Read-modify-write of element `index`.
    ///
    /// # Errors
    /// [`Error::OutOfBounds`].
    pub fn update<R>(&self, index: usize, f: impl FnOnce(&mut T) -> R) -> Result<R, Error> {
        let mut v = self.get(index)?;
        let r = f(&mut v);
        self.set(index, v)?;
        Ok(r)
    }

    /// Changes every element in place (copied out, changed, copied back, a chunk at a time).
    pub fn update_all(&self, mut f: impl FnMut(&mut T)) {
        let mut buf = Vec::new();
        let mut start = 0;
        while start < self.len() {
            let n = chunk_len::<T>().min(self.len() - start);
            buf.clear();
            buf.extend((start..start + n).map(|i| self.get(i).expect("in bounds")));
            buf.iter_mut().for_each(&mut f);
            self.write(start, &buf);
            start += n;
        }
    }

    /// A copy of every element.
    pub fn to_vec(&self) -> Vec<T> {
        self.slice(..).expect("the whole array is in bounds")
    }

    /// A copy of the elements in `range`.
    ///
    /// # Errors
    /// [`Error::OutOfBounds`].
    pub fn slice(&self, range: impl RangeBounds<usize>) -> Result<Vec<T>, Error> {
        let r = check_range(range, self.len())?;
        let mut v = Vec::with_capacity(r.len());
        assert_held(&self.array.lock);
        // The lock is held (checked; no user code until the copy is done); the range is in
        // bounds; the Vec has room for `r.len()` elements.
        // SAFETY: as just said; the copy initialises those elements before `set_len`.
        unsafe {
            crate::shareable::copy_out(
                self.array.region.ptr().add(r.start),
                v.as_mut_ptr(),
                r.len(),
            );
            v.set_len(r.len());
        }
        Ok(v)
    }

    /// Copies the elements from `start` into `out` (all of `out`).
    ///
    /// # Errors
    /// [`Error::OutOfBounds`] when `start + out.len()` is past the end.
    pub fn read_into(&self, start: usize, out: &mut [T]) -> Result<(), Error> {
        check_range(start..start.saturating_add(out.len()), self.len())?;
        self.read(start, out);
        Ok(())
    }

    /// Overwrites every element from `values`, of the same length: one `memcpy`.
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
        self.write(0, values);
        Ok(())
    }

    /// Overwrites the elements from `start` on with `values`.
    ///
    /// # Errors
    /// [`Error::OutOfBounds`] when they do not fit.
    pub fn set_slice(&self, start: usize, values: &[T]) -> Result<(), Error> {
        check_range(start..start.saturating_add(values.len()), self.len())?;
        self.write(start, values);
        Ok(())
    }

    /// Iterates over copies of the elements, under this guard's lock. Copies a 4 KiB chunk at a
    /// time into a private buffer, so a sum over the array costs about one `memcpy` plus the
    /// sum.
    pub fn iter(&self) -> Iter<'_, T> {
        Iter {
            guard: self,
            next: 0,
            buf: Vec::new(),
            at: 0,
        }
    }
}

impl ArrayGuard<'_, u8> {
    /// The bytes up to the first NUL (Python's `value` of a `'c'` array).
    pub fn value(&self) -> Vec<u8> {
        let mut v = self.to_vec();
        if let Some(end) = v.iter().position(|&b| b == 0) {
            v.truncate(end);
        }
        v
    }

    /// Stores `bytes` and, if shorter than the array, a NUL after them.
    ///
    /// # Errors
    /// [`Error::TooLong`] when `bytes` is longer than the array.
    pub fn set_value(&self, bytes: &[u8]) -> Result<(), Error> {
        if bytes.len() > self.len() {
            return Err(Error::TooLong {
                capacity: self.len(),
                got: bytes.len(),
            });
        }
        self.write(0, bytes);
        if bytes.len() < self.len() {
            self.write(bytes.len(), &[0]);
        }
        Ok(())
    }
}

fn chunk_len<T>() -> usize {
    (CHUNK_BYTES / std::mem::size_of::<T>().max(1)).max(1)
}

impl<'g, T: Shareable + Copy> IntoIterator for &'g ArrayGuard<'_, T> {
    type Item = T;
    type IntoIter = Iter<'g, T>;
    fn into_iter(self) -> Iter<'g, T> {
        self.iter()
    }
}

/// Copies of an [`Array`]'s elements, read under its lock ([`ArrayGuard::iter`]).
pub struct Iter<'g, T: Shareable> {
    guard: &'g ArrayGuard<'g, T>,
    next: usize,
    buf: Vec<T>,
    at: usize,
}

impl<T: Shareable> fmt::Debug for Iter<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Iter").field("next", &self.next).finish()
    }
}

impl<T: Shareable + Copy> Iterator for Iter<'_, T> {
    type Item = T;

    #[inline]
    fn next(&mut self) -> Option<T> {
        if self.at == self.buf.len() {
            let len = self.guard.len();
            if self.next == len {
                return None;
            }
            let n = chunk_len::<T>().min(len - self.next);
            if self.buf.len() != n {
                // Sized once (and once more for the last chunk); its contents are replaced by
                // `read` before use.
                match self.buf.first().copied() {
                    Some(any) => self.buf.resize(n, any),
                    None => {
                        let first = self.guard.get(self.next).expect("in bounds");
                        self.buf.resize(n, first);
                    }
                }
            }
            self.guard.read(self.next, &mut self.buf);
            self.next += n;
            self.at = 0;
        }
        let v = self.buf[self.at];
        self.at += 1;
        Some(v)
    }

    /// Whole chunks at a time: `sum`, `fold`, `for_each` and their kin run over a plain slice
    /// of each copied chunk (as fast as over a `Vec`).
    fn fold<B, F: FnMut(B, T) -> B>(mut self, init: B, mut f: F) -> B {
        let mut acc = self.buf[self.at..].iter().copied().fold(init, &mut f);
        let len = self.guard.len();
        let mut chunk: Vec<T> = Vec::new();
        while self.next < len {
            let n = chunk_len::<T>().min(len - self.next);
            if chunk.len() != n {
                // Any value does (it is overwritten by `read`): the first element of the chunk.
                let first = self.guard.get(self.next).expect("in bounds");
                chunk.clear();
                chunk.resize(n, first);
            }
            self.guard.read(self.next, &mut chunk);
            self.next += n;
            acc = chunk.iter().copied().fold(acc, &mut f);
        }
        acc
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.buf.len() - self.at + (self.guard.len() - self.next);
        (n, Some(n))
    }
}

impl<T: Shareable + Copy> ExactSizeIterator for Iter<'_, T> {}
