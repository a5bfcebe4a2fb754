//! Seed 003: one process sends messages and then `END` through a pipe; another prints each
//! message until it sees `END`.
//!
//! # Output
//!
//! ```text
//! $ messages_until_end  # any order
//! Sent the message: hello
//! Sent the message: hey
//! Sent the message: hru?
//! Sent the message: END
//! Received the message: hello
//! Received the message: hey
//! Received the message: hru?
//! ```

use multiproc_pipe::{Connection, pipe};
use multiproc_process::Process;

fn sender((mut conn, msgs): (Connection, Vec<String>)) {
    for msg in msgs {
        conn.send(&msg).unwrap();
        println!("Sent the message: {msg}");
    }
    conn.close();
}

fn receiver(mut conn: Connection) {
    loop {
        let msg: String = conn.recv().unwrap();
        if msg == "END" {
            break;
        }
        println!("Received the message: {msg}");
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let msgs: Vec<String> = ["hello", "hey", "hru?", "END"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let (parent_conn, child_conn) = pipe()?;
    let p1 = Process::new(sender, (parent_conn, msgs));
    let p2 = Process::new(receiver, child_conn);
    p1.start()?;
    p2.start()?;
    p1.join()?;
    p2.join()?;
    Ok(())
}
