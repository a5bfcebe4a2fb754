//! [`ShareableList`]: Python's `multiprocessing.shared_memory.ShareableList`.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{CorruptReason, Error, check_index};
use crate::list_builder::ShareableListBuilder;
use crate::list_item::ListItem;
use crate::list_layout::{self, ALIGN, Layout};
use crate::shared_memory::SharedMemory;

/// A list of fixed length in a named shared memory block: Python's
/// `multiprocessing.shared_memory.ShareableList`, byte for byte.
///
/// Items are ints (64-bit), floats, bools, text, bytes and `None` ([`ListItem`]). The length
/// never changes, and an item of text or bytes has a room of a fixed number of bytes: by
/// default the next multiple of 8 above its first value's length, as in Python, or what
/// [`ShareableListBuilder::item_with_room`] states. Any item may later be set to a value of
/// any type that fits its room (a number takes 8 bytes).
///
/// The block has Python's layout, so a Python program attaches to a list made here by its
/// [`name`](Self::name) (`ShareableList(name=…)`), and [`open`](Self::open) attaches to one
/// made by Python. Like any handle of this crate, a list also travels to a child as an argument
/// (by every start method).
///
/// ```
/// use multiproc_shm::{ListItem, ShareableList};
///
/// // Python: sl = ShareableList([7, 2.5, True, "hello", b"bytes", None])
/// let sl = ShareableList::new([
///     ListItem::Int(7),
///     2.5.into(),
///     true.into(),
///     "hello".into(),
///     b"bytes".into(),
///     ListItem::None,
/// ])?;
/// assert_eq!(sl.len(), 6);
/// assert_eq!(sl.get(3)?, ListItem::Str("hello".into()));
/// assert_eq!(sl.format()?, "qdxxxxxxx?8s8sxxxxxx?x");
///
/// sl.set(0, "seven")?;               // any type that fits the room
/// assert_eq!(sl.index("seven")?, Some(0));
/// assert_eq!(sl.count(ListItem::None)?, 1);
///
/// let other = ShareableList::open(sl.name())?; // elsewhere: another program, Python's too
/// assert_eq!(other.get(0)?, ListItem::Str("seven".into()));
/// # Ok::<(), multiproc_shm::Error>(())
/// ```
///
/// # Concurrency
///
/// As in Python, there is no lock: each [`get`](Self::get) and [`set`](Self::set) copies
/// through the block's descriptor, and a reader racing a writer of the same item may see the
/// new format with the old bytes, or the reverse. That gives a wrong value or
/// [`Error::Corrupt`], never undefined behaviour or a crash; guard items that change under
/// readers with a [`Lock`](multiproc_sync::Lock). The layout (length and rooms) never changes
/// and is read once, by [`open`](Self::open).
///
/// # Differences from Python
///
/// - Indices are `usize` (no negative indices); an index past the end is
///   [`Error::OutOfBounds`] (Python's `IndexError`).
/// - [`index`](Self::index) returns `None` where Python raises `ValueError`.
/// - Equality is [`ListItem`]'s: `1`, `1.0` and `True` are different items.
/// - Text or bytes too long for the room is [`Error::TooLong`] (Python's `ValueError`).
/// - Python sizes a `str`'s room by its number of characters, which can be too small for its
///   UTF-8 bytes; this crate sizes it by its bytes. Trailing NULs of text and bytes are lost in
///   both.
/// - The creator removes the name when its handle is dropped, as [`SharedMemory`] does
///   ([`persist`](Self::persist) keeps it); Python removes it when the creating process exits.
pub struct ShareableList {
    shm: SharedMemory,
    layout: Layout,
}

impl fmt::Debug for ShareableList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShareableList")
            .field("name", &self.shm.name())
            .field("len", &self.len())
            .finish()
    }
}

impl ShareableList {
    /// A list of `items` in a block with a generated name (`psm_…`, Python's
    /// `ShareableList(sequence)`), each item of text or bytes with Python's room for it.
    ///
    /// # Errors
    /// [`Error::TooLong`] for text or bytes above 9,999,992 bytes (Python's format for it would
    /// not fit); [`Error::Io`] when the block cannot be created.
    pub fn new<I>(items: I) -> Result<ShareableList, Error>
    where
        I: IntoIterator,
        I::Item: Into<ListItem>,
    {
        Self::builder().items(items).build()
    }

