//! [`Imap`]: `imap` and `imap_unordered`, lazily, with a bounded number of batches in flight.

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::sync::mpsc;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::TaskError;
use crate::pool::{Completion, Pool, decode_batch};

/// The iterator of [`Pool::imap`] and [`Pool::imap_unordered`].
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
    tx: mpsc::Sender<(usize, Vec<Result<R, TaskError>>)>,
    rx: mpsc::Receiver<(usize, Vec<Result<R, TaskError>>)>,
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
        let (tx, rx) = mpsc::channel();
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
            tx,
            rx,
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
            let tx = self.tx.clone();
            let done: Completion = Box::new(move |r| {
                let _ = tx.send((idx, decode_batch::<R>(r, len)));
            });
            match self.pool.submit_batch(self.f, &batch, done) {
                Ok(()) => self.inflight += 1,
                Err(e) => {
                    // The pool will not run it: report every item of the batch.
                    let e = TaskError::from(e);
                    let _ = self
                        .tx
                        .send((idx, (0..len).map(|_| Err(e.clone())).collect()));
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
            if let Some(x) = self.current.pop_front() {
                return Some(x);
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
                return None;
            }
            let (idx, batch) = self.rx.recv().ok()?;
            self.inflight -= 1;
            if self.ordered {
                self.waiting.insert(idx, batch);
            } else {
                self.current.extend(batch);
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
