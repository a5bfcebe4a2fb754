//! Named shared memory between two programs, part 1: creates a block, writes a greeting, starts
//! the separate program `shm_attach` (which opens the block by name only, reads the greeting
//! and writes a reply), waits for the reply, and shows the errors for a taken name, a wrong
//! size and a missing name. Python's `shared_memory.SharedMemory(name, create=True, size=...)`.
//!
//! ```text
//! cargo build -p multiproc-shm --examples
//! cargo run -p multiproc-shm --example shm_create                    # starts shm_attach itself
//! cargo run -p multiproc-shm --example shm_create -- --manual NAME   # waits for you to run, elsewhere:
//! cargo run -p multiproc-shm --example shm_attach -- NAME
//! ```
//!
//! The block's layout: a `u32` state word at 0 (1 once the reply is there: a futex word), the
//! greeting at 64, the reply at 1024, each NUL-terminated.
//!
//! # Output
//!
//! ```text
//! created "ipc-example-shm-*": 4096 bytes
//! create it again: a shared memory block named "ipc-example-shm-*" exists already
//! open it as 8192 bytes: shared memory block "ipc-example-shm-*" has 4096 bytes, 8192 expected
//! open a missing name: no shared memory block named "ipc-example-no-such-block"
//! shm_attach opened "ipc-example-shm-*" (4096 bytes) and read: hello from shm_create
//! reply: hello back from shm_attach (pid *)
//! shm_attach exited: true
//! unlinked: the name is gone
//! ```

use std::process::Command;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use multiproc_core::Deadline;
use multiproc_core::futex;
use multiproc_shm::SharedMemory;

const SIZE: usize = 4096;
const GREETING: usize = 64;
const REPLY: usize = 1024;

fn text_at(block: &SharedMemory, offset: usize) -> Result<String, multiproc_shm::Error> {
    let mut buf = vec![0; 256];
    block.read(offset, &mut buf)?;
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    Ok(String::from_utf8_lossy(&buf[..end]).into_owned())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let manual = args.iter().any(|a| a == "--manual");
    let name = args
        .iter()
        .find(|a| !a.starts_with("--"))
        .cloned()
        .unwrap_or_else(|| format!("ipc-example-shm-{}", std::process::id()));

    let mut block = SharedMemory::create(&name, SIZE)?;
    println!("created {:?}: {} bytes", block.name(), block.size());
    block.write(GREETING, b"hello from shm_create\0")?;

    match SharedMemory::create(&name, SIZE) {
        Err(e) => println!("create it again: {e}"),
        Ok(_) => return Err("a second create succeeded".into()),
    }
    match SharedMemory::open_sized(&name, 2 * SIZE) {
        Err(e) => println!("open it as {} bytes: {e}", 2 * SIZE),
        Ok(_) => return Err("a wrong size was accepted".into()),
    }
    match SharedMemory::open("ipc-example-no-such-block") {
        Err(e) => println!("open a missing name: {e}"),
        Ok(_) => return Err("a missing name was opened".into()),
    }

    // SAFETY: only this program and `shm_attach` open the block, and neither resizes it: the
    // state word stays inside the object for as long as `block` lives.
    unsafe { block.assume_fixed_size() };
    let state = block.mapping().atomic_u32(0);
    let mut attach = None;
    if manual {
        println!("waiting (60 s) for: cargo run -p multiproc-shm --example shm_attach -- {name}");
    } else {
        // A separate program, told nothing but the name.
        let exe = std::env::current_exe()?.with_file_name("shm_attach");
        attach = Some(Command::new(exe).arg(&name).spawn()?);
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while state.load(Ordering::Acquire) == 0 {
        let left = deadline
            .checked_duration_since(Instant::now())
            .ok_or("no reply within 60 s")?;
        futex::wait(state, 0, Deadline::after(left));
    }
    println!("reply: {}", text_at(&block, REPLY)?);
    if let Some(mut child) = attach {
        let status = child.wait()?;
        println!("shm_attach exited: {}", status.success());
    }
    drop(block); // the creator's handle: removes the name
    match SharedMemory::open(&name) {
        Err(multiproc_shm::Error::NotFound { .. }) => println!("unlinked: the name is gone"),
        other => return Err(format!("still there after drop: {other:?}").into()),
    }
    Ok(())
}
