//! Python's pickle, for [`PyValue`]s only: a reader that builds values and never imports or runs
//! anything, and a writer.
//!
//! The reader takes protocols 2 to 5 (what every Python 3 sends: `multiprocessing` pickles with
//! the default protocol, 4) and only these globals: the classes of [`PyClass`] (exceptions,
//! `queue.Empty`/`Full`, `threading.BrokenBarrierError`, `multiprocessing.managers.Token`,
//! `slice`) and the builtins `list`, `set`, `frozenset`, `bytearray` and `range`, which it
//! applies to their argument at once. Any other global is refused by name. It has limits: 128
//! levels of nesting, integers of 128 bits, a `range` of at most a million items, and a budget
//! of nodes so that memo references (`BINGET`) cannot multiply a small message into a large
//! value. A violation is an [`Error`], never a panic.
//!
//! The writer emits protocol 4 without frames (framing is optional), using no memo.

use std::collections::HashMap;
use std::fmt;

use crate::value::{ClassKind, PyClass, PyObject, PyValue};

/// How deeply a decoded value may nest.
pub const MAX_DEPTH: usize = 128;
/// The largest `range` the reader expands.
pub const MAX_RANGE: i128 = 1_000_000;
/// Nodes the reader may create beyond one per input byte (memo copies count).
const NODE_ALLOWANCE: usize = 1 << 20;

/// Why bytes are not a pickle this reader accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The input ended in the middle of an opcode or before `STOP`.
    Truncated,
    /// An opcode this reader does not implement (the text protocols 0 and 1, persistent ids,
    /// extension codes, out-of-band buffers).
    UnsupportedOpcode(u8),
    /// A global that is not on the allow-list.
    Global {
        /// Its module.
        module: String,
        /// Its name.
        name: String,
    },
    /// Values nested more than 128 levels.
    TooDeep,
    /// The value would be larger than the input justifies (memo copies, a huge `range`).
    TooLarge,
    /// An integer wider than 128 bits.
    IntTooLarge,
    /// The opcodes do not make sense together (a stack underflow, a missing mark, a memo
    /// index that was never set, a wrong type for an operation, text that is not UTF-8).
    Malformed(&'static str),
    /// Bytes after `STOP`.
    TrailingBytes,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Truncated => f.write_str("pickle ends early"),
            Error::UnsupportedOpcode(op) => write!(f, "unsupported pickle opcode 0x{op:02x}"),
            Error::Global { module, name } => {
                write!(f, "global {module}.{name} is not on the allow-list")
            }
            Error::TooDeep => write!(f, "pickle nests deeper than {MAX_DEPTH} levels"),
            Error::TooLarge => f.write_str("pickle expands beyond its size budget"),
            Error::IntTooLarge => f.write_str("integer wider than 128 bits"),
            Error::Malformed(why) => write!(f, "malformed pickle: {why}"),
            Error::TrailingBytes => f.write_str("bytes after the end of the pickle"),
        }
    }
}

impl std::error::Error for Error {}

type Result<T> = std::result::Result<T, Error>;

/// A stack entry: a value, a reference to a memo slot (so that later `APPEND`s to a memoised
/// list reach the memo's copy, as in Python), a mark, or a global not yet applied.
enum Item {
    Value(PyValue, usize),
    Memo(usize),
    Mark,
    Class(Callable),
}

#[derive(Clone, Copy)]
enum Callable {
    Class(PyClass),
    List,
    Set,
    FrozenSet,
    ByteArray,
    Range,
}

struct Reader<'a> {
    input: &'a [u8],
    pos: usize,
    stack: Vec<Item>,
    /// Memo slots: a value, its depth, and its node count (charged on every copy).
    memo: HashMap<usize, (PyValue, usize, usize)>,
    budget: usize,
}

/// Decodes one pickle that must fill `input` exactly.
pub fn loads(input: &[u8]) -> Result<PyValue> {
    let mut r = Reader {
        input,
        pos: 0,
        stack: Vec::new(),
        memo: HashMap::new(),
        budget: input.len().saturating_add(NODE_ALLOWANCE),
    };
    let v = r.run()?;
    if r.pos != input.len() {
        return Err(Error::TrailingBytes);
    }
    Ok(v)
}

