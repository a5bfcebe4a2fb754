//! `xmlrpc`: call an XML-RPC method from the shell.
//!
//! ```text
//! xmlrpc [--timeout SECS] [--allow-none] URL METHOD [ARG...]
//! xmlrpc --list URL
//! ```
//!
//! Each argument is read as JSON when it parses as JSON (`3`, `2.5`, `true`, `null`, `[1,2]`,
//! `{"a":1}`, `"text"`), and as a plain string otherwise. The result is printed the way
//! Python's `repr` prints what `xmlrpc.client` returns; a fault is printed to stderr and the
//! exit code is 1. `--list` prints the names from `system.listMethods`, one per line.

use std::process::ExitCode;
use std::time::Duration;

use multiproc_rpc::{Client, Value};

type Failure = Box<dyn std::error::Error>;

const USAGE: &str =
    "usage: xmlrpc [--timeout SECS] [--allow-none] URL METHOD [ARG...]\n       xmlrpc --list URL";

fn json_to_value(j: serde_json::Value) -> Value {
    match j {
        serde_json::Value::Null => Value::Nil,
        serde_json::Value::Bool(b) => Value::Bool(b),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => Value::from(i),
            None => Value::Double(n.as_f64().unwrap_or(f64::NAN)),
        },
        serde_json::Value::String(s) => Value::String(s),
        serde_json::Value::Array(a) => Value::Array(a.into_iter().map(json_to_value).collect()),
        serde_json::Value::Object(o) => {
            Value::Struct(o.into_iter().map(|(k, v)| (k, json_to_value(v))).collect())
        }
    }
}

/// A command-line argument as a value: JSON if it parses, a string otherwise.
fn parse_arg(a: &str) -> Value {
    serde_json::from_str(a).map_or_else(|_| Value::from(a), json_to_value)
}

fn run(args: Vec<String>) -> Result<(), Failure> {
    let mut list = false;
    let mut allow_none = false;
    let mut timeout = Duration::from_secs(30);
    let mut rest = Vec::new();
    let mut it = args.into_iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--list" => list = true,
            "--allow-none" => allow_none = true,
            "--timeout" => {
                let s = it.next().ok_or(USAGE)?;
                timeout =
                    Duration::from_secs_f64(s.parse().map_err(|_| format!("bad --timeout {s:?}"))?);
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(());
            }
            _ => rest.push(a),
        }
    }
    let mut rest = rest.into_iter();
    let url = rest.next().ok_or(USAGE)?;
    let client = Client::new(&url)?.timeout(timeout).allow_none(allow_none);
    if list {
        for m in client.call::<Vec<String>>("system.listMethods", ())? {
            println!("{m}");
        }
        return Ok(());
    }
    let method = rest.next().ok_or(USAGE)?;
    let params: Vec<Value> = rest.map(|a| parse_arg(&a)).collect();
    println!("{}", client.call_value(&method, params)?);
    Ok(())
}

fn main() -> ExitCode {
    match run(std::env::args().skip(1).collect()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // The error and each of its causes, as `error: cause: cause`.
            let mut line = format!("xmlrpc: {e}");
            let mut cause = e.source();
            while let Some(c) = cause {
                line.push_str(&format!(": {c}"));
                cause = c.source();
            }
            eprintln!("{line}");
            ExitCode::FAILURE
        }
    }
}
