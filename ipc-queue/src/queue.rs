//! [`Queue`]: Python's `multiprocessing.Queue`.

use std::cell::RefCell;
use std::fmt;
use std::io;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{GetError, PutError};
use crate::ring::{self, GetFail, PutFail, Ring, Timeout, Wait};

thread_local! {
    /// The encoding buffer of a `put` whose item does not fit [`SMALL`] bytes, reused.
    static BUF: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Items whose encoding takes at most this many bytes are encoded on the stack.
const SMALL: usize = 256;

/// `item`'s postcard bytes, handed to `then`.
fn encode<T: Serialize, R>(
    item: &T,
    then: impl FnOnce(&[u8]) -> R,
) -> Result<R, multiproc_core::Error> {
    let mut small = [0u8; SMALL];
    if let Ok(bytes) = postcard::to_slice(item, &mut small) {
        return Ok(then(bytes));
    }
    encode_large(item, then)
}

/// [`encode`] for an item that did not fit on the stack (or did not encode at all: the
/// workspace's encoder then says why, typed).
#[cold]
fn encode_large<T: Serialize, R>(
    item: &T,
    then: impl FnOnce(&[u8]) -> R,
) -> Result<R, multiproc_core::Error> {
    BUF.with(|buf| {
        let mut buf = buf.borrow_mut();
        buf.clear();
        multiproc_core::codec::encode(item, &mut buf)?;
        let r = then(&buf);
        if buf.capacity() > 1 << 20 {
            *buf = Vec::new();
        }
        Ok(r)
    })
}

/// Decodes a whole payload; a failure is decoded again by the workspace's decoder, which says
/// why, typed.
#[inline]
pub(crate) fn decode<T: DeserializeOwned>(payload: &[u8]) -> Result<T, multiproc_core::Error> {
    match postcard::take_from_bytes::<T>(payload) {
        Ok((v, [])) => Ok(v),
        _ => multiproc_core::codec::decode(payload),
    }
}

/// A first-in first-out queue of serde values between any number of producer and consumer
/// processes (Python's `multiprocessing.Queue`).
///
/// Items are postcard-encoded into a ring in shared memory (a memfd, 1 MiB unless
/// [`with_capacity`](Self::with_capacity) says otherwise); `put` and `get` block on futexes
/// after a short spin. No pipe, no feeder thread.
///
/// A handle is cheap to [`Clone`] (same queue), is inherited by `fork`, and travels to a
/// `spawn` or `forkserver` child as an `multiproc_process` argument (serde; its descriptors go out of
/// band).
///
/// ```
/// use multiproc_queue::{GetError, PutError, Queue};
/// use std::time::Duration;
///
/// let q = Queue::with_maxsize(1)?;
/// q.put("one".to_string()).unwrap();
/// assert!(q.full());
/// // Full hands the item back.
/// let Err(PutError::Full(item)) = q.put_nowait("two".to_string()) else { panic!() };
/// assert_eq!(item, "two");
/// assert_eq!(q.get().unwrap(), "one");
/// assert!(matches!(q.get_timeout(Duration::from_millis(10)), Err(GetError::Empty)));
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// # Unbounded queues and a full buffer
///
/// Python's unbounded `Queue.put` never blocks: a feeder thread buffers items in the
/// producer's memory without limit. Ours has no feeder thread, so an unbounded queue (no
/// `maxsize`) is bounded by its shared buffer: when the buffer is full, `put` blocks until a
/// consumer makes room, `put_timeout` gives [`PutError::Full`] after the timeout and
/// `put_nowait` at once. Make the buffer as large as the backlog you expect.
///
/// # Messages larger than the buffer
///
/// An item whose encoding is larger than a quarter of the buffer goes in chunks, under the
/// producer lock held throughout; the consumer puts it back together. Any size goes through
/// (tests send 64 MiB through a 1 MiB buffer). The timeout of `put` applies until the first
/// chunk is in; from then the producer waits for consumers to take the rest.
///
/// Every `get` returns by its deadline, even in the middle of such an item whose producer is
/// slow or stopped, and the item is not lost: an item of up to about three quarters of the
/// buffer stays in the buffer until it is whole, for the next `get`; a larger one, whose front
/// the consumer had to take out to make room, is handed back to its producer, which sends it
/// again from its start. So an item larger than the buffer reaches only a `get` whose timeout
/// covers its whole transfer (never a `get_nowait`): make the buffer larger than the largest
/// item if consumers poll with short timeouts.
///
/// # Closing
///
/// [`close`](Self::close) closes the queue for putting, for every process: later puts give
/// [`PutError::Closed`] with the item, consumers take what is left and then get
/// [`GetError::Closed`] at once instead of blocking. (Python's `close` only says "this process
/// will put no more", and a consumer of a queue nobody feeds blocks forever. Counting
/// producers per handle cannot be done reliably when a handle may be copied by `fork`, so the
/// last producer — or the parent once it joined the producers — closes.)
///
/// # When a process dies
///
/// A producer killed in the middle of `put` never makes a half-written item visible: the item
/// is published by one store at the very end. The next producer takes the producer lock over
/// from the dead one (noticed within milliseconds) and carries on. A consumer killed in the
/// middle of `get` leaves the item in the queue for the next consumer, unless it had taken it
/// already. A consumer that dies asleep in `get` holds the consumer lock; the next consumer
/// takes it over within ~10 ms. A dead producer in the middle of a chunked (larger than a
/// quarter of the buffer) item: the consumer waiting for the rest notices within ~10 ms and
/// drops the partial item. A dead consumer in the middle of a chunked item: if the item was
/// still whole in the buffer, the next consumer gets it; otherwise the rest of that item is
/// skipped by the next consumer (the item is lost with the consumer).
pub struct Queue<T> {
    ring: Arc<Ring>,
    _items: PhantomData<fn(T) -> T>,
}

impl<T> Clone for Queue<T> {
    fn clone(&self) -> Self {
        Queue {
            ring: Arc::clone(&self.ring),
            _items: PhantomData,
        }
    }
}

impl<T> fmt::Debug for Queue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Queue")
            .field("qsize", &self.ring.qsize())
            .field("maxsize", &self.ring.maxsize())
            .field("buffer", &self.ring.capacity())
            .field("closed", &self.ring.is_closed())
            .finish()
    }
}

