//! `list`: Python's list, as `SyncManager.list()` serves it.

use std::cmp::Ordering;
use std::sync::Mutex;

use super::{
    Args, CallCtx, Kwargs, Outcome, Params, Raise, Referent, int_arg, lock, names, no_args,
};
use crate::value::{PyClass, PyValue};

pub(crate) struct ListObj {
    items: Mutex<Vec<PyValue>>,
}

/// What `ListProxy` exposes (Python's `BaseListProxy`), plus `clear` and `copy`.
pub(crate) const EXPOSED: &[&str] = &[
    "__add__",
    "__contains__",
    "__delitem__",
    "__getitem__",
    "__len__",
    "__mul__",
    "__reversed__",
    "__rmul__",
    "__setitem__",
    "append",
    "count",
    "extend",
    "index",
    "insert",
    "pop",
    "remove",
    "reverse",
    "sort",
    "__imul__",
    "clear",
    "copy",
];

const PUBLIC: &[&str] = &[
    "append", "clear", "copy", "count", "extend", "index", "insert", "pop", "remove", "reverse",
    "sort",
];

/// The items of an iterable argument.
pub(crate) fn iterable(v: PyValue) -> Result<Vec<PyValue>, Raise> {
    match v {
        PyValue::List(x) | PyValue::Tuple(x) | PyValue::Set(x) | PyValue::FrozenSet(x) => Ok(x),
        PyValue::Dict(d) => Ok(d.into_iter().map(|(k, _)| k).collect()),
        PyValue::Str(s) => Ok(s.chars().map(|c| PyValue::Str(c.into())).collect()),
        PyValue::Bytes(b) => Ok(b.into_iter().map(|x| PyValue::Int(x.into())).collect()),
        PyValue::Some(inner) => iterable(*inner),
        other => Err(Raise::exc(
            PyClass::TYPE_ERROR,
            format!("'{}' object is not iterable", other.type_name()),
        )),
    }
}

/// A Python index into a sequence of `len`, made non-negative; `None` when out of range.
pub(crate) fn norm_index(i: i128, len: usize) -> Option<usize> {
    let len = len as i128;
    let j = if i < 0 { i + len } else { i };
    (0..len).contains(&j).then_some(j as usize)
}

/// The positions a slice `(start, stop, step)` selects in a sequence of `len`.
pub(crate) fn slice_indices(s: &[PyValue], len: usize) -> Result<Vec<usize>, Raise> {
    let get = |i: usize| -> Result<Option<i128>, Raise> {
        match s.get(i) {
            None | Some(PyValue::None) => Ok(None),
            Some(v) => int_arg(v, "slice index").map(Some),
        }
    };
    let step = get(2)?.unwrap_or(1);
    if step == 0 {
        return Err(Raise::exc(
            PyClass::VALUE_ERROR,
            "slice step cannot be zero",
        ));
    }
    let n = len as i128;
    let clamp = |v: Option<i128>, dflt: i128, lo: i128, hi: i128| match v {
        None => dflt,
        Some(x) if x < 0 => (x + n).max(lo),
        Some(x) => x.min(hi),
    };
    let mut out = Vec::new();
    if step > 0 {
        let start = clamp(get(0)?, 0, 0, n);
        let stop = clamp(get(1)?, n, 0, n);
        let mut i = start;
        while i < stop {
            out.push(i as usize);
            i += step;
        }
    } else {
        let start = clamp(get(0)?, n - 1, -1, n - 1);
        let stop = clamp(get(1)?, -1, -1, n - 1);
        let mut i = start;
        while i > stop {
            out.push(i as usize);
            i += step;
        }
    }
    Ok(out)
}

/// The args of a `slice` object, if `v` is one.
pub(crate) fn as_slice(v: &PyValue) -> Option<&[PyValue]> {
    match v {
        PyValue::Object(o) if o.class == PyClass::SLICE => Some(&o.args),
        _ => None,
    }
}

fn index_error(what: &str) -> Raise {
    Raise::exc(PyClass::INDEX_ERROR, what.to_owned())
}

