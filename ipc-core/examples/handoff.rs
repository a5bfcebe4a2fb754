//! A memfd mapping and a pipe end handed to a process that did not fork from us.
//!
//! The program starts a fresh copy of itself (`exec`, not `fork`), sends it a shared mapping and
//! the write end of a pipe over the inherited channel, and both sides use them.
//!
//! ```text
//! cargo run -p multiproc-core --example handoff
//! ```
//!
//! # Output
//!
//! ```text
//! parent sends a 4096-byte memfd mapping and a pipe end
//! child read from the mapping: hello from the parent
//! parent read from the pipe: a line through the pipe
//! parent read from the mapping: hello back from the child
//! child exited: true
//! ```

use std::fs::File;
use std::io::{Read, Write};
use std::process::Command;
use std::sync::atomic::Ordering;
use std::time::Duration;

use multiproc_core::transfer::{PortableFd, inherited_channel, spawn_with_channel};
use multiproc_core::{SharedMapping, fd};

fn write_text(map: &SharedMapping, text: &str) {
    let cells = map.atomic_bytes(8, 64);
    for (i, c) in cells.iter().enumerate() {
        c.store(*text.as_bytes().get(i).unwrap_or(&0), Ordering::Relaxed);
    }
    map.atomic_u32(0)
        .store(text.len().min(64) as u32, Ordering::Release);
}

fn read_text(map: &SharedMapping) -> String {
    let n = map.atomic_u32(0).load(Ordering::Acquire) as usize;
    let bytes: Vec<u8> = map
        .atomic_bytes(8, n)
        .iter()
        .map(|c| c.load(Ordering::Relaxed))
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

fn main() -> Result<(), multiproc_core::Error> {
    // SAFETY: when the variable is set, this process was started by `spawn_with_channel` below
    // and nothing else claims the descriptor.
    if let Some(mut ch) = unsafe { inherited_channel() }? {
        // The child: a fresh program that got the mapping and the pipe end over the channel.
        let (map, pipe): (SharedMapping, PortableFd) = ch.recv_timeout(Duration::from_secs(10))?;
        println!("child read from the mapping: {}", read_text(&map));
        write_text(&map, "hello back from the child");
        File::from(pipe.into_inner()).write_all(b"a line through the pipe")?;
        return Ok(());
    }

    let map = SharedMapping::memfd("handoff", 4096)?;
    write_text(&map, "hello from the parent");
    let (r, w) = fd::pipe()?;
    let (mut child, mut ch) = spawn_with_channel(Command::new(std::env::current_exe()?))?;
    println!(
        "parent sends a {}-byte memfd mapping and a pipe end",
        map.len()
    );
    ch.send(&(&map, PortableFd::new(w)))?;

    let mut line = String::new();
    File::from(r).read_to_string(&mut line)?;
    let status = child.wait()?;
    println!("parent read from the pipe: {line}");
    println!("parent read from the mapping: {}", read_text(&map));
    println!("child exited: {}", status.success());
    Ok(())
}
