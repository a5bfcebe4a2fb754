//! Rust values into [`PyValue`]s through `Serialize`.

use std::fmt;

use serde::ser::{self, Serialize};

use crate::value::PyValue;

/// Why a Rust value does not become a [`PyValue`] or a [`PyValue`] not the Rust type asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueError(String);

impl ValueError {
    pub(crate) fn new(msg: impl Into<String>) -> ValueError {
        ValueError(msg.into())
    }
}

impl fmt::Display for ValueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ValueError {}

impl ser::Error for ValueError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        ValueError(msg.to_string())
    }
}

impl serde::de::Error for ValueError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        ValueError(msg.to_string())
    }
}

/// Turns a Rust value into a [`PyValue`] through its `Serialize`.
///
/// The mapping is serde's JSON one with Python's types: integers are `int`, sequences `list`,
/// tuples `tuple`, maps `dict`, structs a `dict` of their fields, `None` and `()` are `None`, a
/// unit variant is its name as a `str` and any other variant a one-entry `dict`
/// (`{"Variant": value}`), bytes (`serde_bytes`) are `bytes`.
///
/// ```
/// use multiproc_manager::{to_value, PyValue};
/// let v = to_value(&(1u64, "a", vec![None, Some(2.5)]))?;
/// assert_eq!(v.to_string(), "(1, 'a', [None, 2.5])");
/// # Ok::<(), multiproc_manager::ValueError>(())
/// ```
///
/// # Errors
/// What the value's `Serialize` reports (a handle holding file descriptors cannot be a
/// `PyValue`).
pub fn to_value<T: Serialize + ?Sized>(value: &T) -> Result<PyValue, ValueError> {
    value.serialize(Serializer)
}

struct Serializer;

fn wrap_some(v: PyValue) -> PyValue {
    match v {
        PyValue::None | PyValue::Some(_) => PyValue::Some(Box::new(v)),
        other => other,
    }
}

fn variant(name: &str, v: PyValue) -> PyValue {
    PyValue::Dict(vec![(PyValue::str(name), v)])
}

impl ser::Serializer for Serializer {
    type Ok = PyValue;
    type Error = ValueError;
    type SerializeSeq = Seq;
    type SerializeTuple = Seq;
    type SerializeTupleStruct = Seq;
    type SerializeTupleVariant = Seq;
    type SerializeMap = Map;
    type SerializeStruct = Map;
    type SerializeStructVariant = Map;

    fn serialize_bool(self, v: bool) -> Result<PyValue, ValueError> {
        Ok(PyValue::Bool(v))
    }
    fn serialize_i8(self, v: i8) -> Result<PyValue, ValueError> {
        Ok(PyValue::Int(v.into()))
    }
    fn serialize_i16(self, v: i16) -> Result<PyValue, ValueError> {
        Ok(PyValue::Int(v.into()))
    }
    fn serialize_i32(self, v: i32) -> Result<PyValue, ValueError> {
        Ok(PyValue::Int(v.into()))
    }
    fn serialize_i64(self, v: i64) -> Result<PyValue, ValueError> {
        Ok(PyValue::Int(v.into()))
    }
    fn serialize_i128(self, v: i128) -> Result<PyValue, ValueError> {
        Ok(PyValue::Int(v))
    }
    fn serialize_u8(self, v: u8) -> Result<PyValue, ValueError> {
        Ok(PyValue::Int(v.into()))
    }
    fn serialize_u16(self, v: u16) -> Result<PyValue, ValueError> {
        Ok(PyValue::Int(v.into()))
    }
    fn serialize_u32(self, v: u32) -> Result<PyValue, ValueError> {
        Ok(PyValue::Int(v.into()))
    }
    fn serialize_u64(self, v: u64) -> Result<PyValue, ValueError> {
        Ok(PyValue::Int(v.into()))
    }
    fn serialize_u128(self, v: u128) -> Result<PyValue, ValueError> {
        i128::try_from(v)
            .map(PyValue::Int)
            .map_err(|_| ValueError::new("u128 above i128::MAX"))
    }
    fn serialize_f32(self, v: f32) -> Result<PyValue, ValueError> {
        Ok(PyValue::Float(v.into()))
    }
    fn serialize_f64(self, v: f64) -> Result<PyValue, ValueError> {
        Ok(PyValue::Float(v))
    }
    fn serialize_char(self, v: char) -> Result<PyValue, ValueError> {
        Ok(PyValue::Str(v.to_string()))
    }
    fn serialize_str(self, v: &str) -> Result<PyValue, ValueError> {
        Ok(PyValue::Str(v.to_owned()))
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<PyValue, ValueError> {
        Ok(PyValue::Bytes(v.to_vec()))
    }
    fn serialize_none(self) -> Result<PyValue, ValueError> {
        Ok(PyValue::None)
    }
    fn serialize_some<T: Serialize + ?Sized>(self, v: &T) -> Result<PyValue, ValueError> {
        v.serialize(Serializer).map(wrap_some)
    }
    fn serialize_unit(self) -> Result<PyValue, ValueError> {
        Ok(PyValue::None)
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<PyValue, ValueError> {
        Ok(PyValue::None)
    }
    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        name: &'static str,
    ) -> Result<PyValue, ValueError> {
        Ok(PyValue::str(name))
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        v: &T,
    ) -> Result<PyValue, ValueError> {
        v.serialize(Serializer)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        name: &'static str,
        v: &T,
    ) -> Result<PyValue, ValueError> {
        Ok(variant(name, v.serialize(Serializer)?))
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<Seq, ValueError> {
        Ok(Seq::new(SeqKind::List, len))
    }
    fn serialize_tuple(self, len: usize) -> Result<Seq, ValueError> {
        Ok(Seq::new(SeqKind::Tuple, Some(len)))
    }
    fn serialize_tuple_struct(self, _: &'static str, len: usize) -> Result<Seq, ValueError> {
        Ok(Seq::new(SeqKind::Tuple, Some(len)))
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        name: &'static str,
        len: usize,
    ) -> Result<Seq, ValueError> {
        Ok(Seq::new(SeqKind::Variant(name), Some(len)))
    }
    fn serialize_map(self, len: Option<usize>) -> Result<Map, ValueError> {
        Ok(Map::new(None, len))
    }
    fn serialize_struct(self, _: &'static str, len: usize) -> Result<Map, ValueError> {
        Ok(Map::new(None, Some(len)))
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        name: &'static str,
        len: usize,
    ) -> Result<Map, ValueError> {
        Ok(Map::new(Some(name), Some(len)))
    }
}

enum SeqKind {
    List,
    Tuple,
    Variant(&'static str),
}

struct Seq {
    kind: SeqKind,
    items: Vec<PyValue>,
}

impl Seq {
    fn new(kind: SeqKind, len: Option<usize>) -> Seq {
        Seq {
            kind,
            items: Vec::with_capacity(len.unwrap_or(0).min(4096)),
        }
    }

    fn push<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), ValueError> {
        self.items.push(v.serialize(Serializer)?);
        Ok(())
    }

    fn done(self) -> PyValue {
        match self.kind {
            SeqKind::List => PyValue::List(self.items),
            SeqKind::Tuple => PyValue::Tuple(self.items),
            SeqKind::Variant(name) => variant(name, PyValue::Tuple(self.items)),
        }
    }
}

/// `Seq` collects the elements of every sequence-like shape serde has; each just pushes.
macro_rules! seq_shape {
    ($($shape:ident :: $method:ident),*) => {$(
        impl ser::$shape for Seq {
            type Ok = PyValue;
            type Error = ValueError;
            fn $method<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), ValueError> {
                self.push(v)
            }
            fn end(self) -> Result<PyValue, ValueError> {
                Ok(self.done())
            }
        }
    )*};
}

seq_shape!(
    SerializeSeq::serialize_element,
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field,
    SerializeTupleVariant::serialize_field
);

struct Map {
    variant: Option<&'static str>,
    entries: Vec<(PyValue, PyValue)>,
    key: Option<PyValue>,
}

impl Map {
    fn new(variant: Option<&'static str>, len: Option<usize>) -> Map {
        Map {
            variant,
            entries: Vec::with_capacity(len.unwrap_or(0).min(4096)),
            key: None,
        }
    }