    /// A list of `items` in a block named `name` (Python's `ShareableList(sequence, name=name)`).
    ///
    /// # Errors
    /// [`Error::AlreadyExists`] when the name is taken; otherwise as [`new`](Self::new).
    pub fn create<I>(name: &str, items: I) -> Result<ShareableList, Error>
    where
        I: IntoIterator,
        I::Item: Into<ListItem>,
    {
        Self::builder().name(name).items(items).build()
    }

    /// Options: a name, and a stated room for items of text or bytes.
    pub fn builder() -> ShareableListBuilder {
        ShareableListBuilder::default()
    }

    /// Attaches to the list named `name`, made here or by Python
    /// (`ShareableList(name=name)`).
    ///
    /// # Errors
    /// [`Error::NotFound`] when no block has that name; [`Error::Corrupt`] when its first
    /// bytes are not a list's length and offsets that fit the block.
    pub fn open(name: &str) -> Result<ShareableList, Error> {
        Self::from_block(SharedMemory::open(name)?)
    }

    /// A list over `shm`, whose layout is read and checked.
    fn from_block(shm: SharedMemory) -> Result<ShareableList, Error> {
        let parsed = Layout::parse(shm.size(), |at, buf| shm.read(at, buf))?;
        match parsed {
            Ok(layout) => Ok(ShareableList { shm, layout }),
            Err(reason) => Err(Error::Corrupt {
                name: shm.name().to_string(),
                reason,
            }),
        }
    }

    /// Makes the block for `items` (with their rooms) and writes them.
    pub(crate) fn build(
        name: Option<&str>,
        items: &[ListItem],
        rooms: &[usize],
    ) -> Result<ShareableList, Error> {
        let layout = Layout::from_rooms(rooms);
        let mut bytes = layout.header();
        bytes.resize(layout.size(), 0);
        for (i, item) in items.iter().enumerate() {
            let room = layout.room(i);
            let e = list_layout::encode(item, room.len()).map_err(|got| Error::TooLong {
                capacity: room.len(),
                got,
            })?;
            bytes[room.start..room.start + e.data.len()].copy_from_slice(&e.data);
            let f = layout.format_at(i);
            bytes[f..f + ALIGN].copy_from_slice(&e.format);
            bytes[layout.code_at(i)] = e.code as u8;
        }
        let shm = match name {
            Some(n) => SharedMemory::create(n, layout.size())?,
            None => SharedMemory::new(layout.size())?,
        };
        shm.write(0, &bytes)?;
        Ok(ShareableList { shm, layout })
    }

    /// The block's name (Python's `shm.name`): how other programs attach.
    pub fn name(&self) -> &str {
        self.shm.name()
    }

    /// The number of items (Python's `len(sl)`), fixed when the list was made.
    pub fn len(&self) -> usize {
        self.layout.len()
    }

    /// Whether the list has no items.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many bytes of text or bytes item `index` holds: its room.
    ///
    /// # Errors
    /// [`Error::OutOfBounds`] for an index past the end.
    pub fn room(&self, index: usize) -> Result<usize, Error> {
        check_index(index, self.len())?;
        Ok(self.layout.room(index).len())
    }

    /// Item `index` (Python's `sl[index]`).
    ///
    /// # Errors
    /// [`Error::OutOfBounds`] for an index past the end; [`Error::Corrupt`] when the item's
    /// bytes do not decode; [`Error::Truncated`] when another program shrank the block.
    pub fn get(&self, index: usize) -> Result<ListItem, Error> {
        check_index(index, self.len())?;
        let mut format = [0u8; ALIGN];
        self.shm.read(self.layout.format_at(index), &mut format)?;
        let mut code = [0u8; 1];
        self.shm.read(self.layout.code_at(index), &mut code)?;
        let r = self.layout.room(index);
        let mut room = vec![0u8; r.len()];
        self.shm.read(r.start, &mut room)?;
        list_layout::decode(index, &format, code[0] as i8, &room).map_err(|e| self.corrupt(e))
    }

    /// Sets item `index` to `item` (Python's `sl[index] = item`), of any type that fits the
    /// item's room.
    ///
    /// # Errors
    /// [`Error::OutOfBounds`] for an index past the end; [`Error::TooLong`] for text or bytes
    /// longer than the room (nothing is written); [`Error::Truncated`] when another program
    /// shrank the block.
    pub fn set(&self, index: usize, item: impl Into<ListItem>) -> Result<(), Error> {
        check_index(index, self.len())?;
        let r = self.layout.room(index);
        let e = list_layout::encode(&item.into(), r.len()).map_err(|got| Error::TooLong {
            capacity: r.len(),
            got,
        })?;
        // Python's order: the format and code, then the value.
        self.shm.write(self.layout.format_at(index), &e.format)?;
        self.shm
            .write(self.layout.code_at(index), &[e.code as u8])?;
        self.shm.write(r.start, &e.data)
    }