fn nodes(v: &PyValue) -> usize {
    match v {
        PyValue::List(x) | PyValue::Tuple(x) | PyValue::Set(x) | PyValue::FrozenSet(x) => {
            1 + x.iter().map(nodes).sum::<usize>()
        }
        PyValue::Dict(d) => 1 + d.iter().map(|(k, v)| nodes(k) + nodes(v)).sum::<usize>(),
        PyValue::Some(inner) => 1 + nodes(inner),
        PyValue::Object(o) => {
            1 + o.args.iter().map(nodes).sum::<usize>() + o.state.as_deref().map_or(0, nodes)
        }
        _ => 1,
    }
}

/// How many bytes the length of a string or bytes opcode takes: 1 for the short forms, 8 for
/// the `…8` forms (`BINUNICODE8`, `BINBYTES8`), 4 otherwise.
fn length_width(op: u8) -> usize {
    match op {
        0x8c | b'C' => 1,
        0x8d | 0x8e => 8,
        _ => 4,
    }
}

impl<'a> Reader<'a> {
    fn byte(&mut self) -> Result<u8> {
        let b = *self.input.get(self.pos).ok_or(Error::Truncated)?;
        self.pos += 1;
        Ok(b)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.pos.checked_add(n).ok_or(Error::Truncated)?;
        let s = self.input.get(self.pos..end).ok_or(Error::Truncated)?;
        self.pos = end;
        Ok(s)
    }

    fn uint(&mut self, n: usize) -> Result<usize> {
        let b = self.take(n)?;
        let mut v: u64 = 0;
        for (i, &x) in b.iter().enumerate() {
            v |= u64::from(x) << (8 * i);
        }
        usize::try_from(v).map_err(|_| Error::Truncated)
    }

    fn charge(&mut self, n: usize) -> Result<()> {
        self.budget = self.budget.checked_sub(n).ok_or(Error::TooLarge)?;
        Ok(())
    }

    fn push(&mut self, v: PyValue, depth: usize) -> Result<()> {
        if depth > MAX_DEPTH {
            return Err(Error::TooDeep);
        }
        self.charge(1)?;
        self.stack.push(Item::Value(v, depth));
        Ok(())
    }

    fn text(&mut self, n: usize) -> Result<()> {
        let b = self.take(n)?;
        let s = std::str::from_utf8(b).map_err(|_| Error::Malformed("str is not UTF-8"))?;
        self.push(PyValue::Str(s.to_owned()), 0)
    }

    fn bytes(&mut self, n: usize) -> Result<()> {
        let b = self.take(n)?.to_vec();
        self.push(PyValue::Bytes(b), 0)
    }

    /// Pops an item as a value (copying a memo slot, charged against the budget).
    fn pop_value(&mut self) -> Result<(PyValue, usize)> {
        match self.stack.pop() {
            Some(Item::Value(v, d)) => Ok((v, d)),
            Some(Item::Memo(i)) => self.memo_copy(i),
            Some(Item::Mark) => Err(Error::Malformed("mark where a value was expected")),
            Some(Item::Class(_)) => Err(Error::Malformed("a global used as a value")),
            None => Err(Error::Malformed("stack underflow")),
        }
    }

    fn memo_copy(&mut self, i: usize) -> Result<(PyValue, usize)> {
        let (v, d, n) = self
            .memo
            .get(&i)
            .ok_or(Error::Malformed("memo slot not set"))?;
        let (v, d, n) = (v.clone(), *d, *n);
        self.charge(n)?;
        Ok((v, d))
    }

    /// Pops the items above the topmost mark, and the mark.
    fn pop_mark(&mut self) -> Result<(Vec<PyValue>, usize)> {
        let at = self
            .stack
            .iter()
            .rposition(|x| matches!(x, Item::Mark))
            .ok_or(Error::Malformed("no mark"))?;
        let items: Vec<Item> = self.stack.drain(at + 1..).collect();
        self.stack.pop();
        let mut out = Vec::with_capacity(items.len());
        let mut depth = 0;
        for it in items {
            self.stack.push(it);
            let (v, d) = self.pop_value()?;
            depth = depth.max(d);
            out.push(v);
        }
        Ok((out, depth))
    }

