//! Handles rebuilt from bytes that did not come from a real handle: what safe code can forge
//! through serde must not lead to invalid values or to two locks over one region.

use std::marker::PhantomData;
use std::sync::atomic::{AtomicU8, Ordering};

use std::os::fd::{AsFd, FromRawFd, OwnedFd};
use std::os::unix::fs::FileExt;

use multiproc_core::heap::{Kind, Refusal, Spec, Storage, StorageSeed};
use multiproc_core::transfer::{FdRef, from_envelope, to_envelope};
use multiproc_shm::{AnyLock, Array, SharedMemory, Value};
use multiproc_sync::Lock;
use serde::de::{Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};

/// A `Value`'s or `Array`'s memory as it travels: its element count and its storage, checked
/// against the kind `K` (`SVal` for a value, `SArr` for an array).
struct Region<T, const K: u32> {
    len: u64,
    store: Storage,
    _t: PhantomData<T>,
}

impl<T, const K: u32> Serialize for Region<T, K> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        (self.len, &self.store).serialize(s)
    }
}

impl<'de, T, const K: u32> Deserialize<'de> for Region<T, K> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T, const K: u32>(PhantomData<T>);
        impl<'de, T, const K: u32> Visitor<'de> for V<T, K> {
            type Value = Region<T, K>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a region")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let len: u64 = seq.next_element()?.unwrap();
                let kind = Kind::new(K.to_le_bytes());
                let spec = Spec::array_of::<T>(kind, 1, len as usize).unwrap();
                let store = seq.next_element_seed(StorageSeed(&spec))?.unwrap();
                Ok(Region {
                    len,
                    store,
                    _t: PhantomData,
                })
            }
        }
        d.deserialize_tuple(2, V::<T, K>(PhantomData))
    }
}

const VALUE: u32 = u32::from_le_bytes(*b"SVal");
const ARRAY: u32 = u32::from_le_bytes(*b"SArr");

/// Splits a `Value`/`Array` into what it is made of on the wire: its memory and its lock.
fn parts<T, const K: u32>(handle: &impl Serialize) -> (Region<T, K>, AnyLock) {
    let env = to_envelope(handle).unwrap();
    from_envelope(&env.bytes, env.fds).unwrap()
}

/// Writes `byte` at `offset` of a region's payload, as another process could.
fn poke<T, const K: u32>(r: &Region<T, K>, offset: usize, byte: u8) {
    assert!(offset < r.store.len());
    // SAFETY: the byte is inside the payload (asserted), which lives as long as `r`; an
    // `AtomicU8` may alias memory other processes write.
    let cell = unsafe { AtomicU8::from_ptr(r.store.payload().as_ptr().add(offset)) };
    cell.store(byte, Ordering::Relaxed);
}

#[test]
fn a_bool_byte_that_is_not_0_or_1_reads_as_a_valid_true() {
    let v = Value::new(false).unwrap();
    let a = Array::new(&[false; 4]).unwrap();
    let (vm, _) = parts::<bool, VALUE>(&v);
    let (am, _) = parts::<bool, ARRAY>(&a);
    // Write a byte no `bool` store would.
    poke(&vm, 0, 2);
    poke(&am, 2, 0xff);
    let got = v.get();
    assert!(got);
    assert_eq!(got as u8, 1, "normalised to a valid bool");
    assert_eq!(a.to_vec(), vec![false, false, true, false]);
    assert_eq!(a.to_vec()[2] as u8, 1);
}

