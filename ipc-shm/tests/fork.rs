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

fn main() {
    // Quiet the expected panic in the forked child.
    std::panic::set_hook(Box::new(|_| {}));
    multiproc_testkit::run_single_threaded(&[
        ("handles_by_fork", handles_by_fork),
        (
            "a_guard_copied_by_fork_is_refused",
            a_guard_copied_by_fork_is_refused,
        ),
    ]);
}
