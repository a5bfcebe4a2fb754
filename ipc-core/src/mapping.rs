//! Shared memory mappings: anonymous, memfd-backed, and named (`shm_open`).

use std::ffi::{CString, OsStr};
use std::fmt;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU8, AtomicU32, AtomicU64};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::Error;
use crate::transfer::{self, FdRef, PortableFd};
use crate::{sys, tracker};

static_assertions::const_assert_eq!(std::mem::align_of::<AtomicU32>(), 4);
static_assertions::const_assert_eq!(std::mem::align_of::<AtomicU64>(), 8);

/// A region of memory that several processes see at once (`MAP_SHARED`).
///
/// Three kinds, by how another process gets at it:
///
/// | constructor | reaches another process by | removed when |
/// |---|---|---|
/// | [`anonymous`](Self::anonymous) | `fork` only (inherited) | the last process unmaps it |
/// | [`memfd`](Self::memfd) | `fork`, or its fd sent through [`crate::transfer`] | the last fd and mapping go |
/// | [`create_named`](Self::create_named) / [`open_named`](Self::open_named) | its name, or its fd | the creator drops it (unless [`persist`](Self::persist)) |
///
/// The memory starts zeroed. It is never handed out as `&[u8]`: another process may write it at
/// any moment, so safe access is through atomics ([`atomic_u32`](Self::atomic_u32),
/// [`atomic_bytes`](Self::atomic_bytes), …), and plain byte access is `unsafe`
/// ([`slice`](Self::slice)), for callers that hold a lock.
///
/// Give each range of bytes one atomic type and stick to it: Rust's memory model leaves racing
/// atomic accesses of *different sizes* to the same bytes undefined (for example
/// [`atomic_u64`](Self::atomic_u64)`(0)` written while [`atomic_u32`](Self::atomic_u32)`(4)` is
/// read by another thread). The primitives of the `multiproc` crates lay out their words once and
/// never mix sizes.
///
/// A memfd or named mapping is a handle that travels: serialise it through
/// [`crate::transfer`] and the receiver maps the same pages.
///
/// # Named mappings and `SIGBUS`
///
/// A page of a mapping past the end of its object cannot be touched: the process dies of
/// `SIGBUS`. A memfd made here is sealed against shrinking, and a received one is refused
/// unless it is ([`from_fd`](Self::from_fd), `Deserialize`), so those never shrink. A named
/// object cannot be sealed: any process of the same user may `ftruncate` it. So the safe
/// accessors ([`atomic_u32`](Self::atomic_u32), [`atomic_u64`](Self::atomic_u64),
/// [`atomic_bytes`](Self::atomic_bytes)) panic on a named mapping until its owner promises,
/// with the `unsafe` [`assume_fixed_size`](Self::assume_fixed_size), that no process shrinks
/// it; [`read_at`](Self::read_at) and [`write_at`](Self::write_at) copy through the
/// descriptor and are safe on every mapping.
///
/// ```
/// use multiproc_core::SharedMapping;
/// use std::sync::atomic::Ordering;
///
/// let map = SharedMapping::memfd("example", 4096)?;
/// map.atomic_u32(0).store(7, Ordering::Release);
/// assert_eq!(map.atomic_u32(0).load(Ordering::Acquire), 7);
/// assert_eq!(map.len(), 4096);
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct SharedMapping {
    ptr: NonNull<u8>,
    len: usize,
    backing: Backing,
}

enum Backing {
    Anonymous,
    Memfd(OwnedFd),
    Named {
        fd: OwnedFd,
        name: CString,
        unlink_on_drop: bool,
        /// Sealed against shrinking, or promised not to shrink (`assume_fixed_size`): the
        /// safe accessors may touch its pages.
        fixed: bool,
    },
}

/// Whether [`SharedMapping::map_fd`] insists on `F_SEAL_SHRINK`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Seal {
    Required,
    /// Accepted unsealed (the caller checked, or marks the mapping not fixed in size).
    Optional,
}

// SAFETY: a `SharedMapping` is an address range plus an owned descriptor. Moving it to another
// thread moves nothing thread-bound; the memory is only reached through raw pointers, atomics,
// or `unsafe` accessors whose callers take on the synchronisation.
unsafe impl Send for SharedMapping {}
// SAFETY: every `&self` method either reads immutable fields or hands out atomics (which allow
// shared mutation) or raw pointers; none creates a `&[u8]`/`&mut [u8]` without `unsafe`.
unsafe impl Sync for SharedMapping {}

