//! `Value`, `Array`, `RawValue`, `RawArray` and `SharedMemory` across real processes (spawn and
//! forkserver; `fork` is in `fork.rs`), a lock shared by two arrays, bounds errors, type
//! checks on the wire, guards that lost their lock, and named blocks between two programs.

use std::panic::AssertUnwindSafe;
use std::time::Duration;

use multiproc_core::transfer::Channel;
use multiproc_process::{StartMethod, get_context};
use multiproc_shm::{Array, Error, RawArray, RawValue, Shareable, SharedMemory, Value};
use multiproc_sync::{Lock, RLock};
use multiproc_testkit::{ChildGuard, child_command, role, unique_name};

const LIMIT: Duration = Duration::from_secs(20);

#[derive(Clone, Copy, Debug, PartialEq)]
#[repr(C)]
struct Point {
    x: f64,
    y: f64,
}

// SAFETY: #[repr(C)], two f64: no pointers, any bytes are a Point.
unsafe impl Shareable for Point {}

type Handles = (
    Value<i64>,
    Array<Point>,
    RawValue<f64>,
    RawArray<u32>,
    SharedMemory,
);

fn touch_everything((v, a, rv, ra, shm): Handles) -> Vec<u8> {
    v.update(|x| *x += 1);
    a.update_all(|p| {
        p.x *= 2.0;
        p.y = -p.y;
    });
    rv.set(rv.get() + 0.5);
    ra.set(2, 42).unwrap();
    shm.write(0, b"child").unwrap();
    a.get(9)
        .map(|_| vec![])
        .unwrap_or_else(|e| e.to_string().into_bytes())
}

#[test]
fn every_handle_reaches_spawn_and_forkserver_children() {
    for m in [StartMethod::Spawn, StartMethod::Forkserver] {
        let v = Value::new(41i64).unwrap();
        let a = Array::new(&[Point { x: 1.0, y: 2.0 }, Point { x: 3.0, y: 4.0 }]).unwrap();
        let rv = RawValue::new(1.0f64).unwrap();
        let ra = RawArray::<u32>::zeroed(4).unwrap();
        let shm = SharedMemory::create(&unique_name("reach"), 64).unwrap();
        let h = get_context(m)
            .spawn(
                touch_everything,
                (
                    v.clone(),
                    a.clone(),
                    rv.clone(),
                    ra.clone(),
                    shm.try_clone().unwrap(),
                ),
            )
            .unwrap();
        let msg = h.join().unwrap();
        assert_eq!(
            String::from_utf8(msg).unwrap(),
            "index 9 out of range for length 2"
        );
        assert_eq!(v.get(), 42, "{m:?}");
        assert_eq!(
            a.to_vec(),
            [Point { x: 2.0, y: -2.0 }, Point { x: 6.0, y: -4.0 }]
        );
        assert_eq!(rv.get(), 1.5);
        assert_eq!(ra.to_vec(), [0, 0, 42, 0]);
        let mut buf = [0; 5];
        shm.read(0, &mut buf).unwrap();
        assert_eq!(&buf, b"child");
    }
}

fn count((v, n): (Value<u64>, u64)) {
    for _ in 0..n {
        v.update(|x| *x += 1);
    }
}

#[test]
fn updates_under_the_lock_are_exact() {
    let v = Value::<u64>::zeroed().unwrap();
    let ctx = get_context(StartMethod::Forkserver);
    let kids: Vec<_> = (0..2)
        .map(|_| ctx.spawn(count, (v.clone(), 3000)).unwrap())
        .collect();
    count((v.clone(), 3000));
    for k in kids {
        k.join().unwrap();
    }
    assert_eq!(v.get(), 9000);
}

fn set_when_unlocked((a, done): (Array<u8>, RawValue<bool>)) {
    a.set(0, b'X').unwrap(); // blocks while the parent holds the shared lock
    done.set(true);
}

