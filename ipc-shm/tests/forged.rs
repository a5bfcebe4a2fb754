//! Handles rebuilt from bytes that did not come from a real handle: what safe code can forge
//! through serde must not lead to invalid values or to two locks over one region.

use std::marker::PhantomData;
use std::sync::atomic::{AtomicU8, Ordering};

use multiproc_core::heap::{Kind, Refusal, Spec, Storage, StorageSeed};
use multiproc_core::transfer::{from_envelope, to_envelope};
use multiproc_shm::{AnyLock, Array, Value};
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