fn check_len(len: usize) -> io::Result<()> {
    if len == 0 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "a shared mapping needs at least one byte",
        ));
    }
    Ok(())
}

fn shm_name(name: &str) -> io::Result<CString> {
    let body = name.strip_prefix('/').unwrap_or(name);
    if body.is_empty() || body.contains('/') || body.len() > 254 || body == "." || body == ".." {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("invalid shared memory name {name:?}: one path component of 1 to 254 bytes"),
        ));
    }
    CString::new(format!("/{body}"))
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "name contains a NUL byte"))
}

impl SharedMapping {
    /// An anonymous shared mapping of `len` bytes (`MAP_SHARED | MAP_ANONYMOUS`).
    ///
    /// A child made by `fork` after this call sees the same pages. It cannot be sent to a
    /// process that did not fork from us: use [`memfd`](Self::memfd) for that.
    pub fn anonymous(len: usize) -> io::Result<Self> {
        check_len(len)?;
        let ptr = sys::mem::map_shared(None, len)?;
        Ok(SharedMapping {
            ptr,
            len,
            backing: Backing::Anonymous,
        })
    }

    /// `memfd_create(name)` + `ftruncate(len)` + `mmap`—A mapping backed by an anonymous
    /// in-memory file, which can be sent to any process as a descriptor.
    ///
    /// `name` is only a label shown in `/proc/<pid>/fd`; it need not be unique. The memfd is
    /// sealed against shrinking and growing, so no process it is sent to can cut the memory
    /// from under another's mapping.
    ///
    /// # References
    /// - [memfd_create(2)](https://man7.org/linux/man-pages/man2/memfd_create.2.html)
    #[doc(alias = "memfd_create")]
    pub fn memfd(name: &str, len: usize) -> io::Result<Self> {
        check_len(len)?;
        let cname = CString::new(name)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "name contains a NUL byte"))?;
        let fd = sys::mem::memfd_create(&cname)?;
        sys::mem::ftruncate(fd.as_fd(), len as u64)?;
        sys::mem::seal_size(fd.as_fd())?;
        let ptr = sys::mem::map_shared(Some(fd.as_fd()), len)?;
        Ok(SharedMapping {
            ptr,
            len,
            backing: Backing::Memfd(fd),
        })
    }

    /// Maps the whole of a memfd received from elsewhere.
    ///
    /// # Errors
    /// [`Error::NotSealed`](crate::Error::NotSealed) (as an [`io::ErrorKind::InvalidData`]
    /// error) when the memfd is not sealed against shrinking (`F_SEAL_SHRINK`, as
    /// [`memfd`](Self::memfd) seals it): its sender could otherwise cut the memory from under
    /// this mapping. A named object's descriptor cannot be sealed: open it by name
    /// ([`open_named`](Self::open_named)).
    pub fn from_fd(fd: OwnedFd) -> io::Result<Self> {
        let size = sys::mem::file_size(fd.as_fd())?;
        let len = usize::try_from(size).map_err(|_| io::Error::from(io::ErrorKind::InvalidData))?;
        Self::map_fd(fd, len, Seal::Required)
    }

    fn map_fd(fd: OwnedFd, len: usize, seal: Seal) -> io::Result<Self> {
        check_len(len)?;
        // Checked before the size: a seal, once there, keeps the size from going below it.
        if seal == Seal::Required && !sys::mem::is_shrink_sealed(fd.as_fd()) {
            return Err(Error::NotSealed.into());
        }
        let size = sys::mem::file_size(fd.as_fd())?;
        if size < len as u64 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("shared memory object has {size} bytes, {len} expected"),
            ));
        }
        let ptr = sys::mem::map_shared(Some(fd.as_fd()), len)?;
        Ok(SharedMapping {
            ptr,
            len,
            backing: Backing::Memfd(fd),
        })
    }

    /// `shm_open(name, O_CREAT | O_EXCL | O_RDWR, 0600)` + `ftruncate(len)` + `mmap`—Creates a
    /// named shared memory object that unrelated processes can open by `name`.
    ///
    /// `name` is one path component, with or without a leading `/` (it appears as
    /// `/dev/shm/<name>`). The object is removed (`shm_unlink`) when this mapping is dropped,
    /// unless [`persist`](Self::persist) is called; the name is registered with the
    /// [`tracker`](crate::tracker), which removes it if this process dies first.
    ///
    /// The safe accessors panic on the result until
    /// [`assume_fixed_size`](Self::assume_fixed_size) (see [above](Self#named-mappings-and-sigbus)).
    ///
    /// # Errors
    /// [`io::ErrorKind::AlreadyExists`] when the name is taken; [`io::ErrorKind::InvalidInput`]
    /// for a malformed name or `len == 0`.
    ///
    /// # References
    /// - [shm_open(3)](https://man7.org/linux/man-pages/man3/shm_open.3.html)
    #[doc(alias = "shm_open")]
    pub fn create_named(name: &str, len: usize) -> io::Result<Self> {
        check_len(len)?;
        let cname = shm_name(name)?;
        let fd = sys::mem::shm_open_create(&cname)?;
        let ready = sys::mem::ftruncate(fd.as_fd(), len as u64)
            .and_then(|()| sys::mem::map_shared(Some(fd.as_fd()), len));
        match ready {
            Ok(ptr) => {
                let name = OsStr::from_bytes(cname.to_bytes());
                tracker::register(tracker::Kind::SharedMemory, name, Some(fd.as_fd()));
                Ok(SharedMapping {
                    ptr,
                    len,
                    backing: Backing::Named {
                        fd,
                        name: cname,
                        unlink_on_drop: true,
                        fixed: false,
                    },
                })
            }
            Err(e) => {
                let _ = sys::mem::shm_unlink(&cname);
                Err(e)
            }
        }
    }

    /// `shm_open(name, O_RDWR)` + `mmap`—Opens a named shared memory object created elsewhere,
    /// mapping all of it. Dropping the result does not remove the name. The safe accessors
    /// panic on the result until [`assume_fixed_size`](Self::assume_fixed_size).
    ///
    /// # Errors
    /// [`io::ErrorKind::NotFound`] when no object has that name; [`io::ErrorKind::InvalidData`]
    /// when it has size 0 (created but not yet sized).
    pub fn open_named(name: &str) -> io::Result<Self> {
        let cname = shm_name(name)?;
        let fd = sys::mem::shm_open_existing(&cname)?;
        let size = sys::mem::file_size(fd.as_fd())?;
        if size == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("shared memory object {name:?} has size 0"),
            ));
        }
        let len = usize::try_from(size).map_err(|_| io::Error::from(io::ErrorKind::InvalidData))?;
        let ptr = sys::mem::map_shared(Some(fd.as_fd()), len)?;
        Ok(SharedMapping {
            ptr,
            len,
            backing: Backing::Named {
                fd,
                name: cname,
                unlink_on_drop: false,
                fixed: false,
            },
        })
    }

    /// `shm_unlink(name)`—Removes a named shared memory object. Mappings of it stay valid.
    #[doc(alias = "shm_unlink")]
    pub fn unlink_named(name: &str) -> io::Result<()> {
        let cname = shm_name(name)?;
        let r = sys::mem::shm_unlink(&cname);
        if r.is_ok() {
            tracker::unregister(
                tracker::Kind::SharedMemory,
                OsStr::from_bytes(cname.to_bytes()),
            );
        }
        r
    }

    /// A second mapping of the same memory (memfd or named), at another address in this
    /// process: a handle to keep while this one is sent away. A named clone never unlinks.
    ///
    /// # Errors
    /// [`io::ErrorKind::Unsupported`] for an anonymous mapping, which has nothing to map again.
    pub fn try_clone(&self) -> io::Result<Self> {
        let fd = match &self.backing {
            Backing::Anonymous => {
                return Err(io::Error::new(
                    io::ErrorKind::Unsupported,
                    "an anonymous mapping cannot be mapped again; use SharedMapping::memfd",
                ));
            }
            Backing::Memfd(fd) | Backing::Named { fd, .. } => sys::fd::dup_cloexec(fd.as_fd())?,
        };
        let ptr = sys::mem::map_shared(Some(fd.as_fd()), self.len)?;
        let backing = match &self.backing {
            Backing::Named { name, fixed, .. } => Backing::Named {
                fd,
                name: name.clone(),
                unlink_on_drop: false,
                fixed: *fixed,
            },
            _ => Backing::Memfd(fd),
        };
        Ok(SharedMapping {
            ptr,
            len: self.len,
            backing,
        })
    }

    /// `madvise(MADV_POPULATE_WRITE)`—Allocates every page now (Linux 5.14+; a no-op before),
    /// as Python's `sharedctypes` does by zero-filling in the parent: a process that then
    /// writes the whole mapping takes cheap minor faults instead of allocating and zeroing each
    /// page on first touch.
    ///
    /// # References
    /// - [madvise(2)](https://man7.org/linux/man-pages/man2/madvise.2.html)
    #[doc(alias = "MADV_POPULATE_WRITE")]
    pub fn populate(&self) -> io::Result<()> {
        self.populate_range(0, self.len)
    }

    /// [`populate`](Self::populate) for `len` bytes at `offset` (widened to whole pages): maps
    /// the pages into this process in one call — after `fork`, a child's first writes to a
    /// large range otherwise take one page fault per 4 KiB.
    ///
    /// # Panics
    /// When the range is not inside the mapping.
    pub fn populate_range(&self, offset: usize, len: usize) -> io::Result<()> {
        self.checked(offset, len, 1);
        let page = 4096;
        let start = offset / page * page;
        let end = (offset + len)
            .div_ceil(page)
            .saturating_mul(page)
            .min(self.len);
        if end <= start {
            return Ok(());
        }
        // SAFETY: `start` is inside the mapping (checked above), so the pointer is valid.
        let p = unsafe { NonNull::new_unchecked(self.ptr.as_ptr().add(start)) };
        // SAFETY: `p..p+(end-start)` lies inside this mapping, made by `map_shared`.
        unsafe { sys::mem::populate(p, end - start) }
    }

    /// Keeps a named object after this mapping is dropped (it no longer unlinks on drop, and
    /// the [`tracker`](crate::tracker) no longer removes it when this process dies).
    /// Has no effect on other kinds.
    pub fn persist(&mut self) {
        if let Backing::Named {
            unlink_on_drop,
            name,
            ..
        } = &mut self.backing
        {
            if *unlink_on_drop {
                tracker::unregister(
                    tracker::Kind::SharedMemory,
                    OsStr::from_bytes(name.to_bytes()),
                );
            }
            *unlink_on_drop = false;
        }
    }

    /// Whether the safe accessors may be used: always for anonymous and memfd mappings (whose
    /// size cannot shrink), for a named one only after
    /// [`assume_fixed_size`](Self::assume_fixed_size).
    pub fn size_is_fixed(&self) -> bool {
        !matches!(self.backing, Backing::Named { fixed: false, .. })
    }

    /// Lets the safe accessors ([`atomic_u32`](Self::atomic_u32),
    /// [`atomic_u64`](Self::atomic_u64), [`atomic_bytes`](Self::atomic_bytes)) reach the pages
    /// of a named mapping. Has no effect on other kinds.
    ///
    /// # Safety
    ///
    /// For as long as this mapping (and any [`try_clone`](Self::try_clone) made after this
    /// call) exists, no process may shrink the object below [`len`](Self::len) bytes
    /// (`ftruncate`): an access to a page past its end kills this process with `SIGBUS`. That
    /// holds when every program that opens the name is yours and none resizes it.
    pub unsafe fn assume_fixed_size(&mut self) {
        if let Backing::Named { fixed, .. } = &mut self.backing {
            *fixed = true;
        }
    }

    /// The name of a named mapping, with its leading `/`.
    pub fn name(&self) -> Option<&str> {
        match &self.backing {
            Backing::Named { name, .. } => name.to_str().ok(),
            _ => None,
        }
    }

    /// The size in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Always `false`: a mapping has at least one byte.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Which memory this is, the same in every process that maps it: the (device, inode) of the
    /// memfd or named object. `None` for an anonymous mapping (which has no file).
    pub fn identity(&self) -> Option<(u64, u64)> {
        self.fd().and_then(|fd| sys::fd::file_identity(fd).ok())
    }

    /// The first byte. Valid for [`len`](Self::len) bytes for as long as `self` lives, and,
    /// for a named mapping, for as long as no process shrinks the object (see
    /// [`size_is_fixed`](Self::size_is_fixed)).
    pub fn as_ptr(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    /// The backing descriptor (memfd or named), or `None` for an anonymous mapping.
    pub fn fd(&self) -> Option<BorrowedFd<'_>> {
        match &self.backing {
            Backing::Anonymous => None,
            Backing::Memfd(fd) | Backing::Named { fd, .. } => Some(fd.as_fd()),
        }
    }

    /// The safe accessors' precondition: no process can shrink the object under us.
    fn assert_fixed(&self) {
        #[cold]
        #[inline(never)]
        fn not_fixed() -> ! {
            panic!(
                "a named mapping's object may be shrunk by another process (SIGBUS on access): \
                 copy with read_at/write_at, or promise a fixed size with assume_fixed_size"
            )
        }
        if !self.size_is_fixed() {
            not_fixed();
        }
    }

    fn checked(&self, offset: usize, size: usize, align: usize) -> *mut u8 {
        let end = offset.checked_add(size);
        assert!(
            end.is_some_and(|e| e <= self.len),
            "range {offset}..{offset}+{size} is outside a mapping of {} bytes",
            self.len
        );
        assert!(
            offset.is_multiple_of(align),
            "offset {offset} is not aligned to {align}"
        );
        // SAFETY: `offset + size <= len` was checked, so the result stays inside the mapping.
        unsafe { self.ptr.as_ptr().add(offset) }
    }

    /// The 32-bit word at `offset` as an atomic (for counters, states, futex words).
    ///
    /// # Panics
    /// When `offset` is not a multiple of 4 or the word is not inside the mapping; on a named
    /// mapping whose size is not [fixed](Self::size_is_fixed).
    pub fn atomic_u32(&self, offset: usize) -> &AtomicU32 {
        self.assert_fixed();
        let p = self.checked(offset, 4, 4);
        // SAFETY: `p` is in bounds and 4-aligned (checked); the mapping lives as long as `&self`;
        // `AtomicU32` has the size and alignment of `u32` (asserted above), every bit pattern is
        // valid, and atomics permit concurrent access from other processes.
        unsafe { &*p.cast::<AtomicU32>() }
    }

    /// The 64-bit word at `offset` as an atomic.
    ///
    /// # Panics
    /// When `offset` is not a multiple of 8 or the word is not inside the mapping; on a named
    /// mapping whose size is not [fixed](Self::size_is_fixed).
    pub fn atomic_u64(&self, offset: usize) -> &AtomicU64 {
        self.assert_fixed();
        let p = self.checked(offset, 8, 8);
        // SAFETY: as in `atomic_u32`, for 8 bytes at 8-byte alignment.
        unsafe { &*p.cast::<AtomicU64>() }
    }

    /// `len` bytes at `offset` as atomics: safe to read and write while other processes do.
    ///
    /// # Panics
    /// When the range is not inside the mapping; on a named mapping whose size is not
    /// [fixed](Self::size_is_fixed).
    pub fn atomic_bytes(&self, offset: usize, len: usize) -> &[AtomicU8] {
        self.assert_fixed();
        let p = self.checked(offset, len, 1);
        // SAFETY: the range is in bounds (checked) and lives as long as `&self`; `AtomicU8` has
        // the layout of `u8` and allows shared mutation.
        unsafe { std::slice::from_raw_parts(p.cast::<AtomicU8>(), len) }
    }

    /// `len` bytes at `offset` as a plain slice.
    ///
    /// # Safety
    ///
    /// For as long as the slice lives, no thread of any process may write those bytes (hold a
    /// lock that every writer takes, or know that writers are done), and, for a named mapping,
    /// no process may shrink the object below `offset + len` bytes.
    ///
    /// # Panics
    /// When the range is not inside the mapping.
    pub unsafe fn slice(&self, offset: usize, len: usize) -> &[u8] {
        let p = self.checked(offset, len, 1);
        // SAFETY: in bounds (checked); the caller guarantees no concurrent writer.
        unsafe { std::slice::from_raw_parts(p, len) }
    }

    /// `len` bytes at `offset` as a mutable slice.
    ///
    /// # Safety
    ///
    /// For as long as the slice lives, no other thread of any process may read or write those
    /// bytes, and no other slice of them may exist in this process; for a named mapping, no
    /// process may shrink the object below `offset + len` bytes.
    ///
    /// # Panics
    /// When the range is not inside the mapping.
    #[allow(clippy::mut_from_ref)]
    pub unsafe fn slice_mut(&self, offset: usize, len: usize) -> &mut [u8] {
        let p = self.checked(offset, len, 1);
        // SAFETY: in bounds (checked); the caller guarantees exclusive access.
        unsafe { std::slice::from_raw_parts_mut(p, len) }
    }
}

