//! [`Imap`]: `imap` and `imap_unordered`, lazily, with a bounded number of batches in flight.

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::task::Waker;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::TaskError;
use crate::pool::{Completion, Pool, decode_batch};

/// A finished batch: its index and one result per item.
type Finished<R> = (usize, Vec<Result<R, TaskError>>);

/// Where finished batches arrive: read blocking (the iterator) or polled (the stream).
struct Inbox<R> {
    q: Mutex<(VecDeque<Finished<R>>, Option<Waker>)>,
    cv: Condvar,
}

impl<R> Inbox<R> {
    fn lock(&self) -> MutexGuard<'_, (VecDeque<Finished<R>>, Option<Waker>)> {
        self.q.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn push(&self, f: Finished<R>) {
        let waker = {
            let mut g = self.lock();
            g.0.push_back(f);
            self.cv.notify_one();
            g.1.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }

    fn pop_blocking(&self) -> Finished<R> {
        let mut g = self.lock();
        loop {
            if let Some(f) = g.0.pop_front() {
                return f;
            }
            g = self.cv.wait(g).unwrap_or_else(|p| p.into_inner());
        }
    }

    #[cfg(feature = "tokio")]
    fn poll_pop(&self, cx: &mut std::task::Context<'_>) -> Option<Finished<R>> {
        let mut g = self.lock();
        let f = g.0.pop_front();
        if f.is_none() {
            g.1 = Some(cx.waker().clone());
        }
        f
    }
}

/// The iterator of [`Pool::imap`] and [`Pool::imap_unordered`]; with the `tokio` feature also
/// a `futures_core::Stream` of the same items, so a tokio program can read it without blocking.
///
/// It reads its input lazily and keeps at most a few batches per worker in flight, so an
/// endless input runs in constant memory; each item's result is its own `Result`.
pub struct Imap<'p, I, A, R> {
    pool: &'p Pool,
    f: fn(A) -> R,
    input: I,
    chunksize: usize,
    ordered: bool,
    max_inflight: usize,
    inflight: usize,
    next_batch: usize,
    next_out: usize,
    input_done: bool,
    inbox: Arc<Inbox<R>>,
    waiting: BTreeMap<usize, Vec<Result<R, TaskError>>>,
    current: VecDeque<Result<R, TaskError>>,
}

impl<I, A, R> fmt::Debug for Imap<'_, I, A, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Imap")
            .field("ordered", &self.ordered)
            .field("chunksize", &self.chunksize)
            .field("inflight", &self.inflight)
            .finish()
    }
}

impl<'p, I, A, R> Imap<'p, I, A, R>
where
    I: Iterator<Item = A>,
    A: Serialize + DeserializeOwned + 'static,
    R: Serialize + DeserializeOwned + Send + 'static,
{
    pub(crate) fn new(
        pool: &'p Pool,
        f: fn(A) -> R,
        input: I,
        chunksize: usize,
        ordered: bool,
    ) -> Self {
        Imap {
            pool,
            f,
            input,
            chunksize: chunksize.max(1),
            ordered,
            max_inflight: pool.processes() * 32,
            inflight: 0,
            next_batch: 0,
            next_out: 0,
            input_done: false,
            inbox: Arc::new(Inbox {
                q: Mutex::new((VecDeque::new(), None)),
                cv: Condvar::new(),
            }),
            waiting: BTreeMap::new(),
            current: VecDeque::new(),
        }
    }

    /// Submits batches until the in-flight bound or the end of the input.
    fn fill(&mut self) {
        while !self.input_done && self.inflight < self.max_inflight {
            let batch: Vec<A> = self.input.by_ref().take(self.chunksize).collect();
            if batch.is_empty() {
                self.input_done = true;
                break;
            }
            let idx = self.next_batch;
            self.next_batch += 1;
            let len = batch.len();
            let inbox = self.inbox.clone();
            let done: Completion = Box::new(move |r| {
                inbox.push((idx, decode_batch::<R>(r, len)));
            });
            match self.pool.submit_batch(self.f, &batch, done) {
                Ok(()) => self.inflight += 1,
                Err(e) => {
                    // The pool will not run it: report every item of the batch.
                    let e = TaskError::from(e);
                    self.inbox
                        .push((idx, (0..len).map(|_| Err(e.clone())).collect()));
                    self.inflight += 1;
                }
            }
        }
    }
}

