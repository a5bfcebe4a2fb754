//! Python's `multiprocessing.sharedctypes` and `shared_memory` for Rust: [`Value`] and
//! [`Array`] in shared memory behind a process-shared lock, the lock-free [`RawValue`] and
//! [`RawArray`], named [`SharedMemory`] blocks that unrelated programs open by name, and
//! [`ShareableList`], byte-compatible with Python's.
//!
//! # Hello, world!
//!
//! A child squares a shared number and fills a shared array; the parent sees both.
//!
//! ```
//! use multiproc_shm::{Array, Value};
//!
//! fn child((n, greeting): (Value<i32>, Array<u8>)) {
//!     n.update(|v| *v *= *v);
//!     greeting.set_value(b"Hello, world!").unwrap();
//! }
//!
//! let n = Value::new(7)?;
//! let greeting = Array::<u8>::zeroed(32)?;
//! multiproc_process::spawn(child, (n.clone(), greeting.clone()))?.join()?;
//! assert_eq!(n.get(), 49);
//! assert_eq!(greeting.value(), b"Hello, world!");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Using it
//!
//! ```toml
//! [dependencies]
//! multiproc-shm = "0.1"
//! multiproc-process = "0.1"   # to start children, as the examples do
//! ```
//!
//! Or the whole family through the umbrella crate `multiproc` (`multiproc::shm`). One feature,
//! `derive` (on by default): `#[derive(Shareable)]`, from the `multiproc-shm-derive` crate, as
//! serde's. Linux is the platform built and tested.
//!
//! # What may live in shared memory
//!
//! Element types implement the `unsafe` marker trait [`Shareable`], whose contract is written
//! on it: a primitive or `#[repr(C)]` layout, no pointers, references, heap data or
//! descriptors, zero is a value, and a torn write still leaves a value. The integers, floats,
//! `bool`, arrays and atomics implement it; a `#[repr(C)]` struct of such fields derives it
//! (`#[derive(Shareable)]`), which checks the contract when the program compiles, so no
//! `unsafe impl` is written by hand.
//!
//! # Synchronised and raw
//!
//! | | lock | access | types |
//! |---|---|---|---|
//! | [`Value`], [`Array`] | an [`RLock`](multiproc_sync::RLock) (default), or any [`AnyLock`] shared with others | copies in and out under the lock; guards for several steps | any [`Shareable`] + `Copy` |
//! | [`RawValue`], [`RawArray`] | none | one relaxed atomic load or store per element | [`AtomicElement`]: integers, floats, `bool` |
//! | [`SharedMemory`] | none (bring your own) | copies through its descriptor; atomics and futexes once you promise a fixed size | bytes |
//! | [`ShareableList`] | none, as in Python | copies through its descriptor | [`ListItem`]: ints, floats, bools, text, bytes, `None` |
//!
//! # Handles reach children
//!
//! A `Value`, `Array`, `RawValue` or `RawArray` of up to about 4 KiB lives in a slot of
//! `multiproc-core`'s shared heap (`multiproc_core::heap`), as does its lock; a larger array gets a
//! memfd mapping of its own. A `fork`ed child inherits the handle, and under `spawn` and
//! `forkserver` it travels as a `multiproc-process` argument (serde), its descriptors passed out
//! of band (one per heap arena, however many handles share it). A rebuilt handle checks the
//! header of its memory (kind, element type's tag, size and alignment, element count, and the
//! lock that guards it) and refuses anything else. A [`SharedMemory`] also travels, or is simply
//! opened by name.
//!
//! # What one handle costs
//!
//! | | `multiproc-shm` | Python `multiprocessing` |
//! |---|---|---|
//! | `Value<f64>` (with its `RLock`) | two 64-byte heap slots; no descriptor or mapping of its own | 8 bytes in a heap arena, and a semaphore mapping (4 KiB) for its lock |
//! | `RawValue<f64>` | one 64-byte slot | 8 bytes in a heap arena |
//! | `Array` up to ~4 KiB | one slot of 64 B to 4 KiB, and its lock's slot | a block in a heap arena, and a lock |
//! | a larger `Array` | a memfd mapping of its own (one descriptor) | a block of a heap arena, or an arena of its own |
//! | 10,000 `Value<f64>`s | 2 descriptors and 2 mappings (two 1 MiB arenas) | 10,000 semaphore mappings |
//!
//! # Comparison with Python multiprocessing
//!
//! | Python | `multiproc-shm` | note |
//! |---|---|---|
//! | `Value('i', 7)` | [`Value::new(7i32)`](Value::new) | an `RLock` per value, as in Python |
//! | `Value('i')` | [`Value::<i32>::zeroed()`](Value::zeroed) | |
//! | `Value(c_bool, False, lock=False)` | [`RawValue::new(false)`](RawValue::new) | atomic get / set |
//! | `Value('d', 0.0, lock=lock)` | [`Value::with_lock(0.0, lock)`](Value::with_lock) | `lock`: a `Lock` or `RLock` |
//! | `v.value`, `v.value = x` | [`get`](Value::get), [`set`](Value::set) | |
//! | `v.value **= 2` (two locked steps: not atomic) | [`update`](Value::update) | one locked read-modify-write |
//! | `with v.get_lock(): ...` | [`Value::lock`] → [`ValueGuard`], or [`get_lock`](Value::get_lock) | |
//! | `Array('i', range(5))`, `Array('i', 4)` | [`Array::new`], [`Array::zeroed`] | |
//! | `Array('c', b'hello')`, `s.value`, `s.value = b'..'` | `Array::<u8>::new(b"hello")`, [`value`](Array::value), [`set_value`](Array::set_value) | NUL-terminated like ctypes |
//! | `Array(Point, [(1.875, -6.25)], lock=lock)` | [`Array::with_lock`] with `#[repr(C)] struct Point` | `#[derive(Shareable)]`, checked at compile time |
//! | `class Point(Structure): _fields_ = [...]` | `#[derive(Shareable)] #[repr(C)] struct Point { … }` | refuses what ctypes would not share: no `repr(C)`, pointers, enums, `Drop` |
//! | `arr[i]`, `arr[i] = x` (`IndexError`) | [`get`](Array::get), [`set`](Array::set) ([`Error::OutOfBounds`]) | |
//! | `arr[:]`, `arr[a:b]`, `arr[:] = xs` | [`to_vec`](Array::to_vec), [`slice`](Array::slice), [`copy_from_slice`](Array::copy_from_slice) | one `memcpy` under the lock |
//! | `len(arr)`, `for x in arr` | [`len`](Array::len), [`ArrayGuard::iter`] | iteration holds the lock once |
//! | `RawValue`, `RawArray` | [`RawValue`], [`RawArray`] | numbers and `bool` only (atomic) |
//! | `shared_memory.SharedMemory(name, create=True, size=n)` | [`SharedMemory::create`] | [`Error::AlreadyExists`] |
//! | `SharedMemory(create=True, size=n)` | [`SharedMemory::new(n)`](SharedMemory::new) | a generated `psm_…` name, as Python's; tracked |
//! | `SharedMemory(name)` | [`SharedMemory::open`], [`open_sized`](SharedMemory::open_sized) | [`Error::NotFound`], [`Error::SizeMismatch`] |
//! | `shm.buf` | [`read`](SharedMemory::read), [`write`](SharedMemory::write), [`atomic_bytes`](SharedMemory::atomic_bytes) | a shrunk block is [`Error::Truncated`], not `SIGBUS`; plain slices are `unsafe` |
//! | `shm.close()`, `shm.unlink()` | drop, [`unlink`](SharedMemory::unlink) | the creator unlinks on drop unless [`persist`](SharedMemory::persist) |
//! | `resource_tracker` (removes a dead creator's block) | `multiproc_core::tracker` | per process: a killed creator's name goes at once |
//! | `ShareableList([1, 2.5, "a"])`, `ShareableList(seq, name=n)` | [`ShareableList::new`], [`ShareableList::create`] | Python's layout: Python attaches to ours by name, and we to its |
//! | `ShareableList(name=n)` | [`ShareableList::open`] | a block that is not a list: [`Error::Corrupt`] |
//! | `sl[i]`, `sl[i] = x`, `len(sl)` | [`get`](ShareableList::get), [`set`](ShareableList::set), [`len`](ShareableList::len) | [`ListItem`]; too long for its room: [`Error::TooLong`] |
//! | `sl.count(x)`, `sl.index(x)`, `sl.format`, `sl.shm.name` | [`count`](ShareableList::count), [`index`](ShareableList::index) (`None` for `ValueError`), [`format`](ShareableList::format), [`name`](ShareableList::name) | |
//! | `ShareableList(["x" * 64])` to reserve room | [`ShareableList::builder`]`().item_with_room("", 64)` | |
//!
//! # Soundness
//!
//! Memory that another process may write is never handed out as `&T` or `&mut T`.
//!
//! - **Under the lock** ([`Value`], [`Array`] and their guards), elements are copied in and out
//!   (`ptr::read`, `ptr::write`, `memcpy`), and each copy is preceded by a check that the
//!   calling thread holds the lock, with no user code between the check and the copy. The lock
//!   is process-shared, so while this thread holds it no thread of any process touches the
//!   elements (every handle of a region carries the same lock). Copy-in/copy-out is what makes
//!   a re-entrant [`RLock`](multiproc_sync::RLock) safe: two guards of one thread can never hold
//!   aliasing `&mut`, because there are none; a closure passed to `update` gets a `&mut` to a
//!   private copy. The check catches the remaining ways to lose the lock while a guard lives —
//!   an unbalanced `release()` on the lock, or a guard copied into a child by
//!   `multiproc_process::fork` — and panics instead of touching unguarded memory.
//! - **Without a lock** ([`RawValue`], [`RawArray`]), only [`AtomicElement`] types are
//!   accessible in safe code, each element through the `std` atomic of its size with relaxed
//!   ordering: concurrent readers and writers never race, and cost nothing over plain moves on
//!   x86-64. (Volatile copies were the other candidate; they are still data races in Rust's
//!   memory model.) A raw region is never rebuilt as a locked one (its header says which it
//!   is), so atomic and plain accesses never mix on one element.
//! - **Named blocks** ([`SharedMemory`]) are written, and may be resized, by programs we do
//!   not control. A named object cannot be sealed against shrinking, and a load or store past
//!   the end of a shrunk object is a `SIGBUS`. So the safe copies
//!   ([`read`](SharedMemory::read), [`write`](SharedMemory::write)) go through the descriptor
//!   (`pread`, `pwrite`), which stop at the object's end and report [`Error::Truncated`]; the
//!   atomics ([`atomic_bytes`](SharedMemory::atomic_bytes) and the mapping's words, futexes
//!   included) panic until the `unsafe`
//!   [`assume_fixed_size`](SharedMemory::assume_fixed_size) promises that nobody shrinks the
//!   block. A received block is accepted unsealed only as a `SharedMemory`; every other handle
//!   (`Value`, `Array`, the locks) refuses a memfd that is not sealed against shrinking, so a
//!   forged handle cannot bring such memory in.
//!
//! What stays `unsafe`: [`SharedMemory::as_slice`] and [`as_mut_slice`](SharedMemory::as_mut_slice)
//! (plain slices: no other process may write, or shrink, the block meanwhile) and
//! [`SharedMemory::assume_fixed_size`]; nothing else.
//!
//! What a dead process leaves is still valid data ([`Shareable`] rule 4): a guard reports it as
//! [`OwnerDied`](multiproc_sync::OwnerDied); the conveniences (`get`, `set`, …) carry on.
//!
//! # Implementation notes
//!
//! `unsafe` is confined to: the copies described above, the region view (a pointer into a
//! heap slot or mapping the handle keeps alive, past its typed header, checked for size and
//! alignment), and
//! the atomic accessors (`AtomicU64::from_ptr` and its kin on elements whose size and alignment
//! `static_assertions` check). Shared memory, locks and futexes come from `multiproc-core` and
//! `multiproc-sync` (`SharedMemory`'s copies are `multiproc-core`'s `read_at` and `write_at`);
//! this crate makes no system call of its own (so it has no `sys.rs`).
//!
//! A handle rebuilt from bytes crafted by hand (not from a real handle) could pair a region
//! with another lock, or view it as a bare [`SharedMapping`](multiproc_core::SharedMapping); the
//! header check refuses wrong kinds and types, but not that pairing. Only serialise handles
//! you got from this crate.

mod array;
mod error;
mod list_builder;
mod list_item;
mod list_layout;
mod locking;
mod raw_array;
mod raw_value;
mod region;
mod shareable;
mod shareable_list;
mod shared_memory;
mod value;

pub use array::{Array, ArrayGuard, Iter};
pub use error::{CorruptReason, Error};
pub use list_builder::ShareableListBuilder;
pub use list_item::ListItem;
/// Derives [`Shareable`](trait@Shareable) for a `#[repr(C)]` struct whose fields are all
/// `Shareable`, after checking the trait's contract at compile time (feature `derive`).
#[cfg(feature = "derive")]
pub use multiproc_shm_derive::Shareable;
pub use multiproc_sync::{AnyLock, AnyLockGuard};
pub use raw_array::RawArray;
pub use raw_value::RawValue;
pub use shareable::{AtomicElement, Shareable};
pub use shareable_list::ShareableList;
pub use shared_memory::SharedMemory;
pub use value::{Value, ValueGuard};

/// The examples of README.md (this crate's crates.io page) compile and run.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeExamples;
