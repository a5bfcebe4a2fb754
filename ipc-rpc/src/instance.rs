//! [`Instance`]: an object whose methods a server publishes.

use crate::{Fault, Value};

/// An object whose methods a [`Server`](crate::Server) publishes, registered with
/// [`Server::register_instance`](crate::Server::register_instance): Python's
/// `register_instance`. The server asks it for any method that is not a registered function.
///
/// [`Methods`](crate::Methods) implements it for any value and a table of closures; implement it
/// yourself for full control, as a Python instance with a `_dispatch` method has.
///
/// # Dotted names
///
/// By default a method name is passed to [`dispatch`](Self::dispatch) whole, dots and all.
/// With [`Server::allow_dotted_names`](crate::Server::allow_dotted_names) (Python's
/// `register_instance(obj, allow_dotted_names=True)`), `"math.add"` is method `add` of the
/// object [`member`](Self::member)`("math")` returns, at any depth; a name with a part that
/// starts with `_` is never traversed, as in Python. Only the members an instance hands out
/// can be reached.
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

    /// The object held under `name`, whose methods are reached as `name.method` when dotted
    /// names are allowed. None by default.
    fn member(&self, name: &str) -> Option<&dyn Instance> {
        let _ = name;
        None
    }

    /// The names [`member`](Self::member) answers to, for `system.listMethods`.
    fn member_names(&self) -> Vec<String> {
        Vec::new()
    }
}