#[test]
fn one_lock_shared_by_two_arrays() {
    let lock = Lock::new().unwrap();
    let s = Array::with_lock(b"hello world", lock.clone()).unwrap();
    let a = Array::with_lock(&[0u8; 4], lock.clone()).unwrap();
    assert!(s.get_lock().same_as(a.get_lock()));
    assert!(!s.same_as(&a));

    // Holding `s`'s lock keeps a child away from `a`.
    let done = RawValue::new(false).unwrap();
    let held = s.lock().unwrap();
    assert!(lock.is_held_by_current_thread());
    let h = get_context(StartMethod::Forkserver)
        .spawn(set_when_unlocked, (a.clone(), done.clone()))
        .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        !done.get(),
        "the child wrote while the shared lock was held"
    );
    held.set_value(b"HELLO").unwrap();
    drop(held);
    h.join().unwrap();
    assert!(done.get());
    assert_eq!(a.to_vec(), b"X\0\0\0");
    assert_eq!(s.value(), b"HELLO");
    assert_eq!(s.to_vec(), b"HELLO\0world");

    // An RLock shared by a value and an array: held once, both re-enter it.
    let r = RLock::new().unwrap();
    let n = Value::with_lock(1i32, r.clone()).unwrap();
    let arr = Array::with_lock(&[0i32; 3], r.clone()).unwrap();
    let g = n.lock().unwrap();
    let ga = arr.lock().unwrap();
    ga.set(1, g.get() + 1).unwrap();
    g.set(ga.get(1).unwrap() * 10);
    assert_eq!(r.depth(), 2);
    drop((g, ga));
    assert_eq!(r.depth(), 0);
    assert_eq!((n.get(), arr.to_vec()), (20, vec![0, 2, 0]));
}

#[test]
fn bounds_and_length_errors() {
    let a = Array::new(&[1i32, 2, 3]).unwrap();
    assert!(matches!(
        a.get(3),
        Err(Error::OutOfBounds { index: 3, len: 3 })
    ));
    assert!(matches!(
        a.set(7, 0),
        Err(Error::OutOfBounds { index: 7, len: 3 })
    ));
    assert!(matches!(
        a.update(3, |_| ()),
        Err(Error::OutOfBounds { .. })
    ));
    assert_eq!(a.slice(1..).unwrap(), [2, 3]);
    assert_eq!(a.slice(..=1).unwrap(), [1, 2]);
    assert!(a.slice(2..2).unwrap().is_empty());
    assert!(matches!(
        a.slice(1..4),
        Err(Error::OutOfBounds { index: 4, len: 3 })
    ));
    #[allow(clippy::reversed_empty_ranges)]
    let backwards = a.slice(2..1);
    assert!(backwards.is_err());
    assert!(matches!(
        a.copy_from_slice(&[1, 2]),
        Err(Error::LengthMismatch {
            expected: 3,
            got: 2
        })
    ));
    assert!(matches!(
        a.set_slice(2, &[9, 9]),
        Err(Error::OutOfBounds { .. })
    ));
    a.set_slice(1, &[8, 9]).unwrap();
    assert_eq!(a.to_vec(), [1, 8, 9]);
    let g = a.lock().unwrap();
    let mut out = [0; 2];
    assert!(g.read_into(2, &mut out).is_err());
    g.read_into(1, &mut out).unwrap();
    assert_eq!(out, [8, 9]);
    assert_eq!(g.iter().len(), 3);
    assert_eq!(g.iter().collect::<Vec<_>>(), [1, 8, 9]);
    drop(g);
    assert_eq!(
        a.get(5).unwrap_err().to_string(),
        "index 5 out of range for length 3"
    );

    let s = Array::new(b"abc").unwrap();
    assert!(matches!(
        s.set_value(b"abcd"),
        Err(Error::TooLong {
            capacity: 3,
            got: 4
        })
    ));
    s.set_value(b"x").unwrap();
    assert_eq!(s.value(), b"x");
    s.set_value(b"xyz").unwrap();
    assert_eq!(s.value(), b"xyz");

    let r = RawArray::new(&[1u8, 2]).unwrap();
    assert!(matches!(
        r.get(2),
        Err(Error::OutOfBounds { index: 2, len: 2 })
    ));
    assert!(r.copy_from_slice(&[1]).is_err());
    assert!(r.slice(0..3).is_err());

    // Empty arrays are fine.
    let e = Array::<f64>::zeroed(0).unwrap();
    assert!(e.is_empty() && e.to_vec().is_empty() && e.get(0).is_err());
    assert_eq!(e.lock().unwrap().iter().next(), None);
}