    /// The container at the top of the stack (or in the memo slot the top refers to), for
    /// `APPEND`, `SETITEM`, `ADDITEMS` and `BUILD`: the value, its depth, and (for a memo slot)
    /// its node count, which grows with what is added.
    fn top_mut(&mut self) -> Result<(&mut PyValue, &mut usize, Option<&mut usize>)> {
        match self.stack.last_mut() {
            Some(Item::Value(v, d)) => Ok((v, d, None)),
            Some(Item::Memo(i)) => {
                let i = *i;
                let slot = self
                    .memo
                    .get_mut(&i)
                    .ok_or(Error::Malformed("memo slot not set"))?;
                Ok((&mut slot.0, &mut slot.1, Some(&mut slot.2)))
            }
            _ => Err(Error::Malformed("no container on the stack")),
        }
    }

    /// Adds `items` (with their greatest depth `depth`) to the container on top.
    fn extend_top(&mut self, items: Vec<PyValue>, depth: usize) -> Result<()> {
        let added: usize = items.iter().map(nodes).sum();
        let (top, d, n) = self.top_mut()?;
        let new_depth = (*d).max(depth + 1);
        if new_depth > MAX_DEPTH {
            return Err(Error::TooDeep);
        }
        *d = new_depth;
        if let Some(n) = n {
            *n = n.saturating_add(added);
        }
        match top {
            PyValue::List(v) | PyValue::Set(v) => v.extend(items),
            PyValue::Dict(map) => {
                if !items.len().is_multiple_of(2) {
                    return Err(Error::Malformed("odd number of dict items"));
                }
                // A key given twice stays twice here; whoever builds a map from the pairs
                // keeps the last, as Python does (checking here would be quadratic).
                let mut it = items.into_iter();
                while let (Some(k), Some(v)) = (it.next(), it.next()) {
                    map.push((k, v));
                }
            }
            _ => {
                return Err(Error::Malformed(
                    "append to a value that is not a container",
                ));
            }
        }
        Ok(())
    }

    fn run(&mut self) -> Result<PyValue> {
        loop {
            let op = self.byte()?;
            if op == b'.' {
                let (v, _) = self.pop_value()?;
                return Ok(v);
            }
            self.step(op)?;
        }
    }

