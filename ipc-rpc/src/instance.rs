//! [`Instance`]: an object whose methods a server publishes.

use crate::{Fault, Value};

/// An object whose methods a [`Server`](crate::Server) publishes, registered with
/// [`Server::register_instance`](crate::Server::register_instance): Python's
/// `register_instance`. The server asks it for any method that is not a registered function.
///
/// [`Methods`](crate::Methods) implements it for any value and a table of closures; implement it
/// yourself for full control, as a Python instance with a `_dispatch` method has.
/// Dotted names are passed through as they are: nothing is traversed.
pub trait Instance: Send + Sync + 'static {
    /// The names it answers to, for `system.listMethods`.
    fn list_methods(&self) -> Vec<String>;

    /// Calls `method`; `None` if it has no such method.
    fn dispatch(&self, method: &str, params: Vec<Value>) -> Option<Result<Value, Fault>>;

    /// The help text of `method`, for `system.methodHelp`.
    fn method_help(&self, method: &str) -> Option<String> {
        let _ = method;
        None
    }
}
