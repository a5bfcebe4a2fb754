//! Python's `multiprocessing` managers for Rust.

mod de;
mod error;
mod objects;
mod pickle;
mod protocol;
mod proxy;
mod registry;
mod ser;
mod server;
mod shared;
mod value;
mod wire;

pub use de::from_value;
pub use error::{DecodeError, Error, PickleError};
pub use protocol::{AddressValue, Fault, Token};
pub use registry::{Registry, ServerObject};
pub use ser::{ValueError, to_value};
pub use shared::SharedObject;
pub use value::{PyClass, PyObject, PyValue};