    fn step(&mut self, op: u8) -> Result<()> {
        match op {
            0x80 => {
                let proto = self.byte()?;
                if !(2..=5).contains(&proto) {
                    return Err(Error::Malformed("unsupported protocol"));
                }
            }
            0x95 => {
                self.take(8)?; // FRAME: a length we do not need
            }
            b'N' => self.push(PyValue::None, 0)?,
            0x88 => self.push(PyValue::Bool(true), 0)?,
            0x89 => self.push(PyValue::Bool(false), 0)?,
            b'J' => {
                let b = self.take(4)?;
                let v = i32::from_le_bytes([b[0], b[1], b[2], b[3]]);
                self.push(PyValue::Int(i128::from(v)), 0)?;
            }
            b'K' => {
                let v = self.byte()?;
                self.push(PyValue::Int(i128::from(v)), 0)?;
            }
            b'M' => {
                let v = self.uint(2)?;
                self.push(PyValue::Int(v as i128), 0)?;
            }
            0x8a | 0x8b => {
                let n = if op == 0x8a {
                    self.uint(1)?
                } else {
                    self.uint(4)?
                };
                let b = self.take(n)?;
                self.push(PyValue::Int(long_from_le(b)?), 0)?;
            }
            b'G' => {
                let b = self.take(8)?;
                let v = f64::from_be_bytes(b.try_into().map_err(|_| Error::Truncated)?);
                self.push(PyValue::Float(v), 0)?;
            }
            // SHORT_BINUNICODE, BINUNICODE, BINUNICODE8: a length of 1, 4 or 8 bytes, then UTF-8.
            0x8c | b'X' | 0x8d => {
                let n = self.uint(length_width(op))?;
                self.text(n)?;
            }
            // SHORT_BINBYTES, BINBYTES, BINBYTES8: the same, then bytes.
            b'C' | b'B' | 0x8e => {
                let n = self.uint(length_width(op))?;
                self.bytes(n)?;
            }
            0x96 => {
                let n = self.uint(8)?;
                self.bytes(n)?;
            }
            b']' => self.push(PyValue::List(Vec::new()), 1)?,
            b'}' => self.push(PyValue::Dict(Vec::new()), 1)?,
            0x8f => self.push(PyValue::Set(Vec::new()), 1)?,
            b')' => self.push(PyValue::Tuple(Vec::new()), 1)?,
            b'(' => self.stack.push(Item::Mark),
            b'l' | b't' | 0x91 => {
                let (items, d) = self.pop_mark()?;
                let v = match op {
                    b'l' => PyValue::List(items),
                    b't' => PyValue::Tuple(items),
                    _ => PyValue::FrozenSet(items),
                };
                self.push(v, d + 1)?;
            }
            0x85..=0x87 => {
                let n = usize::from(op - 0x84);
                let mut items = Vec::with_capacity(n);
                let mut depth = 0;
                for _ in 0..n {
                    let (v, d) = self.pop_value()?;
                    depth = depth.max(d);
                    items.push(v);
                }
                items.reverse();
                self.push(PyValue::Tuple(items), depth + 1)?;
            }
            b'a' | b's' => {
                let n = if op == b'a' { 1 } else { 2 };
                let mut items = Vec::with_capacity(n);
                let mut depth = 0;
                for _ in 0..n {
                    let (v, d) = self.pop_value()?;
                    depth = depth.max(d);
                    items.push(v);
                }
                items.reverse();
                self.extend_top(items, depth)?;
            }
            b'e' | b'u' | 0x90 => {
                let (items, d) = self.pop_mark()?;
                self.extend_top(items, d)?;
            }
            b'0' => {
                self.stack
                    .pop()
                    .ok_or(Error::Malformed("stack underflow"))?;
            }
            b'1' => {
                self.pop_mark()?;
            }
            b'2' => {
                let (v, d) = self.pop_value()?;
                self.push(v.clone(), d)?;
                self.push(v, d)?;
            }
            0x94 => {
                let i = self.memo.len();
                self.memoize(i)?;
            }
            b'q' => {
                let i = self.uint(1)?;
                self.memoize(i)?;
            }
            b'r' => {
                let i = self.uint(4)?;
                self.memoize(i)?;
            }
            b'h' | b'j' => {
                let i = if op == b'h' {
                    self.uint(1)?
                } else {
                    self.uint(4)?
                };
                if !self.memo.contains_key(&i) {
                    return Err(Error::Malformed("memo slot not set"));
                }
                self.charge(1)?;
                self.stack.push(Item::Memo(i));
            }
            0x93 => {
                let (name, _) = self.pop_value()?;
                let (module, _) = self.pop_value()?;
                match (module, name) {
                    (PyValue::Str(m), PyValue::Str(n)) => self.global(&m, &n)?,
                    _ => return Err(Error::Malformed("STACK_GLOBAL wants two strs")),
                }
            }
            b'c' => {
                let m = self.line()?;
                let n = self.line()?;
                self.global(&m, &n)?;
            }
            b'R' => self.reduce()?,
            0x81 => self.newobj()?,
            b'b' => self.build()?,
            other => return Err(Error::UnsupportedOpcode(other)),
        }
        Ok(())
    }

    fn line(&mut self) -> Result<String> {
        let rest = &self.input[self.pos..];
        let end = rest
            .iter()
            .position(|&b| b == b'\n')
            .ok_or(Error::Truncated)?;
        let s = std::str::from_utf8(&rest[..end]).map_err(|_| Error::Malformed("bad line"))?;
        self.pos += end + 1;
        Ok(s.to_owned())
    }

    fn memoize(&mut self, i: usize) -> Result<()> {
        let item = self
            .stack
            .pop()
            .ok_or(Error::Malformed("stack underflow"))?;
        match item {
            Item::Value(v, d) => {
                let n = nodes(&v);
                self.memo.insert(i, (v, d, n));
                self.stack.push(Item::Memo(i));
            }
            Item::Memo(j) => {
                let (v, d) = self.memo_copy(j)?;
                let n = nodes(&v);
                self.memo.insert(i, (v, d, n));
                self.stack.push(Item::Memo(i));
            }
            // Globals are memoised too; keep them on the stack as they are.
            Item::Class(c) => self.stack.push(Item::Class(c)),
            Item::Mark => return Err(Error::Malformed("memoising a mark")),
        }
        Ok(())
    }

    fn global(&mut self, module: &str, name: &str) -> Result<()> {
        let builtin = matches!(module, "builtins" | "__builtin__");
        let c = match name {
            "list" if builtin => Callable::List,
            "set" if builtin => Callable::Set,
            "frozenset" if builtin => Callable::FrozenSet,
            "bytearray" if builtin => Callable::ByteArray,
            "range" if builtin => Callable::Range,
            _ => match PyClass::find(module, name) {
                Some(c) => Callable::Class(c),
                None => {
                    return Err(Error::Global {
                        module: module.into(),
                        name: name.into(),
                    });
                }
            },
        };
        self.stack.push(Item::Class(c));
        Ok(())
    }

