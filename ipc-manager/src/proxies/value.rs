//! [`ValueProxy`]: a shared `Value`.

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::proxy_type;
use crate::error::Error;
use crate::proxy::arg;

proxy_type! {
    /// A proxy to a `Value` in a manager (Python's `ValueProxy`): one value of type `T`.
    ///
    /// ```
    /// let m = multiproc_manager::Manager::start()?;
    /// let v = m.value(7i32)?;
    /// v.set(&49)?;
    /// assert_eq!(v.get()?, 49);
    /// # Ok::<(), multiproc_manager::Error>(())
    /// ```
    ValueProxy<T>
}

impl<T: Serialize + DeserializeOwned> ValueProxy<T> {
    /// `v.value`.
    pub fn get(&self) -> Result<T, Error> {
        self.base.call("get", Vec::new())
    }

    /// `v.value = x`.
    pub fn set(&self, x: &T) -> Result<(), Error> {
        self.base.call("set", vec![arg(x)?])
    }
}
