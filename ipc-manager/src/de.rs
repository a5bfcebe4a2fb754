//! [`PyValue`]s into Rust values through `Deserialize`.

use serde::de::{self, DeserializeOwned, IntoDeserializer, Visitor};
use serde::forward_to_deserialize_any;

use crate::ser::ValueError;
use crate::value::PyValue;

/// Turns a [`PyValue`] into a Rust value through its `Deserialize`: the inverse of
/// [`to_value`](crate::to_value), and lenient where Python is (an `int` reads as a float, a
/// `list` or `tuple` as any sequence or tuple, a `set` as a sequence).
///
/// ```
/// use multiproc_manager::{from_value, to_value};
/// let v = to_value(&vec![(1u8, "a".to_string())])?;
/// let back: Vec<(u8, String)> = from_value(v)?;
/// assert_eq!(back, [(1, "a".to_string())]);
/// let nested: Option<Option<u8>> = from_value(to_value(&Some(None::<u8>))?)?;
/// assert_eq!(nested, Some(None));
/// # Ok::<(), multiproc_manager::ValueError>(())
/// ```
///
/// # Errors
/// When the value does not have the shape `T` wants.
pub fn from_value<T: DeserializeOwned>(value: PyValue) -> Result<T, ValueError> {
    T::deserialize(value)
}

fn unexpected(v: &PyValue) -> de::Unexpected<'_> {
    match v {
        PyValue::None => de::Unexpected::Option,
        PyValue::Bool(b) => de::Unexpected::Bool(*b),
        PyValue::Int(i) => match i64::try_from(*i) {
            Ok(x) => de::Unexpected::Signed(x),
            Err(_) => de::Unexpected::Other("a large int"),
        },
        PyValue::Float(f) => de::Unexpected::Float(*f),
        PyValue::Str(s) => de::Unexpected::Str(s),
        PyValue::Bytes(b) => de::Unexpected::Bytes(b),
        PyValue::List(_) | PyValue::Tuple(_) | PyValue::Set(_) | PyValue::FrozenSet(_) => {
            de::Unexpected::Seq
        }
        PyValue::Dict(_) => de::Unexpected::Map,
        PyValue::Some(_) => de::Unexpected::Option,
        PyValue::Object(_) => de::Unexpected::Other("an object"),
    }
}

impl<'de> de::Deserializer<'de> for PyValue {
    type Error = ValueError;

    fn deserialize_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, ValueError> {
        match self {
            PyValue::None => v.visit_none(),
            PyValue::Bool(b) => v.visit_bool(b),
            PyValue::Int(i) => {
                if let Ok(x) = i64::try_from(i) {
                    v.visit_i64(x)
                } else if let Ok(x) = u64::try_from(i) {
                    v.visit_u64(x)
                } else {
                    v.visit_i128(i)
                }
            }
            PyValue::Float(f) => v.visit_f64(f),
            PyValue::Str(s) => v.visit_string(s),
            PyValue::Bytes(b) => v.visit_byte_buf(b),
            PyValue::List(x) | PyValue::Tuple(x) | PyValue::Set(x) | PyValue::FrozenSet(x) => {
                v.visit_seq(de::value::SeqDeserializer::new(x.into_iter()))
            }
            PyValue::Dict(d) => v.visit_map(de::value::MapDeserializer::new(d.into_iter())),
            PyValue::Some(inner) => v.visit_some(*inner),
            PyValue::Object(o) => {
                let entries = vec![
                    (PyValue::str("class"), PyValue::str(o.class.name())),
                    (PyValue::str("args"), PyValue::List(o.args)),
                ];
                v.visit_map(de::value::MapDeserializer::new(entries.into_iter()))
            }
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, v: V) -> Result<V::Value, ValueError> {
        match self {
            PyValue::None => v.visit_none(),
            PyValue::Some(inner) => v.visit_some(*inner),
            other => v.visit_some(other),
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, v: V) -> Result<V::Value, ValueError> {
        match self {
            PyValue::None => v.visit_unit(),
            other => Err(de::Error::invalid_type(unexpected(&other), &"None")),
        }
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        v: V,
    ) -> Result<V::Value, ValueError> {
        self.deserialize_unit(v)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        v: V,
    ) -> Result<V::Value, ValueError> {
        v.visit_newtype_struct(self)
    }

    fn deserialize_f64<V: Visitor<'de>>(self, v: V) -> Result<V::Value, ValueError> {
        match self {
            PyValue::Int(i) => v.visit_f64(i as f64),
            other => other.deserialize_any(v),
        }
    }

    fn deserialize_f32<V: Visitor<'de>>(self, v: V) -> Result<V::Value, ValueError> {
        self.deserialize_f64(v)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, v: V) -> Result<V::Value, ValueError> {
        match self {
            PyValue::Bytes(b) => v.visit_byte_buf(b),
            other => other.deserialize_any(v),
        }
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, v: V) -> Result<V::Value, ValueError> {
        self.deserialize_bytes(v)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, ValueError> {
        match self {
            PyValue::Str(name) => v.visit_enum(name.into_deserializer()),
            PyValue::Dict(mut d) if d.len() == 1 => {
                let (k, val) = d.pop().unwrap_or((PyValue::None, PyValue::None));
                v.visit_enum(Enum {
                    name: k,
                    value: val,
                })
            }
            other => Err(de::Error::invalid_type(
                unexpected(&other),
                &"a variant name or a one-entry dict",
            )),
        }
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 char str string
        seq tuple tuple_struct map struct identifier ignored_any
    }
}

struct Enum {
    name: PyValue,
    value: PyValue,
}

impl<'de> de::EnumAccess<'de> for Enum {
    type Error = ValueError;
    type Variant = PyValue;

