//! Python's `multiprocessing` managers for Rust.

mod client;
mod de;
mod error;
mod manager;
mod net;
mod objects;
mod pickle;
mod protocol;
mod proxies;
mod proxy;
mod registry;
mod ser;
mod server;
mod server_handle;
mod shared;
mod value;
mod wire;

pub use client::Authkey;
pub use de::from_value;
pub use error::{AcquireError, DecodeError, Error, PickleError};
pub use manager::{Manager, ManagerBuilder, Registrar, SyncManager};
pub use multiproc_manager_derive::shared;
pub use protocol::{AddressValue, Fault, Token};
pub use proxies::{
    AcquireGuard, AcquirerProxy, ArrayProxy, BarrierProxy, ConditionProxy, DictProxy, EventProxy,
    ListProxy, NamespaceProxy, QueueProxy, ValueProxy,
};
pub use proxy::{BaseProxy, Proxy};
pub use registry::{Registry, ServerObject};
pub use ser::{ValueError, to_value};
pub use server_handle::{Server, ToAddress, serve};
pub use shared::SharedObject;
pub use value::{PyClass, PyObject, PyValue};

/// What the code `#[shared]` writes needs; not for direct use.
#[doc(hidden)]
pub mod __private {
    pub use crate::objects::{Outcome, Raise};
    pub use crate::proxy::arg;
    pub use crate::shared::{MethodArgs, no_method, ret, ret_object};
    pub use serde;
}
