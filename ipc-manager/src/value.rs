//! [`PyValue`]: a value as the manager holds it and moves it, in Python's data model.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};

/// A value as a manager holds it: Python's plain data types, plus the few Python classes the
/// manager protocol needs ([`PyObject`]).
///
/// Every object a manager serves is made of these, whoever created it, so a Python client and a
/// Rust client see the same list. A Rust value becomes a `PyValue` through its `Serialize`
/// ([`to_value`](crate::to_value)) and comes back through its `Deserialize`
/// ([`from_value`](crate::from_value)), with the mapping serde users know from JSON: a struct is
/// a dict of its fields, a unit variant is its name, other variants a one-entry dict. Unlike
/// serde's usual Python mapping it loses nothing: integers are 128-bit (`u64::MAX` survives), and
/// a `Some` whose content is itself `None` or a `Some` is kept as [`PyValue::Some`].
///
/// Equality, ordering and hashing follow Python where Python defines them: `True == 1 == 1.0`
/// (so they are one dict key), numbers compare by value. Values of kinds Python does not order
/// against each other (a string and a number) are ordered by kind — `None`, numbers, strings,
/// bytes, tuples, lists, dicts, sets, objects — so that a `BTreeMap<PyValue, _>` works.
///
/// `Display` is Python's `repr` (`['a', None]`); `Debug` is Rust's (`["a", None]`).
#[derive(Clone)]
#[non_exhaustive]
pub enum PyValue {
    /// `None` (and Rust's `()`, unit structs and `None`).
    None,
    /// `True` / `False`.
    Bool(bool),
    /// An `int` that fits in 128 bits (every Rust integer does).
    Int(i128),
    /// A `float`.
    Float(f64),
    /// A `str`.
    Str(String),
    /// `bytes` (and `bytearray`, which arrives as bytes).
    Bytes(Vec<u8>),
    /// A `list`.
    List(Vec<PyValue>),
    /// A `tuple`.
    Tuple(Vec<PyValue>),
    /// A `dict`, in insertion order.
    Dict(Vec<(PyValue, PyValue)>),
    /// A `set`.
    Set(Vec<PyValue>),
    /// A `frozenset`.
    FrozenSet(Vec<PyValue>),
    /// A Rust `Some(x)` where `x` is itself `None` or a `Some` (`Option<Option<T>>`); Python
    /// sees `x`.
    Some(Box<PyValue>),
    /// An instance of one of the few classes the manager protocol carries (exceptions,
    /// `queue.Empty`, `multiprocessing.managers.Token`, `slice`).
    Object(PyObject),
}

/// An instance of an allow-listed Python class: the arguments it is built from, as pickle
/// carries them (`KeyError('x')` is `KeyError` with args `('x',)`).
#[derive(Clone, PartialEq)]
pub struct PyObject {
    /// The class.
    pub class: PyClass,
    /// The arguments (`exc.args` for an exception; `(typeid, address, id)` for a `Token`;
    /// `(start, stop, step)` for a slice).
    pub args: Vec<PyValue>,
    /// The instance state pickle sets after construction (an exception's `__dict__`), if any.
    pub state: Option<Box<PyValue>>,
}

impl PyObject {
    /// An instance of `class` built from `args`.
    pub fn new(class: PyClass, args: Vec<PyValue>) -> PyObject {
        PyObject {
            class,
            args,
            state: None,
        }
    }

    /// The text Python's `str(exc)` gives for an exception with these args.
    pub fn message(&self) -> String {
        match self.args.as_slice() {
            [] => String::new(),
            [PyValue::Str(s)] if self.class != PyClass::KEY_ERROR => s.clone(),
            [one] => one.to_string(),
            many => PyValue::Tuple(many.to_vec()).to_string(),
        }
    }
}

impl fmt::Debug for PyObject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.class.name)?;
        let mut t = f.debug_tuple("");
        for a in &self.args {
            t.field(a);
        }
        t.finish()
    }
}

/// A Python class on the manager's allow-list: the only globals its pickle reader accepts and
/// its writer emits. Reading one never imports or runs anything; it only names the class.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PyClass {
    module: &'static str,
    name: &'static str,
    kind: ClassKind,
}

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub(crate) enum ClassKind {
    /// Built by `REDUCE` from its args (exceptions, `slice`).
    Reduce,
    /// Built by `NEWOBJ` then `BUILD` with its state (`Token`).
    NewObjState,
}

