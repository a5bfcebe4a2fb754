//! Seeds 001 and 004: `Process(target=run_proc, args=('test',))`, start, join.
//!
//! # Output
//!
//! ```text
//! Parent process *.
//! Child process will start.
//! Run child process test (*)...
//! Child process end.
//! ```

use multiproc_process::Process;

fn run_proc(name: String) {
    println!("Run child process {name} ({})...", std::process::id());
}

fn main() -> Result<(), multiproc_process::Error> {
    println!("Parent process {}.", std::process::id());
    let p = Process::new(run_proc, "test".to_string());
    println!("Child process will start.");
    p.start()?;
    p.join()?;
    println!("Child process end.");
    Ok(())
}
