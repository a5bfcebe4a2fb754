//! Handles rebuilt from bytes that did not come from a real handle: what safe code can forge
//! through serde must not lead to invalid values or to two locks over one region.

use std::os::fd::{AsFd, FromRawFd, OwnedFd};
use std::os::unix::fs::FileExt;
use std::sync::atomic::Ordering;

use multiproc_core::SharedMapping;
use multiproc_core::transfer::{FdRef, from_envelope, to_envelope};
use multiproc_shm::{AnyLock, Array, SharedMemory, Value};
use multiproc_sync::Lock;

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
    // A real lock's page, copied into an unsealed memfd: the same bytes (kind tag included),
    // but memory its sender can still shrink.
    let real = Lock::new().unwrap();
    let env = to_envelope(&real).unwrap();
    let page: SharedMapping = from_envelope(&env.bytes, env.fds).unwrap();
    let mut bytes = vec![0u8; page.len()];
    assert_eq!(page.read_at(0, &mut bytes).unwrap(), page.len());
    let memfd = unsealed_memfd();
    memfd.write_all_at(&bytes, 0).unwrap();
    // The wire form of a `Lock` is that of its page: (descriptor, length, name).
    let forged = to_envelope(&(FdRef(memfd.as_fd()), bytes.len() as u64, None::<&str>)).unwrap();
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
    assert!(matches!(r, Err(multiproc_core::Error::NotSealed)), "{r:?}");
}
