//! Seed 003: a TCP echo server whose connections are served by a pool of 3 processes. The
//! parent accepts; each connection (a socket: a file descriptor) goes to a pool worker as a
//! task argument, as Python pickles it. However many clients come at once, at most 3 distinct
//! server pids answer.
//!
//! # Output
//!
//! ```text
//! served 8 clients
//! at most 3 distinct server pids: true
//! ```

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::OwnedFd;
use std::time::Duration;

use multiproc_core::transfer::PortableFd;
use multiproc_pool::Pool;

/// Serves one connection: echoes each line upper-cased, with this worker's pid.
fn talk(conn: PortableFd) -> u32 {
    let stream = TcpStream::from(conn.into_inner());
    let mut out = stream.try_clone().expect("clone");
    for line in BufReader::new(stream).lines() {
        let Ok(line) = line else { break };
        if writeln!(
            out,
            "{} (from server pid {})",
            line.to_uppercase(),
            std::process::id()
        )
        .is_err()
        {
            break;
        }
    }
    std::process::id()
}

fn client(addr: std::net::SocketAddr, i: usize) -> String {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    writeln!(s, "hello {i}").expect("send");
    let mut line = String::new();
    BufReader::new(&s).read_line(&mut line).expect("recv");
    line.trim_end().to_string()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    const CLIENTS: usize = 8;
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let pool = Pool::new(3)?;
    let clients: Vec<_> = (0..CLIENTS)
        .map(|i| std::thread::spawn(move || client(addr, i)))
        .collect();
    let mut served = Vec::new();
    for _ in 0..CLIENTS {
        let (conn, _) = listener.accept()?;
        served.push(pool.apply_async(talk, PortableFd::new(OwnedFd::from(conn)))?);
    }
    for c in clients {
        println!("client got: {}", c.join().expect("client"));
    }
    let pids: BTreeSet<u32> = served
        .iter()
        .map(|r| r.get_timeout(Duration::from_secs(20)))
        .collect::<Result<_, _>>()?;
    println!("served {CLIENTS} clients");
    println!("at most 3 distinct server pids: {}", pids.len() <= 3);
    Ok(())
}