    fn pop_callable(&mut self) -> Result<Callable> {
        match self.stack.pop() {
            Some(Item::Class(c)) => Ok(c),
            _ => Err(Error::Malformed("REDUCE or NEWOBJ without a global")),
        }
    }

    fn reduce(&mut self) -> Result<()> {
        let (args, d) = self.pop_value()?;
        let PyValue::Tuple(mut args) = args else {
            return Err(Error::Malformed("REDUCE wants an argument tuple"));
        };
        let c = self.pop_callable()?;
        let one = |args: &mut Vec<PyValue>| -> Result<PyValue> {
            match args.len() {
                0 => Ok(PyValue::List(Vec::new())),
                1 => Ok(args.pop().unwrap_or(PyValue::None)),
                _ => Err(Error::Malformed("too many arguments")),
            }
        };
        let seq = |v: PyValue| -> Result<Vec<PyValue>> {
            match v {
                PyValue::List(x) | PyValue::Tuple(x) | PyValue::Set(x) | PyValue::FrozenSet(x) => {
                    Ok(x)
                }
                PyValue::Dict(d) => Ok(d.into_iter().map(|(k, _)| k).collect()),
                PyValue::Str(s) => Ok(s.chars().map(|c| PyValue::Str(c.into())).collect()),
                PyValue::Bytes(b) => Ok(b.into_iter().map(|x| PyValue::Int(x.into())).collect()),
                _ => Err(Error::Malformed("not an iterable this reader knows")),
            }
        };
        match c {
            Callable::List => {
                let v = seq(one(&mut args)?)?;
                self.push(PyValue::List(v), d.max(1))
            }
            Callable::Set => {
                let v = seq(one(&mut args)?)?;
                self.push(PyValue::Set(v), d.max(1))
            }
            Callable::FrozenSet => {
                let v = seq(one(&mut args)?)?;
                self.push(PyValue::FrozenSet(v), d.max(1))
            }
            Callable::ByteArray => match args.pop() {
                None => self.push(PyValue::Bytes(Vec::new()), 0),
                Some(PyValue::Bytes(b)) if args.is_empty() => self.push(PyValue::Bytes(b), 0),
                _ => Err(Error::Malformed("bytearray wants bytes")),
            },
            Callable::Range => self.range(&args),
            Callable::Class(class) => {
                if class.kind() != ClassKind::Reduce {
                    return Err(Error::Malformed("class is not built by REDUCE"));
                }
                self.push(PyValue::Object(PyObject::new(class, args)), d + 1)
            }
        }
    }

    fn range(&mut self, args: &[PyValue]) -> Result<()> {
        let ints: Option<Vec<i128>> = args.iter().map(PyValue::as_int).collect();
        let (start, stop, step) = match ints.as_deref() {
            Some([stop]) => (0, *stop, 1),
            Some([start, stop]) => (*start, *stop, 1),
            Some([start, stop, step]) if *step != 0 => (*start, *stop, *step),
            _ => return Err(Error::Malformed("bad range")),
        };
        let len = if step > 0 {
            (stop - start + step - 1).div_euclid(step)
        } else {
            (start - stop - step - 1).div_euclid(-step)
        }
        .max(0);
        if len > MAX_RANGE {
            return Err(Error::TooLarge);
        }
        self.charge(len as usize)?;
        let v = (0..len).map(|i| PyValue::Int(start + i * step)).collect();
        self.push(PyValue::List(v), 1)
    }

    fn newobj(&mut self) -> Result<()> {
        let (args, d) = self.pop_value()?;
        let PyValue::Tuple(args) = args else {
            return Err(Error::Malformed("NEWOBJ wants an argument tuple"));
        };
        match self.pop_callable()? {
            Callable::Class(class) => self.push(PyValue::Object(PyObject::new(class, args)), d + 1),
            _ => Err(Error::Malformed("NEWOBJ of a builtin")),
        }
    }

