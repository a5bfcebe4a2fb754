//! [`ShareableListBuilder`]: a [`ShareableList`] with a name, or with more room for text.

use crate::error::Error;
use crate::list_item::ListItem;
use crate::list_layout::{self, ALIGN, MAX_ROOM};
use crate::shareable_list::ShareableList;

/// Options for a [`ShareableList`]: its name, and the room of each item.
///
/// Python sizes the room of a `str` or `bytes` item from its first value, so a longer value
/// never fits later (the Python idiom is to start with a long placeholder). Here the room can
/// be stated:
///
/// ```
/// use multiproc_shm::{Error, ShareableList};
///
/// let sl = ShareableList::builder()
///     .item("idle")                     // room: 8 bytes, as Python gives "idle"
///     .item_with_room("", 64)           // room: 64 bytes
///     .build()?;
/// sl.set(1, "a status message that needs more than eight bytes")?;
/// assert!(matches!(sl.set(0, "running late"), Err(Error::TooLong { capacity: 8, got: 12 })));
/// # Ok::<(), Error>(())
/// ```
#[derive(Debug, Default)]
pub struct ShareableListBuilder {
    name: Option<String>,
    items: Vec<(ListItem, usize)>,
}

impl ShareableListBuilder {
    /// The block's name (default: a generated `psm_…` name).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Appends `item`, with Python's room for it.
    pub fn item(mut self, item: impl Into<ListItem>) -> Self {
        let item = item.into();
        let room = list_layout::default_room(&item);
        self.items.push((item, room));
        self
    }

    /// Appends `item` with room for `room` bytes of text or bytes (rounded up to a multiple of
    /// 8, and at least the item's own room), so that longer values fit later.
    pub fn item_with_room(mut self, item: impl Into<ListItem>, room: usize) -> Self {
        let item = item.into();
        let room = room
            .checked_next_multiple_of(ALIGN)
            .unwrap_or(usize::MAX)
            .max(list_layout::default_room(&item));
        self.items.push((item, room));
        self
    }

    /// Appends every item of `items`, each with Python's room for it.
    pub fn items<I>(self, items: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<ListItem>,
    {
        items.into_iter().fold(self, Self::item)
    }

    /// Creates the block and writes the items.
    ///
    /// # Errors
    /// [`Error::TooLong`] for a room above 9,999,992 bytes (Python's format for it would not
    /// fit in its 8 bytes); [`Error::AlreadyExists`] when the name is taken; [`Error::Io`] when
    /// the block cannot be created.
    pub fn build(self) -> Result<ShareableList, Error> {
        if let Some(&(_, room)) = self.items.iter().find(|(_, r)| *r > MAX_ROOM) {
            return Err(Error::TooLong {
                capacity: MAX_ROOM,
                got: room,
            });
        }
        let (items, rooms): (Vec<_>, Vec<_>) = self.items.into_iter().unzip();
        ShareableList::build(self.name.as_deref(), &items, &rooms)
    }
}
