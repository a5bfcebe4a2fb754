//! One side of a conversation through the named pipes `p1` and `p2`, as two Python programs
//! hold it with `os.mkfifo` and `open`. Run it and `fifo_p1` in two terminals, in either order:
//!
//! ```text
//! cargo run -p multiproc-fifo --example fifo_p2 -- [--dir DIR]
//! cargo run -p multiproc-fifo --example fifo_p1 -- [--dir DIR]
//! ```
//!
//! Unlike two programs that open the fifos by hand, either may start first: both create the
//! fifos if they are missing, and [`Duplex`] opens them in the same order on both sides.
//!
//! # Output
//!
//! ```text
//! $ fifo_p2 --dir $DIR &
//! P2 hear P1: How are you?
//! P2 hear P1: I'm fine too.
//! $ fifo_p1 --dir $DIR &
//! P1 hear P2: I'm fine, thank you! And you?
//! $ wait
//! ```
//!
//! ```text
//! $ fifo_p1 --dir $DIR &
//! P1 hear P2: I'm fine, thank you! And you?
//! $ fifo_p2 --dir $DIR &
//! P2 hear P1: How are you?
//! P2 hear P1: I'm fine too.
//! $ wait
//! ```

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
    // p2 reads p1 and writes p2.
    let mut chat = Duplex::connect_timeout(d.join("p1"), d.join("p2"), WAIT)?;
    let heard: String = chat.recv_timeout(WAIT)?.unwrap_or_default();
    println!("P2 hear {heard}");
    chat.send("P2: I'm fine, thank you! And you?")?;
    let heard: String = chat.recv_timeout(WAIT)?.unwrap_or_default();
    println!("P2 hear {heard}");
    Ok(())
}