/// Sorts as Python's `list.sort`: a `TypeError` for items Python does not order.
fn py_sort(v: &mut [PyValue], reverse: bool) -> Result<(), Raise> {
    let mut err = None;
    v.sort_by(|a, b| match a.py_cmp(b) {
        Some(o) => o,
        None => {
            err.get_or_insert((a.type_name(), b.type_name()));
            Ordering::Equal
        }
    });
    if let Some((a, b)) = err {
        return Err(Raise::exc(
            PyClass::TYPE_ERROR,
            format!("'<' not supported between instances of '{a}' and '{b}'"),
        ));
    }
    if reverse {
        v.reverse();
    }
    Ok(())
}

fn repeat(items: &[PyValue], n: &PyValue) -> Result<Vec<PyValue>, Raise> {
    let n = int_arg(n, "repeat count")?.max(0) as usize;
    if items.len().saturating_mul(n) > 100_000_000 {
        return Err(Raise::exc(PyClass::MEMORY_ERROR, "list too large"));
    }
    Ok(items
        .iter()
        .cloned()
        .cycle()
        .take(items.len() * n)
        .collect())
}

impl ListObj {
    pub(crate) fn new(items: Vec<PyValue>) -> ListObj {
        ListObj {
            items: Mutex::new(items),
        }
    }

    pub(crate) fn create(args: Args, kwargs: Kwargs) -> Result<ListObj, Raise> {
        let mut p = Params::bind("list", &["iterable"], args, kwargs)?;
        let items = match p.given(0) {
            Some(v) => iterable(v)?,
            None => Vec::new(),
        };
        Ok(ListObj::new(items))
    }

    fn getitem(&self, key: PyValue) -> Result<PyValue, Raise> {
        let items = lock(&self.items);
        if let Some(s) = as_slice(&key) {
            let idx = slice_indices(s, items.len())?;
            return Ok(PyValue::List(
                idx.into_iter().map(|i| items[i].clone()).collect(),
            ));
        }
        let i = int_arg(&key, "list indices must be integers or slices")?;
        norm_index(i, items.len())
            .map(|i| items[i].clone())
            .ok_or_else(|| index_error("list index out of range"))
    }

    fn setitem(&self, key: PyValue, value: PyValue) -> Result<PyValue, Raise> {
        let mut items = lock(&self.items);
        if let Some(s) = as_slice(&key) {
            let new = iterable(value)?;
            let idx = slice_indices(s, items.len())?;
            let step1 = s
                .get(2)
                .is_none_or(|x| matches!(x, PyValue::None | PyValue::Int(1)));
            if step1 {
                let start = idx.first().copied().unwrap_or_else(|| {
                    slice_indices(&[s[0].clone()], items.len())
                        .ok()
                        .and_then(|v| v.first().copied())
                        .unwrap_or(items.len())
                });
                let end = start + idx.len();
                items.splice(start..end, new);
            } else {
                if new.len() != idx.len() {
                    return Err(Raise::exc(
                        PyClass::VALUE_ERROR,
                        format!(
                            "attempt to assign sequence of size {} to extended slice of size {}",
                            new.len(),
                            idx.len()
                        ),
                    ));
                }
                for (i, v) in idx.into_iter().zip(new) {
                    items[i] = v;
                }
            }
            return Ok(PyValue::None);
        }
        let i = int_arg(&key, "list indices must be integers or slices")?;
        let len = items.len();
        let i =
            norm_index(i, len).ok_or_else(|| index_error("list assignment index out of range"))?;
        items[i] = value;
        Ok(PyValue::None)
    }

    fn delitem(&self, key: PyValue) -> Result<PyValue, Raise> {
        let mut items = lock(&self.items);
        if let Some(s) = as_slice(&key) {
            let mut idx = slice_indices(s, items.len())?;
            idx.sort_unstable();
            for i in idx.into_iter().rev() {
                items.remove(i);
            }
            return Ok(PyValue::None);
        }
        let i = int_arg(&key, "list indices must be integers or slices")?;
        let len = items.len();
        let i =
            norm_index(i, len).ok_or_else(|| index_error("list assignment index out of range"))?;
        items.remove(i);
        Ok(PyValue::None)
    }

