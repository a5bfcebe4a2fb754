//! [`ListItem`]: one item of a [`ShareableList`](crate::ShareableList).

/// One item of a [`ShareableList`](crate::ShareableList): the Python types it holds.
///
/// | Python | `ListItem` | stored as (Python's `struct` format) |
/// |---|---|---|
/// | `int` (64-bit) | [`Int`](Self::Int) | `q` |
/// | `float` | [`Float`](Self::Float) | `d` |
/// | `bool` | [`Bool`](Self::Bool) | `xxxxxxx?` |
/// | `str` | [`Str`](Self::Str) | `<room>s`, UTF-8 |
/// | `bytes` | [`Bytes`](Self::Bytes) | `<room>s` |
/// | `None` | [`None`](Self::None) | `xxxxxx?x` |
///
/// Plain values convert with `into()`: `7`, `2.5`, `true`, `"text"`, `b"bytes"`,
/// `vec![1u8, 2]`, `String`.
///
/// Equality is Rust's: `Int(1)`, `Float(1.0)` and `Bool(true)` are three different items (in
/// Python `1 == 1.0 == True`, so `count(1)` counts all three).
#[derive(Debug, Clone, PartialEq)]
pub enum ListItem {
    /// A 64-bit signed integer (Python's `int` within `struct`'s `q`).
    Int(i64),
    /// A double (Python's `float`).
    Float(f64),
    /// Python's `bool`.
    Bool(bool),
    /// Text (Python's `str`), stored as UTF-8. Trailing NUL characters are lost, as in Python.
    Str(String),
    /// Bytes (Python's `bytes`). Trailing zero bytes are lost, as in Python.
    Bytes(Vec<u8>),
    /// Python's `None`.
    None,
}

impl ListItem {
    /// The integer, if this is an [`Int`](Self::Int).
    pub fn as_int(&self) -> Option<i64> {
        match self {
            ListItem::Int(v) => Some(*v),
            _ => None,
        }
    }

    /// The float, if this is a [`Float`](Self::Float).
    pub fn as_float(&self) -> Option<f64> {
        match self {
            ListItem::Float(v) => Some(*v),
            _ => None,
        }
    }

    /// The boolean, if this is a [`Bool`](Self::Bool).
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            ListItem::Bool(v) => Some(*v),
            _ => None,
        }
    }

    /// The text, if this is a [`Str`](Self::Str).
    pub fn as_str(&self) -> Option<&str> {
        match self {
            ListItem::Str(v) => Some(v),
            _ => None,
        }
    }

    /// The bytes, if this is a [`Bytes`](Self::Bytes).
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            ListItem::Bytes(v) => Some(v),
            _ => None,
        }
    }

    /// Whether this is [`None`](Self::None).
    pub fn is_none(&self) -> bool {
        matches!(self, ListItem::None)
    }
}

macro_rules! from_int {
    ($($t:ty),*) => {
        $(
            impl From<$t> for ListItem {
                fn from(v: $t) -> Self {
                    ListItem::Int(i64::from(v))
                }
            }
        )*
    };
}

from_int!(i8, i16, i32, i64, u8, u16, u32);

impl From<f64> for ListItem {
    fn from(v: f64) -> Self {
        ListItem::Float(v)
    }
}

impl From<f32> for ListItem {
    fn from(v: f32) -> Self {
        ListItem::Float(f64::from(v))
    }
}

impl From<bool> for ListItem {
    fn from(v: bool) -> Self {
        ListItem::Bool(v)
    }
}

impl From<&str> for ListItem {
    fn from(v: &str) -> Self {
        ListItem::Str(v.to_string())
    }
}

impl From<String> for ListItem {
    fn from(v: String) -> Self {
        ListItem::Str(v)
    }
}

impl From<&[u8]> for ListItem {
    fn from(v: &[u8]) -> Self {
        ListItem::Bytes(v.to_vec())
    }
}

impl<const N: usize> From<&[u8; N]> for ListItem {
    fn from(v: &[u8; N]) -> Self {
        ListItem::Bytes(v.to_vec())
    }
}

impl From<Vec<u8>> for ListItem {
    fn from(v: Vec<u8>) -> Self {
        ListItem::Bytes(v)
    }
}

impl<T: Into<ListItem>> From<Option<T>> for ListItem {
    fn from(v: Option<T>) -> Self {
        v.map_or(ListItem::None, Into::into)
    }
}
