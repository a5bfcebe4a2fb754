//! Seed 002: ten processes print `hello world <i>` under one process-shared [`Lock`]; every
//! line comes out whole (the order is the scheduler's).
//!
//! Python's version:
//!
//! ```python
//! def f(l, i):
//!     with l:
//!         print('hello world', i)
//!
//! lock = Lock()
//! for num in range(10):
//!     Process(target=f, args=(lock, num)).start()
//! ```
//!
//! ```text
//! cargo run -p multiproc-sync --example lock_print
//! ```
//!
//! The lock reaches each child as an argument, like any handle (default start method:
//! forkserver).
//!
//! # Output
//!
//! ```text
//! $ lock_print  # any order
//! hello world 0
//! hello world 1
//! hello world 2
//! hello world 3
//! hello world 4
//! hello world 5
//! hello world 6
//! hello world 7
//! hello world 8
//! hello world 9
//! ```

use std::io::Write;

use multiproc_process::Process;
use multiproc_sync::Lock;

fn f((lock, i): (Lock, u32)) {
    // A holder that died would be reported; the lock is ours either way.
    let _guard = lock.lock().unwrap_or_else(|died| died.into_inner());
    let mut out = std::io::stdout().lock();
    writeln!(out, "hello world {i}").expect("stdout");
    out.flush().expect("stdout");
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let lock = Lock::new()?;
    let children: Vec<Process> = (0..10)
        .map(|num| Process::new(f, (lock.clone(), num)))
        .collect();
    for p in &children {
        p.start()?;
    }
    for p in &children {
        p.join()?;
        if p.exitcode() != Some(0) {
            return Err(format!("{} failed: {:?}", p.name(), p.exitcode()).into());
        }
    }
    Ok(())
}
