//! Seed 002: a child puts `[42, None, 'hello']` on a [`Queue`]; the parent gets it and prints
//! it.
//!
//! Python's version:
//!
//! ```python
//! def f(q):
//!     q.put([42, None, 'hello'])
//!
//! q = Queue()
//! p = Process(target=f, args=(q,))
//! p.start()
//! print(q.get())    # prints "[42, None, 'hello']"
//! p.join()
//! ```
//!
//! ```text
//! cargo run -p multiproc-queue --example queue_hello
//! ```
//!
//! A Python list may mix types; the Rust counterpart is a `Vec` of a small enum that prints
//! the way Python's values do.
//!
//! # Output
//!
//! ```text
//! [42, None, "hello"]
//! ```

use std::fmt;

use multiproc_process::Process;
use multiproc_queue::Queue;
use serde::{Deserialize, Serialize};

/// A Python value of the kinds the seed uses.
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

fn f(q: Queue<Vec<Py>>) {
    q.put(vec![Py::Int(42), Py::None, Py::Str("hello".into())])
        .expect("put");
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let q = Queue::new()?;
    let p = Process::new(f, q.clone());
    p.start()?;
    println!("{:?}", q.get()?);
    p.join()?;
    Ok(())
}