impl<T> Serialize for Queue<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.ring.serialize(s)
    }
}

impl<'de, T> Deserialize<'de> for Queue<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Queue {
            ring: Arc::new(Ring::deserialize(d)?),
            _items: PhantomData,
        })
    }
}

impl<T: Serialize + DeserializeOwned> Queue<T> {
    /// An unbounded queue (Python's `Queue()`) with a 1 MiB shared buffer.
    pub fn new() -> io::Result<Self> {
        Self::with_capacity(0, ring::DEFAULT_BUFFER)
    }

    /// A queue that holds at most `maxsize` items (Python's `Queue(maxsize)`; 0 is unbounded).
    pub fn with_maxsize(maxsize: usize) -> io::Result<Self> {
        Self::with_capacity(maxsize, ring::DEFAULT_BUFFER)
    }

    /// A queue of at most `maxsize` items (0: unbounded) over a shared buffer of at least
    /// `buffer_bytes` (rounded up to a power of two, at least 4 KiB).
    pub fn with_capacity(maxsize: usize, buffer_bytes: usize) -> io::Result<Self> {
        Ok(Queue {
            ring: Arc::new(Ring::new(maxsize, buffer_bytes)?),
            _items: PhantomData,
        })
    }

    #[inline]
    fn put_wait(&self, item: T, wait: Timeout) -> Result<(), PutError<T>> {
        match self.put_ref_wait(&item, wait) {
            Ok(()) => Ok(()),
            Err(e) => Err(match e {
                PutError::Full(()) => PutError::Full(item),
                PutError::Closed(()) => PutError::Closed(item),
                PutError::Encode((), e) => PutError::Encode(item, e),
            }),
        }
    }