impl Drop for SharedMapping {
    fn drop(&mut self) {
        // SAFETY: `ptr..ptr+len` is the mapping made in the constructor; `&mut self` means no
        // reference handed out by `&self` methods is still alive.
        unsafe { sys::mem::unmap(self.ptr, self.len) };
        if let Backing::Named {
            name,
            unlink_on_drop: true,
            ..
        } = &self.backing
        {
            let _ = sys::mem::shm_unlink(name);
            tracker::unregister(
                tracker::Kind::SharedMemory,
                OsStr::from_bytes(name.to_bytes()),
            );
        }
    }
}

impl fmt::Debug for SharedMapping {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match &self.backing {
            Backing::Anonymous => "anonymous",
            Backing::Memfd(_) => "memfd",
            Backing::Named { .. } => "named",
        };
        f.debug_struct("SharedMapping")
            .field("kind", &kind)
            .field("len", &self.len)
            .field("name", &self.name())
            .finish()
    }
}

/// What a mapping looks like on the wire: its descriptor (out of band), its length, and its
/// name if it has one. `WireOut` and `WireIn` have the same serde shape.
#[derive(Serialize)]
struct WireOut<'a> {
    fd: FdRef<'a>,
    len: u64,
    name: Option<&'a str>,
}

#[derive(Deserialize)]
struct WireIn {
    fd: PortableFd,
    len: u64,
    name: Option<String>,
}

