//! [`NamespaceProxy`]: a shared `Namespace`.

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::proxy_type;
use crate::error::Error;
use crate::proxy::arg;
use crate::value::{PyClass, PyValue};

proxy_type! {
    /// A proxy to a `Namespace` in a manager: named attributes holding values of any serde
    /// type (Python's `ns.a`, `ns.a = 1`, `del ns.a`).
    ///
    /// ```
    /// let m = multiproc_manager::Manager::start()?;
    /// let ns = m.namespace()?;
    /// ns.set("a", &1)?;
    /// assert_eq!(ns.get::<i64>("a")?, Some(1));
    /// assert_eq!(ns.get::<i64>("b")?, None);
    /// assert_eq!(ns.repr()?, "Namespace(a=1)");
    /// # Ok::<(), multiproc_manager::Error>(())
    /// ```
    NamespaceProxy
}

impl NamespaceProxy {
    /// The attribute `name`, or `None` when it is not set.
    pub fn get<T: DeserializeOwned>(&self, name: &str) -> Result<Option<T>, Error> {
        match self.base.call("__getattribute__", vec![PyValue::str(name)]) {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.is_exception(PyClass::ATTRIBUTE_ERROR) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Sets the attribute `name`.
    pub fn set<T: Serialize + ?Sized>(&self, name: &str, value: &T) -> Result<(), Error> {
        self.base
            .call("__setattr__", vec![PyValue::str(name), arg(value)?])
    }

    /// Removes the attribute `name`; `false` when it was not set.
    pub fn delete(&self, name: &str) -> Result<bool, Error> {
        match self
            .base
            .call::<PyValue>("__delattr__", vec![PyValue::str(name)])
        {
            Ok(_) => Ok(true),
            Err(e) if e.is_exception(PyClass::ATTRIBUTE_ERROR) => Ok(false),
            Err(e) => Err(e),
        }
    }
}
