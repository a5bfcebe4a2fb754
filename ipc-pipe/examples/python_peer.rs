//! A Rust program and a Python script exchanging values both ways over
//! `multiprocessing.connection`: Python's `Client` connects to our [`Listener`], then our
//! [`Client`] connects to Python's `Listener`; both authenticate with the same key, and values
//! travel as pickles.
//!
//! ```sh
//! cargo run -p multiproc-pipe --example python_peer     # needs python3 on PATH
//! ```
//!
//! # Output
//!
//! ```text
//! rust: listening on 127.0.0.1:*
//! python: connected with the authkey
//! rust got: {"name": "python", "numbers": [1, 2, 3], "pi": 3.14}
//! python got: (6, 'PYTHON')
//! python: listening on 127.0.0.1:*
//! rust: connected to python's listener
//! rust got: ["ping", 1, 2.5, None, True, b[98, 121, 116, 101, 115]]
//! python got: ['ping', 1, 2.5, None, True, b'bytes', 'pong from rust']
//! python exited: true
//! ```

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::time::Duration;

use multiproc_pipe::serde_pickle::{HashableValue, Value};
use multiproc_pipe::{Address, Client, Framing, Listener};

/// The Python side: a client of ours, then a listener of its own.
const SCRIPT: &str = r#"
import os, sys
from multiprocessing.connection import Client, Listener
key = bytes.fromhex(os.environ["PEER_KEY"])
host, port = sys.argv[1].rsplit(":", 1)
with Client((host, int(port)), authkey=key) as conn:
    print("python: connected with the authkey", flush=True)
    conn.send({"name": "python", "numbers": [1, 2, 3], "pi": 3.14})
    print("python got:", conn.recv(), flush=True)
with Listener(("127.0.0.1", 0), authkey=key) as listener:
    print("python: listening on %s:%d" % listener.address, flush=True)
    with listener.accept() as conn:
        conn.send(["ping", 1, 2.5, None, True, b"bytes"])
        print("python got:", conn.recv(), flush=True)
"#;

const LIMIT: Duration = Duration::from_secs(30);

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // A key as Python makes one: os.urandom(32).
    let mut key = [0u8; 32];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut key)?;
    let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();

    let mut listener = Listener::bind(
        "127.0.0.1:0".parse::<Address>()?,
        Framing::Python,
        Some(&key),
    )?;
    println!("rust: listening on {}", listener.address());
    let mut python = Command::new("python3")
        .args(["-c", SCRIPT, &listener.address().to_string()])
        .env("PEER_KEY", &hex)
        .stdout(Stdio::piped())
        .spawn()?;
    let mut said = BufReader::new(python.stdout.take().ok_or("no stdout")?).lines();
    let mut relay = || -> Result<String, Box<dyn std::error::Error>> {
        let line = said.next().ok_or("python stopped talking")??;
        println!("{line}");
        Ok(line)
    };

    // Python's Client, our Listener.
    let mut conn = listener.accept_timeout(LIMIT)?;
    relay()?;
    let got = conn.recv_pickle_value_timeout(LIMIT)?;
    println!("rust got: {got}");
    let Value::Dict(d) = &got else {
        return Err("expected a dict".into());
    };
    let sum: i64 = match d.get(&HashableValue::String("numbers".into())) {
        Some(Value::List(ns)) => ns
            .iter()
            .map(|n| if let Value::I64(i) = n { *i } else { 0 })
            .sum(),
        _ => 0,
    };
    conn.send_pickle(&(sum, "PYTHON"))?;
    relay()?;

    // Python's Listener, our Client.
    let address: Address = relay()?
        .strip_prefix("python: listening on ")
        .ok_or("no address from python")?
        .parse()?;
    let mut conn = Client::connect_timeout(&address, Framing::Python, Some(&key), LIMIT)?;
    println!("rust: connected to python's listener");
    let mut got = conn.recv_pickle_value_timeout(LIMIT)?;
    println!("rust got: {got}");
    if let Value::List(items) = &mut got {
        items.push(Value::String("pong from rust".into()));
    }
    conn.send_pickle_value(&got)?;
    relay()?;
    let status = python.wait()?;
    println!("python exited: {}", status.success());
    Ok(())
}
