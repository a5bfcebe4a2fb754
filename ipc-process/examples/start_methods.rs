//! Seed 002: the same child under each start method (Python's `set_start_method`).
//!
//! # Output
//!
//! ```text
//! start method: fork
//! Run child process test (*)...
//! Child process end, exitcode Some(0).
//! Run child process test (*)...
//! Child process returned 4.
//! start method: spawn
//! Run child process test (*)...
//! Child process end, exitcode Some(0).
//! Run child process test (*)...
//! Child process returned 4.
//! start method: forkserver
//! Run child process test (*)...
//! Child process end, exitcode Some(0).
//! Run child process test (*)...
//! Child process returned 4.
//! ```

use multiproc_process::{StartMethod, get_context};

fn run_proc(name: String) -> usize {
    println!("Run child process {name} ({})...", std::process::id());
    name.len()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    for method in [
        StartMethod::Fork,
        StartMethod::Spawn,
        StartMethod::Forkserver,
    ] {
        println!("start method: {}", method.name());
        let ctx = get_context(method);
        let p = ctx.process(run_proc, "test".to_string());
        p.start()?;
        p.join()?;
        println!("Child process end, exitcode {:?}.", p.exitcode());
        // The same, returning a value.
        let n = ctx.spawn(run_proc, "test".to_string())?.join()?;
        println!("Child process returned {n}.");
    }
    Ok(())
}
