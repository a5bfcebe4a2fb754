//! [`Shareable`]: what may live in shared memory; [`AtomicElement`]: what may be read and
//! written there without a lock.

use std::sync::atomic::{
    AtomicBool, AtomicI8, AtomicI16, AtomicI32, AtomicI64, AtomicIsize, AtomicU8, AtomicU16,
    AtomicU32, AtomicU64, AtomicUsize, Ordering,
};

// The layouts the atomic accessors rely on: each primitive has the size and alignment of the
// atomic it is read and written through (true on every 64-bit Linux target).
static_assertions::assert_eq_size!(bool, u8);
static_assertions::assert_eq_size!(f32, u32);
static_assertions::assert_eq_size!(f64, u64);
static_assertions::const_assert_eq!(
    std::mem::align_of::<u64>(),
    std::mem::align_of::<AtomicU64>()
);
static_assertions::const_assert_eq!(
    std::mem::align_of::<i64>(),
    std::mem::align_of::<AtomicI64>()
);
static_assertions::const_assert_eq!(
    std::mem::align_of::<f64>(),
    std::mem::align_of::<AtomicU64>()
);
static_assertions::const_assert_eq!(
    std::mem::align_of::<f32>(),
    std::mem::align_of::<AtomicU32>()
);
static_assertions::const_assert_eq!(
    std::mem::align_of::<usize>(),
    std::mem::align_of::<AtomicUsize>()
);
// Python's ctypes sizes, which the typecodes of the seeds assume ('i' is a 4-byte c_int,
// 'd' an 8-byte c_double, 'c' one byte).
static_assertions::assert_eq_size!(i32, std::ffi::c_int);
static_assertions::assert_eq_size!(f64, std::ffi::c_double);
static_assertions::assert_eq_size!(u8, std::ffi::c_char);

/// A type whose values may live in memory that several processes map: the element type of
/// [`Value`](crate::Value), [`Array`](crate::Array), [`RawValue`](crate::RawValue) and
/// [`RawArray`](crate::RawArray) (ctypes' role in Python).
///
/// Implemented for the integers, `f32`, `f64`, `bool`, arrays of `Shareable` types, and the
/// atomics of `std`. A `#[repr(C)]` struct of such fields derives it (feature `derive`, on by
/// default), which checks the contract below when the program compiles:
///
/// ```
/// use multiproc_shm::{Array, Shareable};
///
/// /// Python's `class Point(Structure): _fields_ = [('x', c_double), ('y', c_double)]`.
/// #[derive(Shareable, Clone, Copy, Debug, PartialEq)]
/// #[repr(C)]
/// struct Point {
///     x: f64,
///     y: f64,
/// }
///
/// let a = Array::new(&[Point { x: 1.5, y: 2.0 }])?;
/// assert_eq!(a.get(0)?, Point { x: 1.5, y: 2.0 });
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// The derive refuses what the contract forbids, with a message that says why: a struct
/// without `#[repr(C)]` or `#[repr(transparent)]`, an enum or a union, a field whose type is
/// not `Shareable` (a reference, a `Box`, a `String`, a `char`, …), an alignment above 64, a
/// `Drop` impl, a lifetime parameter. A `bool` field is fine: the derived impl fixes its byte on
/// every read, as `bool`'s own impl does. Generic structs get the bound `Field: Shareable` for
/// each field. From the umbrella crate alone, write `#[shareable(crate = multiproc::shm)]`
/// beside the derive.
///
/// By hand, the same struct takes one `unsafe impl` and a `SAFETY` comment that vouches for
/// the contract (the way to go for a union, or without the `derive` feature):
///
/// ```
/// #[derive(Clone, Copy)]
/// #[repr(C)]
/// struct Point {
///     x: f64,
///     y: f64,
/// }
///
/// // SAFETY: #[repr(C)], two f64 fields: no pointers, any bytes (zero included) are a Point.
/// unsafe impl multiproc_shm::Shareable for Point {}
/// ```
///
/// # Safety
///
/// Implement it only for a type that meets all of these; the crate's safe API relies on them.
///
/// 1. **One layout everywhere.** The type is a primitive, or `#[repr(C)]` /
///    `#[repr(transparent)]` over `Shareable` fields, so that every process that maps the memory
///    (built from the same definition for the same target) agrees on its size, alignment and
///    field offsets. Its alignment is at most 64.
/// 2. **Nothing local to one process.** No pointers, references, `Box`/`Vec`/`String` or other
///    heap data, no file descriptors, no handles whose meaning is local to a process: the bytes
///    alone are the value, wherever they are read.
/// 3. **Zero is a value.** All-zero bytes are a valid value (shared memory starts zeroed:
///    [`Array::zeroed`](crate::Array::zeroed), Python's `Array('i', 4)`).
/// 4. **Any bytes are a value.** Every bit pattern of the type's size is a valid value: the
///    memory can be written by a process killed in the middle of a copy, by a program that
///    opened the block by name, or through a raw view of the same mapping, and what is read back
///    must still be a value. Integers, floats, atomics other than `AtomicBool`, and structs and
///    arrays of these qualify; `char`, enums, `NonZero*`, references and `bool` do not. (`bool`
///    and `AtomicBool` are `Shareable` because this crate overrides a hidden hook for them: every
///    read maps a non-zero byte to `true`. A struct with a `bool` field qualifies only through
///    `#[derive(Shareable)]`, whose impl runs that hook on each such field; not by hand.)
/// 5. **Thread-safe.** The type is `Send + Sync` (required by the trait) and has no `Drop`
///    glue that matters: copies are made bit for bit and never dropped in shared memory.
///
/// Padding bytes are allowed: they are copied, never read as values.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot live in shared memory",
    label = "not `Shareable`",
    note = "shared memory holds primitives, arrays, atomics and #[repr(C)] structs of them \
            (#[derive(Shareable)]); no pointers, references, heap data or descriptors"
)]
pub unsafe trait Shareable: Send + Sync + 'static {
    /// Whether [`normalize`](Self::normalize) must run on bytes read from shared memory.
    #[doc(hidden)]
    const NORMALIZE: bool = false;

    /// Turns the bytes of one value, just copied out of shared memory, into a valid value in
    /// place. A no-op for types whose every bit pattern is a value.
    ///
    /// # Safety
    /// `p` is valid for reads and writes of `size_of::<Self>()` bytes.
    #[doc(hidden)]
    unsafe fn normalize(p: *mut u8) {
        let _ = p;
    }
}

