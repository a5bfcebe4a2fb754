//! The bytes of a [`ShareableList`](crate::ShareableList): Python's layout, so that a Python
//! program attaches to ours by name and we to its.
//!
//! ```text
//! 0                 n: i64, the number of items
//! 8                 n + 1 offsets: i64, where each item's room starts in the data area
//!                   (the last one: where the data area ends)
//! (n + 2) * 8       the data area: each item in its room
//! … + offsets[n]    n formats of 8 bytes (Python's `struct` format, NUL-padded)
//! … + 8 n           n back-transform codes of 1 byte: 0 int/float/bool, 1 str, 2 bytes, 3 None
//! ```
//!
//! Numbers are native-endian (Python's `struct` without a byte-order prefix).

use std::ops::Range;

use crate::error::CorruptReason;
use crate::list_item::ListItem;

/// Python's `_alignment`: every room is a multiple of it, and a number takes one.
pub(crate) const ALIGN: usize = 8;

/// The largest room: Python's format for it, `9999992s`, must fit in 8 bytes.
pub(crate) const MAX_ROOM: usize = 9_999_992;

const CODE_VALUE: i8 = 0;
const CODE_STR: i8 = 1;
const CODE_BYTES: i8 = 2;
const CODE_NONE: i8 = 3;

const FMT_INT: &[u8] = b"q";
const FMT_FLOAT: &[u8] = b"d";
const FMT_BOOL: &[u8] = b"xxxxxxx?";
const FMT_NONE: &[u8] = b"xxxxxx?x";

/// Where everything is, for a list of `offsets.len() - 1` items.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    offsets: Vec<usize>,
}

impl Layout {
    /// The layout of items with these rooms (each a multiple of [`ALIGN`]).
    pub(crate) fn from_rooms(rooms: &[usize]) -> Layout {
        let mut offsets = Vec::with_capacity(rooms.len() + 1);
        let mut at = 0;
        offsets.push(at);
        for r in rooms {
            at += r;
            offsets.push(at);
        }
        Layout { offsets }
    }

    /// Reads the layout from the block's first bytes, `read(offset, buf)` copying from the
    /// block, whose size is `size`; refuses one that does not fit.
    pub(crate) fn parse<E>(
        size: usize,
        mut read: impl FnMut(usize, &mut [u8]) -> Result<(), E>,
    ) -> Result<Result<Layout, CorruptReason>, E> {
        if size < 2 * ALIGN {
            return Ok(Err(CorruptReason::Header));
        }
        let mut word = [0u8; 8];
        read(0, &mut word)?;
        let n = i64::from_ne_bytes(word);
        // (n + 2) * 8 header bytes, then at least 9 bytes per item: bounded by the size.
        let fits = usize::try_from(n)
            .ok()
            .filter(|&n| n <= size / (2 * ALIGN + 1));
        let Some(n) = fits else {
            return Ok(Err(CorruptReason::Header));
        };
        let mut raw = vec![0u8; (n + 1) * ALIGN];
        read(ALIGN, &mut raw)?;
        let mut offsets = Vec::with_capacity(n + 1);
        for w in raw.chunks_exact(ALIGN) {
            let v = i64::from_ne_bytes(w.try_into().expect("8 bytes"));
            match usize::try_from(v) {
                Ok(v) if v >= offsets.last().copied().unwrap_or(0) && v <= size => offsets.push(v),
                _ => return Ok(Err(CorruptReason::Header)),
            }
        }
        let layout = Layout { offsets };
        if layout.offsets[0] != 0 || layout.size_checked().is_none_or(|s| s > size) {
            return Ok(Err(CorruptReason::Header));
        }
        Ok(Ok(layout))
    }

    /// The number of items.
    pub(crate) fn len(&self) -> usize {
        self.offsets.len() - 1
    }

    /// Where the data area starts.
    pub(crate) fn data_start(&self) -> usize {
        (self.len() + 2) * ALIGN
    }

    /// The bytes of item `i`'s room.
    pub(crate) fn room(&self, i: usize) -> Range<usize> {
        let d = self.data_start();
        d + self.offsets[i]..d + self.offsets[i + 1]
    }

    /// Where item `i`'s format is.
    pub(crate) fn format_at(&self, i: usize) -> usize {
        self.data_start() + self.offsets[self.len()] + i * ALIGN
    }

    /// Where item `i`'s back-transform code is.
    pub(crate) fn code_at(&self, i: usize) -> usize {
        self.format_at(self.len()) + i
    }

    /// The size of the block.
    pub(crate) fn size(&self) -> usize {
        self.code_at(self.len())
    }

    fn size_checked(&self) -> Option<usize> {
        let n = self.len();
        (n + 2)
            .checked_mul(ALIGN)?
            .checked_add(self.offsets[n])?
            .checked_add(n.checked_mul(ALIGN + 1)?)
    }

