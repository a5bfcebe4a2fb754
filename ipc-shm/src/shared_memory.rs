//! [`SharedMemory`]: a named block of shared memory that unrelated processes open by name.

use std::fmt;
use std::sync::atomic::AtomicU8;

use multiproc_core::SharedMapping;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Error, check_range};

/// A named block of shared memory: Python's `multiprocessing.shared_memory.SharedMemory`.
///
/// One process [`create`](Self::create)s it under a name (`/dev/shm/<name>` on Linux); any
/// other process — related or not — [`open`](Self::open)s it by that name and sees the same
/// bytes. The creator removes the name when its handle is dropped, or earlier with
/// [`unlink`](Self::unlink); if the creator dies first (killed, crashed), the resource
/// tracker of `multiproc-core` removes it, as Python's does. [`persist`](Self::persist) keeps
/// it for others to open later, as Python does until `unlink()`. Mappings stay valid after the
/// name is gone.
///
/// The bytes are shared with programs that follow no lock of ours, and any of them may shrink
/// the object (`ftruncate`; a named object cannot be sealed), after which a load or store past
/// its new end kills the process with `SIGBUS`. So the safe way in is by copies that go through
/// the descriptor and stop at the object's end ([`read`](Self::read), [`write`](Self::write):
/// [`Error::Truncated`] instead of a crash). The atomics ([`atomic_bytes`](Self::atomic_bytes),
/// and the words and futexes of the [`mapping`](Self::mapping)) need the promise that nobody
/// shrinks the block ([`assume_fixed_size`](Self::assume_fixed_size), `unsafe`); a plain
/// `&[u8]` is `unsafe` too ([`as_slice`](Self::as_slice)).
///
/// ```
/// use multiproc_shm::{Error, SharedMemory};
///
/// # let name = format!("ipc-doc-{}", std::process::id());
/// let block = SharedMemory::create(&name, 4096)?;
/// block.write(0, b"hello")?;
///
/// let other = SharedMemory::open(&name)?; // elsewhere: another program
/// let mut buf = [0; 5];
/// other.read(0, &mut buf)?;
/// assert_eq!(&buf, b"hello");
///
/// assert!(matches!(SharedMemory::create(&name, 64), Err(Error::AlreadyExists { .. })));
/// assert!(matches!(SharedMemory::open_sized(&name, 64), Err(Error::SizeMismatch { .. })));
/// drop(block); // the creator: unlinks the name
/// assert!(matches!(SharedMemory::open(&name), Err(Error::NotFound { .. })));
/// # Ok::<(), Error>(())
/// ```
pub struct SharedMemory {
    map: SharedMapping,
    name: String,
}

impl fmt::Debug for SharedMemory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedMemory")
            .field("name", &self.name)
            .field("size", &self.size())
            .finish()
    }
}

fn plain(name: &str) -> String {
    name.strip_prefix('/').unwrap_or(name).to_string()
}

/// The prefix of generated names, Python's (`psm_` and eight hex digits).
const GENERATED_PREFIX: &str = "psm_";

/// How many generated names [`SharedMemory::new`] tries before it reports the last one as
/// taken (with 2^32 names, only a `/dev/shm` crowded on purpose gets there).
const MAX_TRIES: u32 = 64;

/// A fresh candidate name: `psm_` and eight hex digits, from std's randomly keyed SipHash
/// (its keys come from the OS's random source) over a per-process counter, the pid and the
/// time, so two processes, or two calls, pick different names.
fn generated_name() -> String {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static CALLS: AtomicU64 = AtomicU64::new(0);
    let mut h = std::hash::RandomState::new().build_hasher();
    h.write_u64(CALLS.fetch_add(1, Ordering::Relaxed));
    h.write_u32(std::process::id());
    if let Ok(t) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        h.write_u128(t.as_nanos());
    }
    format!("{GENERATED_PREFIX}{:08x}", h.finish() as u32)
}

