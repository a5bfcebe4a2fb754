//! Seed 002: a `Value('d')` and an `Array('i', range(10))` shared with a child, which sets the
//! number and negates the array.
//!
//! Python's version:
//!
//! ```python
//! def f(n, a):
//!     n.value = 3.1415927
//!     for i in range(len(a)):
//!         a[i] = -a[i]
//!
//! num = Value('d', 0.0)
//! arr = Array('i', range(10))
//! p = Process(target=f, args=(num, arr))
//! p.start()
//! p.join()
//! print(num.value)
//! print(arr[:])
//! ```
//!
//! ```text
//! cargo run -p multiproc-shm --example value_array
//! ```
//!
//! # Output
//!
//! ```text
//! 3.1415927
//! [0, -1, -2, -3, -4, -5, -6, -7, -8, -9]
//! ```

use multiproc_process::Process;
use multiproc_shm::{Array, Value};

// The seed's number (what it prints), not an attempt at π.
#[allow(clippy::approx_constant)]
fn f((n, a): (Value<f64>, Array<i32>)) {
    n.set(3.1415927);
    for i in 0..a.len() {
        a.set(i, -a.get(i).expect("in bounds")).expect("in bounds");
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let num = Value::new(0.0f64)?;
    let arr = Array::new(&(0..10).collect::<Vec<i32>>())?;
    let p = Process::new(f, (num.clone(), arr.clone()));
    p.start()?;
    p.join()?;
    if p.exitcode() != Some(0) {
        return Err(format!("the child failed: {:?}", p.exitcode()).into());
    }
    println!("{}", num.get());
    println!("{:?}", arr.to_vec());
    Ok(())
}
