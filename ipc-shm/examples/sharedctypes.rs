//! Seed 000: `multiprocessing.sharedctypes` — a child squares a `Value`, sets a lock-free
//! `bool`, upper-cases a `'c'` array, assigns into an int array, and squares the fields of an
//! array of `Point` structs; two of the arrays share one `Lock`.
//!
//! Python's version:
//!
//! ```python
//! lock = Lock()
//! class Point(Structure):
//!     _fields_ = [('x', c_double), ('y', c_double)]
//! def modify(n, b, s, arr, A):
//!     n.value **= 2
//!     b.value = True
//!     s.value = s.value.upper()
//!     arr[0] = 10
//!     for a in A:
//!         a.x **= 2
//!         a.y **= 2
//! n = Value('i', 7)
//! b = Value(c_bool, False, lock=False)
//! s = Array('c', 'hello world', lock=lock)
//! arr = Array('i', range(5), lock=True)
//! A = Array(Point, [(1.875, -6.25), (-5.75, 2.0)], lock=lock)
//! p = Process(target=modify, args=(n, b, s, arr, A))
//! p.start()
//! p.join()
//! print n.value; print b.value; print s.value; print arr[:]
//! print [(a.x, a.y) for a in A]
//! ```
//!
//! ```text
//! cargo run -p multiproc-shm --example sharedctypes
//! ```
//!
//! # Output
//!
//! ```text
//! 49
//! true
//! HELLO WORLD
//! [10, 1, 2, 3, 4]
//! [(3.515625, 39.0625), (33.0625, 4.0)]
//! ```

use multiproc_process::Process;
use multiproc_shm::{Array, RawValue, Shareable, Value};
use multiproc_sync::Lock;

/// `class Point(Structure): _fields_ = [('x', c_double), ('y', c_double)]`
/// (`#[derive(Shareable)]` checks at compile time that it may live in shared memory.)
#[derive(Shareable, Clone, Copy, Debug)]
#[repr(C)]
struct Point {
    x: f64,
    y: f64,
}

type Args = (
    Value<i32>,
    RawValue<bool>,
    Array<u8>,
    Array<i32>,
    Array<Point>,
);

fn modify((n, b, s, arr, a): Args) {
    n.update(|v| *v = v.pow(2));
    b.set(true);
    s.set_value(&s.value().to_ascii_uppercase())
        .expect("same length");
    arr.set(0, 10).expect("in bounds");
    a.update_all(|p| {
        p.x = p.x.powi(2);
        p.y = p.y.powi(2);
    });
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let lock = Lock::new()?;
    let n = Value::new(7i32)?;
    let b = RawValue::new(false)?;
    let s = Array::with_lock(b"hello world", lock.clone())?;
    let arr = Array::new(&[0i32, 1, 2, 3, 4])?;
    let a = Array::with_lock(
        &[Point { x: 1.875, y: -6.25 }, Point { x: -5.75, y: 2.0 }],
        lock,
    )?;
    let p = Process::new(
        modify,
        (n.clone(), b.clone(), s.clone(), arr.clone(), a.clone()),
    );
    p.start()?;
    p.join()?;
    if p.exitcode() != Some(0) {
        return Err(format!("the child failed: {:?}", p.exitcode()).into());
    }
    println!("{}", n.get());
    println!("{}", b.get());
    println!("{}", String::from_utf8_lossy(&s.value()));
    println!("{:?}", arr.to_vec());
    let points: Vec<(f64, f64)> = a.to_vec().iter().map(|p| (p.x, p.y)).collect();
    println!("{points:?}");
    Ok(())
}