impl SharedMemory {
    /// Creates a block of `size` zero bytes under a generated name (Python's
    /// `SharedMemory(create=True, size=size)`): `psm_` and eight random hex digits, as Python's,
    /// tried again on a name that exists. [`name`](Self::name) says which; other programs open
    /// it by that name. The name is registered with the resource tracker and removed when this
    /// handle is dropped, as for [`create`](Self::create).
    ///
    /// ```
    /// use multiproc_shm::SharedMemory;
    ///
    /// let block = SharedMemory::new(4096)?;
    /// assert!(block.name().starts_with("psm_"));
    /// let other = SharedMemory::open(block.name())?; // elsewhere: another program
    /// assert_eq!(other.size(), 4096);
    /// # Ok::<(), multiproc_shm::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Io`] for `size == 0`, or when the system refuses (no memory, `/dev/shm` full);
    /// [`Error::AlreadyExists`] when 64 generated names in a row were taken.
    pub fn new(size: usize) -> Result<SharedMemory, Error> {
        let mut tries = 0;
        loop {
            tries += 1;
            match Self::create(&generated_name(), size) {
                Err(Error::AlreadyExists { .. }) if tries < MAX_TRIES => continue,
                other => return other,
            }
        }
    }

    /// Creates a block of `size` zero bytes named `name` (Python's
    /// `SharedMemory(name, create=True, size=size)`).
    ///
    /// # Errors
    /// [`Error::AlreadyExists`] when the name is taken; [`Error::Io`] for an invalid name (one
    /// path component of 1 to 254 bytes, a leading `/` allowed) or `size == 0`.
    pub fn create(name: &str, size: usize) -> Result<SharedMemory, Error> {
        let map =
            SharedMapping::create_named(name, size).map_err(|e| Error::from_named(e, name))?;
        Ok(SharedMemory {
            map,
            name: plain(name),
        })
    }

    /// Opens the block named `name`, whatever its size (Python's `SharedMemory(name)`).
    ///
    /// # Errors
    /// [`Error::NotFound`] when no block has that name.
    pub fn open(name: &str) -> Result<SharedMemory, Error> {
        let map = SharedMapping::open_named(name).map_err(|e| Error::from_named(e, name))?;
        Ok(SharedMemory {
            map,
            name: plain(name),
        })
    }

    /// Opens the block named `name`, which must have `size` bytes.
    ///
    /// # Errors
    /// [`Error::NotFound`]; [`Error::SizeMismatch`] when it has another size.
    pub fn open_sized(name: &str, size: usize) -> Result<SharedMemory, Error> {
        let shm = Self::open(name)?;
        if shm.size() != size {
            return Err(Error::SizeMismatch {
                name: shm.name,
                expected: size,
                actual: shm.map.len(),
            });
        }
        Ok(shm)
    }

    /// The name, without a leading `/` (Python's `name`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The size in bytes (Python's `size`).
    pub fn size(&self) -> usize {
        self.map.len()
    }

    /// Removes the name now (Python's `unlink()`); this and other mappings stay valid. After
    /// it, dropping the creator's handle removes nothing (the name may by then be someone
    /// else's).
    ///
    /// # Errors
    /// [`Error::NotFound`] when the name is gone already.
    pub fn unlink(&mut self) -> Result<(), Error> {
        self.map.persist();
        SharedMapping::unlink_named(&self.name).map_err(|e| Error::from_named(e, &self.name))
    }

    /// Keeps the name after this (creator's) handle is dropped, or this process dies, for
    /// processes that open it later; someone must then [`unlink`](Self::unlink) it or call
    /// [`SharedMemory::unlink_name`].
    pub fn persist(&mut self) {
        self.map.persist();
    }

    /// Removes the name `name`, without opening the block.
    ///
    /// # Errors
    /// [`Error::NotFound`] when no block has that name.
    pub fn unlink_name(name: &str) -> Result<(), Error> {
        SharedMapping::unlink_named(name).map_err(|e| Error::from_named(e, name))
    }

    /// A second handle to the same block (another mapping of it), to keep while this one is
    /// sent to a child. The clone never removes the name.
    ///
    /// # Errors
    /// [`Error::Io`] when the descriptor cannot be duplicated or mapped.
    pub fn try_clone(&self) -> Result<SharedMemory, Error> {
        Ok(SharedMemory {
            map: self.map.try_clone()?,
            name: self.name.clone(),
        })
    }

    /// The bytes as atomics: safe to read and write while other processes do.
    ///
    /// # Panics
    /// Unless [`assume_fixed_size`](Self::assume_fixed_size) was called: another process could
    /// otherwise shrink the block under the atomics.
    pub fn atomic_bytes(&self) -> &[AtomicU8] {
        self.map.atomic_bytes(0, self.map.len())
    }

    /// The underlying mapping, for word-sized atomics (`atomic_u32`, `atomic_u64`) and futexes
    /// (which panic unless [`assume_fixed_size`](Self::assume_fixed_size) was called).
    pub fn mapping(&self) -> &SharedMapping {
        &self.map
    }