#[test]
fn iteration_crosses_chunks() {
    let n = 10_000usize; // several 4 KiB chunks of u64
    let a = Array::new(&(0..n as u64).collect::<Vec<_>>()).unwrap();
    let g = a.lock().unwrap();
    assert_eq!(g.iter().sum::<u64>(), (n as u64) * (n as u64 - 1) / 2);
    assert!(g.iter().enumerate().all(|(i, x)| x == i as u64));
    drop(g);
    a.update_all(|x| *x *= 2);
    assert_eq!(a.get(n - 1).unwrap(), 2 * (n as u64 - 1));
}

#[test]
fn a_guard_that_lost_its_lock_panics_instead_of_touching_memory() {
    let lock = RLock::new().unwrap();
    let v = Value::with_lock(5u8, lock.clone()).unwrap();
    let g = v.lock().unwrap();
    assert_eq!(g.get(), 5);
    lock.release().unwrap(); // unbalanced: the guard's level is gone
    let r = std::panic::catch_unwind(AssertUnwindSafe(|| g.get()));
    assert!(r.is_err());
    drop(g); // releasing a lock we no longer hold is a no-op
    assert!(!lock.is_locked());

    let lock = Lock::new().unwrap();
    let a = Array::with_lock(&[1u8, 2], lock.clone()).unwrap();
    let g = a.lock().unwrap();
    lock.release().unwrap();
    assert!(std::panic::catch_unwind(AssertUnwindSafe(|| g.to_vec())).is_err());
    assert!(std::panic::catch_unwind(AssertUnwindSafe(|| g.set(0, 9))).is_err());
    drop(g);
    assert_eq!(a.to_vec(), [1, 2]);

    // `update` whose closure releases the lock does not write back unguarded.
    let lock = RLock::new().unwrap();
    let v = Value::with_lock(1u32, lock.clone()).unwrap();
    let r = std::panic::catch_unwind(AssertUnwindSafe(|| {
        v.update(|x| {
            *x = 99;
            lock.release().unwrap();
        })
    }));
    assert!(r.is_err());
    assert_eq!(v.get(), 1);
}

#[test]
fn two_guards_of_one_rlock_in_one_thread_are_harmless() {
    let v = Value::new(1i32).unwrap();
    let g1 = v.lock().unwrap();
    let g2 = v.lock().unwrap();
    g1.set(2);
    g2.update(|x| *x += 1);
    assert_eq!(g1.get(), 3);
    assert_eq!(v.get(), 3); // the conveniences re-enter too
    drop(g1);
    g2.set(4);
    drop(g2);
    assert_eq!(v.get(), 4);
}

#[test]
fn a_handle_is_rebuilt_only_as_its_own_kind_and_type() {
    let (mut tx, mut rx) = Channel::pair().unwrap();
    let v = Value::new(7i32).unwrap();
    tx.send(&v).unwrap();
    assert!(rx.recv::<Value<u32>>().is_err(), "another element type");
    tx.send(&v).unwrap();
    assert!(rx.recv::<Array<i32>>().is_err(), "another kind");
    let raw = RawValue::new(7i32).unwrap();
    tx.send(&raw).unwrap();
    assert!(rx.recv::<RawArray<i32>>().is_err(), "another raw kind");
    tx.send(&v).unwrap();
    let back: Value<i32> = rx.recv().unwrap();
    back.set(8);
    assert_eq!(v.get(), 8);
    assert!(back.same_as(&v) || back.get() == v.get());
    tx.send(&raw).unwrap();
    let raw_back: RawValue<i32> = rx.recv().unwrap();
    raw_back.set(9);
    assert_eq!(raw.get(), 9);
}

