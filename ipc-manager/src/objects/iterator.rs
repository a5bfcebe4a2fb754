//! `Iterator`: what `dict.__iter__` returns through a manager (a snapshot of the keys).

use std::sync::Mutex;

use super::{Args, CallCtx, Kwargs, Outcome, Raise, Referent, lock, names};
use crate::value::{PyClass, PyValue};

pub(crate) struct IteratorObj {
    items: Mutex<std::vec::IntoIter<PyValue>>,
}

impl IteratorObj {
    pub(crate) fn new(items: Vec<PyValue>) -> IteratorObj {
        IteratorObj {
            items: Mutex::new(items.into_iter()),
        }
    }
}

impl Referent for IteratorObj {
    fn type_name(&self) -> &'static str {
        "Iterator"
    }

    fn public_methods(&self) -> Vec<String> {
        names(&["__next__", "send", "throw", "close"])
    }

    fn call(&self, _: &CallCtx<'_>, method: &str, _: Args, _: Kwargs) -> Result<Outcome, Raise> {
        match method {
            "__next__" => match lock(&self.items).next() {
                Some(v) => Ok(Outcome::Value(v)),
                None => Err(Raise::exc_args(PyClass::STOP_ITERATION, Vec::new())),
            },
            "close" => {
                *lock(&self.items) = Vec::new().into_iter();
                Ok(Outcome::Value(PyValue::None))
            }
            _ => Err(super::no_method(self, method)),
        }
    }

    fn repr(&self) -> String {
        "<dict_keyiterator object>".into()
    }
}
