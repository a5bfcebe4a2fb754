//! Types of your own, served by a manager: [`SharedObject`] and the [`shared`](crate::shared)
//! attribute that implements it.

use std::sync::Mutex;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::de::from_value;
use crate::objects::{Args, CallCtx, Kwargs, Outcome, Raise, Referent, lock};
use crate::proxy::Proxy;
use crate::ser::to_value;
use crate::value::{PyClass, PyValue};

/// A type whose values a manager serves: the methods a client may call, and the typed proxy
/// that calls them. Write it with the [`shared`](crate::shared) attribute on an `impl` block
/// rather than by hand.
///
/// A served object is called by one client at a time (it sits behind a mutex in the server);
/// a method that waits blocks the other callers of that object, not the server.
pub trait SharedObject: Send + 'static {
    /// The type id it is registered and created as (by default the type's name).
    const TYPEID: &'static str;
    /// The methods a client may call.
    const EXPOSED: &'static [&'static str];
    /// Methods whose result is served as a new object, with that object's type id (Python's
    /// `method_to_typeid`).
    const METHOD_TO_TYPEID: &'static [(&'static str, &'static str)];
    /// The typed proxy.
    type Proxy: Proxy;

    /// Runs `method` (written by the attribute).
    #[doc(hidden)]
    fn __call(&mut self, method: &str, args: MethodArgs) -> Result<Outcome, Raise>;

    /// Python's `repr` of the object, which `print(proxy)` shows a Python client.
    fn repr(&self) -> String {
        format!("<{} object>", Self::TYPEID)
    }
}

/// The arguments of a call to a method of a [`SharedObject`], bound to its parameters by
/// position or by name.
#[doc(hidden)]
pub struct MethodArgs {
    method: &'static str,
    args: Vec<Option<PyValue>>,
    kwargs: Kwargs,
}

impl MethodArgs {
    #[doc(hidden)]
    pub fn new(method: &'static str, args: Args, kwargs: Kwargs) -> MethodArgs {
        MethodArgs {
            method,
            args: args.into_iter().map(Some).collect(),
            kwargs,
        }
    }

    /// Parameter `i`, called `name`, as a `T`.
    #[doc(hidden)]
    pub fn take<T: DeserializeOwned>(&mut self, i: usize, name: &str) -> Result<T, Raise> {
        let v = match self.args.get_mut(i).and_then(Option::take) {
            Some(v) => v,
            None => match self.kwargs.iter().position(|(k, _)| k == name) {
                Some(at) => self.kwargs.swap_remove(at).1,
                // A missing argument reads as None (so an `Option` parameter may be left out).
                None => PyValue::None,
            },
        };
        from_value(v).map_err(|e| {
            Raise::exc(
                PyClass::TYPE_ERROR,
                format!("{}() argument '{name}': {e}", self.method),
            )
        })
    }

    /// Checks that every argument was used.
    #[doc(hidden)]
    pub fn done(self, params: usize) -> Result<(), Raise> {
        if self.args.len() > params {
            return Err(Raise::exc(
                PyClass::TYPE_ERROR,
                format!(
                    "{}() takes {params} arguments ({} given)",
                    self.method,
                    self.args.len()
                ),
            ));
        }
        if let Some((k, _)) = self.kwargs.first() {
            return Err(Raise::exc(
                PyClass::TYPE_ERROR,
                format!("{}() got an unexpected keyword argument '{k}'", self.method),
            ));
        }
        Ok(())
    }
}

/// The result of a method, as a value.
#[doc(hidden)]
pub fn ret<R: Serialize>(r: &R) -> Result<Outcome, Raise> {
    to_value(r)
        .map(Outcome::Value)
        .map_err(|e| Raise::Fault(crate::protocol::Fault::Unserializable(e.to_string())))
}

/// The result of a method that returns a new shared object.
#[doc(hidden)]
pub fn ret_object<U: SharedObject>(u: U) -> Result<Outcome, Raise> {
    Ok(Outcome::Object {
        typeid: U::TYPEID.to_owned(),
        object: std::sync::Arc::new(UserObject::new(u)),
    })
}

/// The error for a method the type does not expose.
#[doc(hidden)]
pub fn no_method(typeid: &str, method: &str) -> Raise {
    Raise::Fault(crate::protocol::Fault::UnknownMethod {
        typeid: typeid.to_owned(),
        method: method.to_owned(),
    })
}

/// `create`'s arguments as the factory's `A`: none is `()`, one is that value (or a 1-tuple),
/// several are a tuple.
pub(crate) fn args_into<A: DeserializeOwned>(args: Args, kwargs: Kwargs) -> Result<A, Raise> {
    if let Some((k, _)) = kwargs.first() {
        return Err(Raise::exc(
            PyClass::TYPE_ERROR,
            format!("unexpected keyword argument '{k}'"),
        ));
    }
    let bad =
        |e: crate::ser::ValueError| Raise::exc(PyClass::TYPE_ERROR, format!("bad arguments: {e}"));
    match args.len() {
        0 => from_value(PyValue::None)
            .or_else(|_| from_value(PyValue::Tuple(Vec::new())))
            .map_err(bad),
        1 => {
            let one = args[0].clone();
            from_value(one)
                .or_else(|_| from_value(PyValue::Tuple(args)))
                .map_err(bad)
        }
        _ => from_value(PyValue::Tuple(args)).map_err(bad),
    }
}

/// A [`SharedObject`] as the server holds it.
pub(crate) struct UserObject<T>(Mutex<T>);

impl<T: SharedObject> UserObject<T> {
    pub(crate) fn new(t: T) -> UserObject<T> {
        UserObject(Mutex::new(t))
    }
}

impl<T: SharedObject> Referent for UserObject<T> {
    fn type_name(&self) -> &'static str {
        T::TYPEID
    }

    fn public_methods(&self) -> Vec<String> {
        T::EXPOSED.iter().map(|s| (*s).to_owned()).collect()
    }

    fn call(
        &self,
        _: &CallCtx<'_>,
        method: &str,
        args: Args,
        kwargs: Kwargs,
    ) -> Result<Outcome, Raise> {
        let Some(name) = T::EXPOSED.iter().find(|m| **m == method) else {
            return Err(no_method(T::TYPEID, method));
        };
        lock(&self.0).__call(name, MethodArgs::new(name, args, kwargs))
    }

    fn repr(&self) -> String {
        lock(&self.0).repr()
    }
}
