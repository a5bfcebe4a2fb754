//! Python's pickle for plain values on a [`Connection`] (feature `pickle`): what Python's
//! `Connection.send` / `recv` put on the wire.
//!
//! Encoding and decoding are `serde-pickle`'s. Decoding is guarded first by a check of the
//! opcode stream that needs no allocation proportional to the claims inside it: only the
//! opcodes of plain values (None, bool, int, float, str, bytes, bytearray, list, tuple, dict,
//! set, frozenset, and the memo that shares them) are accepted, containers may nest at most
//! [`PICKLE_MAX_DEPTH`] deep, and the decoded value may take at most the connection's
//! [`max_message`](Connection::max_message) bytes, counting each shared (memoised) value as
//! often as it is used. A pickle that breaks a rule is [`Error::Corrupt`] before
//! `serde-pickle` sees it: a few hundred bytes cannot become gigabytes, nor a stack overflow.

use std::collections::HashMap;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::connection::Connection;
use crate::error::{CorruptReason, EncodeError, Error};

/// How deep containers may nest in a pickle that [`Connection::recv_pickle`] decodes.
pub const PICKLE_MAX_DEPTH: u32 = 100;

/// Bytes counted for each value, besides its own bytes.
const VALUE_COST: u64 = std::mem::size_of::<serde_pickle::Value>() as u64;

/// One item of the pickle machine's stack, as far as the check cares.
#[derive(Debug, Clone, Copy)]
enum Item {
    Mark,
    Value { cost: u64, depth: u32 },
}

/// The check: a pickle machine that tracks only sizes and depths.
struct Check<'a> {
    b: &'a [u8],
    at: usize,
    stack: Vec<Item>,
    memo: HashMap<u32, (u64, u32)>,
    memo_cost: u64,
    max: u64,
}

/// A rule of the check that a pickle breaks: the reason of
/// [`CorruptReason::Pickle`](crate::CorruptReason::Pickle).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PickleRule {
    /// The pickle ends before its `STOP`, or inside a field.
    Truncated,
    /// A length that does not fit this machine's memory.
    LengthBeyondMemory,
    /// The decoded value would take more than `max` bytes.
    TooLarge {
        /// The limit: the connection's [`max_message`](Connection::max_message).
        max: u64,
    },
    /// Values stored in the pickle's memo would take more than `max` bytes.
    MemoTooLarge {
        /// The limit.
        max: u64,
    },
    /// Containers nested more than [`PICKLE_MAX_DEPTH`] deep.
    TooDeep,
    /// An opcode that takes more values than the stack holds.
    StackUnderflow,
    /// An opcode that closes a mark that was never set.
    MarkMissing,
    /// A fetch from the memo of a key that was never stored.
    UnknownMemo,
    /// A memo key that is not a number.
    BadMemoKey,
    /// An opcode that is not one of a plain value (a class, a function, a reduce).
    Opcode(u8),
}

impl std::fmt::Display for PickleRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PickleRule::Truncated => f.write_str("pickle truncated"),
            PickleRule::LengthBeyondMemory => f.write_str("a length beyond memory"),
            PickleRule::TooLarge { max } => {
                write!(f, "the decoded value would take more than {max} bytes")
            }
            PickleRule::MemoTooLarge { max } => {
                write!(f, "the pickle's memo would take more than {max} bytes")
            }
            PickleRule::TooDeep => {
                write!(f, "containers nested more than {PICKLE_MAX_DEPTH} deep")
            }
            PickleRule::StackUnderflow => f.write_str("pickle stack underflow"),
            PickleRule::MarkMissing => f.write_str("pickle mark missing"),
            PickleRule::UnknownMemo => f.write_str("pickle refers to a value it did not store"),
            PickleRule::BadMemoKey => f.write_str("bad memo key"),
            PickleRule::Opcode(op) => {
                write!(f, "pickle opcode 0x{op:02x} is not one of a plain value")
            }
        }
    }
}

