//! Seed 003: `Array('i', 4)` and `Value('i')` shared with a child that squares a list into the
//! array and stores the sum; child and parent print the same.
//!
//! Python's version:
//!
//! ```python
//! def square_list(mylist, result, square_sum):
//!     for idx, num in enumerate(mylist):
//!         result[idx] = num * num
//!     square_sum.value = sum(result)
//!     print("Result(in process p1): {}".format(result[:]))
//!     print("Sum of squares(in process p1): {}".format(square_sum.value))
//!
//! mylist = [1, 2, 3, 4]
//! result = multiprocessing.Array('i', 4)
//! square_sum = multiprocessing.Value('i')
//! p1 = multiprocessing.Process(target=square_list, args=(mylist, result, square_sum))
//! p1.start()
//! p1.join()
//! print("Result(in main program): {}".format(result[:]))
//! print("Sum of squares(in main program): {}".format(square_sum.value))
//! ```
//!
//! ```text
//! cargo run -p multiproc-shm --example square_sum
//! ```
//!
//! # Output
//!
//! ```text
//! Result(in process p1): [1, 4, 9, 16]
//! Sum of squares(in process p1): 30
//! Result(in main program): [1, 4, 9, 16]
//! Sum of squares(in main program): 30
//! ```

use std::io::Write;

use multiproc_process::Process;
use multiproc_shm::{Array, Value};

fn square_list((mylist, result, square_sum): (Vec<i32>, Array<i32>, Value<i32>)) {
    for (idx, num) in mylist.iter().enumerate() {
        result.set(idx, num * num).expect("in bounds");
    }
    square_sum.set(result.lock().unwrap().iter().sum());
    let mut out = std::io::stdout().lock();
    writeln!(out, "Result(in process p1): {:?}", result.to_vec()).expect("stdout");
    writeln!(out, "Sum of squares(in process p1): {}", square_sum.get()).expect("stdout");
    out.flush().expect("stdout");
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mylist = vec![1, 2, 3, 4];
    let result = Array::<i32>::zeroed(4)?;
    let square_sum = Value::<i32>::zeroed()?;
    let p1 = Process::new(square_list, (mylist, result.clone(), square_sum.clone()));
    p1.start()?;
    p1.join()?;
    if p1.exitcode() != Some(0) {
        return Err(format!("the child failed: {:?}", p1.exitcode()).into());
    }
    println!("Result(in main program): {:?}", result.to_vec());
    println!("Sum of squares(in main program): {}", square_sum.get());
    Ok(())
}
