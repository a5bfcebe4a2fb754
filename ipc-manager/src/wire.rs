//! [`PyValue`]s between Rust peers: postcard, losslessly, with a depth limit on decoding.
//!
//! `PyValue`'s own `Serialize` is the plain data (for JSON and for [`to_value`](crate::to_value));
//! postcard is not self-describing, so between Rust peers a value travels as [`Wire`]: a tagged
//! enum, variant by variant.

use std::fmt;

use serde::de::{self, DeserializeSeed, EnumAccess, SeqAccess, VariantAccess, Visitor};
use serde::ser::{SerializeSeq, SerializeTuple};
use serde::{Deserializer, Serialize, Serializer};

use crate::pickle::MAX_DEPTH;
use crate::value::{PyClass, PyObject, PyValue};

/// A `PyValue` in its postcard form.
pub(crate) struct Wire<'a>(pub &'a PyValue);

const VARIANTS: &[&str] = &[
    "None",
    "Bool",
    "Int",
    "Float",
    "Str",
    "Bytes",
    "List",
    "Tuple",
    "Dict",
    "Set",
    "FrozenSet",
    "Some",
    "Object",
];

struct Items<'a>(&'a [PyValue]);

impl Serialize for Items<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut q = s.serialize_seq(Some(self.0.len()))?;
        for x in self.0 {
            q.serialize_element(&Wire(x))?;
        }
        q.end()
    }
}

struct Pairs<'a>(&'a [(PyValue, PyValue)]);

impl Serialize for Pairs<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut q = s.serialize_seq(Some(self.0.len()))?;
        for (k, v) in self.0 {
            q.serialize_element(&(Wire(k), Wire(v)))?;
        }
        q.end()
    }
}

struct Obj<'a>(&'a PyObject);

impl Serialize for Obj<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut t = s.serialize_tuple(4)?;
        t.serialize_element(self.0.class.module())?;
        t.serialize_element(self.0.class.name())?;
        t.serialize_element(&Items(&self.0.args))?;
        t.serialize_element(&self.0.state.as_deref().map(Wire))?;
        t.end()
    }
}

impl Serialize for Wire<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let n = "PyValue";
        match self.0 {
            PyValue::None => s.serialize_unit_variant(n, 0, "None"),
            PyValue::Bool(b) => s.serialize_newtype_variant(n, 1, "Bool", b),
            PyValue::Int(i) => s.serialize_newtype_variant(n, 2, "Int", i),
            PyValue::Float(f) => s.serialize_newtype_variant(n, 3, "Float", f),
            PyValue::Str(x) => s.serialize_newtype_variant(n, 4, "Str", x),
            PyValue::Bytes(b) => s.serialize_newtype_variant(n, 5, "Bytes", &Bytes(b)),
            PyValue::List(v) => s.serialize_newtype_variant(n, 6, "List", &Items(v)),
            PyValue::Tuple(v) => s.serialize_newtype_variant(n, 7, "Tuple", &Items(v)),
            PyValue::Dict(d) => s.serialize_newtype_variant(n, 8, "Dict", &Pairs(d)),
            PyValue::Set(v) => s.serialize_newtype_variant(n, 9, "Set", &Items(v)),
            PyValue::FrozenSet(v) => s.serialize_newtype_variant(n, 10, "FrozenSet", &Items(v)),
            PyValue::Some(inner) => s.serialize_newtype_variant(n, 11, "Some", &Wire(inner)),
            PyValue::Object(o) => s.serialize_newtype_variant(n, 12, "Object", &Obj(o)),
        }
    }
}

struct Bytes<'a>(&'a [u8]);

impl Serialize for Bytes<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(self.0)
    }
}

/// Decodes a `PyValue` nested at most [`MAX_DEPTH`] levels below `depth`.
#[derive(Clone, Copy)]
pub(crate) struct WireSeed {
    pub depth: usize,
}

impl WireSeed {
    fn deeper<E: de::Error>(self) -> Result<WireSeed, E> {
        if self.depth >= MAX_DEPTH {
            return Err(E::custom("value nests too deeply"));
        }
        Ok(WireSeed {
            depth: self.depth + 1,
        })
    }
}