    /// Every item, read in one copy of the block.
    ///
    /// # Errors
    /// [`Error::Corrupt`] when an item's bytes do not decode; [`Error::Truncated`] when another
    /// program shrank the block.
    pub fn to_vec(&self) -> Result<Vec<ListItem>, Error> {
        let start = self.layout.data_start();
        let mut bytes = vec![0u8; self.layout.size() - start];
        self.shm.read(start, &mut bytes)?;
        (0..self.len())
            .map(|i| {
                let at = |p: usize| p - start;
                let f = at(self.layout.format_at(i));
                let format: [u8; ALIGN] = bytes[f..f + ALIGN].try_into().expect("8 bytes");
                let code = bytes[at(self.layout.code_at(i))] as i8;
                let r = self.layout.room(i);
                list_layout::decode(i, &format, code, &bytes[at(r.start)..at(r.end)])
                    .map_err(|e| self.corrupt(e))
            })
            .collect()
    }

    /// How many items equal `item` (Python's `sl.count(item)`).
    ///
    /// # Errors
    /// As [`to_vec`](Self::to_vec).
    pub fn count(&self, item: impl Into<ListItem>) -> Result<usize, Error> {
        let item = item.into();
        Ok(self.to_vec()?.iter().filter(|x| **x == item).count())
    }

    /// The index of the first item equal to `item`, `None` if there is none (Python's
    /// `sl.index(item)`, which raises `ValueError`).
    ///
    /// # Errors
    /// As [`to_vec`](Self::to_vec).
    pub fn index(&self, item: impl Into<ListItem>) -> Result<Option<usize>, Error> {
        let item = item.into();
        Ok(self.to_vec()?.iter().position(|x| *x == item))
    }

    /// The `struct` formats of every item, joined (Python's `sl.format`), such as
    /// `"qdxxxxxxx?8s"`.
    ///
    /// # Errors
    /// [`Error::Corrupt`] when a format is not text; [`Error::Truncated`].
    pub fn format(&self) -> Result<String, Error> {
        let n = self.len();
        let mut raw = vec![0u8; n * ALIGN];
        self.shm.read(self.layout.format_at(0), &mut raw)?;
        let mut out = String::new();
        for (index, f) in raw.chunks_exact(ALIGN).enumerate() {
            let end = f.iter().rposition(|&b| b != 0).map_or(0, |p| p + 1);
            let s = std::str::from_utf8(&f[..end])
                .map_err(|_| self.corrupt(CorruptReason::Format { index }))?;
            out.push_str(s);
        }
        Ok(out)
    }

    /// The block (Python's `sl.shm`).
    pub fn shm(&self) -> &SharedMemory {
        &self.shm
    }

    /// Keeps the name after this (creator's) handle is dropped; see
    /// [`SharedMemory::persist`].
    pub fn persist(&mut self) {
        self.shm.persist();
    }

    /// Removes the name now (Python's `sl.shm.unlink()`); see [`SharedMemory::unlink`].
    ///
    /// # Errors
    /// [`Error::NotFound`] when the name is gone already.
    pub fn unlink(&mut self) -> Result<(), Error> {
        self.shm.unlink()
    }

    /// A second handle to the same list, which never removes the name.
    ///
    /// # Errors
    /// [`Error::Io`] when the descriptor cannot be duplicated or mapped.
    pub fn try_clone(&self) -> Result<ShareableList, Error> {
        Ok(ShareableList {
            shm: self.shm.try_clone()?,
            layout: self.layout.clone(),
        })
    }

    fn corrupt(&self, reason: CorruptReason) -> Error {
        Error::Corrupt {
            name: self.shm.name().to_string(),
            reason,
        }
    }
}

impl Serialize for ShareableList {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.shm.serialize(s)
    }
}

impl<'de> Deserialize<'de> for ShareableList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let shm = SharedMemory::deserialize(d)?;
        ShareableList::from_block(shm).map_err(serde::de::Error::custom)
    }
}