/// Copies `n` values from shared memory at `src` to private memory at `dst`, making each a
/// valid value (see [`Shareable::normalize`]).
///
/// # Safety
/// `src` is valid for reads of `n` values and nobody writes them meanwhile (the lock is held);
/// `dst` is valid for writes of `n` values and does not overlap `src`.
pub(crate) unsafe fn copy_out<T: Shareable>(src: *const T, dst: *mut T, n: usize) {
    if !T::NORMALIZE {
        // SAFETY: the caller's contract; every bit pattern of `T` is a value (rule 4).
        unsafe { std::ptr::copy_nonoverlapping(src, dst, n) };
        return;
    }
    for i in 0..n {
        let mut tmp = std::mem::MaybeUninit::<T>::uninit();
        // SAFETY: the caller's contract for element `i`; `tmp` holds any bytes; `normalize`
        // makes them a valid `T` before `assume_init`.
        unsafe {
            std::ptr::copy_nonoverlapping(
                src.add(i).cast::<u8>(),
                tmp.as_mut_ptr().cast::<u8>(),
                std::mem::size_of::<T>(),
            );
            T::normalize(tmp.as_mut_ptr().cast::<u8>());
            dst.add(i).write(tmp.assume_init());
        }
    }
}

/// Reads one value from shared memory (see [`copy_out`]).
///
/// # Safety
/// As [`copy_out`] for one value.
pub(crate) unsafe fn read_one<T: Shareable>(src: *const T) -> T {
    let mut v = std::mem::MaybeUninit::<T>::uninit();
    // SAFETY: the caller's contract; `copy_out` leaves a valid `T` in `v`.
    unsafe {
        copy_out(src, v.as_mut_ptr(), 1);
        v.assume_init()
    }
}

macro_rules! shareable {
    ($($t:ty),* $(,)?) => {
        $(
            // SAFETY: a primitive with one layout per target, no pointers, valid when zero and
            // for any mix of the bytes of two valid values (one byte for bool and AtomicBool).
            unsafe impl Shareable for $t {}
        )*
    };
}

shareable!(
    u8, u16, u32, u64, u128, usize, i8, i16, i32, i64, i128, isize, f32, f64
);

macro_rules! shareable_bool {
    ($($t:ty),*) => {
        $(
            // SAFETY: one byte, one layout, no pointers, zero is `false`; bytes other than 0 and
            // 1 are made `true` by `normalize` on every read out of shared memory.
            unsafe impl Shareable for $t {
                const NORMALIZE: bool = true;
                unsafe fn normalize(p: *mut u8) {
                    // SAFETY: `p` is valid for one byte (the caller's contract).
                    unsafe { *p = u8::from(*p != 0) };
                }
            }
        )*
    };
}

shareable_bool!(bool, AtomicBool);

shareable!(
    AtomicU8,
    AtomicU16,
    AtomicU32,
    AtomicU64,
    AtomicUsize,
    AtomicI8,
    AtomicI16,
    AtomicI32,
    AtomicI64,
    AtomicIsize,
);