type CheckResult<T> = Result<T, PickleRule>;

impl<'a> Check<'a> {
    fn take(&mut self, n: u64) -> CheckResult<&'a [u8]> {
        let n = usize::try_from(n).map_err(|_| PickleRule::LengthBeyondMemory)?;
        if self.b.len() - self.at < n {
            return Err(PickleRule::Truncated);
        }
        let s = &self.b[self.at..self.at + n];
        self.at += n;
        Ok(s)
    }

    fn le(&mut self, n: usize) -> CheckResult<u64> {
        let s = self.take(n as u64)?;
        Ok(s.iter().rev().fold(0u64, |acc, &b| acc << 8 | u64::from(b)))
    }

    fn line(&mut self) -> CheckResult<u64> {
        let rest = &self.b[self.at..];
        let n = rest
            .iter()
            .position(|&c| c == b'\n')
            .ok_or(PickleRule::Truncated)?;
        self.at += n + 1;
        Ok(n as u64)
    }

    fn push(&mut self, cost: u64, depth: u32) -> CheckResult<()> {
        if cost > self.max {
            return Err(PickleRule::TooLarge { max: self.max });
        }
        if depth > PICKLE_MAX_DEPTH {
            return Err(PickleRule::TooDeep);
        }
        self.stack.push(Item::Value { cost, depth });
        Ok(())
    }

    fn leaf(&mut self, bytes: u64) -> CheckResult<()> {
        self.push(VALUE_COST + bytes, 0)
    }

    fn pop(&mut self) -> CheckResult<(u64, u32)> {
        match self.stack.pop() {
            Some(Item::Value { cost, depth }) => Ok((cost, depth)),
            _ => Err(PickleRule::StackUnderflow),
        }
    }

    fn top(&self) -> CheckResult<(u64, u32)> {
        match self.stack.last() {
            Some(Item::Value { cost, depth }) => Ok((*cost, *depth)),
            _ => Err(PickleRule::StackUnderflow),
        }
    }

    /// The items above the topmost mark, and the mark removed.
    fn pop_mark(&mut self) -> CheckResult<(u64, u32)> {
        let mut cost = 0u64;
        let mut depth = 0;
        loop {
            match self.stack.pop() {
                Some(Item::Mark) => return Ok((cost, depth)),
                Some(Item::Value { cost: c, depth: d }) => {
                    cost = cost.saturating_add(c);
                    depth = depth.max(d);
                }
                None => return Err(PickleRule::MarkMissing),
            }
        }
    }

    /// A new container holding items of total `cost` and greatest depth `depth`.
    fn container(&mut self, cost: u64, depth: u32) -> CheckResult<()> {
        self.push(VALUE_COST.saturating_add(cost), depth + 1)
    }

    /// Items of total `cost` and depth `depth` added to the container on top.
    fn absorb(&mut self, cost: u64, depth: u32) -> CheckResult<()> {
        let (c, d) = self.pop()?;
        self.push(c.saturating_add(cost), d.max(depth + 1))
    }

    fn memoize(&mut self, id: u64) -> CheckResult<()> {
        let top = self.top()?;
        self.memo_cost = self.memo_cost.saturating_add(top.0);
        if self.memo_cost > self.max {
            return Err(PickleRule::MemoTooLarge { max: self.max });
        }
        self.memo.insert(id as u32, top);
        Ok(())
    }

    fn get(&mut self, id: u64) -> CheckResult<()> {
        let &(cost, depth) = self.memo.get(&(id as u32)).ok_or(PickleRule::UnknownMemo)?;
        self.push(cost, depth)
    }

    /// Runs the opcodes up to `STOP`: each opcode is one of the stack, a plain value, a
    /// container, or the memo; anything else is refused.
    fn run(&mut self) -> CheckResult<()> {
        loop {
            let op = *self.take(1)?.first().expect("one byte");
            if op == b'.' {
                return self.pop().map(drop); // STOP
            }
            let known = self.stack_op(op)?
                || self.leaf_op(op)?
                || self.container_op(op)?
                || self.memo_op(op)?;
            if !known {
                return Err(PickleRule::Opcode(op));
            }
        }
    }

    /// The opcodes that move the stack or skip framing; `Ok(false)` for any other.
    fn stack_op(&mut self, op: u8) -> CheckResult<bool> {
        match op {
            0x80 => drop(self.take(1)?),         // PROTO
            0x95 => drop(self.take(8)?),         // FRAME
            b'(' => self.stack.push(Item::Mark), // MARK
            b'0' => drop(self.stack.pop().ok_or(PickleRule::StackUnderflow)?), // POP
            b'1' => drop(self.pop_mark()?),      // POP_MARK
            b'2' => {
                let (c, d) = self.top()?;
                self.push(c, d)?;
            } // DUP
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// The opcodes of a plain value (None, bool, int, float, str, bytes); `Ok(false)` for any
    /// other.
    fn leaf_op(&mut self, op: u8) -> CheckResult<bool> {
        let bytes = match op {
            b'N' | 0x88 | 0x89 => 0,                          // NONE, NEWTRUE, NEWFALSE
            b'J' => self.skip(4)?,                            // BININT
            b'K' => self.skip(1)?,                            // BININT1
            b'M' => self.skip(2)?,                            // BININT2
            b'G' => self.skip(8)?,                            // BINFLOAT
            b'I' | b'L' | b'F' | b'S' | b'V' => self.line()?, // INT, LONG, FLOAT, STRING, UNICODE
            // LONG1; SHORT_BINSTRING, SHORT_BINBYTES, SHORT_BINUNICODE
            0x8a | b'U' | b'C' | 0x8c => self.counted(1)?,
            // LONG4; BINSTRING, BINBYTES, BINUNICODE
            0x8b | b'T' | b'B' | b'X' => self.counted(4)?,
            0x8d | 0x8e | 0x96 => self.counted(8)?, // BINUNICODE8, BINBYTES8, BYTEARRAY8
            _ => return Ok(false),
        };
        self.leaf(bytes)?;
        Ok(true)
    }

    /// `n` bytes of a fixed-size value: returns 0, the bytes it adds beyond the value itself.
    fn skip(&mut self, n: u64) -> CheckResult<u64> {
        self.take(n)?;
        Ok(0)
    }

    /// A length of `width` bytes, then that many bytes: returns the length.
    fn counted(&mut self, width: usize) -> CheckResult<u64> {
        let n = self.le(width)?;
        self.take(n)?;
        Ok(n)
    }

    /// The opcodes that build or fill a container; `Ok(false)` for any other.
    fn container_op(&mut self, op: u8) -> CheckResult<bool> {
        match op {
            b']' | b'}' | b')' | 0x8f => self.container(0, 0)?, // EMPTY_LIST/DICT/TUPLE/SET
            b'l' | b'd' | b't' | 0x91 => {
                let (c, d) = self.pop_mark()?;
                self.container(c, d)?;
            } // LIST, DICT, TUPLE, FROZENSET
            0x85..=0x87 => {
                let (mut cost, mut depth) = (0u64, 0);
                for _ in 0..op - 0x84 {
                    let (c, d) = self.pop()?;
                    cost = cost.saturating_add(c);
                    depth = depth.max(d);
                }
                self.container(cost, depth)?;
            } // TUPLE1, TUPLE2, TUPLE3
            b'a' => {
                let (c, d) = self.pop()?;
                self.absorb(c, d)?;
            } // APPEND
            b's' => {
                let (c1, d1) = self.pop()?;
                let (c2, d2) = self.pop()?;
                self.absorb(c1.saturating_add(c2), d1.max(d2))?;
            } // SETITEM
            b'e' | b'u' | 0x90 => {
                let (c, d) = self.pop_mark()?;
                self.absorb(c, d)?;
            } // APPENDS, SETITEMS, ADDITEMS
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// The opcodes that store or fetch a shared value; `Ok(false)` for any other.
    fn memo_op(&mut self, op: u8) -> CheckResult<bool> {
        match op {
            b'p' => {
                let id = self.text_id()?;
                self.memoize(id)?;
            } // PUT
            b'q' => {
                let id = self.le(1)?;
                self.memoize(id)?;
            } // BINPUT
            b'r' => {
                let id = self.le(4)?;
                self.memoize(id)?;
            } // LONG_BINPUT
            0x94 => {
                let id = self.memo.len() as u64;
                self.memoize(id)?;
            } // MEMOIZE
            b'g' => {
                let id = self.text_id()?;
                self.get(id)?;
            } // GET
            b'h' => {
                let id = self.le(1)?;
                self.get(id)?;
            } // BINGET
            b'j' => {
                let id = self.le(4)?;
                self.get(id)?;
            } // LONG_BINGET
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// A memo key written as a line of text.
    fn text_id(&mut self) -> CheckResult<u64> {
        let start = self.at;
        let n = self.line()?;
        parse_id(&self.b[start..start + n as usize])
    }
}

fn parse_id(text: &[u8]) -> CheckResult<u64> {
    std::str::from_utf8(text)
        .ok()
        .and_then(|t| t.trim().parse().ok())
        .ok_or(PickleRule::BadMemoKey)
}

/// Checks that `bytes` is a pickle of a plain value that decodes within `max` bytes and
/// [`PICKLE_MAX_DEPTH`] levels, without decoding it.
///
/// # Errors
/// The rule the pickle breaks.
pub(crate) fn check(bytes: &[u8], max: usize) -> Result<(), PickleRule> {
    Check {
        b: bytes,
        at: 0,
        stack: Vec::new(),
        memo: HashMap::new(),
        memo_cost: 0,
        max: max as u64,
    }
    .run()
}

fn corrupt(rule: PickleRule) -> Error {
    Error::Corrupt {
        reason: CorruptReason::Pickle(rule),
    }
}

/// Decodes a pickle of a plain value as a `T`, after [`check`].
pub(crate) fn decode<T: DeserializeOwned>(bytes: &[u8], max: usize) -> Result<T, Error> {
    check(bytes, max).map_err(corrupt)?;
    serde_pickle::from_slice(bytes, serde_pickle::DeOptions::new()).map_err(|e| Error::Corrupt {
        reason: CorruptReason::PickleDecode(e),
    })
}

/// Decodes a pickle of a plain value as a dynamic value, after [`check`].
pub(crate) fn decode_value(bytes: &[u8], max: usize) -> Result<serde_pickle::Value, Error> {
    check(bytes, max).map_err(corrupt)?;
    serde_pickle::value_from_slice(bytes, serde_pickle::DeOptions::new()).map_err(|e| {
        Error::Corrupt {
            reason: CorruptReason::PickleDecode(e),
        }
    })
}

impl Connection {
    /// Sends `value` pickled, as Python's `Connection.send(obj)` does: a Python peer gets it
    /// from `recv()`. For plain values (and structs and enums, which become dicts).
    /// Protocol 3, which every Python 3 reads.
    ///
    /// # Errors
    /// [`Error::Encode`] when `serde-pickle` cannot encode it; as
    /// [`send_bytes`](Self::send_bytes) otherwise.
    pub fn send_pickle<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        let bytes = serde_pickle::to_vec(&value, serde_pickle::SerOptions::new())
            .map_err(|e| Error::Encode(EncodeError::Pickle(e)))?;
        self.send_bytes(&bytes)
    }

    /// Receives a pickled value, as Python's `Connection.recv()` does, from a Python peer's
    /// `send(obj)`: ints, floats, str, bytes, None, bool, lists, tuples, dicts (and sets), as a
    /// `T` or as a dynamic [`serde_pickle::Value`].
    ///
    /// # Errors
    /// [`Error::Corrupt`] for a pickle of something else (a class instance, a function) or one
    /// that breaks the module's limits; as [`recv_bytes`](Self::recv_bytes) otherwise.
    pub fn recv_pickle<T: DeserializeOwned>(&mut self) -> Result<T, Error> {
        let bytes = self.recv_bytes()?;
        decode(&bytes, self.max_message())
    }

    /// Sends a dynamic pickle value (a [`serde_pickle::Value`], as
    /// [`recv_pickle_value`](Self::recv_pickle_value) gives), keeping what serde would blur:
    /// tuples stay tuples, sets stay sets.
    pub fn send_pickle_value(&mut self, value: &serde_pickle::Value) -> Result<(), Error> {
        let bytes = serde_pickle::value_to_vec(value, serde_pickle::SerOptions::new())
            .map_err(|e| Error::Encode(EncodeError::Pickle(e)))?;
        self.send_bytes(&bytes)
    }

    /// Receives a pickled value as a dynamic [`serde_pickle::Value`] (whatever plain value the
    /// Python peer sent), with the same checks as [`recv_pickle`](Self::recv_pickle).
    pub fn recv_pickle_value(&mut self) -> Result<serde_pickle::Value, Error> {
        let bytes = self.recv_bytes()?;
        decode_value(&bytes, self.max_message())
    }

    /// [`recv_pickle_value`](Self::recv_pickle_value) with a timeout.
    pub fn recv_pickle_value_timeout(
        &mut self,
        timeout: Duration,
    ) -> Result<serde_pickle::Value, Error> {
        let bytes = self.recv_bytes_timeout(timeout)?;
        decode_value(&bytes, self.max_message())
    }

    /// [`recv_pickle`](Self::recv_pickle) with a timeout.
    pub fn recv_pickle_timeout<T: DeserializeOwned>(
        &mut self,
        timeout: Duration,
    ) -> Result<T, Error> {
        let bytes = self.recv_bytes_timeout(timeout)?;
        decode(&bytes, self.max_message())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_memo_bomb_is_refused_before_decoding() {
        // x = [b'a' * 1000]; then [x, x], [[x, x], [x, x]], ... through the memo: 40 levels
        // would be 2^40 copies.
        let mut p = vec![0x80, 4, b']', b'C', 200];
        p.extend_from_slice(&[b'a'; 200]);
        p.extend_from_slice(&[b'a', 0x94]);
        for i in 0..40u8 {
            // ( GET i GET i ) -> list, memoize as i + 1
            p.extend_from_slice(&[b'(', b'h', i, b'h', i, b'l', 0x94]);
        }
        p.push(b'.');
        let err = check(&p, 1 << 30).unwrap_err();
        assert!(
            matches!(
                err,
                PickleRule::TooLarge { .. } | PickleRule::MemoTooLarge { .. }
            ),
            "{err}"
        );
    }

    #[test]
    fn deep_nesting_is_refused() {
        let mut p = vec![0x80, 4];
        p.extend(std::iter::repeat_n(b']', 1000));
        p.extend(std::iter::repeat_n(b'a', 999));
        p.push(b'.');
        let err = check(&p, 1 << 30).unwrap_err();
        assert_eq!(err, PickleRule::TooDeep);
    }

    #[test]
    fn what_serde_pickle_writes_passes_the_check() {
        let v = (1u8, -5i64, 2.5f64, "text", vec![Some(1u32), None], true);
        let bytes = serde_pickle::to_vec(&v, serde_pickle::SerOptions::new()).unwrap();
        check(&bytes, 1 << 20).unwrap();
        let back: (u8, i64, f64, String, Vec<Option<u32>>, bool) = decode(&bytes, 1 << 20).unwrap();
        assert_eq!(back.3, "text");
    }
}