impl<'de> DeserializeSeed<'de> for WireSeed {
    type Value = PyValue;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<PyValue, D::Error> {
        d.deserialize_enum("PyValue", VARIANTS, self)
    }
}

impl<'de> Visitor<'de> for WireSeed {
    type Value = PyValue;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a PyValue")
    }

    fn visit_enum<A: EnumAccess<'de>>(self, a: A) -> Result<PyValue, A::Error> {
        let (tag, v): (u32, _) = a.variant()?;
        let inner = self.deeper()?;
        Ok(match tag {
            0 => {
                v.unit_variant()?;
                PyValue::None
            }
            1 => PyValue::Bool(v.newtype_variant()?),
            2 => PyValue::Int(v.newtype_variant()?),
            3 => PyValue::Float(v.newtype_variant()?),
            4 => PyValue::Str(v.newtype_variant()?),
            5 => PyValue::Bytes(v.newtype_variant_seed(BytesSeed)?),
            6 => PyValue::List(v.newtype_variant_seed(ItemsSeed(inner))?),
            7 => PyValue::Tuple(v.newtype_variant_seed(ItemsSeed(inner))?),
            8 => PyValue::Dict(v.newtype_variant_seed(PairsSeed(inner))?),
            9 => PyValue::Set(v.newtype_variant_seed(ItemsSeed(inner))?),
            10 => PyValue::FrozenSet(v.newtype_variant_seed(ItemsSeed(inner))?),
            11 => PyValue::Some(Box::new(v.newtype_variant_seed(inner)?)),
            12 => PyValue::Object(v.newtype_variant_seed(ObjSeed(inner))?),
            _ => return Err(de::Error::custom("unknown PyValue variant")),
        })
    }
}

struct BytesSeed;

impl<'de> DeserializeSeed<'de> for BytesSeed {
    type Value = Vec<u8>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Vec<u8>, D::Error> {
        d.deserialize_byte_buf(self)
    }
}

impl<'de> Visitor<'de> for BytesSeed {
    type Value = Vec<u8>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("bytes")
    }
    fn visit_bytes<E>(self, v: &[u8]) -> Result<Vec<u8>, E> {
        Ok(v.to_vec())
    }
    fn visit_byte_buf<E>(self, v: Vec<u8>) -> Result<Vec<u8>, E> {
        Ok(v)
    }
}

struct ItemsSeed(WireSeed);

impl<'de> DeserializeSeed<'de> for ItemsSeed {
    type Value = Vec<PyValue>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Vec<PyValue>, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for ItemsSeed {
    type Value = Vec<PyValue>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a sequence of PyValues")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<Vec<PyValue>, A::Error> {
        let mut v = Vec::with_capacity(a.size_hint().unwrap_or(0).min(1024));
        while let Some(x) = a.next_element_seed(self.0)? {
            v.push(x);
        }
        Ok(v)
    }
}

struct PairsSeed(WireSeed);

impl<'de> DeserializeSeed<'de> for PairsSeed {
    type Value = Vec<(PyValue, PyValue)>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for PairsSeed {
    type Value = Vec<(PyValue, PyValue)>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a sequence of pairs")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<Self::Value, A::Error> {
        let mut v = Vec::with_capacity(a.size_hint().unwrap_or(0).min(1024));
        while let Some(x) = a.next_element_seed(PairSeed(self.0))? {
            v.push(x);
        }
        Ok(v)
    }
}

struct PairSeed(WireSeed);

impl<'de> DeserializeSeed<'de> for PairSeed {
    type Value = (PyValue, PyValue);
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_tuple(2, self)
    }
}

impl<'de> Visitor<'de> for PairSeed {
    type Value = (PyValue, PyValue);
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a pair")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<Self::Value, A::Error> {
        let k = a
            .next_element_seed(self.0)?
            .ok_or_else(|| de::Error::invalid_length(0, &self))?;
        let v = a
            .next_element_seed(self.0)?
            .ok_or_else(|| de::Error::invalid_length(1, &self))?;
        Ok((k, v))
    }
}

