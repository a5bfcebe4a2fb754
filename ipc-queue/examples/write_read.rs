//! Seed 001 (and 004): a writer process puts `A`, `B`, `C` on a [`Queue`], a reader process
//! gets them in a loop; the parent waits for the writer and then terminates the reader, whose
//! loop never ends.
//!
//! Python's version:
//!
//! ```python
//! def write(q):
//!     print('Process to write: %s' % os.getpid())
//!     for value in ['A', 'B', 'C']:
//!         print('Put %s to queue...' % value)
//!         q.put(value)
//!         time.sleep(random.random())
//!
//! def read(q):
//!     print('Process to read: %s' % os.getpid())
//!     while True:
//!         value = q.get(True)
//!         print('Get %s from queue.' % value)
//!
//! q = Queue()
//! pw = Process(target=write, args=(q,))
//! pr = Process(target=read, args=(q,))
//! pw.start(); pr.start(); pw.join(); pr.terminate()
//! ```
//!
//! ```text
//! cargo run -p multiproc-queue --example write_read
//! ```
//!
//! The random sleeps are a tenth of Python's (and at least 50 ms, so that the reader has
//! printed before the next put).
//!
//! # Output
//!
//! ```text
//! Put A to queue...
//! Get A from queue.
//! Put B to queue...
//! Get B from queue.
//! Put C to queue...
//! Get C from queue.
//! ```

use std::time::Duration;

use multiproc_process::Process;
use multiproc_queue::Queue;

/// A number in [0, 1) from the clock and the pid (enough for a sleep).
fn random() -> f64 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .subsec_nanos() as u64;
    let mut x = t ^ (u64::from(std::process::id()) << 32) ^ 0x9e37_79b9_7f4a_7c15;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    (x >> 11) as f64 / (1u64 << 53) as f64
}

fn write(q: Queue<String>) {
    println!("Process to write: {}", std::process::id());
    for value in ["A", "B", "C"] {
        println!("Put {value} to queue...");
        q.put(value.to_string()).expect("put");
        std::thread::sleep(Duration::from_secs_f64(0.05 + random() / 10.0));
    }
}

fn read(q: Queue<String>) {
    println!("Process to read: {}", std::process::id());
    loop {
        let value = q.get().expect("get");
        println!("Get {value} from queue.");
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let q = Queue::new()?;
    let pw = Process::new(write, q.clone());
    let pr = Process::new(read, q.clone());
    pw.start()?;
    pr.start()?;
    pw.join()?;
    // The reader loops forever: it can only be stopped.
    pr.terminate()?;
    pr.join()?;
    Ok(())
}
