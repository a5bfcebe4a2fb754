//! [`Value`]: one XML-RPC value of any type.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Visitor};
use serde::ser::{SerializeMap, SerializeSeq};

use crate::DateTime;

/// One XML-RPC value, of any of the types the spec and Python's extensions define.
///
/// | variant | XML-RPC | Python (`xmlrpc.client`) |
/// |---|---|---|
/// | `Int(i32)` | `<int>` / `<i4>` | `int` |
/// | `I8(i64)` | `<i8>` (extension) | `int` |
/// | `Bool` | `<boolean>` | `bool` |
/// | `String` | `<string>` or bare text | `str` |
/// | `Double` | `<double>` | `float` |
/// | `DateTime` | `<dateTime.iso8601>` | `xmlrpc.client.DateTime` |
/// | `Base64` | `<base64>` | `xmlrpc.client.Binary` / `bytes` |
/// | `Struct` | `<struct>` | `dict` with `str` keys |
/// | `Array` | `<array>` | `list` / `tuple` |
/// | `Nil` | `<nil/>` (extension) | `None` (needs `allow_none`) |
///
/// Most programs never build a `Value` by hand: [`to_value`](crate::to_value) and
/// [`from_value`](crate::from_value) convert any serde type, and the client and server do that
/// for you. `Value` is for when the shape is not known in advance.
///
/// ```
/// use multiproc_rpc::Value;
/// let v = Value::from(vec![Value::from(1), Value::from("two"), Value::Nil]);
/// assert_eq!(v.to_string(), r#"[1, "two", None]"#);
/// assert_eq!(v.as_array().unwrap()[0].as_i64(), Some(1));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// `<int>` or `<i4>`: a 32-bit signed integer.
    Int(i32),
    /// `<i8>`: a 64-bit signed integer (an extension that Python reads; Python itself never
    /// sends it, and [`to_value`](crate::to_value) uses it only when `<int>` cannot hold the
    /// number).
    I8(i64),
    /// `<boolean>`: `0` or `1`.
    Bool(bool),
    /// `<string>`, or text directly inside `<value>`.
    String(String),
    /// `<double>`.
    Double(f64),
    /// `<dateTime.iso8601>`.
    DateTime(DateTime),
    /// `<base64>`: bytes.
    Base64(Vec<u8>),
    /// `<struct>`: named members.
    Struct(BTreeMap<String, Value>),
    /// `<array>`.
    Array(Vec<Value>),
    /// `<nil/>` (an extension: Python's `None`, sent only with `allow_none`).
    Nil,
}

impl Value {
    /// The XML-RPC type name: `int`, `i8`, `boolean`, `string`, `double`, `dateTime.iso8601`,
    /// `base64`, `struct`, `array` or `nil`.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Int(_) => "int",
            Value::I8(_) => "i8",
            Value::Bool(_) => "boolean",
            Value::String(_) => "string",
            Value::Double(_) => "double",
            Value::DateTime(_) => "dateTime.iso8601",
            Value::Base64(_) => "base64",
            Value::Struct(_) => "struct",
            Value::Array(_) => "array",
            Value::Nil => "nil",
        }
    }

    /// The integer, for `Int` and `I8`.
    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            Value::Int(i) => Some(i.into()),
            Value::I8(i) => Some(i),
            _ => None,
        }
    }

    /// The number, for `Double`, `Int` and `I8`.
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            Value::Double(d) => Some(d),
            Value::Int(i) => Some(i.into()),
            Value::I8(i) => Some(i as f64),
            _ => None,
        }
    }

    /// The boolean, for `Bool`.
    pub fn as_bool(&self) -> Option<bool> {
        match *self {
            Value::Bool(b) => Some(b),
            _ => None,
        }
    }

    /// The text, for `String`.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The bytes, for `Base64`.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Base64(b) => Some(b),
            _ => None,
        }
    }

    /// The elements, for `Array`.
    pub fn as_array(&self) -> Option<&[Value]> {
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }

    /// The members, for `Struct`.
    pub fn as_struct(&self) -> Option<&BTreeMap<String, Value>> {
        match self {
            Value::Struct(s) => Some(s),
            _ => None,
        }
    }

    /// The date and time, for `DateTime`.
    pub fn as_datetime(&self) -> Option<DateTime> {
        match self {
            Value::DateTime(t) => Some(*t),
            _ => None,
        }
    }

    /// Whether this is `Nil`.
    pub fn is_nil(&self) -> bool {
        matches!(self, Value::Nil)
    }

    /// Whether `Nil` occurs anywhere in this value.
    pub(crate) fn contains_nil(&self) -> bool {
        match self {
            Value::Nil => true,
            Value::Array(a) => a.iter().any(Value::contains_nil),
            Value::Struct(s) => s.values().any(Value::contains_nil),
            _ => false,
        }
    }
}

