//! Seed 001, `os.fork()`: parent and child each print their pid and their parent's.
//!
//! Python prints the parent's line and the child's in whatever order the scheduler picks; here
//! the child waits for the parent's line (a pipe) so the output is always in the seed's order.
//!
//! # Output
//!
//! ```text
//! Process (*) start...
//! I (*) just created a child process (*).
//! I am child process (*) and my parent is *.
//! ```

use std::fs::File;
use std::io::{Read, Write};

use multiproc_process::{Fork, fork, waitpid};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("Process ({}) start...", std::process::id());
    let (r, w) = multiproc_core::fd::pipe()?;
    match fork()? {
        Fork::Child => {
            drop(w);
            let mut go = [0u8; 1];
            let _ = File::from(r).read(&mut go);
            println!(
                "I am child process ({}) and my parent is {}.",
                std::process::id(),
                std::os::unix::process::parent_id()
            );
        }
        Fork::Parent { child } => {
            drop(r);
            println!(
                "I ({}) just created a child process ({child}).",
                std::process::id()
            );
            File::from(w).write_all(b"go")?;
            waitpid(child)?;
        }
    }
    Ok(())
}