    fn build(&mut self) -> Result<()> {
        let (state, d) = self.pop_value()?;
        let added = nodes(&state);
        let (top, td, n) = self.top_mut()?;
        if let Some(n) = n {
            *n = n.saturating_add(added);
        }
        let PyValue::Object(obj) = top else {
            return Err(Error::Malformed("BUILD on a value that is not an object"));
        };
        let new_depth = (*td).max(d + 1);
        if new_depth > MAX_DEPTH {
            return Err(Error::TooDeep);
        }
        *td = new_depth;
        match (obj.class.kind(), state) {
            // Token.__setstate__: (typeid, address, id).
            (ClassKind::NewObjState, PyValue::Tuple(t)) if obj.args.is_empty() => obj.args = t,
            (ClassKind::NewObjState, _) => return Err(Error::Malformed("bad Token state")),
            (ClassKind::Reduce, s) => obj.state = Some(Box::new(s)),
        }
        Ok(())
    }
}

/// A little-endian two's-complement integer of any length (`LONG1`/`LONG4`).
fn long_from_le(b: &[u8]) -> Result<i128> {
    if b.is_empty() {
        return Ok(0);
    }
    let neg = b[b.len() - 1] & 0x80 != 0;
    let fill = if neg { 0xff } else { 0 };
    // Bytes beyond 16 must be pure sign extension.
    if b.len() > 16 && (b[16..].iter().any(|&x| x != fill) || ((b[15] & 0x80 != 0) != neg)) {
        return Err(Error::IntTooLarge);
    }
    let mut buf = [fill; 16];
    let n = b.len().min(16);
    buf[..n].copy_from_slice(&b[..n]);
    Ok(i128::from_le_bytes(buf))
}

/// Encodes `v` as a protocol-4 pickle.
pub fn dumps(v: &PyValue) -> Result<Vec<u8>> {
    let mut out = vec![0x80, 4];
    write(&mut out, v, 0)?;
    out.push(b'.');
    Ok(out)
}

fn write_str(out: &mut Vec<u8>, s: &str) {
    if s.len() < 256 {
        out.push(0x8c);
        out.push(s.len() as u8);
    } else if let Ok(n) = u32::try_from(s.len()) {
        out.push(b'X');
        out.extend_from_slice(&n.to_le_bytes());
    } else {
        out.push(0x8d);
        out.extend_from_slice(&(s.len() as u64).to_le_bytes());
    }
    out.extend_from_slice(s.as_bytes());
}

fn write_int(out: &mut Vec<u8>, i: i128) {
    if (0..256).contains(&i) {
        out.push(b'K');
        out.push(i as u8);
    } else if (0..65536).contains(&i) {
        out.push(b'M');
        out.extend_from_slice(&(i as u16).to_le_bytes());
    } else if let Ok(x) = i32::try_from(i) {
        out.push(b'J');
        out.extend_from_slice(&x.to_le_bytes());
    } else {
        // LONG1: the shortest two's-complement little-endian form.
        let bytes = i.to_le_bytes();
        let mut n = 16;
        while n > 1 {
            let top = bytes[n - 1];
            let next_sign = bytes[n - 2] & 0x80;
            if (top == 0 && next_sign == 0) || (top == 0xff && next_sign != 0) {
                n -= 1;
            } else {
                break;
            }
        }
        out.push(0x8a);
        out.push(n as u8);
        out.extend_from_slice(&bytes[..n]);
    }
}

fn write_items(out: &mut Vec<u8>, items: &[PyValue], depth: usize) -> Result<()> {
    for x in items {
        write(out, x, depth + 1)?;
    }
    Ok(())
}

