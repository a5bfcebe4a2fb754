//! `dict`: Python's dict (insertion-ordered), as `SyncManager.dict()` serves it.

use std::sync::{Arc, Mutex};

use indexmap::IndexMap;

use super::{
    Args, CallCtx, IteratorObj, Kwargs, Outcome, Params, Raise, Referent, lock, names, no_args,
};
use crate::value::{PyClass, PyValue};

pub(crate) struct DictObj {
    map: Mutex<IndexMap<PyValue, PyValue>>,
}

/// What `DictProxy` exposes.
pub(crate) const EXPOSED: &[&str] = &[
    "__contains__",
    "__delitem__",
    "__getitem__",
    "__iter__",
    "__len__",
    "__setitem__",
    "clear",
    "copy",
    "get",
    "items",
    "keys",
    "pop",
    "popitem",
    "setdefault",
    "update",
    "values",
];

const PUBLIC: &[&str] = &[
    "clear",
    "copy",
    "get",
    "items",
    "keys",
    "pop",
    "popitem",
    "setdefault",
    "update",
    "values",
];

fn key_error(k: PyValue) -> Raise {
    Raise::exc_args(PyClass::KEY_ERROR, vec![k])
}

/// The pairs of a mapping or an iterable of pairs (`dict.update`'s argument).
fn pairs(v: PyValue) -> Result<Vec<(PyValue, PyValue)>, Raise> {
    match v {
        PyValue::Dict(d) => Ok(d),
        other => super::list::iterable(other)?
            .into_iter()
            .enumerate()
            .map(|(i, item)| match item {
                PyValue::Tuple(mut t) | PyValue::List(mut t) if t.len() == 2 => {
                    let v = t.pop().unwrap_or(PyValue::None);
                    let k = t.pop().unwrap_or(PyValue::None);
                    Ok((k, v))
                }
                _ => Err(Raise::exc(
                    PyClass::VALUE_ERROR,
                    format!("dictionary update sequence element #{i} is not a pair"),
                )),
            })
            .collect(),
    }
}

impl DictObj {
    pub(crate) fn new() -> DictObj {
        DictObj {
            map: Mutex::new(IndexMap::new()),
        }
    }

    pub(crate) fn create(args: Args, kwargs: Kwargs) -> Result<DictObj, Raise> {
        let d = DictObj::new();
        d.update(args, kwargs)?;
        Ok(d)
    }

    fn update(&self, args: Args, kwargs: Kwargs) -> Result<PyValue, Raise> {
        if args.len() > 1 {
            return Err(Raise::exc(
                PyClass::TYPE_ERROR,
                format!("update expected at most 1 argument, got {}", args.len()),
            ));
        }
        let mut new = Vec::new();
        for a in args {
            new.extend(pairs(a)?);
        }
        new.extend(kwargs.into_iter().map(|(k, v)| (PyValue::Str(k), v)));
        let mut m = lock(&self.map);
        for (k, v) in new {
            m.insert(k, v);
        }
        Ok(PyValue::None)
    }

