//! `Namespace`: named attributes, as `SyncManager.Namespace()` serves them.

use std::sync::Mutex;

use indexmap::IndexMap;

use super::{Args, CallCtx, Kwargs, Outcome, Params, Raise, Referent, lock, names};
use crate::value::{PyClass, PyValue};

pub(crate) struct NamespaceObj {
    attrs: Mutex<IndexMap<String, PyValue>>,
}

/// What `NamespaceProxy` exposes.
pub(crate) const EXPOSED: &[&str] = &["__getattribute__", "__setattr__", "__delattr__"];

fn no_attr(name: &str) -> Raise {
    Raise::exc(
        PyClass::ATTRIBUTE_ERROR,
        format!("'Namespace' object has no attribute '{name}'"),
    )
}

fn name_arg(v: PyValue) -> Result<String, Raise> {
    match v {
        PyValue::Str(s) => Ok(s),
        other => Err(Raise::exc(
            PyClass::TYPE_ERROR,
            format!("attribute name must be string, not '{}'", other.type_name()),
        )),
    }
}

impl NamespaceObj {
    pub(crate) fn create(args: Args, kwargs: Kwargs) -> Result<NamespaceObj, Raise> {
        if !args.is_empty() {
            return Err(Raise::exc(
                PyClass::TYPE_ERROR,
                "Namespace() takes keyword arguments only",
            ));
        }
        Ok(NamespaceObj {
            attrs: Mutex::new(kwargs.into_iter().collect()),
        })
    }
}

impl Referent for NamespaceObj {
    fn type_name(&self) -> &'static str {
        "Namespace"
    }

    fn public_methods(&self) -> Vec<String> {
        names(EXPOSED)
    }

    fn call(
        &self,
        _: &CallCtx<'_>,
        method: &str,
        args: Args,
        kwargs: Kwargs,
    ) -> Result<Outcome, Raise> {
        let v = match method {
            "__getattribute__" => {
                let name =
                    name_arg(Params::bind("__getattribute__", &["name"], args, kwargs)?.req(0)?)?;
                match lock(&self.attrs).get(&name) {
                    Some(v) => v.clone(),
                    None => return Err(no_attr(&name)),
                }
            }
            "__setattr__" => {
                let mut p = Params::bind("__setattr__", &["name", "value"], args, kwargs)?;
                let name = name_arg(p.req(0)?)?;
                let v = p.req(1)?;
                lock(&self.attrs).insert(name, v);
                PyValue::None
            }
            "__delattr__" => {
                let name = name_arg(Params::bind("__delattr__", &["name"], args, kwargs)?.req(0)?)?;
                if lock(&self.attrs).shift_remove(&name).is_none() {
                    return Err(no_attr(&name));
                }
                PyValue::None
            }
            _ => return Err(super::no_method(self, method)),
        };
        Ok(Outcome::Value(v))
    }

    fn repr(&self) -> String {
        let attrs = lock(&self.attrs);
        let mut parts: Vec<String> = attrs
            .iter()
            .filter(|(k, _)| !k.starts_with('_'))
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        parts.sort();
        format!("Namespace({})", parts.join(", "))
    }
}
