//! `Value` and `Array` as `SyncManager` serves them: a value with a type code, and
//! `array.array` (served here as a list of numbers under its type code).

use std::sync::Mutex;

use super::list::{as_slice, iterable, norm_index, slice_indices};
use super::{
    Args, CallCtx, Kwargs, Outcome, Params, Raise, Referent, int_arg, lock, names, no_args,
};
use crate::value::{PyClass, PyValue, str_repr};

/// `multiprocessing.managers.Value`.
pub(crate) struct ValueObj {
    typecode: String,
    value: Mutex<PyValue>,
}

fn typecode_arg(v: PyValue) -> Result<String, Raise> {
    match v {
        PyValue::Str(s) => Ok(s),
        other => Err(Raise::exc(
            PyClass::TYPE_ERROR,
            format!("type code must be a str, not {}", other.type_name()),
        )),
    }
}

impl ValueObj {
    pub(crate) fn create(args: Args, kwargs: Kwargs) -> Result<ValueObj, Raise> {
        let mut p = Params::bind("Value", &["typecode", "value", "lock"], args, kwargs)?;
        let typecode = typecode_arg(p.req(0)?)?;
        let value = p.req(1)?;
        Ok(ValueObj {
            typecode,
            value: Mutex::new(value),
        })
    }
}

impl Referent for ValueObj {
    fn type_name(&self) -> &'static str {
        "Value"
    }

    fn public_methods(&self) -> Vec<String> {
        names(&["get", "set"])
    }

    fn call(
        &self,
        _: &CallCtx<'_>,
        method: &str,
        args: Args,
        kwargs: Kwargs,
    ) -> Result<Outcome, Raise> {
        let v = match method {
            "get" => {
                no_args("get", args, kwargs)?;
                lock(&self.value).clone()
            }
            "set" => {
                let v = Params::bind("set", &["value"], args, kwargs)?.req(0)?;
                *lock(&self.value) = v;
                PyValue::None
            }
            _ => return Err(super::no_method(self, method)),
        };
        Ok(Outcome::Value(v))
    }

    fn repr(&self) -> String {
        format!("Value({}, {})", str_repr(&self.typecode), lock(&self.value))
    }

    fn value(&self) -> Result<PyValue, Raise> {
        Ok(lock(&self.value).clone())
    }
}

/// `array.array(typecode, sequence)`.
pub(crate) struct ArrayObj {
    typecode: String,
    items: Mutex<Vec<PyValue>>,
}

impl ArrayObj {
    pub(crate) fn create(args: Args, kwargs: Kwargs) -> Result<ArrayObj, Raise> {
        let mut p = Params::bind("Array", &["typecode", "sequence", "lock"], args, kwargs)?;
        let typecode = typecode_arg(p.req(0)?)?;
        let items = match p.req(1)? {
            PyValue::Int(n) => vec![PyValue::Int(0); n.clamp(0, 100_000_000) as usize],
            other => iterable(other)?,
        };
        let a = ArrayObj {
            typecode,
            items: Mutex::new(Vec::new()),
        };
        for x in &items {
            a.check(x)?;
        }
        *lock(&a.items) = items;
        Ok(a)
    }

    fn check(&self, v: &PyValue) -> Result<(), Raise> {
        let ok = match self.typecode.as_str() {
            "f" | "d" => matches!(v, PyValue::Float(_) | PyValue::Int(_) | PyValue::Bool(_)),
            "u" => matches!(v, PyValue::Str(s) if s.chars().count() == 1),
            "b" | "B" | "h" | "H" | "i" | "I" | "l" | "L" | "q" | "Q" => v.as_int().is_some(),
            _ => true,
        };
        if ok {
            Ok(())
        } else {
            Err(Raise::exc(
                PyClass::TYPE_ERROR,
                format!(
                    "'{}' is not a valid item for an array of type code {}",
                    v.type_name(),
                    str_repr(&self.typecode)
                ),
            ))
        }
    }
}

impl Referent for ArrayObj {
    fn type_name(&self) -> &'static str {
        "array.array"
    }

    fn public_methods(&self) -> Vec<String> {
        names(&["__len__", "__getitem__", "__setitem__"])
    }

    fn call(
        &self,
        _: &CallCtx<'_>,
        method: &str,
        args: Args,
        kwargs: Kwargs,
    ) -> Result<Outcome, Raise> {
        let oob = || Raise::exc(PyClass::INDEX_ERROR, "array index out of range");
        let v = match method {
            "__len__" => {
                no_args("__len__", args, kwargs)?;
                PyValue::Int(lock(&self.items).len() as i128)
            }
            "__getitem__" => {
                let k = Params::bind("__getitem__", &["i"], args, kwargs)?.req(0)?;
                let items = lock(&self.items);
                if let Some(s) = as_slice(&k) {
                    let idx = slice_indices(s, items.len())?;
                    PyValue::List(idx.into_iter().map(|i| items[i].clone()).collect())
                } else {
                    let i = norm_index(int_arg(&k, "index")?, items.len()).ok_or_else(oob)?;
                    items[i].clone()
                }
            }
            "__setitem__" => {
                let mut p = Params::bind("__setitem__", &["i", "v"], args, kwargs)?;
                let (k, v) = (p.req(0)?, p.req(1)?);
                let mut items = lock(&self.items);
                if let Some(s) = as_slice(&k) {
                    let idx = slice_indices(s, items.len())?;
                    let new = iterable(v)?;
                    if new.len() != idx.len() {
                        return Err(Raise::exc(
                            PyClass::VALUE_ERROR,
                            "can only assign array of the same length to a slice of an array",
                        ));
                    }
                    for x in &new {
                        self.check(x)?;
                    }
                    for (i, x) in idx.into_iter().zip(new) {
                        items[i] = x;
                    }
                } else {
                    self.check(&v)?;
                    let i = norm_index(int_arg(&k, "index")?, items.len()).ok_or_else(oob)?;
                    items[i] = v;
                }
                PyValue::None
            }
            _ => return Err(super::no_method(self, method)),
        };
        Ok(Outcome::Value(v))
    }

    fn repr(&self) -> String {
        format!(
            "array({}, {})",
            str_repr(&self.typecode),
            PyValue::List(lock(&self.items).clone())
        )
    }

    fn value(&self) -> Result<PyValue, Raise> {
        Ok(PyValue::List(lock(&self.items).clone()))
    }
}