    /// Lets the atomics ([`atomic_bytes`](Self::atomic_bytes), the
    /// [`mapping`](Self::mapping)'s words and futexes) reach the block.
    ///
    /// # Safety
    ///
    /// For as long as this handle (and any [`try_clone`](Self::try_clone) made after this
    /// call) exists, no process may shrink the block below [`size`](Self::size) bytes
    /// (`ftruncate`, Python's `os.ftruncate` on its fd): a touch past its end kills this process
    /// with `SIGBUS`. That holds when every program that opens the name is yours and none
    /// resizes it.
    ///
    /// ```
    /// use std::sync::atomic::Ordering;
    /// # let name = format!("ipc-doc-fixed-{}", std::process::id());
    /// let mut block = multiproc_shm::SharedMemory::create(&name, 64)?;
    /// // SAFETY: this block is ours alone; nothing resizes it.
    /// unsafe { block.assume_fixed_size() };
    /// block.mapping().atomic_u32(0).store(7, Ordering::Release);
    /// # Ok::<(), multiproc_shm::Error>(())
    /// ```
    pub unsafe fn assume_fixed_size(&mut self) {
        // SAFETY: the caller's promise is the mapping's contract.
        unsafe { self.map.assume_fixed_size() }
    }

    /// Copies `out.len()` bytes from `offset` into `out` (`pread` on the block's descriptor).
    ///
    /// Safe whatever another process does to the block: if it was shrunk, this fails instead of
    /// touching memory past its end. One system call; for a few bytes at a time, the atomics
    /// (after [`assume_fixed_size`](Self::assume_fixed_size)) are cheaper.
    ///
    /// # Errors
    /// [`Error::OutOfBounds`] when the range is not inside the block; [`Error::Truncated`] when
    /// another process shrank the block below the range's end (`out` then holds what was
    /// there before the end).
    pub fn read(&self, offset: usize, out: &mut [u8]) -> Result<(), Error> {
        let r = check_range(offset..offset.saturating_add(out.len()), self.size())?;
        let n = self.map.read_at(r.start, out)?;
        self.whole(r, n)
    }

    /// Copies `data` into the block at `offset` (`pwrite` on the block's descriptor).
    ///
    /// Safe whatever another process does to the block, as [`read`](Self::read).
    ///
    /// # Errors
    /// [`Error::OutOfBounds`] when the range is not inside the block; [`Error::Truncated`] when
    /// another process shrank the block below the range's end (nothing is written past it).
    pub fn write(&self, offset: usize, data: &[u8]) -> Result<(), Error> {
        let r = check_range(offset..offset.saturating_add(data.len()), self.size())?;
        let n = self.map.write_at(r.start, data)?;
        self.whole(r, n)
    }

    /// `Ok` when the copy of `r` went through whole; [`Error::Truncated`] when it stopped after
    /// `n` bytes at the object's end.
    fn whole(&self, r: std::ops::Range<usize>, n: usize) -> Result<(), Error> {
        if n == r.len() {
            return Ok(());
        }
        Err(Error::Truncated {
            name: self.name.clone(),
            expected: self.size(),
            actual: self.map.current_len().unwrap_or((r.start + n) as u64),
        })
    }

    /// The bytes as a plain slice (Python's `buf`).
    ///
    /// # Safety
    /// While the slice lives, no thread of any process may write the block, nor shrink it
    /// (`ftruncate`: a read past its new end is a `SIGBUS`).
    pub unsafe fn as_slice(&self) -> &[u8] {
        // SAFETY: the caller guarantees that nobody writes meanwhile.
        unsafe { self.map.slice(0, self.map.len()) }
    }

    /// The bytes as a mutable slice.
    ///
    /// # Safety
    /// While the slice lives, no other thread of any process may read or write the block, nor
    /// shrink it, and no other slice of it may exist in this process.
    #[allow(clippy::mut_from_ref)]
    pub unsafe fn as_mut_slice(&self) -> &mut [u8] {
        // SAFETY: the caller guarantees exclusive access.
        unsafe { self.map.slice_mut(0, self.map.len()) }
    }
}

impl Serialize for SharedMemory {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.map.serialize(s)
    }
}

impl<'de> Deserialize<'de> for SharedMemory {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // A named object's descriptor cannot be sealed: accepted, with the atomics off until
        // the receiver promises a fixed size.
        let map = SharedMapping::deserialize_named(d)?;
        let name = map
            .name()
            .map(plain)
            .ok_or_else(|| serde::de::Error::custom("not a named shared memory block"))?;
        Ok(SharedMemory { map, name })
    }
}
