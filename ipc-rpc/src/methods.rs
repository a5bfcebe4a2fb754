//! [`Methods`]: a value and a table of its methods, served as one [`Instance`].

use std::collections::BTreeMap;

use crate::handler::MethodHandler;
use crate::{Fault, Instance, Value};

type Boxed<T> = Box<dyn Fn(&T, &str, Vec<Value>) -> Result<Value, Fault> + Send + Sync>;

/// A value and the methods of it that a server publishes: the Rust form of Python's
/// `server.register_instance(MyFuncs())`, where every public method of the instance becomes an
/// XML-RPC method.
///
/// ```
/// use multiproc_rpc::{Instance, Methods, Value};
///
/// struct MyFuncs { factor: i64 }
/// let inst = Methods::new(MyFuncs { factor: 1 })
///     .method("mul", |me: &MyFuncs, x: i64, y: i64| me.factor * x * y)
///     .method_with_help("neg", "Negates x.", |_: &MyFuncs, x: i64| -x);
/// assert_eq!(inst.list_methods(), ["mul", "neg"]);
/// let r = inst.dispatch("mul", vec![Value::Int(5), Value::Int(2)]).unwrap();
/// assert_eq!(r, Ok(Value::Int(10)));
/// assert!(inst.dispatch("div", vec![]).is_none());
/// ```
pub struct Methods<T> {
    this: T,
    methods: BTreeMap<String, (Boxed<T>, String)>,
    members: BTreeMap<String, Box<dyn Instance>>,
}

impl<T: Send + Sync + 'static> Methods<T> {
    /// The value, with no methods yet.
    pub fn new(this: T) -> Self {
        Methods {
            this,
            methods: BTreeMap::new(),
            members: BTreeMap::new(),
        }
    }

    /// Publishes `f` as method `name`: `f` takes `&T` and then the call's arguments (see
    /// [`Handler`](crate::Handler) for how they are converted).
    pub fn method<A, M, F: MethodHandler<T, A, M>>(self, name: &str, f: F) -> Self {
        self.method_with_help(name, "", f)
    }

    /// Like [`method`](Self::method), with the text `system.methodHelp` returns.
    pub fn method_with_help<A, M, F: MethodHandler<T, A, M>>(
        mut self,
        name: &str,
        help: &str,
        f: F,
    ) -> Self {
        let boxed: Boxed<T> = Box::new(move |this, name, params| f.call(this, name, params));
        self.methods
            .insert(name.to_string(), (boxed, help.to_string()));
        self
    }

    /// Holds `instance` under `name`, so that its methods are reached as `name.method` when
    /// the server allows dotted names (Python's attribute of an instance registered with
    /// `allow_dotted_names=True`).
    ///
    /// ```
    /// use multiproc_rpc::{Methods, Server, Value};
    ///
    /// let math = Methods::new(()).method("add", |_: &(), x: i64, y: i64| x + y);
    /// let mut server = Server::new()?;
    /// server
    ///     .allow_dotted_names(true)
    ///     .register_instance(Methods::new(()).member("math", math));
    /// assert_eq!(server.dispatch("math.add", vec![Value::Int(2), Value::Int(3)]), Ok(Value::Int(5)));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn member(mut self, name: &str, instance: impl Instance) -> Self {
        self.members.insert(name.to_string(), Box::new(instance));
        self
    }

    /// The value itself.
    pub fn get_ref(&self) -> &T {
        &self.this
    }
}

impl<T: Send + Sync + 'static> Instance for Methods<T> {
    fn list_methods(&self) -> Vec<String> {
        self.methods.keys().cloned().collect()
    }

    fn dispatch(&self, method: &str, params: Vec<Value>) -> Option<Result<Value, Fault>> {
        let (f, _) = self.methods.get(method)?;
        Some(f(&self.this, method, params))
    }

    fn method_help(&self, method: &str) -> Option<String> {
        self.methods.get(method).map(|(_, h)| h.clone())
    }

    fn member(&self, name: &str) -> Option<&dyn Instance> {
        self.members.get(name).map(|m| &**m)
    }

    fn member_names(&self) -> Vec<String> {
        self.members.keys().cloned().collect()
    }
}
