//! Seed 000: `fib(35)` twice serially, then in two processes, then `Pool(2).map(fib, [35, 35])`;
//! each prints `COST: <seconds>`. On two cores the parallel ones take about half as long.
//!
//! # Output
//!
//! ```text
//! COST: *
//! COST: *
//! COST: *
//! ```

use std::time::Instant;

use multiproc_pool::Pool;
use multiproc_process::Process;

fn fib(n: u64) -> u64 {
    if n < 2 { n } else { fib(n - 1) + fib(n - 2) }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let start = Instant::now();
    std::hint::black_box(fib(std::hint::black_box(35)));
    std::hint::black_box(fib(std::hint::black_box(35)));
    println!("COST: {}", start.elapsed().as_secs_f64());

    let start = Instant::now();
    let procs: Vec<Process> = (0..2).map(|_| Process::new(fib, 35)).collect();
    for p in &procs {
        p.start()?;
    }
    for p in &procs {
        p.join()?;
    }
    println!("COST: {}", start.elapsed().as_secs_f64());

    let pool = Pool::new(2)?;
    let start = Instant::now();
    let r = pool.map(fib, [35; 2])?;
    println!("COST: {}", start.elapsed().as_secs_f64());
    assert_eq!(r, vec![9_227_465; 2]);
    Ok(())
}
