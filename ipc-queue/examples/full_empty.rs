//! Seed 004: `put(block=False)` on a full queue raises `Full`; `get(timeout=t)` on an empty one
//! raises `Empty` after about `t`.
//!
//! Python's version:
//!
//! ```python
//! q = Queue(maxsize=1)
//! p = Process(target=lambda q: q.put('x'), args=(q,)); p.start(); p.join()
//! try:
//!     q.put('y', block=False)
//! except queue.Full:
//!     print('Full')
//! q.get()
//! try:
//!     q.get(timeout=0.5)
//! except queue.Empty:
//!     print('Empty')
//! ```
//!
//! ```text
//! cargo run -p multiproc-queue --example full_empty
//! ```
//!
//! # Output
//!
//! ```text
//! qsize 1 of maxsize 1, full: true
//! Full (put_nowait handed "y" back)
//! got "x"
//! Empty after 0.* s
//! ```

use std::time::{Duration, Instant};

use multiproc_process::Process;
use multiproc_queue::{GetError, PutError, Queue};

fn fill(q: Queue<String>) {
    q.put("x".to_string()).expect("put");
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let q = Queue::with_maxsize(1)?;
    let p = Process::new(fill, q.clone());
    p.start()?;
    p.join()?;
    println!(
        "qsize {} of maxsize {}, full: {}",
        q.qsize(),
        q.maxsize(),
        q.full()
    );
    match q.put_nowait("y".to_string()) {
        Err(PutError::Full(item)) => println!("Full (put_nowait handed {item:?} back)"),
        other => return Err(format!("expected Full, got {other:?}").into()),
    }
    println!("got {:?}", q.get()?);
    let timeout = Duration::from_millis(500);
    let start = Instant::now();
    match q.get_timeout(timeout) {
        Err(GetError::Empty) => {
            let waited = start.elapsed();
            println!("Empty after {:.1} s", waited.as_secs_f64());
            if waited < timeout || waited > timeout * 3 {
                return Err(format!("waited {waited:?} for a {timeout:?} timeout").into());
            }
        }
        other => return Err(format!("expected Empty, got {other:?}").into()),
    }
    Ok(())
}