macro_rules! classes {
    ($($konst:ident = $module:literal . $name:literal, $kind:ident;)*) => {
        impl PyClass {
            $(
                #[doc = concat!("`", $module, ".", $name, "`.")]
                pub const $konst: PyClass =
                    PyClass { module: $module, name: $name, kind: ClassKind::$kind };
            )*
            const ALL: &'static [PyClass] = &[$(PyClass::$konst),*];
        }
    };
}

classes! {
    BASE_EXCEPTION = "builtins"."BaseException", Reduce;
    EXCEPTION = "builtins"."Exception", Reduce;
    ARITHMETIC_ERROR = "builtins"."ArithmeticError", Reduce;
    ASSERTION_ERROR = "builtins"."AssertionError", Reduce;
    ATTRIBUTE_ERROR = "builtins"."AttributeError", Reduce;
    BUFFER_ERROR = "builtins"."BufferError", Reduce;
    EOF_ERROR = "builtins"."EOFError", Reduce;
    INDEX_ERROR = "builtins"."IndexError", Reduce;
    KEY_ERROR = "builtins"."KeyError", Reduce;
    LOOKUP_ERROR = "builtins"."LookupError", Reduce;
    MEMORY_ERROR = "builtins"."MemoryError", Reduce;
    NAME_ERROR = "builtins"."NameError", Reduce;
    NOT_IMPLEMENTED_ERROR = "builtins"."NotImplementedError", Reduce;
    OS_ERROR = "builtins"."OSError", Reduce;
    OVERFLOW_ERROR = "builtins"."OverflowError", Reduce;
    RECURSION_ERROR = "builtins"."RecursionError", Reduce;
    RUNTIME_ERROR = "builtins"."RuntimeError", Reduce;
    STOP_ITERATION = "builtins"."StopIteration", Reduce;
    TYPE_ERROR = "builtins"."TypeError", Reduce;
    UNICODE_ERROR = "builtins"."UnicodeError", Reduce;
    VALUE_ERROR = "builtins"."ValueError", Reduce;
    ZERO_DIVISION_ERROR = "builtins"."ZeroDivisionError", Reduce;
    TIMEOUT_ERROR = "builtins"."TimeoutError", Reduce;
    CONNECTION_ERROR = "builtins"."ConnectionError", Reduce;
    BROKEN_PIPE_ERROR = "builtins"."BrokenPipeError", Reduce;
    FILE_NOT_FOUND_ERROR = "builtins"."FileNotFoundError", Reduce;
    PERMISSION_ERROR = "builtins"."PermissionError", Reduce;
    QUEUE_EMPTY = "queue"."Empty", Reduce;
    QUEUE_FULL = "queue"."Full", Reduce;
    BROKEN_BARRIER_ERROR = "threading"."BrokenBarrierError", Reduce;
    SLICE = "builtins"."slice", Reduce;
    TOKEN = "multiprocessing.managers"."Token", NewObjState;
}

impl PyClass {
    /// The allow-listed class `module.name`, if it is one. `_queue.Empty` (what CPython 3.11
    /// pickles `queue.Empty` as) is `queue.Empty`.
    pub fn find(module: &str, name: &str) -> Option<PyClass> {
        let module = if module == "_queue" { "queue" } else { module };
        PyClass::ALL
            .iter()
            .copied()
            .find(|c| c.module == module && c.name == name)
    }

    /// The class's module (`builtins`).
    pub fn module(&self) -> &'static str {
        self.module
    }

    /// The class's name (`KeyError`).
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Whether instances are exceptions.
    pub fn is_exception(&self) -> bool {
        self.kind == ClassKind::Reduce && *self != PyClass::SLICE
    }

    pub(crate) fn kind(&self) -> ClassKind {
        self.kind
    }
}

impl fmt::Debug for PyClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.module, self.name)
    }
}

impl PyValue {
    /// A `str`.
    pub fn str(s: impl Into<String>) -> PyValue {
        PyValue::Str(s.into())
    }

    /// An exception of class `class` with one message argument.
    pub fn exception(class: PyClass, message: impl Into<String>) -> PyValue {
        PyValue::Object(PyObject::new(class, vec![PyValue::Str(message.into())]))
    }

