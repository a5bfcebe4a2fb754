//! The other side of `fifo_p2`'s conversation (see there).

use std::path::PathBuf;
use std::time::Duration;

use multiproc_fifo::Duplex;

const WAIT: Duration = Duration::from_secs(30);

fn dir() -> PathBuf {
    let args: Vec<String> = std::env::args().collect();
    match args.iter().position(|a| a == "--dir") {
        Some(i) => PathBuf::from(&args[i + 1]),
        None => PathBuf::from("."),
    }
}

fn main() -> Result<(), multiproc_fifo::Error> {
    let d = dir();
    // p1 writes p1 and reads p2.
    let mut chat = Duplex::connect_timeout(d.join("p2"), d.join("p1"), WAIT)?;
    chat.send("P1: How are you?")?;
    let heard: String = chat.recv_timeout(WAIT)?.unwrap_or_default();
    println!("P1 hear {heard}");
    chat.send("P1: I'm fine too.")?;
    // Wait for p2 to finish reading (it closes its end), so our fifos outlive its reads.
    let _ = chat.recv_timeout::<String>(WAIT)?;
    Ok(())
}
