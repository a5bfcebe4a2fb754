//! [`SharedMemory`]: a named block of shared memory that unrelated processes open by name.

use std::fmt;
use std::sync::atomic::{AtomicU8, Ordering};

use multiproc_core::SharedMapping;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Error, check_range};

/// A named block of shared memory: Python's `multiprocessing.shared_memory.SharedMemory`.
///
/// One process [`create`](Self::create)s it under a name (`/dev/shm/<name>` on Linux); any
/// other process — related or not — [`open`](Self::open)s it by that name and sees the same
/// bytes. The creator removes the name when its handle is dropped (so a crashed test leaves
/// nothing in `/dev/shm` unless the process is killed), or earlier with
/// [`unlink`](Self::unlink); [`persist`](Self::persist) keeps it for others to open later, as
/// Python does until `unlink()`. Mappings stay valid after the name is gone.
///
/// The bytes are shared with programs that follow no lock of ours, so safe access is by
/// per-byte atomic copies ([`read`](Self::read), [`write`](Self::write),
/// [`atomic_bytes`](Self::atomic_bytes)) and the words of the [`mapping`](Self::mapping)
/// (atomics and futexes); a plain `&[u8]` is `unsafe` ([`as_slice`](Self::as_slice)).
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

impl SharedMemory {
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

    /// Keeps the name after this (creator's) handle is dropped, for processes that open it
    /// later; someone must then [`unlink`](Self::unlink) it or call
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
    pub fn atomic_bytes(&self) -> &[AtomicU8] {
        self.map.atomic_bytes(0, self.map.len())
    }

    /// The underlying mapping, for word-sized atomics (`atomic_u32`, `atomic_u64`) and futexes.
    pub fn mapping(&self) -> &SharedMapping {
        &self.map
    }

    /// Copies `out.len()` bytes from `offset` into `out`, each byte by a relaxed atomic load.
    ///
    /// # Errors
    /// [`Error::OutOfBounds`] when the range is not inside the block.
    pub fn read(&self, offset: usize, out: &mut [u8]) -> Result<(), Error> {
        let r = check_range(offset..offset.saturating_add(out.len()), self.size())?;
        let src = self.map.atomic_bytes(r.start, r.len());
        for (o, s) in out.iter_mut().zip(src) {
            *o = s.load(Ordering::Relaxed);
        }
        Ok(())
    }

    /// Copies `data` into the block at `offset`, each byte by a relaxed atomic store.
    ///
    /// # Errors
    /// [`Error::OutOfBounds`] when the range is not inside the block.
    pub fn write(&self, offset: usize, data: &[u8]) -> Result<(), Error> {
        let r = check_range(offset..offset.saturating_add(data.len()), self.size())?;
        let dst = self.map.atomic_bytes(r.start, r.len());
        for (d, s) in dst.iter().zip(data) {
            d.store(*s, Ordering::Relaxed);
        }
        Ok(())
    }

    /// The bytes as a plain slice (Python's `buf`).
    ///
    /// # Safety
    /// While the slice lives, no thread of any process may write the block.
    pub unsafe fn as_slice(&self) -> &[u8] {
        // SAFETY: the caller guarantees that nobody writes meanwhile.
        unsafe { self.map.slice(0, self.map.len()) }
    }

    /// The bytes as a mutable slice.
    ///
    /// # Safety
    /// While the slice lives, no other thread of any process may read or write the block, and
    /// no other slice of it may exist in this process.
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
        let map = SharedMapping::deserialize(d)?;
        let name = map
            .name()
            .map(plain)
            .ok_or_else(|| serde::de::Error::custom("not a named shared memory block"))?;
        Ok(SharedMemory { map, name })
    }
}