    /// Python's type name for the value (`'list'`), as error messages print it.
    pub fn type_name(&self) -> &'static str {
        match self {
            PyValue::None => "NoneType",
            PyValue::Bool(_) => "bool",
            PyValue::Int(_) => "int",
            PyValue::Float(_) => "float",
            PyValue::Str(_) => "str",
            PyValue::Bytes(_) => "bytes",
            PyValue::List(_) => "list",
            PyValue::Tuple(_) => "tuple",
            PyValue::Dict(_) => "dict",
            PyValue::Set(_) => "set",
            PyValue::FrozenSet(_) => "frozenset",
            PyValue::Some(inner) => inner.type_name(),
            PyValue::Object(o) => o.class.name,
        }
    }

    /// Python's truth value (`bool(x)`).
    pub fn truthy(&self) -> bool {
        match self {
            PyValue::None => false,
            PyValue::Bool(b) => *b,
            PyValue::Int(i) => *i != 0,
            PyValue::Float(f) => *f != 0.0,
            PyValue::Str(s) => !s.is_empty(),
            PyValue::Bytes(b) => !b.is_empty(),
            PyValue::List(v) | PyValue::Tuple(v) | PyValue::Set(v) | PyValue::FrozenSet(v) => {
                !v.is_empty()
            }
            PyValue::Dict(d) => !d.is_empty(),
            PyValue::Some(inner) => inner.truthy(),
            PyValue::Object(_) => true,
        }
    }

    /// The integer value of an `int` or `bool`.
    pub fn as_int(&self) -> Option<i128> {
        match self {
            PyValue::Int(i) => Some(*i),
            PyValue::Bool(b) => Some(i128::from(*b)),
            _ => None,
        }
    }

    /// The text of a `str`.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            PyValue::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The value with any [`PyValue::Some`] wrapper removed: what Python sees.
    pub fn unwrap_some(&self) -> &PyValue {
        let mut v = self;
        while let PyValue::Some(inner) = v {
            v = inner;
        }
        v
    }

    /// How deeply containers nest in the value (a scalar is 0).
    pub fn depth(&self) -> usize {
        match self {
            PyValue::List(v) | PyValue::Tuple(v) | PyValue::Set(v) | PyValue::FrozenSet(v) => {
                1 + v.iter().map(PyValue::depth).max().unwrap_or(0)
            }
            PyValue::Dict(d) => {
                1 + d
                    .iter()
                    .map(|(k, v)| k.depth().max(v.depth()))
                    .max()
                    .unwrap_or(0)
            }
            PyValue::Some(inner) => 1 + inner.depth(),
            PyValue::Object(o) => {
                1 + o
                    .args
                    .iter()
                    .map(PyValue::depth)
                    .chain(o.state.as_deref().map(PyValue::depth))
                    .max()
                    .unwrap_or(0)
            }
            _ => 0,
        }
    }

    fn rank(&self) -> u8 {
        match self {
            PyValue::None => 0,
            PyValue::Bool(_) | PyValue::Int(_) | PyValue::Float(_) => 1,
            PyValue::Str(_) => 2,
            PyValue::Bytes(_) => 3,
            PyValue::Tuple(_) => 4,
            PyValue::List(_) => 5,
            PyValue::Dict(_) => 6,
            PyValue::Set(_) | PyValue::FrozenSet(_) => 7,
            PyValue::Some(_) => 8,
            PyValue::Object(_) => 9,
        }
    }

    /// Python's `<` between the two, or `None` where Python raises `TypeError`
    /// (`'<' not supported between instances of 'str' and 'int'`).
    pub fn py_cmp(&self, other: &PyValue) -> Option<Ordering> {
        use PyValue as V;
        match (self.unwrap_some(), other.unwrap_some()) {
            (a, b) if a.rank() == 1 && b.rank() == 1 => Some(cmp_numbers(a, b)),
            (V::Str(a), V::Str(b)) => Some(a.cmp(b)),
            (V::Bytes(a), V::Bytes(b)) => Some(a.cmp(b)),
            (V::List(a), V::List(b)) | (V::Tuple(a), V::Tuple(b)) => {
                for (x, y) in a.iter().zip(b) {
                    if x != y {
                        return x.py_cmp(y);
                    }
                }
                Some(a.len().cmp(&b.len()))
            }
            _ => None,
        }
    }
}