    fn variant_seed<S: de::DeserializeSeed<'de>>(
        self,
        seed: S,
    ) -> Result<(S::Value, PyValue), ValueError> {
        Ok((seed.deserialize(self.name)?, self.value))
    }
}

impl<'de> de::VariantAccess<'de> for PyValue {
    type Error = ValueError;

    fn unit_variant(self) -> Result<(), ValueError> {
        match self {
            PyValue::None => Ok(()),
            other => Err(de::Error::invalid_type(unexpected(&other), &"unit variant")),
        }
    }

    fn newtype_variant_seed<S: de::DeserializeSeed<'de>>(
        self,
        seed: S,
    ) -> Result<S::Value, ValueError> {
        seed.deserialize(self)
    }

    fn tuple_variant<V: Visitor<'de>>(self, _: usize, v: V) -> Result<V::Value, ValueError> {
        de::Deserializer::deserialize_any(self, v)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, ValueError> {
        de::Deserializer::deserialize_any(self, v)
    }
}

impl<'de> IntoDeserializer<'de, ValueError> for PyValue {
    type Deserializer = PyValue;
    fn into_deserializer(self) -> PyValue {
        self
    }
}

/// Any self-describing data becomes a `PyValue` (JSON, or a `PyValue` itself).
impl<'de> de::Deserialize<'de> for PyValue {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<PyValue, D::Error> {
        d.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = PyValue;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<PyValue, E> {
        Ok(PyValue::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<PyValue, E> {
        Ok(PyValue::Int(v.into()))
    }
    fn visit_i128<E>(self, v: i128) -> Result<PyValue, E> {
        Ok(PyValue::Int(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<PyValue, E> {
        Ok(PyValue::Int(v.into()))
    }
    fn visit_f64<E>(self, v: f64) -> Result<PyValue, E> {
        Ok(PyValue::Float(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<PyValue, E> {
        Ok(PyValue::str(v))
    }
    fn visit_string<E>(self, v: String) -> Result<PyValue, E> {
        Ok(PyValue::Str(v))
    }
    fn visit_bytes<E>(self, v: &[u8]) -> Result<PyValue, E> {
        Ok(PyValue::Bytes(v.to_vec()))
    }
    fn visit_byte_buf<E>(self, v: Vec<u8>) -> Result<PyValue, E> {
        Ok(PyValue::Bytes(v))
    }
    fn visit_none<E>(self) -> Result<PyValue, E> {
        Ok(PyValue::None)
    }
    fn visit_unit<E>(self) -> Result<PyValue, E> {
        Ok(PyValue::None)
    }
    fn visit_some<D: de::Deserializer<'de>>(self, d: D) -> Result<PyValue, D::Error> {
        let inner = d.deserialize_any(ValueVisitor)?;
        Ok(match inner {
            PyValue::None | PyValue::Some(_) => PyValue::Some(Box::new(inner)),
            other => other,
        })
    }
    fn visit_seq<A: de::SeqAccess<'de>>(self, mut a: A) -> Result<PyValue, A::Error> {
        let mut v = Vec::with_capacity(a.size_hint().unwrap_or(0).min(4096));
        while let Some(x) = a.next_element()? {
            v.push(x);
        }
        Ok(PyValue::List(v))
    }
    fn visit_map<A: de::MapAccess<'de>>(self, mut a: A) -> Result<PyValue, A::Error> {
        let mut d = Vec::with_capacity(a.size_hint().unwrap_or(0).min(4096));
        while let Some(kv) = a.next_entry()? {
            d.push(kv);
        }
        Ok(PyValue::Dict(d))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ser::to_value;
    use serde::{Deserialize, Serialize};
    use std::collections::BTreeMap;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    enum E {
        Unit,
        New(u64),
        Tup(i8, String),
        Rec { a: Option<Option<u32>>, b: Vec<u8> },
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct S {
        id: u64,
        big: u128,
        name: String,
        e: Vec<E>,
        m: BTreeMap<String, (f32, bool)>,
        unit: (),
        nested: Option<Option<Option<()>>>,
    }

    #[test]
    fn rust_values_round_trip_without_loss() {
        let s = S {
            id: u64::MAX,
            big: u128::from(u64::MAX) * 3,
            name: "x".into(),
            e: vec![
                E::Unit,
                E::New(7),
                E::Tup(-1, "t".into()),
                E::Rec {
                    a: Some(None),
                    b: vec![1, 2],
                },
                E::Rec { a: None, b: vec![] },
            ],
            m: [("k".to_string(), (0.5, true))].into(),
            unit: (),
            nested: Some(Some(None)),
        };
        let v = to_value(&s).unwrap();
        let back: S = from_value(v.clone()).unwrap();
        assert_eq!(back, s);
    }

    #[test]
    fn pickle_keeps_wide_integers_and_enums_but_not_nested_options() {
        let v = to_value(&(u64::MAX, E::Tup(-1, "t".into()), Some(None::<u8>))).unwrap();
        let p = crate::pickle::loads(&crate::pickle::dumps(&v).unwrap()).unwrap();
        let (a, e, n): (u64, E, Option<Option<u8>>) = from_value(p).unwrap();
        assert_eq!((a, e), (u64::MAX, E::Tup(-1, "t".into())));
        assert_eq!(n, None, "Python has one None: Some(None) arrives as None");
    }

    #[test]
    fn python_shapes_read_leniently() {
        let f: f64 = from_value(PyValue::Int(3)).unwrap();
        assert_eq!(f, 3.0);
        let t: (u8, String) =
            from_value(PyValue::List(vec![PyValue::Int(1), PyValue::str("a")])).unwrap();
        assert_eq!(t, (1, "a".into()));
        let e: Result<u8, _> = from_value(PyValue::Int(300));
        assert!(e.is_err());
    }
}