/// Prints the value the way Python's `repr` would print what `xmlrpc.client` makes of it
/// (strings in double quotes).
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Int(i) => write!(f, "{i}"),
            Value::I8(i) => write!(f, "{i}"),
            Value::Bool(b) => f.write_str(if *b { "True" } else { "False" }),
            Value::String(s) => write!(f, "{s:?}"),
            Value::Double(d) => write!(f, "{d:?}"),
            Value::DateTime(t) => write!(f, "<DateTime {:?}>", t.to_string()),
            Value::Base64(b) => write!(f, "b{:?}", String::from_utf8_lossy(b)),
            Value::Array(a) => {
                f.write_str("[")?;
                for (i, v) in a.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{v}")?;
                }
                f.write_str("]")
            }
            Value::Struct(s) => {
                f.write_str("{")?;
                for (i, (k, v)) in s.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{k:?}: {v}")?;
                }
                f.write_str("}")
            }
            Value::Nil => f.write_str("None"),
        }
    }
}

macro_rules! from_int {
    ($($t:ty),*) => {$(
        impl From<$t> for Value {
            fn from(v: $t) -> Self {
                Value::Int(v.into())
            }
        }
    )*};
}
from_int!(i8, i16, i32, u8, u16);

macro_rules! from_wide_int {
    ($($t:ty),*) => {$(
        /// `Int` when the number fits in 32 bits, `I8` otherwise.
        impl From<$t> for Value {
            fn from(v: $t) -> Self {
                match i32::try_from(v) {
                    Ok(i) => Value::Int(i),
                    Err(_) => Value::I8(v.into()),
                }
            }
        }
    )*};
}
from_wide_int!(i64, u32);

impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Bool(v)
    }
}
impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::Double(v)
    }
}
impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::String(v.to_string())
    }
}
impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::String(v)
    }
}
impl From<DateTime> for Value {
    fn from(v: DateTime) -> Self {
        Value::DateTime(v)
    }
}
impl From<Vec<Value>> for Value {
    fn from(v: Vec<Value>) -> Self {
        Value::Array(v)
    }
}
impl From<BTreeMap<String, Value>> for Value {
    fn from(v: BTreeMap<String, Value>) -> Self {
        Value::Struct(v)
    }
}
impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Nil, Into::into)
    }
}

impl serde::Serialize for Value {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Int(i) => s.serialize_i32(*i),
            Value::I8(i) => s.serialize_i64(*i),
            Value::Bool(b) => s.serialize_bool(*b),
            Value::String(v) => s.serialize_str(v),
            Value::Double(d) => s.serialize_f64(*d),
            Value::DateTime(t) => t.serialize(s),
            Value::Base64(b) => s.serialize_bytes(b),
            Value::Struct(m) => {
                let mut map = s.serialize_map(Some(m.len()))?;
                for (k, v) in m {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
            Value::Array(a) => {
                let mut seq = s.serialize_seq(Some(a.len()))?;
                for v in a {
                    seq.serialize_element(v)?;
                }
                seq.end()
            }
            Value::Nil => s.serialize_unit(),
        }
    }
}

/// Any self-describing format becomes a `Value`. (A `dateTime.iso8601` that reaches a `Value`
/// through a user's own struct arrives as its text; [`from_value`](crate::from_value) straight
/// into `Value` keeps it as it is.)
impl<'de> serde::Deserialize<'de> for Value {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any XML-RPC value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(v.into())
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        i64::try_from(v)
            .map(Value::from)
            .map_err(|_| E::custom("int exceeds XML-RPC limits"))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Double(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_bytes<E>(self, v: &[u8]) -> Result<Value, E> {
        Ok(Value::Base64(v.to_vec()))
    }
    fn visit_byte_buf<E>(self, v: Vec<u8>) -> Result<Value, E> {
        Ok(Value::Base64(v))
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Nil)
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Nil)
    }
    fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_newtype_struct<D: serde::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut v = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(x) = seq.next_element()? {
            v.push(x);
        }
        Ok(Value::Array(v))
    }
    fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut m = BTreeMap::new();
        while let Some((k, v)) = map.next_entry::<String, Value>()? {
            m.insert(k, v);
        }
        Ok(Value::Struct(m))
    }
}
