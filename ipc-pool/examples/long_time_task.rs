//! Seeds 001 and 004: `Pool(4)`, five `apply_async(long_time_task, i)`, `close`, `join`. Tasks
//! 0–3 start at once; task 4 starts only when one of them has ended.
//!
//! # Output
//!
//! ```text
//! Parent process *.
//! Run task * (*)...
//! Task * runs * seconds.
//! Run task 4 (*)...
//! Task * runs * seconds.
//! All subprocesses done.
//! ```

use std::time::{Duration, Instant};

use multiproc_pool::Pool;

fn long_time_task(name: u32) {
    println!("Run task {name} ({})...", std::process::id());
    let start = Instant::now();
    // A pseudo-random 0–3 s, as the seed's random.random() * 3 (shortened to 0–0.6 s).
    let nanos =
        Instant::now().elapsed().subsec_nanos() ^ (std::process::id() * 7919 + name * 104_729);
    std::thread::sleep(Duration::from_millis(u64::from(nanos % 600)));
    println!(
        "Task {name} runs {:.2} seconds.",
        start.elapsed().as_secs_f64()
    );
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("Parent process {}.", std::process::id());
    let p = Pool::new(4)?;
    let results: Vec<_> = (0..5)
        .map(|i| p.apply_async(long_time_task, i))
        .collect::<Result<_, _>>()?;
    println!("Waiting for all subprocesses done...");
    p.close();
    p.join()?;
    for r in results {
        r.get()?;
    }
    println!("All subprocesses done.");
    Ok(())
}