/// A number as a float, or `None` for a `NaN`-free exact comparison through integers.
fn cmp_numbers(a: &PyValue, b: &PyValue) -> Ordering {
    match (a.as_int(), b.as_int()) {
        (Some(x), Some(y)) => x.cmp(&y),
        _ => {
            let fa = as_f64(a);
            let fb = as_f64(b);
            // Exact for integers beyond 2^53 against integral floats: compare the integer with
            // the float's integer part first.
            match (a.as_int(), b.as_int()) {
                (Some(x), None) if fb.is_finite() && fb.fract() == 0.0 && fb.abs() < 1.6e38 => {
                    x.cmp(&(fb as i128))
                }
                (None, Some(y)) if fa.is_finite() && fa.fract() == 0.0 && fa.abs() < 1.6e38 => {
                    (fa as i128).cmp(&y)
                }
                _ => fa.total_cmp(&fb),
            }
        }
    }
}

fn as_f64(v: &PyValue) -> f64 {
    match v {
        PyValue::Float(f) => *f,
        PyValue::Int(i) => *i as f64,
        PyValue::Bool(b) => f64::from(u8::from(*b)),
        _ => f64::NAN,
    }
}

impl PartialEq for PyValue {
    fn eq(&self, other: &PyValue) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for PyValue {}

impl PartialOrd for PyValue {
    fn partial_cmp(&self, other: &PyValue) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

fn cmp_seq(a: &[PyValue], b: &[PyValue]) -> Ordering {
    a.iter().cmp(b.iter())
}

fn sorted(v: &[PyValue]) -> Vec<&PyValue> {
    let mut s: Vec<&PyValue> = v.iter().collect();
    s.sort();
    s
}

impl Ord for PyValue {
    fn cmp(&self, other: &PyValue) -> Ordering {
        use PyValue as V;
        let (r1, r2) = (self.rank(), other.rank());
        if r1 != r2 {
            return r1.cmp(&r2);
        }
        match (self, other) {
            (V::None, V::None) => Ordering::Equal,
            (a, b) if r1 == 1 => cmp_numbers(a, b),
            (V::Str(a), V::Str(b)) => a.cmp(b),
            (V::Bytes(a), V::Bytes(b)) => a.cmp(b),
            (V::Tuple(a), V::Tuple(b)) | (V::List(a), V::List(b)) => cmp_seq(a, b),
            (V::Dict(a), V::Dict(b)) => {
                let mut x: Vec<_> = a.iter().collect();
                let mut y: Vec<_> = b.iter().collect();
                x.sort();
                y.sort();
                x.cmp(&y)
            }
            (V::Set(a) | V::FrozenSet(a), V::Set(b) | V::FrozenSet(b)) => sorted(a).cmp(&sorted(b)),
            (V::Some(a), V::Some(b)) => a.cmp(b),
            (V::Object(a), V::Object(b)) => (a.class.module, a.class.name, &a.args, &a.state)
                .cmp(&(b.class.module, b.class.name, &b.args, &b.state)),
            _ => Ordering::Equal,
        }
    }
}

impl Hash for PyValue {
    fn hash<H: Hasher>(&self, h: &mut H) {
        use PyValue as V;
        self.rank().hash(h);
        match self {
            V::None => {}
            V::Bool(_) | V::Int(_) | V::Float(_) => match (self.as_int(), self) {
                (Some(i), _) => i.hash(h),
                (None, V::Float(f)) if f.is_finite() && f.fract() == 0.0 && f.abs() < 1.6e38 => {
                    (*f as i128).hash(h)
                }
                (None, V::Float(f)) => f.to_bits().hash(h),
                _ => {}
            },
            V::Str(s) => s.hash(h),
            V::Bytes(b) => b.hash(h),
            V::List(v) | V::Tuple(v) => v.hash(h),
            V::Dict(d) => d.len().hash(h),
            V::Set(v) | V::FrozenSet(v) => v.len().hash(h),
            V::Some(inner) => inner.hash(h),
            V::Object(o) => (o.class, &o.args).hash(h),
        }
    }
}

impl fmt::Debug for PyValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use PyValue as V;
        match self {
            V::None => f.write_str("None"),
            V::Bool(b) => write!(f, "{b}"),
            V::Int(i) => write!(f, "{i}"),
            V::Float(x) => write!(f, "{x:?}"),
            V::Str(s) => write!(f, "{s:?}"),
            V::Bytes(b) => f.write_str(&bytes_repr(b)),
            V::List(v) => f.debug_list().entries(v).finish(),
            V::Tuple(v) => {
                let mut t = f.debug_tuple("");
                for x in v {
                    t.field(x);
                }
                t.finish()
            }
            V::Dict(d) => f
                .debug_map()
                .entries(d.iter().map(|(k, v)| (k, v)))
                .finish(),
            V::Set(v) | V::FrozenSet(v) => f.debug_set().entries(v).finish(),
            V::Some(inner) => f.debug_tuple("Some").field(inner).finish(),
            V::Object(o) => o.fmt(f),
        }
    }
}