impl<I, A, R> Iterator for Imap<'_, I, A, R>
where
    I: Iterator<Item = A>,
    A: Serialize + DeserializeOwned + 'static,
    R: Serialize + DeserializeOwned + Send + 'static,
{
    type Item = Result<R, TaskError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(x) = self.ready_item() {
                return x;
            }
            let f = self.inbox.pop_blocking();
            self.arrived(f);
        }
    }
}

impl<I, A, R> Imap<'_, I, A, R>
where
    I: Iterator<Item = A>,
    A: Serialize + DeserializeOwned + 'static,
    R: Serialize + DeserializeOwned + Send + 'static,
{
    /// The next item if one can be had without waiting (`Some(None)`: the end); `None` when a
    /// batch must arrive first.
    #[allow(clippy::option_option)]
    fn ready_item(&mut self) -> Option<Option<Result<R, TaskError>>> {
        loop {
            if let Some(x) = self.current.pop_front() {
                return Some(Some(x));
            }
            self.fill();
            if self.ordered
                && let Some(batch) = self.waiting.remove(&self.next_out)
            {
                self.next_out += 1;
                self.current.extend(batch);
                continue;
            }
            if self.inflight == 0 {
                return Some(None);
            }
            return None;
        }
    }

    /// Takes a finished batch in.
    fn arrived(&mut self, (idx, batch): Finished<R>) {
        self.inflight -= 1;
        if self.ordered {
            self.waiting.insert(idx, batch);
        } else {
            self.current.extend(batch);
        }
    }
}

// No field is ever pinned: moving an `Imap` is fine whatever `A` and `R` are.
impl<I: Unpin, A, R> Unpin for Imap<'_, I, A, R> {}

/// With the `tokio` feature, the same items as a stream: polling never blocks; the pool's
/// thread wakes the task when a batch arrives.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::pin::Pin;
/// use futures_core::Stream;
/// use multiproc_pool::Pool;
/// fn double(x: u64) -> u64 { 2 * x }
/// let pool = Pool::new(2)?;
/// let mut s = pool.imap(double, 0..5, 2);
/// let mut got = Vec::new();
/// while let Some(r) = std::future::poll_fn(|cx| Pin::new(&mut s).poll_next(cx)).await {
///     got.push(r?);
/// }
/// assert_eq!(got, [0, 2, 4, 6, 8]);
/// # Ok(()) }
/// ```
#[cfg(feature = "tokio")]
impl<I, A, R> futures_core::Stream for Imap<'_, I, A, R>
where
    I: Iterator<Item = A> + Unpin,
    A: Serialize + DeserializeOwned + 'static,
    R: Serialize + DeserializeOwned + Send + 'static,
{
    type Item = Result<R, TaskError>;

    fn poll_next(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if let Some(x) = this.ready_item() {
                return std::task::Poll::Ready(x);
            }
            match this.inbox.poll_pop(cx) {
                Some(f) => this.arrived(f),
                None => return std::task::Poll::Pending,
            }
        }
    }
}

impl Pool {
    /// Results in input order, as they become available (Python's `imap`), each its own
    /// `Result`. The input is read lazily and at most `32 × workers` batches are in flight,
    /// so an endless input runs in constant memory. `chunksize` items go in one batch (Python's
    /// default is 1).
    ///
    /// ```
    /// use multiproc_pool::Pool;
    /// fn double(x: u64) -> u64 { 2 * x }
    /// let pool = Pool::new(2)?;
    /// let firsts: Vec<u64> = pool.imap(double, 0.., 4).take(5).map(Result::unwrap).collect();
    /// assert_eq!(firsts, [0, 2, 4, 6, 8]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn imap<I, A, R>(
        &self,
        f: fn(A) -> R,
        items: I,
        chunksize: usize,
    ) -> Imap<'_, I::IntoIter, A, R>
    where
        I: IntoIterator<Item = A>,
        A: Serialize + DeserializeOwned + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
    {
        Imap::new(self, f, items.into_iter(), chunksize, true)
    }

    /// Like [`imap`](Self::imap), but results come in the order the batches finish (Python's
    /// `imap_unordered`).
    pub fn imap_unordered<I, A, R>(
        &self,
        f: fn(A) -> R,
        items: I,
        chunksize: usize,
    ) -> Imap<'_, I::IntoIter, A, R>
    where
        I: IntoIterator<Item = A>,
        A: Serialize + DeserializeOwned + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
    {
        Imap::new(self, f, items.into_iter(), chunksize, false)
    }
}