fn write(out: &mut Vec<u8>, v: &PyValue, depth: usize) -> Result<()> {
    if depth > MAX_DEPTH {
        return Err(Error::TooDeep);
    }
    match v {
        PyValue::None => out.push(b'N'),
        PyValue::Bool(b) => out.push(if *b { 0x88 } else { 0x89 }),
        PyValue::Int(i) => write_int(out, *i),
        PyValue::Float(f) => {
            out.push(b'G');
            out.extend_from_slice(&f.to_be_bytes());
        }
        PyValue::Str(s) => write_str(out, s),
        PyValue::Bytes(b) => {
            if b.len() < 256 {
                out.push(b'C');
                out.push(b.len() as u8);
            } else if let Ok(n) = u32::try_from(b.len()) {
                out.push(b'B');
                out.extend_from_slice(&n.to_le_bytes());
            } else {
                out.push(0x8e);
                out.extend_from_slice(&(b.len() as u64).to_le_bytes());
            }
            out.extend_from_slice(b);
        }
        PyValue::List(items) => {
            out.push(b']');
            if !items.is_empty() {
                out.push(b'(');
                write_items(out, items, depth)?;
                out.push(b'e');
            }
        }
        PyValue::Tuple(items) => match items.len() {
            0 => out.push(b')'),
            1..=3 => {
                write_items(out, items, depth)?;
                out.push(0x84 + items.len() as u8);
            }
            _ => {
                out.push(b'(');
                write_items(out, items, depth)?;
                out.push(b't');
            }
        },
        PyValue::Dict(d) => {
            out.push(b'}');
            if !d.is_empty() {
                out.push(b'(');
                for (k, v) in d {
                    write(out, k, depth + 1)?;
                    write(out, v, depth + 1)?;
                }
                out.push(b'u');
            }
        }
        PyValue::Set(items) => {
            out.push(0x8f);
            if !items.is_empty() {
                out.push(b'(');
                write_items(out, items, depth)?;
                out.push(0x90);
            }
        }
        PyValue::FrozenSet(items) => {
            out.push(b'(');
            write_items(out, items, depth)?;
            out.push(0x91);
        }
        PyValue::Some(inner) => write(out, inner, depth + 1)?,
        PyValue::Object(o) => write_object(out, o, depth)?,
    }
    Ok(())
}