/// Python's `repr`.
impl fmt::Display for PyValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use PyValue as V;
        let items = |f: &mut fmt::Formatter<'_>, v: &[PyValue]| -> fmt::Result {
            for (i, x) in v.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "{x}")?;
            }
            Ok(())
        };
        match self {
            V::None => f.write_str("None"),
            V::Bool(true) => f.write_str("True"),
            V::Bool(false) => f.write_str("False"),
            V::Int(i) => write!(f, "{i}"),
            V::Float(x) => f.write_str(&float_repr(*x)),
            V::Str(s) => f.write_str(&str_repr(s)),
            V::Bytes(b) => f.write_str(&bytes_repr(b)),
            V::List(v) => {
                f.write_str("[")?;
                items(f, v)?;
                f.write_str("]")
            }
            V::Tuple(v) => {
                f.write_str("(")?;
                items(f, v)?;
                f.write_str(if v.len() == 1 { ",)" } else { ")" })
            }
            V::Dict(d) => {
                f.write_str("{")?;
                for (i, (k, v)) in d.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{k}: {v}")?;
                }
                f.write_str("}")
            }
            V::Set(v) if v.is_empty() => f.write_str("set()"),
            V::Set(v) => {
                f.write_str("{")?;
                items(f, v)?;
                f.write_str("}")
            }
            V::FrozenSet(v) if v.is_empty() => f.write_str("frozenset()"),
            V::FrozenSet(v) => {
                f.write_str("frozenset({")?;
                items(f, v)?;
                f.write_str("})")
            }
            V::Some(inner) => inner.fmt(f),
            V::Object(o) if o.class == PyClass::TOKEN => {
                let arg = |i: usize| o.args.get(i).cloned().unwrap_or(PyValue::None);
                write!(
                    f,
                    "Token(typeid={}, address={}, id={})",
                    arg(0),
                    arg(1),
                    arg(2)
                )
            }
            V::Object(o) => {
                write!(f, "{}(", o.class.name)?;
                items(f, &o.args)?;
                f.write_str(")")
            }
        }
    }
}

/// Python's `repr` of a float: the shortest text that reads back the same, in fixed notation
/// for exponents from -4 to 15 and scientific beyond (`1e+16`, `1e-05`), always with a `.0` or
/// an exponent.
pub fn float_repr(x: f64) -> String {
    if x.is_nan() {
        return "nan".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf" } else { "-inf" }.into();
    }
    if x == 0.0 {
        return if x.is_sign_negative() { "-0.0" } else { "0.0" }.into();
    }
    // Rust's `{:e}` gives the shortest round-trip digits: "1.2345e-7", "1e16".
    let sci = format!("{x:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let neg = mantissa.starts_with('-');
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let sign = if neg { "-" } else { "" };
    if (-4..16).contains(&exp) {
        let point = exp + 1; // digits before the decimal point
        let s = if point <= 0 {
            format!("0.{}{}", "0".repeat((-point) as usize), digits)
        } else if point as usize >= digits.len() {
            format!("{}{}.0", digits, "0".repeat(point as usize - digits.len()))
        } else {
            let (a, b) = digits.split_at(point as usize);
            format!("{a}.{b}")
        };
        format!("{sign}{s}")
    } else {
        let (first, rest) = digits.split_at(1);
        let m = if rest.is_empty() {
            first.to_string()
        } else {
            format!("{first}.{rest}")
        };
        let esign = if exp < 0 { '-' } else { '+' };
        format!("{sign}{m}e{esign}{:02}", exp.abs())
    }
}

/// Python's `repr` of a `str`: single quotes unless the text holds a `'` and no `"`.
pub fn str_repr(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if is_printable(c) => out.push(c),
            c if (c as u32) < 0x100 => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push_str(&format!("\\U{:08x}", c as u32)),
        }
    }
    out.push(quote);
    out
}

