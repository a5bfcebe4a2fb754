//! The handles under the `fork` start method, in a test binary without the libtest harness
//! (`harness = false`), so that this process really has one thread and `fork` is allowed.

use std::panic::AssertUnwindSafe;

use multiproc_process::{Fork, Process, StartMethod, get_context};
use multiproc_shm::{Array, RawArray, RawValue, SharedMemory, Value};

fn child_writes((v, a, rv, ra): (Value<f64>, Array<i32>, RawValue<bool>, RawArray<u64>)) {
    v.set(2.75);
    a.update_all(|x| *x = -*x);
    rv.set(true);
    ra.set(0, u64::MAX).unwrap();
}

fn handles_by_fork() {
    let v = Value::new(0.0f64).unwrap();
    let a = Array::new(&(0..10).collect::<Vec<i32>>()).unwrap();
    let rv = RawValue::new(false).unwrap();
    let ra = RawArray::<u64>::zeroed(2).unwrap();
    let args = (v.clone(), a.clone(), rv.clone(), ra.clone());
    get_context(StartMethod::Fork)
        .spawn(child_writes, args)
        .unwrap()
        .join()
        .unwrap();
    assert_eq!(v.get(), 2.75);
    assert_eq!(a.to_vec(), (0..10).map(|x| -x).collect::<Vec<i32>>());
    assert!(rv.get());
    assert_eq!(ra.to_vec(), [u64::MAX, 0]);

    // A closure captures handles as they are: inherited, not serialised.
    let name = multiproc_testkit::unique_name("fork");
    let shm = SharedMemory::create(&name, 64).unwrap();
    let (v2, shm2) = (v.clone(), shm.try_clone().unwrap());
    let p = Process::from_closure(move || {
        v2.set(1.0);
        shm2.write(0, b"forked").unwrap();
    });
    p.start().unwrap();
    p.join().unwrap();
    assert_eq!(p.exitcode(), Some(0));
    assert_eq!(v.get(), 1.0);
    let mut buf = [0; 6];
    shm.read(0, &mut buf).unwrap();
    assert_eq!(&buf, b"forked");
}

/// A guard copied into a child by `fork` names a lock the parent holds: the child may not use
/// it, and says so instead of racing with the parent.
fn a_guard_copied_by_fork_is_refused() {
    let v = Value::new(1u32).unwrap();
    let g = v.lock().unwrap();
    match multiproc_process::fork().unwrap() {
        Fork::Child => {
            let r = std::panic::catch_unwind(AssertUnwindSafe(|| g.get()));
            std::mem::forget(g);
            std::process::exit(if r.is_err() { 0 } else { 1 });
        }
        Fork::Parent { child } => {
            assert_eq!(multiproc_process::waitpid(child).unwrap(), 0);
            assert_eq!(g.get(), 1); // still ours in the parent
        }
    }
}

/// A forked child's handles are byte copies of its parent's: the child holds references of its
/// own (taken for it at `fork`), so whatever it does with them — drop them, exit holding them,
/// exit with `_exit` — the parent's objects live on, and none is freed twice.
fn fork_children_hold_references_of_their_own() {
    let v = Value::new(5u64).unwrap();
    let before = heap_refs(&v);
    // A child that drops its copies before it ends.
    let (v2,) = (v.clone(),);
    let p = Process::from_closure(move || {
        v2.set(6);
        drop(v2);
    });
    p.start().unwrap();
    p.join().unwrap();
    assert_eq!(p.exitcode(), Some(0));
    // A child that ends holding its copies (`multiproc-process` gives them back for it).
    let v3 = v.clone();
    let p = Process::from_closure(move || {
        v3.set(7);
        std::mem::forget(v3);
    });
    p.start().unwrap();
    p.join().unwrap();
    assert_eq!(
        heap_refs(&v),
        before,
        "each child's reference came and went"
    );
    assert_eq!(v.get(), 7, "the parent's value is intact");
    // Many more objects made now must not land on this value's slot.
    let others: Vec<Value<u64>> = (0..1000).map(|i| Value::new(i).unwrap()).collect();
    assert_eq!(v.get(), 7);
    assert!(others.iter().enumerate().all(|(i, o)| o.get() == i as u64));
}

/// References to a value's memory, read through the heap (a test-only window: the value's
/// wire form is (len, (0, object)), its object the shared-heap slot).
fn heap_refs(v: &Value<u64>) -> u32 {
    use multiproc_core::heap::{Kind, Object, Spec};
    use multiproc_core::transfer::{from_envelope, to_envelope};
    use serde::de::{Deserializer, SeqAccess, Visitor};
    struct Slot(Object);
    impl<'de> serde::Deserialize<'de> for Slot {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = Slot;
                fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    f.write_str("a value")
                }
                fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Slot, A::Error> {
                    let _len: u64 = seq.next_element()?.unwrap();
                    let (_tag, obj): (u8, SlotObject) = seq.next_element()?.unwrap();
                    Ok(Slot(obj.0))
                }
            }
            d.deserialize_tuple(2, V)
        }
    }
    struct SlotObject(Object);
    impl<'de> serde::Deserialize<'de> for SlotObject {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            let spec = Spec::array_of::<u64>(Kind::new(*b"SVal"), 1, 1).unwrap();
            Object::deserialize_as(d, &spec).map(SlotObject)
        }
    }
    // The value's memory alone: its wire form is (region, lock); take the region.
    let env = to_envelope(v).unwrap();
    let (slot, _lock): (Slot, multiproc_sync::AnyLock) =
        from_envelope(&env.bytes, env.fds).unwrap();
    // This probe holds one reference (the message's) while it looks.
    slot.0.references() - 1
}

fn main() {
    // Quiet the expected panic in the forked child.
    std::panic::set_hook(Box::new(|_| {}));
    multiproc_testkit::run_single_threaded(&[
        ("handles_by_fork", handles_by_fork),
        (
            "a_guard_copied_by_fork_is_refused",
            a_guard_copied_by_fork_is_refused,
        ),
        (
            "fork_children_hold_references_of_their_own",
            fork_children_hold_references_of_their_own,
        ),
    ]);
}