    /// The first bytes: the length and the offsets.
    pub(crate) fn header(&self) -> Vec<u8> {
        let mut h = Vec::with_capacity(self.data_start());
        h.extend_from_slice(&(self.len() as i64).to_ne_bytes());
        for &o in &self.offsets {
            h.extend_from_slice(&(o as i64).to_ne_bytes());
        }
        h
    }
}

/// Python's room for `item`: 8 bytes for a number, bool or None; for text and bytes the next
/// multiple of 8 above their length (`8 * (len // 8 + 1)`).
pub(crate) fn default_room(item: &ListItem) -> usize {
    match payload(item) {
        Some(b) => ALIGN * (b.len() / ALIGN + 1),
        None => ALIGN,
    }
}

/// The bytes of text or bytes.
pub(crate) fn payload(item: &ListItem) -> Option<&[u8]> {
    match item {
        ListItem::Str(s) => Some(s.as_bytes()),
        ListItem::Bytes(b) => Some(b),
        _ => None,
    }
}

/// One item as Python stores it: its format (NUL-padded), code, and the bytes of its room to
/// write (8 for a number; the whole room, zero-padded, for text and bytes).
pub(crate) struct Encoded {
    pub(crate) format: [u8; 8],
    pub(crate) code: i8,
    pub(crate) data: Vec<u8>,
}

/// Encodes `item` for a room of `room` bytes. `Err(len)` when its bytes do not fit.
pub(crate) fn encode(item: &ListItem, room: usize) -> Result<Encoded, usize> {
    let fixed = |fmt: &[u8], code: i8, data: [u8; 8]| Encoded {
        format: pad8(fmt),
        code,
        data: data.to_vec(),
    };
    Ok(match item {
        ListItem::Int(v) => fixed(FMT_INT, CODE_VALUE, v.to_ne_bytes()),
        ListItem::Float(v) => fixed(FMT_FLOAT, CODE_VALUE, v.to_ne_bytes()),
        ListItem::Bool(v) => fixed(FMT_BOOL, CODE_VALUE, [0, 0, 0, 0, 0, 0, 0, u8::from(*v)]),
        ListItem::None => fixed(FMT_NONE, CODE_NONE, [0; 8]),
        ListItem::Str(_) | ListItem::Bytes(_) => {
            let b = payload(item).expect("text or bytes");
            if b.len() > room {
                return Err(b.len());
            }
            let mut data = vec![0u8; room];
            data[..b.len()].copy_from_slice(b);
            let code = if matches!(item, ListItem::Str(_)) {
                CODE_STR
            } else {
                CODE_BYTES
            };
            Encoded {
                format: pad8(format!("{room}s").as_bytes()),
                code,
                data,
            }
        }
    })
}

fn pad8(fmt: &[u8]) -> [u8; 8] {
    let mut f = [0u8; 8];
    f[..fmt.len()].copy_from_slice(fmt);
    f
}

/// Decodes item `index` from its format, code and room, as Python's `__getitem__` does:
/// the format unpacks a value, the code transforms it back.
pub(crate) fn decode(
    index: usize,
    format: &[u8; 8],
    code: i8,
    room: &[u8],
) -> Result<ListItem, CorruptReason> {
    let fmt_end = format.iter().rposition(|&b| b != 0).map_or(0, |p| p + 1);
    let fmt = &format[..fmt_end];
    let bad_format = CorruptReason::Format { index };
    let bad_code = CorruptReason::Code { index, code };
    let word = || -> Result<[u8; 8], CorruptReason> {
        room.get(..ALIGN)
            .map(|w| w.try_into().expect("8 bytes"))
            .ok_or(bad_format)
    };
    let value = match fmt {
        FMT_INT => ListItem::Int(i64::from_ne_bytes(word()?)),
        FMT_FLOAT => ListItem::Float(f64::from_ne_bytes(word()?)),
        FMT_BOOL => ListItem::Bool(word()?[7] != 0),
        FMT_NONE => ListItem::Bool(word()?[6] != 0),
        _ => {
            let n = string_len(fmt)
                .filter(|&n| n <= room.len())
                .ok_or(bad_format)?;
            let raw = &room[..n];
            let trimmed = &raw[..raw.iter().rposition(|&b| b != 0).map_or(0, |p| p + 1)];
            return match code {
                CODE_VALUE => Ok(ListItem::Bytes(raw.to_vec())),
                CODE_STR => std::str::from_utf8(trimmed)
                    .map(|s| ListItem::Str(s.to_string()))
                    .map_err(|_| CorruptReason::Utf8 { index }),
                CODE_BYTES => Ok(ListItem::Bytes(trimmed.to_vec())),
                CODE_NONE => Ok(ListItem::None),
                _ => Err(bad_code),
            };
        }
    };
    match code {
        CODE_VALUE => Ok(value),
        CODE_NONE => Ok(ListItem::None),
        _ => Err(bad_code),
    }
}

/// `n` for a format `<n>s` (digits, then `s`).
fn string_len(fmt: &[u8]) -> Option<usize> {
    let digits = fmt.strip_suffix(b"s")?;
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}