struct ObjSeed(WireSeed);

impl<'de> DeserializeSeed<'de> for ObjSeed {
    type Value = PyObject;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<PyObject, D::Error> {
        d.deserialize_tuple(4, self)
    }
}

struct OptSeed(WireSeed);

impl<'de> DeserializeSeed<'de> for OptSeed {
    type Value = Option<PyValue>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Option<PyValue>, D::Error> {
        d.deserialize_option(self)
    }
}

impl<'de> Visitor<'de> for OptSeed {
    type Value = Option<PyValue>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an optional PyValue")
    }
    fn visit_none<E>(self) -> Result<Option<PyValue>, E> {
        Ok(None)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Option<PyValue>, D::Error> {
        self.0.deserialize(d).map(Some)
    }
}

impl<'de> Visitor<'de> for ObjSeed {
    type Value = PyObject;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<PyObject, A::Error> {
        let missing = || de::Error::custom("short object");
        let module: String = a.next_element()?.ok_or_else(missing)?;
        let name: String = a.next_element()?.ok_or_else(missing)?;
        let class = PyClass::find(&module, &name)
            .ok_or_else(|| de::Error::custom("class not on the allow-list"))?;
        let args = a
            .next_element_seed(ItemsSeed(self.0))?
            .ok_or_else(missing)?;
        let state = a.next_element_seed(OptSeed(self.0))?.ok_or_else(missing)?;
        Ok(PyObject {
            class,
            args,
            state: state.map(Box::new),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(v: &PyValue) -> PyValue {
        let bytes = postcard::to_allocvec(&Wire(v)).unwrap();
        let mut d = postcard::Deserializer::from_bytes(&bytes);
        WireSeed { depth: 0 }.deserialize(&mut d).unwrap()
    }

    #[test]
    fn values_round_trip() {
        let v = PyValue::Tuple(vec![
            PyValue::Int(i128::MIN),
            PyValue::Some(Box::new(PyValue::None)),
            PyValue::Dict(vec![(PyValue::str("k"), PyValue::Bytes(vec![1, 2]))]),
            PyValue::exception(PyClass::INDEX_ERROR, "list index out of range"),
            PyValue::Set(vec![PyValue::Float(0.5)]),
        ]);
        let back = round_trip(&v);
        assert_eq!(back, v);
        assert_eq!(format!("{back:?}"), format!("{v:?}"));
    }

    #[test]
    fn deep_nesting_is_refused_not_a_stack_overflow() {
        // List(List(List(...))) 100,000 deep: tag 6, length 1, repeated.
        let mut bytes = Vec::new();
        for _ in 0..100_000 {
            bytes.extend_from_slice(&[6, 1]);
        }
        bytes.push(0);
        let mut d = postcard::Deserializer::from_bytes(&bytes);
        assert!(WireSeed { depth: 0 }.deserialize(&mut d).is_err());
    }
}

#[cfg(test)]
mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// A Rust peer's bytes, random: an error or a value, never a panic.
        #[test]
        fn random_postcard_never_panics(b in proptest::collection::vec(any::<u8>(), 0..512)) {
            let mut d = postcard::Deserializer::from_bytes(&b);
            let _ = WireSeed { depth: 0 }.deserialize(&mut d);
            let _ = crate::protocol::Codec::Postcard.decode_request(&b);
            let _ = crate::protocol::Codec::Postcard.decode_reply(&b);
            let _ = crate::protocol::decode_hello(&b);
        }

        /// Requests in pickle, random: never a panic.
        #[test]
        fn random_pickled_requests_never_panic(b in proptest::collection::vec(any::<u8>(), 0..256)) {
            let mut p = vec![0x80, 4];
            p.extend_from_slice(&b);
            let _ = crate::protocol::Codec::Pickle.decode_request(&p);
            let _ = crate::protocol::Codec::Pickle.decode_reply(&p);
        }
    }
}
