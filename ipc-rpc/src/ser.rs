//! [`to_value`]: any `Serialize` type into a [`Value`].

use std::cell::Cell;
use std::collections::BTreeMap;

use serde::ser::{self, Serialize};

use crate::datetime::MAGIC;
use crate::{Error, Value};

/// Converts any `Serialize` value into a [`Value`].
///
/// Integers become `Int` when they fit in 32 bits and `I8` otherwise; `Option::None` and `()`
/// become `Nil`; structs and maps with string keys become `Struct`; sequences and tuples
/// become `Array`; a unit enum variant becomes its name and any other variant a one-member
/// `Struct` named after it; [`DateTime`](crate::DateTime) becomes `DateTime`.
///
/// # Bytes
///
/// Bytes travel as `Base64` (Python's `Binary`, or `bytes`), with no wrapper type:
///
/// - a sequence whose elements are all `u8` (`Vec<u8>`, `&[u8]`, `Box<[u8]>`,
///   `VecDeque<u8>`) becomes `Base64`;
/// - so does anything serde serializes as bytes (`serde_bytes`, `bytes::Bytes`,
///   [`Value::Base64`]);
/// - an *empty* sequence has no element to tell, and becomes an empty `Array` (use
///   `serde_bytes` or [`Value::Base64`] to send empty bytes as `Base64`);
/// - a fixed-size array (`[u8; 4]`) and a tuple stay an `Array` of integers, and so does a
///   sequence of any wider integer: send small numbers as `Vec<u16>` or `Vec<i32>` for Python
///   to see a `list`.
///
/// Going back, [`from_value`](crate::from_value) fills a `Vec<u8>` from `Base64` and from an
/// `Array` of integers 0–255 alike.
///
/// # Errors
///
/// [`Error::Type`] for a map key that is not a string and for an unsigned integer above
/// `i64::MAX`.
///
/// ```
/// use multiproc_rpc::{to_value, Value};
///
/// #[derive(serde::Serialize)]
/// struct Point { x: i32, y: f64 }
/// let v = to_value(&Point { x: 1, y: 2.5 })?;
/// assert_eq!(v.to_string(), r#"{"x": 1, "y": 2.5}"#);
///
/// assert_eq!(to_value(&vec![0u8, 255])?, Value::Base64(vec![0, 255]));
/// assert_eq!(to_value(&b"hi"[..])?, Value::Base64(b"hi".to_vec()));
/// assert_eq!(to_value(&vec![1u16, 2])?, Value::Array(vec![Value::Int(1), Value::Int(2)]));
/// assert_eq!(to_value(&[1u8, 2])?, Value::Array(vec![Value::Int(1), Value::Int(2)]));
/// # Ok::<(), multiproc_rpc::Error>(())
/// ```
pub fn to_value<T: Serialize + ?Sized>(value: &T) -> Result<Value, Error> {
    value.serialize(ValueSerializer { saw_u8: None })
}

/// Serializes into a [`Value`]. As the serializer of a sequence's element, it notes in
/// `saw_u8` that the element was a `u8`, so that a sequence of bytes becomes `Base64`.
struct ValueSerializer<'a> {
    saw_u8: Option<&'a Cell<bool>>,
}

fn int<T: TryInto<i32> + Into<i64> + Copy>(v: T) -> Value {
    match v.try_into() {
        Ok(i) => Value::Int(i),
        Err(_) => Value::I8(v.into()),
    }
}

