//! [`DictProxy`]: a shared `dict`.

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::proxy_type;
use crate::error::Error;
use crate::proxy::arg;
use crate::value::{PyClass, PyValue};

proxy_type! {
    /// A proxy to a `dict` in a manager: Python's `DictProxy`, with keys `K` and values `V`.
    ///
    /// The dict keeps insertion order and Python's idea of equal keys (`1`, `1.0` and `True`
    /// are one key). A missing key is `None` here where Python raises `KeyError`.
    ///
    /// ```
    /// let m = multiproc_manager::Manager::start()?;
    /// let d = m.dict::<String, i64>()?;
    /// d.set(&"b".to_string(), &2)?;
    /// assert_eq!(d.get(&"b".to_string())?, Some(2));
    /// assert_eq!(d.get(&"x".to_string())?, None);
    /// assert_eq!(d.repr()?, "{'b': 2}");
    /// # Ok::<(), multiproc_manager::Error>(())
    /// ```
    DictProxy<K, V>
}

impl<K: Serialize + DeserializeOwned, V: Serialize + DeserializeOwned> DictProxy<K, V> {
    /// `len(d)`.
    pub fn len(&self) -> Result<usize, Error> {
        self.base.call("__len__", Vec::new())
    }

    /// Whether the dict is empty.
    pub fn is_empty(&self) -> Result<bool, Error> {
        self.len().map(|n| n == 0)
    }

    /// `d[k]`, or `None` when `k` is missing.
    pub fn get(&self, k: &K) -> Result<Option<V>, Error> {
        match self.base.call("__getitem__", vec![arg(k)?]) {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.is_exception(PyClass::KEY_ERROR) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `d[k] = v`.
    pub fn set(&self, k: &K, v: &V) -> Result<(), Error> {
        self.base.call("__setitem__", vec![arg(k)?, arg(v)?])
    }

    /// `del d[k]`; `false` when `k` was missing.
    pub fn delete(&self, k: &K) -> Result<bool, Error> {
        match self.base.call::<PyValue>("__delitem__", vec![arg(k)?]) {
            Ok(_) => Ok(true),
            Err(e) if e.is_exception(PyClass::KEY_ERROR) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// `k in d`.
    pub fn contains_key(&self, k: &K) -> Result<bool, Error> {
        self.base.call("__contains__", vec![arg(k)?])
    }

    /// `d.pop(k)`, or `None` when `k` is missing.
    pub fn pop(&self, k: &K) -> Result<Option<V>, Error> {
        match self.base.call("pop", vec![arg(k)?]) {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.is_exception(PyClass::KEY_ERROR) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `d.popitem()`: the last pair inserted, or `None` when the dict is empty.
    pub fn popitem(&self) -> Result<Option<(K, V)>, Error> {
        match self.base.call("popitem", Vec::new()) {
            Ok(kv) => Ok(Some(kv)),
            Err(e) if e.is_exception(PyClass::KEY_ERROR) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `d.setdefault(k, default)`: the value of `k`, set to `default` first if missing.
    pub fn setdefault(&self, k: &K, default: &V) -> Result<V, Error> {
        self.base.call("setdefault", vec![arg(k)?, arg(default)?])
    }

    /// `d.update(pairs)`.
    pub fn update(&self, pairs: impl IntoIterator<Item = (K, V)>) -> Result<(), Error> {
        let d: Vec<(PyValue, PyValue)> = pairs
            .into_iter()
            .map(|(k, v)| Ok::<_, Error>((arg(&k)?, arg(&v)?)))
            .collect::<Result<_, _>>()?;
        self.base.call("update", vec![PyValue::Dict(d)])
    }

    /// `d.clear()`.
    pub fn clear(&self) -> Result<(), Error> {
        self.base.call("clear", Vec::new())
    }

    /// `list(d.keys())`, in insertion order.
    pub fn keys(&self) -> Result<Vec<K>, Error> {
        self.base.call("keys", Vec::new())
    }

    /// `list(d.values())`, in insertion order.
    pub fn values(&self) -> Result<Vec<V>, Error> {
        self.base.call("values", Vec::new())
    }

    /// `list(d.items())`, in insertion order.
    pub fn items(&self) -> Result<Vec<(K, V)>, Error> {
        self.base.call("items", Vec::new())
    }

    /// A copy of the dict as any map (`d.copy()`): `BTreeMap`, `HashMap`, or a `Vec` of pairs
    /// in insertion order.
    pub fn copy<M: FromIterator<(K, V)>>(&self) -> Result<M, Error> {
        Ok(self.items()?.into_iter().collect())
    }
}
