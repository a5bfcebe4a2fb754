//! Seed 000: a producer process puts tasks on a [`JoinableQueue`] until a random draw is above
//! 0.9, then a stop marker; a consumer process doubles each task, calls `task_done`, and puts
//! the result on a second [`Queue`]. The parent `join`s the task queue and the processes, then
//! prints the results.
//!
//! Python's version:
//!
//! ```python
//! def producer(in_queue):
//!     while 1:
//!         wt = random()
//!         time.sleep(wt)
//!         in_queue.put((double, wt))
//!         if wt > 0.9:
//!             in_queue.put(None)
//!             print('stop producer')
//!             break
//!
//! def consumer(in_queue, out_queue):
//!     while 1:
//!         task = in_queue.get()
//!         if task is None:
//!             break
//!         func, arg = task
//!         result = func(arg)
//!         in_queue.task_done()
//!         out_queue.put(result)
//! ...
//! tasks_queue.join()
//! for p in processes: p.join()
//! while 1:
//!     if results_queue.empty(): break
//!     print('Result:', results_queue.get())
//! ```
//!
//! ```text
//! cargo run -p multiproc-queue --example producer_consumer
//! ```
//!
//! Differences: a task is the draw itself (a function cannot travel in a queue; the consumer
//! knows to double it); the consumer also calls `task_done` for the stop marker (the Python
//! version does not, so its `join` waits for ever); the sleeps are a tenth of a draw.
//!
//! # Output
//!
//! ```text
//! stop producer
//! Result: *
//! ```

use std::time::Duration;

use multiproc_process::Process;
use multiproc_queue::{JoinableQueue, Queue};

fn random() -> f64 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos() as u64;
    let mut x = t ^ (u64::from(std::process::id()) << 32) ^ 0x9e37_79b9_7f4a_7c15;
    for _ in 0..3 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
    }
    (x >> 11) as f64 / (1u64 << 53) as f64
}

fn double(n: f64) -> f64 {
    n * 2.0
}

fn producer(in_queue: JoinableQueue<Option<f64>>) {
    loop {
        let wt = random();
        std::thread::sleep(Duration::from_secs_f64(wt / 10.0));
        in_queue.put(Some(wt)).expect("put");
        if wt > 0.9 {
            in_queue.put(None).expect("put");
            println!("stop producer");
            break;
        }
    }
}

fn consumer((in_queue, out_queue): (JoinableQueue<Option<f64>>, Queue<f64>)) {
    loop {
        let task = in_queue.get().expect("get");
        let Some(arg) = task else {
            in_queue.task_done().expect("task_done");
            break;
        };
        let result = double(arg);
        in_queue.task_done().expect("task_done");
        out_queue.put(result).expect("put");
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let tasks_queue = JoinableQueue::new()?;
    let results_queue = Queue::new()?;
    let processes = vec![
        Process::new(producer, tasks_queue.clone()),
        Process::new(consumer, (tasks_queue.clone(), results_queue.clone())),
    ];
    for p in &processes {
        p.start()?;
    }
    tasks_queue.join();
    for p in &processes {
        p.join()?;
    }
    while !results_queue.empty() {
        println!("Result: {}", results_queue.get()?);
    }
    Ok(())
}
