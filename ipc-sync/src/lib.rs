//! Process-shared `Lock`, `RLock`, `Semaphore`, `BoundedSemaphore`, `Event`, `Condition` and
//! `Barrier`, blocking on futexes in shared memory.
//!
//! TODO docs
#![allow(missing_docs)]

mod barrier;
mod bounded_semaphore;
mod condition;
mod error;
mod event;
mod ident;
mod lock;
mod raw_lock;
mod rlock;
mod semaphore;
mod storage;
mod sys;

pub use barrier::{Barrier, MAX_PARTIES};
pub use bounded_semaphore::{BoundedSemaphore, BoundedSemaphoreGuard};
pub use condition::{Condition, ConditionGuard, ConditionLock};
pub use error::{BrokenBarrier, Error, LockResult, OwnerDied, TryLockError};
pub use event::Event;
pub use lock::{Lock, LockGuard};
pub use rlock::{RLock, RLockGuard};
pub use semaphore::{Semaphore, SemaphoreGuard};