    fn dispatch(&self, method: &str, args: Args, kwargs: Kwargs) -> Result<Outcome, Raise> {
        let v = match method {
            "__len__" => {
                no_args("__len__", args, kwargs)?;
                PyValue::Int(lock(&self.map).len() as i128)
            }
            "__contains__" => {
                let k = Params::bind("__contains__", &["key"], args, kwargs)?.req(0)?;
                PyValue::Bool(lock(&self.map).contains_key(&k))
            }
            "__getitem__" => {
                let k = Params::bind("__getitem__", &["key"], args, kwargs)?.req(0)?;
                let m = lock(&self.map);
                match m.get(&k) {
                    Some(v) => v.clone(),
                    None => return Err(key_error(k)),
                }
            }
            "__setitem__" => {
                let mut p = Params::bind("__setitem__", &["key", "value"], args, kwargs)?;
                let (k, v) = (p.req(0)?, p.req(1)?);
                lock(&self.map).insert(k, v);
                PyValue::None
            }
            "__delitem__" => {
                let k = Params::bind("__delitem__", &["key"], args, kwargs)?.req(0)?;
                if lock(&self.map).shift_remove(&k).is_none() {
                    return Err(key_error(k));
                }
                PyValue::None
            }
            "get" => {
                let mut p = Params::bind("get", &["key", "default"], args, kwargs)?;
                let k = p.req(0)?;
                let d = p.given(1).unwrap_or(PyValue::None);
                lock(&self.map).get(&k).cloned().unwrap_or(d)
            }
            "setdefault" => {
                let mut p = Params::bind("setdefault", &["key", "default"], args, kwargs)?;
                let k = p.req(0)?;
                let d = p.given(1).unwrap_or(PyValue::None);
                lock(&self.map).entry(k).or_insert(d).clone()
            }
            "pop" => {
                let mut p = Params::bind("pop", &["key", "default"], args, kwargs)?;
                let k = p.req(0)?;
                let d = p.given(1);
                match (lock(&self.map).shift_remove(&k), d) {
                    (Some(v), _) | (None, Some(v)) => v,
                    (None, None) => return Err(key_error(k)),
                }
            }
            "popitem" => {
                no_args("popitem", args, kwargs)?;
                match lock(&self.map).pop() {
                    Some((k, v)) => PyValue::Tuple(vec![k, v]),
                    None => {
                        return Err(Raise::exc(
                            PyClass::KEY_ERROR,
                            "popitem(): dictionary is empty",
                        ));
                    }
                }
            }
            "update" => self.update(args, kwargs)?,
            "clear" => {
                no_args("clear", args, kwargs)?;
                lock(&self.map).clear();
                PyValue::None
            }
            "copy" => {
                no_args("copy", args, kwargs)?;
                self.value()?
            }
            "keys" | "values" | "items" => {
                no_args("keys", args, kwargs)?;
                let m = lock(&self.map);
                PyValue::List(match method {
                    "keys" => m.keys().cloned().collect(),
                    "values" => m.values().cloned().collect(),
                    _ => m
                        .iter()
                        .map(|(k, v)| PyValue::Tuple(vec![k.clone(), v.clone()]))
                        .collect(),
                })
            }
            "__iter__" => {
                no_args("__iter__", args, kwargs)?;
                let keys: Vec<PyValue> = lock(&self.map).keys().cloned().collect();
                return Ok(Outcome::Object {
                    typeid: "Iterator".into(),
                    object: Arc::new(IteratorObj::new(keys)),
                });
            }
            _ => return Err(super::no_method(self, method)),
        };
        Ok(Outcome::Value(v))
    }
}

impl Referent for DictObj {
    fn type_name(&self) -> &'static str {
        "dict"
    }

    fn public_methods(&self) -> Vec<String> {
        names(PUBLIC)
    }

    fn call(
        &self,
        _: &CallCtx<'_>,
        method: &str,
        args: Args,
        kwargs: Kwargs,
    ) -> Result<Outcome, Raise> {
        self.dispatch(method, args, kwargs)
    }

    fn repr(&self) -> String {
        self.value().map(|v| v.to_string()).unwrap_or_default()
    }

    fn value(&self) -> Result<PyValue, Raise> {
        Ok(PyValue::Dict(
            lock(&self.map)
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_insertion_order_and_python_keys() {
        let d = DictObj::new();
        let set =
            |k: PyValue, v: PyValue| d.dispatch("__setitem__", vec![k, v], vec![]).ok().unwrap();
        set(PyValue::Int(1), PyValue::str("1"));
        set(PyValue::str("2"), PyValue::Int(2));
        set(PyValue::Float(0.25), PyValue::None);
        set(PyValue::Float(1.0), PyValue::str("one"));
        assert_eq!(d.repr(), "{1: 'one', '2': 2, 0.25: None}");
        match d.dispatch("__getitem__", vec![PyValue::str("x")], vec![]) {
            Err(Raise::Exception(e)) => assert_eq!(e.to_string(), "KeyError('x')"),
            _ => panic!("want a KeyError"),
        }
    }
}
