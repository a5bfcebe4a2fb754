//! Handles rebuilt from bytes that did not come from a real handle: what safe code can forge
//! through serde must not lead to invalid values or to two locks over one region.

use std::sync::atomic::Ordering;

use multiproc_core::SharedMapping;
use multiproc_core::transfer::{from_envelope, to_envelope};
use multiproc_shm::{AnyLock, Array, Value};

/// Splits a `Value`/`Array` into what it is made of on the wire: its memory and its lock.
fn parts<T: serde::Serialize>(handle: &T) -> (SharedMapping, AnyLock) {
    let env = to_envelope(handle).unwrap();
    from_envelope(&env.bytes, env.fds).unwrap()
}

#[test]
fn a_bool_byte_that_is_not_0_or_1_reads_as_a_valid_true() {
    let v = Value::new(false).unwrap();
    let a = Array::new(&[false; 4]).unwrap();
    let (vm, _) = parts(&v);
    let (am, _) = parts(&a);
    // The elements start after a 64-byte header; write a byte no `bool` store would.
    vm.atomic_bytes(64, 1)[0].store(2, Ordering::Relaxed);
    am.atomic_bytes(64 + 2, 1)[0].store(0xff, Ordering::Relaxed);
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
    let (ma, la) = parts(&a);
    let (_, lb) = parts(&b);
    // A's memory with B's lock: two locks would guard one value.
    let forged = to_envelope(&(&ma, &lb)).unwrap();
    let r = from_envelope::<Value<u32>>(&forged.bytes, forged.fds);
    let err = r.expect_err("a forged pairing must be refused");
    let err = err.to_string();
    assert!(err.contains("do not belong together"), "{err}");
    // Its own pairing is fine.
    let honest = to_envelope(&(&ma, &la)).unwrap();
    let v: Value<u32> = from_envelope(&honest.bytes, honest.fds).unwrap();
    assert_eq!(v.get(), 1);
    // Arrays likewise.
    let x = Array::new(&[1u8, 2]).unwrap();
    let (mx, _) = parts(&x);
    let forged = to_envelope(&(&mx, &la)).unwrap();
    assert!(from_envelope::<Array<u8>>(&forged.bytes, forged.fds).is_err());
}