    fn dispatch(&self, method: &str, args: Args, kwargs: Kwargs) -> Result<PyValue, Raise> {
        match method {
            "__len__" => {
                no_args("__len__", args, kwargs)?;
                Ok(PyValue::Int(lock(&self.items).len() as i128))
            }
            "__contains__" => {
                let x = Params::bind("__contains__", &["x"], args, kwargs)?.req(0)?;
                Ok(PyValue::Bool(lock(&self.items).contains(&x)))
            }
            "__getitem__" => {
                let k = Params::bind("__getitem__", &["i"], args, kwargs)?.req(0)?;
                self.getitem(k)
            }
            "__setitem__" => {
                let mut p = Params::bind("__setitem__", &["i", "v"], args, kwargs)?;
                let (k, v) = (p.req(0)?, p.req(1)?);
                self.setitem(k, v)
            }
            "__delitem__" => {
                let k = Params::bind("__delitem__", &["i"], args, kwargs)?.req(0)?;
                self.delitem(k)
            }
            "append" => {
                let x = Params::bind("append", &["object"], args, kwargs)?.req(0)?;
                lock(&self.items).push(x);
                Ok(PyValue::None)
            }
            "extend" => {
                let x = Params::bind("extend", &["iterable"], args, kwargs)?.req(0)?;
                let new = iterable(x)?;
                lock(&self.items).extend(new);
                Ok(PyValue::None)
            }
            "insert" => {
                let mut p = Params::bind("insert", &["index", "object"], args, kwargs)?;
                let i = int_arg(&p.req(0)?, "index")?;
                let x = p.req(1)?;
                let mut items = lock(&self.items);
                let n = items.len() as i128;
                let at = if i < 0 { (i + n).max(0) } else { i.min(n) };
                items.insert(at as usize, x);
                Ok(PyValue::None)
            }
            "pop" => {
                let mut p = Params::bind("pop", &["index"], args, kwargs)?;
                let i = match p.opt(0) {
                    Some(v) => int_arg(&v, "index")?,
                    None => -1,
                };
                let mut items = lock(&self.items);
                if items.is_empty() {
                    return Err(index_error("pop from empty list"));
                }
                let len = items.len();
                let at = norm_index(i, len).ok_or_else(|| index_error("pop index out of range"))?;
                Ok(items.remove(at))
            }
            "remove" => {
                let x = Params::bind("remove", &["value"], args, kwargs)?.req(0)?;
                let mut items = lock(&self.items);
                match items.iter().position(|y| *y == x) {
                    Some(i) => {
                        items.remove(i);
                        Ok(PyValue::None)
                    }
                    None => Err(Raise::exc(
                        PyClass::VALUE_ERROR,
                        "list.remove(x): x not in list",
                    )),
                }
            }
            "index" => {
                let mut p = Params::bind("index", &["value", "start", "stop"], args, kwargs)?;
                let x = p.req(0)?;
                let items = lock(&self.items);
                let n = items.len() as i128;
                let bound = |v: Option<PyValue>, d: i128| -> Result<usize, Raise> {
                    let i = match v {
                        Some(v) => int_arg(&v, "index")?,
                        None => d,
                    };
                    Ok((if i < 0 { (i + n).max(0) } else { i.min(n) }) as usize)
                };
                let (start, stop) = (bound(p.opt(1), 0)?, bound(p.opt(2), n)?);
                (start..stop.max(start))
                    .find(|&i| items[i] == x)
                    .map(|i| PyValue::Int(i as i128))
                    .ok_or_else(|| Raise::exc(PyClass::VALUE_ERROR, format!("{x} is not in list")))
            }
            "count" => {
                let x = Params::bind("count", &["value"], args, kwargs)?.req(0)?;
                let n = lock(&self.items).iter().filter(|y| **y == x).count();
                Ok(PyValue::Int(n as i128))
            }
            "reverse" => {
                no_args("reverse", args, kwargs)?;
                lock(&self.items).reverse();
                Ok(PyValue::None)
            }
            "sort" => {
                if !args.is_empty() {
                    return Err(Raise::exc(
                        PyClass::TYPE_ERROR,
                        "sort() takes no positional arguments",
                    ));
                }
                let mut p = Params::bind("sort", &["key", "reverse"], Vec::new(), kwargs)?;
                if p.opt(0).is_some() {
                    return Err(Raise::exc(
                        PyClass::TYPE_ERROR,
                        "a sort key function cannot cross to the manager",
                    ));
                }
                let reverse = p.opt(1).is_some_and(|v| v.truthy());
                py_sort(&mut lock(&self.items), reverse)?;
                Ok(PyValue::None)
            }
            "clear" => {
                no_args("clear", args, kwargs)?;
                lock(&self.items).clear();
                Ok(PyValue::None)
            }
            "copy" | "__reversed__" => {
                no_args("copy", args, kwargs)?;
                let mut v = lock(&self.items).clone();
                if method == "__reversed__" {
                    v.reverse();
                }
                Ok(PyValue::List(v))
            }
            "__add__" => {
                let x = Params::bind("__add__", &["other"], args, kwargs)?.req(0)?;
                let PyValue::List(other) = x else {
                    return Err(Raise::exc(
                        PyClass::TYPE_ERROR,
                        format!(
                            "can only concatenate list (not \"{}\") to list",
                            x.type_name()
                        ),
                    ));
                };
                let mut v = lock(&self.items).clone();
                v.extend(other);
                Ok(PyValue::List(v))
            }
            "__mul__" | "__rmul__" => {
                let n = Params::bind("__mul__", &["n"], args, kwargs)?.req(0)?;
                Ok(PyValue::List(repeat(&lock(&self.items), &n)?))
            }
            "__imul__" => {
                let n = Params::bind("__imul__", &["n"], args, kwargs)?.req(0)?;
                let mut items = lock(&self.items);
                let v = repeat(&items, &n)?;
                *items = v;
                Ok(PyValue::List(items.clone()))
            }
            _ => Err(super::no_method(self, method)),
        }
    }
}