impl ser::Serializer for ValueSerializer<'_> {
    type Ok = Value;
    type Error = Error;
    type SerializeSeq = SeqSer;
    type SerializeTuple = SeqSer;
    type SerializeTupleStruct = SeqSer;
    type SerializeTupleVariant = VariantSer<SeqSer>;
    type SerializeMap = MapSer;
    type SerializeStruct = MapSer;
    type SerializeStructVariant = VariantSer<MapSer>;

    fn serialize_bool(self, v: bool) -> Result<Value, Error> {
        Ok(Value::Bool(v))
    }
    fn serialize_i8(self, v: i8) -> Result<Value, Error> {
        Ok(Value::Int(v.into()))
    }
    fn serialize_i16(self, v: i16) -> Result<Value, Error> {
        Ok(Value::Int(v.into()))
    }
    fn serialize_i32(self, v: i32) -> Result<Value, Error> {
        Ok(Value::Int(v))
    }
    fn serialize_i64(self, v: i64) -> Result<Value, Error> {
        Ok(int(v))
    }
    fn serialize_u8(self, v: u8) -> Result<Value, Error> {
        if let Some(saw) = self.saw_u8 {
            saw.set(true);
        }
        Ok(Value::Int(v.into()))
    }
    fn serialize_u16(self, v: u16) -> Result<Value, Error> {
        Ok(Value::Int(v.into()))
    }
    fn serialize_u32(self, v: u32) -> Result<Value, Error> {
        Ok(int(v))
    }
    fn serialize_u64(self, v: u64) -> Result<Value, Error> {
        i64::try_from(v)
            .map(int)
            .map_err(|_| Error::Type("int exceeds XML-RPC limits".into()))
    }
    fn serialize_f32(self, v: f32) -> Result<Value, Error> {
        Ok(Value::Double(v.into()))
    }
    fn serialize_f64(self, v: f64) -> Result<Value, Error> {
        Ok(Value::Double(v))
    }
    fn serialize_char(self, v: char) -> Result<Value, Error> {
        Ok(Value::String(v.to_string()))
    }
    fn serialize_str(self, v: &str) -> Result<Value, Error> {
        Ok(Value::String(v.to_string()))
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<Value, Error> {
        Ok(Value::Base64(v.to_vec()))
    }
    fn serialize_none(self) -> Result<Value, Error> {
        Ok(Value::Nil)
    }
    fn serialize_some<T: Serialize + ?Sized>(self, v: &T) -> Result<Value, Error> {
        // `Some(5u8)` is not a byte: `[Some(1), Some(2)]` stays an array.
        to_value(v)
    }
    fn serialize_unit(self) -> Result<Value, Error> {
        Ok(Value::Nil)
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<Value, Error> {
        Ok(Value::Nil)
    }
    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        v: &'static str,
    ) -> Result<Value, Error> {
        Ok(Value::String(v.to_string()))
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        v: &T,
    ) -> Result<Value, Error> {
        let inner = v.serialize(self)?;
        if name == MAGIC
            && let Value::String(s) = &inner
        {
            return Ok(Value::DateTime(s.parse()?));
        }
        Ok(inner)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        v: &T,
    ) -> Result<Value, Error> {
        let mut m = BTreeMap::new();
        m.insert(variant.to_string(), v.serialize(self)?);
        Ok(Value::Struct(m))
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<SeqSer, Error> {
        Ok(SeqSer {
            items: Vec::new(),
            bytes: Some(Vec::with_capacity(len.unwrap_or(0).min(1 << 20))),
        })
    }
    fn serialize_tuple(self, len: usize) -> Result<SeqSer, Error> {
        Ok(SeqSer::array(len))
    }
    fn serialize_tuple_struct(self, _: &'static str, len: usize) -> Result<SeqSer, Error> {
        Ok(SeqSer::array(len))
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<VariantSer<SeqSer>, Error> {
        Ok(VariantSer(variant, SeqSer::array(len)))
    }
    fn serialize_map(self, _: Option<usize>) -> Result<MapSer, Error> {
        Ok(MapSer(BTreeMap::new(), None))
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<MapSer, Error> {
        self.serialize_map(None)
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        _: usize,
    ) -> Result<VariantSer<MapSer>, Error> {
        Ok(VariantSer(variant, self.serialize_map(None)?))
    }
}

/// A sequence or tuple being serialized.
struct SeqSer {
    items: Vec<Value>,
    /// For a sequence, its elements while every one so far was a `u8` (then `items` is
    /// empty); `None` once one was not, and for tuples.
    bytes: Option<Vec<u8>>,
}

impl SeqSer {
    /// A tuple: always an array.
    fn array(len: usize) -> Self {
        SeqSer {
            items: Vec::with_capacity(len.min(4096)),
            bytes: None,
        }
    }
}

impl ser::SerializeSeq for SeqSer {
    type Ok = Value;
    type Error = Error;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Error> {
        let Some(bytes) = &mut self.bytes else {
            self.items.push(to_value(v)?);
            return Ok(());
        };
        let saw_u8 = Cell::new(false);
        let value = v.serialize(ValueSerializer {
            saw_u8: Some(&saw_u8),
        })?;
        match value {
            Value::Int(b) if saw_u8.get() => bytes.push(b as u8),
            other => {
                // Not all bytes after all: the ones so far become integers.
                self.items = bytes.drain(..).map(|b| Value::Int(b.into())).collect();
                self.items.push(other);
                self.bytes = None;
            }
        }
        Ok(())
    }
    fn end(self) -> Result<Value, Error> {
        Ok(match self.bytes {
            Some(bytes) if !bytes.is_empty() => Value::Base64(bytes),
            _ => Value::Array(self.items),
        })
    }
}
impl ser::SerializeTuple for SeqSer {
    type Ok = Value;
    type Error = Error;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Error> {
        ser::SerializeSeq::serialize_element(self, v)
    }
    fn end(self) -> Result<Value, Error> {
        ser::SerializeSeq::end(self)
    }
}
impl ser::SerializeTupleStruct for SeqSer {
    type Ok = Value;
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Error> {
        ser::SerializeSeq::serialize_element(self, v)
    }
    fn end(self) -> Result<Value, Error> {
        ser::SerializeSeq::end(self)
    }
}

struct MapSer(BTreeMap<String, Value>, Option<String>);

fn key(v: Value) -> Result<String, Error> {
    match v {
        Value::String(s) => Ok(s),
        other => Err(Error::Type(format!(
            "dictionary key must be string, not {}",
            other.type_name()
        ))),
    }
}

impl ser::SerializeMap for MapSer {
    type Ok = Value;
    type Error = Error;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, k: &T) -> Result<(), Error> {
        self.1 = Some(key(to_value(k)?)?);
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Error> {
        let k = self
            .1
            .take()
            .ok_or_else(|| Error::Type("map value without a key".into()))?;
        self.0.insert(k, to_value(v)?);
        Ok(())
    }
    fn end(self) -> Result<Value, Error> {
        Ok(Value::Struct(self.0))
    }
}
impl ser::SerializeStruct for MapSer {
    type Ok = Value;
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        k: &'static str,
        v: &T,
    ) -> Result<(), Error> {
        self.0.insert(k.to_string(), to_value(v)?);
        Ok(())
    }
    fn end(self) -> Result<Value, Error> {
        Ok(Value::Struct(self.0))
    }
}

struct VariantSer<S>(&'static str, S);

fn wrap(variant: &str, inner: Value) -> Value {
    let mut m = BTreeMap::new();
    m.insert(variant.to_string(), inner);
    Value::Struct(m)
}

impl ser::SerializeTupleVariant for VariantSer<SeqSer> {
    type Ok = Value;
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Error> {
        ser::SerializeSeq::serialize_element(&mut self.1, v)
    }
    fn end(self) -> Result<Value, Error> {
        Ok(wrap(self.0, Value::Array(self.1.items)))
    }
}
impl ser::SerializeStructVariant for VariantSer<MapSer> {
    type Ok = Value;
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        k: &'static str,
        v: &T,
    ) -> Result<(), Error> {
        ser::SerializeStruct::serialize_field(&mut self.1, k, v)
    }
    fn end(self) -> Result<Value, Error> {
        Ok(wrap(self.0, Value::Struct(self.1.0)))
    }
}