    fn done(self) -> PyValue {
        let d = PyValue::Dict(self.entries);
        match self.variant {
            Some(name) => variant(name, d),
            None => d,
        }
    }
}

impl ser::SerializeMap for Map {
    type Ok = PyValue;
    type Error = ValueError;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, k: &T) -> Result<(), ValueError> {
        self.key = Some(k.serialize(Serializer)?);
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), ValueError> {
        let k = self
            .key
            .take()
            .ok_or_else(|| ValueError::new("map value without a key"))?;
        self.entries.push((k, v.serialize(Serializer)?));
        Ok(())
    }
    fn end(self) -> Result<PyValue, ValueError> {
        Ok(self.done())
    }
}

/// A struct, or a struct variant, is a dict of its field names.
macro_rules! struct_shape {
    ($($shape:ident),*) => {$(
        impl ser::$shape for Map {
            type Ok = PyValue;
            type Error = ValueError;
            fn serialize_field<T: Serialize + ?Sized>(
                &mut self,
                k: &'static str,
                v: &T,
            ) -> Result<(), ValueError> {
                self.entries
                    .push((PyValue::str(k), v.serialize(Serializer)?));
                Ok(())
            }
            fn end(self) -> Result<PyValue, ValueError> {
                Ok(self.done())
            }
        }
    )*};
}

struct_shape!(SerializeStruct, SerializeStructVariant);

/// A `PyValue` serialises as the plain data it holds (a `list` as a sequence, a `dict` as a
/// map), so `to_value(&v) == v` and JSON shows it naturally.
impl Serialize for PyValue {
    fn serialize<S: ser::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use ser::{SerializeMap, SerializeSeq, SerializeTuple};
        match self {
            PyValue::None => s.serialize_none(),
            PyValue::Bool(b) => s.serialize_bool(*b),
            PyValue::Int(i) => match i64::try_from(*i) {
                Ok(x) => s.serialize_i64(x),
                Err(_) => s.serialize_i128(*i),
            },
            PyValue::Float(f) => s.serialize_f64(*f),
            PyValue::Str(x) => s.serialize_str(x),
            PyValue::Bytes(b) => s.serialize_bytes(b),
            PyValue::List(v) | PyValue::Set(v) | PyValue::FrozenSet(v) => {
                let mut q = s.serialize_seq(Some(v.len()))?;
                for x in v {
                    q.serialize_element(x)?;
                }
                q.end()
            }
            PyValue::Tuple(v) => {
                let mut q = s.serialize_tuple(v.len())?;
                for x in v {
                    q.serialize_element(x)?;
                }
                q.end()
            }
            PyValue::Dict(d) => {
                let mut m = s.serialize_map(Some(d.len()))?;
                for (k, v) in d {
                    m.serialize_entry(k, v)?;
                }
                m.end()
            }
            PyValue::Some(inner) => s.serialize_some(&**inner),
            PyValue::Object(o) => {
                let mut m = s.serialize_map(Some(2))?;
                m.serialize_entry("class", o.class.name())?;
                m.serialize_entry("args", &o.args)?;
                m.end()
            }
        }
    }
}
