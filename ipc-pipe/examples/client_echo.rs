//! The other side of `listener_echo`: a [`Client`] that sends messages and checks what comes
//! back, on two connections at once.
//!
//! ```sh
//! cargo run -p multiproc-pipe --example client_echo -- --address 127.0.0.1:6000 --authkey secret [--pickle]
//! ```

use multiproc_pipe::serde_pickle::{HashableValue, Value};
use multiproc_pipe::{Address, Client, Connection, Framing};

fn bytes(a: &mut Connection, b: &mut Connection) -> Result<(), Box<dyn std::error::Error>> {
    for msg in [&b"hello"[..], b""] {
        a.send_bytes(msg)?;
        println!("echo: {:?}", String::from_utf8_lossy(&a.recv_bytes()?));
    }
    // 1 MiB, and the second connection in between: both are served at once.
    let big: Vec<u8> = (0..1 << 20).map(|i: u32| (i % 251) as u8).collect();
    a.send_bytes(&big)?;
    b.send_bytes(b"second client")?;
    println!("echo: {:?}", String::from_utf8_lossy(&b.recv_bytes()?));
    let back = a.recv_bytes()?;
    println!("echo: {} bytes, intact: {}", back.len(), back == big);
    Ok(())
}

fn values(a: &mut Connection, b: &mut Connection) -> Result<(), Box<dyn std::error::Error>> {
    let v = Value::List(vec![
        Value::I64(1),
        Value::String("two".into()),
        Value::F64(3.5),
        Value::None,
        Value::Bool(true),
        Value::Tuple(vec![Value::I64(5), Value::I64(6)]),
        Value::Dict([(HashableValue::String("seven".into()), Value::I64(7))].into()),
    ]);
    a.send_pickle_value(&v)?;
    b.send_pickle(&("second client", 2))?;
    println!("echo: {}", b.recv_pickle_value()?);
    let back = a.recv_pickle_value()?;
    println!("echo: {back}");
    println!("same value: {}", back == v);
    Ok(())
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
    let usage = "usage: client_echo --address ADDR --authkey KEY [--pickle]";
    let (address, authkey) = (address.ok_or(usage)?, authkey.ok_or(usage)?);
    let key = Some(authkey.as_bytes());
    let mut a = Client::connect(&address, Framing::Python, key)?;
    let mut b = Client::connect(&address, Framing::Python, key)?;
    println!("connected twice to {address}");
    if pickle {
        values(&mut a, &mut b)?;
    } else {
        bytes(&mut a, &mut b)?;
    }
    // A wrong key is refused, and the server goes on.
    match Client::connect(&address, Framing::Python, Some(b"not the key")) {
        Err(e) => println!("wrong key: {e}"),
        Ok(_) => return Err("a wrong key was accepted".into()),
    }
    Ok(())
}