impl Serialize for SharedMapping {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let fd = match self.fd() {
            Some(fd) => FdRef(fd),
            None => {
                return Err(transfer::fail(Error::NotTransferable(
                    "an anonymous mapping reaches a child only by fork; use SharedMapping::memfd",
                )));
            }
        };
        WireOut {
            fd,
            len: self.len as u64,
            name: self.name(),
        }
        .serialize(s)
    }
}

/// A received mapping must be sealed against shrinking: its sender (or anyone it gave the
/// descriptor to) could otherwise cut the memory from under it. A named object cannot be
/// sealed: receive one with [`SharedMapping::deserialize_named`].
impl<'de> Deserialize<'de> for SharedMapping {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        receive(WireIn::deserialize(d)?, Seal::Required)
    }
}

impl SharedMapping {
    /// Receives a mapping that may be named (a serde `deserialize_with` function): like
    /// `Deserialize`, but a descriptor that is not sealed against shrinking is accepted when
    /// the sender says it has a name, and the result is then not
    /// [fixed in size](Self::size_is_fixed) (its safe accessors panic; copy with
    /// [`read_at`](Self::read_at)). For handles over named objects, such as
    /// `multiproc-shm`'s `SharedMemory`.
    ///
    /// # Errors
    /// As `Deserialize`: a bad descriptor, a length larger than the object, or an unsealed
    /// descriptor without a name ([`Error::NotSealed`](crate::Error::NotSealed)).
    pub fn deserialize_named<'de, D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        receive(WireIn::deserialize(d)?, Seal::Optional)
    }
}

