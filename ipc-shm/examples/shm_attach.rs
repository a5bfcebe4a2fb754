//! Named shared memory between two programs, part 2: opens the block that `shm_create` made,
//! by its name alone (Python's `shared_memory.SharedMemory(name)`), reads the greeting, writes
//! a reply and wakes the creator. See `shm_create` for how to run the pair.
//!
//! ```text
//! cargo run -p multiproc-shm --example shm_attach -- NAME
//! ```
//!
//! Without a name it shows the error for a name that does not exist.
//!
//! # Output
//!
//! ```text
//! usage: shm_attach NAME (start shm_create); open "ipc-example-no-such-block": no shared memory block named "ipc-example-no-such-block"
//! ```

use std::sync::atomic::Ordering;

use multiproc_core::futex;
use multiproc_shm::SharedMemory;

const GREETING: usize = 64;
const REPLY: usize = 1024;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let Some(name) = std::env::args().nth(1) else {
        let missing = "ipc-example-no-such-block";
        match SharedMemory::open(missing) {
            Err(e) => println!("usage: shm_attach NAME (start shm_create); open {missing:?}: {e}"),
            Ok(_) => return Err(format!("{missing:?} exists").into()),
        }
        return Ok(());
    };
    let mut block = SharedMemory::open(&name)?;
    let mut buf = [0u8; 256];
    block.read(GREETING, &mut buf)?;
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    println!(
        "shm_attach opened {:?} ({} bytes) and read: {}",
        block.name(),
        block.size(),
        String::from_utf8_lossy(&buf[..end])
    );
    let reply = format!("hello back from shm_attach (pid {})\0", std::process::id());
    block.write(REPLY, reply.as_bytes())?;
    // SAFETY: the block is `shm_create`'s, which never resizes it: the state word stays inside
    // the object for as long as `block` lives.
    unsafe { block.assume_fixed_size() };
    let state = block.mapping().atomic_u32(0);
    state.store(1, Ordering::Release);
    futex::wake(state, 1);
    Ok(())
}
