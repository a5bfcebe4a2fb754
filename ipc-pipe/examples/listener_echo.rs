//! An echo server on a [`Listener`]: Python's `multiprocessing.connection.Listener` example,
//! which Python's `Client` (or `client_echo`) can talk to.
//!
//! ```sh
//! cargo run -p multiproc-pipe --example listener_echo -- --address 127.0.0.1:6000 --authkey secret [--pickle]
//! ```
//!
//! Prints `listening on ADDR` (the real address when the port was 0) before its first accept,
//! then serves any number of clients at once, a thread each, sending back every message it
//! receives — bytes as bytes; with `--pickle`, each value decoded and encoded again — until it
//! is killed. A client with a wrong key is refused and reported on stderr. Try it from Python:
//!
//! ```text
//! >>> from multiprocessing.connection import Client
//! >>> c = Client(('127.0.0.1', 6000), authkey=b'secret')
//! >>> c.send([1, 'two', None]); c.recv()        # with --pickle
//! [1, 'two', None]
//! ```
//!
//! # Output
//!
//! ```text
//! $ listener_echo --address 127.0.0.1:0 --authkey "example key" &
//! listening on *
//! $ client_echo --address $ADDRESS --authkey "example key"
//! connected twice to 127.0.0.1:*
//! echo: "hello"
//! echo: ""
//! echo: "second client"
//! echo: 1048576 bytes, intact: true
//! wrong key: authentication failed: digest sent was rejected
//! $ kill
//! ```
//!
//! ```text
//! $ listener_echo --address 127.0.0.1:0 --authkey "example key" --pickle &
//! listening on *
//! $ client_echo --address $ADDRESS --authkey "example key" --pickle
//! connected twice to 127.0.0.1:*
//! echo: ("second client", 2)
//! echo: [1, "two", 3.5, None, True, (5, 6), {"seven": 7}]
//! same value: true
//! wrong key: authentication failed: digest sent was rejected
//! $ kill
//! ```

use multiproc_pipe::{Address, Connection, Error, Framing, Listener};

fn serve(mut conn: Connection, pickle: bool) {
    loop {
        let r = if pickle {
            conn.recv_pickle_value()
                .and_then(|v| conn.send_pickle_value(&v))
        } else {
            conn.recv_bytes().and_then(|b| conn.send_bytes(&b))
        };
        match r {
            Ok(()) => {}
            Err(Error::Disconnected) => return,
            Err(e) => {
                eprintln!("client dropped: {e}");
                return;
            }
        }
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut address: Option<Address> = None;
    let mut authkey: Option<String> = None;
    let mut pickle = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--address" => address = Some(args.next().ok_or("--address needs a value")?.parse()?),
            "--authkey" => authkey = Some(args.next().ok_or("--authkey needs a value")?),
            "--pickle" => pickle = true,
            other => return Err(format!("unknown argument {other:?}").into()),
        }
    }
    let usage = "usage: listener_echo --address ADDR --authkey KEY [--pickle]";
    let (address, authkey) = (address.ok_or(usage)?, authkey.ok_or(usage)?);
    let mut listener = Listener::bind(address, Framing::Python, Some(authkey.as_bytes()))?;
    println!("listening on {}", listener.address());
    loop {
        match listener.accept() {
            Ok(conn) => {
                std::thread::spawn(move || serve(conn, pickle));
            }
            Err(
                e
                @ (Error::AuthenticationError(_) | Error::TooLarge { .. } | Error::Corrupt { .. }),
            ) => {
                eprintln!("refused a client: {e}");
            }
            Err(e) => return Err(e.into()),
        }
    }
}