fn receive<E: serde::de::Error>(w: WireIn, seal: Seal) -> Result<SharedMapping, E> {
    let len = usize::try_from(w.len).map_err(|_| {
        transfer::fail_de(Error::from(crate::error::CorruptReason::Invalid(
            "a mapping length beyond this machine's addresses",
        )))
    })?;
    let fd = w.fd.into_inner();
    let sealed = sys::mem::is_shrink_sealed(fd.as_fd());
    if !sealed && (seal == Seal::Required || w.name.is_none()) {
        return Err(transfer::fail_de(Error::NotSealed));
    }
    let mut map =
        SharedMapping::map_fd(fd, len, Seal::Optional).map_err(|e| transfer::fail_de(e.into()))?;
    if let Some(name) = w.name {
        let Backing::Memfd(fd) = std::mem::replace(&mut map.backing, Backing::Anonymous) else {
            unreachable!("map_fd makes a memfd backing")
        };
        let name = CString::new(name).map_err(|_| {
            transfer::fail_de(Error::from(crate::error::CorruptReason::Invalid(
                "a mapping name with a NUL byte",
            )))
        })?;
        map.backing = Backing::Named {
            fd,
            name,
            unlink_on_drop: false,
            fixed: sealed,
        };
    }
    Ok(map)
}
