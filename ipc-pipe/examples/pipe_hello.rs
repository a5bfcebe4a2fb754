//! Seeds 000 and 002: a child sends `["hello"]`, then `[42, None, "hello"]`, over a duplex
//! pipe; the parent prints what it receives.
//!
//! Python's list `[42, None, 'hello']` holds values of three types; in Rust that is a small
//! enum whose `Debug` prints like Python.
//!
//! # Output
//!
//! ```text
//! ["hello"]
//! [42, None, "hello"]
//! ```

use std::fmt;

use multiproc_pipe::{Connection, pipe};
use multiproc_process::Process;
use serde::{Deserialize, Serialize};

/// A Python-like dynamic value.
#[derive(Serialize, Deserialize)]
enum Py {
    Int(i64),
    None,
    Str(String),
}

impl fmt::Debug for Py {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Py::Int(i) => write!(f, "{i}"),
            Py::None => f.write_str("None"),
            Py::Str(s) => write!(f, "{s:?}"),
        }
    }
}

fn f(mut conn: Connection) {
    conn.send(&vec!["hello"]).unwrap();
    conn.send(&vec![Py::Int(42), Py::None, Py::Str("hello".into())])
        .unwrap();
    conn.close();
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (mut parent_conn, child_conn) = pipe()?;
    let p = Process::new(f, child_conn);
    p.start()?;
    println!("{:?}", parent_conn.recv::<Vec<String>>()?);
    println!("{:?}", parent_conn.recv::<Vec<Py>>()?);
    p.join()?;
    Ok(())
}
