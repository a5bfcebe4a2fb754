//! [`ArrayProxy`]: a shared `Array`.

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::proxy_type;
use crate::error::Error;
use crate::proxy::arg;
use crate::value::{PyClass, PyObject, PyValue};

proxy_type! {
    /// A proxy to an `Array` in a manager (Python's `ArrayProxy`: `len`, `a[i]`, `a[i] = x`).
    ///
    /// ```
    /// let m = multiproc_manager::Manager::start()?;
    /// let a = m.array("i", 0..5)?;
    /// a.set(0, &10)?;
    /// assert_eq!(a.to_vec()?, [10, 1, 2, 3, 4]);
    /// # Ok::<(), multiproc_manager::Error>(())
    /// ```
    ArrayProxy<T>
}

impl<T: Serialize + DeserializeOwned> ArrayProxy<T> {
    /// `len(a)`.
    pub fn len(&self) -> Result<usize, Error> {
        self.base.call("__len__", Vec::new())
    }

    /// Whether the array is empty.
    pub fn is_empty(&self) -> Result<bool, Error> {
        self.len().map(|n| n == 0)
    }

    /// `a[i]`, or `None` past either end.
    pub fn get(&self, i: isize) -> Result<Option<T>, Error> {
        match self.base.call("__getitem__", vec![PyValue::Int(i as i128)]) {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.is_exception(PyClass::INDEX_ERROR) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `a[i] = x`; an `IndexError` past either end, a `TypeError` for an item of the wrong
    /// kind for the type code.
    pub fn set(&self, i: isize, x: &T) -> Result<(), Error> {
        self.base
            .call("__setitem__", vec![PyValue::Int(i as i128), arg(x)?])
    }

    /// `a[:]`.
    pub fn to_vec(&self) -> Result<Vec<T>, Error> {
        let all = PyValue::Object(PyObject::new(
            PyClass::SLICE,
            vec![PyValue::None, PyValue::None, PyValue::None],
        ));
        self.base.call("__getitem__", vec![all])
    }
}