fn die_holding(v: Value<u32>) {
    let g = v.lock().unwrap();
    g.set(13);
    std::mem::forget(g);
    std::process::exit(0);
}

#[test]
fn a_holder_that_died_is_reported_and_its_data_stays() {
    let v = Value::new(0u32).unwrap();
    let h = get_context(StartMethod::Forkserver)
        .spawn(die_holding, v.clone())
        .unwrap();
    let _ = h.join();
    match v.lock() {
        Err(died) => assert_eq!(died.into_inner().get(), 13),
        Ok(_) => panic!("the death went unnoticed"),
    }
    assert_eq!(v.get(), 13);
}

const NAME_ENV: &str = "IPC_SHM_TEST_NAME";

#[test]
fn named_block_between_two_programs() {
    if role().as_deref() == Some("attach") {
        // A separate program: it knows only the name.
        let name = std::env::var(NAME_ENV).unwrap();
        let shm = SharedMemory::open_sized(&name, 4096).unwrap();
        let mut buf = [0; 5];
        shm.read(0, &mut buf).unwrap();
        assert_eq!(&buf, b"hello");
        shm.write(100, b"world").unwrap();
        return;
    }
    let name = unique_name("named");
    let shm = SharedMemory::create(&name, 4096).unwrap();
    assert_eq!((shm.name(), shm.size()), (name.as_str(), 4096));
    shm.write(0, b"hello").unwrap();
    let mut child = ChildGuard(
        child_command("named_block_between_two_programs", "attach")
            .env(NAME_ENV, &name)
            .spawn()
            .unwrap(),
    );
    assert!(child.wait(LIMIT).success());
    let mut buf = [0; 5];
    shm.read(100, &mut buf).unwrap();
    assert_eq!(&buf, b"world");
    assert!(matches!(
        SharedMemory::create(&name, 64),
        Err(Error::AlreadyExists { .. })
    ));
    let e = SharedMemory::open_sized(&name, 100).unwrap_err();
    assert!(matches!(
        e,
        Error::SizeMismatch {
            expected: 100,
            actual: 4096,
            ..
        }
    ));
    assert_eq!(
        e.to_string(),
        format!("shared memory block {name:?} has 4096 bytes, 100 expected")
    );
    assert!(shm.read(4090, &mut [0; 7]).is_err());
    assert!(shm.write(4096, b"x").is_err());
    drop(shm);
    let e = SharedMemory::open(&name).unwrap_err();
    assert!(matches!(e, Error::NotFound { .. }));
    assert!(!std::path::Path::new("/dev/shm").join(&name).exists());
}

#[test]
fn unlink_and_persist() {
    let name = unique_name("unlink");
    let mut a = SharedMemory::create(&name, 64).unwrap();
    a.write(0, b"still here").unwrap();
    a.unlink().unwrap();
    assert!(matches!(
        SharedMemory::open(&name),
        Err(Error::NotFound { .. })
    ));
    assert!(matches!(a.unlink(), Err(Error::NotFound { .. })));
    let mut buf = [0; 10];
    a.read(0, &mut buf).unwrap(); // the mapping outlives its name
    assert_eq!(&buf, b"still here");
    // A name taken again after unlink is not removed by the first creator's drop.
    let b = SharedMemory::create(&name, 64).unwrap();
    drop(a);
    assert!(SharedMemory::open(&name).is_ok());
    drop(b);

    let mut c = SharedMemory::create(&name, 64).unwrap();
    c.persist();
    drop(c);
    assert!(SharedMemory::open(&name).is_ok());
    SharedMemory::unlink_name(&name).unwrap();
    assert!(matches!(SharedMemory::create("a/b", 64), Err(Error::Io(_))));
    assert!(matches!(SharedMemory::create(&name, 0), Err(Error::Io(_))));
    assert!(matches!(
        SharedMemory::open(&name),
        Err(Error::NotFound { .. })
    ));
}