#[test]
fn a_region_paired_with_another_lock_is_refused() {
    let a = Value::new(1u32).unwrap();
    let b = Value::new(2u32).unwrap();
    let (ma, la) = parts::<u32, VALUE>(&a);
    let (_, lb) = parts::<u32, VALUE>(&b);
    // A's memory with B's lock: two locks would guard one value.
    let forged = to_envelope(&(&ma, &lb)).unwrap();
    let err = from_envelope::<Value<u32>>(&forged.bytes, forged.fds)
        .expect_err("a forged pairing must be refused");
    assert!(
        matches!(err, multiproc_core::Error::Refused(Refusal::WrongGuard)),
        "{err}"
    );
    // Its own pairing is fine.
    let honest = to_envelope(&(&ma, &la)).unwrap();
    let v: Value<u32> = from_envelope(&honest.bytes, honest.fds).unwrap();
    assert_eq!(v.get(), 1);
    // Arrays likewise.
    let x = Array::new(&[1u8, 2]).unwrap();
    let (mx, _) = parts::<u8, ARRAY>(&x);
    let forged = to_envelope(&(&mx, &la)).unwrap();
    assert!(from_envelope::<Array<u8>>(&forged.bytes, forged.fds).is_err());
    // And a large array, in a mapping of its own.
    let big = Array::new(&vec![7u64; 100_000]).unwrap();
    let (mbig, _) = parts::<u64, ARRAY>(&big);
    assert!(matches!(mbig.store, Storage::Page(_)));
    let forged = to_envelope(&(&mbig, &la)).unwrap();
    let err = from_envelope::<Array<u64>>(&forged.bytes, forged.fds).unwrap_err();
    assert!(
        matches!(err, multiproc_core::Error::Refused(Refusal::WrongGuard)),
        "{err}"
    );
}

/// A memfd with no seal (what a careless or hostile sender may attach to a handle).
fn unsealed_memfd() -> std::fs::File {
    // SAFETY: a NUL-terminated name and valid flags; the result is checked before use.
    let raw = unsafe { libc::memfd_create(c"forged".as_ptr(), libc::MFD_CLOEXEC) };
    assert!(
        raw >= 0,
        "memfd_create: {}",
        std::io::Error::last_os_error()
    );
    // SAFETY: `raw` was just returned by memfd_create and is owned by nothing else.
    std::fs::File::from(unsafe { OwnedFd::from_raw_fd(raw) })
}

#[test]
fn a_lock_whose_memfd_is_not_sealed_is_refused_on_receipt() {
    // A real lock's arena, copied into an unsealed memfd: the same bytes (headers included),
    // but memory its sender can still shrink.
    let real = Lock::new().unwrap();
    let env = to_envelope(&real).unwrap();
    // The wire form of a `Lock` is that of its slot: (arena descriptor, arena id, offset,
    // generation).
    let (_, uid, offset, generation): (u32, u64, u32, u32) =
        postcard::from_bytes(&env.bytes).unwrap();
    let arena = std::fs::File::from(env.fds.into_iter().next().unwrap());
    let mut bytes = vec![0u8; arena.metadata().unwrap().len() as usize];
    arena.read_exact_at(&mut bytes, 0).unwrap();
    let memfd = unsealed_memfd();
    memfd.write_all_at(&bytes, 0).unwrap();
    let forged = to_envelope(&(FdRef(memfd.as_fd()), uid, offset, generation)).unwrap();
    let received = from_envelope::<Lock>(&forged.bytes, forged.fds);
    // The sender now cuts the memory: a lock that had been accepted would die of SIGBUS on
    // its first use.
    memfd.set_len(0).unwrap();
    let err = match received {
        // (Not `expect_err`: printing the lock would read its cut page.)
        Ok(_) => panic!("a lock over unsealed memory was accepted"),
        Err(e) => e,
    };
    assert!(matches!(err, multiproc_core::Error::NotSealed), "{err:?}");
    // Its own page, sealed, is accepted.
    let env = to_envelope(&real).unwrap();
    let lock: Lock = from_envelope(&env.bytes, env.fds).unwrap();
    drop(lock.lock());
}

#[test]
fn a_named_block_may_arrive_unsealed_but_not_as_a_lock() {
    let block = SharedMemory::create(&multiproc_testkit::unique_name("forged"), 128).unwrap();
    let env = to_envelope(&block).unwrap();
    let got: SharedMemory = from_envelope(&env.bytes, env.fds).unwrap();
    assert_eq!(got.name(), block.name());
    // The same descriptor passed off as the page of a lock (or of any handle built on a plain
    // mapping) is refused: a named object cannot be sealed.
    let env = to_envelope(&block).unwrap();
    let r = from_envelope::<Lock>(&env.bytes, env.fds);
    assert!(
        matches!(
            r,
            Err(multiproc_core::Error::NotSealed | multiproc_core::Error::Refused(_))
        ),
        "{r:?}"
    );
}
