//! Memory another process can shrink never reaches a safe accessor: a received memfd must be
//! sealed against shrinking, a named mapping's atomics wait for a promise, and its copies stop
//! at the object's end instead of dying of `SIGBUS`.

use std::os::fd::{AsFd, FromRawFd, OwnedFd};
use std::sync::atomic::Ordering;

use multiproc_core::transfer::{FdRef, from_envelope, to_envelope};
use multiproc_core::{Error, SharedMapping};
use multiproc_testkit::unique_name;

/// A memfd of `len` bytes with no seal at all (what a careless or hostile sender may send).
fn unsealed_memfd(len: u64) -> OwnedFd {
    // SAFETY: a NUL-terminated name and valid flags; the result is checked before use.
    let raw = unsafe { libc::memfd_create(c"unsealed".as_ptr(), libc::MFD_CLOEXEC) };
    assert!(
        raw >= 0,
        "memfd_create: {}",
        std::io::Error::last_os_error()
    );
    // SAFETY: `raw` was just returned by memfd_create and is owned by nothing else.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    std::fs::File::from(fd.try_clone().unwrap())
        .set_len(len)
        .unwrap();
    fd
}

/// Removes a shared memory name when dropped.
struct ShmName(String);

impl Drop for ShmName {
    fn drop(&mut self) {
        let _ = SharedMapping::unlink_named(&self.0);
    }
}

#[test]
fn an_unsealed_memfd_is_refused_by_from_fd_and_on_receipt() {
    let e = SharedMapping::from_fd(unsealed_memfd(4096)).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidData);
    assert!(e.to_string().contains("not sealed"), "{e}");

    // The wire form of a mapping (descriptor, length, name), forged around an unsealed memfd:
    // its sender could shrink it after we mapped it, and every access would be a SIGBUS.
    let fd = unsealed_memfd(4096);
    let forged = to_envelope(&(FdRef(fd.as_fd()), 4096u64, None::<&str>)).unwrap();
    let r = from_envelope::<SharedMapping>(&forged.bytes, forged.fds);
    assert!(matches!(r, Err(Error::NotSealed)), "{r:?}");
    // Claiming a name does not help a plain `SharedMapping` through.
    let forged = to_envelope(&(FdRef(fd.as_fd()), 4096u64, Some("/x"))).unwrap();
    let r = from_envelope::<SharedMapping>(&forged.bytes, forged.fds);
    assert!(matches!(r, Err(Error::NotSealed)), "{r:?}");

    // What `memfd` makes is sealed, and travels.
    let map = SharedMapping::memfd("sealed", 4096).unwrap();
    let env = to_envelope(&map).unwrap();
    let got: SharedMapping = from_envelope(&env.bytes, env.fds).unwrap();
    assert!(got.size_is_fixed());
    got.atomic_u32(0).store(1, Ordering::Relaxed);
    assert_eq!(map.atomic_u32(0).load(Ordering::Relaxed), 1);
}

#[test]
fn a_named_mapping_received_as_named_is_not_fixed_in_size() {
    #[derive(serde::Deserialize)]
    struct Named(#[serde(deserialize_with = "SharedMapping::deserialize_named")] SharedMapping);

    let name = ShmName(unique_name("recv-named"));
    let map = SharedMapping::create_named(&name.0, 4096).unwrap();
    let env = to_envelope(&map).unwrap();
    // Refused as a plain mapping (a named object cannot be sealed)...
    assert!(matches!(
        from_envelope::<SharedMapping>(&env.bytes, env.fds),
        Err(Error::NotSealed)
    ));
    // ... accepted as a named one, with its atomics off.
    let env = to_envelope(&map).unwrap();
    let Named(got) = from_envelope(&env.bytes, env.fds).unwrap();
    assert_eq!(got.name(), map.name());
    assert!(!got.size_is_fixed());
    got.write_at(0, b"hi").unwrap();
    let mut buf = [0u8; 2];
    map.read_at(0, &mut buf).unwrap();
    assert_eq!(&buf, b"hi");
}

#[test]
fn atomics_of_a_named_mapping_wait_for_the_promise_of_a_fixed_size() {
    let name = ShmName(unique_name("fixed"));
    let mut map = SharedMapping::create_named(&name.0, 4096).unwrap();
    assert!(!map.size_is_fixed());
    let accesses: [fn(&SharedMapping); 3] = [
        |m| {
            m.atomic_u32(0).load(Ordering::Relaxed);
        },
        |m| {
            m.atomic_u64(8).load(Ordering::Relaxed);
        },
        |m| {
            m.atomic_bytes(0, 16)[0].load(Ordering::Relaxed);
        },
    ];
    for access in accesses {
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| access(&map)));
        assert!(
            r.is_err(),
            "a safe atomic reached a named object that may shrink"
        );
    }
    // SAFETY: nothing resizes this object: its name is unique to this test.
    unsafe { map.assume_fixed_size() };
    assert!(map.size_is_fixed());
    map.atomic_u32(0).store(5, Ordering::Relaxed);
    let clone = map.try_clone().unwrap();
    assert_eq!(clone.atomic_u32(0).load(Ordering::Relaxed), 5);
    // Opened by name: not fixed, whatever the creator promised.
    let opened = SharedMapping::open_named(&name.0).unwrap();
    assert!(!opened.size_is_fixed());
}

#[test]
fn copies_stop_at_the_end_of_a_shrunk_named_object() {
    let name = ShmName(unique_name("shrunk"));
    let map = SharedMapping::create_named(&name.0, 3 * 4096).unwrap();
    assert_eq!(map.write_at(4096, &[7; 4096]).unwrap(), 4096);
    // Another process of the same user shrinks it (any holder of a writable descriptor can).
    std::fs::OpenOptions::new()
        .write(true)
        .open(format!("/dev/shm/{}", name.0))
        .unwrap()
        .set_len(4096 + 100)
        .unwrap();
    let mut buf = vec![0u8; 4096];
    assert_eq!(map.read_at(4096, &mut buf).unwrap(), 100);
    assert!(buf[..100].iter().all(|&b| b == 7));
    assert_eq!(map.read_at(2 * 4096, &mut buf).unwrap(), 0);
    assert_eq!(map.write_at(2 * 4096, &buf).unwrap(), 0);
    assert_eq!(map.write_at(4096 + 50, &[1; 100]).unwrap(), 50);
    // Nothing was written past the end: the object did not grow.
    let len = std::fs::metadata(format!("/dev/shm/{}", name.0))
        .unwrap()
        .len();
    assert_eq!(len, 4096 + 100);
    // Out of the mapping's range is an error, not a panic.
    assert!(map.read_at(3 * 4096 - 1, &mut [0; 2]).is_err());
    assert!(map.read_at(usize::MAX, &mut [0; 2]).is_err());
}
