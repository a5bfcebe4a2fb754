//! `put_async` / `get_async` of [`Queue`], [`JoinableQueue`] and [`SimpleQueue`] (feature
//! `tokio`): the ring's operations, with the waits done by futures.
//!
//! A future's put or get takes the ring's put (get) lock with
//! [`Lock::lock_async`](multiproc_sync::Lock::lock_async), then does the synchronous operation
//! with no wait at all; when it finds no room (no item), it waits on the ring's `space`
//! (`data`) word through [`AsyncWait`], the process's one helper thread sleeping for it, and
//! tries again. Everything that changes the ring happens inside one poll, so a future dropped
//! at any `.await` has changed nothing: a cancelled get has taken no item, a cancelled put has
//! put nothing.

use std::future::poll_fn;
use std::sync::Arc;
use std::time::Duration;

use multiproc_core::futex::{AsyncWait, Spin};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{GetError, PutError};
use crate::joinable_queue::JoinableQueue;
use crate::queue::{Queue, decode};
use crate::ring::{GetFail, PutFail, Ring, Timeout, Wait};
use crate::simple_queue::SimpleQueue;

/// The spin of a future's wait (through the executor), as the synchronous waits spin.
const SPIN: Spin = Spin::Adaptive(Duration::from_micros(50));

/// Waits (as a future) on the word `word` of `ring` until `ready()`.
async fn until(
    ring: &Arc<Ring>,
    word: fn(&Ring) -> &multiproc_core::futex::WaitWord,
    mut ready: impl FnMut() -> bool,
) {
    let mut wait = AsyncWait::new(Arc::clone(ring), word);
    poll_fn(|cx| wait.poll_until(cx, SPIN, &mut ready)).await;
}

/// An item's postcard bytes, kept by a future's put across its waits: on the future's own
/// stack for a small item (no allocation), else in a `Vec`.
enum Encoded {
    Small([u8; SMALL], usize),
    Large(Vec<u8>),
}

/// Items whose encoding takes at most this many bytes are kept in the future.
const SMALL: usize = 128;

impl Encoded {
    fn bytes(&self) -> &[u8] {
        match self {
            Encoded::Small(b, n) => &b[..*n],
            Encoded::Large(v) => v,
        }
    }
}

fn encode_owned<T: Serialize>(item: &T) -> Result<Encoded, multiproc_core::Error> {
    let mut small = [0u8; SMALL];
    if let Ok(b) = postcard::to_slice(item, &mut small) {
        let n = b.len();
        return Ok(Encoded::Small(small, n));
    }
    match postcard::to_extend(item, Vec::new()) {
        Ok(v) => Ok(Encoded::Large(v)),
        Err(_) => {
            // The workspace's encoder says why, typed.
            let mut v = Vec::new();
            multiproc_core::codec::encode(item, &mut v)?;
            Ok(Encoded::Large(v))
        }
    }
}

async fn put_bytes(ring: &Arc<Ring>, bytes: &[u8]) -> Result<(), PutFail> {
    let _guard = match ring.put_lock().lock_async().await {
        Ok(g) => g,
        Err(died) => {
            ring.recover_put();
            died.into_inner()
        }
    };
    loop {
        if ring.room_for(bytes.len()) {
            match ring.put_locked(bytes, &Wait::new(Timeout::No)) {
                Err(PutFail::Full) => {}
                r => return r,
            }
        }
        until(ring, Ring::space_word, || ring.room_for(bytes.len())).await;
    }
}

async fn get_with<R>(ring: &Arc<Ring>, mut take: impl FnMut(&[u8]) -> R) -> Result<R, GetFail> {
    // A dead holder of the get lock left nothing to repair (see `Ring::get`).
    let _guard = ring
        .get_lock()
        .lock_async()
        .await
        .unwrap_or_else(|died| died.into_inner());
    loop {
        let seen = ring.head_marked();
        match ring.get_locked(&Wait::new(Timeout::No), &mut take) {
            Err(GetFail::Empty) => {}
            r => return r,
        }
        if ring.message_in_flight() {
            // A message larger than a chunk is being written: it is read to its end here (its
            // producer sends it whole whatever happens; a dead one is noticed within ~10 ms).
            return ring.get_locked(&Wait::new(Timeout::Forever), take);
        }
        until(ring, Ring::data_word, || {
            ring.head_marked() != seen || ring.is_closed()
        })
        .await;
    }
}

impl<T: Serialize + DeserializeOwned> Queue<T> {
    /// [`put`](Self::put) as a future (feature `tokio`): waits for room without blocking a
    /// thread.
    ///
    /// Cancel it by dropping it (a `tokio::time::timeout`, a `select!`): nothing was put, and
    /// the item is dropped with the future. An item larger than a quarter of the buffer is put
    /// once there is room for all of it, so the future never waits for consumers halfway; one
    /// that cannot fit the buffer whole waits for an empty buffer and is then streamed on the
    /// polling thread as [`put`](Self::put) streams it.
    ///
    /// # Errors
    /// [`PutError::Closed`] or [`PutError::Encode`], with the item.
    pub async fn put_async(&self, item: T) -> Result<(), PutError<T>> {
        let bytes = match encode_owned(&item) {
            Ok(b) => b,
            Err(e) => return Err(PutError::Encode(item, e)),
        };
        match put_bytes(self.ring(), bytes.bytes()).await {
            Ok(()) => Ok(()),
            Err(PutFail::Closed) => Err(PutError::Closed(item)),
            Err(PutFail::Full) => Err(PutError::Full(item)),
        }
    }

    /// [`get`](Self::get) as a future (feature `tokio`): waits for an item without blocking a
    /// thread.
    ///
    /// Cancel it by dropping it: an item is taken only in the poll that returns it, so a
    /// cancelled get has taken nothing. While it waits it holds the queue's consumer lock, as
    /// a waiting [`get`](Self::get) does (other consumers queue behind it). An item larger
    /// than a quarter of the buffer whose producer is still writing it is read to its end on
    /// the polling thread.
    ///
    /// # Errors
    /// [`GetError::Closed`] once the queue is closed and drained; [`GetError::Decode`].
    pub async fn get_async(&self) -> Result<T, GetError> {
        match get_with(self.ring(), decode::<T>).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(GetError::Decode(e)),
            Err(GetFail::Empty) => Err(GetError::Empty),
            Err(GetFail::Closed) => Err(GetError::Closed),
        }
    }
}

impl<T> JoinableQueue<T> {
    /// [`join`](Self::join) as a future (feature `tokio`): ready once every item put has been
    /// marked done. Dropping it changes nothing.
    pub async fn join_async(&self) {
        let ring = self.as_queue().ring();
        until(ring, Ring::joined_word, || ring.unfinished() == 0).await;
    }
}

impl<T: Serialize + DeserializeOwned> SimpleQueue<T> {
    /// [`put`](Self::put) as a future (feature `tokio`); see [`Queue::put_async`].
    ///
    /// # Errors
    /// As [`put`](Self::put).
    pub async fn put_async(&self, item: T) -> Result<(), PutError<T>> {
        self.as_queue().put_async(item).await
    }

    /// [`get`](Self::get) as a future (feature `tokio`); see [`Queue::get_async`].
    ///
    /// # Errors
    /// As [`get`](Self::get).
    pub async fn get_async(&self) -> Result<T, GetError> {
        self.as_queue().get_async().await
    }
}