    #[inline]
    fn put_ref_wait(&self, item: &T, wait: Timeout) -> Result<(), PutError<()>> {
        let wait = Wait::new(wait);
        match encode(item, |bytes| self.ring.put(bytes, &wait)) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(PutFail::Full)) => Err(PutError::Full(())),
            Ok(Err(PutFail::Closed)) => Err(PutError::Closed(())),
            Err(e) => Err(PutError::Encode((), e)),
        }
    }

    /// Puts a copy of `*item`, waiting for room as long as it takes: [`put`](Self::put) for
    /// a caller that keeps the item (nothing to hand back, so errors carry `()`).
    ///
    /// # Errors
    /// [`PutError::Closed`] or [`PutError::Encode`].
    pub fn put_ref(&self, item: &T) -> Result<(), PutError<()>> {
        self.put_ref_wait(item, Timeout::Forever)
    }

    /// Puts `item`, waiting for room as long as it takes (Python's `put(item)`).
    ///
    /// # Errors
    /// [`PutError::Closed`] or [`PutError::Encode`], with the item.
    pub fn put(&self, item: T) -> Result<(), PutError<T>> {
        self.put_wait(item, Timeout::Forever)
    }

    /// Puts `item`, waiting at most `timeout` for room (Python's `put(item, timeout=t)`).
    ///
    /// # Errors
    /// [`PutError::Full`] after the timeout, with the item; as [`put`](Self::put).
    pub fn put_timeout(&self, item: T, timeout: Duration) -> Result<(), PutError<T>> {
        self.put_wait(item, Timeout::After(timeout))
    }

    /// Puts `item` only if there is room now (Python's `put(block=False)`).
    ///
    /// # Errors
    /// [`PutError::Full`] at once, with the item; as [`put`](Self::put).
    pub fn try_put(&self, item: T) -> Result<(), PutError<T>> {
        self.put_wait(item, Timeout::No)
    }

    /// [`try_put`](Self::try_put) under Python's name.
    ///
    /// # Errors
    /// As [`try_put`](Self::try_put).
    pub fn put_nowait(&self, item: T) -> Result<(), PutError<T>> {
        self.try_put(item)
    }

    #[inline]
    fn get_wait(&self, wait: Timeout) -> Result<T, GetError> {
        match self.ring.get(&Wait::new(wait), decode::<T>) {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(GetError::Decode(e)),
            Err(GetFail::Empty) => Err(GetError::Empty),
            Err(GetFail::Closed) => Err(GetError::Closed),
        }
    }

    /// Takes the next item, waiting as long as it takes (Python's `get()`).
    ///
    /// # Errors
    /// [`GetError::Closed`] once the queue is closed and drained; [`GetError::Decode`].
    pub fn get(&self) -> Result<T, GetError> {
        self.get_wait(Timeout::Forever)
    }

    /// Takes the next item, waiting at most `timeout` (Python's `get(timeout=t)`).
    ///
    /// # Errors
    /// [`GetError::Empty`] after the timeout; as [`get`](Self::get).
    pub fn get_timeout(&self, timeout: Duration) -> Result<T, GetError> {
        self.get_wait(Timeout::After(timeout))
    }

    /// Takes the next item if there is one now (Python's `get(block=False)`).
    ///
    /// # Errors
    /// [`GetError::Empty`] at once; as [`get`](Self::get).
    pub fn try_get(&self) -> Result<T, GetError> {
        self.get_wait(Timeout::No)
    }

    /// [`try_get`](Self::try_get) under Python's name.
    ///
    /// # Errors
    /// As [`try_get`](Self::try_get).
    pub fn get_nowait(&self) -> Result<T, GetError> {
        self.try_get()
    }
}

impl<T> Queue<T> {
    pub(crate) fn ring(&self) -> &Arc<Ring> {
        &self.ring
    }

    /// The number of items in the queue (a snapshot, as in Python).
    pub fn qsize(&self) -> usize {
        self.ring.qsize()
    }

    /// Whether the queue holds no item now (a snapshot).
    pub fn empty(&self) -> bool {
        self.ring.is_empty()
    }

    /// Whether a `put_nowait` of a small item would fail now: `maxsize` items are in, or the
    /// buffer has no room (a snapshot).
    pub fn full(&self) -> bool {
        self.ring.is_full()
    }

    /// The `maxsize` given at creation (0: unbounded).
    pub fn maxsize(&self) -> usize {
        self.ring.maxsize()
    }

    /// The size of the shared buffer in bytes.
    pub fn buffer_bytes(&self) -> usize {
        self.ring.capacity()
    }

    /// Closes the queue for putting, in every process (see [Closing](Self#closing)). Items
    /// already in stay there for consumers. Idempotent.
    pub fn close(&self) {
        self.ring.close();
    }

    /// Whether [`close`](Self::close) was called (by any process).
    pub fn is_closed(&self) -> bool {
        self.ring.is_closed()
    }

    /// Whether both handles are the same queue.
    pub fn same_as(&self, other: &Queue<T>) -> bool {
        self.ring.same(&other.ring)
    }
}
