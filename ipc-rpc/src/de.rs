//! [`from_value`]: a [`Value`] into any `Deserialize` type.

use std::any::Any;

use serde::de::value::{MapDeserializer, SeqDeserializer, StringDeserializer};
use serde::de::{self, DeserializeOwned, IntoDeserializer, Visitor};

use crate::{Error, Value};

/// Converts a [`Value`] into any `Deserialize` type.
///
/// `Int` and `I8` fill any integer type they fit in (and floats); `Nil` is `None` or `()`;
/// `Base64` fills `Vec<u8>` or a byte buffer; `Array` fills sequences and tuples; `Struct`
/// fills structs and maps; a `String` names a unit enum variant and a one-member `Struct` any
/// other variant. `from_value::<Value>` hands the value back unchanged.
///
/// # Errors
///
/// [`Error::Type`] when the value does not have the shape of `T`.
///
/// ```
/// use multiproc_rpc::{from_value, Value};
/// let v = Value::Array(vec![Value::Int(2), Value::from("three")]);
/// let (a, b): (u8, String) = from_value(v)?;
/// assert_eq!((a, b.as_str()), (2, "three"));
/// assert!(from_value::<i32>(Value::from("x")).is_err());
/// # Ok::<(), multiproc_rpc::Error>(())
/// ```
pub fn from_value<T: DeserializeOwned + 'static>(value: Value) -> Result<T, Error> {
    // A `Value` asked for a `Value`: no round trip through serde (which would turn a DateTime
    // into its text).
    let boxed: Box<dyn Any> = Box::new(value);
    match boxed.downcast::<T>() {
        Ok(t) => Ok(*t),
        Err(boxed) => {
            let value = *boxed.downcast::<Value>().expect("boxed a Value");
            T::deserialize(value)
        }
    }
}

impl<'de> IntoDeserializer<'de, Error> for Value {
    type Deserializer = Value;
    fn into_deserializer(self) -> Value {
        self
    }
}

impl<'de> de::Deserializer<'de> for Value {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        match self {
            Value::Int(i) => v.visit_i32(i),
            Value::I8(i) => v.visit_i64(i),
            Value::Bool(b) => v.visit_bool(b),
            Value::String(s) => v.visit_string(s),
            Value::Double(d) => v.visit_f64(d),
            Value::DateTime(t) => v.visit_string(t.to_string()),
            Value::Base64(b) => v.visit_byte_buf(b),
            Value::Struct(m) => {
                let mut d = MapDeserializer::new(m.into_iter());
                let r = v.visit_map(&mut d)?;
                d.end()?;
                Ok(r)
            }
            Value::Array(a) => {
                let mut d = SeqDeserializer::new(a.into_iter());
                let r = v.visit_seq(&mut d)?;
                d.end()?;
                Ok(r)
            }
            Value::Nil => v.visit_unit(),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        match self {
            Value::Nil => v.visit_none(),
            other => v.visit_some(other),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        v: V,
    ) -> Result<V::Value, Error> {
        v.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        match self {
            // `Vec<u8>` asks for a sequence: give it the bytes.
            Value::Base64(b) => {
                let mut d = SeqDeserializer::<_, Error>::new(b.into_iter());
                let r = v.visit_seq(&mut d)?;
                d.end()?;
                Ok(r)
            }
            other => other.deserialize_any(v),
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, _: usize, v: V) -> Result<V::Value, Error> {
        self.deserialize_seq(v)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, Error> {
        match self {
            Value::String(s) => v.visit_enum(StringDeserializer::<Error>::new(s)),
            Value::Struct(m) if m.len() == 1 => {
                let (variant, value) = m.into_iter().next().expect("one member");
                v.visit_enum(EnumDe { variant, value })
            }
            other => Err(Error::Type(format!(
                "expected an enum (a string or a one-member struct), got {}",
                other.type_name()
            ))),
        }
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct tuple_struct map struct identifier ignored_any
    }
}

struct EnumDe {
    variant: String,
    value: Value,
}

impl<'de> de::EnumAccess<'de> for EnumDe {
    type Error = Error;
    type Variant = Value;
    fn variant_seed<S: de::DeserializeSeed<'de>>(
        self,
        seed: S,
    ) -> Result<(S::Value, Value), Error> {
        let v = seed.deserialize(StringDeserializer::<Error>::new(self.variant))?;
        Ok((v, self.value))
    }
}

impl<'de> de::VariantAccess<'de> for Value {
    type Error = Error;
    fn unit_variant(self) -> Result<(), Error> {
        Ok(())
    }
    fn newtype_variant_seed<S: de::DeserializeSeed<'de>>(self, seed: S) -> Result<S::Value, Error> {
        seed.deserialize(self)
    }
    fn tuple_variant<V: Visitor<'de>>(self, _: usize, v: V) -> Result<V::Value, Error> {
        de::Deserializer::deserialize_seq(self, v)
    }
    fn struct_variant<V: Visitor<'de>>(
        self,
        _: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, Error> {
        de::Deserializer::deserialize_any(self, v)
    }
}