// SAFETY: an array of `Shareable` elements is laid out element after element with no padding
// of its own; each element meets the contract (with its `normalize`), so the array does.
unsafe impl<T: Shareable, const N: usize> Shareable for [T; N] {
    const NORMALIZE: bool = T::NORMALIZE;
    unsafe fn normalize(p: *mut u8) {
        for i in 0..N {
            // SAFETY: element `i` lies inside the array's bytes, which the caller vouches for.
            unsafe { T::normalize(p.add(i * std::mem::size_of::<T>())) };
        }
    }
}

mod sealed {
    pub trait Sealed {}
}

/// A [`Shareable`] primitive that is read and written as one atomic word: the element type of
/// the lock-free [`RawValue`](crate::RawValue) and [`RawArray`](crate::RawArray) accessors.
///
/// Implemented for the integers up to 64 bits, `f32`, `f64` and `bool` (sealed). Each element is
/// loaded and stored through the `std` atomic of its size (`AtomicU64` for `f64`, …), so two
/// processes that read and write the same element at once never race: a reader sees the old
/// value or the new one, never a mix. On x86-64 a relaxed atomic load or store is an ordinary
/// `mov`, so this costs nothing. Structs have no such guarantee; share them through
/// [`Value`](crate::Value) or [`Array`](crate::Array), whose lock makes copies whole.
pub trait AtomicElement: Shareable + Copy + sealed::Sealed {
    /// Loads the element at `p`.
    ///
    /// # Safety
    /// `p` is valid, aligned, and every concurrent access to it is atomic.
    #[doc(hidden)]
    unsafe fn load(p: *const Self, order: Ordering) -> Self;

    /// Stores `v` at `p`.
    ///
    /// # Safety
    /// As for [`load`](Self::load).
    #[doc(hidden)]
    unsafe fn store(p: *mut Self, v: Self, order: Ordering);
}

macro_rules! atomic_element {
    ($($t:ty => $atomic:ty),* $(,)?) => {
        $(
            static_assertions::assert_eq_size!($t, $atomic);
            static_assertions::const_assert_eq!(
                std::mem::align_of::<$t>(),
                std::mem::align_of::<$atomic>()
            );
            impl sealed::Sealed for $t {}
            impl AtomicElement for $t {
                #[inline]
                unsafe fn load(p: *const Self, order: Ordering) -> Self {
                    // `$atomic` has the size and alignment of `$t` (asserted above).
                    // SAFETY: so, with `p` valid, aligned and only accessed atomically (the
                    // caller's contract), `p` may be viewed as a `$atomic`.
                    unsafe { <$atomic>::from_ptr(p.cast_mut()) }.load(order)
                }
                #[inline]
                unsafe fn store(p: *mut Self, v: Self, order: Ordering) {
                    // SAFETY: as in `load`.
                    unsafe { <$atomic>::from_ptr(p) }.store(v, order)
                }
            }
        )*
    };
}

atomic_element!(
    u8 => AtomicU8, u16 => AtomicU16, u32 => AtomicU32, u64 => AtomicU64, usize => AtomicUsize,
    i8 => AtomicI8, i16 => AtomicI16, i32 => AtomicI32, i64 => AtomicI64, isize => AtomicIsize,
);

// `bool` goes through `AtomicU8` and reads any non-zero byte as `true`: even a byte that no
// `bool` store wrote (another program, a crafted handle) cannot make an invalid `bool`.
impl sealed::Sealed for bool {}
impl AtomicElement for bool {
    #[inline]
    unsafe fn load(p: *const Self, order: Ordering) -> Self {
        // SAFETY: the caller guarantees `p` valid and aligned, and only atomic access
        // meanwhile; `bool` has the size and alignment of `u8` (asserted at the top).
        unsafe { AtomicU8::from_ptr(p.cast_mut().cast()) }.load(order) != 0
    }
    #[inline]
    unsafe fn store(p: *mut Self, v: Self, order: Ordering) {
        // SAFETY: as in `load`.
        unsafe { AtomicU8::from_ptr(p.cast()) }.store(u8::from(v), order)
    }
}

macro_rules! atomic_float {
    ($($t:ty => $atomic:ty),* $(,)?) => {
        $(
            impl sealed::Sealed for $t {}
            impl AtomicElement for $t {
                #[inline]
                unsafe fn load(p: *const Self, order: Ordering) -> Self {
                    // SAFETY: the caller guarantees `p` valid and aligned, and only atomic
                    // access meanwhile; the float has the size and alignment of `$atomic`
                    // (asserted at the top of this file).
                    let bits = unsafe { <$atomic>::from_ptr(p.cast_mut().cast()) }.load(order);
                    <$t>::from_bits(bits)
                }
                #[inline]
                unsafe fn store(p: *mut Self, v: Self, order: Ordering) {
                    // SAFETY: as in `load`.
                    unsafe { <$atomic>::from_ptr(p.cast()) }.store(v.to_bits(), order)
                }
            }
        )*
    };
}

atomic_float!(f32 => AtomicU32, f64 => AtomicU64);
