//! Python's `multiprocessing` managers for Rust.

mod de;
mod pickle;
mod ser;
mod value;
mod wire;

pub use de::from_value;
pub use ser::{ValueError, to_value};
pub use value::{PyClass, PyObject, PyValue};
