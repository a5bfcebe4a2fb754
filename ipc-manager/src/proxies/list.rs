//! [`ListProxy`]: a shared `list`.

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::proxy_type;
use crate::error::Error;
use crate::proxy::arg;
use crate::value::{PyClass, PyValue};

proxy_type! {
    /// A proxy to a `list` in a manager: Python's `ListProxy`, with items of type `T`.
    ///
    /// Indexes are Python's: negative counts from the end. What Python reports with an
    /// exception and a caller branches on is an `Option` or a `bool` here (`get` past the end
    /// is `None`, `remove` of an absent item is `false`).
    ///
    /// ```
    /// let m = multiproc_manager::Manager::start()?;
    /// let l = m.list(["a".to_string()])?;
    /// l.extend(["b".to_string(), "c".to_string()])?;
    /// assert_eq!(l.to_vec()?, ["a", "b", "c"]);
    /// assert_eq!(l.get(-1)?.as_deref(), Some("c"));
    /// assert_eq!(l.repr()?, "['a', 'b', 'c']");
    /// # Ok::<(), multiproc_manager::Error>(())
    /// ```
    ListProxy<T>
}

fn index(i: isize) -> PyValue {
    PyValue::Int(i as i128)
}

impl<T: Serialize + DeserializeOwned> ListProxy<T> {
    /// `len(l)`.
    pub fn len(&self) -> Result<usize, Error> {
        self.base.call("__len__", Vec::new())
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> Result<bool, Error> {
        self.len().map(|n| n == 0)
    }

    /// `l[i]`, or `None` past either end.
    pub fn get(&self, i: isize) -> Result<Option<T>, Error> {
        match self.base.call("__getitem__", vec![index(i)]) {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.is_exception(PyClass::INDEX_ERROR) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `l[i] = value`; an `IndexError` past either end.
    pub fn set(&self, i: isize, value: &T) -> Result<(), Error> {
        self.base.call("__setitem__", vec![index(i), arg(value)?])
    }

    /// `del l[i]`; an `IndexError` past either end.
    pub fn delete(&self, i: isize) -> Result<(), Error> {
        self.base.call("__delitem__", vec![index(i)])
    }

    /// `x in l`.
    pub fn contains(&self, x: &T) -> Result<bool, Error> {
        self.base.call("__contains__", vec![arg(x)?])
    }

    /// `l.append(x)`.
    pub fn append(&self, x: &T) -> Result<(), Error> {
        self.base.call("append", vec![arg(x)?])
    }

    /// `l.extend(items)`.
    pub fn extend(&self, items: impl IntoIterator<Item = T>) -> Result<(), Error> {
        let items: Vec<PyValue> = items
            .into_iter()
            .map(|x| arg(&x))
            .collect::<Result<_, _>>()?;
        self.base.call("extend", vec![PyValue::List(items)])
    }

    /// `l.insert(i, x)`.
    pub fn insert(&self, i: isize, x: &T) -> Result<(), Error> {
        self.base.call("insert", vec![index(i), arg(x)?])
    }

    /// `l.pop()`, or `None` when the list is empty.
    pub fn pop(&self) -> Result<Option<T>, Error> {
        self.pop_at(-1)
    }

    /// `l.pop(i)`, or `None` when there is no item `i`.
    pub fn pop_at(&self, i: isize) -> Result<Option<T>, Error> {
        match self.base.call("pop", vec![index(i)]) {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.is_exception(PyClass::INDEX_ERROR) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `l.remove(x)`: removes the first item equal to `x`; `false` when there is none.
    pub fn remove(&self, x: &T) -> Result<bool, Error> {
        match self.base.call::<PyValue>("remove", vec![arg(x)?]) {
            Ok(_) => Ok(true),
            Err(e) if e.is_exception(PyClass::VALUE_ERROR) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// `l.index(x)`, or `None` when `x` is not in the list.
    pub fn index(&self, x: &T) -> Result<Option<usize>, Error> {
        match self.base.call("index", vec![arg(x)?]) {
            Ok(i) => Ok(Some(i)),
            Err(e) if e.is_exception(PyClass::VALUE_ERROR) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `l.count(x)`.
    pub fn count(&self, x: &T) -> Result<usize, Error> {
        self.base.call("count", vec![arg(x)?])
    }

    /// `l.reverse()`.
    pub fn reverse(&self) -> Result<(), Error> {
        self.base.call("reverse", Vec::new())
    }

    /// `l.sort()`: Python's order (a `TypeError` for items Python does not compare).
    pub fn sort(&self) -> Result<(), Error> {
        self.base.call("sort", Vec::new())
    }

    /// `l.sort(reverse=True)`.
    pub fn sort_descending(&self) -> Result<(), Error> {
        let r = self.base.call_raw(
            "sort",
            Vec::new(),
            vec![("reverse".to_owned(), PyValue::Bool(true))],
        )?;
        crate::client::into_result(r).map(|_| ())
    }

    /// `del l[:]` (Python's `clear`).
    pub fn clear(&self) -> Result<(), Error> {
        let all = PyValue::Object(crate::value::PyObject::new(
            PyClass::SLICE,
            vec![PyValue::None, PyValue::None, PyValue::None],
        ));
        self.base.call("__delitem__", vec![all])
    }

    /// A copy of the whole list (Python's `l[:]`, `_getvalue()`).
    pub fn to_vec(&self) -> Result<Vec<T>, Error> {
        self.base.getvalue()
    }
}
