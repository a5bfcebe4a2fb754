//! Seed 003: a child puts the squares of `[1, 2, 3, 4]` on a [`Queue`]; the parent gets
//! until the queue is empty.
//!
//! Python's version:
//!
//! ```python
//! def square_list(mylist, q):
//!     for num in mylist:
//!         q.put(num * num)
//!
//! mylist = [1, 2, 3, 4]
//! q = multiprocessing.Queue()
//! p1 = multiprocessing.Process(target=square_list, args=(mylist, q))
//! p1.start()
//! p1.join()
//! while not q.empty():
//!     print(q.get())
//! ```
//!
//! ```text
//! cargo run -p multiproc-queue --example square_list
//! ```
//!
//! # Output
//!
//! ```text
//! 1
//! 4
//! 9
//! 16
//! ```

use multiproc_process::Process;
use multiproc_queue::Queue;

fn square_list((mylist, q): (Vec<i64>, Queue<i64>)) {
    for num in mylist {
        q.put(num * num).expect("put");
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mylist = vec![1, 2, 3, 4];
    let q = Queue::new()?;
    let p1 = Process::new(square_list, (mylist, q.clone()));
    p1.start()?;
    p1.join()?;
    // Every put returned before the child exited, so `empty` is exact here.
    while !q.empty() {
        println!("{}", q.get()?);
    }
    Ok(())
}