fn write_object(out: &mut Vec<u8>, o: &PyObject, depth: usize) -> Result<()> {
    write_str(out, o.class.module());
    write_str(out, o.class.name());
    out.push(0x93);
    let args = PyValue::Tuple(o.args.clone());
    match o.class.kind() {
        ClassKind::Reduce => {
            write(out, &args, depth + 1)?;
            out.push(b'R');
            if let Some(state) = &o.state {
                write(out, state, depth + 1)?;
                out.push(b'b');
            }
        }
        ClassKind::NewObjState => {
            out.push(b')');
            out.push(0x81);
            write(out, &args, depth + 1)?;
            out.push(b'b');
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(x: &str) -> PyValue {
        PyValue::str(x)
    }

    #[test]
    fn reads_what_cpython_sends() {
        // ForkingPickler.dumps(Token('list', ('127.0.0.1', 9030), '7f12')), CPython 3.11.
        let token = b"\x80\x04\x95K\x00\x00\x00\x00\x00\x00\x00\x8c\x18multiprocessing.managers\x94\x8c\x05Token\x94\x93\x94)\x81\x94\x8c\x04list\x94\x8c\t127.0.0.1\x94MF#\x86\x94\x8c\x047f12\x94\x87\x94b.";
        let v = loads(token).unwrap();
        assert_eq!(
            v.to_string(),
            "Token(typeid='list', address=('127.0.0.1', 9030), id='7f12')"
        );
        let empty = b"\x80\x04\x95\x17\x00\x00\x00\x00\x00\x00\x00\x8c\x06_queue\x94\x8c\x05Empty\x94\x93\x94)R\x94.";
        let PyValue::Object(o) = loads(empty).unwrap() else {
            panic!()
        };
        assert_eq!(o.class, PyClass::QUEUE_EMPTY);
        let dict = b"\x80\x04\x95'\x00\x00\x00\x00\x00\x00\x00\x8c\x07#RETURN\x94}\x94(K\x01\x8c\x011\x94\x8c\x012\x94K\x02G?\xd0\x00\x00\x00\x00\x00\x00Nu\x86\x94.";
        assert_eq!(
            loads(dict).unwrap().to_string(),
            "('#RETURN', {1: '1', '2': 2, 0.25: None})"
        );
        let noted = b"\x80\x04\x958\x00\x00\x00\x00\x00\x00\x00\x8c\x08builtins\x94\x8c\x08KeyError\x94\x93\x94\x8c\x01x\x94\x85\x94R\x94}\x94\x8c\t__notes__\x94]\x94\x8c\x01n\x94asb.";
        assert_eq!(loads(noted).unwrap().to_string(), "KeyError('x')");
        let keys = b"\x80\x04\x95\x1b\x00\x00\x00\x00\x00\x00\x00\x8c\x08builtins\x94\x8c\x04list\x94\x93\x94]\x94\x85\x94R\x94.";
        assert_eq!(loads(keys).unwrap(), PyValue::List(vec![]));
    }

    #[test]
    fn shared_references_see_later_appends() {
        // x = ['a']; [x, x] pickles x once, memoised before its items are appended.
        let p = b"\x80\x04]\x94(]\x94\x8c\x01a\x94ah\x01e.";
        assert_eq!(loads(p).unwrap().to_string(), "[['a'], ['a']]");
    }

    #[test]
    fn refuses_other_globals_by_name() {
        let p = b"\x80\x04\x8c\x02os\x8c\x06system\x93\x8c\x02id\x85R.";
        assert_eq!(
            loads(p),
            Err(Error::Global {
                module: "os".into(),
                name: "system".into()
            })
        );
    }

    #[test]
    fn limits_depth_and_memo_blowup() {
        let mut deep = vec![0x80, 4];
        deep.extend_from_slice(&[b']'; 200]);
        deep.extend_from_slice(&[b'a'; 199]);
        deep.push(b'.');
        assert_eq!(loads(&deep), Err(Error::TooDeep));
        // A list of 8 copies of the previous list, 30 times over: 8^30 nodes from ~300 bytes.
        let mut bomb = vec![0x80, 4, b']', 0x94];
        for i in 0..30u8 {
            bomb.push(b'(');
            for _ in 0..8 {
                bomb.extend_from_slice(&[b'h', i]);
            }
            bomb.extend_from_slice(&[b'l', 0x94]);
        }
        bomb.push(b'.');
        assert_eq!(loads(&bomb), Err(Error::TooLarge));
    }

    #[test]
    fn round_trips() {
        let v = PyValue::Tuple(vec![
            s("#ERROR"),
            PyValue::exception(PyClass::KEY_ERROR, "k"),
            PyValue::Int(i128::from(u64::MAX)),
            PyValue::Int(-1),
            PyValue::Int(i128::MIN),
            PyValue::Int(70000),
            PyValue::Float(-0.5),
            PyValue::Bytes(vec![0; 300]),
            PyValue::Set(vec![PyValue::Int(1)]),
            PyValue::FrozenSet(vec![]),
            PyValue::Dict(vec![(s("a"), PyValue::List(vec![PyValue::None]))]),
            PyValue::Object(PyObject::new(
                PyClass::TOKEN,
                vec![s("dict"), s("/tmp/x"), s("1f")],
            )),
            s(&"é".repeat(200)),
        ]);
        let b = dumps(&v).unwrap();
        assert_eq!(loads(&b).unwrap(), v);
    }
}

#[cfg(test)]
mod props {
    use super::*;
    use proptest::prelude::*;

    fn value() -> impl Strategy<Value = PyValue> {
        let leaf = prop_oneof![
            Just(PyValue::None),
            any::<bool>().prop_map(PyValue::Bool),
            any::<i128>().prop_map(PyValue::Int),
            any::<f64>()
                .prop_filter("NaN is not equal to itself", |f| !f.is_nan())
                .prop_map(PyValue::Float),
            ".{0,12}".prop_map(PyValue::Str),
            proptest::collection::vec(any::<u8>(), 0..300).prop_map(PyValue::Bytes),
        ];
        leaf.prop_recursive(4, 64, 8, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(PyValue::List),
                proptest::collection::vec(inner.clone(), 0..6).prop_map(PyValue::Tuple),
                proptest::collection::vec((inner.clone(), inner.clone()), 0..4)
                    .prop_map(PyValue::Dict),
                proptest::collection::vec(inner.clone(), 0..4).prop_map(PyValue::Set),
                proptest::collection::vec(inner, 0..4)
                    .prop_map(|a| { PyValue::Object(PyObject::new(PyClass::KEY_ERROR, a)) }),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// What we write, we read back equal.
        #[test]
        fn round_trip(v in value()) {
            let b = dumps(&v).unwrap();
            prop_assert_eq!(loads(&b).unwrap(), v);
        }

        /// Random bytes: an error or a value, never a panic, a hang or a blow-up.
        #[test]
        fn random_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = loads(&b);
        }

        /// Bytes that start as a valid pickle and are then cut, flipped or spliced.
        #[test]
        fn mutated_pickles_never_panic(
            v in value(),
            cut in any::<prop::sample::Index>(),
            flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..8),
        ) {
            let mut b = dumps(&v).unwrap();
            for (at, x) in flips {
                let i = at.index(b.len());
                b[i] = x;
            }
            let _ = loads(&b);
            let n = cut.index(b.len() + 1);
            let _ = loads(&b[..n]);
        }
    }
}