impl Referent for ListObj {
    fn type_name(&self) -> &'static str {
        "list"
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
        self.dispatch(method, args, kwargs).map(Outcome::Value)
    }

    fn repr(&self) -> String {
        PyValue::List(lock(&self.items).clone()).to_string()
    }

    fn value(&self) -> Result<PyValue, Raise> {
        Ok(PyValue::List(lock(&self.items).clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::PyObject;

    fn call(l: &ListObj, m: &str, args: Vec<PyValue>) -> Result<PyValue, String> {
        l.dispatch(m, args, Vec::new()).map_err(|e| match e {
            Raise::Exception(v) => v.to_string(),
            _ => "fault".into(),
        })
    }

    fn slice(a: PyValue, b: PyValue, c: PyValue) -> PyValue {
        PyValue::Object(PyObject::new(PyClass::SLICE, vec![a, b, c]))
    }

    #[test]
    fn behaves_as_pythons_list() {
        let l = ListObj::new((0..10).map(PyValue::Int).collect());
        call(&l, "reverse", vec![]).unwrap();
        assert_eq!(l.repr(), "[9, 8, 7, 6, 5, 4, 3, 2, 1, 0]");
        assert_eq!(
            call(&l, "__getitem__", vec![PyValue::Int(10)]),
            Err("IndexError('list index out of range')".into())
        );
        assert_eq!(
            call(&l, "__getitem__", vec![PyValue::Int(-1)]),
            Ok(PyValue::Int(0))
        );
        let s = slice(PyValue::Int(1), PyValue::Int(8), PyValue::Int(3));
        assert_eq!(
            call(&l, "__getitem__", vec![s]).unwrap().to_string(),
            "[8, 5, 2]"
        );
        let s = slice(PyValue::None, PyValue::None, PyValue::Int(-4));
        assert_eq!(
            call(&l, "__getitem__", vec![s]).unwrap().to_string(),
            "[0, 4, 8]"
        );
        let s = slice(PyValue::Int(2), PyValue::Int(5), PyValue::None);
        call(&l, "__setitem__", vec![s, PyValue::List(vec![])]).unwrap();
        assert_eq!(l.repr(), "[9, 8, 4, 3, 2, 1, 0]");
        assert_eq!(
            call(&l, "remove", vec![PyValue::Int(42)]),
            Err("ValueError('list.remove(x): x not in list')".into())
        );
        call(&l, "append", vec![PyValue::str("a")]).unwrap();
        let e = call(&l, "sort", vec![]).unwrap_err();
        assert!(e.starts_with("TypeError(\"'<' not supported"), "{e}");
        call(&l, "pop", vec![]).unwrap();
        l.dispatch(
            "sort",
            vec![],
            vec![("reverse".into(), PyValue::Bool(true))],
        )
        .ok()
        .unwrap();
        assert_eq!(l.repr(), "[9, 8, 4, 3, 2, 1, 0]");
    }
}
