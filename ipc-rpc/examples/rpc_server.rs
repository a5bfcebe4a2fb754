//! The XML-RPC server of the Python documentation's `SimpleXMLRPCServer` example: `/RPC2` only,
//! introspection, `pow`, `add` and an instance's `mul`.
//!
//! ```sh
//! cargo run -p multiproc-rpc --example rpc_server -- --addr 127.0.0.1:8000
//! ```
//!
//! Prints `listening on http://HOST:PORT/RPC2` once it accepts connections, then serves until
//! it is killed. Try it with Python: `python3 -c "import xmlrpc.client as x;
//! print(x.ServerProxy('http://127.0.0.1:8000/RPC2').add(2, 3))"`.
//!
//! # Output
//!
//! ```text
//! $ rpc_server --addr 127.0.0.1:0 &
//! listening on *
//! $ rpc_client --url $ADDRESS
//! 8
//! 5
//! 10
//! ["add", "mul", "pow", "system.listMethods", "system.methodHelp", "system.methodSignature"]
//! $ kill
//! ```

use std::io::Write;

use multiproc_rpc::{Fault, Methods, Server, Value};

/// Python's `pow(x, y)` on integers: an integer for `y >= 0`, a float otherwise.
fn pow(x: i64, y: i64) -> Result<Value, Fault> {
    if y < 0 {
        return Ok(Value::Double((x as f64).powf(y as f64)));
    }
    u32::try_from(y)
        .ok()
        .and_then(|y| x.checked_pow(y))
        .map(Value::from)
        .ok_or_else(|| Fault::python("OverflowError", "int exceeds XML-RPC limits"))
}

/// The instance whose methods are published (here, just `mul`).
struct MyFuncs;

impl MyFuncs {
    fn mul(&self, x: i64, y: i64) -> i64 {
        x * y
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let mut addr = String::from("127.0.0.1:8000");
    while let Some(a) = args.next() {
        match a.as_str() {
            "--addr" => addr = args.next().ok_or("--addr needs HOST:PORT")?,
            other => return Err(format!("unknown argument {other:?}").into()),
        }
    }

    let mut server = Server::bind(&addr)?;
    server.rpc_paths(&["/RPC2"]);
    server.register_introspection_functions();
    server.register_function_with_help("pow", "pow(x, y): x to the power y.", pow);
    server.register_function("add", |x: i64, y: i64| x + y);
    server.register_instance(Methods::new(MyFuncs).method("mul", MyFuncs::mul));

    println!("listening on http://{}/RPC2", server.local_addr()?);
    std::io::stdout().flush()?;
    server.serve_forever()?;
    Ok(())
}