/// An approximation of Python's `str.isprintable` for one character: not a control character,
/// not a separator other than the space, not a surrogate or private-use or unassigned code.
fn is_printable(c: char) -> bool {
    let u = c as u32;
    if c == ' ' {
        return true;
    }
    !(c.is_control()
        || c.is_whitespace()
        || (0x7f..0xa0).contains(&u)
        || u == 0xad
        || (0x2028..=0x2029).contains(&u)
        || (0x200b..=0x200f).contains(&u)
        || (0x202a..=0x202e).contains(&u)
        || (0x2060..=0x206f).contains(&u)
        || u == 0xfeff
        || (0xe000..=0xf8ff).contains(&u)
        || (0xfff0..=0xfffb).contains(&u)
        || u >= 0xf0000)
}

/// Python's `repr` of `bytes`: `b'...'` with `\xNN` escapes.
pub fn bytes_repr(b: &[u8]) -> String {
    let quote = if b.contains(&b'\'') && !b.contains(&b'"') {
        b'"'
    } else {
        b'\''
    };
    let mut out = String::from("b");
    out.push(quote as char);
    for &c in b {
        match c {
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c as char);
            }
            0x20..=0x7e => out.push(c as char),
            c => out.push_str(&format!("\\x{c:02x}")),
        }
    }
    out.push(quote as char);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reprs_are_pythons() {
        let v = PyValue::List(vec![PyValue::str("a"), PyValue::None, PyValue::Bool(true)]);
        assert_eq!(v.to_string(), "['a', None, True]");
        assert_eq!(format!("{v:?}"), "[\"a\", None, true]");
        assert_eq!(PyValue::Tuple(vec![PyValue::Int(1)]).to_string(), "(1,)");
        assert_eq!(PyValue::str("it's").to_string(), "\"it's\"");
        assert_eq!(PyValue::str("a'b\"c").to_string(), "'a\\'b\"c'");
        assert_eq!(PyValue::str("é\n\u{7}").to_string(), "'é\\n\\x07'");
        assert_eq!(
            PyValue::Bytes(b"a\x00'".to_vec()).to_string(),
            "b\"a\\x00'\""
        );
        assert_eq!(PyValue::Set(vec![]).to_string(), "set()");
        let e = PyValue::exception(PyClass::KEY_ERROR, "x");
        assert_eq!(e.to_string(), "KeyError('x')");
    }

    #[test]
    fn floats_print_as_python() {
        for (x, want) in [
            (0.25, "0.25"),
            (1.0, "1.0"),
            (1e16, "1e+16"),
            (1e15, "1000000000000000.0"),
            (1.5e-5, "1.5e-05"),
            (0.0001, "0.0001"),
            (1.2345678, "1.2345678"),
            (-2.5e100, "-2.5e+100"),
            (0.1 + 0.2, "0.30000000000000004"),
            (f64::INFINITY, "inf"),
            (-0.0, "-0.0"),
            (123456789.125, "123456789.125"),
        ] {
            assert_eq!(float_repr(x), want, "{x}");
        }
    }

    #[test]
    fn numbers_are_one_key_as_in_python() {
        use std::collections::HashSet;
        let s: HashSet<PyValue> = [PyValue::Int(1), PyValue::Float(1.0), PyValue::Bool(true)]
            .into_iter()
            .collect();
        assert_eq!(s.len(), 1);
        let mut keys = [PyValue::str("2"), PyValue::Int(1), PyValue::Float(0.25)];
        keys.sort();
        assert_eq!(format!("{keys:?}"), "[0.25, 1, \"2\"]");
        assert_eq!(PyValue::Int(1).py_cmp(&PyValue::str("a")), None);
        assert_eq!(
            PyValue::Int(i128::from(u64::MAX)).cmp(&PyValue::Float(1.0)),
            Ordering::Greater
        );
    }
}
