//! The XML-RPC client of the Python documentation's `ServerProxy` example: calls `pow`, `add` and
//! `mul` on the `rpc_server` example (or on Python's server) and lists its methods.
//!
//! ```sh
//! cargo run -p multiproc-rpc --example rpc_client -- --url http://127.0.0.1:8000/RPC2
//! ```
//!
//! Prints `8`, `5`, `10` and the method list.

use std::time::Duration;

use multiproc_rpc::Client;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let mut url = String::from("http://127.0.0.1:8000/RPC2");
    while let Some(a) = args.next() {
        match a.as_str() {
            "--url" => url = args.next().ok_or("--url needs a URL")?,
            other => return Err(format!("unknown argument {other:?}").into()),
        }
    }

    let s = Client::new(&url)?.timeout(Duration::from_secs(10));
    println!("{}", s.call::<i64>("pow", (2, 3))?); // Returns 2**3 = 8
    println!("{}", s.call::<i64>("add", (2, 3))?); // Returns 5
    println!("{}", s.call::<i64>("mul", (5, 2))?); // Returns 5*2 = 10

    // Print list of available methods
    println!("{:?}", s.call::<Vec<String>>("system.listMethods", ())?);
    Ok(())
}
